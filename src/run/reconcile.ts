import { collapseAllowlist, prepareAllowlist, relevantKept, relevantKeptRanges, type Allowlist, type AllowlistSource } from '../core/allowlist.js';
import { describeError, TagwallError } from '../core/errors.js';
import { formatCidr } from '../core/ipv4.js';
import { rangeKey } from '../core/rules.js';
import { selectTags, splitSelectors, TagIndex } from '../core/selection.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { azureSpace, type WideningReport } from '../core/explain.js';
import { explainCover } from '../core/explain-cover.js';
import type { TargetReport } from '../core/report.js';
import type { TagwallConfig, TargetConfig } from '../config/config.js';
import { SubscriptionSchedule, takeOrder, type ScheduleEntry } from '../fleet/schedule.js';
import type { ReconcileDeps, ReconcileOptions, RunContext, TargetPass } from './context.js';
import { passTarget, settle } from './pass.js';
import { reason, report } from './report.js';

/**
 * The one loop: for each vault, record → read → plan → guard → announce → apply → verify →
 * record. All the decisions are in core/target-plan.ts; this file does the I/O around them,
 * keeps one vault's failure from touching any other, and makes sure that of several runs
 * planning the same vault at once, at most one writes it.
 *
 * One writer: before its PATCH a run writes an intent into the vault's record, conditioned on
 * the ETag it loaded (If-None-Match on first contact). A run that loses that race, or finds a
 * young intent of another run, re-reads and re-plans once, then gives up as VAULT_BUSY. Key
 * Vault itself has no ETag, so a person's edit between tagwall's GET and PATCH is the window
 * that remains: the record is loaded before the GET and the PATCH follows the GET directly
 * (one state write apart), and the verifying read catches an edit made after the PATCH.
 */

/** Checks every target's selectors against the document, all at once, before any request. */
export function checkSelectors(doc: ServiceTagDocument, targets: readonly TargetConfig[], index = new TagIndex(doc)): void {
  const problems: string[] = [];
  // Many targets share one selection; check each distinct one once.
  const verdicts = new Map<string, string | undefined>();
  targets.forEach((t, i) => {
    const key = JSON.stringify(t.select);
    if (!verdicts.has(key)) {
      try {
        selectTags(index, splitSelectors(t.select));
        verdicts.set(key, undefined);
      } catch (e) {
        verdicts.set(key, describeError(e).replace(/\n\s*-\s*/g, '; '));
      }
    }
    const problem = verdicts.get(key);
    if (problem !== undefined) problems.push(`targets[${i}].select (${t.resource.name}): ${problem}`);
  });
  if (problems.length > 0) {
    throw new TagwallError('CONFIG_INVALID', `${problems.length} target${problems.length === 1 ? '' : 's'} select tags that ${doc.source} does not have`, { details: problems });
  }
}

/**
 * Every profile's selectors, checked before discovery names any firewall: a profile that selects
 * a tag the document does not have must stop the run even when no firewall carries it yet.
 */
export function checkProfileSelectors(doc: ServiceTagDocument, config: TagwallConfig, index = new TagIndex(doc)): void {
  const problems: string[] = [];
  for (const { name, settings } of config.profiles.values()) {
    try {
      selectTags(index, splitSelectors(settings.select));
    } catch (e) {
      problems.push(`profiles.${name}.select: ${describeError(e).replace(/\n\s*-\s*/g, '; ')}`);
    }
  }
  if (problems.length > 0) {
    throw new TagwallError('CONFIG_INVALID', `${problems.length} profile${problems.length === 1 ? '' : 's'} select tags that ${doc.source} does not have`, { details: problems });
  }
}

export function selectTargets(config: TagwallConfig, vaults: readonly string[] | undefined): TargetConfig[] {
  if (vaults === undefined || vaults.length === 0) return [...config.targets];
  const wanted = new Map(vaults.map((v) => [v.trim().replace(/\/$/, '').toLowerCase(), v]));
  const picked = config.targets.filter((t) => wanted.delete(t.resource.id.toLowerCase()));
  if (wanted.size > 0) {
    throw new TagwallError('VAULT_NOT_CONFIGURED', `not a configured target: ${[...wanted.values()].join(', ')}`, {
      details: config.targets.map((t) => `configured: ${t.resource.id}`).slice(0, 20),
    });
  }
  return picked;
}

