import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type ObservableGauge } from '@opentelemetry/api';
import type { TargetReport } from '../core/report.js';
import type { RunReport } from '../run/report.js';

/**
 * A run's metrics, recorded once it is finished, through the @opentelemetry/api meter (whatever
 * provider setup.ts registered; without one the API's no-op meter makes all of this free).
 *
 * Dimensions stay to kind, outcome, code, operation and space: Azure Monitor keeps at most 10 per
 * metric and 50,000 series per region, so a resource ID never becomes a dimension. Per-firewall
 * detail is in the one log event per target (events.ts).
 *
 * The reconciler's conventions are external-dns's: the last attempted and last successful run are
 * timestamps (observable gauges, so "no success in 8 days" is a comparison with now, which a
 * counter reset by a restart could not answer), and everything else is counted per run, so sums
 * stay right when a fleet's shards run in several processes at once.
 */

export const METER_NAME = 'tagwall';

/** The target states of the `tagwall.targets` metric: the five, whatever the run did. */
export type TargetState = 'in-sync' | 'drifted' | 'refused' | 'failed' | 'skipped';

/** What a run was: `sync` applies, `dry-run` only plans (the drift check, `GET /api/plan`). */
export type RunOperation = 'sync' | 'dry-run';

/** Every attribute a tagwall data point may carry; the tests hold the exported points to this list. */
export const METRIC_DIMENSIONS = ['kind', 'outcome', 'code', 'operation', 'space'] as const;

/** Ratio buckets where the alerts look: half, three quarters, the 90 % alert, nearly full, full. */
const BUDGET_BUCKETS = [0.5, 0.75, 0.9, 0.95, 1];
/** Excess addresses span a handful to millions (a /8 widened); powers of 16 from one host up. */
const EXCESS_BUCKETS = [0, 16, 256, 4096, 65_536, 1_048_576, 16_777_216];
/** A run takes seconds for a few firewalls and up to the host's 10-minute timeout for a fleet. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200];

interface Instruments {
  readonly lastAttempt: ObservableGauge;
  readonly lastSuccess: ObservableGauge;
  readonly duration: Histogram;
  readonly targets: Counter;
  readonly budget: Histogram;
  readonly excess: Histogram;
  readonly writes: Counter;
  readonly rules: Counter;
  readonly armRequests: Counter;
  readonly armThrottled: Counter;
  readonly graphRequests: Counter;
  readonly graphThrottled: Counter;
  readonly alerts: Counter;
  readonly webhook: Counter;
  /** Unix seconds of the last attempted and last successful run, per operation; read by the gauges. */
  readonly attempted: Map<RunOperation, number>;
  readonly succeeded: Map<RunOperation, number>;
}

/** One set of instruments per meter: a process has one global meter, a test its own provider's. */
const byMeter = new WeakMap<Meter, Instruments>();

