import type { Allowlist } from '../core/allowlist.js';
import { isTagwallError } from '../core/errors.js';
import type { Cidr } from '../core/ipv4.js';
import { concurrentChangeError, writtenShape } from '../core/plan/verify.js';
import { normaliseRule } from '../core/rules.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { planTarget, type AppliedRecord, type ObservedFirewall, type PerimeterPosture, type TargetPlan } from '../core/target-plan.js';
import type { TargetConfig } from '../config/config.js';
import type { ReconcileDeps, ReconcileOptions, TargetReport } from './reconcile.js';
import type { FirewallState, PerimeterView } from '../targets/firewall.js';
import { confirmable, recordStandsIn } from '../fleet/judge.js';
import { settledOf, settlementKey } from '../fleet/settled.js';
import { resourceKey } from '../core/resource-id.js';
import { errorOf, report, reason, settledReport, stateError, needsWork } from './report.js';
import { intentHoldMs, readLanding, withdrawnRecord } from './steps/write.js';
import { DEFAULT_OPERATION_TIMEOUT_MS } from '../targets/long-running.js';

// Where reports are built, for the modules that have always imported them from here.
export { desiredOf, needsWork, reason, report } from './report.js';

/**
 * One target's pass: record → read → plan → guard → announce → apply → verify → record, and
 * the one-writer protocol around it (see reconcile.ts). Every decision is the plan's; this
 * file only does the I/O in the order that keeps concurrent runs and failures safe.
 */

const DEFAULT_INTENT_TTL_MS = 10 * 60_000;
const DEFAULT_BUSY_RETRY_MS = 2_000;

function perimeterPosture(view: PerimeterView | undefined): PerimeterPosture | undefined {
  if (view === undefined) return undefined;
  if (view.state === 'associated') return { state: 'associated', ...view.association };
  return view;
}

function observe(fw: FirewallState, perimeter?: PerimeterView): ObservedFirewall {
  const p = perimeterPosture(perimeter);
  return {
    ipRules: fw.ipRules,
    virtualNetworkRuleCount: fw.virtualNetworkRuleCount,
    posture: fw.posture,
    ...(p === undefined ? {} : { perimeter: p }),
    ...(fw.findings === undefined || fw.findings.length === 0 ? {} : { kindFindings: fw.findings }),
    ...(fw.unsupported === undefined ? {} : { unsupported: fw.unsupported }),
    ...(fw.ownedByName === undefined ? {} : { ownedByName: fw.ownedByName }),
    ...(fw.rewrite === true ? { rewrite: true } : {}),
    ...(fw.otherEntries === undefined || fw.otherEntries === 0 ? {} : { otherEntries: fw.otherEntries }),
  };
}

function keysOf(rules: readonly string[]): string[] {
  return [...new Set(rules.map((r) => normaliseRule(r).key))].sort();
}

/** Compares a rule list with keys already normalised and sorted (what keysOf returns). */
function sameSet(a: readonly string[], keys: readonly string[]): boolean {
  const x = keysOf(a);
  return x.length === keys.length && x.every((k, i) => k === keys[i]);
}

/** One vault's pass; recording state is handed back as `record`, for the caller to run when it likes (see settle). */
export interface TargetPass {
  readonly report: TargetReport;
  readonly record?: () => Promise<unknown>;
}

/**
 * Runs the state write after the vault's ARM work. A failed write fails the vault: the rules are
 * in place, but tagwall would not know it owns them.
 */
export async function settle(pass: TargetPass): Promise<TargetReport> {
  if (pass.record === undefined) return pass.report;
  try {
    await pass.record();
    return pass.report;
  } catch (e) {
    // A vault that already failed keeps the error that explains it.
    return pass.report.outcome === 'failed' ? pass.report : { ...pass.report, outcome: 'failed', error: errorOf(e) };
  }
}