/** Memoises allowlists per selection, budget and the kept rules that matter to the cover. */
function allowlists(doc: ServiceTagDocument, index: TagIndex): RunContext['desiredFor'] {
  const prepared = new Map<string, AllowlistSource>();
  const collapsed = new Map<string, Allowlist>();
  return (t, budget, kept, unbounded, keptRanges) => {
    const sourceKey = JSON.stringify([t.select, t.extra, t.exclude]);
    let p = prepared.get(sourceKey);
    if (p === undefined) {
      p = prepareAllowlist(doc, { select: splitSelectors(t.select), extra: t.extra, exclude: t.exclude }, index);
      prepared.set(sourceKey, p);
    }
    // The kind's rule shape picks the collapse: the CIDR DP, or the range optimum for start/end rules.
    const range = t.ruleShape === 'range';
    const relevant = range ? [] : relevantKept(p, kept);
    const relevantRanges = range ? relevantKeptRanges(p, keptRanges ?? []) : [];
    const bound = unbounded ? 0 : t.guards.maxWidenedPrefix;
    const weight = t.widen.prefer === 'azure' ? t.widen.outsideAzureWeight : 0;
    const keptKey = range ? `range:${relevantRanges.map(rangeKey).sort().join(',')}` : relevant.map(formatCidr).sort().join(',');
    const key = `${sourceKey}|${t.split31}|${budget}|${bound}|${weight}|${keptKey}`;
    let a = collapsed.get(key);
    if (a === undefined) {
      a = collapseAllowlist(p, {
        ...(range ? { shape: 'range' as const, keptRanges: relevantRanges } : {}),
        maxRules: budget,
        split31: t.split31,
        kept: relevant,
        maxWidenedPrefix: bound,
        ...(weight === 0 ? {} : { weights: { inside: azureSpace(doc), outsideWeight: weight } }),
      });
      collapsed.set(key, a);
    }
    return a;
  };
}

/**
 * A document's index and allowlists, shared by every run of this process over the same document:
 * a queue worker takes shard after shard of one run, each a run of its own, and collapsing the
 * same profiles again for each was most of a shard's CPU. The document is immutable (shards get
 * the same object from fleet/documents.ts), so what it yields can be kept as long as it lives.
 */
const byDocument = new WeakMap<ServiceTagDocument, { index: TagIndex; desiredFor: RunContext['desiredFor'] }>();
const explanations = new WeakMap<Allowlist, WideningReport>();

function perDocument(doc: ServiceTagDocument): { index: TagIndex; desiredFor: RunContext['desiredFor'] } {
  let entry = byDocument.get(doc);
  if (entry === undefined) {
    const index = new TagIndex(doc);
    entry = { index, desiredFor: allowlists(doc, index) };
    byDocument.set(doc, entry);
  }
  return entry;
}

/** How sync builds a target's allowlist from a document: `tagwall plan` plans with the very same (src/cli/plan.ts). */
export function desiredForDocument(doc: ServiceTagDocument): RunContext['desiredFor'] {
  return perDocument(doc).desiredFor;
}

/** Runs every selected target, `concurrency` at a time and subscriptions in turn (fleet/schedule.ts); the order of the reports follows the config. */
export async function reconcile(config: TagwallConfig, doc: ServiceTagDocument, deps: ReconcileDeps, options: ReconcileOptions): Promise<TargetReport[]> {
  return (await reconcilePasses(config, doc, deps, options)).map((p) => p.report);
}

/** A target's pass once its record is written: the report, and whether a judge-only pass left it for a direct read. */
export interface SettledPass {
  readonly report: TargetReport;
  readonly needsWork?: true;
}

