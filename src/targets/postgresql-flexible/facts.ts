import type { FirewallFacts } from '../kind.js';

/**
 * An Azure Database for PostgreSQL flexible server's firewall
 * (`Microsoft.DBforPostgreSQL/flexibleServers/firewallRules`), as the 2025-08-01 REST spec
 * describes it (docs/TARGETS.md has the citations): named start/end rules, each its own child
 * resource, created and deleted one at a time by long-running operations. There is no replace:
 * the named-range framework (../named-range-firewall.ts) writes puts before deletes.
 */
export const POSTGRESQL_FLEXIBLE: FirewallFacts = {
  kind: 'postgresql-flexible',
  title: 'PostgreSQL flexible server',
  resourceType: 'Microsoft.DBforPostgreSQL/flexibleServers',
  // What @azure/arm-postgresql-flexible 9.0.0 sends for the server and its rules.
  apiVersion: '2025-08-01',
  rulesAt: 'firewallRules/<name>: properties.startIpAddress and endIpAddress (tagwall\'s named tagwall-<owner>-<n>)',
  // Neither the spec (no maxItems; one PUT per rule) nor Microsoft's flexible-server limits page
  // gives a firewall-rule maximum. 128 is the figure of the family's documented members (SQL's
  // older page, Synapse): conservative, it is never more than a server takes if Azure has a limit
  // like theirs, and a target may lower it with maxRules.
  maxRules: 128,
  ruleShape: 'range',
  // Written as start/end; a single address is start = end, spelled bare.
  singleAddress: 'bare',
  allows31: true,
  // 0.0.0.0-0.0.0.0 is "Allow public access from any Azure service": the server's own switch, never tagwall's.
  special: ['0.0.0.0/32'],
  // Tagwall changes its own named rules only; everyone else's stay as they are.
  mergeOnly: true,
  // Its rules carry their owner in their names: the names, not the record, say which are tagwall's.
  ownedByName: 'tagwall-<owner>-<n>',
  // Each rule's PUT and DELETE is a long-running operation (202, Azure-AsyncOperation), bounded by runOperation.
  longRunning: true,
  posture: {
    defaultAction: 'none of its own: a server admits no public client unless a firewall rule does, so tagwall reads it as Deny',
    publicNetworkAccess: 'properties.network.publicNetworkAccess on the server: Disabled (private access, or VNet-integrated) means no firewall rule is honoured, so tagwall skips it',
  },
  // The rules are child resources Resource Graph does not describe; the server is found by its tag.
  graph: 'tags',
  iac: {
    terraform: 'azurerm_postgresql_flexible_server_firewall_rule.start_ip_address / end_ip_address (one resource per range)',
    named: {
      arm: { start: 'startIpAddress', end: 'endIpAddress' },
      terraform: { start: 'start_ip_address', end: 'end_ip_address' },
      childType: 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules',
      // The portal names "Allow public access from any Azure service" this (with a date after it, so only a template's name for it).
      names: { '0.0.0.0/32': 'AllowAllAzureServicesAndResourcesWithinAzureIps' },
    },
    // One rule at a time; the delete asks for confirmation unless --yes.
    az: {
      add: ['az', 'postgres', 'flexible-server', 'firewall-rule', 'create', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}', '--start-ip-address', '{start}', '--end-ip-address', '{end}'],
      remove: ['az', 'postgres', 'flexible-server', 'firewall-rule', 'delete', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}', '--yes'],
      list: { command: ['az', 'postgres', 'flexible-server', 'firewall-rule', 'list', '--resource-group', '{group}', '--name', '{name}'], start: 'startIpAddress', end: 'endIpAddress' },
    },
  },
  sdk: '@azure/arm-postgresql-flexible',
  load: async () => (await import('./adapter.js')).createPostgresFlexibleFirewalls,
};
