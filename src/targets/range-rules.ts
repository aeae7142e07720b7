import { TagwallError } from '../core/errors.js';
import { mergeRanges, subtractRanges, type AddressRange } from '../core/ipv4.js';
import { fromStartEnd, toStartEnd } from '../core/range-wire.js';
import type { ResourceRef } from '../core/resource-id.js';
import { normaliseRule, rangeOfRule, rangeToWrite } from '../core/rules.js';
import type { FirewallState, KindFinding } from './firewall.js';
import { ownerRule, ruleName } from './perimeter-profile/rules.js';

/**
 * The start/end family's named rules (Azure SQL, PostgreSQL and MySQL flexible servers, and
 * their kin) as tagwall sees them, and the requests that take tagwall's rules to a new list.
 * Pure, so an adapter only does the requests; each kind gives its names and words as data
 * (RangeRuleKind).
 *
 * Every rule has a name. tagwall's are named for this installation's owner ID
 * (tagwall-<owner>-<n> unless the kind's names need another form), so two installations on one
 * server each manage only their own, and no record is needed to tell whose a rule is. Everyone
 * else's rules, the special 0.0.0.0 entry among them, are never changed.
 */

/** One firewall rule as listed (a kind with other field names renames at its adapter). */
export interface RangeRuleView {
  readonly name: string;
  readonly startIpAddress: string;
  readonly endIpAddress: string;
}

/** What write() needs of the firewall as read. */
export interface RangeOpaque {
  readonly rules: readonly RangeRuleView[];
}

/** How a kind names tagwall's rules: this owner's names, and the n-th one. */
export interface RuleNaming {
  /** Matches this owner's rule names (any case), the rule's number in group 1. */
  readonly pattern: (ownerId: string) => RegExp;
  readonly name: (ownerId: string, n: number) => string;
  /** The form, for people: `tagwall-<owner>-<n>`. */
  readonly form: string;
}

/** tagwall-<owner>-<n>, as perimeter profiles name their rules. */
export const OWNER_NAMING: RuleNaming = { pattern: ownerRule, name: ruleName, form: 'tagwall-<owner>-<n>' };

/** What a start/end kind says about its rules, as data. */
export interface RangeRuleKind {
  /** For messages: `a SQL server`, `a PostgreSQL flexible server`. */
  readonly where: string;
  /** The kind's special entries (its facts' `special`, normalised keys): never tagwall's. */
  readonly special: readonly string[];
  /** The special entry in people's words, for the refusal to write it. */
  readonly specialName: string;
  /** The warning code for a rule named like tagwall's that is not (SQL keeps SQL_RULE_NAME_TAKEN). */
  readonly nameTakenCode: string;
  /** Absent: tagwall-<owner>-<n>. */
  readonly naming?: RuleNaming;
}

/** The kind-neutral code for a rule named like tagwall's that holds no range tagwall may own. */
export const RANGE_RULE_NAME_TAKEN = 'RANGE_RULE_NAME_TAKEN';

/**
 * A rule as it stands in ipRules: `a.b.c.d-e.f.g.h`, a single address bare. A pair the range
 * reader refuses (not IPv4, start after end) keeps its own text, so it is nobody's to change.
 */
export function ruleText(r: RangeRuleView): string {
  try {
    return rangeToWrite(fromStartEnd(r));
  } catch {
    return `${r.startIpAddress}-${r.endIpAddress}`;
  }
}

const keyOf = (r: RangeRuleView): string => normaliseRule(ruleText(r)).key;
const rangeOf = (r: RangeRuleView): AddressRange | undefined => rangeOfRule(normaliseRule(ruleText(r)));

/** How one kind and one owner read rules. */
interface Reader {
  readonly pattern: RegExp;
  readonly naming: RuleNaming;
  readonly special: ReadonlySet<string>;
  /** This installation's rule: named for its owner, an IPv4 range, and not the special entry. */
  mine(r: RangeRuleView): boolean;
}

function readerOf(kind: RangeRuleKind, ownerId: string): Reader {
  const naming = kind.naming ?? OWNER_NAMING;
  const pattern = naming.pattern(ownerId);
  const special = new Set(kind.special);
  return {
    pattern,
    naming,
    special,
    mine: (r) => pattern.test(r.name) && rangeOf(r) !== undefined && !special.has(keyOf(r)),
  };
}

const byName = (a: RangeRuleView, b: RangeRuleView): number => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0);

