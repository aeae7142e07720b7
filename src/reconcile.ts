import { collapseAllowlist, prepareAllowlist, relevantKept, type Allowlist, type AllowlistSource } from './core/allowlist.js';
import { describeError, isTagwallError, TagwallError, type ErrorCode } from './core/errors.js';
import { formatCidr, type Cidr } from './core/ipv4.js';
import { normaliseRule } from './core/rules.js';
import { selectTags, splitSelectors, TagIndex } from './core/selection.js';
import type { ServiceTagDocument } from './core/service-tags.js';
import { azureSpace, explainWidening, type WideningReport } from './core/explain.js';
import { planVault, type AppliedRecord, type Drift, type Finding, type ObservedFirewall, type PerimeterPosture, type Reason, type RuleCounts, type VaultPlan } from './core/vault-plan.js';
import type { VaultRef } from './core/vault-id.js';
import type { TagwallConfig, TargetConfig } from './config.js';
import type { FirewallState, FirewallTarget, PerimeterLookup, PerimeterView } from './targets/firewall.js';

/**
 * The one loop: for each vault, record → read → plan → guard → announce → apply → verify →
 * record. All the decisions are in core/vault-plan.ts; this file does the I/O around them,
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

export type VaultOutcome = 'in-sync' | 'applied' | 'pending' | 'refused' | 'skipped' | 'failed';

export interface VaultReport {
  readonly vault: string;
  readonly outcome: VaultOutcome;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly unmanaged: readonly string[];
  readonly shared: readonly string[];
  readonly adopted: readonly string[];
  readonly rules: RuleCounts;
  readonly excessAddresses: number;
  readonly drift: readonly Drift[];
  readonly findings: readonly Finding[];
  /** Why a write was refused or skipped. */
  readonly reasons: readonly Reason[];
  /** Guards that --force overrode. */
  readonly forced?: readonly Reason[];
  readonly mode: TargetConfig['mode'];
  /** With `widen.prefer: "azure"`: the weighted excess the collapse minimised, beside the plain excessAddresses. */
  readonly weightedExcess?: number;
  /** Every rule that admits addresses beyond the source, and into whose space (see core/explain.ts). */
  readonly widening?: WideningReport;
  /** Why the vault failed; `azureCode` and `status` when Azure itself refused (e.g. a validation error). */
  readonly error?: { readonly code: ErrorCode; readonly message: string; readonly azureCode?: string; readonly status?: number };
}

export interface VaultStateAccess {
  load(vault: VaultRef): Promise<{ record: AppliedRecord; etag?: string } | undefined>;
  /** Returns the new ETag, when the store has one. Throws STATE_CONFLICT when the ETag moved on. */
  save(vault: VaultRef, record: AppliedRecord, etag?: string): Promise<string | void>;
}

export interface ReconcileDeps {
  readonly firewalls: FirewallTarget;
  readonly state: VaultStateAccess;
  /** Reads perimeter associations; without it, no perimeter finding is made. */
  readonly perimeters?: PerimeterLookup;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onVaultDone?: (report: VaultReport, done: number, total: number) => void;
}

export interface ReconcileOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  /** Only these vaults (resource IDs, any case). */
  readonly vaults?: readonly string[];
  /** Identifies this run in intents; one per run. */
  readonly runId?: string;
  /** No vault is started at or after this time; those left are skipped with DEADLINE. */
  readonly deadline?: Date;
  /** Vaults (lowercased resource IDs) to start first, e.g. those a deadline cut off last time. */
  readonly first?: ReadonlySet<string>;
  /** How long another run's intent keeps the vault busy. Default 10 minutes (the Functions timeout). */
  readonly intentTtlMs?: number;
  /** The pause before re-reading a busy vault. Default 2 s. */
  readonly busyRetryMs?: number;
}

export const DEFAULT_INTENT_TTL_MS = 10 * 60_000;
const DEFAULT_BUSY_RETRY_MS = 2_000;

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

function reason(code: Reason['code'], message: string, values: Record<string, string | number | boolean> = {}): Reason {
  return { code, message, ...values };
}

/** The allowlist each report was planned with, for the widening explanation added once the vault is settled. */
const desiredOf = new WeakMap<VaultReport, Allowlist>();

function report(target: TargetConfig, outcome: VaultOutcome, plan: VaultPlan | undefined, extra: Partial<VaultReport> = {}): VaultReport {
  const r = build(target, outcome, plan, extra);
  if (plan?.desired !== undefined) desiredOf.set(r, plan.desired);
  return r;
}

