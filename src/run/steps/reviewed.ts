import { createHash } from 'node:crypto';
import type { ReviewableTarget } from '../../core/report.js';
import type { ServiceTagDocument } from '../../core/service-tags.js';
import { normaliseRule } from '../../core/rules.js';
import type { ObservedFirewall, Posture, TargetPlan } from '../../core/target-plan.js';
import type { Attempt, TargetPass } from '../context.js';
import { ended, reason } from '../report.js';

/**
 * Reviewed plans (`sync --dry-run --out`, then `apply`). A dry run records each pending target's
 * base and write; `apply` plans every target afresh through the same pass and lets it write only
 * when the fresh plan is the reviewed one: the same base, the same adds and removals, the same rule
 * list. Then the write is exactly what a person approved, through the one write path (intent,
 * write, verify, record); anything else is refused before the intent, so nothing is written.
 */

/** A dry run's pending target, with what a reviewed plan needs when the run asked for it. */
export function pendingDryRun({ target, ctx }: Attempt, plan: TargetPlan, observed: ObservedFirewall): TargetPass {
  if (ctx.options.reviewable !== true) return ended(target, 'pending', plan);
  return ended(target, 'pending', plan, { reviewable: reviewableOf(plan, observed) });
}

export function reviewableOf(plan: TargetPlan, observed: ObservedFirewall): ReviewableTarget {
  return { base: baseOf(observed), nextRules: plan.nextRules, setDefaultActionDeny: plan.setDefaultActionDeny };
}

/** `apply`: refuses a target whose fresh plan is not the reviewed one. Undefined when it may be written (or no plan was reviewed). */
export function unreviewed({ target, ctx }: Attempt, plan: TargetPlan, observed: ObservedFirewall): TargetPass | undefined {
  const reviewed = ctx.options.reviewed;
  if (reviewed === undefined) return undefined;
  const refuse = (code: 'PLAN_STALE' | 'PLAN_SOURCE_MISMATCH', message: string) => ended(target, 'refused', plan, { reasons: [reason(code, message)] });
  const doc = documentIdentity(ctx.doc);
  const want = reviewed.serviceTags;
  if (doc.cloud !== want.cloud || doc.changeNumber !== want.changeNumber || doc.sha256 !== want.sha256) {
    return refuse('PLAN_SOURCE_MISMATCH', `the plan was made from ${want.cloud} service tags #${want.changeNumber} (sha256 ${want.sha256.slice(0, 12)}…); this run read ${doc.cloud} #${doc.changeNumber} (sha256 ${doc.sha256.slice(0, 12)}…)`);
  }
  const mine = reviewed.targets.get(target.resource.id.toLowerCase());
  if (mine === undefined) return refuse('PLAN_STALE', 'the reviewed plan has no changes for this target');
  const base = baseOf(observed);
  if (!sameList(base.rules, mine.base.rules)) return refuse('PLAN_STALE', `the target's rules changed since the plan was made (${differences(mine.base.rules, base.rules)})`);
  if (postureKey(base.posture) !== postureKey(mine.base.posture)) return refuse('PLAN_STALE', `the target's posture changed since the plan was made (${postureKey(mine.base.posture)} → ${postureKey(base.posture)})`);
  if (!plan.changes || !sameList(plan.add, mine.add) || !sameList(plan.remove, mine.remove) || !sameList(plan.nextRules, mine.nextRules) || plan.setDefaultActionDeny !== mine.setDefaultActionDeny) {
    // Same firewall, another write: the record (what tagwall owns) or the settings moved on.
    return refuse('PLAN_STALE', `tagwall would now write something else than was reviewed (+${plan.add.length} -${plan.remove.length}, reviewed +${mine.add.length} -${mine.remove.length}): its record or the target's settings changed`);
  }
  return undefined;
}

/** The firewall as read, as a reviewed plan keeps it: rules as normalised keys, sorted; the posture's set fields. */
function baseOf(observed: ObservedFirewall): ReviewableTarget['base'] {
  const rules = [...new Set(observed.ipRules.map((r) => normaliseRule(r).key))].sort();
  const p = observed.posture;
  const posture: Posture = {
    ...(p.defaultAction === undefined ? {} : { defaultAction: p.defaultAction }),
    ...(p.bypass === undefined ? {} : { bypass: p.bypass }),
    ...(p.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: p.publicNetworkAccess }),
  };
  return { rules, posture };
}

function postureKey(p: Posture): string {
  return JSON.stringify([p.defaultAction ?? null, p.bypass ?? null, p.publicNetworkAccess ?? null]);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

function differences(before: readonly string[], now: readonly string[]): string {
  const was = new Set(before);
  const is = new Set(now);
  const added = now.filter((r) => !was.has(r));
  const gone = before.filter((r) => !is.has(r));
  return [...added.map((r) => `+${r}`), ...gone.map((r) => `-${r}`)].slice(0, 5).join(' ') + (added.length + gone.length > 5 ? ' …' : '');
}

const identities = new WeakMap<ServiceTagDocument, { cloud: string; changeNumber: number; sha256: string }>();

/**
 * What identifies a service-tags document: its cloud, changeNumber and a sha256 of its content
 * (every tag's name and prefixes), so a file edited without a new changeNumber is another file.
 */
export function documentIdentity(doc: ServiceTagDocument): { cloud: string; changeNumber: number; sha256: string } {
  let id = identities.get(doc);
  if (id === undefined) {
    const hash = createHash('sha256').update(`${doc.cloud}\n${doc.changeNumber}\n`);
    for (const tag of doc.tags) hash.update(JSON.stringify(tag)).update('\n');
    id = { cloud: doc.cloud, changeNumber: doc.changeNumber, sha256: hash.digest('hex') };
    identities.set(doc, id);
  }
  return id;
}
