import { isTagwallError } from '../../core/errors.js';
import { normaliseRule } from '../../core/rules.js';
import { resourceKey } from '../../core/resource-id.js';
import type { ServiceTagDocument } from '../../core/service-tags.js';
import type { AppliedRecord, ObservedFirewall, TargetPlan } from '../../core/target-plan.js';
import { confirmable } from '../../fleet/judge.js';
import { settledOf, settlementKey } from '../../fleet/settled.js';
import type { Attempt, Loaded, TargetPass } from '../context.js';
import { ended } from '../report.js';

/**
 * Recording: what the target's record says after the pass. The state write is handed back as the
 * pass's `record`, for the loop to run when it likes (see settle in pass.ts); a failed one fails
 * the target, since tagwall would not know it owns the rules in place.
 */

/**
 * Sorted keys of rule lists already worked out, by the list itself: one written firewall's pass
 * normalised the same lists again and again (the firewall as read for the intent, for the verify
 * and for the record; the plan's for the verify and the record), 300 rules each in a fleet, which
 * was 0.7 s of a week's change at 10,000. Sound because a rule list is never changed once made
 * (firewalls as read, plans and records are readonly throughout); a caller gets its own copy.
 */
const keysByList = new WeakMap<readonly string[], readonly string[]>();

export function keysOf(rules: readonly string[]): string[] {
  let keys = keysByList.get(rules);
  if (keys === undefined) {
    keys = [...new Set(rules.map((r) => normaliseRule(r).key))].sort();
    keysByList.set(rules, keys);
  }
  return [...keys];
}

/** Compares a rule list with keys already normalised and sorted (what keysOf returns). */
export function sameSet(a: readonly string[], keys: readonly string[]): boolean {
  const x = keysOf(a);
  return x.length === keys.length && x.every((k, i) => k === keys[i]);
}

function seenOf(o: ObservedFirewall): NonNullable<AppliedRecord['seen']> {
  return {
    virtualNetworkRuleCount: o.virtualNetworkRuleCount,
    ...(o.kindFindings === undefined ? {} : { findings: o.kindFindings }),
    ...(o.perimeter === undefined ? {} : { perimeter: o.perimeter }),
  };
}

/**
 * What of the owned rules was adopted rather than written: the prior record's adoptions and this
 * plan's, those still owned; absent when there are none (records before `state show` had none).
 */
export function adoptedOf(prior: AppliedRecord | undefined, adopted: readonly string[], owned: readonly string[]): { adoptedRules?: string[] } {
  const mine = new Set(owned);
  const kept = [...new Set([...(prior?.adoptedRules ?? []), ...adopted])].filter((k) => mine.has(k)).sort();
  return kept.length === 0 ? {} : { adoptedRules: kept };
}

/** The record of a firewall seen as `seen`, owning what the plan owns next. */
function recordOf(plan: TargetPlan, doc: ServiceTagDocument, now: Date, seen: ObservedFirewall, extra: Pick<AppliedRecord, 'writtenAt' | 'graph' | 'settled'>, prior?: AppliedRecord): AppliedRecord {
  const owned = keysOf(plan.nextOwned);
  return {
    ownedRules: owned,
    ...adoptedOf(prior, plan.adopted, owned),
    observedRules: keysOf(seen.ipRules),
    posture: seen.posture,
    changeNumber: doc.changeNumber,
    sourceAddresses: plan.desired?.stats.sourceAddresses ?? 0,
    appliedAt: now.toISOString(),
    seen: seenOf(seen),
    ...(extra.writtenAt === undefined ? {} : { writtenAt: extra.writtenAt }),
    ...(extra.graph === undefined ? {} : { graph: extra.graph }),
    ...(extra.settled === undefined ? {} : { settled: extra.settled }),
  };
}

/** Saves a record; another run that recorded the target meanwhile has a record at least as new. */
function saveUnlessOvertaken({ target, ctx }: Attempt, record: AppliedRecord, etag: string | undefined): () => Promise<void> {
  return async () => {
    try {
      await ctx.deps.state.save(target.resource, record, etag);
    } catch (e) {
      if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
    }
  };
}

/**
 * A target judged in step from its record (see judge.ts): a new week's file that changes nothing
 * here still moves the record on (the shrink guard compares with it), and the plan is remembered
 * for the next run; no ARM call.
 */
