import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { isCidrProblem, readCidr } from '../core/ip-text.js';
import { formatCidr } from '../core/ipv4.js';
import { normaliseRule } from '../core/rules.js';
import { parseResourceId, resourceKey, type ResourceRef } from '../core/resource-id.js';
type VaultRef = ResourceRef;
import type { AppliedRecord, Finding, PerimeterPosture } from '../core/target-plan.js';
import type { KeyValueStore } from './store.js';
import { inPool } from '../core/pool.js';
import type { LoadedAlertState } from '../alerts/types.js';

/**
 * What tagwall remembers between runs, as typed records over any KeyValueStore. Key Vault
 * rules cannot carry an owner tag, so the vault record is the registry of which rules
 * tagwall put there; anything it cannot read is reported, never guessed at, because a
 * wrong "owned" list would delete someone else's rules.
 */

const isoTime = z.iso.datetime({ offset: true });

/**
 * Rule texts already found normalised. A fleet's records repeat the same few thousand rules, and
 * parsing each again on every load was most of what judging 10,000 vaults from their records cost.
 */
const knownNormalised = new Set<string>();
const MAX_KNOWN = 500_000;

function isNormalisedRule(text: string): boolean {
  if (knownNormalised.has(text)) return true;
  const cidr = readCidr(text);
  // A start/end kind's range that is no single block is keyed a.b.c.d-e.f.g.h (rules.ts rangeKey).
  const ok = isCidrProblem(cidr) ? isRangeKey(text) : formatCidr(cidr) === text;
  if (ok && knownNormalised.size < MAX_KNOWN) knownNormalised.add(text);
  return ok;
}

function isRangeKey(text: string): boolean {
  const r = normaliseRule(text);
  return r.range !== undefined && r.key === text;
}

/**
 * Exactly `a.b.c.d/n` with host bits clear, or a range that is no single block as
 * `a.b.c.d-e.f.g.h`, so records compare without re-normalising.
 */
const normalisedRule = z.string().refine(isNormalisedRule, 'must be a normalised IPv4 rule (a.b.c.d/n with host bits clear, or a range a.b.c.d-e.f.g.h that is no single block)');

const distinct = (rules: readonly string[]): boolean => new Set(rules).size === rules.length;

export const vaultRecordSchema = z.object({
  version: z.literal(1),
  /** The vault's resource ID. */
  vault: z.string().min(1),
  /** The rules tagwall wrote and may remove. */
  ownedRules: z.array(normalisedRule).refine(distinct, 'must not repeat a rule'),
  /** Of ownedRules, those tagwall took over (adopted) rather than wrote; absent in older records. */
  adoptedRules: z.array(normalisedRule).optional(),
  /** The vault's whole rule list as read back after the write, as Azure returned it. */
  observedRules: z.array(z.string()),
  posture: z.object({
    defaultAction: z.string().optional(),
    bypass: z.string().optional(),
    publicNetworkAccess: z.string().optional(),
  }),
  /** The service-tags changeNumber the rules were computed from. */
  changeNumber: z.number().int().nonnegative(),
  /** How many addresses the selected service tags held. */
  sourceAddresses: z.number().int().nonnegative(),
  /** When a write (or a check that found nothing to write) was last confirmed; absent until the first one is. */
  appliedAt: isoTime.optional(),
  /**
   * A write announced before its PATCH and not yet confirmed: other runs leave the vault alone
   * while it is young, and a run that finds it old knows what the dead run may have added.
   */
  intent: z
    .object({
      runId: z.string().min(1),
      writer: z.string().min(1).max(200).optional(),
      startedAt: isoTime,
      add: z.array(normalisedRule),
      remove: z.array(normalisedRule),
      holdMs: z.number().int().positive().optional(),
    })
    .optional(),
  writtenAt: isoTime.optional(),
  graph: z.object({ fingerprint: z.string().min(1).max(1024), confirmedAt: isoTime }).optional(),
  seen: z
    .object({
      virtualNetworkRuleCount: z.number().int().nonnegative(),
      // Findings and the perimeter view are the plan's own data; they are kept as they were made.
      findings: z
        .array(z.looseObject({ severity: z.enum(['critical', 'warning', 'info']), code: z.string().min(1), message: z.string() }))
        .transform((f) => f as unknown as Finding[])
        .optional(),
      perimeter: z
        .looseObject({ state: z.enum(['none', 'associated', 'unknown']) })
        .transform((p) => p as unknown as PerimeterPosture)
        .optional(),
    })
    .optional(),
  settled: z
    .object({
      key: z.string().regex(/^[0-9a-f]{64}$/),
      rules: z.object({ managed: z.number().int().nonnegative(), unmanaged: z.number().int().nonnegative(), shared: z.number().int().nonnegative(), limit: z.number().int().nonnegative() }),
      excessAddresses: z.number().nonnegative(),
      weightedExcess: z.number().nonnegative().optional(),
      findings: z
        .array(z.looseObject({ severity: z.enum(['critical', 'warning', 'info']), code: z.string().min(1), message: z.string() }))
        .transform((f) => f as unknown as Finding[]),
      unmanaged: z.array(z.string()),
      shared: z.array(z.string()),
    })
    .optional(),
});
export type VaultRecord = z.infer<typeof vaultRecordSchema>;

