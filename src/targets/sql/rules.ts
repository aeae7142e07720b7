import { TagwallError } from '../../core/errors.js';
import { fromStartEnd, toStartEnd } from '../../core/range-wire.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { normaliseRule, rangeOfRule, rangeToWrite } from '../../core/rules.js';
import type { FirewallState, KindFinding } from '../firewall.js';
import { ownerRule, ruleName } from '../perimeter-profile/rules.js';
import { SQL_SERVER } from './facts.js';

/**
 * A SQL server's firewall rules as tagwall sees them, and the whole set one replace sends. Pure,
 * so the adapter only does the requests.
 *
 * Every rule has a name. tagwall's are named tagwall-<owner>-<n> (the owner ID as perimeter
 * profiles use it), so two installations on one server each manage only their own, and the
 * record is not needed to tell whose a rule is. Everyone else's rules, AllowAllWindowsAzureIps
 * among them, go back in the replace exactly as they were read: name, start and end.
 */

/** One firewall rule as listed. */
export interface SqlRuleView {
  readonly name: string;
  readonly startIpAddress: string;
  readonly endIpAddress: string;
}

/** What write() needs of the server as read. */
export interface SqlOpaque {
  readonly rules: readonly SqlRuleView[];
}

/** The server's own switch for "Allow Azure services and resources to access this server". */
export const ALLOW_AZURE_RULE = 'AllowAllWindowsAzureIps';

const SPECIAL = new Set(SQL_SERVER.special);

/**
 * A rule as it stands in ipRules: `a.b.c.d-e.f.g.h`, a single address bare. A pair the range
 * reader refuses (not IPv4, start after end) keeps its own text, so it is nobody's to change.
 */
export function ruleText(r: SqlRuleView): string {
  try {
    return rangeToWrite(fromStartEnd(r));
  } catch {
    return `${r.startIpAddress}-${r.endIpAddress}`;
  }
}

const keyOf = (r: SqlRuleView): string => normaliseRule(ruleText(r)).key;

/** This installation's rule: named tagwall-<owner>-<n>, an IPv4 range, and not the special entry. */
function isTagwallRule(r: SqlRuleView, pattern: RegExp): boolean {
  if (!pattern.test(r.name)) return false;
  const rule = normaliseRule(ruleText(r));
  return rangeOfRule(rule) !== undefined && !SPECIAL.has(rule.key);
}

const byName = (a: SqlRuleView, b: SqlRuleView): number => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0);

export function sqlState(resource: ResourceRef, listed: readonly SqlRuleView[], ownerId: string, publicNetworkAccess: string | undefined): FirewallState {
  const pattern = ownerRule(ownerId);
  const rules = [...listed].sort(byName);
  const mine = rules.filter((r) => isTagwallRule(r, pattern));
  const foreign = new Set(rules.filter((r) => !isTagwallRule(r, pattern)).map(keyOf));
  // A range someone else's rule holds too is theirs: tagwall never removes it.
  const ownedByName = mine.filter((r) => !foreign.has(keyOf(r))).map(ruleText);
  const findings: KindFinding[] = [];
  const taken = rules.filter((r) => pattern.test(r.name) && !isTagwallRule(r, pattern)).map((r) => r.name);
  if (taken.length > 0) {
    findings.push({
      severity: 'warning',
      code: 'SQL_RULE_NAME_TAKEN',
      message: `${taken.join(', ')} ${taken.length === 1 ? 'is named like one of tagwall\'s rules but holds' : 'are named like tagwall\'s rules but hold'} the special 0.0.0.0 entry or no IPv4 range: left alone, and tagwall numbers its own rules around ${taken.length === 1 ? 'it' : 'them'}`,
      rules: taken,
    });
  }
  return {
    resource,
    ipRules: rules.map(ruleText),
    // Virtual-network rules are another child resource (virtualNetworkRules), never read or written here.
    virtualNetworkRuleCount: 0,
    // A server admits no public client unless a rule does: Deny, so no FIREWALL_DISABLED.
    posture: { defaultAction: 'Deny', ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }) },
    ...(findings.length === 0 ? {} : { findings }),
    ownedByName,
    opaque: { rules } satisfies SqlOpaque,
  };
}

function sample(keys: readonly string[]): string {
  return `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
}

/**
 * The whole set the replace sends for the new list: every rule that is not tagwall's exactly as
 * read, tagwall's rules that hold a wanted range under their names, and a new tagwall-<owner>-<n>
 * for each wanted range no rule holds yet (numbered around names that are taken). Refuses, before
 * any request, a list that drops someone else's rule or asks tagwall to own what it may not.
 */
export function replacementSet(resource: ResourceRef, rules: readonly SqlRuleView[], ipRules: readonly string[], ownerId: string): SqlRuleView[] {
  const pattern = ownerRule(ownerId);
  const wanted = new Map<string, string>();
  for (const text of ipRules) {
    const r = normaliseRule(text);
    if (!wanted.has(r.key)) wanted.set(r.key, text);
  }
  const foreign = rules.filter((r) => !isTagwallRule(r, pattern));
  const held = new Set(foreign.map(keyOf));
  const dropped = [...new Set(foreign.map(keyOf).filter((k) => !wanted.has(k)))].sort();
  if (dropped.length > 0) {
    throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: the change would remove ${dropped.length} rule${dropped.length === 1 ? '' : 's'} that are not tagwall's (${sample(dropped)}); tagwall changes only its own rules (tagwall-<owner>-<n>) on a SQL server`, {
      values: { count: dropped.length, rules: dropped.slice(0, 20), notSent: true },
    });
  }
  const kept: SqlRuleView[] = [];
  const numberOf = (name: string): number => Number(pattern.exec(name)?.[1] ?? Infinity);
  for (const r of rules.filter((x) => isTagwallRule(x, pattern)).sort((a, b) => numberOf(a.name) - numberOf(b.name))) {
    const key = keyOf(r);
    if (!wanted.has(key) || held.has(key)) continue;
    held.add(key);
    kept.push(r);
  }
  const taken = new Set([...foreign, ...kept].map((r) => r.name.toLowerCase()));
  const fresh: SqlRuleView[] = [];
  let n = 1;
  for (const [key, text] of wanted) {
    if (held.has(key)) continue;
    const range = rangeOfRule(normaliseRule(text));
    if (range === undefined || SPECIAL.has(key)) {
      throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: ${JSON.stringify(text)} is ${range === undefined ? 'not an IPv4 range' : 'the server\'s own AllowAllWindowsAzureIps entry'}, and no rule of the server holds it: tagwall writes no such rule`, {
        values: { entry: text, notSent: true },
      });
    }
    while (taken.has(ruleName(ownerId, n))) n++;
    const name = ruleName(ownerId, n);
    taken.add(name);
    fresh.push({ name, ...toStartEnd(range) });
  }
  return [...foreign, ...kept, ...fresh];
}

/** Whether the server's rules, as listed, are exactly the set sent (by name, any case, and range). */
export function sameSet(sent: readonly SqlRuleView[], listed: readonly SqlRuleView[]): boolean {
  const shape = (rs: readonly SqlRuleView[]) => rs.map((r) => `${r.name.toLowerCase()}=${keyOf(r)}`).sort().join('|');
  return shape(sent) === shape(listed);
}
