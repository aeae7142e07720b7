import { describeError, isTagwallError, TagwallError, type ErrorCode } from '../core/errors.js';
import type { TargetOutcome, TargetReport } from '../core/report.js';
import type { AppliedRecord, Reason, TargetPlan } from '../core/target-plan.js';
import type { TargetConfig } from '../config/config.js';
import type { Fleet, RunFinding } from '../fleet/discovery.js';
import type { GraphPageStats } from '../fleet/graph-client.js';
import type { TargetPass } from './context.js';

/**
 * The run's reports: one target's, built from its plan (what every pass returns, whatever
 * happened), and the whole run's, as `sync --json` prints it.
 */

export function reason(code: Reason['code'], message: string, values: Record<string, string | number | boolean> = {}): Reason {
  return { code, message, ...values };
}

export function report(target: TargetConfig, outcome: TargetOutcome, plan: TargetPlan | undefined, extra: Partial<TargetReport> = {}): TargetReport {
  return {
    vault: target.resource.id,
    kind: target.kind.kind,
    outcome,
    // A skipped target is written nothing this run: listing the plan's changes read as pending work.
    add: outcome === 'skipped' ? [] : (plan?.add ?? []),
    remove: outcome === 'skipped' ? [] : (plan?.remove ?? []),
    unmanaged: plan?.unmanaged ?? [],
    shared: plan?.shared ?? [],
    adopted: plan?.adopted ?? [],
    rules: plan?.rules ?? { managed: 0, unmanaged: 0, shared: 0, limit: target.maxRules },
    excessAddresses: plan?.desired?.stats.excessAddresses ?? 0,
    drift: plan?.drift ?? [],
    findings: plan?.findings ?? [],
    reasons: [...(plan?.refusals ?? []), ...(plan?.skip === undefined ? [] : [plan.skip])],
    mode: target.mode,
    ...(target.profile === undefined ? {} : { profile: target.profile }),
    ...(plan?.desired?.stats.weightedExcess === undefined ? {} : { weightedExcess: plan.desired.stats.weightedExcess }),
    ...(plan !== undefined && plan.forced.length > 0 ? { forced: plan.forced } : {}),
    ...extra,
  };
}

/** A target that failed before any pass could begin (no token for ARM, its shard never sent): no plan, and no profile. */
export function failedUnplanned(target: TargetConfig, error: NonNullable<TargetReport['error']>): TargetReport {
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
    error,
  };
}

/** A pass that ends with this report; the plan's allowlist travels beside it, for the widening explanation. */
export function ended(target: TargetConfig, outcome: TargetOutcome, plan: TargetPlan | undefined, extra: Partial<TargetReport> = {}): TargetPass {
  return { report: report(target, outcome, plan, extra), ...(plan?.desired === undefined ? {} : { desired: plan.desired }) };
}

/** A judge-only pass's answer for a firewall it could not settle: it needs a direct read, by whoever takes it. */
export function queued(target: TargetConfig): TargetPass {
  return { report: report(target, 'pending', undefined), needsWork: true };
}

export function busy(target: TargetConfig, plan: TargetPlan | undefined, why: string): TargetPass {
  return ended(target, 'skipped', plan, { reasons: [reason('VAULT_BUSY', `another run is writing this target (${why}); it is left to that run`)] });
}

export function errorOf(e: unknown): NonNullable<TargetReport['error']> {
  if (e instanceof TagwallError) {
    const { azureCode, status, during } = e.values;
    return {
      code: e.code,
      message: describeError(e),
      ...(typeof azureCode === 'string' ? { azureCode } : {}),
      ...(typeof status === 'number' ? { status } : {}),
      ...(during === 'read' || during === 'write' ? { during } : {}),
    };
  }
  return { code: 'INTERNAL', message: describeError(e) };
}

/** A record that cannot be read is never "no record yet": that would make every rule a stranger's and adopt anew. */
export function stateError(e: unknown): { code: ErrorCode; message: string } {
  const code: ErrorCode = isTagwallError(e, 'STATE_CORRUPT') ? 'STATE_CORRUPT' : 'STATE_UNAVAILABLE';
  return { code, message: `${describeError(e)}; the target is left as it is until its state can be read` };
}

/** A firewall settled from its record by the plan remembered there (fleet/settled.ts): in step, with that plan's figures and findings. */
export function settledReport(target: TargetConfig, settled: NonNullable<AppliedRecord['settled']>): TargetReport {
  return report(target, 'in-sync', undefined, {
    checkedBy: 'resource-graph',
    rules: settled.rules,
    excessAddresses: settled.excessAddresses,
    ...(settled.weightedExcess === undefined ? {} : { weightedExcess: settled.weightedExcess }),
    findings: settled.findings,
    unmanaged: settled.unmanaged,
    shared: settled.shared,
  });
}

export interface RunError {
  readonly code: string;
  readonly message: string;
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
    /** With `sync --dry-run --out`: the document's identity for the plan file (steps/reviewed.ts). */
    readonly sha256?: string;
  };
  /** Problems of the run as a whole, said once (a missing credential, say). */
  readonly errors?: readonly RunError[];
  /** With discovery: what it found, its run-level findings (SCOPE_UNREADABLE, DISCOVERY_SHRANK, ...) and what Resource Graph cost. */
  readonly fleet?: Fleet['counts'] & { readonly findings: readonly RunFinding[]; readonly graph?: GraphPageStats };
  /** ARM calls the run made through its pacer: how many, how many waited for a token, and 429s. */
  readonly arm?: { readonly subscriptions: number; readonly requests: number; readonly waits: number; readonly waitedMs: number; readonly throttled: number };
  readonly vaults: readonly TargetReport[];
  readonly alerts?: { readonly notifications: number; readonly webhookSent: number; readonly webhookFailed: number };
}

export function hasFailures(report: RunReport): boolean {
  return report.vaults.some((v) => v.outcome === 'failed' || v.outcome === 'refused');
}

/** 0 when every target is fine; 1 when any failed or was refused; with `detailed`, 2 when changes or drift are pending. */
export function exitCodeFor(report: RunReport, detailed: boolean): number {
  if (hasFailures(report)) return 1;
  if (detailed && report.vaults.some((v) => v.outcome === 'pending' || v.drift.length > 0)) return 2;
  return 0;
}