/** What reconcile does, with each report's `needsWork` beside it. */
export async function reconcilePasses(config: TagwallConfig, doc: ServiceTagDocument, deps: ReconcileDeps, options: ReconcileOptions): Promise<SettledPass[]> {
  const targets = options.targets !== undefined ? [...options.targets] : selectTargets(config, options.vaults);
  const { index, desiredFor } = perDocument(doc);
  checkSelectors(doc, targets, index);
  const now = deps.now ?? (() => new Date());
  const ctx: RunContext = {
    doc,
    desiredFor,
    deps,
    options,
    runId: options.runId ?? `run-${now().toISOString()}-${Math.random().toString(36).slice(2, 10)}`,
    now,
    sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  };
  const order = firstOrder(targets, options.first);
  // Vaults that share a selection share an allowlist: explain each once.
  const explained = explanations;
  const explain = (a: Allowlist) => {
    let w = explained.get(a);
    if (w === undefined) explained.set(a, (w = explainCover(a, doc)));
    return w;
  };
  const reports: Promise<SettledPass>[] = new Array(targets.length);
  let done = 0;
  const schedule = new SubscriptionSchedule(
    scheduleEntries(targets, order, options.first),
    { perSubscription: config.concurrencyPerSubscription, ...(deps.throttled === undefined ? {} : { blocked: deps.throttled }) },
  );
  // Workers with nothing they may start (every subscription left is at its cap) wait for one to finish.
  const idle: (() => void)[] = [];
  // `concurrency` bounds the vaults talking to ARM at once. Recording state is not ARM work, so a
  // worker moves on to its next vault while the record is written (the file store batches them).
  const worker = async () => {
    while (schedule.pending > 0) {
      const k = schedule.take();
      if (k === undefined) {
        await new Promise<void>((r) => idle.push(r));
        continue;
      }
      const i = order[k]!;
      const target = targets[i]!;
      const pass: TargetPass =
        options.deadline !== undefined && now().getTime() >= options.deadline.getTime()
          ? { report: report(target, 'skipped', undefined, { reasons: [reason('DEADLINE', `the run reached its deadline (${options.deadline.toISOString()}) before this target; the next run takes it first`, { deadline: options.deadline.toISOString() })] }) }
          : await passTarget(target, ctx);
      // A pass reports its failures rather than throwing them, so its slot is always given back here.
      schedule.release(k);
      for (const wake of idle.splice(0)) wake();
      reports[i] = settle(pass).then((settled) => {
        const r = pass.desired === undefined ? settled : { ...settled, widening: explain(pass.desired) };
        deps.onTargetDone?.(r, ++done, targets.length);
        return pass.needsWork === true ? { report: r, needsWork: true } : { report: r };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, targets.length) }, worker));
  return Promise.all(reports);
}

/** Vaults a deadline cut off last time go first, so none of them waits two runs: positions into `targets`. */
function firstOrder(targets: readonly TargetConfig[], first: ReadonlySet<string> | undefined): number[] {
  const order = targets.map((_, i) => i);
  if (first !== undefined && first.size > 0) {
    order.sort((a, b) => Number(first.has(targets[b]!.resource.id.toLowerCase())) - Number(first.has(targets[a]!.resource.id.toLowerCase())) || a - b);
  }
  return order;
}

function scheduleEntries(targets: readonly TargetConfig[], order: readonly number[], first: ReadonlySet<string> | undefined): ScheduleEntry[] {
  return order.map((i) => ({ subscription: targets[i]!.resource.subscriptionId, first: first?.has(targets[i]!.resource.id.toLowerCase()) === true }));
}

/**
 * The targets in the order reconcilePasses starts them while ARM throttles no subscription (the
 * cut-off ones first, then subscriptions in turn): the order the run reads their records ahead in.
 */
export function scheduledOrder<T extends TargetConfig>(targets: readonly T[], first?: ReadonlySet<string>): T[] {
  const order = firstOrder(targets, first);
  return takeOrder(scheduleEntries(targets, order, first)).map((k) => targets[order[k]!]!);
}
