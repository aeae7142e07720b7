import { isTagwallError } from '../../core/errors.js';
import { normaliseRule } from '../../core/rules.js';
import type { AppliedRecord, WriteIntent } from '../../core/plan/model.js';
import { ownershipOf } from '../../core/plan/ownership.js';
import type { FirewallState } from '../../targets/firewall.js';
import { DEFAULT_OPERATION_TIMEOUT_MS } from '../../targets/long-running.js';
import type { FirewallFacts } from '../../targets/kind.js';

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