/** The firewall as tagwall reads it: every rule as a range, this owner's by name, the rest someone else's. */
export function rangeState(resource: ResourceRef, listed: readonly RangeRuleView[], ownerId: string, publicNetworkAccess: string | undefined, kind: RangeRuleKind): FirewallState {
  const reader = readerOf(kind, ownerId);
  const rules = [...listed].sort(byName);
  const mine = rules.filter(reader.mine);
  const foreign = new Set(rules.filter((r) => !reader.mine(r)).map(keyOf));
  // A range someone else's rule holds too is theirs: tagwall never removes it.
  const ownedByName = mine.filter((r) => !foreign.has(keyOf(r))).map(ruleText);
  const findings: KindFinding[] = [];
  const taken = rules.filter((r) => reader.pattern.test(r.name) && !reader.mine(r)).map((r) => r.name);
  if (taken.length > 0) {
    findings.push({
      severity: 'warning',
      code: kind.nameTakenCode,
      message: `${taken.join(', ')} ${taken.length === 1 ? 'is named like one of tagwall\'s rules but holds' : 'are named like tagwall\'s rules but hold'} the special 0.0.0.0 entry or no IPv4 range: left alone, and tagwall numbers its own rules around ${taken.length === 1 ? 'it' : 'them'}`,
      rules: taken,
    });
  }
  return {
    resource,
    ipRules: rules.map(ruleText),
    // Virtual-network rules, where the kind has them, are another child resource, never read or written here.
    virtualNetworkRuleCount: 0,
    // These firewalls admit no public client unless a rule does: Deny, so no FIREWALL_DISABLED.
    posture: { defaultAction: 'Deny', ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }) },
    ...(findings.length === 0 ? {} : { findings }),
    ownedByName,
    opaque: { rules } satisfies RangeOpaque,
  };
}

function sample(keys: readonly string[]): string {
  return `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
}

/** The rules a new list makes of the old ones. */
export interface RangeRuleSet {
  /** Every rule that is not tagwall's, exactly as read. */
  readonly foreign: readonly RangeRuleView[];
  /** tagwall's rules that hold a wanted range, under their names. */
  readonly kept: readonly RangeRuleView[];
  /** A new rule for each wanted range no rule holds yet. */
  readonly fresh: readonly RangeRuleView[];
  /** tagwall's rules no longer wanted. */
  readonly dropped: readonly RangeRuleView[];
}

/**
 * What the new list makes of the rules as read: everyone else's kept as they are, tagwall's that
 * hold a wanted range kept under their names, a new rule for each wanted range no rule holds
 * (numbered around names that are taken: by the rules that stay, and also by the dropped ones
 * when `freeDropped` is false, as for writes one by one, where they still exist while the new
 * ones are put). Refuses, before any request, a list that drops someone else's rule or asks
 * tagwall to own what it may not.
 */
export function rangeRuleSet(resource: ResourceRef, rules: readonly RangeRuleView[], ipRules: readonly string[], ownerId: string, kind: RangeRuleKind, freeDropped: boolean): RangeRuleSet {
  const reader = readerOf(kind, ownerId);
  const form = reader.naming.form;
  const wanted = new Map<string, string>();
  for (const text of ipRules) {
    const r = normaliseRule(text);
    if (!wanted.has(r.key)) wanted.set(r.key, text);
  }
  const foreign = rules.filter((r) => !reader.mine(r));
  const held = new Set(foreign.map(keyOf));
  const lost = [...new Set(foreign.map(keyOf).filter((k) => !wanted.has(k)))].sort();
  if (lost.length > 0) {
    throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: the change would remove ${lost.length} rule${lost.length === 1 ? '' : 's'} that are not tagwall's (${sample(lost)}); tagwall changes only its own rules (${form}) on ${kind.where}`, {
      values: { count: lost.length, rules: lost.slice(0, 20), notSent: true },
    });
  }
  const kept: RangeRuleView[] = [];
  const dropped: RangeRuleView[] = [];
  const numberOf = (name: string): number => Number(reader.pattern.exec(name)?.[1] ?? Infinity);
  for (const r of rules.filter(reader.mine).sort((a, b) => numberOf(a.name) - numberOf(b.name) || byName(a, b))) {
    const key = keyOf(r);
    if (!wanted.has(key) || held.has(key)) {
      dropped.push(r);
      continue;
    }
    held.add(key);
    kept.push(r);
  }
  const taken = new Set([...foreign, ...kept, ...(freeDropped ? [] : dropped)].map((r) => r.name.toLowerCase()));
  const fresh: RangeRuleView[] = [];
  let n = 1;
  for (const [key, text] of wanted) {
    if (held.has(key)) continue;
    const range = rangeOfRule(normaliseRule(text));
    if (range === undefined || reader.special.has(key)) {
      throw new TagwallError('TARGET_FOREIGN_RULES', `${resource.id}: ${JSON.stringify(text)} is ${range === undefined ? 'not an IPv4 range' : kind.specialName}, and no rule of ${kind.where} holds it: tagwall writes no such rule`, {
        values: { entry: text, notSent: true },
      });
    }
    while (taken.has(reader.naming.name(ownerId, n).toLowerCase())) n++;
    const name = reader.naming.name(ownerId, n);
    taken.add(name.toLowerCase());
    fresh.push({ name, ...toStartEnd(range) });
  }
  return { foreign, kept, fresh, dropped };
}

