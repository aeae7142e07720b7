import { namedRangeModel } from './named-ranges.js';

/**
 * Synapse workspaces (`Microsoft.Synapse/workspaces`) and their IP firewall rules, at the
 * api-version @azure/arm-synapse 8.0.0 sends (2021-06-01), through the start/end family's model
 * (named-ranges.ts). Shapes follow azure-rest-api-specs specification/synapse/resource-manager/
 * Microsoft.Synapse/stable/2021-06-01/firewallRule.json: IpFirewallRules_CreateOrUpdate and
 * _Delete are long-running (202, final state via location), a rule is {startIpAddress,
 * endIpAddress}, IPv4, the end not before the start. At most 128 rules ("The maximum number of IP
 * firewall rules is limited to 128", Microsoft's Synapse IP firewall page). A rule's name as Azure
 * words it (quoted in hashicorp/terraform-provider-azurerm #22571): not empty, no <>*%&:\/?, not
 * ending with '.', at most 128 characters. The spec gives no error codes: the refusals use ARM's
 * generic ones (InvalidResourceName, InvalidParameterValue, BadRequest), with the model's own texts.
 * Public access is properties.publicNetworkAccess (Enabled, Disabled); what Azure answers to a rule
 * write on a workspace without public access is not documented, so it is not modelled.
 */

const TYPE = 'Microsoft.Synapse/workspaces';
export const SYNAPSE_API_VERSIONS = ['2021-06-01'] as const;
export const SYNAPSE_MAX_FIREWALL_RULES = 128;

export const SYNAPSE_MODEL = namedRangeModel({
  resourceType: TYPE,
  apiVersions: SYNAPSE_API_VERSIONS,
  fields: { start: 'startIpAddress', end: 'endIpAddress' },
  maxRules: SYNAPSE_MAX_FIREWALL_RULES,
  namePattern: /^[^<>*%&:\\/?]{0,127}[^.<>*%&:\\/?]$/,
  codes: { badName: 'InvalidResourceName', notIPv4: 'InvalidParameterValue', invalidRange: 'InvalidParameterValue', tooMany: 'BadRequest' },
  publicAccess: (p) => p['publicNetworkAccess'],
  publicAccessValues: ['Enabled', 'Disabled'],
  withPublicAccess: (p, value) => ({ ...p, publicNetworkAccess: value }),
  longRunning: { put: true, delete: true },
  // Properties of the spec's GetWorkspace.json answer (with this workspace's names), under what the seed gives.
  server: (ref, seed) => ({
    id: ref.id,
    name: ref.name,
    type: TYPE,
    location: seed.location,
    tags: seed.tags,
    properties: {
      defaultDataLakeStorage: { accountUrl: `https://${ref.name.toLowerCase()}lake.dfs.core.windows.net`, filesystem: 'default' },
      connectivityEndpoints: { dev: `https://${ref.name.toLowerCase()}.dev.azuresynapse.net`, sql: `${ref.name.toLowerCase()}.sql.azuresynapse.net` },
      sqlAdministratorLogin: 'sqladmin',
      managedResourceGroupName: `synapseworkspace-managedrg-${ref.name.toLowerCase()}`,
      provisioningState: 'Succeeded',
      ...seed.properties,
    },
  }),
});
