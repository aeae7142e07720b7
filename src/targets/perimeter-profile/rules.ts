import { TagwallError } from '../../core/errors.js';
import { formatCidr } from '../../core/ipv4.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { compareRules, normaliseRule, type FirewallRule } from '../../core/rules.js';
import type { FirewallState, KindFinding } from '../firewall.js';

/**
 * A perimeter profile's access rules as tagwall sees them, and the writes that turn this
 * installation's rules (inbound, named tagwall-<owner>-<n>, holding nothing but address
 * prefixes) into a new list. Pure, so the adapter only does the requests.
 *
 * The owner is in the name (as external-dns keeps its txt-owner-id in a TXT record) so that two
 * installations on one profile each manage only their own rules. Rules named tagwall-<n> were
 * written before owners existed: the installation that meets them first takes them as its own
 * and renames them (see planMigration).
 */

/** What an installation's owner ID may be (config/schema.ts checks the setting with the same pattern). */
export const OWNER_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A rule written before owner IDs. */
export const LEGACY_RULE = /^tagwall-([1-9][0-9]*)$/i;

/** Names of this owner's rules. The owner holds only [a-z0-9-], so it needs no escaping. */
export function ownerRule(owner: string): RegExp {
  if (!OWNER_ID.test(owner)) throw new RangeError(`${JSON.stringify(owner)} is not an owner ID (1-63 lowercase letters, digits and inner dashes)`);
  return new RegExp(`^tagwall-${owner}-([1-9][0-9]*)$`, 'i');
}

export const ruleName = (owner: string, n: number): string => `tagwall-${owner}-${n}`;

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

/** Whose rules are whose, for one owner. */
export interface Owner {
  readonly id: string;
  readonly pattern: RegExp;
}

export function ownerOf(id: string): Owner {
  return { id, pattern: ownerRule(id) };
}

/** Named like this installation's rules (its own, or a legacy one), whatever the rule holds. */
const namedMine = (r: AccessRuleView, owner: Owner): boolean => owner.pattern.test(r.name) || LEGACY_RULE.test(r.name);

/**
 * This installation's rule: named tagwall-<owner>-<n> (or tagwall-<n>, which it takes over), inbound
 * and holding nothing but prefixes. A name alone makes no rule tagwall's: someone else's outbound or
 * subscription rule may be called tagwall-2. Another installation's tagwall-<other>-<n> is someone else's.
 */
export function isTagwallRule(r: AccessRuleView, owner: Owner): boolean {
  return namedMine(r, owner) && inbound(r) && r.otherElements === 0;
}

const isLegacy = (r: AccessRuleView, owner: Owner): boolean => isTagwallRule(r, owner) && LEGACY_RULE.test(r.name);

const keysOf = (prefixes: readonly string[]): Set<string> => new Set(prefixes.map((p) => normaliseRule(p).key));

function foreignPrefixKeys(rules: readonly AccessRuleView[], owner: Owner): Set<string> {
  return keysOf(rules.filter((r) => inbound(r) && !isTagwallRule(r, owner)).flatMap((r) => r.addressPrefixes));
}

const byName = (a: AccessRuleView, b: AccessRuleView): number => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0);

/**
 * Elements of the profile as the plan counts them: every inbound prefix, and every other element
 * of every rule (outbound ones included). Only this reading never overshoots (see facts.ts).
 */
export function elementsOf(rules: readonly AccessRuleView[]): number {
  return rules.reduce((n, r) => n + r.addressPrefixes.length + r.otherElements, 0);
}

