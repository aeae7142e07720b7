import type { Allowlist } from './allowlist.js';
import { isTagwallError, TagwallError } from './errors.js';
import { compareRules, normaliseRule, ruleKey, ruleToWrite, uniqueRules, type FirewallRule } from './rules.js';

/**
 * The plan for one vault: pure, from what was read (firewall, last applied record) and what
 * is wanted (the allowlist), to what to add, remove and keep, plus findings, drift and guard
 * verdicts. The reconciler does the I/O around it; a dry run just prints this.
 *
 * Ownership works like a DNS controller's registry: Key Vault rules have no place for an owner
 * tag, so the state store remembers which rules tagwall put there, and in merge mode only those
 * are ever removed.
 */

export type OwnershipMode = 'merge' | 'authoritative';
export type ChangePolicy = 'sync' | 'add-only';

export interface TargetSettings {
  readonly maxRules: number;
  readonly reserveRules: number;
  readonly mode: OwnershipMode;
  readonly policy: ChangePolicy;
  readonly split31: boolean;
  readonly enforceDeny: boolean;
  readonly expectBypass?: string;
}

export interface Guards {
  readonly maxRemovedFraction: number;
  readonly maxSourceShrinkFraction: number;
  readonly maxExcessAddresses: number;
}

export interface Posture {
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
}

/** What the state store remembers after a successful apply. */
export interface AppliedRecord {
  readonly ownedRules: readonly string[];
  readonly observedRules: readonly string[];
  readonly posture: Posture;
  readonly changeNumber: number;
  readonly sourceAddresses: number;
  readonly appliedAt: string;
}

export interface ObservedFirewall {
  readonly ipRules: readonly string[];
  readonly virtualNetworkRuleCount: number;
  readonly posture: Posture;
}

export type Severity = 'critical' | 'warning' | 'info';

export interface Finding {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
}

export interface Drift {
  readonly kind: 'missing' | 'added' | 'posture';
  readonly rule?: string;
  readonly detail: string;
}

export interface VaultPlanInput {
  readonly firewall: ObservedFirewall;
  /** Undefined on a first run, or when the record could not be read (see `recordProblem`). */
  readonly record: AppliedRecord | undefined;
  readonly recordProblem?: string;
  readonly settings: TargetSettings;
  readonly guards: Guards;
  readonly force: boolean;
  /** The allowlist for a given rule budget; may throw COLLAPSE_INFEASIBLE. Memoised by the caller. */
  readonly desiredFor: (budget: number) => Allowlist;
}

export interface VaultPlan {
  /** Normalised keys (`a.b.c.d/n`). */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly unmanaged: readonly string[];
  readonly adopted: readonly string[];
  /** The full rule list to write, in the written form. */
  readonly nextRules: readonly string[];
  /** What tagwall owns once the plan is applied. */
  readonly nextOwned: readonly string[];
  readonly setDefaultActionDeny: boolean;
  readonly changes: boolean;
  /** Why the write must not happen: guards (unless forced) or an impossible budget. */
  readonly refusals: readonly string[];
  /** Guards that fired but were overridden by --force. */
  readonly forced: readonly string[];
  /** Set when IP rules would have no effect, so there is nothing worth writing. */
  readonly skipReason?: string;
  readonly findings: readonly Finding[];
  readonly drift: readonly Drift[];
  readonly rules: { readonly managed: number; readonly unmanaged: number; readonly limit: number };
  readonly budget: number;
  readonly desired: Allowlist | undefined;
}

const VNET_LIMIT = 200;
/** Most budgets chooseDesired tries on one walk; see there. */
const WALK_STEPS = 16;

function keysOf(rules: readonly FirewallRule[]): Set<string> {
  return new Set(rules.map((r) => r.key));
}

/** Rules that stay whatever is desired: unmanaged ones, and in add-only mode everything present. */
function keptRules(current: readonly FirewallRule[], owned: ReadonlySet<string>, desired: ReadonlySet<string>, s: TargetSettings): FirewallRule[] {
  return current.filter((r) => {
    if (desired.has(r.key)) return false;
    if (s.policy === 'add-only') return true;
    return s.mode === 'merge' && !owned.has(r.key);
  });
}

