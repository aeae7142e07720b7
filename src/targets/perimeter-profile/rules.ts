import { TagwallError } from '../../core/errors.js';
import { formatCidr } from '../../core/ipv4.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { compareRules, normaliseRule, type FirewallRule } from '../../core/rules.js';
import type { FirewallState, KindFinding } from '../firewall.js';

/**
 * A perimeter profile's access rules as tagwall sees them, and the writes that turn
 * tagwall's own rules (inbound, named tagwall-<n>, holding nothing but address prefixes)
 * into a new list. Pure, so the adapter only does the requests.
 */

export const TAGWALL_RULE = /^tagwall-([1-9][0-9]*)$/i;

/** One access rule as listed, reduced to what tagwall needs. */
export interface AccessRuleView {
  readonly name: string;
  readonly direction: string | undefined;
  readonly addressPrefixes: readonly string[];
  /** Subscriptions, service tags, FQDNs, e-mail addresses and phone numbers: elements that are not prefixes. */
  readonly otherElements: number;
}

/** What write() needs of the profile as read. */
export interface ProfileOpaque {
  readonly rules: readonly AccessRuleView[];
}

const inbound = (r: AccessRuleView): boolean => (r.direction ?? '').toLowerCase() === 'inbound';

/** A name alone makes no rule tagwall's: someone else's outbound or subscription rule may be called tagwall-2. */
export function isTagwallRule(r: AccessRuleView): boolean {
  return TAGWALL_RULE.test(r.name) && inbound(r) && r.otherElements === 0;
}

const keysOf = (prefixes: readonly string[]): Set<string> => new Set(prefixes.map((p) => normaliseRule(p).key));

function foreignPrefixKeys(rules: readonly AccessRuleView[]): Set<string> {
  return keysOf(rules.filter((r) => inbound(r) && !isTagwallRule(r)).flatMap((r) => r.addressPrefixes));
}

const byName = (a: AccessRuleView, b: AccessRuleView): number => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0);

export function profileState(resource: ResourceRef, listed: readonly AccessRuleView[]): FirewallState {
  const rules = [...listed].sort(byName);
  const foreign = foreignPrefixKeys(rules);
  // Every inbound prefix counts against the limit, whoever's it is and whatever its family.
  const ipRules = rules.filter(inbound).flatMap((r) => r.addressPrefixes);
  // A prefix that someone else's rule holds too is theirs: tagwall must not remove it. tagwall
  // manages IPv4 only, so an IPv6 prefix someone put in tagwall-<n> stays where it is.
  const ownedByName = rules.filter(isTagwallRule).flatMap((r) =>
    r.addressPrefixes.filter((p) => {
      const rule = normaliseRule(p);
      return rule.cidr !== undefined && !foreign.has(rule.key);
    }),
  );
  // Outbound elements count too: Microsoft's limits page has given the 200 per profile both
  // as one figure and as one per direction, and only counting them never overshoots.
  const otherEntries = rules.reduce((n, r) => n + r.otherElements + (inbound(r) ? 0 : r.addressPrefixes.length), 0);
  const findings: KindFinding[] = [];
  const taken = rules.filter((r) => TAGWALL_RULE.test(r.name) && !isTagwallRule(r)).map((r) => r.name);
  if (taken.length > 0) {
    findings.push({
      severity: 'warning',
      code: 'NSP_RULE_NAME_TAKEN',
      message: `${taken.join(', ')} ${taken.length === 1 ? 'is named like one of tagwall\'s rules but is not one' : 'are named like tagwall\'s rules but are not'} (outbound, or holding more than address prefixes): left alone, and tagwall numbers its own rules around ${taken.length === 1 ? 'it' : 'them'}`,
      rules: taken,
    });
  }
  if (otherEntries > 0) {
    findings.push({
      severity: 'info',
      code: 'NSP_OTHER_ELEMENTS',
      message: `${otherEntries} element${otherEntries === 1 ? '' : 's'} of other access rules (subscriptions, FQDNs, outbound) count against the profile's limit beside the address prefixes`,
      count: otherEntries,
    });
  }
  return {
    resource,
    ipRules,
    virtualNetworkRuleCount: 0,
    // A perimeter has no default action of its own: public inbound traffic is denied unless an
    // access rule allows it, which is what Deny means to the plan (so no FIREWALL_DISABLED).
    posture: { defaultAction: 'Deny' },
    ...(findings.length === 0 ? {} : { findings }),
    ownedByName,
    ...(otherEntries === 0 ? {} : { otherEntries }),
    opaque: { rules } satisfies ProfileOpaque,
  };
}

/** The requests that take tagwall's rules to a new content, in the order they must be made. */
export interface RuleWrites {
  readonly puts: readonly { readonly name: string; readonly addressPrefixes: readonly string[] }[];
  readonly deletes: readonly string[];
}