export function profileState(resource: ResourceRef, listed: readonly AccessRuleView[], ownerId: string, maxElements: number): FirewallState {
  const owner = ownerOf(ownerId);
  const rules = [...listed].sort(byName);
  const foreign = foreignPrefixKeys(rules, owner);
  // Every inbound prefix counts against the limit, whoever's it is and whatever its family.
  const ipRules = rules.filter(inbound).flatMap((r) => r.addressPrefixes);
  // A prefix that someone else's rule holds too is theirs: tagwall must not remove it. tagwall
  // manages IPv4 only, so an IPv6 prefix someone put in tagwall's rule stays where it is.
  const ownedByName = rules
    .filter((r) => isTagwallRule(r, owner))
    .flatMap((r) =>
      r.addressPrefixes.filter((p) => {
        const rule = normaliseRule(p);
        return rule.cidr !== undefined && !foreign.has(rule.key);
      }),
    );
  // Outbound elements count too: Microsoft's limits page has given the 200 per profile both
  // as one figure and as one per direction, and only counting them never overshoots.
  const otherEntries = rules.reduce((n, r) => n + r.otherElements + (inbound(r) ? 0 : r.addressPrefixes.length), 0);
  const findings: KindFinding[] = [];
  const taken = rules.filter((r) => namedMine(r, owner) && !isTagwallRule(r, owner)).map((r) => r.name);
  if (taken.length > 0) {
    findings.push({
      severity: 'warning',
      code: 'NSP_RULE_NAME_TAKEN',
      message: `${taken.join(', ')} ${taken.length === 1 ? 'is named like one of tagwall\'s rules but is not one' : 'are named like tagwall\'s rules but are not'} (outbound, or holding more than address prefixes): left alone, and tagwall numbers its own rules around ${taken.length === 1 ? 'it' : 'them'}`,
      rules: taken,
    });
  }
  const legacy = rules.filter((r) => isLegacy(r, owner)).map((r) => r.name);
  // A rename puts the new rule before it deletes the old one, so it needs a free element.
  const room = maxElements - elementsOf(rules);
  if (legacy.length > 0 && room >= 1) {
    findings.push({
      severity: 'info',
      code: 'OWNER_MIGRATED',
      message: `${legacy.join(', ')} ${legacy.length === 1 ? 'was' : 'were'} written before owner IDs: this installation (owner ${owner.id}) takes ${legacy.length === 1 ? 'it' : 'them'} as its own and renames ${legacy.length === 1 ? 'it' : 'them'} tagwall-${owner.id}-<n> at this run's write`,
      rules: legacy,
      ownerId: owner.id,
    });
  } else if (legacy.length > 0) {
    findings.push({
      severity: 'warning',
      code: 'OWNER_MIGRATION_BLOCKED',
      message: `${legacy.join(', ')} ${legacy.length === 1 ? 'was' : 'were'} written before owner IDs and ${legacy.length === 1 ? 'is' : 'are'} this installation's (owner ${owner.id}), but the profile has no free element to rename ${legacy.length === 1 ? 'it' : 'them'} without first removing a prefix: ${legacy.length === 1 ? 'it keeps its name' : 'they keep their names'} until one is free (set reserveRules to 1 or more)`,
      rules: legacy,
      ownerId: owner.id,
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
    // The rename is a write even when the rules are already what the plan wants.
    ...(legacy.length > 0 && room >= 1 ? { rewrite: true } : {}),
    opaque: { rules } satisfies ProfileOpaque,
  };
}

/** One request of a write, in the order it must be made. */
export interface RuleStep {
  readonly op: 'put' | 'delete';
  readonly name: string;
  /** For a put: the rule's whole new list. */
  readonly addressPrefixes?: readonly string[];
}

/**
 * Renames this installation's legacy rules (tagwall-<n>) to tagwall-<owner>-<n>, content unchanged.
 * A name cannot change in ARM, so each rename is a new rule and a delete. The new rule is written
 * before the old one loses anything, so the profile never allows less; and since its prefixes are
 * held twice meanwhile, at most `room` of them move at a time (the old rule shrinking after each
 * step), so the profile never holds more elements than it takes. With no room, nothing is renamed:
 * the legacy rules stay, still this installation's.
 */
export function planMigration(rules: readonly AccessRuleView[], ownerId: string, room: number): { steps: RuleStep[]; after: AccessRuleView[] } {
  const owner = ownerOf(ownerId);
  const legacy = rules.filter((r) => isLegacy(r, owner)).sort((a, b) => numberOf(a.name) - numberOf(b.name));
  if (legacy.length === 0 || room < 1) return { steps: [], after: [...rules] };
  const names = new Set(rules.map((r) => r.name.toLowerCase()));
  const steps: RuleStep[] = [];
  const renamed = new Map<string, AccessRuleView>();
  const dropped = new Set<string>();
  for (const old of legacy) {
    const all = old.addressPrefixes;
    // An empty rule allows nothing: it just goes.
    if (all.length === 0) {
      steps.push({ op: 'delete', name: old.name });
      dropped.add(old.name.toLowerCase());
      continue;
    }
    let n = numberOf(old.name);
    for (let next = 1; names.has(ruleName(owner.id, n)); next++) n = next;
    const name = ruleName(owner.id, n);
    names.add(name);
    for (let moved = 0; moved < all.length; ) {
      moved = Math.min(all.length, moved + room);
      steps.push({ op: 'put', name, addressPrefixes: all.slice(0, moved) });
      steps.push(moved === all.length ? { op: 'delete', name: old.name } : { op: 'put', name: old.name, addressPrefixes: all.slice(moved) });
    }
    renamed.set(old.name.toLowerCase(), { ...old, name });
  }
  return { steps, after: rules.filter((r) => !dropped.has(r.name.toLowerCase())).map((r) => renamed.get(r.name.toLowerCase()) ?? r).sort(byName) };
}

const numberOf = (name: string): number => Number(/-([1-9][0-9]*)$/.exec(name)?.[1] ?? 0);

/** The requests that take tagwall's rules to a new content, in the order they must be made. */
export interface RuleWrites {
  readonly puts: readonly { readonly name: string; readonly addressPrefixes: readonly string[] }[];
  readonly deletes: readonly string[];
}

function sample(keys: readonly string[]): string {
  return `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}`;
}

/** The prefixes that belong in tagwall's rules: the new list minus what other rules hold. */
function tagwallPrefixes(resource: ResourceRef, rules: readonly AccessRuleView[], ipRules: readonly string[], owner: Owner): FirewallRule[] {
  const foreign = foreignPrefixKeys(rules, owner);
  const ours = keysOf(rules.filter((r) => isTagwallRule(r, owner)).flatMap((r) => r.addressPrefixes));
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
      `${resource.id}: the change would remove ${dropped.length} prefix${dropped.length === 1 ? '' : 'es'} that other access rules hold (${sample(dropped)}); tagwall changes only its own rules (tagwall-<owner>-<n>) in a perimeter profile, so use mode "merge" for it`,
      { values: { count: dropped.length, prefixes: dropped.slice(0, 20), notSent: true } },
    );
  }
  return [...next.values()].sort(compareRules);
}

