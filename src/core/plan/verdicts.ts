import type { AppliedRecord, Guards, Reason, TargetPlan } from './model.js';

/**
 * Every guard's verdict on one plan, for `tagwall plan` to show what `sync` would do with it.
 * The verdicts are read off the plan that planTarget made (its refusals, what --force overrode,
 * its findings), never judged again here: `plan` and `sync` cannot disagree.
 */

export type Verdict = 'pass' | 'refused' | 'forced' | 'warning';

export interface GuardVerdict {
  /** The code the guard refuses or warns with. */
  readonly code: string;
  /** The guards setting that bounds it (config `guards.<name>`, CLI `--<kebab-name>`); absent for a guard without one. */
  readonly guard?: keyof Guards;
  readonly verdict: Verdict;
  readonly message?: string;
  readonly [value: string]: string | number | boolean | readonly string[] | undefined;
}

/** The guards every plan goes through, in the order they are shown. */
const GUARDS: readonly { readonly code: string; readonly guard?: keyof Guards; readonly bound?: boolean }[] = [
  { code: 'EMPTY_SOURCE_GUARD' },
  { code: 'SOURCE_SHRINK_GUARD', guard: 'maxSourceShrinkFraction' },
  { code: 'REMOVAL_GUARD', guard: 'maxRemovedFraction' },
  { code: 'EXCESS_GUARD', guard: 'maxExcessAddresses' },
  // The widening bound refuses as COLLAPSE_INFEASIBLE carrying maxWidenedPrefix (vault-plan.ts).
  { code: 'COLLAPSE_INFEASIBLE', guard: 'maxWidenedPrefix', bound: true },
  { code: 'WIDE_RULE', guard: 'warnWidenedPrefix' },
];

function values(r: Reason | { readonly [k: string]: unknown }): Record<string, string | number | boolean | readonly string[]> {
  const { code: _c, severity: _s, ...rest } = r as Record<string, unknown>;
  return rest as Record<string, string | number | boolean | readonly string[]>;
}

export function guardVerdicts(plan: TargetPlan, guards: Guards, record?: AppliedRecord): GuardVerdict[] {
  const isBound = (r: Reason) => r.code === 'COLLAPSE_INFEASIBLE' && r.maxWidenedPrefix !== undefined;
  const matches = (g: (typeof GUARDS)[number], r: Reason) => (g.bound === true ? isBound(r) : r.code === g.code);
  const out: GuardVerdict[] = GUARDS.map((g) => {
    const base = { code: g.code, ...(g.guard === undefined ? {} : { guard: g.guard, limit: guards[g.guard] }) };
    const refused = plan.refusals.find((r) => matches(g, r));
    if (refused !== undefined) return { ...base, verdict: 'refused', ...values(refused) };
    const forced = plan.forced.find((r) => matches(g, r));
    if (forced !== undefined) return { ...base, verdict: 'forced', ...values(forced) };
    const finding = plan.findings.find((f) => f.code === g.code);
    if (finding !== undefined) return { ...base, verdict: 'warning', ...values(finding) };
    return { ...base, verdict: 'pass', ...passFigures(g.code, plan, record) };
  });
  // Anything else that stops the write (an exhausted budget, a first rule that would switch the
  // firewall on, no cover at all) is a refusal like the guards', and shown with them.
  const listed = (r: Reason) => GUARDS.some((g) => matches(g, r));
  for (const r of plan.refusals) if (!listed(r)) out.push({ code: r.code, verdict: 'refused', ...values(r) });
  return out;
}

/** The figures a passing guard was held against, so a reviewer sees how close it came. */
function passFigures(code: string, plan: TargetPlan, record: AppliedRecord | undefined): Record<string, number> {
  const stats = plan.desired?.stats;
  if (stats === undefined) return {};
  if (code === 'EMPTY_SOURCE_GUARD') return { rules: stats.rules };
  if (code === 'SOURCE_SHRINK_GUARD') return record === undefined ? {} : { before: record.sourceAddresses, after: stats.sourceAddresses };
  if (code === 'REMOVAL_GUARD') return { removed: plan.remove.length, current: plan.remove.length + plan.nextRules.length - plan.add.length };
  if (code === 'EXCESS_GUARD') return { excessAddresses: stats.excessAddresses };
  return {};
}
