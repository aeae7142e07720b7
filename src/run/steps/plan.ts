import { planTarget, type AppliedRecord, type ObservedFirewall, type TargetPlan } from '../../core/target-plan.js';
import type { Attempt, TargetPass } from '../context.js';
import { ended } from '../report.js';

/** Planning: every decision is core/target-plan.ts's; this step only gives it the target's settings and allowlists. */

export function planFor({ target, ctx }: Attempt, firewall: ObservedFirewall, record: AppliedRecord | undefined): TargetPlan {
  return planTarget({
    firewall,
    record,
    settings: target,
    guards: target.guards,
    force: ctx.options.force,
    desiredFor: (budget, kept, o) => ctx.desiredFor(target, budget, kept, o?.unbounded === true, o?.keptRanges),
  });
}

/** A plan that may not be written ends the pass here. IP rules with no effect are not worth a refusal: nothing would be written either way. */
export function refusal({ target }: Attempt, plan: TargetPlan): TargetPass | undefined {
  if (plan.skip !== undefined) return ended(target, 'skipped', plan, { reasons: [plan.skip] });
  if (plan.refusals.length > 0) return ended(target, 'refused', plan);
  return undefined;
}
