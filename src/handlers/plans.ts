import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { TagwallConfig } from '../config/config.js';
import { describeError, isTagwallError } from '../core/errors.js';
import type { TargetReport } from '../core/report.js';
import { checkPlanAge, planFileOf, reviewedOf } from '../run/plan-file.js';
import { appliedMessage, checkPlanId, PLAN_MAX_AGE_SETTING, planMaxAgeMs, PlanRepository, type LoadedPlan } from '../run/plan-store.js';
import { credentialFor, runSync, type RunReport, type Runtime } from '../run/run.js';
import { renderRunText } from '../run/text-report.js';
import { storesFor } from '../state/stores.js';
import { observeRun } from '../telemetry/observe.js';
import { configFor, configProblem, httpDeadline, httpRun, json, logSummary, narrowTo, runProblem, runtimeFor } from './common.js';

/**
 * Reviewed plans over HTTP: `GET /api/plan` is the dry run, stored as a plan (run/plan-store.ts)
 * whose `planId` it answers; `POST /api/sync {"apply": true, "planId"}` (manualSync, admin key)
 * applies exactly that plan.
 *
 * The apply is `tagwall apply`'s path: one run of the plan's targets alone with the plan as
 * `reviewed`, so each target is written only when its fresh plan is the reviewed one (PLAN_STALE,
 * PLAN_SOURCE_MISMATCH otherwise, before the intent: nothing written). It runs inside the request,
 * not through the shard queue: the shard worker has no reviewed plan to hold a target to, the
 * caller (a pipeline after its approval gate) needs the outcome of exactly what it approved, and a
 * plan holds only the targets with changes pending, each a read, a write and a read. The request's
 * deadline (httpDeadline, 200 s of the front end's 230) bounds it: a target not started by then is
 * skipped (DEADLINE), never half-written, and the answer says so; the rest need a new plan.
 */

export async function planAllowlists(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const prepared = await httpRun(context, request.query.get('vault'));
  if ('refused' in prepared) return prepared.refused;
  const { config, narrowed } = prepared;
  let maxAgeMs: number;
  try {
    maxAgeMs = planMaxAgeMs(process.env);
  } catch (e) {
    return configProblem(e);
  }
  try {
    const runtime = runtimeFor(context);
    const options = { dryRun: true, force: false, alerts: 'off' as const, reviewable: true, deadline: httpDeadline(), ...narrowed };
    const { report } = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: true, alerts: 'off' }, () => runSync(config, options, runtime));
    logSummary(context, report);
    const now = new Date();
    const plan = planFileOf(report, now);
    let planId: string;
    {
      await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
      planId = await new PlanRepository(stores.state).save(plan, now, maxAgeMs, runtime.logger);
    }
    const expiresAt = new Date(now.getTime() + maxAgeMs).toISOString();
    context.log(`tagwall.plan ${planId} stored targets=${plan.targets.length} expires=${expiresAt}`);
    if (request.query.get('format') === 'text') {
      const apply = `plan ${planId}: ${plan.targets.length} target(s) with changes, until ${expiresAt}; apply it with POST /api/sync {"apply": true, "planId": "${planId}"}`;
      return { status: 200, body: `${renderRunText(report)}\n\n${apply}\n`, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-tagwall-plan-id': planId } };
    }
    return json(200, { ...report, planId, expiresAt, plan }, { 'x-tagwall-plan-id': planId });
  } catch (e) {
    return runProblem(context, e);
  }
}

/** The answer to a request about a plan that writes nothing: `{"error": {"code", "message"}}`. */
function refuse(status: number, e: unknown): HttpResponseInit {
  const code = isTagwallError(e) ? e.code : 'INTERNAL';
  return json(status, { error: { code, message: describeError(e) } });
}

