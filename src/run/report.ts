import type { Allowlist } from '../core/allowlist.js';
import { describeError, isTagwallError, TagwallError, type ErrorCode } from '../core/errors.js';
import type { AppliedRecord, Reason, TargetPlan } from '../core/target-plan.js';
import type { TargetConfig } from '../config/config.js';
import type { TargetOutcome, TargetReport } from './reconcile.js';

/**
 * A target's report, built from its plan: what every pass returns, whatever happened, and the
 * side tables that travel with a report without being part of it (its allowlist, for the
 * widening explanation; whether it still needs a direct read).
 */

export function reason(code: Reason['code'], message: string, values: Record<string, string | number | boolean> = {}): Reason {
  return { code, message, ...values };
}

/** Reports of firewalls that a judge-only pass could not settle from Resource Graph: they need a direct read. */
export const needsWork = new WeakSet<TargetReport>();

/** The allowlist each report was planned with, for the widening explanation added once the vault is settled. */
export const desiredOf = new WeakMap<TargetReport, Allowlist>();

export function report(target: TargetConfig, outcome: TargetOutcome, plan: TargetPlan | undefined, extra: Partial<TargetReport> = {}): TargetReport {
  const r = build(target, outcome, plan, extra);
  if (plan?.desired !== undefined) desiredOf.set(r, plan.desired);
  return r;
}

function build(target: TargetConfig, outcome: TargetOutcome, plan: TargetPlan | undefined, extra: Partial<TargetReport>): TargetReport {
  return {
    vault: target.resource.id,
    kind: target.kind.kind,
    outcome,
    add: plan?.add ?? [],
    remove: plan?.remove ?? [],
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
  return { code, message: `${describeError(e)}; the vault is left as it is until its state can be read` };
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
