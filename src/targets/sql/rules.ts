import type { ResourceRef } from '../../core/resource-id.js';
import type { FirewallState } from '../firewall.js';
import { rangeRuleSet, rangeState, type RangeOpaque, type RangeRuleKind, type RangeRuleView } from '../range-rules.js';
import { SQL_SERVER } from './facts.js';

/**
 * A SQL server's firewall rules as tagwall sees them, and the whole set one replace sends: the
 * start/end family's reading (../range-rules.ts) with SQL's words. Pure, so the adapter only
 * does the requests. Everyone else's rules, AllowAllWindowsAzureIps among them, go back in the
 * replace exactly as they were read: name, start and end.
 */

export { ruleText, sameSet } from '../range-rules.js';

/** One firewall rule as listed. */
export type SqlRuleView = RangeRuleView;

/** What write() needs of the server as read. */
export type SqlOpaque = RangeOpaque;

/** The server's own switch for "Allow Azure services and resources to access this server". */
export const ALLOW_AZURE_RULE = 'AllowAllWindowsAzureIps';

export const SQL_RULES: RangeRuleKind = {
  where: 'a SQL server',
  special: SQL_SERVER.special,
  specialName: 'the server\'s own AllowAllWindowsAzureIps entry',
  // The code SQL has always reported; the family's newer kinds report RANGE_RULE_NAME_TAKEN.
  nameTakenCode: 'SQL_RULE_NAME_TAKEN',
};

export function sqlState(resource: ResourceRef, listed: readonly SqlRuleView[], ownerId: string, publicNetworkAccess: string | undefined): FirewallState {
  return rangeState(resource, listed, ownerId, publicNetworkAccess, SQL_RULES);
}

/**
 * The whole set the replace sends for the new list: every rule that is not tagwall's exactly as
 * read, tagwall's rules that hold a wanted range under their names, and a new tagwall-<owner>-<n>
 * for each wanted range no rule holds yet (a dropped rule's name is free again: the replace
 * removes it in the same request). Refuses, before any request, a list that drops someone
 * else's rule or asks tagwall to own what it may not.
 */
export function replacementSet(resource: ResourceRef, rules: readonly SqlRuleView[], ipRules: readonly string[], ownerId: string): SqlRuleView[] {
  const set = rangeRuleSet(resource, rules, ipRules, ownerId, SQL_RULES, true);
  return [...set.foreign, ...set.kept, ...set.fresh];
}