function build(target: TargetConfig, outcome: VaultOutcome, plan: VaultPlan | undefined, extra: Partial<VaultReport>): VaultReport {
  return {
    vault: target.resource.id,
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
    ...(plan?.desired?.stats.weightedExcess === undefined ? {} : { weightedExcess: plan.desired.stats.weightedExcess }),
    ...(plan !== undefined && plan.forced.length > 0 ? { forced: plan.forced } : {}),
    ...extra,
  };
}

function errorOf(e: unknown): NonNullable<VaultReport['error']> {
  if (e instanceof TagwallError) {
    const { azureCode, status } = e.values;
    return { code: e.code, message: describeError(e), ...(typeof azureCode === 'string' ? { azureCode } : {}), ...(typeof status === 'number' ? { status } : {}) };
  }
  return { code: 'INTERNAL', message: describeError(e) };
}

/** A record that cannot be read is never "no record yet": that would make every rule a stranger's and adopt anew. */
function stateError(e: unknown): { code: ErrorCode; message: string } {
  const code: ErrorCode = isTagwallError(e, 'STATE_CORRUPT') ? 'STATE_CORRUPT' : 'STATE_UNAVAILABLE';
  return { code, message: `${describeError(e)}; the vault is left as it is until its state can be read` };
}

/** One vault's pass; recording state is handed back as `record`, for the caller to run when it likes (see settle). */
interface VaultPass {
  readonly report: VaultReport;
  readonly record?: () => Promise<unknown>;
}

/**
 * Runs the state write after the vault's ARM work. A failed write fails the vault: the rules are
 * in place, but tagwall would not know it owns them.
 */
async function settle(pass: VaultPass): Promise<VaultReport> {
  if (pass.record === undefined) return pass.report;
  try {
    await pass.record();
    return pass.report;
  } catch (e) {
    // A vault that already failed keeps the error that explains it.
    return pass.report.outcome === 'failed' ? pass.report : { ...pass.report, outcome: 'failed', error: errorOf(e) };
  }
}

