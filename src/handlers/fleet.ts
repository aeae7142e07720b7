import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import { dispatchAlerts } from '../alerts/dispatch.js';
import { shardFailedAlert } from '../alerts/policy.js';
import { resolveWebhookConfig, type WebhookConfig } from '../alerts/webhook.js';
import type { TagwallConfig } from '../config/config.js';
import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import type { ShardMessage, ShardSink } from '../fleet/model.js';
import { createShardQueue, parseShardMessage, SHARD_QUEUE } from '../fleet/queue.js';
import { runShard as realRunShard, startFleetRun as realStartFleetRun } from '../run/shards.js';
import { credentialFor, hasFailures, type Runtime } from '../run/run.js';
import { AlertStateRepository } from '../state/records.js';
import { checkRunId, RunRepository, type RunStatus } from '../state/runs.js';
import { createStateStore, storesFor } from '../state/stores.js';
import { observeRun, recordShard, withTelemetry } from '../telemetry/observe.js';
import { configFor, configProblem, dryRunOverHttp, hostDeadline, httpDeadline, httpRun, json, logSummary, runProblem, runtimeFor } from './common.js';
import type { ShardResult } from '../state/run-records.js';
import { applyPlan } from './plans.js';

/**
 * The fleet's handlers: the timer and manual apply start a run and enqueue its shards, a queue
 * worker reconciles each shard, the poison-queue worker records the shards the host gave up on,
 * and GET /api/runs/{runId} tells how a run is going. Built by fleetHandlers() so tests can put
 * fakes in place of the run itself; the exports below use the real one.
 */

export interface FleetDeps {
  readonly runShard: typeof realRunShard;
  readonly startFleetRun: typeof realStartFleetRun;
}