export function postureFindings(firewall: ObservedFirewall, settings: TargetSettings): { findings: Finding[]; setDeny: boolean; skipReason?: string } {
  const findings: Finding[] = [];
  let setDeny = false;
  let skipReason: string | undefined;
  const p = firewall.posture;
  if (p.publicNetworkAccess?.toLowerCase() === 'disabled') {
    skipReason = 'public network access is disabled, so IP rules are not honoured; only private endpoints get in';
    findings.push({ severity: 'info', code: 'PUBLIC_ACCESS_DISABLED', message: `${skipReason}; no write` });
  } else if ((p.defaultAction ?? 'Allow').toLowerCase() !== 'deny') {
    setDeny = settings.enforceDeny;
    findings.push({
      severity: 'critical',
      code: 'FIREWALL_DISABLED',
      message: settings.enforceDeny
        ? 'the firewall is off (defaultAction Allow): every network can reach the vault; tagwall sets defaultAction to Deny (enforceDeny)'
        : 'the firewall is off (defaultAction Allow): every network can reach the vault and IP rules do nothing; set enforceDeny on the target to let tagwall turn it on',
    });
  }
  if (settings.expectBypass !== undefined && (p.bypass ?? '').toLowerCase() !== settings.expectBypass.toLowerCase()) {
    findings.push({ severity: 'warning', code: 'BYPASS_MISMATCH', message: `bypass is ${JSON.stringify(p.bypass ?? 'unset')}, expected ${JSON.stringify(settings.expectBypass)}` });
  }
  if (firewall.virtualNetworkRuleCount > 0) {
    findings.push({
      severity: firewall.virtualNetworkRuleCount > VNET_LIMIT ? 'warning' : 'info',
      code: 'VNET_RULES',
      message: `${firewall.virtualNetworkRuleCount} virtual-network rule${firewall.virtualNetworkRuleCount === 1 ? '' : 's'} preserved (limit ${VNET_LIMIT})`,
    });
  }
  return { findings, setDeny, ...(skipReason === undefined ? {} : { skipReason }) };
}

export function driftSince(record: AppliedRecord | undefined, current: readonly FirewallRule[], posture: Posture): Drift[] {
  if (record === undefined) return [];
  const drift: Drift[] = [];
  const now = keysOf(current);
  const observed = new Set(record.observedRules.map((r) => normaliseRule(r).key));
  for (const r of record.ownedRules) {
    const key = normaliseRule(r).key;
    if (!now.has(key)) drift.push({ kind: 'missing', rule: key, detail: `owned rule ${key} was removed outside tagwall` });
  }
  for (const r of current) {
    if (!observed.has(r.key)) drift.push({ kind: 'added', rule: r.key, detail: `rule ${r.key} was added outside tagwall` });
  }
  for (const field of ['defaultAction', 'bypass', 'publicNetworkAccess'] as const) {
    const before = record.posture[field];
    const after = posture[field];
    // A field that appears (or disappears) is a change too: bypass going from unset to None matters.
    if ((before ?? '').toLowerCase() !== (after ?? '').toLowerCase()) {
      drift.push({ kind: 'posture', detail: `${field} changed from ${before ?? 'unset'} to ${after ?? 'unset'}` });
    }
  }
  return drift;
}

/**
 * A budget whose allowlist, together with the rules that must stay, fits the vault; the bigger
 * the better, since the excess never grows with the budget. Assuming every rule that could stay
 * does stay is always safe; rules that the allowlist itself contains are adopted instead of kept,
 * and the room that frees is worth more tries. Whether an allowlist fits does not grow or shrink
 * steadily with the budget, so the search is not exhaustive (that would cost a collapse per budget).
 */
