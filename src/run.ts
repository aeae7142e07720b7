import { alertsForVaults, discoveryAlerts, evaluatedScopes, serviceTagAlerts, writeScopes } from './alerts/policy.js';
import { RUN_SCOPE } from './alerts/types.js';
import type { AlertLogger } from './alerts/types.js';
import type { TagwallConfig, TargetConfig } from './config.js';
import { describeError, type ErrorCode } from './core/errors.js';
import { reconcile, type ReconcileOptions, type VaultReport } from './reconcile.js';
import type { Fleet, RunFinding } from './fleet/discovery.js';
import type { GraphPageStats } from './fleet/graph-client.js';
import type { FleetGraph } from './fleet/model.js';
import { BacklogRepository, VaultStateRepository } from './state/records.js';
import { prefetchedRecords } from './state/run-cache.js';

import { openRun, sendAlerts, serviceTagsSummary, type Injected, type RunError, type RunOptions, type RunResult, type RunSession, type Runtime } from './session.js';
import { fleetOf, fleetSummary, graphOf, rememberFleetSize, targetsOf, wantedBy, withDiscoveryNotes } from './fleet/run-fleet.js';

// Where a run's parts live, for the modules that have always imported them from here.
export { credentialFor, loadServiceTags, openRun, type Injected, type RunError, type RunOptions, type RunResult, type RunSession, type Runtime } from './session.js';
export { fleetOf, graphOf, rememberFleetSize, targetsOf, wantedBy, withDiscoveryNotes } from './fleet/run-fleet.js';

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
): Promise<VaultReport[]> {
  const { config, options, runtime } = session;
  if (session.credentialError !== undefined) return targets.map((t) => failedWithoutToken(t, session.credentialError!.code));
  const { backlog: useBacklog = true, ...more } = extra;
  const backlog = new BacklogRepository(session.state);
  // Shards run side by side; the backlog is the timer's, which orders what it sends.
  const first = useBacklog ? await backlog.load().catch(() => undefined) : undefined;
  const vaults = await reconcile(
    config,
    session.doc,
    {
      firewalls: session.firewalls,
      ...(session.perimeters === undefined ? {} : { perimeters: session.perimeters }),
      state: new VaultStateRepository(await prefetchedRecords(session.state, targets)).access(),
      now: session.now,
      ...(runtime.onVaultDone === undefined ? {} : { onVaultDone: runtime.onVaultDone }),
      throttled: (subscriptionId) => session.pacer.isBlocked(subscriptionId),
    },
    {
      dryRun: options.dryRun,
      force: options.force,
      runId: session.runId,
      targets,
      ...(graph === undefined ? {} : { graph }),
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      ...(runtime.armOperations?.timeoutMs === undefined ? {} : { operationTimeoutMs: runtime.armOperations.timeoutMs }),
      ...(first === undefined ? {} : { first: new Set(first.value.vaults.map((v) => v.toLowerCase())) }),
      ...more,
    },
  );
  if (!options.dryRun && useBacklog && more.judgeOnly !== true) await rememberCutOff(backlog, first, vaults, runtime.logger);
  return vaults;
}

/**
 * Alerts and the report. `scopes: 'run'` evaluates the run's own alerts and every vault's; a
 * shard evaluates only its own vaults, so it never resolves what the run as a whole raised.
 */
export async function finishRun(
  session: RunSession,
  vaults: readonly VaultReport[],
  extra: { readonly errors?: readonly RunError[]; readonly fleet?: Fleet; readonly scopes: 'run' | 'vaults' },
): Promise<RunResult> {
  const { config, options, runtime, resolved, doc } = session;
  const errors = [...(session.credentialError === undefined ? [] : [session.credentialError]), ...(extra.errors ?? [])];
  const fleet = extra.fleet === undefined ? undefined : fleetSummary(session, extra.fleet);
  const report: RunReport = {
    dryRun: options.dryRun,
    runId: session.runId,
    serviceTags: serviceTagsSummary(doc, resolved),
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

function failedWithoutToken(target: TargetConfig, code: ErrorCode): VaultReport {
  const failure = code === 'VAULT_AUTHENTICATION_FAILED' ? 'AUTHENTICATION_FAILED' : 'CREDENTIAL_UNAVAILABLE';
  return {
    vault: target.resource.id,
    kind: target.kind.kind,
    outcome: 'failed',
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: target.maxRules },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: target.mode,
    // The same failure in the kind's own codes (Key Vault's VAULT_*, every other kind's TARGET_*).
    error: { code: `${target.kind.errorCodes ?? 'TARGET'}_${failure}`, message: 'no token for Azure Resource Manager; the run\'s error says why (once, for every target)' },
  };
}

/** Vaults a deadline cut off go first next time; the record is written only when it changes. */
async function rememberCutOff(backlog: BacklogRepository, before: Awaited<ReturnType<BacklogRepository['load']>>, vaults: readonly VaultReport[], logger: AlertLogger): Promise<void> {
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

/** One run, as `sync --json` prints it and the HTTP dry run returns it. */
export interface RunReport {
  readonly dryRun: boolean;
  /** Identifies the run in intents, queue messages and `GET /api/runs/{runId}`. */
  readonly runId?: string;
  readonly serviceTags: {
    readonly cloud: string;
    readonly changeNumber: number;
    readonly path?: string;
    readonly url?: string;
    readonly cacheUsed?: boolean;
    readonly warnings: readonly string[];
  };
  /** Problems of the run as a whole, said once (a missing credential, say). */
  readonly errors?: readonly RunError[];
  /** With discovery: what it found, its run-level findings (SCOPE_UNREADABLE, DISCOVERY_SHRANK, ...) and what Resource Graph cost. */
  readonly fleet?: Fleet['counts'] & { readonly findings: readonly RunFinding[]; readonly graph?: GraphPageStats };
  /** ARM calls the run made through its pacer: how many, how many waited for a token, and 429s. */
  readonly arm?: { readonly subscriptions: number; readonly requests: number; readonly waits: number; readonly waitedMs: number; readonly throttled: number };
  readonly vaults: readonly VaultReport[];
  readonly alerts?: { readonly notifications: number; readonly webhookSent: number; readonly webhookFailed: number };
}

export function hasFailures(report: RunReport): boolean {
  return report.vaults.some((v) => v.outcome === 'failed' || v.outcome === 'refused');
}

/** 0 when every vault is fine; 1 when any failed or was refused; with `detailed`, 2 when changes or drift are pending. */
export function exitCodeFor(report: RunReport, detailed: boolean): number {
  if (hasFailures(report)) return 1;
  if (detailed && report.vaults.some((v) => v.outcome === 'pending' || v.drift.length > 0)) return 2;
  return 0;
}