export function fleetHandlers(deps: FleetDeps = { runShard: realRunShard, startFleetRun: realStartFleetRun }) {
  /**
   * The sink and the run records a run is started with. The queue is only built when a shard is
   * sent, so a run done inline needs no queue endpoint; the store is not opened here, so a store
   * outage is the run's to report (state-unavailable).
   */
  const startDeps = (config: TagwallConfig, runtime: Runtime): { sink: ShardSink; runs: RunRepository } => {
    let queue: ShardSink | undefined;
    return {
      sink: {
        async send(messages) {
          queue ??= createShardQueue({ env: runtime.env, connectionSetting: 'AzureWebJobsStorage', queueName: SHARD_QUEUE });
          await queue.send(messages);
        },
      },
      runs: new RunRepository(createStateStore(config.state, runtime.env, credentialFor(config, runtime))),
    };
  };

  /** Timer: the scheduled sync. Fails the invocation when any vault it did inline failed or was refused, so Functions' failure metrics see it. */
  async function syncAllowlists(_timer: Timer, context: InvocationContext): Promise<void> {
    const config = await configFor(context);
    const runtime = runtimeFor(context);
    const started = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: false, alerts: 'send' }, () => deps.startFleetRun(config, { dryRun: false, force: false, alerts: 'send', deadline: hostDeadline(), fanOut: 'auto' }, runtime, startDeps(config, runtime)));
    logSummary(context, started.report);
    context.log(`tagwall.run ${started.runId} started shards=${started.enqueued.shards} enqueued=${started.enqueued.vaults}`);
    if (hasFailures(started.report)) {
      const bad = started.report.vaults.filter((v) => v.outcome === 'failed' || v.outcome === 'refused');
      throw new TagwallError('SYNC_FAILED', `${bad.length} of ${started.report.vaults.length} targets failed or were refused: ${bad.map((v) => v.vault).join(', ')}`);
    }
  }

  /**
   * HTTP POST /api/sync (admin key): applies only with an explicit `{"apply": true}`, and then
   * answers 202 once the shards are enqueued, because the HTTP front end cuts a request at about
   * 230 s; GET the status URL to follow the run. `{"apply": true, "planId"}` applies a stored
   * plan (plans.ts). Anything else is the synchronous dry run.
   */
  async function manualSync(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    let body: unknown = {};
    const text = await request.text();
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return json(400, { error: { code: 'BAD_REQUEST', message: 'the body must be JSON, e.g. {"apply": true}' } });
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return json(400, { error: { code: 'BAD_REQUEST', message: 'the body must be a JSON object, e.g. {"apply": true}' } });
    const b = body as { apply?: unknown; force?: unknown; vault?: unknown; planId?: unknown };
    if (b.planId !== undefined) return reviewedApply(b, context);
    const unknownKeys = Object.keys(b).filter((k) => !['apply', 'force', 'vault'].includes(k));
    if (unknownKeys.length > 0 || (b.apply !== undefined && typeof b.apply !== 'boolean') || (b.force !== undefined && typeof b.force !== 'boolean') || (b.vault !== undefined && typeof b.vault !== 'string')) {
      return json(400, { error: { code: 'BAD_REQUEST', message: 'accepted body: {"apply": boolean, "force"?: boolean, "vault"?: "<resource id>"}' } });
    }
    const vaultParam = typeof b.vault === 'string' ? b.vault : request.query.get('vault');
    if (b.apply !== true) return dryRunOverHttp(request, context, { dryRun: true, force: false, alerts: 'off' }, vaultParam);

    const prepared = await httpRun(context, vaultParam);
    if ('refused' in prepared) return prepared.refused;
    const { config, narrowed } = prepared;
    try {
      const runtime = runtimeFor(context);
      const options = { dryRun: false, force: b.force === true, alerts: 'send' as const, deadline: httpDeadline(), fanOut: 'queue' as const, ...narrowed };
      const { runId, report, enqueued } = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: false, alerts: 'send' }, () => deps.startFleetRun(config, options, runtime, startDeps(config, runtime)));
      logSummary(context, report);
      const status = `/api/runs/${runId}`;
      context.log(`tagwall.run ${runId} started shards=${enqueued.shards} enqueued=${enqueued.vaults}`);
      return json(202, { runId, status, shards: enqueued.shards, vaults: enqueued.vaults }, { location: status });
    } catch (e) {
      return runProblem(context, e);
    }
  }

  /** Queue: one shard. A vault's failure is in the result; a shard that could not run at all throws, so the host retries it. */
  async function reconcileShard(message: unknown, context: InvocationContext): Promise<void> {
    const shard = parsed(message, context);
    const config = await configFor(context);
    const runtime = runtimeFor(context);
    await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
    const runs = new RunRepository(stores.state);
    // A redelivery of a shard that finished (the worker died before the host deleted the message)
    // does no ARM work again; only the closing line may still be owed.
    const before = await runs.loadShardResult(shard.runId, shard.shard);
    if (before?.state === 'done') {
      logShard(context, before, false);
      await closeIfLast(runs, shard.runId, context);
      return;
    }
    const observed: Runtime = { ...runtime, onShardReport: (report) => recordShard(report, runtime.logger) };
    const result = await withTelemetry(runtime.env, runtime.logger, () => deps.runShard(config, shard, observed, { deadline: hostDeadline() }));
    if (result.runId.toLowerCase() !== shard.runId.toLowerCase() || result.shard !== shard.shard) {
      throw new TagwallError('INTERNAL', `runShard answered for shard ${result.shard} of run ${result.runId} when asked for shard ${shard.shard} of run ${shard.runId}`);
    }
    const { saved, stored } = await runs.saveShardResult(result);
    logShard(context, stored, saved);
    await closeIfLast(runs, shard.runId, context);
  }

  /**
   * Poison queue: a shard the host gave up on after maxDequeueCount deliveries. Its vaults are
   * recorded as failed (SHARD_FAILED) unless the shard finished after all, and someone is paged.
   */
  async function reconcileShardPoison(message: unknown, context: InvocationContext): Promise<void> {
    let shard: ShardMessage;
    try {
      shard = parseShardMessage(message);
    } catch (e) {
      // Retrying cannot make it valid; the reconcileShard invocations already logged why.
      context.error(`tagwall.shard poison message dropped: ${describeError(e)}`);
      return;
    }
    const config = await configFor(context);
    const runtime = runtimeFor(context);
    const now = (runtime.now ?? (() => new Date()))();
    await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
    const runs = new RunRepository(stores.state);
    const why = `the host gave up on shard ${shard.shard} of run ${shard.runId} after its maximum number of deliveries`;
    const poisoned: ShardResult = {
      version: 1,
      runId: shard.runId,
      shard: shard.shard,
      finishedAt: now.toISOString(),
      state: 'poisoned',
      vaults: shard.targets.map((t) => ({ vault: t.id, outcome: 'failed', add: 0, remove: 0, error: { code: 'SHARD_FAILED', message: why } })),
    };
    const { saved, stored } = await runs.saveShardResult(poisoned);
    logShard(context, stored, saved);
    if (stored.state === 'done') return;
    await dispatchAlerts({
      alerts: [shardFailedAlert({ runId: shard.runId, shard: shard.shard, vaults: shard.targets.map((t) => t.id) })],
      // Nothing else of the run scope was looked at, so nothing there may resolve.
      evaluatedScopes: [],
      now,
      repeatAfterHours: config.alerts.repeatAfterHours,
      state: new AlertStateRepository(stores.state),
      ...webhookOrLog(config, runtime, context),
      logger: runtime.logger,
    });
    await closeIfLast(runs, shard.runId, context);
  }

  /** HTTP GET /api/runs/{runId} (function key): how a fleet run is going. */
  async function runStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const runId = request.params.runId ?? '';
    try {
      checkRunId(runId);
    } catch (e) {
      return json(400, { error: { code: 'RUN_ID_INVALID', message: describeError(e) } });
    }
    let config: TagwallConfig;
    try {
      config = await configFor(context);
    } catch (e) {
      return configProblem(e);
    }
    try {
      const runtime = runtimeFor(context);
      await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
      return json(200, await new RunRepository(stores.state).status(runId));
    } catch (e) {
      if (isTagwallError(e, 'RUN_NOT_FOUND')) return json(404, { error: { code: 'RUN_NOT_FOUND', message: e.message } });
      return runProblem(context, e);
    }
  }

  return { syncAllowlists, manualSync, reconcileShard, reconcileShardPoison, runStatus };
}

