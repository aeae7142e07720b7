export { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from './server.js';
export { connectEmulatorControl, type EmulatorControl } from './control-client.js';
export { runEmulatorCommand, type EmulatorCommandOptions } from './command.js';
export { sampleSeed } from './sample.js';
export { MAX_IP_RULES, MAX_VIRTUAL_NETWORK_RULES } from './acls.js';
export { IDENTITY_API_VERSION, IDENTITY_PATH } from './identity.js';
export {
  CONTROL_PREFIX,
  SUPPORTED_API_VERSIONS,
  emulatorSeedSchema,
  faultSpecSchema,
  parseEmulatorSeed,
  readEmulatorSeedFile,
  type ActiveFault,
  type DelayFault,
  type EditFault,
  type EmulatorSeed,
  type EmulatorSettings,
  type FaultSpec,
  type NetworkAclsJson,
  type RequestLogEntry,
  type RespondFault,
  type SeedVault,
  type VaultResourceJson,
} from './model.js';