export const alertSchema = z.object({
  /** Stable identity of "the same alert", for de-duplication across runs. */
  fingerprint: z.string().min(1),
  kind: z.string().min(1),
  severity: z.string().min(1),
  vault: z.string(),
  firstSeen: isoTime,
  lastSent: isoTime,
  summary: z.string(),
  /**
   * Only while a notification is due and not yet delivered ("firing" or "resolved"); a plain
   * string, like kind, because a newer tagwall may write a value this one does not know.
   */
  pending: z.string().min(1).optional(),
  clearedAt: isoTime.optional(),
  /** The alert's content while its "firing" is pending. */
  details: z.array(z.string()).optional(),
  rules: z.array(z.string()).optional(),
  /** The alert was about a failed write: only a run that may write resolves it. */
  write: z.boolean().optional(),
  /** The root-cause code its notifications are grouped by. */
  cause: z.string().min(1).optional(),
});
export type AlertMemory = z.infer<typeof alertSchema>;

export const alertStateSchema = z.object({
  version: z.literal(1),
  alerts: z.array(alertSchema),
});
export type AlertState = z.infer<typeof alertStateSchema>;

export interface Loaded<T> {
  readonly etag: string;
  readonly value: T;
}

/** Scope for alerts that belong to the whole run rather than one vault (e.g. a failed download). */
export const RUN_SCOPE = '_run';

/**
 * `vaults/<subscription>/<group>/<name>.json` for a Key Vault (where records have always been),
 * `targets/<subscription>/<group>/<namespace>/<type>/.../<name>.json` for any other firewall,
 * lowercased like resourceKey() so that any casing of the resource ID finds the same record.
 * Segments are percent-encoded where needed: readable for the usual ASCII names, and two
 * different groups never share a key.
 */
export function vaultStateKey(resource: ResourceRef): string {
  return `${resourcePath(resource)}.json`;
}

export function alertStateKey(scope: string): string {
  if (scope === RUN_SCOPE) return `alerts/${RUN_SCOPE}.json`;
  const path = resourcePath(parseResourceId(scope));
  // Key Vault alert memory has always lived at alerts/<sub>/<group>/<name>.json.
  return `alerts/${path.startsWith('vaults/') ? path.slice('vaults/'.length) : path}.json`;
}

/** `grants/` and the target's record path: its temporary grants and the expiries already reported (grants.ts). */
export function grantsStateKey(resource: ResourceRef): string {
  return `grants/${resourcePath(resource)}.json`;
}

function resourcePath(resource: ResourceRef): string {
  // resourceKey is the one definition of identity; read the segments back out of it.
  const parts = resourceKey(resource).split('/');
  const [sub, group] = [parts[2] ?? '', parts[4] ?? ''];
  if (resource.type.toLowerCase() === 'microsoft.keyvault/vaults') return ['vaults', ...[sub, group, parts[8] ?? ''].map(keySegment)].join('/');
  return ['targets', ...[sub, group, ...parts.slice(6)].map(keySegment)].join('/');
}

function keySegment(segment: string): string {
  // encodeURIComponent keeps letters, digits and -_.!~*'() as they are; a trailing dot is
  // encoded too because blob tools trim it.
  return encodeURIComponent(segment).replace(/\.$/, '%2E');
}

const KEPT_CODES = new Set(['STATE_CORRUPT', 'STATE_CONTAINER_MISSING', 'STATE_LOCKED']);

/** Shared read/validate/write of one JSON record; `subject` names it in messages ("vault /subscriptions/..."). */
export async function loadRecord<T>(store: KeyValueStore, key: string, subject: string, schema: z.ZodType<T>): Promise<Loaded<T> | undefined> {
  let stored;
  try {
    stored = await store.get(key);
  } catch (e) {
    // Codes that name what a person must fix are kept; the rest read as "cannot be read".
    const code = e instanceof TagwallError && KEPT_CODES.has(e.code) ? e.code : 'STATE_UNREADABLE';
    const transient = e instanceof TagwallError ? e.transient : false;
    throw new TagwallError(code, `state for ${subject} cannot be read: ${(e as Error).message ?? String(e)}`, {
      transient,
      details: e instanceof TagwallError ? e.details : [],
      cause: e,
    });
  }
  if (stored === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(stored.text);
  } catch (e) {
    throw new TagwallError('STATE_CORRUPT', `state for ${subject} (${key} in ${store.description}) is corrupt: not valid JSON`, { cause: e });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new TagwallError('STATE_CORRUPT', `state for ${subject} (${key} in ${store.description}) is corrupt: it does not match the record schema`, {
      details: issueLines(parsed.error),
    });
  }
  return { etag: stored.etag, value: parsed.data };
}

