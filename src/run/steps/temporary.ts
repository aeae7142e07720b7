import type { Allowlist } from '../../core/allowlist.js';
import { isTagwallError } from '../../core/errors.js';
import { resourceKey } from '../../core/resource-id.js';
import type { Finding } from '../../core/plan/model.js';
import { expiredFinding, expiringFinding, expiryKey, isActive, isExpiringSoon, noRoomFinding, type TemporaryEntry } from '../../core/temporary.js';
import type { TargetConfig } from '../../config/config.js';
import type { Grant, LoadedGrants } from '../../state/grants.js';
import { AGAIN, type Attempt, type RunContext, type TargetPass } from '../context.js';
import { ended, stateError } from '../report.js';

/**
 * Temporary entries, read after the target's record and before anything is judged or planned: the
 * configuration's dated extras and the grants of `tagwall allow` (kept in the state store). The
 * active ones join the target's extras for this attempt; the expired ones are simply not wanted,
 * so the ordinary plan removes what tagwall owns of them. The grants are read on every attempt, so
 * a grant saved before its own write is seen by any run that plans after that write (a run that
 * planned before it meets the write's intent and plans again).
 *
 * A temporary entry never widens the target's other rules: an entry whose cover admits more excess
 * than the cover without it is left out (TEMPORARY_ENTRY_NO_ROOM), earlier entries first.
 *
 * Each expiry is reported once (TEMPORARY_ENTRY_EXPIRED): after a pass that wrote or found the
 * target in step, an expired grant is dropped from the store, and an expired configured entry is
 * remembered there as reported. A configured entry within a week of its expiry is reported on every
 * pass until then (TEMPORARY_ENTRY_EXPIRING, info), so a reviewer of a dry run sees it coming.
 */

export interface TemporaryStep {
  /** The attempt with the target's extras as this moment has them, and the fitting cover. */
  readonly attempt: Attempt;
  /** The pass's end with the findings of the temporary entries, and their record kept up to date. */
  finish(end: TargetPass | typeof AGAIN): TargetPass | typeof AGAIN;
}

export function grantEntry(g: Grant): TemporaryEntry {
  return { cidr: g.cidr, until: g.until, expiresAt: Date.parse(g.until), ...(g.note === undefined ? {} : { note: g.note }), source: 'grant' };
}

const unchanged = (a: Attempt): TemporaryStep => ({ attempt: a, finish: (end) => end });

export async function temporaryEntries(a: Attempt): Promise<TemporaryStep | TargetPass> {
  const { target, ctx } = a;
  const configured = target.temporary ?? [];
  const repo = ctx.deps.grants;
  const proposal = ctx.options.proposedGrant;
  const proposed = proposal !== undefined && proposal.target === resourceKey(target.resource) ? proposal.grant : undefined;
  // Grants are made for configured targets only; a discovered one has its profile's dated extras.
  const readGrants = repo !== undefined && (target.profile === undefined || configured.length > 0);
  if (!readGrants && configured.length === 0 && proposed === undefined) return unchanged(a);
  let loaded: LoadedGrants | undefined;
  if (readGrants) {
    try {
      loaded = await repo.load(target.resource);
    } catch (e) {
      // Without its grants a run would remove what they allow: the target waits for its state.
      return ended(target, 'failed', undefined, { error: stateError(e) });
    }
  }
  const grants = [...(loaded?.record.grants ?? []), ...(proposed === undefined ? [] : [proposed])];
  const entries = [...configured, ...grants.map(grantEntry)];
  if (entries.length === 0 && loaded?.etag === undefined) return unchanged(a);

  const now = ctx.now();
  const temporary = withTemporary(target, grants, now, ctx.desiredFor);

  const finish = (end: TargetPass | typeof AGAIN): TargetPass | typeof AGAIN => {
    if (end === AGAIN) return end;
    const findings = temporary.findings(new Set(loaded?.record.reported ?? []));
    const report = findings.length === 0 ? end.report : { ...end.report, findings: [...end.report.findings, ...findings] };
    const handled = !ctx.options.dryRun && (end.report.outcome === 'in-sync' || end.report.outcome === 'applied');
    if (!handled || repo === undefined || loaded === undefined) return { ...end, report };
    const keep = loaded.record.grants.filter((g) => isActive(grantEntry(g), now));
    const remember = [...new Set(configured.filter((e) => !isActive(e, now)).map(expiryKey))].sort();
    const same = keep.length === loaded.record.grants.length && JSON.stringify(remember) === JSON.stringify(loaded.record.reported);
    if (same) return { ...end, report };
    const save = async (): Promise<void> => {
      try {
        // On the ETag read: a grant added meanwhile makes this a conflict, and the next run prunes instead.
        await repo.save(target.resource, { ...loaded.record, grants: keep, reported: remember }, loaded.etag);
      } catch {
        // Only the bookkeeping is lost: the next run reports the expiry again and prunes then.
      }
    };
    const record = end.record;
    return { ...end, report, record: async () => {
      if (record !== undefined) await record();
      await save();
    } };
  };
  return { attempt: { ...a, target: temporary.target, ctx: { ...ctx, desiredFor: temporary.desiredFor } }, finish };
}

