import type { Allowlist } from './allowlist.js';
import { isTagwallError } from './errors.js';
import type { Cidr } from './ipv4.js';
import { driftSince } from './plan/drift.js';
import { guardHits } from './plan/guards.js';
import type { Finding, Reason, VaultPlan, VaultPlanInput } from './plan/model.js';
import { keptRules, ownershipOf } from './plan/ownership.js';
import { postureFindings } from './plan/posture.js';
import { compareRules, normaliseRule, ruleKey, ruleToWrite } from './rules.js';

export type * from './plan/model.js';
export { postureFindings } from './plan/posture.js';

/**
 * The plan for one firewall: pure, from what was read (rules, posture, the last record) and
 * what is wanted (the allowlist), to what to add, remove and keep, plus findings, drift and
 * guard verdicts. The reconciler does the I/O around it; a dry run just prints this.
 *
 * The budget is exact: the rules that stay whatever is desired (a person's rules in merge
 * mode) are counted first, and the collapse is told which of them it may use for free, so
 * the cover it picks is the least excess that fits the limit beside them.
 */
export function planVault(input: VaultPlanInput): VaultPlan {
  const s = input.settings;
  const ownership = ownershipOf(input.firewall.ipRules, input.record);
  const { current, owned } = ownership;
  const currentKeys = new Set(current.map((r) => r.key));
  const posture = postureFindings(input.firewall, s);
  const findings: Finding[] = [...posture.findings];
  const drift = driftSince(input.record, current, input.firewall.posture, owned);
  const limit = s.maxRules - s.reserveRules;

  const kept = keptRules(ownership, s);
  const budget = limit - kept.length;
  const refusals: Reason[] = [];
  let desired: Allowlist | undefined;
  if (budget < 0) {
    refusals.push({
      code: 'BUDGET_EXHAUSTED',
      message: `no room for managed rules: ${kept.length} rules tagwall must keep exceed the ${limit} allowed (maxRules ${s.maxRules} - reserveRules ${s.reserveRules})`,
      keptRules: kept.length,
      limit,
    });
  } else {
    try {
      desired = input.desiredFor(budget, kept.flatMap((r): Cidr[] => (r.cidr === undefined ? [] : [r.cidr])));
    } catch (e) {
      if (!isTagwallError(e, 'COLLAPSE_INFEASIBLE')) throw e;
      // In the target's own terms: the maxRules that would fit, with the kept rules and the reserve.
      const neededRules = Number(e.values.neededRules) + kept.length + s.reserveRules;
      refusals.push({
        code: 'COLLAPSE_INFEASIBLE',
        message: `no cover fits beside the ${kept.length} rules kept in ${limit} rules without touching forbidden or excluded space; the smallest maxRules that works is ${neededRules}`,
        neededRules,
        budget,
        keptRules: kept.length,
      });
    }
  }

  const desiredKeys = new Set((desired?.rules ?? []).map(ruleKey));
  const add = desired === undefined ? [] : desired.rules.filter((c) => !currentKeys.has(ruleKey(c)));
  const removable = (key: string) => !desiredKeys.has(key) && (s.mode === 'authoritative' || owned.has(key));
  const remove = desired === undefined || s.policy === 'add-only' ? [] : current.filter((r) => removable(r.key));
  const removeKeys = new Set(remove.map((r) => r.key));
  const stay = current.filter((r) => !removeKeys.has(r.key));
  const adopting = ownership.firstContact && s.adopt === 'first-run';
  const wantedNotOwned = stay.filter((r) => desiredKeys.has(r.key) && !owned.has(r.key)).map((r) => r.key);
  const adopted = adopting ? wantedNotOwned : [];
  const shared = adopting ? [] : wantedNotOwned;
  const unmanaged = stay.filter((r) => !desiredKeys.has(r.key) && !owned.has(r.key)).map((r) => r.key);
  if (adopted.length > 0) {
    findings.push({
      severity: 'info',
      code: 'ADOPTED_RULES',
      message: `${adopted.length} rule${adopted.length === 1 ? '' : 's'} already in the vault on first contact ${adopted.length === 1 ? 'is' : 'are'} wanted by the selection and now tagwall's (adopt: first-run): ${adopted.slice(0, 5).join(', ')}${adopted.length > 5 ? ', ...' : ''}`,
      rules: adopted,
      count: adopted.length,
    });
  }
  // Only what tagwall adds, adopts or already owned is tagwall's after the write; stale owned
  // rules that add-only keeps stay owned, so a later sync may still remove them.
  const nextOwned = [...new Set([...add.map(ruleKey), ...adopted, ...stay.filter((r) => owned.has(r.key)).map((r) => r.key)])];
  const next = [...stay, ...add.map((c) => normaliseRule(ruleToWrite(c)))].sort(compareRules);
  const nextRules = next.map((r) => (r.cidr === undefined ? r.value : ruleToWrite(r.cidr)));

  const hits = desired === undefined ? [] : guardHits(desired, input.record, remove.length, current.length, input.guards);
  const forced = input.force ? hits : [];
  if (!input.force) refusals.push(...hits);

  const setDeny = posture.setDeny;
  return {
    add: add.map(ruleKey),
    remove: remove.map((r) => r.key),
    unmanaged,
    shared,
    adopted,
    nextRules,
    nextOwned,
    setDefaultActionDeny: setDeny,
    changes: add.length > 0 || remove.length > 0 || setDeny,
    refusals,
    forced,
    ...(posture.skip === undefined ? {} : { skip: posture.skip }),
    findings,
    drift,
    rules: { managed: next.length - unmanaged.length - shared.length, unmanaged: unmanaged.length, shared: shared.length, limit: s.maxRules },
    budget: Math.max(budget, 0),
    desired,
  };
}