/**
 * Spreads the prefixes over as few of this owner's rules as `perRule` allows, leaving each prefix
 * in the rule that already holds it where it can, so that a rule's PUT removes only what the plan
 * removes. The rules it already has are used first (a legacy tagwall-<n> that could not be renamed
 * yet among them); new ones are numbered tagwall-<owner>-<n> around names that are taken.
 */
export function planRuleWrites(resource: ResourceRef, rules: readonly AccessRuleView[], ipRules: readonly string[], perRule: number, ownerId: string): RuleWrites {
  const owner = ownerOf(ownerId);
  const wanted = tagwallPrefixes(resource, rules, ipRules, owner);
  const mine = rules.filter((r) => isTagwallRule(r, owner));
  const taken = new Set(rules.map((r) => r.name.toLowerCase()));
  const count = wanted.length === 0 ? 0 : Number.isFinite(perRule) ? Math.ceil(wanted.length / perRule) : 1;
  const legacyLast = (r: AccessRuleView): number => (LEGACY_RULE.test(r.name) ? 1 : 0);
  const names = [...mine]
    .sort((a, b) => legacyLast(a) - legacyLast(b) || numberOf(a.name) - numberOf(b.name))
    .map((r) => r.name.toLowerCase())
    .slice(0, count);
  for (let n = 1; names.length < count; n++) if (!taken.has(ruleName(owner.id, n))) names.push(ruleName(owner.id, n));

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
