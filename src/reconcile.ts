import { buildAllowlist, type Allowlist } from './core/allowlist.js';
import { describeError, TagwallError } from './core/errors.js';
import { normaliseRule } from './core/rules.js';
import { selectTags, splitSelectors, TagIndex } from './core/selection.js';
import type { ServiceTagDocument } from './core/service-tags.js';
import { planVault, type AppliedRecord, type Drift, type Finding, type Guards, type ObservedFirewall, type VaultPlan } from './core/vault-plan.js';
import type { VaultRef } from './core/vault-id.js';
import type { TagwallConfig, TargetConfig } from './config.js';
import type { FirewallTarget, VaultFirewall } from './targets/firewall.js';

/**
 * The one loop: for each vault, read → plan → guard → apply → verify → record. All the
 * decisions are in core/vault-plan.ts; this file only does the I/O around them, and keeps
 * one vault's failure from touching any other.
 */

export type VaultOutcome = 'in-sync' | 'applied' | 'pending' | 'refused' | 'skipped' | 'failed';

export interface VaultReport {
  readonly vault: string;
  readonly outcome: VaultOutcome;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly unmanaged: readonly string[];
  readonly rules: { readonly managed: number; readonly unmanaged: number; readonly limit: number };
  readonly excessAddresses: number;
  readonly drift: readonly Drift[];
  readonly findings: readonly Finding[];
  /** Why a write was refused or skipped, and guards overridden by --force. */
  readonly reasons: readonly string[];
  readonly forced?: readonly string[];
  readonly mode: TargetConfig['mode'];
  readonly error?: { readonly code: string; readonly message: string };
}

export interface VaultStateAccess {
  load(vault: VaultRef): Promise<{ record: AppliedRecord; etag?: string } | undefined>;
  /** Returns the new ETag, when the store has one. */
  save(vault: VaultRef, record: AppliedRecord, etag?: string): Promise<string | void>;
}

export interface ReconcileDeps {
  readonly firewalls: FirewallTarget;
  readonly state: VaultStateAccess;
  readonly now?: () => Date;
  readonly onVaultDone?: (report: VaultReport, done: number, total: number) => void;
}

export interface ReconcileOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  /** Only these vaults (resource IDs, any case). */
  readonly vaults?: readonly string[];
}

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
    if (problem !== undefined) problems.push(`targets[${i}].select (${t.vault.name}): ${problem}`);
  });
  if (problems.length > 0) {
    throw new TagwallError('CONFIG_INVALID', `${problems.length} target${problems.length === 1 ? '' : 's'} select tags that ${doc.source} does not have`, { details: problems });
  }
}

export function selectTargets(config: TagwallConfig, vaults: readonly string[] | undefined): TargetConfig[] {
  if (vaults === undefined || vaults.length === 0) return [...config.targets];
  const wanted = new Map(vaults.map((v) => [v.trim().replace(/\/$/, '').toLowerCase(), v]));
  const picked = config.targets.filter((t) => wanted.delete(t.vault.id.toLowerCase()));
  if (wanted.size > 0) {
    throw new TagwallError('VAULT_NOT_CONFIGURED', `not a configured target: ${[...wanted.values()].join(', ')}`, {
      details: config.targets.map((t) => `configured: ${t.vault.id}`).slice(0, 20),
    });
  }
  return picked;
}

function observe(fw: VaultFirewall): ObservedFirewall {
  return {
    ipRules: (fw.networkAcls?.ipRules ?? []).map((r) => r.value),
    virtualNetworkRuleCount: fw.networkAcls?.virtualNetworkRules.length ?? 0,
    posture: {
      ...(fw.networkAcls?.defaultAction === undefined ? {} : { defaultAction: fw.networkAcls.defaultAction }),
      ...(fw.networkAcls?.bypass === undefined ? {} : { bypass: fw.networkAcls.bypass }),
      ...(fw.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: fw.publicNetworkAccess }),
    },
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

function report(target: TargetConfig, outcome: VaultOutcome, plan: VaultPlan | undefined, extra: Partial<VaultReport> = {}): VaultReport {
  return {
    vault: target.vault.id,
    outcome,
    add: plan?.add ?? [],
    remove: plan?.remove ?? [],
    unmanaged: plan?.unmanaged ?? [],
    rules: plan?.rules ?? { managed: 0, unmanaged: 0, limit: target.maxRules },
    excessAddresses: plan?.desired?.stats.excessAddresses ?? 0,
    drift: plan?.drift ?? [],
    findings: plan?.findings ?? [],
    reasons: [...(plan?.refusals ?? []), ...(plan?.skipReason === undefined ? [] : [plan.skipReason])],
    mode: target.mode,
    ...(plan !== undefined && plan.forced.length > 0 ? { forced: plan.forced } : {}),
    ...extra,
  };
}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof TagwallError) return { code: e.code, message: describeError(e) };
  return { code: 'INTERNAL', message: describeError(e) };
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