/** POST /api/sync `{"apply": true, "planId"}`: every check that can refuse comes before the claim, and the claim before any ARM request. */
export async function applyPlan(planIdParam: string, context: InvocationContext): Promise<HttpResponseInit> {
  let planId: string;
  try {
    planId = checkPlanId(planIdParam);
  } catch (e) {
    return refuse(400, e);
  }
  let config: TagwallConfig;
  let maxAgeMs: number;
  try {
    config = await configFor(context);
    maxAgeMs = planMaxAgeMs(process.env);
  } catch (e) {
    return configProblem(e);
  }
  const runtime = runtimeFor(context);
  let claimed: LoadedPlan;
  try {
    await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
    const plans = new PlanRepository(stores.state);
    const loaded = await plans.load(planId);
    if (loaded === undefined) return json(404, { error: { code: 'PLAN_NOT_FOUND', message: `no stored plan ${planId} (never made here, or deleted after its max age): make a new plan with GET /api/plan` } });
    const { plan } = loaded.stored;
    checkPlanAge(plan, new Date(), maxAgeMs);
    if (loaded.stored.applied !== undefined) return json(409, { error: { code: 'PLAN_APPLIED', message: appliedMessage(loaded.stored) } });
    // A target the configuration no longer names cannot be held to its plan: the plan is stale.
    const gone = plan.targets.find((t) => 'refused' in narrowTo(config, t.vault));
    if (gone !== undefined) return json(409, { error: { code: 'PLAN_STALE', message: `${gone.vault} is in the plan but no longer a configured target: make a new plan` } });
    claimed = await plans.claim(loaded, new Date());
  } catch (e) {
    // checkPlanAge speaks of the CLI's option; here the app setting sets the age.
    if (isTagwallError(e, 'PLAN_EXPIRED')) return json(410, { error: { code: e.code, message: e.message.replace('--max-age', PLAN_MAX_AGE_SETTING) } });
    if (isTagwallError(e, 'PLAN_APPLIED')) return refuse(409, e);
    if (isTagwallError(e, 'PLAN_INVALID')) return refuse(500, e);
    return runProblem(context, e);
  }

  const { plan } = claimed.stored;
  if (plan.targets.length === 0) {
    context.log(`tagwall.plan ${planId} applied: no changes in it`);
    return json(200, { planId, dryRun: false, vaults: [] });
  }
  let report: RunReport;
  try {
    const options = { dryRun: false, force: false, alerts: 'send' as const, deadline: httpDeadline(), vaults: plan.targets.map((t) => t.vault), reviewed: reviewedOf(plan) };
    ({ report } = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: false, alerts: 'send' }, () => runSync(config, options, runtime)));
  } catch (e) {
    // The plan stays claimed: the run may have written before it failed; a new plan says what is left.
    return runProblem(context, e);
  }
  logSummary(context, report);
  await recordRun(config, runtime, claimed, report, context);
  const bad = notApplied(report.vaults);
  context.log(`tagwall.plan ${planId} applied by run ${report.runId ?? '?'} targets=${report.vaults.length}${bad === undefined ? '' : ` not-applied=${bad.code}`}`);
  if (bad === undefined) return json(200, { ...report, planId });
  return json(bad.status, { ...report, planId, error: { code: bad.code, message: bad.message } });
}

/** The first target the apply did not write as planned, and the answer's status: 502 when Azure failed one, 409 when one was refused or skipped. */
function notApplied(vaults: readonly TargetReport[]): { status: number; code: string; message: string } | undefined {
  const failed = vaults.find((v) => v.outcome === 'failed');
  if (failed !== undefined) return { status: 502, code: failed.error?.code ?? 'INTERNAL', message: `${failed.vault}: ${failed.error?.message ?? 'failed'}` };
  const held = vaults.find((v) => v.outcome !== 'applied' && v.outcome !== 'in-sync');
  if (held === undefined) return undefined;
  const why = held.reasons[0];
  return { status: 409, code: why?.code ?? held.outcome.toUpperCase(), message: `${held.vault}: ${why?.message ?? held.outcome}` };
}

/** The run and its outcomes beside the claim; only a later reader's message depends on it, so a failure is logged. */
async function recordRun(config: TagwallConfig, runtime: Runtime, claimed: LoadedPlan, report: RunReport, context: InvocationContext): Promise<void> {
  const outcomes: Record<string, number> = {};
  for (const v of report.vaults) outcomes[v.outcome] = (outcomes[v.outcome] ?? 0) + 1;
  try {
    await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
    await new PlanRepository(stores.state).recordRun(claimed, report.runId, outcomes);
  } catch (e) {
    context.warn(`tagwall.plan ${claimed.stored.planId}: the applying run ${report.runId ?? ''} was not recorded with the plan: ${describeError(e)}`);
  }
}
