import { namedRangeModel } from './named-ranges.js';

/**
 * Azure Cache for Redis (`Microsoft.Cache/redis`) and its firewall rules, at the api-version
 * @azure/arm-rediscache 8.2.0 sends (2024-11-01), through the start/end family's model
 * (named-ranges.ts). Shapes follow azure-rest-api-specs specification/redis/resource-manager/
 * Microsoft.Cache/Redis/stable/2024-11-01/redis.json: FirewallRules_CreateOrUpdate answers 200 or
 * 201 and _Delete 200 or 204, none long-running; a rule is {startIP, endIP}. Neither the spec nor
 * Microsoft's pages give a rule maximum: the model holds none. A rule's name takes letters, digits
 * and underscores (the one validation on record, azurerm's ^\w+$; the spec gives no pattern), so a
 * name with a dash is refused here as tagwall assumes Azure may refuse it. The spec gives no error
 * codes: the refusals use ARM's generic ones (InvalidResourceName, InvalidParameterValue), with the
 * model's own texts. Public access is properties.publicNetworkAccess (Enabled, Disabled); what Azure
 * answers to a rule write on a cache without public access is not documented, so it is not modelled.
 *
 * The model names a rule by its own name in every answer; Azure's create example answers
 * `cache1/rule1` (test/fixtures/rest-examples/SOURCES.md), which the adapter reads either way.
 */

const TYPE = 'Microsoft.Cache/redis';
export const REDIS_API_VERSIONS = ['2024-11-01'] as const;

export const REDIS_MODEL = namedRangeModel({
  resourceType: TYPE,
  apiVersions: REDIS_API_VERSIONS,
  fields: { start: 'startIP', end: 'endIP' },
  namePattern: /^\w+$/,
  codes: { badName: 'InvalidResourceName', notIPv4: 'InvalidParameterValue', invalidRange: 'InvalidParameterValue', tooMany: 'BadRequest' },
  publicAccess: (p) => p['publicNetworkAccess'],
  publicAccessValues: ['Enabled', 'Disabled'],
  withPublicAccess: (p, value) => ({ ...p, publicNetworkAccess: value }),
  longRunning: { put: false, delete: false },
  // Properties a cache's GET carries (redis.json's RedisProperties), under what the seed gives.
  server: (ref, seed) => ({
    id: ref.id,
    name: ref.name,
    type: TYPE,
    location: seed.location,
    tags: seed.tags,
    properties: {
      provisioningState: 'Succeeded',
      redisVersion: '6.0',
      sku: { name: 'Standard', family: 'C', capacity: 1 },
      enableNonSslPort: false,
      minimumTlsVersion: '1.2',
      hostName: `${ref.name.toLowerCase()}.redis.cache.windows.net`,
      port: 6379,
      sslPort: 6380,
      ...seed.properties,
    },
  }),
});