function instrumentsOf(meter: Meter): Instruments {
  let i = byMeter.get(meter);
  if (i !== undefined) return i;
  const attempted = new Map<RunOperation, number>();
  const succeeded = new Map<RunOperation, number>();
  const counter = (name: string, unit: string, description: string) => meter.createCounter(name, { unit, description, valueType: ValueType.INT });
  i = {
    attempted,
    succeeded,
    lastAttempt: meter.createObservableGauge('tagwall.run.last_attempt_time', { unit: 's', description: 'Unix time at which the last run (of this process) ended, successful or not', valueType: ValueType.INT }),
    lastSuccess: meter.createObservableGauge('tagwall.run.last_success_time', { unit: 's', description: 'Unix time at which the last successful run (no run error, no failed target) ended', valueType: ValueType.INT }),
    duration: meter.createHistogram('tagwall.run.duration', { unit: 's', description: 'How long a run took, from start to report', advice: { explicitBucketBoundaries: DURATION_BUCKETS } }),
    targets: counter('tagwall.targets', '{target}', 'Targets a run reconciled, by kind and state (in-sync, drifted, refused, failed, skipped) and the code that says why'),
    budget: meter.createHistogram('tagwall.rule_budget.use', { unit: '1', description: 'Rules in the firewall after the plan over the rule limit, per planned target', advice: { explicitBucketBoundaries: BUDGET_BUCKETS } }),
    excess: meter.createHistogram('tagwall.excess_addresses', { unit: '{address}', description: 'Addresses the allowlist admits beyond the source, per planned target, by space (azure, outside, unknown)', valueType: ValueType.INT, advice: { explicitBucketBoundaries: EXCESS_BUCKETS } }),
    writes: counter('tagwall.writes', '{write}', 'Firewall writes, by kind and outcome (applied, failed) and the failure code'),
    rules: counter('tagwall.rules.changed', '{rule}', 'Rules added or removed by applied writes, by kind and operation (add, remove)'),
    armRequests: counter('tagwall.arm.requests', '{request}', 'ARM requests the run sent through its pacer, retries included'),
    armThrottled: counter('tagwall.arm.throttled', '{response}', 'ARM answers that were 429 (throttled)'),
    graphRequests: counter('tagwall.graph.requests', '{request}', 'Resource Graph requests, throttled ones included'),
    graphThrottled: counter('tagwall.graph.throttled', '{response}', 'Resource Graph answers that were 429'),
    alerts: counter('tagwall.alerts.sent', '{notification}', 'Alert notifications sent (firing, repeated, resolved); previews are not counted'),
    webhook: counter('tagwall.alerts.webhook', '{request}', 'Alert webhook posts, by outcome (sent, failed)'),
  };
  const observe = (map: Map<RunOperation, number>) => (result: { observe(value: number, attributes?: Attributes): void }) => {
    for (const [operation, seconds] of map) result.observe(seconds, { operation });
  };
  i.lastAttempt.addCallback(observe(attempted));
  i.lastSuccess.addCallback(observe(succeeded));
  byMeter.set(meter, i);
  return i;
}

/** The process's meter: instruments made before setup.ts registers a provider would stay no-ops, so it is looked up each time. */
export function tagwallMeter(): Meter {
  return metrics.getMeter(METER_NAME);
}

export interface RecordOptions {
  readonly meter?: Meter;
  /** The run's wall time; without it no duration is recorded. */
  readonly durationSeconds?: number;
  /** How the run's alerts were dispatched: previews (`preview`) are not alerts sent. Default `send`. */
  readonly alerts?: 'send' | 'preview' | 'off';
  /** A shard of a fleet run is not a run of its own: it records its targets, not the run's timestamps or duration. */
  readonly shard?: boolean;
  /** When the run ended; default now. */
  readonly endedAt?: Date;
}

/** The five states of the issue; `applied` is in-sync (written and verified), `pending` and unrepaired drift are drifted. */
export function stateOf(v: TargetReport): TargetState {
  switch (v.outcome) {
    case 'failed':
    case 'refused':
    case 'skipped':
      return v.outcome;
    case 'pending':
      return 'drifted';
    case 'applied':
      return 'in-sync';
    case 'in-sync':
      return v.drift.length > 0 ? 'drifted' : 'in-sync';
  }
}

/** The code that says why a target is in its state: the error's, the first refusal's or skip's, the first drift's. */
export function codeOf(v: TargetReport): string | undefined {
  if (v.error !== undefined) return v.error.code;
  if (v.reasons.length > 0) return v.reasons[0]!.code;
  if (stateOf(v) === 'drifted') return v.drift[0]?.code;
  return undefined;
}

/** Targets tagwall planned (it read them): their rule count and excess are figures worth a histogram. */
export function wasPlanned(v: TargetReport): boolean {
  if (v.outcome === 'failed') return v.error?.during === 'write';
  return v.outcome !== 'skipped';
}

/** Rules in the firewall after the plan (tagwall's, others', shared once) over the limit; undefined without a limit. */
export function budgetUse(v: TargetReport): number | undefined {
  const { managed, unmanaged, shared, limit } = v.rules;
  return limit > 0 ? (managed + unmanaged + shared) / limit : undefined;
}

