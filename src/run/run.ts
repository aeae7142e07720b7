import { alertsForVaults, discoveryAlerts, evaluatedScopes, serviceTagAlerts, writeScopes } from '../alerts/policy.js';
import { RUN_SCOPE } from '../alerts/types.js';
import type { AlertLogger } from '../alerts/types.js';
import type { TagwallConfig, TargetConfig } from '../config/config.js';
import { describeError, type ErrorCode } from '../core/errors.js';
import type { TargetReport } from '../core/report.js';
import type { Fleet } from '../fleet/discovery.js';
import type { FleetGraph } from '../fleet/model.js';
import { BacklogRepository, TargetStateRepository } from '../state/records.js';
import type { ReconcileOptions } from './context.js';
import { fleetOf, fleetSummary, graphOf, rememberFleetSize, targetsOf, wantedBy, withDiscoveryNotes } from './fleet.js';
import { openRun, sendAlerts, serviceTagsSummary, type Injected, type RunOptions, type RunResult, type RunSession, type Runtime } from './open.js';
import { reconcilePasses, scheduledOrder, type SettledPass } from './reconcile.js';
import { failedUnplanned, type RunError, type RunReport } from './report.js';
import { prefetchedRecords } from '../state/run-cache.js';
import { GrantRepository } from '../state/grants.js';
import { documentIdentity } from './steps/reviewed.js';

// The run's front door: what the CLI, the handlers and the tests call, from wherever it lives in run/.
export { credentialFor, type RunOptions, type RunResult, type Runtime } from './open.js';
export { exitCodeFor, hasFailures, type RunError, type RunReport } from './report.js';

/**
 * Wires one run together from a configuration: service tags → reconcile every vault →
 * alerts. The CLI, the timers and the HTTP triggers all come through here, so they do
 * exactly the same work.
 */

export async function runSync(config: TagwallConfig, options: RunOptions, runtime: Runtime, injected: Injected = {}): Promise<RunResult> {
  await using session = await openRun(config, options, runtime, injected);
  const { fleet, errors, guard, lastCount } = await fleetOf(session);
  const targets = targetsOf(session, fleet, guard);
  const vaults = await reconcileTargets(session, targets, graphOf(session, fleet));
  await rememberFleetSize(session, fleet, guard, lastCount);
  const wanted = wantedBy(options);
  return finishRun(session, withDiscoveryNotes(fleet, vaults, wanted), { errors, fleet, scopes: 'run' });
}

/** Reconciles the given targets with the session's clients; the backlog of cut-off vaults goes first. */
export async function reconcileTargets(
  session: RunSession,
  targets: readonly TargetConfig[],
  graph: FleetGraph | undefined,
  extra: Partial<ReconcileOptions> & { readonly backlog?: boolean } = {},
): Promise<TargetReport[]> {
  return (await reconcileTargetPasses(session, targets, graph, extra)).map((p) => p.report);
}

/** What reconcileTargets does, with each report's `needsWork` beside it (the timer's judge-only pass). */
export async function reconcileTargetPasses(
  session: RunSession,
  targets: readonly TargetConfig[],
  graph: FleetGraph | undefined,
  extra: Partial<ReconcileOptions> & { readonly backlog?: boolean } = {},
): Promise<SettledPass[]> {
  const { config, options, runtime } = session;
  if (session.credentialError !== undefined) return targets.map((t) => ({ report: failedWithoutToken(t, session.credentialError!.code) }));
  const { backlog: useBacklog = true, ...more } = extra;
  const backlog = new BacklogRepository(session.state);
  // Shards run side by side; the backlog is the timer's, which orders what it sends.
  const first = useBacklog ? await backlog.load().catch(() => undefined) : undefined;
  const firstIds = first === undefined ? undefined : new Set(first.value.vaults.map((v) => v.toLowerCase()));
  const passes = await reconcilePasses(
    config,
    session.doc,
    {
      firewalls: session.firewalls,
      ...(session.perimeters === undefined ? {} : { perimeters: session.perimeters }),
      state: new TargetStateRepository(await prefetchedRecords(session.state, scheduledOrder(targets, firstIds))).access(),
      now: session.now,
      ...(runtime.onTargetDone === undefined ? {} : { onTargetDone: runtime.onTargetDone }),
      throttled: (subscriptionId) => session.pacer.isBlocked(subscriptionId),
      grants: new GrantRepository(session.state),
    },
    {
      dryRun: options.dryRun,
      force: options.force,
      runId: session.runId,
      targets,
      // A reviewed plan is checked against the firewall itself, never a Resource Graph stand-in.
      ...(graph === undefined || options.reviewed !== undefined ? {} : { graph }),
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      ...(runtime.armOperations?.timeoutMs === undefined ? {} : { operationTimeoutMs: runtime.armOperations.timeoutMs }),
      ...(firstIds === undefined ? {} : { first: firstIds }),
      ...reviewOptions(options),
      ...more,
    },
  );
  if (!options.dryRun && useBacklog && more.judgeOnly !== true) await rememberCutOff(backlog, first, passes.map((p) => p.report), runtime.logger);
  return passes;
}

