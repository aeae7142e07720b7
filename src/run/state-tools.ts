import { randomUUID } from 'node:crypto';
import type { TagwallConfig, TargetConfig } from '../config/config.js';
import { configuredDetails, findConfiguredTarget } from '../config/find-target.js';
import { isTagwallError, TagwallError } from '../core/errors.js';
import { normaliseRule } from '../core/rules.js';
import { parseResourceId, type ResourceRef } from '../core/resource-id.js';
import { ownershipOf } from '../core/plan/ownership.js';
import { planTarget, type AppliedRecord, type Posture, type Reason, type WriteIntent } from '../core/target-plan.js';
import { processPacer } from '../arm/pacing.js';
import { peekRecord } from '../state/peek.js';
import { defaultOwnerId } from '../state/owner-id.js';
import { TargetStateRepository, toVaultRecord, vaultStateKey } from '../state/records.js';
import type { KeyValueStore } from '../state/store.js';
import { createStateStore, storesFor } from '../state/stores.js';
import type { FirewallFacts } from '../targets/kind.js';
import type { FirewallState, FirewallTarget } from '../targets/firewall.js';
import { createFirewalls, kindOf } from '../targets/kinds.js';
import { DEFAULT_INTENT_TTL_MS } from './context.js';
import { credentialFor, openRun, type Runtime } from './open.js';
import { checkSelectors, desiredForDocument } from './reconcile.js';
import { reason } from './report.js';
import { intentHoldMs } from './steps/announce.js';
import { observe } from './steps/read.js';
import { keysOf } from './steps/record.js';
import { readLanding } from './steps/write.js';

/**
 * The state tools (`tagwall state show|forget|adopt`) and offboarding (`tagwall offboard`): what
 * tagwall owns on one target and why, dropping or extending that ownership by hand, and removing
 * exactly tagwall's rules. Everything a person's stays a person's: `adopt` takes only rules the
 * configuration wants, `offboard` removes only what the pass would call tagwall's, through one
 * guarded write announced as an intent, like the pass's.
 */

/** A target named on the command line: a configured one, or a firewall tagwall may have a record of. */
export interface NamedTarget {
  readonly resource: ResourceRef;
  readonly kind: FirewallFacts;
  /** Set when the configuration lists it (`targets`); a discovered or removed firewall has none. */
  readonly configured?: TargetConfig;
}

/**
 * A configured target by its resource ID or its name (any case), or else any firewall's full
 * resource ID (whether tagwall knows it is up to its record). Anything else is TARGET_UNKNOWN.
 */
export function nameTarget(config: TagwallConfig, given: string): NamedTarget {
  const lookup = findConfiguredTarget(config, given);
  if (lookup.found !== undefined) return { resource: lookup.found.resource, kind: lookup.found.kind, configured: lookup.found };
  if (lookup.ambiguous !== undefined) {
    throw new TagwallError('USAGE', `${given}: ${lookup.ambiguous.length} configured targets have that name; give the resource ID`, { details: configuredDetails(lookup.ambiguous) });
  }
  const id = given.trim().replace(/\/+$/, '');
  if (!id.includes('/')) throw unknownTarget(config, given);
  let resource: ResourceRef;
  try {
    resource = parseResourceId(id);
  } catch (e) {
    throw unknownTarget(config, given, e);
  }
  return { resource, kind: kindOf(resource) };
}