export interface WithTemporary {
  /** The target with its active entries among its extras (and no `temporary` left). */
  readonly target: TargetConfig;
  /** The cover that takes an active entry only where it widens nothing else. */
  readonly desiredFor: RunContext['desiredFor'];
  /** What the entries come to, once the plan has asked `desiredFor`; `reported` holds the expiries already said (expiryKey). */
  findings(reported: ReadonlySet<string>): Finding[];
}

/**
 * A target's configured dated extras and its grants as `now` has them: the same for a run's pass and
 * for an offline `plan --config --target`, so both allow, leave out and report the same entries.
 */
export function withTemporary(target: TargetConfig, grants: readonly Grant[], now: Date, desiredFor: RunContext['desiredFor']): WithTemporary {
  const entries = [...(target.temporary ?? []), ...grants.map(grantEntry)];
  const active = entries.filter((e) => isActive(e, now));
  const { temporary: _all, ...base } = target;
  // The settlement key (fleet/settled.ts) reads the target: it changes when an entry starts or ends.
  const effective: TargetConfig = { ...base, extra: [...base.extra, ...new Set(active.map((e) => e.cidr))] };
  const fit = fitting(desiredFor, base, active);
  return {
    target: effective,
    desiredFor: fit.desiredFor,
    findings: (reported) => {
      const dropped = fit.dropped();
      // An expired grant still in the store has not been handled yet; a configured one, unless remembered.
      const newlyExpired = entries.filter((e) => !isActive(e, now) && (e.source === 'grant' || !reported.has(expiryKey(e))));
      // An entry left out for want of room is said to be so; its coming expiry would be beside the point.
      const expiring = active.filter((e) => isExpiringSoon(e, now) && !dropped.includes(e));
      return [...newlyExpired.map(expiredFinding), ...dropped.map(noRoomFinding), ...expiring.map(expiringFinding)];
    },
  };
}

/**
 * The cover of the permanent extras, then each active entry added in turn and kept only when the
 * cover with it admits no more (weighted) excess than the cover without it: it takes a free rule,
 * or lies in space already allowed. What the last call left out is `dropped()`.
 */
function fitting(desiredFor: RunContext['desiredFor'], base: TargetConfig, active: readonly TemporaryEntry[]): { desiredFor: RunContext['desiredFor']; dropped(): TemporaryEntry[] } {
  let dropped: TemporaryEntry[] = [];
  const cost = (x: Allowlist) => x.stats.weightedExcess ?? x.stats.excessAddresses;
  return {
    dropped: () => dropped,
    desiredFor: (_t, budget, kept, unbounded, keptRanges) => {
      const cover = (extra: readonly string[]) => desiredFor({ ...base, extra: [...base.extra, ...extra] }, budget, kept, unbounded, keptRanges);
      let accepted: string[] = [];
      let best = cover(accepted);
      const left: TemporaryEntry[] = [];
      for (const e of active) {
        if (accepted.includes(e.cidr)) continue;
        let next: Allowlist;
        try {
          next = cover([...accepted, e.cidr]);
        } catch (err) {
          if (!isTagwallError(err, 'COLLAPSE_INFEASIBLE')) throw err;
          left.push(e);
          continue;
        }
        if (cost(next) <= cost(best)) {
          accepted = [...accepted, e.cidr];
          best = next;
        } else left.push(e);
      }
      dropped = left;
      return best;
    },
  };
}