/**
 * `{"apply": true, "planId"}`: exactly a plan GET /api/plan stored, inside the request and not
 * through the queue, as `tagwall apply` does (plans.ts says why). Nothing else may come with it:
 * the plan names its targets, and a reviewed plan is never forced.
 */
function reviewedApply(b: { apply?: unknown; force?: unknown; vault?: unknown; planId?: unknown }, context: InvocationContext): Promise<HttpResponseInit> | HttpResponseInit {
  if (b.apply !== true || typeof b.planId !== 'string' || Object.keys(b).some((k) => k !== 'apply' && k !== 'planId')) {
    return json(400, { error: { code: 'BAD_REQUEST', message: 'a plan is applied with exactly {"apply": true, "planId": "<the planId GET /api/plan answered>"}' } });
  }
  return applyPlan(b.planId, context);
}

function parsed(message: unknown, context: InvocationContext): ShardMessage {
  try {
    return parseShardMessage(message);
  } catch (e) {
    context.error(`tagwall.shard message refused: ${describeError(e)}`);
    throw e;
  }
}

function logShard(context: InvocationContext, result: ShardResult, saved: boolean): void {
  const bad = result.vaults.filter((v) => v.outcome === 'failed' || v.outcome === 'refused').length;
  const line = `tagwall.shard ${result.runId}#${result.shard} ${result.state} vaults=${result.vaults.length} failed=${bad}${saved ? '' : ' (already recorded; not counted again)'}`;
  if (bad > 0) context.warn(line);
  else context.log(line);
}

/**
 * After a shard's result is stored: when it was the run's last, whoever wins the claim logs the
 * one closing line. The result is already safe, so a failure here is logged, not thrown: a
 * retry would redo the shard's ARM work for a log line.
 */
async function closeIfLast(runs: RunRepository, runId: string, context: InvocationContext): Promise<void> {
  let status: RunStatus;
  try {
    status = await runs.status(runId);
    if (!status.complete || !(await runs.claimSummary(runId))) return;
  } catch (e) {
    context.warn(`tagwall.run ${runId}: could not tell whether the run is complete; its summary line may be missing: ${describeError(e)}`);
    return;
  }
  const outcomes = Object.entries(status.vaults.byOutcome)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([o, n]) => `${o}=${n}`);
  const line = `tagwall.run ${status.runId} complete shards=${status.shards.total} ${outcomes.join(' ')}`.trimEnd();
  if (status.failures.length > 0 || status.shards.poisoned > 0 || status.shards.notSent > 0) context.warn(line);
  else context.log(line);
}

/** A bad webhook setting must not lose the page: the log sink still has it. */
function webhookOrLog(config: TagwallConfig, runtime: Runtime, context: InvocationContext): { webhook?: WebhookConfig } {
  try {
    const webhook = resolveWebhookConfig(config.alerts.webhook, runtime.env);
    return webhook === undefined ? {} : { webhook };
  } catch (e) {
    context.error(`alert webhook not used: ${describeError(e)}`);
    return {};
  }
}

export const { syncAllowlists, manualSync, reconcileShard, reconcileShardPoison, runStatus } = fleetHandlers();
