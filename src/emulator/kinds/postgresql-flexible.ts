import { isRecord } from '../http.js';
import { namedRangeModel } from './named-ranges.js';

/**
 * Azure Database for PostgreSQL flexible servers (`Microsoft.DBforPostgreSQL/flexibleServers`)
 * and their firewall rules, at the api-version @azure/arm-postgresql-flexible 9.0.0 sends
 * (2025-08-01), through the start/end family's model (named-ranges.ts). Shapes follow
 * azure-rest-api-specs specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/
 * PostgreSQL/stable/2025-08-01/openapi.json: FirewallRules_CreateOrUpdate answers 202 with
 * Azure-AsyncOperation and Location (final state via the async operation), FirewallRules_Delete
 * 202 (final state via Location) or 204; a rule's name matches ^[a-zA-Z0-9][-_a-zA-Z0-9]{0,79}(?<!-)$.
 * The spec gives no rule maximum and no error codes: the emulator holds no limit, and its refusals
 * use ARM's generic codes (InvalidResourceName for a name, InvalidParameterValue for an address).
 * Public access lives in properties.network.publicNetworkAccess (Enabled, Disabled); what Azure
 * answers to a rule write on a server without public access is not documented, so it is not modelled.
 */

const TYPE = 'Microsoft.DBforPostgreSQL/flexibleServers';
export const POSTGRESQL_FLEXIBLE_API_VERSIONS = ['2025-08-01'] as const;

const network = (p: Record<string, unknown>): Record<string, unknown> => (isRecord(p['network']) ? p['network'] : {});

export const POSTGRESQL_FLEXIBLE_MODEL = namedRangeModel({
  resourceType: TYPE,
  apiVersions: POSTGRESQL_FLEXIBLE_API_VERSIONS,
  fields: { start: 'startIpAddress', end: 'endIpAddress' },
  namePattern: /^[a-zA-Z0-9][-_a-zA-Z0-9]{0,79}(?<!-)$/,
  codes: { badName: 'InvalidResourceName', notIPv4: 'InvalidParameterValue', invalidRange: 'InvalidParameterValue', tooMany: 'BadRequest' },
  publicAccess: (p) => network(p)['publicNetworkAccess'],
  publicAccessValues: ['Enabled', 'Disabled'],
  withPublicAccess: (p, value) => ({ ...p, network: { ...network(p), publicNetworkAccess: value } }),
  longRunning: { put: true, delete: true },
  server: (ref, seed) => ({
    id: ref.id,
    name: ref.name,
    type: TYPE,
    location: seed.location,
    tags: seed.tags,
    sku: { name: 'Standard_D2ds_v5', tier: 'GeneralPurpose' },
    properties: {
      administratorLogin: 'pgadmin',
      version: '17',
      state: 'Ready',
      fullyQualifiedDomainName: `${ref.name.toLowerCase()}.postgres.database.azure.com`,
      storage: { storageSizeGB: 128, autoGrow: 'Disabled', tier: 'P10' },
      highAvailability: { mode: 'Disabled' },
      ...seed.properties,
    },
  }),
});