function chooseDesired(
  current: readonly FirewallRule[],
  owned: ReadonlySet<string>,
  s: TargetSettings,
  limit: number,
  desiredFor: (budget: number) => Allowlist,
): { desired: Allowlist; budget: number } {
  const keptWith = (a: Allowlist | undefined) => keptRules(current, owned, new Set((a?.rules ?? []).map(ruleKey)), s).length;
  const safe = limit - keptWith(undefined);
  if (safe === limit) return { desired: desiredFor(safe), budget: safe };
  // Neither no room nor no cover within the safe budget is the last word: desired rules already
  // in the vault are adopted rather than kept, so a bigger budget may still fit.
  const attempt = (b: number): Allowlist | undefined => {
    if (b < 1) return undefined;
    try {
      return desiredFor(b);
    } catch (e) {
      if (isTagwallError(e) && e.code === 'COLLAPSE_INFEASIBLE') return undefined;
      throw e;
    }
  };
  const fits = (a: Allowlist) => a.rules.length + keptWith(a) <= limit;
  const safeDesired = attempt(safe);
  // Walk down from a budget to above `floor`: an allowlist that does not fit shows how many of its
  // rules are already in the vault, and the room adopting them would free is the next budget to
  // try. A misfit has more new rules than the safe budget allows, so each step is strictly smaller;
  // the cap bounds the collapses a pathological vault can cost.
  const walk = (from: number, floor: number): { desired: Allowlist; budget: number } | undefined => {
    for (let b = from, steps = 0; b > floor && steps < WALK_STEPS; steps++) {
      const a = attempt(b);
      // No cover within b means none within any smaller budget either.
      if (a === undefined) return undefined;
      if (fits(a)) return { desired: a, budget: b };
      b = Math.min(b - 1, limit - keptWith(a));
    }
    return undefined;
  };
  // From the full limit, then from what the safe allowlist would adopt, if that starts higher than
  // anything found: the excess never grows with the budget, so the bigger budget that fits wins.
  const fromLimit = walk(limit, safe);
  const fromSafe = safeDesired === undefined ? undefined : walk(limit - keptWith(safeDesired), fromLimit?.budget ?? safe);
  const best = fromSafe ?? fromLimit;
  if (best !== undefined) return best;
  if (safeDesired !== undefined) return { desired: safeDesired, budget: safe };
  if (safe < 1) {
    throw new TagwallError('BUDGET_EXHAUSTED', `no room for managed rules: ${limit - safe} rules tagwall must keep already use the ${limit} allowed (maxRules ${s.maxRules} - reserveRules ${s.reserveRules})`);
  }
  // Nothing fits: let the collapse say why, naming the smallest budget that works.
  return { desired: desiredFor(safe), budget: safe };
}

