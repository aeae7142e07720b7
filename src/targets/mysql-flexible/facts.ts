import type { FirewallFacts } from '../kind.js';

/**
 * An Azure Database for MySQL flexible server's firewall
 * (`Microsoft.DBforMySQL/flexibleServers/firewallRules`), as the 2021-05-01 REST spec describes it
 * (docs/TARGETS.md has the citations): named start/end rules, each its own child resource,
 * created and deleted one at a time by long-running operations (200, 201 or 202; 200, 202 or 204).
 * There is no replace: the named-range framework (../named-range-firewall.ts) writes puts before deletes.
 */
export const MYSQL_FLEXIBLE: FirewallFacts = {
  kind: 'mysql-flexible',
  title: 'MySQL flexible server',
  resourceType: 'Microsoft.DBforMySQL/flexibleServers',
  // What @azure/arm-mysql-flexible 3.1.0 sends for every operation (it fixes the version).
  apiVersion: '2021-05-01',
  rulesAt: 'firewallRules/<name>: properties.startIpAddress and endIpAddress (tagwall\'s named tagwall-<owner>-<n>)',
  // Neither the spec (no maxItems; one PUT per rule) nor Microsoft's MySQL flexible-server limits
  // page gives a firewall-rule maximum. 128 is the figure of the family's documented members (SQL's
  // older page, Synapse): conservative, and a target may lower it with maxRules.
  maxRules: 128,
  ruleShape: 'range',
  singleAddress: 'bare',
  allows31: true,
  // 0.0.0.0-0.0.0.0 is "Allow public access from any Azure service": the server's own switch, never tagwall's.
  special: ['0.0.0.0/32'],
  mergeOnly: true,
  // Its rules carry their owner in their names: the names, not the record, say which are tagwall's.
  ownedByName: 'tagwall-<owner>-<n>',
  // Each rule's PUT and DELETE may be a long-running operation (202, Azure-AsyncOperation), bounded by runOperation.
  longRunning: true,
  posture: {
    defaultAction: 'none of its own: a server admits no public client unless a firewall rule does, so tagwall reads it as Deny',
    publicNetworkAccess: 'properties.network.publicNetworkAccess on the server (read-only; Disabled when the server is VNet-integrated): Disabled means no firewall rule is honoured, so tagwall skips it',
  },
  // The rules are child resources Resource Graph does not describe; the server is found by its tag.
  graph: 'tags',
  iac: {
    terraform: 'azurerm_mysql_flexible_server_firewall_rule.start_ip_address / end_ip_address (one resource per range)',
    named: {
      arm: { start: 'startIpAddress', end: 'endIpAddress' },
      terraform: { start: 'start_ip_address', end: 'end_ip_address' },
      childType: 'Microsoft.DBforMySQL/flexibleServers/firewallRules',
      // The portal names "Allow public access from any Azure service" this (with a date after it, so only a template's name for it).
      names: { '0.0.0.0/32': 'AllowAllAzureServicesAndResourcesWithinAzureIps' },
    },
    // One rule at a time; the delete asks for confirmation unless --yes.
    az: {
      add: ['az', 'mysql', 'flexible-server', 'firewall-rule', 'create', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}', '--start-ip-address', '{start}', '--end-ip-address', '{end}'],
      remove: ['az', 'mysql', 'flexible-server', 'firewall-rule', 'delete', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}', '--yes'],
      list: { command: ['az', 'mysql', 'flexible-server', 'firewall-rule', 'list', '--resource-group', '{group}', '--name', '{name}'], start: 'startIpAddress', end: 'endIpAddress' },
    },
  },
  sdk: '@azure/arm-mysql-flexible',
  load: async () => (await import('./adapter.js')).createMysqlFlexibleFirewalls,
};