export function recordJudged(a: Attempt, judged: TargetPlan, loaded: Loaded, key: string | undefined): TargetPass {
  const { target, ctx } = a;
  const prior = loaded.record;
  const inSync = ended(target, 'in-sync', judged, { checkedBy: 'resource-graph' });
  const source = judged.desired?.stats.sourceAddresses ?? 0;
  const settled = key === undefined ? undefined : settledOf(judged, key);
  const same = prior.changeNumber === ctx.doc.changeNumber && prior.sourceAddresses === source && JSON.stringify(prior.settled) === JSON.stringify(settled);
  if (ctx.options.dryRun || same) return inSync;
  const { settled: _old, ...rest } = prior;
  const next: AppliedRecord = { ...rest, changeNumber: ctx.doc.changeNumber, sourceAddresses: source, ...(settled === undefined ? {} : { settled }) };
  return { ...inSync, record: saveUnlessOvertaken(a, next, loaded.etag) };
}

/** A firewall read and found in step: its record is brought up to date, only when anything in it changed. */
export function recordInStep(a: Attempt, plan: TargetPlan, observed: ObservedFirewall, loaded: Loaded | undefined, now: Date): TargetPass {
  const { target, ctx } = a;
  const { options } = ctx;
  const prior = loaded?.record;
  const row = options.graph?.rows.get(resourceKey(target.resource));
  const confirmed = confirmable(target.kind, row, prior?.writtenAt, options.graph, now, observed);
  // A fingerprint confirmed less than a day ago is kept as it was, so an in-step fleet is not rewritten on every run.
  const fresh = prior?.graph !== undefined && prior.graph.fingerprint === confirmed?.fingerprint && now.getTime() - Date.parse(prior.graph.confirmedAt) < (options.graph?.recheckMs ?? 0) / 2;
  const graph = confirmed === undefined ? undefined : fresh ? prior!.graph : { fingerprint: confirmed.fingerprint, confirmedAt: now.toISOString() };
  // The plan is remembered only when it was made against the record it saves: the next run,
  // judging from that record, then makes this same plan (see fleet/settled.ts).
  const unchanged =
    prior !== undefined &&
    prior.intent === undefined &&
    prior.appliedAt !== undefined &&
    sameSet(prior.ownedRules, keysOf(plan.nextOwned)) &&
    sameSet(prior.observedRules, keysOf(observed.ipRules)) &&
    JSON.stringify(prior.posture) === JSON.stringify(observed.posture) &&
    JSON.stringify(prior.seen) === JSON.stringify(seenOf(observed));
  const settled = graph !== undefined && unchanged && !options.force ? settledOf(plan, settlementKey(target, ctx.doc)) : undefined;
  const record = recordOf(plan, ctx.doc, now, observed, { writtenAt: prior?.writtenAt, graph, settled }, prior);
  const stale =
    prior === undefined ||
    prior.intent !== undefined ||
    prior.appliedAt === undefined ||
    !sameSet(prior.ownedRules, record.ownedRules) ||
    !sameSet(prior.observedRules, record.observedRules) ||
    JSON.stringify(prior.posture) !== JSON.stringify(record.posture) ||
    prior.changeNumber !== record.changeNumber ||
    prior.sourceAddresses !== record.sourceAddresses ||
    JSON.stringify(prior.seen) !== JSON.stringify(record.seen) ||
    JSON.stringify(prior.graph) !== JSON.stringify(record.graph) ||
    JSON.stringify(prior.settled) !== JSON.stringify(record.settled);
  const inSync = ended(target, 'in-sync', plan);
  if (options.dryRun || !stale) return inSync;
  return { ...inSync, record: saveUnlessOvertaken(a, record, loaded?.etag) };
}

/**
 * The record after a write that landed, as `seen` shows the firewall: the state write that makes
 * what tagwall added its own. The read after the write asks for no perimeter; the one before it did.
 */
export function recordAfterWrite({ target, ctx }: Attempt, plan: TargetPlan, before: ObservedFirewall, etag: string | undefined, now: Date, prior?: AppliedRecord): (seen: ObservedFirewall) => () => Promise<unknown> {
  const writtenAt = now.toISOString();
  return (seen) => () => ctx.deps.state.save(target.resource, recordOf(plan, ctx.doc, now, { ...seen, ...(before.perimeter === undefined ? {} : { perimeter: before.perimeter }) }, { writtenAt }, prior), etag);
}
