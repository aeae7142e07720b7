import { normaliseRule, uniqueRules, type FirewallRule } from '../rules.js';
import type { AppliedRecord, TargetSettings } from './model.js';

/**
 * Who a rule belongs to. Key Vault rules have no place for an owner tag, so the record plays
 * the registry: tagwall owns what it wrote (or adopted on first contact) and saw there when it
 * last recorded the firewall. Everything else is a person's, whatever the service tags say
 * later: a rule a person made that tagwall also wants is *shared*, kept and never removed.
 */

export interface Ownership {
  /** The firewall's rules, one per key, in the order read. */
  readonly current: readonly FirewallRule[];
  /** Keys tagwall owns (some may be absent from the firewall: drift). */
  readonly owned: ReadonlySet<string>;
  /** First contact: no record yet. */
  readonly firstContact: boolean;
}

export function ownershipOf(ipRules: readonly string[], record: AppliedRecord | undefined, special: readonly string[] = [], ownedByName?: readonly string[]): Ownership {
  const all = ipRules.map(normaliseRule);
  const current = uniqueRules(all);
  // tagwall writes each rule once, so a rule the firewall holds twice (say `1.2.3.4` and
  // `1.2.3.4/32`) was also added by someone else, who wants it kept.
  const repeated = new Set<string>();
  if (all.length > current.length) {
    const seen = new Set<string>();
    for (const r of all) (seen.has(r.key) ? repeated : seen).add(r.key);
  }
  // A rule owned but not seen when the record was written had been removed already (a
  // concurrent edit the verify caught); if it is back, someone else put it there.
  const observed = new Set((record?.observedRules ?? []).map((r) => normaliseRule(r).key));
  const owned = new Set<string>();
  for (const r of record?.ownedRules ?? []) {
    const key = normaliseRule(r).key;
    if (observed.has(key) && !repeated.has(key)) owned.add(key);
  }
  // A write that was announced and never confirmed (its run died between the PATCH and the
  // record, or the write failed and nothing showed whether it landed). The write is one request,
  // so it landed only if the whole of it shows: every rule it added present, every rule it
  // removed gone. Then what it added is tagwall's, or no record would own it; part of it means
  // someone else's hand (a person adding one of its rules after a write that never landed), and
  // none of it is claimed.
  const present = new Set(current.map((r) => r.key));
  const intent = record?.intent;
  const landed = intent !== undefined && intent.add.every((r) => present.has(normaliseRule(r).key)) && intent.remove.every((r) => !present.has(normaliseRule(r).key));
  for (const r of landed ? intent.add : []) {
    const key = normaliseRule(r).key;
    if (!repeated.has(key) && !observed.has(key)) owned.add(key);
  }
  // A special entry is the firewall's own, whatever a record says.
  for (const key of special) owned.delete(key);
  if (ownedByName !== undefined) {
    // The firewall names which present rules are tagwall's itself: that is the whole truth for
    // them, and adoption would claim rules that live in someone else's entries.
    const named = new Set(ownedByName.map((r) => normaliseRule(r).key).filter((k) => !special.includes(k)));
    // What the record owned and is gone now was removed outside tagwall: still owned, so it is
    // drift (RULE_MISSING). Only absent rules: a present one is whoever's the names say.
    for (const key of owned) if (!present.has(key)) named.add(key);
    return { current, owned: named, firstContact: false };
  }
  // A record whose first write was never confirmed (its run died, or Azure refused it) is still
  // first contact: nothing has been taken over yet.
  return { current, owned, firstContact: record === undefined || (record.appliedAt === undefined && record.ownedRules.length === 0) };
}

/**
 * Rules that stay whatever is desired, and so are counted against the limit before the cover
 * is chosen: in add-only every rule present; in merge every rule tagwall does not own;
 * in authoritative none.
 */
export function keptRules(o: Ownership, s: TargetSettings): FirewallRule[] {
  if (s.policy === 'add-only') return [...o.current];
  // Entries special to the firewall (Cosmos DB's 0.0.0.0) stay in every mode.
  const special = new Set(s.special);
  if (s.mode === 'authoritative') return o.current.filter((r) => special.has(r.key));
  return o.current.filter((r) => !o.owned.has(r.key) || special.has(r.key));
}
