export { startEmulator, type Emulator, type EmulatorOptions } from './server.js';
export { connectEmulatorControl, type EmulatorControl } from './control-client.js';
export { runEmulatorCommand, type EmulatorCommandOptions } from './command.js';
export { sampleSeed } from './sample.js';
export { MAX_IP_RULES, MAX_VIRTUAL_NETWORK_RULES } from './acls.js';
export { IDENTITY_API_VERSION, IDENTITY_PATH } from './identity.js';
export { PERIMETER_PAGE_SIZE } from './perimeter-arm.js';
export {
  CONTROL_PREFIX,
  PERIMETER_API_VERSIONS,
  SUPPORTED_API_VERSIONS,
  emulatorSeedSchema,
  faultSpecSchema,
  parseEmulatorSeed,
  readEmulatorSeedFile,
  type AccessMode,
  type ActiveFault,
  type AssociationRequest,
  type AssociationResourceJson,
  type DissociationRequest,
  type DelayFault,
  type EditFault,
  type EmulatorSeed,
  type EmulatorSettings,
  type FaultSpec,
  type NetworkAclsJson,
  type PerimeterResourceJson,
  type PerimeterStateJson,
  type RequestLogEntry,
  type RespondFault,
  type SeedAssociation,
  type SeedPerimeter,
  type SeedVault,
  type VaultResourceJson,
} from './model.js';