interface RunContext {
  readonly doc: ServiceTagDocument;
  readonly desiredFor: (target: TargetConfig, budget: number, kept: readonly Cidr[], unbounded: boolean) => Allowlist;
  readonly deps: ReconcileDeps;
  readonly options: ReconcileOptions;
  readonly runId: string;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

function busy(target: TargetConfig, plan: VaultPlan | undefined, why: string): VaultPass {
  return { report: report(target, 'skipped', plan, { reasons: [reason('VAULT_BUSY', `another run is writing this vault (${why}); it is left to that run`)] }) };
}

function liveIntent(record: AppliedRecord | undefined, ctx: RunContext): boolean {
  const intent = record?.intent;
  if (intent === undefined || intent.runId === ctx.runId) return false;
  const age = ctx.now().getTime() - Date.parse(intent.startedAt);
  return age < (ctx.options.intentTtlMs ?? DEFAULT_INTENT_TTL_MS);
}

async function passVault(target: TargetConfig, ctx: RunContext): Promise<VaultPass> {
  const { deps, options } = ctx;
  const vault = target.resource;
  let plan: VaultPlan | undefined;
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
        if (!lastTry) {
          await retry();
          continue;
        }
        return busy(target, undefined, `intent of run ${loaded!.record.intent!.runId} from ${loaded!.record.intent!.startedAt}`);
      }
      const [firewall, perimeter] = await Promise.all([deps.firewalls.read(vault), deps.perimeters?.perimeterOf(vault)]);
      const observed = observe(firewall, perimeter);
      plan = planVault({
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
      const recordOf = (rules: readonly string[], posture: ObservedFirewall['posture']): AppliedRecord => ({
        ownedRules: keysOf(plan!.nextOwned),
        observedRules: keysOf(rules),
        posture,
        changeNumber: ctx.doc.changeNumber,
        sourceAddresses: source,
        appliedAt: now.toISOString(),
      });

      if (!plan.changes) {
        const record = recordOf(observed.ipRules, observed.posture);
        const prior = loaded?.record;
        const stale =
          prior === undefined ||
          prior.intent !== undefined ||
          prior.appliedAt === undefined ||
          !sameSet(prior.ownedRules, record.ownedRules) ||
          !sameSet(prior.observedRules, record.observedRules) ||
          JSON.stringify(prior.posture) !== JSON.stringify(record.posture) ||
          prior.changeNumber !== record.changeNumber ||
          prior.sourceAddresses !== record.sourceAddresses;
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
        intent: { runId: ctx.runId, startedAt: now.toISOString(), add: [...plan.add].sort(), remove: [...plan.remove].sort() },
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

      const patched = observe(await deps.firewalls.write(firewall, { ipRules: plan.nextRules, ...(plan.setDefaultActionDeny ? { defaultAction: 'Deny' as const } : {}) }));
      const recordAfter = (seen: ObservedFirewall) => () => deps.state.save(vault, recordOf(seen.ipRules, seen.posture), etag);
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
      return { report: report(target, 'applied', plan), record };
    }
  } catch (e) {
    return { report: report(target, 'failed', plan, { error: errorOf(e) }) };
  }
}

/** Memoises allowlists per selection, budget and the kept rules that matter to the cover. */
function allowlists(doc: ServiceTagDocument, index: TagIndex): RunContext['desiredFor'] {
  const prepared = new Map<string, AllowlistSource>();
  const collapsed = new Map<string, Allowlist>();
  return (t, budget, kept, unbounded) => {
    const sourceKey = JSON.stringify([t.select, t.extra, t.exclude]);
    let p = prepared.get(sourceKey);
    if (p === undefined) {
      p = prepareAllowlist(doc, { select: splitSelectors(t.select), extra: t.extra, exclude: t.exclude }, index);
      prepared.set(sourceKey, p);
    }
    const relevant = relevantKept(p, kept);
    const bound = unbounded ? 0 : t.guards.maxWidenedPrefix;
    const weight = t.widen.prefer === 'azure' ? t.widen.outsideAzureWeight : 0;
    const key = `${sourceKey}|${t.split31}|${budget}|${bound}|${weight}|${relevant.map(formatCidr).sort().join(',')}`;
    let a = collapsed.get(key);
    if (a === undefined) {
      a = collapseAllowlist(p, {
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

/** Runs every selected target, `concurrency` at a time; the order of the reports follows the config. */
export async function reconcile(config: TagwallConfig, doc: ServiceTagDocument, deps: ReconcileDeps, options: ReconcileOptions): Promise<VaultReport[]> {
  const targets = selectTargets(config, options.vaults);
  const index = new TagIndex(doc);
  checkSelectors(doc, targets, index);
  const now = deps.now ?? (() => new Date());
  const ctx: RunContext = {
    doc,
    desiredFor: allowlists(doc, index),
    deps,
    options,
    runId: options.runId ?? `run-${now().toISOString()}-${Math.random().toString(36).slice(2, 10)}`,
    now,
    sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  };
  // Vaults a deadline cut off last time go first, so none of them waits two runs.
  const order = targets.map((_, i) => i);
  if (options.first !== undefined && options.first.size > 0) {
    const first = options.first;
    order.sort((a, b) => Number(first.has(targets[b]!.resource.id.toLowerCase())) - Number(first.has(targets[a]!.resource.id.toLowerCase())) || a - b);
  }
  // Vaults that share a selection share an allowlist: explain each once.
  const explained = new Map<Allowlist, WideningReport>();
  const explain = (a: Allowlist) => {
    let w = explained.get(a);
    if (w === undefined) explained.set(a, (w = explainWidening(a, doc)));
    return w;
  };
  const reports: Promise<VaultReport>[] = new Array(targets.length);
  let next = 0;
  let done = 0;
  // `concurrency` bounds the vaults talking to ARM at once. Recording state is not ARM work, so a
  // worker moves on to its next vault while the record is written (the file store batches them).
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++]!;
      const target = targets[i]!;
      const pass: VaultPass =
        options.deadline !== undefined && now().getTime() >= options.deadline.getTime()
          ? { report: report(target, 'skipped', undefined, { reasons: [reason('DEADLINE', `the run reached its deadline (${options.deadline.toISOString()}) before this vault; the next run takes it first`, { deadline: options.deadline.toISOString() })] }) }
          : await passVault(target, ctx);
      const desired = desiredOf.get(pass.report);
      reports[i] = settle(pass).then((settled) => {
        const r = desired === undefined ? settled : { ...settled, widening: explain(desired) };
        deps.onVaultDone?.(r, ++done, targets.length);
        return r;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, targets.length) }, worker));
  return Promise.all(reports);
}