/** One request of a write one rule at a time, in the order it must be made. */
export type RangeStep = { readonly op: 'put'; readonly rule: RangeRuleView } | { readonly op: 'delete'; readonly name: string };

/**
 * The requests, in order, that take tagwall's rules to the new list on a firewall written one
 * rule at a time: a PUT for each wanted range no rule holds, then a DELETE for each of tagwall's
 * rules no longer wanted. Puts first, so that at every moment the firewall admits every address
 * both the old and the new rules admit (a superset of old ∩ new): a PUT only adds, and a DELETE
 * comes once the new ranges are in place.
 *
 * `capacity`, where the kind's API has a hard limit on the rules it holds, keeps the count under
 * it while both old and new rules stand: before a PUT that would not fit, the deletes that are
 * already safe (their addresses the new list wants are held by other rules now) are made. Should
 * none be safe, the limit wins (Azure would refuse the PUT): the first pending delete is made.
 */
export function planRangeSteps(resource: ResourceRef, rules: readonly RangeRuleView[], ipRules: readonly string[], ownerId: string, kind: RangeRuleKind, capacity = Number.POSITIVE_INFINITY): RangeStep[] {
  const set = rangeRuleSet(resource, rules, ipRules, ownerId, kind, false);
  const steps: RangeStep[] = [];
  const standing = new Map(rules.map((r) => [r.name.toLowerCase(), r]));
  const newAddresses = mergeRanges([...set.foreign, ...set.kept, ...set.fresh].map(rangeOf).filter((r): r is AddressRange => r !== undefined));
  const pending = [...set.dropped];
  const safe = (victim: RangeRuleView): boolean => {
    const range = rangeOf(victim);
    if (range === undefined) return true;
    const others = mergeRanges([...standing.values()].filter((r) => r.name.toLowerCase() !== victim.name.toLowerCase()).map(rangeOf).filter((r): r is AddressRange => r !== undefined));
    // What of the victim the new list wants, less what the other rules hold now: nothing is safe.
    return subtractRanges(subtractRanges([range], subtractRanges([range], newAddresses)), others).length === 0;
  };
  const remove = (victim: RangeRuleView): void => {
    steps.push({ op: 'delete', name: victim.name });
    standing.delete(victim.name.toLowerCase());
    pending.splice(pending.indexOf(victim), 1);
  };
  for (const rule of set.fresh) {
    while (standing.size >= capacity && pending.length > 0) {
      const victim = pending.find(safe) ?? pending[0]!;
      remove(victim);
    }
    steps.push({ op: 'put', rule });
    standing.set(rule.name.toLowerCase(), rule);
  }
  for (const victim of [...pending]) remove(victim);
  return steps;
}

/** The rules after the steps, as far as the steps say: for the state a write returns. */
export function afterSteps(rules: readonly RangeRuleView[], done: readonly RangeStep[]): RangeRuleView[] {
  const after = new Map(rules.map((r) => [r.name.toLowerCase(), r]));
  for (const step of done) {
    if (step.op === 'put') after.set(step.rule.name.toLowerCase(), step.rule);
    else after.delete(step.name.toLowerCase());
  }
  return [...after.values()];
}

/** Whether the rules, as listed, are exactly the set sent (by name, any case, and range). */
export function sameSet(sent: readonly RangeRuleView[], listed: readonly RangeRuleView[]): boolean {
  const shape = (rs: readonly RangeRuleView[]) => rs.map((r) => `${r.name.toLowerCase()}=${keyOf(r)}`).sort().join('|');
  return shape(sent) === shape(listed);
}
