import { isTagwallError } from '../../core/errors.js';
import { normaliseRule } from '../../core/rules.js';
import type { AppliedRecord, ObservedFirewall, TargetPlan, WriteIntent } from '../../core/target-plan.js';
import { ownershipOf } from '../../core/plan/ownership.js';
import type { FirewallState } from '../../targets/firewall.js';
import { DEFAULT_OPERATION_TIMEOUT_MS } from '../../targets/long-running.js';
import type { Attempt, Loaded, TargetPass } from '../context.js';
import { ended, errorOf, reason } from '../report.js';
import type { Announced } from './announce.js';
import { observe, type Seen } from './read.js';

/**
 * Writing: the one PATCH (or the kind's long-running operation), started only when it can end
 * before the run's deadline; and when it fails without Azure refusing it, one read to tell
 * whether it landed, so the record says what tagwall now owns.
 */

/**
 * A long-running write is started only when tagwall's longest wait for it ends before the
 * deadline: one the host cut off would leave its intent to expire unconfirmed.
 */
export function tooLate({ target, ctx }: Attempt, plan: TargetPlan, now: Date): TargetPass | undefined {
  const { options } = ctx;
  const operationMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  if (!target.kind.longRunning || options.deadline === undefined || now.getTime() + operationMs <= options.deadline.getTime()) return undefined;
  const at = options.deadline.toISOString();
  return ended(target, 'skipped', plan, { reasons: [reason('DEADLINE', `the ${target.kind.title}'s write is a long-running operation (waited for up to ${operationMs} ms) that would not end before the run's deadline (${at}); the next run takes it first`, { deadline: at })] });
}

/**
 * Writes the plan's rules. A failed write ends the pass as failed, with the record it leaves:
 * withdrawn when nothing changed, as after a write when it landed, untouched when unknown.
 */
export async function write(
  a: Attempt,
  plan: TargetPlan,
  seen: Seen,
  loaded: Loaded | undefined,
  announced: Announced,
  recordAfter: (seen: ObservedFirewall) => () => Promise<unknown>,
): Promise<{ readonly answer: FirewallState } | TargetPass> {
  const { target, ctx } = a;
  try {
    return { answer: await ctx.deps.firewalls.write(seen.firewall, { ipRules: plan.nextRules, ...(plan.setDefaultActionDeny ? { defaultAction: 'Deny' as const } : {}) }) };
  } catch (e) {
    // Withdrawn, the intent leaves the record as it was.
    const fresh: AppliedRecord = { ownedRules: [], observedRules: [], posture: seen.observed.posture, changeNumber: ctx.doc.changeNumber, sourceAddresses: plan.desired?.stats.sourceAddresses ?? 0 };
    const withdraw = () => ctx.deps.state.save(target.resource, withdrawnRecord(loaded?.record, seen.observed, target.special, fresh), announced.etag);
    const failed = ended(target, 'failed', plan, { error: errorOf(e) });
    // Azure refused the write outright: nothing changed.
    if (refusedOutright(e)) return { ...failed, record: withdraw };
    // A 5xx, a timeout or a dropped connection may have landed or not: one read tells.
    const landing = await readLanding(() => ctx.deps.firewalls.read(target.resource), announced.intent, e);
    if (landing.verdict === 'not-landed') return { ...failed, record: withdraw };
    if (landing.verdict === 'landed') return { ...failed, record: recordAfter(observe(landing.seen)) };
    return failed;
  }
}

/**
 * A write refused before it changed anything: an adapter's own refusal before any request
 * (`notSent`), or Azure's 4xx (not a 408, a timeout that may have landed).
 */
function refusedOutright(e: unknown): boolean {
  if (!isTagwallError(e)) return false;
  if (e.values.notSent === true) return true;
  // A write of several requests that failed after some of them: something changed (named-range-firewall.ts).
  if (e.values.partial === true) return false;
  const status = e.values.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408;
}

/**
 * What became of a write that failed without Azure refusing it (a 5xx, a timeout, a dropped
 * connection): it may or may not have landed. The write is one request, so one read tells,
 * unless someone else's hand was in the firewall meanwhile:
 * - `landed`: the whole intent shows (every rule it added present, every rule it removed gone);
 *   the run records the firewall as after a write;
 * - `not-landed`: none of it shows, and nothing can still make it land; the intent is withdrawn,
 *   so a rule a person adds later is never taken for one this write added;
 * - `unknown`: the read failed, part of the intent shows, or a long-running operation tagwall
 *   stopped waiting for may still finish; the intent stays, and a later run claims what it added
 *   only if it then shows whole (see core/plan/ownership.ts).
 */
export type Landing = { readonly verdict: 'landed'; readonly seen: FirewallState } | { readonly verdict: 'not-landed' | 'unknown' };

/** A long-running operation tagwall stopped waiting for goes on in Azure: not seeing it yet proves nothing. */
function mayStillLand(e: unknown): boolean {
  return isTagwallError(e, 'TARGET_OPERATION_TIMEOUT');
}

export function landingOf(rules: readonly string[], intent: Pick<WriteIntent, 'add' | 'remove'>, error: unknown): Landing['verdict'] {
  const present = new Set(rules.map((r) => normaliseRule(r).key));
  const adds = intent.add.map((r) => normaliseRule(r).key);
  const removes = intent.remove.map((r) => normaliseRule(r).key);
  if (adds.every((k) => present.has(k)) && removes.every((k) => !present.has(k))) return 'landed';
  if (adds.every((k) => !present.has(k)) && removes.every((k) => present.has(k)) && !mayStillLand(error)) return 'not-landed';
  return 'unknown';
}

/** Reads the firewall once after the failed write and judges it; a failed read leaves it unknown. */
export async function readLanding(read: () => Promise<FirewallState>, intent: Pick<WriteIntent, 'add' | 'remove'>, error: unknown): Promise<Landing> {
  let seen: FirewallState;
  try {
    seen = await read();
  } catch {
    return { verdict: 'unknown' };
  }
  const verdict = landingOf(seen.ipRules, intent, error);
  return verdict === 'landed' ? { verdict, seen } : { verdict };
}

/**
 * The record a withdrawn intent leaves: the one before it. When that one carried another run's
 * expired intent, this run's read has judged it already (claimed or not, see ownership.ts), so
 * the record becomes what that judgement found, without the old intent: kept, the old intent
 * could be claimed later, once a person had added the rest of it by hand.
 */
export function withdrawnRecord(
  prior: AppliedRecord | undefined,
  seen: { readonly ipRules: readonly string[]; readonly ownedByName?: readonly string[] },
  special: readonly string[],
  fresh: AppliedRecord,
): AppliedRecord {
  if (prior === undefined) return fresh;
  if (prior.intent === undefined) return prior;
  const { intent: _judged, ...rest } = prior;
  const owned = ownershipOf(seen.ipRules, prior, special, seen.ownedByName).owned;
  return { ...rest, ownedRules: [...owned].sort(), observedRules: [...new Set(seen.ipRules.map((r) => normaliseRule(r).key))].sort() };
}