export function planVault(input: VaultPlanInput): VaultPlan {
  // Without a readable record nothing is known to be tagwall's, and authoritative mode must not
  // take that as licence to remove everything: plan as merge, where owning nothing removes nothing.
  const s: TargetSettings = input.recordProblem === undefined ? input.settings : { ...input.settings, mode: 'merge' };
  const all = input.firewall.ipRules.map(normaliseRule);
  const current = uniqueRules(all);
  const currentKeys = keysOf(current);
  // tagwall writes each rule once, so a rule the vault holds twice (say `1.2.3.4` and `1.2.3.4/32`)
  // was also added by someone else, who wants it kept.
  const repeated = new Set<string>();
  if (all.length > current.length) {
    const seen = new Set<string>();
    for (const r of all) (seen.has(r.key) ? repeated : seen).add(r.key);
  }
  // A rule owned but not seen in the vault when the record was written had been removed already
  // (a concurrent edit the verify caught); if it is back, someone else put it there.
  const observed = new Set((input.record?.observedRules ?? []).map((r) => normaliseRule(r).key));
  const owned = new Set((input.record?.ownedRules ?? []).map((r) => normaliseRule(r).key).filter((k) => observed.has(k) && !repeated.has(k)));
  const posture = postureFindings(input.firewall, s);
  const findings: Finding[] = [...posture.findings];
  if (input.recordProblem !== undefined) {
    findings.push({ severity: 'warning', code: 'STATE_UNREADABLE', message: `${input.recordProblem}; every rule is treated as unmanaged, so nothing is removed` });
  }
  const drift = driftSince(input.record, current, input.firewall.posture);
  const limit = s.maxRules - s.reserveRules;

  const refusals: string[] = [];
  let desired: Allowlist | undefined;
  let budget = limit - keptRules(current, owned, new Set(), s).length;
  try {
    ({ desired, budget } = chooseDesired(current, owned, s, limit, input.desiredFor));
  } catch (e) {
    if (!isTagwallError(e) || (e.code !== 'COLLAPSE_INFEASIBLE' && e.code !== 'BUDGET_EXHAUSTED')) throw e;
    refusals.push(e.code === 'BUDGET_EXHAUSTED' ? e.message : `${e.message} (budget for this vault: ${budget})`);
  }

  const desiredKeys = new Set((desired?.rules ?? []).map(ruleKey));
  const add = desired === undefined ? [] : desired.rules.filter((c) => !currentKeys.has(ruleKey(c)));
  const removable = (r: FirewallRule) => !desiredKeys.has(r.key) && (s.mode === 'authoritative' || owned.has(r.key));
  const remove = desired === undefined || s.policy === 'add-only' ? [] : current.filter(removable);
  const removeKeys = keysOf(remove);
  const stay = current.filter((r) => !removeKeys.has(r.key));
  const adopted = current.filter((r) => desiredKeys.has(r.key) && !owned.has(r.key)).map((r) => r.key);
  const unmanaged = stay.filter((r) => !desiredKeys.has(r.key) && !owned.has(r.key)).map((r) => r.key);
  // Stale owned rules that add-only keeps stay owned, so a later sync may still remove them.
  const nextOwned = [...new Set([...desiredKeys, ...stay.filter((r) => owned.has(r.key)).map((r) => r.key)])];
  const next = [...stay, ...add.map((c) => normaliseRule(ruleToWrite(c)))].sort(compareRules);
  const nextRules = next.map((r) => (r.cidr === undefined ? r.value : ruleToWrite(r.cidr)));

  // Guards: refuse writes that look like a broken source rather than a real change.
  const guardHits: string[] = [];
  if (desired !== undefined) {
    if (desired.rules.length === 0) guardHits.push('the desired allowlist is empty; refusing to strip the vault');
    const before = input.record?.sourceAddresses;
    if (before !== undefined && before > 0 && desired.stats.sourceAddresses < before * (1 - input.guards.maxSourceShrinkFraction)) {
      const shrink = 1 - desired.stats.sourceAddresses / before;
      guardHits.push(`the source shrank by ${(shrink * 100).toFixed(1)}% since the last apply (${before} → ${desired.stats.sourceAddresses} addresses; limit ${(input.guards.maxSourceShrinkFraction * 100).toFixed(0)}%)`);
    }
    if (current.length > 0 && remove.length / current.length > input.guards.maxRemovedFraction) {
      guardHits.push(`the plan removes ${remove.length} of ${current.length} rules (${((100 * remove.length) / current.length).toFixed(1)}%; limit ${(input.guards.maxRemovedFraction * 100).toFixed(0)}%)`);
    }
    if (desired.stats.excessAddresses > input.guards.maxExcessAddresses) {
      guardHits.push(`the collapse admits ${desired.stats.excessAddresses} addresses beyond the source (limit ${input.guards.maxExcessAddresses})`);
    }
  }
  const forced = input.force ? guardHits : [];
  if (!input.force) refusals.push(...guardHits);

  const setDeny = posture.setDeny;
  const changes = add.length > 0 || remove.length > 0 || setDeny;
  return {
    add: add.map(ruleKey),
    remove: remove.map((r) => r.key),
    unmanaged,
    adopted,
    nextRules,
    nextOwned,
    setDefaultActionDeny: setDeny,
    changes,
    refusals,
    forced,
    ...(posture.skipReason === undefined ? {} : { skipReason: posture.skipReason }),
    findings,
    drift,
    rules: { managed: next.length - unmanaged.length, unmanaged: unmanaged.length, limit: s.maxRules },
    budget,
    desired,
  };
}