/** Whether a finished run counts as successful: no run-level error and no target failed (a refusal is a guard doing its work). */
export function runSucceeded(report: RunReport): boolean {
  return (report.errors ?? []).length === 0 && !report.vaults.some((v) => v.outcome === 'failed');
}

/** Records every metric of a finished run. */
export function recordRun(report: RunReport, options: RecordOptions = {}): void {
  const m = instrumentsOf(options.meter ?? tagwallMeter());
  const operation: RunOperation = report.dryRun ? 'dry-run' : 'sync';
  for (const v of report.vaults) {
    const kind = v.kind ?? 'unknown';
    const code = codeOf(v);
    m.targets.add(1, { kind, outcome: stateOf(v), operation, ...(code === undefined ? {} : { code }) });
    if (wasPlanned(v)) {
      const use = budgetUse(v);
      if (use !== undefined) m.budget.record(use, { kind });
      const totals = v.widening?.totals;
      if (totals !== undefined) {
        m.excess.record(totals.excessInAzure, { kind, space: 'azure' });
        m.excess.record(totals.excessOutsideAzure, { kind, space: 'outside' });
      } else {
        // Settled from its record by Resource Graph: the plan was not redone, so the split is not known.
        m.excess.record(v.excessAddresses, { kind, space: 'unknown' });
      }
    }
    if (report.dryRun) continue;
    if (v.outcome === 'applied') {
      m.writes.add(1, { kind, outcome: 'applied' });
      if (v.add.length > 0) m.rules.add(v.add.length, { kind, operation: 'add' });
      if (v.remove.length > 0) m.rules.add(v.remove.length, { kind, operation: 'remove' });
    } else if (v.outcome === 'failed' && v.error?.during === 'write') {
      m.writes.add(1, { kind, outcome: 'failed', code: v.error.code });
    }
  }
  addIfAny(m.armRequests, report.arm?.requests, { operation });
  addIfAny(m.armThrottled, report.arm?.throttled, { operation });
  addIfAny(m.graphRequests, report.fleet?.graph?.requests, { operation });
  addIfAny(m.graphThrottled, report.fleet?.graph?.throttled, { operation });
  if (report.alerts !== undefined) {
    if ((options.alerts ?? 'send') === 'send') addIfAny(m.alerts, report.alerts.notifications, { operation });
    addIfAny(m.webhook, report.alerts.webhookSent, { operation, outcome: 'sent' });
    addIfAny(m.webhook, report.alerts.webhookFailed, { operation, outcome: 'failed' });
  }
  if (options.shard === true) return;
  const succeeded = runSucceeded(report);
  remember(m, operation, succeeded, options.endedAt);
  if (options.durationSeconds !== undefined) m.duration.record(options.durationSeconds, { operation, outcome: succeeded ? 'success' : 'failure' });
}

/**
 * A run that threw before it had a report (a bad configuration, an unreadable service-tags
 * file): an attempt, never a success, with its code on the duration.
 */
export function recordRunFailure(operation: RunOperation, code: string, options: Omit<RecordOptions, 'alerts' | 'shard'> = {}): void {
  const m = instrumentsOf(options.meter ?? tagwallMeter());
  remember(m, operation, false, options.endedAt);
  if (options.durationSeconds !== undefined) m.duration.record(options.durationSeconds, { operation, outcome: 'failure', code });
}

function remember(m: Instruments, operation: RunOperation, succeeded: boolean, endedAt = new Date()): void {
  const seconds = Math.floor(endedAt.getTime() / 1000);
  m.attempted.set(operation, seconds);
  if (succeeded) m.succeeded.set(operation, seconds);
}

function addIfAny(counter: Counter, value: number | undefined, attributes: Attributes): void {
  // A zero would still open a series; a run that made no such request says nothing.
  if (value !== undefined && value > 0) counter.add(value, attributes);
}
