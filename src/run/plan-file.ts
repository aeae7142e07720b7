import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import type { ReviewedPlan } from './context.js';
import type { RunReport } from './report.js';

/**
 * A reviewed plan as a file: data, not a program (the way external-dns writes its Changes). It is
 * what `sync --dry-run --out` saw and would write, per target with changes pending; `apply` writes
 * exactly that, target by target, or refuses (steps/reviewed.ts). Targets in step, refused or
 * failed in the dry run are not in it: `apply` leaves them alone.
 */

const key = z.string().min(1);
const planTarget = z.object({
  vault: z.string().min(1),
  kind: z.string().min(1),
  base: z.object({
    rules: z.array(key),
    posture: z.object({ defaultAction: z.string().optional(), bypass: z.string().optional(), publicNetworkAccess: z.string().optional() }).strict(),
  }),
  add: z.array(key),
  remove: z.array(key),
  nextRules: z.array(key),
  setDefaultActionDeny: z.boolean(),
});
export const planFileSchema = z.object({
  version: z.literal(1),
  createdAt: z.string().datetime({ offset: true }),
  runId: z.string().optional(),
  serviceTags: z.object({
    cloud: z.string().min(1),
    changeNumber: z.number().int(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    path: z.string().optional(),
    url: z.string().optional(),
  }),
  targets: z.array(planTarget),
});

export type PlanFile = z.infer<typeof planFileSchema>;

/** The plan file of a dry run made with `reviewable` (RunOptions). */
export function planFileOf(report: RunReport, createdAt: Date): PlanFile {
  const { cloud, changeNumber, sha256, path, url } = report.serviceTags;
  if (sha256 === undefined) throw new TagwallError('INTERNAL', 'a plan file needs a dry run made for one (reviewable)');
  return {
    version: 1,
    createdAt: createdAt.toISOString(),
    ...(report.runId === undefined ? {} : { runId: report.runId }),
    serviceTags: { cloud, changeNumber, sha256, ...(path === undefined ? {} : { path }), ...(url === undefined ? {} : { url }) },
    targets: report.vaults.flatMap((v) =>
      v.outcome !== 'pending' || v.reviewable === undefined
        ? []
        : [{ vault: v.vault, kind: v.kind ?? 'keyvault', base: { rules: [...v.reviewable.base.rules], posture: { ...v.reviewable.base.posture } }, add: [...v.add], remove: [...v.remove], nextRules: [...v.reviewable.nextRules], setDefaultActionDeny: v.reviewable.setDefaultActionDeny }],
    ),
  };
}

/** Reads a plan file's text; PLAN_INVALID when it is not one. */
export function parsePlanFile(text: string, source: string): PlanFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TagwallError('PLAN_INVALID', `${source} is not JSON: ${(e as Error).message}`);
  }
  const parsed = planFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new TagwallError('PLAN_INVALID', `${source} is not a tagwall plan (make one with \`tagwall sync --dry-run --out\`)`, {
      details: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    });
  }
  return parsed.data;
}

/** PLAN_EXPIRED when the plan was made more than `maxAgeMs` before `now` (or claims to be from the future beyond a minute's clock skew). */
export function checkPlanAge(plan: PlanFile, now: Date, maxAgeMs: number): void {
  const age = now.getTime() - Date.parse(plan.createdAt);
  if (age > maxAgeMs) {
    throw new TagwallError('PLAN_EXPIRED', `the plan was made at ${plan.createdAt}, ${Math.round(age / 60_000)} minutes ago, more than --max-age (${Math.round(maxAgeMs / 60_000)} minutes); make and review a new plan`);
  }
  if (age < -60_000) throw new TagwallError('PLAN_INVALID', `the plan's createdAt (${plan.createdAt}) is in the future`);
}

/** What the run holds the targets to. */
export function reviewedOf(plan: PlanFile): ReviewedPlan {
  return {
    serviceTags: { cloud: plan.serviceTags.cloud, changeNumber: plan.serviceTags.changeNumber, sha256: plan.serviceTags.sha256 },
    targets: new Map(plan.targets.map((t) => [t.vault.toLowerCase(), t])),
  };
}
