import { RedisManagementClient, type RedisFirewallRule } from '@azure/arm-rediscache';
import { classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget } from '../firewall.js';
import { checkImplicitSwitch } from '../implicit-firewall.js';
import type { FirewallOptions } from '../kind.js';
import { createNamedRangeFirewalls, type NamedRangeKind } from '../named-range-firewall.js';
import { RANGE_RULE_NAME_TAKEN, type RangeRuleView } from '../range-rules.js';
import { REDIS_CACHE } from './facts.js';
import { redisOwnerRule, redisRuleName } from './names.js';

/** @azure/arm-rediscache 8.2.0 sends 2024-11-01 unless told otherwise; tagwall keeps the SDK's. */
export type RedisFirewallOptions = FirewallOptions;

/**
 * A rule's own name. Azure's answers disagree (the spec's create example names the rule
 * `cache1/rule1`, its list example `rule1`), so the name is the last segment of the rule's ID,
 * and failing that of its name.
 */
export function ruleNameOf(r: { readonly id?: string; readonly name?: string }): string {
  const last = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s.split('/').pop());
  return last(r.id) ?? last(r.name) ?? '';
}

/** Redis spells start and end startIP and endIP; the family's rules say startIpAddress and endIpAddress. */
const viewOf = (r: RedisFirewallRule, name = ruleNameOf(r)): RangeRuleView => ({ name, startIpAddress: r.startIP ?? '', endIpAddress: r.endIP ?? '' });

export const REDIS_RULES: NamedRangeKind<RedisManagementClient> = {
  title: REDIS_CACHE.title,
  permissions: 'Microsoft.Cache/redis/read, Microsoft.Cache/redis/firewallRules/read, /write and /delete',
  rules: {
    where: 'an Azure Cache for Redis',
    special: REDIS_CACHE.special,
    specialName: 'a 0.0.0.0 rule, which is never tagwall\'s',
    nameTakenCode: RANGE_RULE_NAME_TAKEN,
    // Rule names take letters, digits and underscores only (names.ts): tagwall_<owner>_<n>.
    naming: { pattern: redisOwnerRule, name: redisRuleName, form: 'tagwall_<owner>_<n>' },
  },
  client: (subscriptionId, connection, options) => new RedisManagementClient(options.credential, subscriptionId, classicClientOptions(connection)),
  calls: {
    async publicNetworkAccess(client, cache, calls) {
      return (await client.redis.get(cache.resourceGroup, cache.name, calls.requestOptions)).publicNetworkAccess;
    },
    async *list(client, cache, calls) {
      for await (const r of client.firewallRules.list(cache.resourceGroup, cache.name, calls.requestOptions)) yield viewOf(r);
    },
    // FirewallRules_CreateOrUpdate and _Delete are synchronous (200/201, 200/204).
    async put(client, cache, rule, calls) {
      return viewOf(await client.firewallRules.createOrUpdate(cache.resourceGroup, cache.name, rule.name, { startIP: rule.startIpAddress, endIP: rule.endIpAddress }, calls.requestOptions), rule.name);
    },
    async delete(client, cache, name, calls) {
      await client.firewallRules.delete(cache.resourceGroup, cache.name, name, calls.requestOptions);
    },
  },
};

/**
 * A cache with no firewall rules takes every client, so the rules are the switch: the firewall
 * reads Allow while it has none and Deny once it has one (the 0.0.0.0 rule counts: it closes the
 * cache to every public client).
 */
function switchPosture(state: FirewallState): FirewallState {
  return { ...state, posture: { ...state.posture, defaultAction: state.ipRules.length === 0 ? 'Allow' : 'Deny' } };
}

/**
 * Azure Cache for Redis firewall rules through the real ARM SDK: the cache's GET (for
 * publicNetworkAccess) and the rule list to read; to write, one PUT per new rule of tagwall's,
 * then one DELETE per rule it no longer wants (named-range-firewall.ts). The first rule on a cache
 * without any turns the firewall on, and removing the last turns it off: the one needs
 * enforceDeny, the other is never done (checkImplicitSwitch, before any request).
 */
export function createRedisFirewalls(options: RedisFirewallOptions): FirewallTarget {
  const inner = createNamedRangeFirewalls(options, REDIS_RULES);
  return {
    read: async (cache) => switchPosture(await inner.read(cache)),
    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      checkImplicitSwitch(current, change, false, REDIS_CACHE.title);
      return switchPosture(await inner.write(current, change));
    },
  };
}