export function unknownTarget(config: TagwallConfig, given: string, cause?: unknown): TagwallError {
  return new TagwallError('TARGET_UNKNOWN', `${given}: not a configured target (by resource ID or name), and tagwall has no record of it`, {
    details: configuredDetails(config.targets),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Why tagwall calls a rule its own: it wrote it, took it over, a write not yet confirmed added it, or the firewall names it so. */
export type OwnedReason = 'written' | 'adopted' | 'intent' | 'name';

/** `tagwall state show --json`: the shape is documented in the README (keep them in step). */
export interface StateView {
  readonly target: string;
  readonly kind: string;
  readonly configured: boolean;
  readonly store: string;
  /** Every rule tagwall calls its own, with why; `present: false` for a recorded rule since removed outside tagwall (drift). */
  readonly owned: readonly { readonly rule: string; readonly reason: OwnedReason; readonly present?: boolean; readonly runId?: string }[];
  /** null: tagwall has no record of the target (a configured target before its first run). */
  readonly record: null | {
    readonly ownedRules: readonly string[];
    readonly adoptedRules: readonly string[];
    readonly observedRules: readonly string[];
    readonly posture: Posture;
    readonly changeNumber: number;
    readonly sourceAddresses: number;
    readonly appliedAt?: string;
    readonly writtenAt?: string;
    readonly intent?: WriteIntent & { readonly live: boolean };
  };
  /** Name-owned kinds: the rules the target names for this installation's owner ID (`tagwall-<owner>-<n>`, the kind's `ownedByName`), as read now. */
  readonly ownedByName?: { readonly ownerId: string; readonly rules: readonly string[] } | { readonly ownerId: string; readonly error: { readonly code: string; readonly message: string } };
}

/** Whether an intent still holds the target: another run may be writing it now. */
function intentLive(intent: WriteIntent | undefined, now: Date): boolean {
  if (intent === undefined) return false;
  return now.getTime() - Date.parse(intent.startedAt) < Math.max(DEFAULT_INTENT_TTL_MS, intent.holdMs ?? 0);
}

function ownerIdOf(config: TagwallConfig, store: Pick<KeyValueStore, 'location' | 'description'>): string {
  return config.ownerId ?? defaultOwnerId(store);
}

/** The ARM side the tools need: the kind adapters, with the owner ID a run would use, paced as a run is. */
function firewallsFor(config: TagwallConfig, runtime: Runtime, ownerId: string): FirewallTarget {
  const credential = credentialFor(config, runtime);
  const pacer = runtime.pacer ?? processPacer(config.arm.endpoint, `default:${config.identity.clientId ?? ''}`, config.arm.pacing).forRun();
  return createFirewalls({
    endpoint: config.arm.endpoint,
    credential,
    ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
    ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
    ...(runtime.armOperations === undefined ? {} : { operations: runtime.armOperations }),
    pacer,
    ownerId,
  });
}

/**
 * `state show`: the record as it is (read without the file store's lock, like `plan --target`), and
 * for a name-owned kind the target itself, whose rule names say what is tagwall's.
 */
export async function showState(config: TagwallConfig, given: string, runtime: Runtime): Promise<StateView> {
  const named = nameTarget(config, given);
  const { record, store } = await peekRecord(config.state, runtime.env, named.resource);
  if (record === undefined && named.configured === undefined) throw unknownTarget(config, given);
  const now = (runtime.now ?? (() => new Date()))();
  const adopted = new Set(record?.adoptedRules ?? []);
  let byName: StateView['ownedByName'];
  let present: Set<string> | undefined;
  if (named.kind.ownedByName !== undefined) {
    const ownerId = ownerIdOf(config, createStateStore(config.state, runtime.env));
    try {
      const fw = await firewallsFor(config, runtime, ownerId).read(named.resource);
      byName = { ownerId, rules: keysOf(fw.ownedByName ?? []) };
      present = new Set(keysOf(fw.ipRules));
    } catch (e) {
      byName = { ownerId, error: { code: isTagwallError(e) ? e.code : 'INTERNAL', message: (e as Error).message } };
    }
  }
  const owned: StateView['owned'][number][] = [];
  if (byName !== undefined && 'rules' in byName) {
    // The names are the whole truth for the rules present; a recorded rule that is gone is drift.
    for (const rule of byName.rules) owned.push({ rule, reason: 'name' });
    for (const rule of record?.ownedRules ?? []) if (!present!.has(rule)) owned.push({ rule, reason: adopted.has(rule) ? 'adopted' : 'written', present: false });
  } else {
    for (const rule of record?.ownedRules ?? []) owned.push({ rule, reason: adopted.has(rule) ? 'adopted' : 'written' });
  }
  const intent = record?.intent;
  const claimed = new Set(owned.map((o) => o.rule));
  // What an unconfirmed write added is tagwall's only if the whole write shows (core/plan/ownership.ts).
  for (const rule of intent?.add ?? []) if (!claimed.has(rule)) owned.push({ rule, reason: 'intent', runId: intent!.runId });
  return {
    target: named.resource.id,
    kind: named.kind.kind,
    configured: named.configured !== undefined,
    store,
    owned,
    record:
      record === undefined
        ? null
        : {
            ownedRules: record.ownedRules,
            adoptedRules: record.adoptedRules ?? [],
            observedRules: record.observedRules,
            posture: record.posture,
            changeNumber: record.changeNumber,
            sourceAddresses: record.sourceAddresses,
            ...(record.appliedAt === undefined ? {} : { appliedAt: record.appliedAt }),
            ...(record.writtenAt === undefined ? {} : { writtenAt: record.writtenAt }),
            ...(intent === undefined ? {} : { intent: { ...intent, live: intentLive(intent, now) } }),
          },
    ...(byName === undefined ? {} : { ownedByName: byName }),
  };
}

/** Asks a person before a change; throws (CONFIRMATION_REQUIRED) to stop it. */
export type Confirm = (question: string) => Promise<void>;

export interface ForgetResult {
  readonly target: string;
  readonly kind: string;
  /** `deleted`; `none` when there was no record (a configured target before its first run). */
  readonly record: 'deleted' | 'none';
  /** The rules the record owned, a person's from now on (none on a name-owned kind). */
  readonly released: readonly string[];
  /** Set for a name-owned kind: its rules named for the owner (the kind's `ownedByName`) stay tagwall's by their names. */
  readonly nameOwned?: true;
  readonly store: string;
}

/**
 * `state forget`: deletes the target's record under the store's lock (file state), only as it was
 * read (STATE_CONFLICT when a run wrote it while the person was asked); refused while a write
 * intent is pending, unless forced.
 */
export async function forgetState(config: TagwallConfig, given: string, options: { readonly force: boolean; readonly confirm: Confirm }, runtime: Runtime): Promise<ForgetResult> {
  const named = nameTarget(config, given);
  await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
  const repo = new TargetStateRepository(stores.state);
  const loaded = await repo.load(named.resource);
  const base = { target: named.resource.id, kind: named.kind.kind, store: stores.state.description, ...(named.kind.ownedByName !== undefined ? { nameOwned: true as const } : {}) };
  if (loaded === undefined) {
    if (named.configured === undefined) throw unknownTarget(config, given);
    return { ...base, record: 'none', released: [] };
  }
  const intent = loaded.record.intent;
  if (intent !== undefined && !options.force) {
    throw new TagwallError('STATE_INTENT_PENDING', `${named.resource.id}: run ${intent.runId} announced a write at ${intent.startedAt} (+${intent.add.length} -${intent.remove.length}) that is not confirmed; the record is kept (--force forgets it anyway)`, {
      values: { runId: intent.runId, startedAt: intent.startedAt },
    });
  }
  // On a name-owned kind the names, not the record, say what is tagwall's: forgetting releases nothing.
  const names = named.kind.ownedByName;
  await options.confirm(
    names === undefined
      ? `forget tagwall's record of ${named.resource.id}: its ${loaded.record.ownedRules.length} owned rule(s) become a person's, never removed by tagwall`
      : `forget tagwall's record of ${named.resource.id}: its rules named ${names} stay tagwall's by their names (offboard removes them)`,
  );
  await deleteAsRead(stores.state, named.resource, loaded.etag);
  return { ...base, record: 'deleted', released: names === undefined ? [...loaded.record.ownedRules] : [] };
}

/**
 * Deletes the target's record only as it was read (or last written): a run that wrote it meanwhile
 * (while the person was asked) owns the rules it just added through that record, and deleting it
 * would leave them on the firewall for good. Then STATE_CONFLICT, nothing deleted.
 */
async function deleteAsRead(store: KeyValueStore, resource: ResourceRef, etag: string): Promise<void> {
  try {
    await store.delete!(vaultStateKey(resource), { ifMatch: etag });
  } catch (e) {
    if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
    throw new TagwallError('STATE_CONFLICT', `${resource.id}: another run wrote tagwall's record of it after it was read; nothing was deleted. Run the command again to see the record as it is now`, { cause: e, transient: true });
  }
}

export interface AdoptResult {
  readonly target: string;
  readonly kind: string;
  readonly dryRun: boolean;
  /** Rules on the target that the configuration wants and tagwall did not own: tagwall's after the adoption. */
  readonly adopt: readonly string[];
  /** Rules tagwall owned already. */
  readonly owned: readonly string[];
  /** Rules on the target the configuration does not want: a person's, left as they are. */
  readonly notWanted: readonly string[];
  readonly record: 'saved' | 'unchanged';
}

/**
 * `state adopt`: the rules on the target that its configuration wants (the cover a sync would plan,
 * exactly: `shared` in the plan, or `adopted` on first contact) become tagwall's. Never a rule
 * outside that set: adopting what nobody wants would let the next sync remove a person's rule.
 */
export async function adoptState(config: TagwallConfig, given: string, options: { readonly dryRun: boolean; readonly confirm: Confirm }, runtime: Runtime): Promise<AdoptResult> {
  const named = nameTarget(config, given);
  const target = named.configured;
  if (target === undefined) {
    throw new TagwallError('TARGET_UNKNOWN', `${given}: adopt needs a target in the configuration's targets (its selection decides which rules tagwall wants)`, {
      details: configuredDetails(config.targets),
    });
  }
  if (named.kind.ownedByName !== undefined) {
    throw new TagwallError('ADOPT_NAME_OWNED', `${target.resource.id}: on this ${named.kind.title} tagwall's rules are the ones named ${named.kind.ownedByName}; the record adopts nothing there`);
  }
  await using session = await openRun(config, { dryRun: options.dryRun, force: false, alerts: 'off' }, runtime);
  checkSelectors(session.doc, [target]);
  const repo = new TargetStateRepository(session.state);
  const loaded = await repo.load(target.resource);
  const prior = loaded?.record;
  if (prior?.intent !== undefined) {
    throw new TagwallError('STATE_INTENT_PENDING', `${target.resource.id}: run ${prior.intent.runId} announced a write at ${prior.intent.startedAt} that is not confirmed; let a sync settle it first`, {
      values: { runId: prior.intent.runId, startedAt: prior.intent.startedAt },
    });
  }
  const fw = await session.firewalls.read(target.resource);
  const observed = observe(fw);
  const desiredFor = desiredForDocument(session.doc);
  const plan = planTarget({
    firewall: observed,
    record: prior,
    settings: target,
    guards: target.guards,
    force: false,
    desiredFor: (budget, kept, o) => desiredFor(target, budget, kept, o?.unbounded === true, o?.keptRanges),
  });
  if (plan.desired === undefined) {
    const why = plan.refusals[0]!;
    throw new TagwallError(why.code === 'BUDGET_EXHAUSTED' ? 'BUDGET_EXHAUSTED' : 'COLLAPSE_INFEASIBLE', `${target.resource.id}: what the configuration wants cannot be planned, so nothing can be adopted: ${why.message}`);
  }
  // The plan's own split: shared (a person's rule the cover wants) or adopted (the same on first contact).
  const adopt = [...new Set([...plan.shared, ...plan.adopted])].sort();
  const ownership = ownershipOf(fw.ipRules, prior, target.special, fw.ownedByName);
  const owned = [...ownership.owned].filter((k) => ownership.current.some((r) => r.key === k)).sort();
  const result = { target: target.resource.id, kind: target.kind.kind, dryRun: options.dryRun, adopt, owned, notWanted: [...plan.unmanaged].sort() };
  if (options.dryRun || adopt.length === 0) return { ...result, record: 'unchanged' };
  await options.confirm(`adopt ${adopt.length} rule(s) on ${target.resource.id}: tagwall may then remove them when the configuration stops wanting them`);
  const union = (a: readonly string[] | undefined, b: readonly string[]) => [...new Set([...(a ?? []), ...b])].sort();
  const record: AppliedRecord =
    prior === undefined
      ? {
          ownedRules: adopt,
          adoptedRules: adopt,
          observedRules: keysOf(fw.ipRules),
          posture: observed.posture,
          changeNumber: session.doc.changeNumber,
          sourceAddresses: plan.desired.stats.sourceAddresses,
        }
      : (() => {
          // The remembered plan was made with the old ownership: the next run plans afresh.
          const { settled: _stale, ...rest } = prior;
          // Seen now, so the ownership check (observed when recorded) holds for the adopted rules.
          return { ...rest, ownedRules: union(prior.ownedRules, adopt), adoptedRules: union(prior.adoptedRules, adopt), observedRules: union(prior.observedRules, adopt) };
        })();
  await repo.save(target.resource, toVaultRecord(target.resource, record), loaded?.etag);
  return { ...result, record: 'saved' };
}

export interface OffboardOptions {
  readonly dryRun: boolean;
  /** Offboard a target the configuration still lists. */
  readonly force: boolean;
  /** Remove the last rule where the IP list is the switch, opening the firewall. */
  readonly allowOpen: boolean;
  readonly confirm: Confirm;
}

export interface OffboardResult {
  readonly target: string;
  readonly kind: string;
  readonly dryRun: boolean;
  /** `offboarded`; `pending` (a dry run with something to do); `nothing` (no rule and no record of tagwall's); `refused`; `failed`. */
  readonly outcome: 'offboarded' | 'pending' | 'nothing' | 'refused' | 'failed';
  /** tagwall's rules on the target: removed (or to be). */
  readonly remove: readonly string[];
  /** Every other rule, as the target spells it: kept. */
  readonly keep: readonly string[];
  /** Of the kept, the entries special to the kind (Cosmos DB's 0.0.0.0, ...). */
  readonly special: readonly string[];
  readonly reasons: readonly Reason[];
  readonly error?: { readonly code: string; readonly message: string };
  /** What became of tagwall's record: `deleted`, `kept` (nothing written; or an unconfirmed write's intent left), `restored` (a refused write), `none`. */
  readonly record: 'deleted' | 'kept' | 'restored' | 'none';
  readonly writes: number;
  readonly store: string;
}

interface Removal {
  readonly fw: FirewallState;
  readonly remove: string[];
  readonly keep: string[];
  readonly special: string[];
}

/** The split offboarding makes: what the pass would call tagwall's (never a special entry), and the rest as read. */
function removalOf(fw: FirewallState, record: AppliedRecord | undefined, kind: FirewallFacts): Removal {
  const { owned } = ownershipOf(fw.ipRules, record, kind.special, fw.ownedByName);
  const specials = new Set(kind.special);
  const mine = (r: string) => {
    const key = normaliseRule(r).key;
    return owned.has(key) && !specials.has(key);
  };
  return {
    fw,
    remove: keysOf(fw.ipRules.filter(mine)),
    keep: fw.ipRules.filter((r) => !mine(r)),
    special: fw.ipRules.filter((r) => specials.has(normaliseRule(r).key)),
  };
}

/** A write refused before it changed anything (the adapter's own refusal, or Azure's 4xx but a 408). */
function refusedOutright(e: unknown): boolean {
  if (!isTagwallError(e)) return false;
  if (e.values.notSent === true) return true;
  const status = e.values.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408;
}

/**
 * `tagwall offboard`: removes exactly tagwall's rules from the target in one guarded write (announced
 * as an intent in the record, verified by a second read), then deletes the record. Refused (nothing
 * written) while the configuration still lists the target (unless forced), while another run's
 * intent holds it, or where the write would open the firewall (unless allowed).
 */
export async function offboard(config: TagwallConfig, given: string, options: OffboardOptions, runtime: Runtime): Promise<OffboardResult> {
  const named = nameTarget(config, given);
  const { resource, kind } = named;
  await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
  const firewalls = firewallsFor(config, runtime, ownerIdOf(config, stores.state));
  const repo = new TargetStateRepository(stores.state);
  const now = runtime.now ?? (() => new Date());
  const loaded = await repo.load(resource);
  if (loaded === undefined && named.configured === undefined) throw unknownTarget(config, given);
  const prior = loaded?.record;
  const base = { target: resource.id, kind: kind.kind, dryRun: options.dryRun, store: stores.state.description };
  const planned = removalOf(await firewalls.read(resource), prior, kind);
  const result = (r: Removal, extra: Pick<OffboardResult, 'outcome' | 'record' | 'writes'> & Partial<OffboardResult>): OffboardResult => ({
    ...base,
    remove: r.remove,
    keep: [...r.keep],
    special: r.special,
    reasons: [],
    ...extra,
  });

  const reasons = refusals(named, planned, prior, options, now());
  if (reasons.length > 0) return result(planned, { outcome: 'refused', reasons, record: loaded === undefined ? 'none' : 'kept', writes: 0 });
  if (planned.remove.length === 0 && loaded === undefined) return result(planned, { outcome: 'nothing', record: 'none', writes: 0 });
  if (options.dryRun) return result(planned, { outcome: 'pending', record: loaded === undefined ? 'none' : 'kept', writes: 0 });

  await options.confirm(`remove ${planned.remove.length} rule(s) of tagwall's from ${resource.id} and delete its record`);
  // Read again after the person answered: the GET the write follows is this one, not one from before the question.
  const fresh = removalOf(await firewalls.read(resource), prior, kind);
  if (fresh.remove.join() !== planned.remove.join()) {
    const stale = reason('PLAN_STALE', `the target's rules changed while the removal was confirmed (now ${fresh.remove.length} of tagwall's, confirmed ${planned.remove.length}); nothing was written, offboard again`);
    return result(fresh, { outcome: 'refused', reasons: [stale], record: loaded === undefined ? 'none' : 'kept', writes: 0 });
  }
  if (fresh.remove.length === 0) {
    // Nothing to write: the record goes as it was read (a run that wrote it since keeps it: STATE_CONFLICT).
    if (loaded !== undefined) await deleteAsRead(stores.state, resource, loaded.etag);
    return result(fresh, { outcome: 'offboarded', record: loaded === undefined ? 'none' : 'deleted', writes: 0 });
  }

  // The intent already owns nothing: whatever fails from here, no record claims a rule tagwall removed.
  const intent: WriteIntent = {
    runId: `offboard-${randomUUID()}`,
    startedAt: now().toISOString(),
    add: [],
    remove: fresh.remove,
    ...(kind.longRunning ? { holdMs: intentHoldMs(kind, DEFAULT_INTENT_TTL_MS) } : {}),
  };
  const { settled: _settled, adoptedRules: _adopted, ...kept } = prior ?? { ownedRules: [], observedRules: [], posture: fresh.fw.posture, changeNumber: 0, sourceAddresses: 0 };
  const announcing: AppliedRecord = { ...kept, ownedRules: [], observedRules: keysOf(fresh.fw.ipRules), intent };
  const etag = await repo.save(resource, toVaultRecord(resource, announcing), loaded?.etag);
  /** The record as this command announced it, deleted; one another run wrote since is kept, and said so. */
  const deleteRecord = async (): Promise<Pick<OffboardResult, 'record' | 'error'>> => {
    try {
      await deleteAsRead(stores.state, resource, etag);
      return { record: 'deleted' };
    } catch (e) {
      if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
      return { record: 'kept', error: { code: e.code, message: e.message } };
    }
  };
  let answer: FirewallState;
  try {
    answer = await firewalls.write(fresh.fw, { ipRules: fresh.keep, ...(options.allowOpen ? { allowOpen: true as const } : {}) });
  } catch (e) {
    const error = { code: isTagwallError(e) ? e.code : 'INTERNAL', message: (e as Error).message };
    const landing = refusedOutright(e) ? { verdict: 'not-landed' as const } : await readLanding(() => firewalls.read(resource), intent, e);
    if (landing.verdict === 'not-landed') {
      // Nothing changed: tagwall owns what it owned before.
      if (prior === undefined) await deleteAsRead(stores.state, resource, etag);
      else await repo.save(resource, toVaultRecord(resource, prior), etag);
      return result(fresh, { outcome: 'failed', error, record: prior === undefined ? 'none' : 'restored', writes: 1 });
    }
    if (landing.verdict === 'landed') return result(fresh, { outcome: 'failed', error, record: (await deleteRecord()).record, writes: 1 });
    // Unknown: the intent stays (owning nothing), and a later run judges it.
    return result(fresh, { outcome: 'failed', error, record: 'kept', writes: 1 });
  }
  // Verified by a second read: a rule tagwall removed that is back, or one of a person's that is gone, is someone's concurrent edit.
  const after = await firewalls.read(resource).catch(() => answer);
  const want = keysOf(fresh.keep);
  const got = keysOf(after.ipRules);
  const { record, error } = await deleteRecord();
  if (want.join() !== got.join()) {
    const message = `the rules read back after the write differ from what was written (a concurrent edit?): expected ${want.length}, read ${got.length}`;
    return result(fresh, { outcome: 'failed', error: { code: 'VERIFY_MISMATCH', message }, record, writes: 1 });
  }
  if (error !== undefined) return result(fresh, { outcome: 'failed', error, record, writes: 1 });
  return result(fresh, { outcome: 'offboarded', record, writes: 1 });
}

function refusals(named: NamedTarget, planned: Removal, prior: AppliedRecord | undefined, options: OffboardOptions, now: Date): Reason[] {
  const out: Reason[] = [];
  if (intentLive(prior?.intent, now)) {
    out.push(reason('VAULT_BUSY', `another run is writing this target (intent of run ${prior!.intent!.runId} from ${prior!.intent!.startedAt}); offboard it when that run is done`));
  }
  if (named.configured !== undefined && !options.force) {
    out.push(reason('OFFBOARD_TARGET_CONFIGURED', `${named.resource.id} is still a target in the configuration: the next run would add every rule back. Remove it from the configuration first (or pass --force)`));
  }
  if (planned.fw.unsupported !== undefined && planned.remove.length > 0) {
    out.push(reason('TARGET_UNSUPPORTED', planned.fw.unsupported.message, { cause: planned.fw.unsupported.code }));
  }
  if (named.kind.ipListIsSwitch === true && planned.remove.length > 0 && planned.keep.length === 0 && !options.allowOpen) {
    out.push(
      reason('OFFBOARD_WOULD_OPEN_FIREWALL', `every IP rule on this ${named.kind.title} is tagwall's, and here the IP list is the switch: removing them all would let every network in. Add the rules to keep first, or pass --allow-open`, {
        rules: planned.remove.length,
      }),
    );
  }
  return out;
}