/**
 * Alerts and the report. `scopes: 'run'` evaluates the run's own alerts and every vault's; a
 * shard evaluates only its own vaults, so it never resolves what the run as a whole raised.
 */
export async function finishRun(
  session: RunSession,
  vaults: readonly TargetReport[],
  extra: { readonly errors?: readonly RunError[]; readonly fleet?: Fleet; readonly scopes: 'run' | 'vaults' },
): Promise<RunResult> {
  const { config, options, runtime, resolved, doc } = session;
  const errors = [...(session.credentialError === undefined ? [] : [session.credentialError]), ...(extra.errors ?? [])];
  const fleet = extra.fleet === undefined ? undefined : fleetSummary(session, extra.fleet);
  const report: RunReport = {
    dryRun: options.dryRun,
    runId: session.runId,
    serviceTags: { ...serviceTagsSummary(doc, resolved), ...(options.reviewable === true ? { sha256: documentIdentity(doc).sha256 } : {}) },
    ...(errors.length === 0 ? {} : { errors }),
    ...(fleet === undefined ? {} : { fleet }),
    arm: armSummary(session),
    vaults,
  };
  const runAlerts = extra.scopes === 'run' ? [...serviceTagAlerts({ stale: resolved.cacheUsed ? resolved.warnings : [] }), ...discoveryAlerts(extra.fleet?.findings ?? [])] : [];
  const alerts = [...alertsForVaults(vaults, options.dryRun, session.credentialError), ...runAlerts];
  const scopes = extra.scopes === 'run' ? evaluatedScopes(vaults) : evaluatedScopes(vaults).filter((s) => s !== RUN_SCOPE);
  const dispatched = await sendAlerts(config, runtime, session.state, session.webhook, alerts, scopes, options.alerts, writeScopes(vaults, options.dryRun));
  return {
    report: dispatched === undefined ? report : { ...report, alerts: { notifications: dispatched.notifications.length, webhookSent: dispatched.webhook.sent, webhookFailed: dispatched.webhook.failed } },
    ...(dispatched === undefined ? {} : { alerts: dispatched }),
  };
}

function failedWithoutToken(target: TargetConfig, code: ErrorCode): TargetReport {
  const failure = code === 'VAULT_AUTHENTICATION_FAILED' ? 'AUTHENTICATION_FAILED' : 'CREDENTIAL_UNAVAILABLE';
  // The same failure in the kind's own codes (Key Vault's VAULT_*, every other kind's TARGET_*).
  return failedUnplanned(target, { code: `${target.kind.errorCodes ?? 'TARGET'}_${failure}`, message: 'no token for Azure Resource Manager; the run\'s error says why (once, for every target)' });
}

/** Vaults a deadline cut off go first next time; the record is written only when it changes. */
async function rememberCutOff(backlog: BacklogRepository, before: Awaited<ReturnType<BacklogRepository['load']>>, vaults: readonly TargetReport[], logger: AlertLogger): Promise<void> {
  const cut = vaults.filter((v) => v.reasons.some((r) => r.code === 'DEADLINE')).map((v) => v.vault);
  if (cut.length === 0 && (before === undefined || before.value.vaults.length === 0)) return;
  try {
    await backlog.save({ version: 1, vaults: cut }, before?.etag);
  } catch (e) {
    // Only the order of the next run depends on it.
    logger.warn(`tagwall could not remember the vaults the deadline cut off: ${describeError(e)}`);
  }
}

/** What the run's ARM calls cost, over every subscription (the pacer counts every attempt). */
function armSummary(session: RunSession): NonNullable<RunReport['arm']> {
  const all = session.pacer.stats();
  const sum = (f: (s: (typeof all)[number]) => number) => all.reduce((n, s) => n + f(s), 0);
  return { subscriptions: all.length, requests: sum((s) => s.requests), waits: sum((s) => s.waits), waitedMs: Math.round(sum((s) => s.waitedMs)), throttled: sum((s) => s.throttled) };
}

function reviewOptions(options: RunOptions): Partial<ReconcileOptions> {
  return { ...(options.reviewable === true ? { reviewable: true } : {}), ...(options.reviewed === undefined ? {} : { reviewed: options.reviewed }) };
}
