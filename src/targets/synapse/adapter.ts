import { SynapseManagementClient, type IpFirewallRuleInfo } from '@azure/arm-synapse';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls, type NamedRangeKind } from '../named-range-firewall.js';
import { RANGE_RULE_NAME_TAKEN, type RangeRuleView } from '../range-rules.js';
import { SYNAPSE_WORKSPACE } from './facts.js';

/** @azure/arm-synapse 8.0.0 fixes its api-version (2021-06-01), so `apiVersion` has no effect. */
export type SynapseFirewallOptions = FirewallOptions;

const viewOf = (r: IpFirewallRuleInfo, name = r.name ?? ''): RangeRuleView => ({ name, startIpAddress: r.startIpAddress ?? '', endIpAddress: r.endIpAddress ?? '' });

export const SYNAPSE_RULES: NamedRangeKind<SynapseManagementClient> = {
  title: SYNAPSE_WORKSPACE.title,
  permissions: 'Microsoft.Synapse/workspaces/read, Microsoft.Synapse/workspaces/firewallRules/read, /write and /delete',
  rules: {
    where: 'a Synapse workspace',
    special: SYNAPSE_WORKSPACE.special,
    specialName: 'the workspace\'s own AllowAllWindowsAzureIps entry (0.0.0.0)',
    nameTakenCode: RANGE_RULE_NAME_TAKEN,
  },
  // "The maximum number of IP firewall rules is limited to 128": while old and new rules stand together, the steps stay under it.
  capacity: SYNAPSE_WORKSPACE.maxRules,
  client: (subscriptionId, connection, options) => new SynapseManagementClient(options.credential, subscriptionId, classicClientOptions(connection)),
  calls: {
    async publicNetworkAccess(client, workspace, calls) {
      return (await client.workspaces.get(workspace.resourceGroup, workspace.name, calls.requestOptions)).publicNetworkAccess;
    },
    async *list(client, workspace, calls) {
      for await (const r of client.ipFirewallRules.listByWorkspace(workspace.resourceGroup, workspace.name, calls.requestOptions)) yield viewOf(r);
    },
    // IpFirewallRules_CreateOrUpdate and _Delete are long-running (final state via location): each bounded by runOperation.
    async put(client, workspace, rule, calls) {
      const body: IpFirewallRuleInfo = { startIpAddress: rule.startIpAddress, endIpAddress: rule.endIpAddress };
      return viewOf(await calls.operation(workspace, (o) => client.ipFirewallRules.beginCreateOrUpdate(workspace.resourceGroup, workspace.name, rule.name, body, o)), rule.name);
    },
    async delete(client, workspace, name, calls) {
      await calls.operation(workspace, (o) => client.ipFirewallRules.beginDelete(workspace.resourceGroup, workspace.name, name, o));
    },
  },
};

/**
 * Synapse workspaces' IP firewall rules through the real ARM SDK: the workspace's GET (for
 * publicNetworkAccess) and the rule list to read; to write, one long-running PUT per new rule of
 * tagwall's, then one long-running DELETE per rule it no longer wants (named-range-firewall.ts).
 * The spec's IpFirewallRules_ReplaceAll is not used: rule by rule, no one else's rule is ever sent.
 */
export function createSynapseFirewalls(options: SynapseFirewallOptions): FirewallTarget {
  return createNamedRangeFirewalls(options, SYNAPSE_RULES);
}
