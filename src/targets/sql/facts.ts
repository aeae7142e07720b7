import type { FirewallFacts } from '../kind.js';

/**
 * An Azure SQL logical server's IP firewall (`Microsoft.Sql/servers/firewallRules`), as the
 * 2020-11-01-preview FirewallRules spec and Microsoft's "IP firewall rules" page describe it
 * (docs/TARGETS.md has the citations): named start/end rules, replaced as a whole set by one
 * PUT on the collection (FirewallRules_Replace). The first start/end kind: its rules are ranges,
 * so the range optimum covers them (docs/RANGES.md).
 */
export const SQL_SERVER: FirewallFacts = {
  kind: 'sql',
  title: 'Azure SQL logical server',
  resourceType: 'Microsoft.Sql/servers',
  // What @azure/arm-sql 10.0.0 sends for firewallRules (servers.get sends 2022-08-01-preview); the SDK fixes both.
  apiVersion: '2020-11-01-preview',
  rulesAt: 'firewallRules/<name>: properties.startIpAddress and endIpAddress (tagwall\'s named tagwall-<owner>-<n>)',
  // Microsoft's pages disagree: 128 server-level rules on the older firewall page, 256 on the
  // current one (AllowAllWindowsAzureIps counting as one). 128 is the figure no source contradicts
  // as too many; a target may raise maxRules up to maxRulesCeiling.
  maxRules: 128,
  maxRulesCeiling: 255,
  ruleShape: 'range',
  // Written as start/end; a single address is start = end, spelled bare.
  singleAddress: 'bare',
  allows31: true,
  // AllowAllWindowsAzureIps: start = end = 0.0.0.0 lets every Azure service in. It is the server's
  // own switch, never tagwall's: kept, never removed, never written.
  special: ['0.0.0.0/32'],
  // Tagwall changes its own named rules only; everyone else's are sent back as read.
  mergeOnly: true,
  // Its rules carry their owner in their names: the names, not the record, say which are tagwall's.
  ownedByName: 'tagwall-<owner>-<n>',
  // The replace answers 200 or 202; a 202 is followed by reads until the set shows (adapter.ts).
  longRunning: false,
  posture: {
    defaultAction: 'none of its own: a server admits no public client unless a firewall rule does, so tagwall reads it as Deny',
    publicNetworkAccess: 'properties.publicNetworkAccess on the server: Disabled means only private endpoints get in (tagwall skips it); SecuredByPerimeter means a perimeter decides',
  },
  // The rules are child resources (firewallRules) Resource Graph does not describe; the server is found by its tag.
  graph: 'tags',
  iac: {
    // One azurerm_mssql_firewall_rule per range (for_each over the export's named objects).
    terraform: 'azurerm_mssql_firewall_rule.start_ip_address / end_ip_address (one resource per range)',
    named: {
      arm: { start: 'startIpAddress', end: 'endIpAddress' },
      terraform: { start: 'start_ip_address', end: 'end_ip_address' },
      childType: 'Microsoft.Sql/servers/firewallRules',
      names: { '0.0.0.0/32': 'AllowAllWindowsAzureIps' },
    },
    // One rule at a time (az sql server firewall-rule create/delete), so nobody else's is touched.
    az: {
      add: ['az', 'sql', 'server', 'firewall-rule', 'create', '--resource-group', '{group}', '--server', '{name}', '--name', '{rule-name}', '--start-ip-address', '{start}', '--end-ip-address', '{end}'],
      remove: ['az', 'sql', 'server', 'firewall-rule', 'delete', '--resource-group', '{group}', '--server', '{name}', '--name', '{rule-name}'],
      list: { command: ['az', 'sql', 'server', 'firewall-rule', 'list', '--resource-group', '{group}', '--server', '{name}'], start: 'startIpAddress', end: 'endIpAddress' },
    },
  },
  sdk: '@azure/arm-sql',
  load: async () => (await import('./adapter.js')).createSqlFirewalls,
};
