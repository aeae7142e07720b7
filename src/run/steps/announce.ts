import { isTagwallError } from '../../core/errors.js';
import type { AppliedRecord, ObservedFirewall, TargetPlan, WriteIntent } from '../../core/target-plan.js';
import { DEFAULT_OPERATION_TIMEOUT_MS } from '../../targets/long-running.js';
import type { FirewallFacts } from '../../targets/kind.js';
import { AGAIN, DEFAULT_INTENT_TTL_MS, type Attempt, type Loaded, type RunContext, type TargetPass } from '../context.js';
import { busy, queued } from '../report.js';
import { adoptedOf, keysOf } from './record.js';

/**
 * The one-writer protocol (see reconcile.ts): before its write a run announces it in the target's
 * record, conditioned on the ETag it loaded; a run that finds another's young intent, or loses
 * the race to save its own, tries once more and then leaves the target to the other run.
 */

/** Whether the record carries another run's intent that still holds the target. */
export function liveIntent(record: AppliedRecord | undefined, ctx: RunContext): boolean {
  const intent = record?.intent;
  if (intent === undefined || intent.runId === ctx.runId) return false;
  // A redelivered shard's own dead delivery: the pass re-reads the firewall and plans as for an expired intent.
  if (ctx.options.writer !== undefined && intent.writer === ctx.options.writer) return false;
  const age = ctx.now().getTime() - Date.parse(intent.startedAt);
  return age < Math.max(ctx.options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS, intent.holdMs ?? 0);
}

/**
 * Another run's young intent in the record: the target is that run's. A judge-only pass leaves it
 * for a direct read; otherwise the pass waits once, then leaves it as VAULT_BUSY.
 */
export function othersIntent(a: Attempt, loaded: Loaded | undefined): TargetPass | typeof AGAIN | undefined {
  const intent = loaded?.record.intent;
  if (intent === undefined || !liveIntent(loaded!.record, a.ctx)) return undefined;
  if (a.ctx.options.judgeOnly === true) return queued(a.target);
  return a.lastTry ? busy(a.target, undefined, `intent of run ${intent.runId} from ${intent.startedAt}`) : AGAIN;
}

/** Time for the reads and the record around a write, beyond the wait for its operation. */
const HOLD_MARGIN_MS = 5 * 60_000;

/**
 * How long an intent keeps other runs off the firewall: at least the run's intent TTL, and for a
 * kind whose write is a long-running operation, longer than tagwall ever waits for one, so no run
 * takes the firewall over while the write it guards is still being waited for.
 */
export function intentHoldMs(kind: FirewallFacts, ttlMs: number, operationTimeoutMs = DEFAULT_OPERATION_TIMEOUT_MS): number {
  return kind.longRunning ? Math.max(ttlMs, operationTimeoutMs + HOLD_MARGIN_MS) : ttlMs;
}

/** What the write is announced as, and the ETag the record has since. */
export interface Announced {
  readonly intent: WriteIntent;
  readonly etag?: string;
}

/**
 * Announces the write. The intent already releases what is about to be removed, so whatever
 * fails afterwards can never leave a record that owns a rule tagwall removed and a person then
 * put back; and what it adds is known, so a run that dies after the PATCH leaves no rule that no
 * record owns.
 */
export async function announce(a: Attempt, plan: TargetPlan, observed: ObservedFirewall, loaded: Loaded | undefined, now: Date): Promise<Announced | TargetPass | typeof AGAIN> {
  const { target, ctx } = a;
  const { options } = ctx;
  const ttlMs = options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS;
  const holdMs = intentHoldMs(target.kind, ttlMs, options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS);
  const added = new Set(plan.add);
  const prior = loaded?.record;
  const intent: WriteIntent = {
    runId: ctx.runId,
    ...(options.writer === undefined ? {} : { writer: options.writer }),
    startedAt: now.toISOString(),
    add: [...plan.add].sort(),
    remove: [...plan.remove].sort(),
    ...(holdMs > ttlMs ? { holdMs } : {}),
  };
  const owned = keysOf(plan.nextOwned.filter((k) => !added.has(k)));
  const record: AppliedRecord = {
    ownedRules: owned,
    ...adoptedOf(prior, plan.adopted, owned),
    observedRules: keysOf(observed.ipRules),
    posture: prior?.posture ?? observed.posture,
    changeNumber: prior?.changeNumber ?? ctx.doc.changeNumber,
    sourceAddresses: prior?.sourceAddresses ?? plan.desired?.stats.sourceAddresses ?? 0,
    ...(prior?.appliedAt === undefined ? {} : { appliedAt: prior.appliedAt }),
    intent,
  };
  try {
    return { intent, etag: (await ctx.deps.state.save(target.resource, record, loaded?.etag)) ?? undefined };
  } catch (e) {
    if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
    return a.lastTry ? busy(target, plan, 'its record changed twice while this run planned') : AGAIN;
  }
}
