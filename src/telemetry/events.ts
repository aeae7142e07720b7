import type { AlertLogger } from '../alerts/types.js';
import type { TargetReport } from '../core/report.js';
import type { RunReport } from '../run/report.js';
import { budgetUse, codeOf, stateOf, type TargetState } from './metrics.js';

/**
 * One structured log event per target: the per-firewall detail that metrics must not carry as
 * dimensions (a resource ID per series would exhaust Azure Monitor's series quota). Logged as
 * `tagwall.target {json}`, like the alert lines, so a log query parses it with parse_json.
 */

export const TARGET_EVENT = 'tagwall.target';

export interface TargetEvent {
  readonly runId?: string;
  readonly operation: 'sync' | 'dry-run';
  readonly resourceId: string;
  readonly kind: string;
  readonly profile?: string;
  /** The report's own outcome (`applied`, `pending`, ...) and the metric's state. */
  readonly outcome: TargetReport['outcome'];
  readonly state: TargetState;
  readonly code?: string;
  readonly rules: { readonly managed: number; readonly unmanaged: number; readonly shared: number; readonly limit: number };
  /** Rules over the limit, 0..1, rounded to 4 places. */
  readonly budgetUse?: number;
  readonly excess: { readonly addresses: number; readonly inAzure?: number; readonly outsideAzure?: number };
  readonly add: number;
  readonly remove: number;
  readonly drift: number;
  readonly findings: readonly string[];
  readonly checkedBy?: 'resource-graph';
}

export function targetEvent(report: Pick<RunReport, 'runId' | 'dryRun'>, v: TargetReport): TargetEvent {
  const use = budgetUse(v);
  const code = codeOf(v);
  const totals = v.widening?.totals;
  return {
    ...(report.runId === undefined ? {} : { runId: report.runId }),
    operation: report.dryRun ? 'dry-run' : 'sync',
    resourceId: v.vault,
    kind: v.kind ?? 'unknown',
    ...(v.profile === undefined ? {} : { profile: v.profile }),
    outcome: v.outcome,
    state: stateOf(v),
    ...(code === undefined ? {} : { code }),
    rules: { managed: v.rules.managed, unmanaged: v.rules.unmanaged, shared: v.rules.shared, limit: v.rules.limit },
    ...(use === undefined ? {} : { budgetUse: Math.round(use * 10_000) / 10_000 }),
    excess: { addresses: v.excessAddresses, ...(totals === undefined ? {} : { inAzure: totals.excessInAzure, outsideAzure: totals.excessOutsideAzure }) },
    add: v.add.length,
    remove: v.remove.length,
    drift: v.drift.length,
    findings: [...new Set(v.findings.map((f) => f.code))],
    ...(v.checkedBy === undefined ? {} : { checkedBy: v.checkedBy }),
  };
}

export function targetEvents(report: RunReport): TargetEvent[] {
  return report.vaults.map((v) => targetEvent(report, v));
}

/** Logs every target's event: a failed or refused target as a warning, so the log's level says it too. */
export function logTargetEvents(logger: AlertLogger, report: RunReport): void {
  for (const e of targetEvents(report)) {
    const line = `${TARGET_EVENT} ${JSON.stringify(e)}`;
    if (e.state === 'failed' || e.state === 'refused') logger.warn(line);
    else logger.info(line);
  }
}