export interface RunContext {
  readonly doc: ServiceTagDocument;
  readonly desiredFor: (target: TargetConfig, budget: number, kept: readonly Cidr[], unbounded: boolean) => Allowlist;
  readonly deps: ReconcileDeps;
  readonly options: ReconcileOptions;
  readonly runId: string;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

/** A judge-only pass's answer for a firewall it could not settle: it needs a direct read, by whoever takes it. */
function queued(target: TargetConfig): TargetPass {
  const pending = report(target, 'pending', undefined);
  needsWork.add(pending);
  return { report: pending };
}

function busy(target: TargetConfig, plan: TargetPlan | undefined, why: string): TargetPass {
  return { report: report(target, 'skipped', plan, { reasons: [reason('VAULT_BUSY', `another run is writing this vault (${why}); it is left to that run`)] }) };
}

function liveIntent(record: AppliedRecord | undefined, ctx: RunContext): boolean {
  const intent = record?.intent;
  if (intent === undefined || intent.runId === ctx.runId) return false;
  // A redelivered shard's own dead delivery: the pass re-reads the firewall and plans as for an expired intent.
  if (ctx.options.writer !== undefined && intent.writer === ctx.options.writer) return false;
  const age = ctx.now().getTime() - Date.parse(intent.startedAt);
  return age < Math.max(ctx.options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS, intent.holdMs ?? 0);
}

/**
 * A write refused before it changed anything: an adapter's own refusal before any request
 * (`notSent`), or Azure's 4xx (not a 408, a timeout that may have landed).
 */
function refusedOutright(e: unknown): boolean {
  if (!isTagwallError(e)) return false;
  if (e.values.notSent === true) return true;
  const status = e.values.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408;
}

export async function passTarget(target: TargetConfig, ctx: RunContext): Promise<TargetPass> {
  const { deps, options } = ctx;
  const vault = target.resource;
  let plan: TargetPlan | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      const lastTry = attempt > 0;
      const retry = async () => ctx.sleep(options.busyRetryMs ?? DEFAULT_BUSY_RETRY_MS);
      // The record first, so that the vault's GET is directly followed by its PATCH.
      let loaded: { record: AppliedRecord; etag?: string } | undefined;
      try {
        loaded = await deps.state.load(vault);
      } catch (e) {
        return { report: report(target, 'failed', undefined, { error: stateError(e) }) };
      }
      if (liveIntent(loaded?.record, ctx)) {
        if (options.judgeOnly === true) return queued(target);
        if (!lastTry) {
          await retry();
          continue;
        }
        return busy(target, undefined, `intent of run ${loaded!.record.intent!.runId} from ${loaded!.record.intent!.startedAt}`);
      }
      const row = options.graph?.rows.get(resourceKey(vault));
      // On the first attempt only: a busy vault's record is about to change under it.
      const standIn = lastTry || options.graph === undefined ? undefined : recordStandsIn(target.kind, loaded?.record, row, options.graph, ctx.now());
      if (standIn !== undefined) {
        const prior = loaded!.record;
        // --force changes what guards allow, so a forced run plans every firewall it judges.
        const key = options.force ? undefined : settlementKey(target, ctx.doc);
        if (key !== undefined && prior.settled?.key === key) return { report: settledReport(target, prior.settled) };
        const judged = planTarget({
          firewall: standIn,
          record: loaded?.record,
          settings: target,
          guards: target.guards,
          force: options.force,
          desiredFor: (budget, kept, o) => ctx.desiredFor(target, budget, kept, o?.unbounded === true),
        });
        // Only "nothing to do" is taken from the record; anything to write or report is read first.
        if (!judged.changes && judged.drift.length === 0 && judged.skip === undefined && judged.refusals.length === 0) {
          const inSync = report(target, 'in-sync', judged, { checkedBy: 'resource-graph' });
          const source = judged.desired?.stats.sourceAddresses ?? 0;
          const settled = key === undefined ? undefined : settledOf(judged, key);
          const same = prior.changeNumber === ctx.doc.changeNumber && prior.sourceAddresses === source && JSON.stringify(prior.settled) === JSON.stringify(settled);
          if (options.dryRun || same) return { report: inSync };
          // A new week's file that changes nothing here still moves the record on (the shrink guard
          // compares with it), and the plan is remembered for the next run; no ARM call.
          const { settled: _old, ...rest } = prior;
          const next: AppliedRecord = { ...rest, changeNumber: ctx.doc.changeNumber, sourceAddresses: source, ...(settled === undefined ? {} : { settled }) };
          return {
            report: inSync,
            record: async () => {
              try {
                await deps.state.save(vault, next, loaded?.etag);
              } catch (e) {
                if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
              }
            },
          };
        }
      }
      if (options.judgeOnly === true) return queued(target);
      const [firewall, perimeter] = await Promise.all([deps.firewalls.read(vault), deps.perimeters?.perimeterOf(vault)]);
      const observed = observe(firewall, perimeter);
      plan = planTarget({
        firewall: observed,
        record: loaded?.record,
        settings: target,
        guards: target.guards,
        force: options.force,
        desiredFor: (budget, kept, o) => ctx.desiredFor(target, budget, kept, o?.unbounded === true),
      });
      // IP rules with no effect are not worth a refusal: nothing would be written either way.
      if (plan.skip !== undefined) return { report: report(target, 'skipped', plan, { reasons: [plan.skip] }) };
      if (plan.refusals.length > 0) return { report: report(target, 'refused', plan) };

      // A dry run writes nothing, so it cannot take part in the intent protocol. What it can do
      // is make sure the record it judged by is still the newest: a sync that wrote the vault
      // between its two reads would otherwise look like drift.
      if (options.dryRun && (plan.drift.length > 0 || plan.changes)) {
        let again: { record: AppliedRecord; etag?: string } | undefined;
        try {
          again = await deps.state.load(vault);
        } catch (e) {
          return { report: report(target, 'failed', plan, { error: stateError(e) }) };
        }
        if (again?.etag !== loaded?.etag || liveIntent(again?.record, ctx)) {
          if (!lastTry) {
            await retry();
            continue;
          }
          return busy(target, plan, 'its record changed while it was read');
        }
      }

      const now = ctx.now();
      const source = plan.desired?.stats.sourceAddresses ?? 0;
      const seenOf = (o: ObservedFirewall): NonNullable<AppliedRecord['seen']> => ({
        virtualNetworkRuleCount: o.virtualNetworkRuleCount,
        ...(o.kindFindings === undefined ? {} : { findings: o.kindFindings }),
        ...(o.perimeter === undefined ? {} : { perimeter: o.perimeter }),
      });
      const recordOf = (seen: ObservedFirewall, extra: Pick<AppliedRecord, 'writtenAt' | 'graph' | 'settled'>): AppliedRecord => ({
        ownedRules: keysOf(plan!.nextOwned),
        observedRules: keysOf(seen.ipRules),
        posture: seen.posture,
        changeNumber: ctx.doc.changeNumber,
        sourceAddresses: source,
        appliedAt: now.toISOString(),
        seen: seenOf(seen),
        ...(extra.writtenAt === undefined ? {} : { writtenAt: extra.writtenAt }),
        ...(extra.graph === undefined ? {} : { graph: extra.graph }),
        ...(extra.settled === undefined ? {} : { settled: extra.settled }),
      });

      if (!plan.changes) {
        const prior = loaded?.record;
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
        const record = recordOf(observed, { writtenAt: prior?.writtenAt, graph, settled });
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
        const inSync = report(target, 'in-sync', plan);
        if (options.dryRun || !stale) return { report: inSync };
        return {
          report: inSync,
          record: async () => {
            try {
              await deps.state.save(vault, record, loaded?.etag);
            } catch (e) {
              // Another run recorded the vault meanwhile; its record is at least as new as this one.
              if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
            }
          },
        };
      }
      if (options.dryRun) return { report: report(target, 'pending', plan) };

      // A long-running write is started only when tagwall's longest wait for it ends before the
      // deadline: one the host cut off would leave its intent to expire unconfirmed.
      const operationMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
      if (target.kind.longRunning && options.deadline !== undefined && now.getTime() + operationMs > options.deadline.getTime()) {
        const at = options.deadline.toISOString();
        return { report: report(target, 'skipped', plan, { reasons: [reason('DEADLINE', `the ${target.kind.title}'s write is a long-running operation (waited for up to ${operationMs} ms) that would not end before the run's deadline (${at}); the next run takes it first`, { deadline: at })] }) };
      }
      const holdMs = intentHoldMs(target.kind, options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS, operationMs);

      // Announce the write. The intent already releases what is about to be removed, so whatever
      // fails afterwards can never leave a record that owns a rule tagwall removed and a person
      // then put back; and what it adds is known, so a run that dies after the PATCH leaves no
      // rule that no record owns.
      const added = new Set(plan.add);
      const prior = loaded?.record;
      const intent: AppliedRecord = {
        ownedRules: keysOf(plan.nextOwned.filter((k) => !added.has(k))),
        observedRules: keysOf(observed.ipRules),
        posture: prior?.posture ?? observed.posture,
        changeNumber: prior?.changeNumber ?? ctx.doc.changeNumber,
        sourceAddresses: prior?.sourceAddresses ?? source,
        ...(prior?.appliedAt === undefined ? {} : { appliedAt: prior.appliedAt }),
        intent: { runId: ctx.runId, ...(options.writer === undefined ? {} : { writer: options.writer }), startedAt: now.toISOString(), add: [...plan.add].sort(), remove: [...plan.remove].sort(), ...(holdMs > (options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS) ? { holdMs } : {}) },
      };
      let etag: string | undefined;
      try {
        etag = (await deps.state.save(vault, intent, loaded?.etag)) ?? undefined;
      } catch (e) {
        if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
        if (!lastTry) {
          await retry();
          continue;
        }
        return busy(target, plan, 'its record changed twice while this run planned');
      }

      const writtenAt = now.toISOString();
      // The read after the write asks for no perimeter; the one before it did.
      const recordAfter = (seen: ObservedFirewall) => () => deps.state.save(vault, recordOf({ ...seen, ...(observed.perimeter === undefined ? {} : { perimeter: observed.perimeter }) }, { writtenAt }), etag);
      let answer: FirewallState;
      try {
        answer = await deps.firewalls.write(firewall, { ipRules: plan.nextRules, ...(plan.setDefaultActionDeny ? { defaultAction: 'Deny' as const } : {}) });
      } catch (e) {
        // Withdrawn, the intent leaves the record as it was.
        const fresh: AppliedRecord = { ownedRules: [], observedRules: [], posture: observed.posture, changeNumber: ctx.doc.changeNumber, sourceAddresses: source };
        const withdraw = () => deps.state.save(vault, withdrawnRecord(prior, observed, target.special, fresh), etag);
        const failed = report(target, 'failed', plan, { error: errorOf(e) });
        // Azure refused the write outright: nothing changed.
        if (refusedOutright(e)) return { report: failed, record: withdraw };
        // A 5xx, a timeout or a dropped connection may have landed or not: one read tells (write-landing.ts).
        const landing = await readLanding(() => deps.firewalls.read(vault), intent.intent!, e);
        if (landing.verdict === 'not-landed') return { report: failed, record: withdraw };
        if (landing.verdict === 'landed') return { report: failed, record: recordAfter(observe(landing.seen)) };
        return { report: failed };
      }
      const patched = observe(answer);
      // Key Vault has no ETag: the only way to see a concurrent edit is to read again.
      let after: ObservedFirewall;
      try {
        after = observe(await deps.firewalls.read(vault));
      } catch (e) {
        // The write landed, so what tagwall now owns and removed must still be recorded, or a rule it
        // removed and a person then put back would count as tagwall's again. Unverified, the vault fails.
        return { report: report(target, 'failed', plan, { error: errorOf(e) }), record: recordAfter(patched) };
      }
      const record = recordAfter(after);
      const written = keysOf(plan.nextRules);
      if (!sameSet(after.ipRules, written)) {
        const want = new Set(written);
        const got = new Set(keysOf(after.ipRules));
        const missing = [...want].filter((k) => !got.has(k));
        const unexpected = [...got].filter((k) => !want.has(k));
        const sample = (rules: string[]) => (rules.length > 0 ? ` (${rules.slice(0, 5).join(', ')}${rules.length > 5 ? ', ...' : ''})` : '');
        const error = {
          code: 'VERIFY_MISMATCH' as const,
          message: `the rules read back after the write differ from what was written (a concurrent edit?): ${missing.length} missing${sample(missing)}, ${unexpected.length} unexpected${sample(unexpected)}`,
        };
        return { report: report(target, 'failed', plan, { error }), record };
      }
      // Turning the firewall on is part of the write too: a vault left open must not read as applied.
      if (plan.setDefaultActionDeny && (after.posture.defaultAction ?? '').toLowerCase() !== 'deny') {
        const error = {
          code: 'VERIFY_MISMATCH' as const,
          message: `defaultAction read back after the write is ${after.posture.defaultAction ?? 'unset'}, not the Deny that was written (a concurrent edit?)`,
        };
        return { report: report(target, 'failed', plan, { error }), record };
      }
      const concurrent = concurrentChangeError(writtenShape(observed, plan.setDefaultActionDeny), after);
      if (concurrent !== undefined) return { report: report(target, 'failed', plan, { error: concurrent }), record };
      return { report: report(target, 'applied', plan), record };
    }
  } catch (e) {
    return { report: report(target, 'failed', plan, { error: errorOf(e) }) };
  }
}
