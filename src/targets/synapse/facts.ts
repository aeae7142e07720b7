import type { FirewallFacts } from '../kind.js';

/**
 * A Synapse workspace's IP firewall (`Microsoft.Synapse/workspaces/firewallRules`), as the
 * 2021-06-01 firewallRule.json spec and Microsoft's "Azure Synapse Analytics IP firewall rules"
 * page describe it (docs/TARGETS.md has the citations): named start/end rules, each written by
 * its own long-running PUT and removed by its own long-running DELETE, at most 128 of them.
 * A start/end kind: its rules are ranges, so the range optimum covers them (docs/RANGES.md).
 *
 * The spec also has IpFirewallRules_ReplaceAll (`POST …/replaceAllIpFirewallRules`, the SDK's
 * beginReplaceAll). tagwall writes rule by rule instead, as for every named start/end kind but SQL:
 * - its body is the whole set, a map of name → {startIpAddress, endIpAddress}: every person's rule
 *   and the AllowAllWindowsAzureIps switch would be sent back, and a rule someone adds between the
 *   read and the POST would be dropped; one by one, tagwall never sends anyone else's rule at all;
 * - the spec never says what becomes of AllowAllWindowsAzureIps in a replace (whether it is a rule
 *   of the set, refused in it, or dropped when left out), nor that the replace is atomic: its
 *   description is "Replaces firewall rules", nothing more;
 * - its answer says nothing of the result: 200 is `{operationId}` and 202 only headers (the
 *   example's point at another service's placeholder URLs), final state via location with no
 *   schema, so the set must be read again anyway;
 * - rule by rule, puts before deletes keep old ∩ new admitted at every moment, which the tests
 *   replay request by request; a replace's in-between is not documented.
 * What it would save (one request, not one per changed range; no call to move deletes first near
 * the 128 limit) does not outweigh never touching someone else's rule.
 */
export const SYNAPSE_WORKSPACE: FirewallFacts = {
  kind: 'synapse',
  title: 'Synapse workspace',
  resourceType: 'Microsoft.Synapse/workspaces',
  // What @azure/arm-synapse 8.0.0 sends for workspaces and ipFirewallRules; the SDK fixes it.
  apiVersion: '2021-06-01',
  rulesAt: 'firewallRules/<name>: properties.startIpAddress and endIpAddress (tagwall\'s named tagwall-<owner>-<n>)',
  // "The maximum number of IP firewall rules is limited to 128. If you have the Allow Azure
  // Services and resources to access this server setting enabled, this counts as a single
  // firewall rule for the workspace." Every rule read counts, AllowAllWindowsAzureIps among them.
  maxRules: 128,
  ruleShape: 'range',
  // Written as start/end; a single address is start = end, spelled bare.
  singleAddress: 'bare',
  allows31: true,
  // AllowAllWindowsAzureIps: start = end = 0.0.0.0, the workspace's "Allow Azure services" switch:
  // kept, never removed, never written, whatever its name.
  special: ['0.0.0.0/32'],
  // Tagwall changes its own named rules only; everyone else's stay as they are.
  mergeOnly: true,
  ownedByName: 'tagwall-<owner>-<n>',
  // IpFirewallRules_CreateOrUpdate and _Delete are x-ms-long-running-operation (final state via location).
  longRunning: true,
  posture: {
    defaultAction: 'none of its own: a workspace admits no public client unless a firewall rule does, so tagwall reads it as Deny',
    publicNetworkAccess:
      'properties.publicNetworkAccess on the workspace (Enabled, Disabled; only workspaces with a managed virtual network have it): Disabled means only private endpoints get in (tagwall skips it)',
  },
  // The rules are child resources (firewallRules) Resource Graph does not describe; the workspace is found by its tag.
  graph: 'tags',
  iac: {
    // One azurerm_synapse_firewall_rule per range (start_ip_address, end_ip_address): the export lists the ranges.
    terraform: 'azurerm_synapse_firewall_rule.start_ip_address / end_ip_address (one resource per range)',
    named: {
      arm: { start: 'startIpAddress', end: 'endIpAddress' },
      terraform: { start: 'start_ip_address', end: 'end_ip_address' },
      childType: 'Microsoft.Synapse/workspaces/firewallRules',
      names: { '0.0.0.0/32': 'AllowAllWindowsAzureIps' },
    },
    // One rule at a time (the workspace is named by --workspace-name, the rule by --name); the delete asks for confirmation unless --yes.
    az: {
      add: ['az', 'synapse', 'workspace', 'firewall-rule', 'create', '--resource-group', '{group}', '--workspace-name', '{name}', '--name', '{rule-name}', '--start-ip-address', '{start}', '--end-ip-address', '{end}'],
      remove: ['az', 'synapse', 'workspace', 'firewall-rule', 'delete', '--resource-group', '{group}', '--workspace-name', '{name}', '--name', '{rule-name}', '--yes'],
      list: { command: ['az', 'synapse', 'workspace', 'firewall-rule', 'list', '--resource-group', '{group}', '--workspace-name', '{name}'], start: 'startIpAddress', end: 'endIpAddress' },
    },
  },
  sdk: '@azure/arm-synapse',
  load: async () => (await import('./adapter.js')).createSynapseFirewalls,
};