async function passVault(
  target: TargetConfig,
  doc: ServiceTagDocument,
  desiredFor: (target: TargetConfig, budget: number) => Allowlist,
  guards: Guards,
  deps: ReconcileDeps,
  options: ReconcileOptions,
): Promise<VaultPass> {
  let plan: VaultPlan | undefined;
  try {
    const firewall = await deps.firewalls.read(target.vault);
    let loaded: { record: AppliedRecord; etag?: string } | undefined;
    let recordProblem: string | undefined;
    try {
      loaded = await deps.state.load(target.vault);
    } catch (e) {
      recordProblem = describeError(e);
    }
    const observed = observe(firewall);
    plan = planVault({
      firewall: observed,
      record: loaded?.record,
      ...(recordProblem === undefined ? {} : { recordProblem }),
      settings: target,
      guards,
      force: options.force,
      desiredFor: (budget) => desiredFor(target, budget),
    });
    if (plan.refusals.length > 0) return { report: report(target, 'refused', plan) };
    if (plan.skipReason !== undefined) return { report: report(target, 'skipped', plan) };

    const now = (deps.now ?? (() => new Date()))();
    const recordOf = (rules: readonly string[], posture: ObservedFirewall['posture']): AppliedRecord => ({
      ownedRules: keysOf(plan!.nextOwned),
      observedRules: keysOf(rules),
      posture,
      changeNumber: doc.changeNumber,
      sourceAddresses: plan!.desired?.stats.sourceAddresses ?? 0,
      appliedAt: now.toISOString(),
    });

    if (!plan.changes) {
      const record = recordOf(observed.ipRules, observed.posture);
      const stale =
        loaded === undefined ||
        !sameSet(loaded.record.ownedRules, record.ownedRules) ||
        !sameSet(loaded.record.observedRules, record.observedRules) ||
        JSON.stringify(loaded.record.posture) !== JSON.stringify(record.posture) ||
        loaded.record.changeNumber !== record.changeNumber ||
        loaded.record.sourceAddresses !== record.sourceAddresses;
      // A record that could not be read is left for a person to look at, never overwritten.
      const inSync = report(target, 'in-sync', plan);
      if (!options.dryRun && stale && recordProblem === undefined) return { report: inSync, record: () => deps.state.save(target.vault, record, loaded?.etag) };
      return { report: inSync };
    }
    if (options.dryRun) return { report: report(target, 'pending', plan) };

    // Release before removing: the record stops owning what is about to be removed before the
    // PATCH, so whatever fails afterwards (the PATCH, the verify, the final record) can never leave
    // a record that owns a rule tagwall removed and a person then put back.
    let etag = loaded?.etag;
    if (loaded !== undefined && recordProblem === undefined && plan.remove.length > 0) {
      const removed = new Set(plan.remove);
      const released = { ...loaded.record, ownedRules: keysOf(loaded.record.ownedRules).filter((r) => !removed.has(r)) };
      etag = (await deps.state.save(target.vault, released, etag)) ?? undefined;
    }
    const patched = observe(await deps.firewalls.write(firewall, { ipRules: plan.nextRules, ...(plan.setDefaultActionDeny ? { defaultAction: 'Deny' as const } : {}) }));
    const recordAfter = (seen: ObservedFirewall) => (recordProblem === undefined ? () => deps.state.save(target.vault, recordOf(seen.ipRules, seen.posture), etag) : undefined);
    // Key Vault has no ETag: the only way to see a concurrent edit is to read again.
    let after: ObservedFirewall;
    try {
      after = observe(await deps.firewalls.read(target.vault));
    } catch (e) {
      // The write landed, so what tagwall now owns and removed must still be recorded, or a rule it
      // removed and a person then put back would count as tagwall's again. Unverified, the vault fails.
      const record = recordAfter(patched);
      return { report: report(target, 'failed', plan, { error: errorOf(e) }), ...(record === undefined ? {} : { record }) };
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
        code: 'VERIFY_MISMATCH',
        message: `the rules read back after the write differ from what was written (a concurrent edit?): ${missing.length} missing${sample(missing)}, ${unexpected.length} unexpected${sample(unexpected)}`,
      };
      return { report: report(target, 'failed', plan, { error }), ...(record === undefined ? {} : { record }) };
    }
    // Turning the firewall on is part of the write too: a vault left open must not read as applied.
    if (plan.setDefaultActionDeny && (after.posture.defaultAction ?? '').toLowerCase() !== 'deny') {
      const error = {
        code: 'VERIFY_MISMATCH',
        message: `defaultAction read back after the write is ${after.posture.defaultAction ?? 'unset'}, not the Deny that was written (a concurrent edit?)`,
      };
      return { report: report(target, 'failed', plan, { error }), ...(record === undefined ? {} : { record }) };
    }
    return { report: report(target, 'applied', plan), ...(record === undefined ? {} : { record }) };
  } catch (e) {
    return { report: report(target, 'failed', plan, { error: errorOf(e) }) };
  }
}

/** Runs every selected target, `concurrency` at a time; the order of the reports follows the config. */
export async function reconcile(config: TagwallConfig, doc: ServiceTagDocument, deps: ReconcileDeps, options: ReconcileOptions): Promise<VaultReport[]> {
  const targets = selectTargets(config, options.vaults);
  const index = new TagIndex(doc);
  checkSelectors(doc, targets, index);
  // Many vaults usually share one selection: compute each distinct allowlist once.
  const memo = new Map<string, Allowlist>();
  const desiredFor = (t: TargetConfig, budget: number): Allowlist => {
    const key = JSON.stringify([t.select, t.extra, t.exclude, t.split31, budget]);
    let a = memo.get(key);
    if (a === undefined) {
      a = buildAllowlist(doc, { select: splitSelectors(t.select), extra: t.extra, exclude: t.exclude, maxRules: budget, split31: t.split31 }, index);
      memo.set(key, a);
    }
    return a;
  };
  const reports: Promise<VaultReport>[] = new Array(targets.length);
  let next = 0;
  let done = 0;
  // `concurrency` bounds the vaults talking to ARM at once. Recording state is not ARM work, so a
  // worker moves on to its next vault while the record is written (the file store batches them).
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const pass = await passVault(targets[i]!, doc, desiredFor, config.guards, deps, options);
      reports[i] = settle(pass).then((r) => {
        deps.onVaultDone?.(r, ++done, targets.length);
        return r;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, targets.length) }, worker));
  return Promise.all(reports);
}