/** Without an ETag the write succeeds only if no record exists yet, so a first save never overwrites another run's. */
export async function saveRecord<T>(store: KeyValueStore, key: string, subject: string, schema: z.ZodType<T>, value: T, etag: string | undefined): Promise<string> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new TagwallError('STATE_RECORD_INVALID', `refusing to save state for ${subject}: the record does not match the schema`, {
      details: issueLines(parsed.error),
    });
  }
  try {
    return await store.put(key, JSON.stringify(parsed.data), etag === undefined ? { ifNoneExists: true } : { ifMatch: etag });
  } catch (e) {
    if (!(e instanceof TagwallError)) throw e;
    throw new TagwallError(e.code, `state for ${subject} not saved: ${e.message}`, { transient: e.transient, details: e.details, cause: e });
  }
}

function issueLines(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length === 0 ? '(record)' : i.path.map(String).join('.')}: ${i.message}`);
}

/** The stored form of what the plan remembers of a vault (the core's AppliedRecord, with its vault and version). */
export function toVaultRecord(vault: VaultRef, record: AppliedRecord): VaultRecord {
  const { intent, seen, settled, adoptedRules, ...rest } = record;
  return {
    version: 1,
    vault: vault.id,
    ...rest,
    posture: { ...rest.posture },
    ownedRules: [...rest.ownedRules],
    ...(adoptedRules === undefined ? {} : { adoptedRules: [...adoptedRules] }),
    observedRules: [...rest.observedRules],
    ...(seen === undefined
      ? {}
      : {
          seen: {
            virtualNetworkRuleCount: seen.virtualNetworkRuleCount,
            ...(seen.findings === undefined ? {} : { findings: [...seen.findings] }),
            ...(seen.perimeter === undefined ? {} : { perimeter: seen.perimeter }),
          },
        }),
    ...(settled === undefined ? {} : { settled: { ...settled, findings: [...settled.findings], unmanaged: [...settled.unmanaged], shared: [...settled.shared] } }),
    ...(intent === undefined ? {} : { intent: { ...intent, add: [...intent.add], remove: [...intent.remove] } }),
  };
}

/** Which rules tagwall owns in each vault, and what it saw there after its last write. */
export class TargetStateRepository {
  constructor(readonly store: KeyValueStore) {}

  async load(vault: VaultRef): Promise<{ record: VaultRecord; etag: string } | undefined> {
    const subject = `vault ${vault.id}`;
    const key = vaultStateKey(vault);
    const loaded = await loadRecord(this.store, key, subject, vaultRecordSchema);
    if (loaded === undefined) return undefined;
    // A record copied or restored under the wrong key would hand over another vault's ownership.
    if (!sameVault(loaded.value.vault, vault)) {
      throw new TagwallError('STATE_CORRUPT', `state for ${subject} (${key} in ${this.store.description}) is corrupt: it describes ${JSON.stringify(loaded.value.vault)}`);
    }
    return { record: loaded.value, etag: loaded.etag };
  }

  /** The repository as the reconciler uses it: the core's records in, the core's records out. */
  access(): { load(vault: VaultRef): Promise<{ record: VaultRecord; etag: string } | undefined>; save(vault: VaultRef, record: AppliedRecord, etag?: string): Promise<string> } {
    return { load: (vault) => this.load(vault), save: (vault, record, etag) => this.save(vault, toVaultRecord(vault, record), etag) };
  }

  /** Returns the new ETag. Pass the ETag from load(); omit it only when load() found nothing. */
  async save(vault: VaultRef, record: VaultRecord, etag?: string): Promise<string> {
    const subject = `vault ${vault.id}`;
    if (!sameVault(record.vault, vault)) {
      throw new TagwallError('STATE_RECORD_INVALID', `refusing to save state for ${subject}: the record describes ${JSON.stringify(record.vault)}`);
    }
    return saveRecord(this.store, vaultStateKey(vault), subject, vaultRecordSchema, record, etag);
  }
}

function sameVault(id: string, vault: VaultRef): boolean {
  try {
    return resourceKey(parseResourceId(id)) === resourceKey(vault);
  } catch {
    return false;
  }
}

/** Alerts already sent, per vault or for the whole run (RUN_SCOPE), so each is sent once. */
export class AlertStateRepository {
  constructor(readonly store: KeyValueStore) {}

  async load(scope: string): Promise<{ state: AlertState; etag: string } | undefined> {
    const loaded = await loadRecord(this.store, alertStateKey(scope), alertSubject(scope), alertStateSchema);
    return loaded === undefined ? undefined : { state: loaded.value, etag: loaded.etag };
  }

  /**
   * Each scope as load() would give it, or its error. From ALERT_LIST_FROM scopes on, one listing
   * says which records exist and only those are read (most of a fleet has no alert memory); the
   * reads go ALERT_READS_IN_FLIGHT at a time. A record written after the listing reads as absent,
   * as it would had it been read a moment earlier: its first save then meets it (STATE_CONFLICT).
   */
  async loadMany(scopes: readonly string[]): Promise<ReadonlyMap<string, LoadedAlertState>> {
    const found = new Map<string, LoadedAlertState>();
    let listed: ReadonlyMap<string, string> | undefined;
    if (scopes.length >= ALERT_LIST_FROM && this.store.list !== undefined) {
      // A listing that fails costs nothing but its request: each record is then read on its own.
      listed = await this.store.list(ALERT_PREFIX).catch(() => undefined);
    }
    const toRead = listed === undefined ? [...scopes] : scopes.filter((scope) => {
      const key = keyOrUndefined(scope);
      // A scope with no key is read anyway, so load() reports why.
      if (key === undefined || listed.has(key)) return true;
      found.set(scope, { ok: true, value: undefined });
      return false;
    });
    const loaded = await inPool(toRead.length, ALERT_READS_IN_FLIGHT, async (i): Promise<LoadedAlertState> => {
      try {
        return { ok: true, value: await this.load(toRead[i]!) };
      } catch (error) {
        return { ok: false, error };
      }
    });
    toRead.forEach((scope, i) => found.set(scope, loaded[i]!));
    return found;
  }

  /** Returns the new ETag. Pass the ETag from load(); omit it only when load() found nothing. */
  async save(scope: string, state: AlertState, etag?: string): Promise<string> {
    return saveRecord(this.store, alertStateKey(scope), alertSubject(scope), alertStateSchema, state, etag);
  }
}

const ALERT_PREFIX = 'alerts/';
/** Below this many scopes, reading each costs no more than listing first. */
const ALERT_LIST_FROM = 32;
/** Alert records read at once: 10,000 in seconds rather than minutes, without a burst of sockets. */
export const ALERT_READS_IN_FLIGHT = 16;

function keyOrUndefined(scope: string): string | undefined {
  try {
    return alertStateKey(scope);
  } catch {
    return undefined;
  }
}

function alertSubject(scope: string): string {
  return scope === RUN_SCOPE ? 'run-wide alerts' : `alerts of vault ${scope}`;
}

export const backlogSchema = z.object({
  version: z.literal(1),
  /** Resource IDs of the vaults a run's deadline cut off. */
  vaults: z.array(z.string().min(1)),
});
export type Backlog = z.infer<typeof backlogSchema>;

export const BACKLOG_KEY = 'runs/deadline-backlog.json';

/** The vaults the last run's deadline cut off, which the next run starts first. */
export class BacklogRepository {
  constructor(readonly store: KeyValueStore) {}

  load(): Promise<Loaded<Backlog> | undefined> {
    return loadRecord(this.store, BACKLOG_KEY, 'the deadline backlog', backlogSchema);
  }

  save(backlog: Backlog, etag?: string): Promise<string> {
    return saveRecord(this.store, BACKLOG_KEY, 'the deadline backlog', backlogSchema, backlog, etag);
  }
}

export const discoveryCountSchema = z.object({
  version: z.literal(1),
  /** Firewalls the last full run discovered with a profile that applies. */
  discovered: z.number().int().nonnegative(),
  at: isoTime,
});
export type DiscoveryCount = z.infer<typeof discoveryCountSchema>;

export const DISCOVERY_COUNT_KEY = 'fleet/discovered.json';

/** How big the fleet was last time, for the guard that stops removals when it suddenly shrinks. */
export class DiscoveryCountRepository {
  constructor(readonly store: KeyValueStore) {}

  load(): Promise<Loaded<DiscoveryCount> | undefined> {
    return loadRecord(this.store, DISCOVERY_COUNT_KEY, 'the fleet size', discoveryCountSchema);
  }

  save(count: DiscoveryCount, etag?: string): Promise<string> {
    return saveRecord(this.store, DISCOVERY_COUNT_KEY, 'the fleet size', discoveryCountSchema, count, etag);
  }
}