function sample(keys: readonly string[]): string {
  return `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
}

/** The prefixes that belong in tagwall's rules: the new list minus what other rules hold. */
function tagwallPrefixes(resource: ResourceRef, rules: readonly AccessRuleView[], ipRules: readonly string[]): FirewallRule[] {
  const foreign = foreignPrefixKeys(rules);
  const ours = keysOf(rules.filter(isTagwallRule).flatMap((r) => r.addressPrefixes));
  const next = new Map<string, FirewallRule>();
  for (const value of ipRules) {
    const r = normaliseRule(value);
    if (foreign.has(r.key) || next.has(r.key)) continue;
    // tagwall writes IPv4 only; anything else may stay where it already is (add-only keeps it).
    if (r.cidr === undefined && !ours.has(r.key)) {
      throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: ${JSON.stringify(value)} is not an IPv4 prefix, and no rule of the profile holds it`, { values: { entry: value, notSent: true } });
    }
    next.set(r.key, r.cidr === undefined ? r : { ...r, value: formatCidr(r.cidr) });
  }
  const kept = keysOf(ipRules);
  const dropped = [...foreign].filter((k) => !kept.has(k)).sort();
  if (dropped.length > 0) {
    throw new TagwallError(
      'TARGET_FOREIGN_RULES',
      `${resource.id}: the change would remove ${dropped.length} prefix${dropped.length === 1 ? '' : 'es'} that other access rules hold (${sample(dropped)}); tagwall changes only its own rules (tagwall-<n>) in a perimeter profile, so use mode "merge" for it`,
      { values: { count: dropped.length, prefixes: dropped.slice(0, 20), notSent: true } },
    );
  }
  return [...next.values()].sort(compareRules);
}

/**
 * Spreads the prefixes over as few tagwall-<n> rules as `perRule` allows, leaving each prefix in
 * the rule that already holds it where it can, so that a rule's PUT removes only what the plan
 * removes. Numbers taken by other rules are skipped.
 */
export function planRuleWrites(resource: ResourceRef, rules: readonly AccessRuleView[], ipRules: readonly string[], perRule: number): RuleWrites {
  const wanted = tagwallPrefixes(resource, rules, ipRules);
  const mine = rules.filter(isTagwallRule);
  const taken = new Set(rules.filter((r) => !isTagwallRule(r)).map((r) => r.name.toLowerCase()));
  const count = wanted.length === 0 ? 0 : Number.isFinite(perRule) ? Math.ceil(wanted.length / perRule) : 1;
  const names: string[] = [];
  for (let n = 1; names.length < count; n++) if (!taken.has(`tagwall-${n}`)) names.push(`tagwall-${n}`);

  const wantedKeys = new Set(wanted.map((r) => r.key));
  const current = new Map(mine.map((r) => [r.name.toLowerCase(), r.addressPrefixes.map((p) => normaliseRule(p).key)]));
  const placed = new Set<string>();
  const content = names.map((name) => {
    const stays = (current.get(name) ?? []).filter((k) => wantedKeys.has(k) && !placed.has(k)).slice(0, perRule);
    stays.forEach((k) => placed.add(k));
    return stays;
  });
  let i = 0;
  for (const r of wanted) {
    if (placed.has(r.key)) continue;
    while (content[i]!.length >= perRule) i++;
    content[i]!.push(r.key);
  }
  const valueOf = new Map(wanted.map((r) => [r.key, r.value]));
  const puts = names
    .map((name, j) => {
      const before = current.get(name);
      const after = content[j]!;
      const same = before !== undefined && before.length === after.length && new Set(before).size === after.length && after.every((k) => before.includes(k));
      const released = (before ?? []).some((k) => wantedKeys.has(k) && !after.includes(k));
      return { name, before: before?.length ?? 0, after, same, released };
    })
    .filter((p) => !p.same);
  // Writes are several requests, and any of them may fail: a prefix the plan keeps must be in
  // its new rule before it leaves its old one. So rules that only gain or lose what the plan
  // drops go first (those that shrink first of all, to stay under the element limit), then the
  // rules that hand prefixes to them, and the rules no longer needed are deleted last.
  const shrink = (p: { before: number; after: readonly string[] }): number => Math.min(p.after.length - p.before, 0);
  puts.sort((a, b) => Number(a.released) - Number(b.released) || shrink(a) - shrink(b) || (a.name < b.name ? -1 : 1));
  const keep = new Set(names);
  return {
    puts: puts.map((p) => ({
      name: p.name,
      addressPrefixes: p.after.map((k) => normaliseRule(valueOf.get(k)!)).sort(compareRules).map((r) => r.value),
    })),
    deletes: mine.map((r) => r.name).filter((n) => !keep.has(n.toLowerCase())).sort(),
  };
}
