import { isRecord } from '../http.js';
import { namedRangeModel } from './named-ranges.js';

/**
 * Azure Database for MySQL flexible servers (`Microsoft.DBforMySQL/flexibleServers`) and their
 * firewall rules, at the api-version @azure/arm-mysql-flexible 3.1.0 sends (2021-05-01), through
 * the start/end family's model (named-ranges.ts). Shapes follow azure-rest-api-specs
 * specification/mysql/resource-manager/Microsoft.DBforMySQL/FlexibleServers/stable/2021-05-01/mysql.json
 * and its examples FirewallRuleCreate.json (200, 201, or 202 with Azure-AsyncOperation and
 * Location), FirewallRuleDelete.json (200, 202, 204), FirewallRuleGet.json and
 * FirewallRulesListByServer.json; the emulator answers both writes 202, the long-running form.
 * The spec gives no rule maximum, no name pattern and no error codes: the emulator holds no limit,
 * takes names of letters, digits, '-' and '_' up to 128 characters (an assumption, not Microsoft's
 * text), and refuses with ARM's generic codes. Public access is properties.network.publicNetworkAccess
 * (read-only: Disabled for a VNet-integrated server); a rule write on such a server is not modelled.
 */

const TYPE = 'Microsoft.DBforMySQL/flexibleServers';
export const MYSQL_FLEXIBLE_API_VERSIONS = ['2021-05-01'] as const;

const network = (p: Record<string, unknown>): Record<string, unknown> => (isRecord(p['network']) ? p['network'] : {});

export const MYSQL_FLEXIBLE_MODEL = namedRangeModel({
  resourceType: TYPE,
  apiVersions: MYSQL_FLEXIBLE_API_VERSIONS,
  fields: { start: 'startIpAddress', end: 'endIpAddress' },
  namePattern: /^[-\w]{1,128}$/,
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
    sku: { name: 'Standard_D2ds_v4', tier: 'GeneralPurpose' },
    properties: {
      administratorLogin: 'mysqladmin',
      version: '8.0.21',
      state: 'Ready',
      fullyQualifiedDomainName: `${ref.name.toLowerCase()}.mysql.database.azure.com`,
      storage: { storageSizeGB: 100, iops: 600, autoGrow: 'Disabled' },
      highAvailability: { mode: 'Disabled', state: 'NotEnabled' },
      ...seed.properties,
    },
  }),
});
