import type { FirewallFacts } from '../kind.js';

/**
 * An Azure Cache for Redis firewall (`Microsoft.Cache/redis/firewallRules`), as the 2024-11-01
 * redis.json spec (FirewallRules_List, _CreateOrUpdate, _Delete: all synchronous) and its examples
 * describe it (docs/TARGETS.md has the citations): named `{startIP, endIP}` rules written one by
 * one. A start/end kind: its rules are ranges, so the range optimum covers them (docs/RANGES.md).
 *
 * A cache with no firewall rules takes every client: the first rule is the switch, as for Cosmos
 * DB, so tagwall writes a first rule only with enforceDeny and never removes the last.
 *
 * Microsoft documents no limit on the number of rules: 100 is tagwall's figure (see TARGETS.md),
 * and a target's `maxRules` may lower it. Rule names are restricted (letters, digits and
 * underscores are what is known to be taken), so tagwall's are tagwall_<owner>_<n> (names.ts).
 */
export const REDIS_CACHE: FirewallFacts = {
  kind: 'redis',
  title: 'Azure Cache for Redis',
  resourceType: 'Microsoft.Cache/redis',
  // What @azure/arm-rediscache 8.2.0 sends by default (RedisManagementClient's apiVersion).
  apiVersion: '2024-11-01',
  rulesAt: 'firewallRules/<name>: properties.startIP and endIP (tagwall\'s named tagwall_<owner>_<n>, the owner\'s dashes as underscores)',
  // No documented figure. 100 is the smallest limit a sibling firewall documents (container
  // registries, AI services), below the 128 of SQL and Synapse's start/end rules: a figure a cache
  // is not known to refuse, which still holds far more ranges than a service tag needs once collapsed.
  maxRules: 100,
  ruleShape: 'range',
  // Written as start/end; a single address is start = end, spelled bare.
  singleAddress: 'bare',
  allows31: true,
  // A 0.0.0.0–0.0.0.0 rule means nothing documented on a cache, but it is how people close one to
  // every public client (an empty list opens it) and how its start/end siblings spell "Azure
  // services": someone else's switch either way, so kept, never removed, never written.
  special: ['0.0.0.0/32'],
  // "If no firewall rules are set and public access is not disabled, then all IP addresses are allowed."
  ipListIsSwitch: true,
  // Tagwall changes its own named rules only; everyone else's stay as they are.
  mergeOnly: true,
  ownedByName: 'tagwall_<owner>_<n>',
  // FirewallRules_CreateOrUpdate answers 200/201 and _Delete 200/204: no long-running operation.
  longRunning: false,
  posture: {
    defaultAction:
      'none in the API: a cache with no firewall rules lets every client in (read as Allow) and one with rules only their ranges (read as Deny); tagwall writes a first rule only with enforceDeny, and never removes the last',
    publicNetworkAccess: 'properties.publicNetworkAccess on the cache (Enabled, Disabled): Disabled means only private endpoints get in (tagwall skips it)',
  },
  // The rules are child resources (firewallRules) Resource Graph does not describe; the cache is found by its tag.
  graph: 'tags',
  iac: {
    // One azurerm_redis_firewall_rule per range (start_ip, end_ip): the export lists the ranges.
    terraform: 'azurerm_redis_firewall_rule.start_ip / end_ip (one resource per range)',
    // The export's names (tagwalliac_52_1_2_0_24) hold letters, digits and underscores only: names a cache takes.
    // No name for 0.0.0.0: a cache has no Azure-named switch, so it is named from its addresses like any rule.
    named: {
      arm: { start: 'startIP', end: 'endIP' },
      terraform: { start: 'start_ip', end: 'end_ip' },
      childType: 'Microsoft.Cache/redis/firewallRules',
    },
    // One rule at a time (no confirmation on delete). az prints a rule's startIP/endIP as startIp/endIp,
    // and its name as <cache>/<rule>, as the spec's examples answer it.
    az: {
      add: ['az', 'redis', 'firewall-rules', 'create', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}', '--start-ip', '{start}', '--end-ip', '{end}'],
      remove: ['az', 'redis', 'firewall-rules', 'delete', '--resource-group', '{group}', '--name', '{name}', '--rule-name', '{rule-name}'],
      list: { command: ['az', 'redis', 'firewall-rules', 'list', '--resource-group', '{group}', '--name', '{name}'], start: 'startIp', end: 'endIp', qualifiedNames: true },
    },
  },
  sdk: '@azure/arm-rediscache',
  load: async () => (await import('./adapter.js')).createRedisFirewalls,
};
