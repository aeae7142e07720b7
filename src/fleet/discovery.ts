import { profileTarget, type TagwallConfig, type TargetConfig } from '../config/config.js';
import { isTagwallError, TagwallError } from '../core/errors.js';
import { parseResourceId, resourceKey } from '../core/resource-id.js';
import type { Finding } from '../core/target-plan.js';
import { kindOfType } from '../targets/kinds.js';
import type { GraphReader, GraphScope } from './graph-client.js';
import { fingerprintOf, rulesState } from './fingerprint.js';
import { fleetQuery, subscriptionsQuery } from './graph-query.js';
import type { GraphRow } from './model.js';
import type { TargetReport } from '../core/report.js';

/**
 * Finds the fleet: every firewall in scope whose opt-in tag names a profile. One query (paged)
 * returns each firewall with its posture and a digest of its rules, so the same read that finds
 * the fleet also tells which firewalls changed since tagwall last read them.
 *
 * - `<tag>=<profile>` (any case) gets that profile; `<tag>=off` opts the firewall out; an
 *   untagged firewall is not in the answer, so it is never read or written.
 * - An explicit target wins over a discovered one for the same resource, and says so.
 * - A tag naming no profile, or a profile whose scope does not cover the firewall, is a warning
 *   and an alert, and no write.
 * - A scope the identity cannot read is a warning that names it, never a silent empty fleet.
 */

/** A problem or fact about the run as a whole, with a code. */
export interface RunFinding {
  readonly code: string;
  readonly severity: 'critical' | 'warning' | 'info';
  readonly message: string;
  readonly [value: string]: string | number | boolean | readonly string[];
}

/** Why a tagged firewall gets no target from its profile (profileTarget's refusals). */
export type UnprotectedCode = 'UNKNOWN_PROFILE' | 'PROFILE_UNSUITABLE' | 'PROFILE_OUT_OF_SCOPE';
const UNPROTECTED_CODES: readonly UnprotectedCode[] = ['UNKNOWN_PROFILE', 'PROFILE_UNSUITABLE', 'PROFILE_OUT_OF_SCOPE'];

/** The code when profileTarget refused a firewall (reported, not written); undefined for any other error. */
export function unprotectedCode(e: unknown): UnprotectedCode | undefined {
  return UNPROTECTED_CODES.find((code) => isTagwallError(e, code));
}

/** A tagged firewall discovery cannot protect, and why: reported, never written. */
export interface Unprotected {
  readonly id: string;
  readonly kind: string;
  readonly profile: string;
  readonly code: UnprotectedCode | 'TARGET_NOT_IN_FLEET';
  readonly message: string;
  /** The kind's own rule limit, for the report. */
  readonly limit: number;
}

export interface Fleet {
  /** Explicit targets first (in config order), then discovered ones (by ID). */
  readonly targets: readonly TargetConfig[];
  /** Resource Graph's row for each target it described, by resourceKey. */
  readonly rows: ReadonlyMap<string, GraphRow>;
  readonly unprotected: readonly Unprotected[];
  /** Extra findings for explicit targets that discovery also found (EXPLICIT_TARGET), by resourceKey. */
  readonly notes: ReadonlyMap<string, Finding>;
  readonly findings: readonly RunFinding[];
  readonly counts: {
    /** Tagged firewalls with a profile that applies (what the shrink guard counts). */
    readonly discovered: number;
    readonly optedOut: number;
    readonly unprotected: number;
    readonly explicit: number;
    /** Explicit targets that discovery found too. */
    readonly overridden: number;
  };
}

export interface DiscoverOptions {
  /** Only these subscriptions (the CLI's --subscription), within the configured scope. */
  readonly subscriptions?: readonly string[];
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A row as tagwall uses it; throws GRAPH_FAILED on a row that lacks what the query projects. */
export function readRow(raw: Record<string, unknown>): GraphRow {
  const id = text(raw.id);
  const type = text(raw.type);
  const subscriptionId = text(raw.subscriptionId);
  if (id === undefined || type === undefined || subscriptionId === undefined) {
    throw new TagwallError('GRAPH_FAILED', `Resource Graph returned a row without id, type or subscriptionId: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const ruleCount = typeof raw.ruleCount === 'number' ? raw.ruleCount : undefined;
  const digest = text(raw.digest);
  // Each kind spells a rule's address its own way in the row (its facts' graphPaths.ruleValue).
  const valueKey = kindOfType(type)?.graphPaths?.ruleValue ?? 'value';
  const rules = Array.isArray(raw.rules)
    ? raw.rules.map((r: unknown) => {
        if (typeof r === 'string') return r;
        return String((r as Record<string, unknown> | null)?.[valueKey] ?? '');
      })
    : undefined;
  const posture = { defaultAction: text(raw.defaultAction), bypass: text(raw.bypass), publicNetworkAccess: text(raw.publicNetworkAccess) };
  // Without a digest the rules themselves are hashed here: the fingerprint only ever compares with itself.
  const ruleState = digest ?? (rules === undefined ? 'none' : rulesState(rules));
  const fingerprint = fingerprintOf({ ruleState, ...(ruleCount === undefined ? {} : { ruleCount }), ...posture });
  return {
    id,
    type,
    subscriptionId,
    profile: typeof raw.profile === 'string' ? raw.profile.trim() : '',
    ...(posture.defaultAction === undefined ? {} : { defaultAction: posture.defaultAction }),
    ...(posture.bypass === undefined ? {} : { bypass: posture.bypass }),
    ...(posture.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: posture.publicNetworkAccess }),
    ...(ruleCount === undefined ? {} : { ruleCount }),
    ...(digest === undefined ? {} : { digest }),
    ...(rules === undefined ? {} : { rules }),
    fingerprint,
  };
}

function scopeOf(config: TagwallConfig, narrow: readonly string[] | undefined): { scope: GraphScope; named: readonly string[] } {
  const scope = config.discover!.scope;
  if ('subscriptions' in scope) {
    const subs = narrow === undefined ? scope.subscriptions : scope.subscriptions.filter((s) => narrow.some((n) => n.toLowerCase() === s.toLowerCase()));
    return { scope: { subscriptions: subs }, named: subs };
  }
  // Within management groups, a narrowed run still asks for the groups: a named subscription outside them stays out.
  if ('managementGroups' in scope) return { scope: { managementGroups: scope.managementGroups }, named: [] };
  if (narrow !== undefined) return { scope: { subscriptions: narrow }, named: narrow };
  return { scope: {}, named: [] };
}

/** Names the listed subscriptions Resource Graph showed nothing of and the identity cannot read. */
async function unreadableSubscriptions(reader: GraphReader, named: readonly string[], seen: ReadonlySet<string>): Promise<string[]> {
  const silent = named.filter((s) => !seen.has(s.toLowerCase()));
  if (silent.length === 0) return [];
  // An empty subscription and an unreadable one look the same in the fleet query; ask which is which.
  const visible = new Set((await reader.query(subscriptionsQuery(), { subscriptions: silent })).map((r) => String(r.subscriptionId ?? '').toLowerCase()));
  return silent.filter((s) => !visible.has(s.toLowerCase()));
}

/** Management groups one by one, so the one the identity cannot read is named and the others still count. */
async function readableGroups(reader: GraphReader, groups: readonly string[], findings: RunFinding[]): Promise<string[]> {
  const readable: string[] = [];
  for (const group of groups) {
    try {
      await reader.query(subscriptionsQuery(), { managementGroups: [group] });
      readable.push(group);
    } catch (e) {
      if (!isTagwallError(e, 'GRAPH_FORBIDDEN')) throw e;
      findings.push({ code: 'SCOPE_UNREADABLE', severity: 'warning', message: `management group ${group} cannot be read by tagwall's identity; its firewalls were not discovered`, managementGroup: group });
    }
  }
  return readable;
}

async function queryRows(config: TagwallConfig, reader: GraphReader, scope: GraphScope, findings: RunFinding[], ids?: readonly string[]): Promise<GraphRow[]> {
  const discover = config.discover!;
  const types = discover.resourceTypes.map((k) => k.resourceType);
  const only = ids === undefined ? {} : { ids };
  try {
    return (await reader.query(fleetQuery({ types, tag: discover.tag, digest: discover.digest, ...only }), scope)).map(readRow);
  } catch (e) {
    if (!discover.digest || !isTagwallError(e, 'GRAPH_QUERY_INVALID')) throw e;
    // A cloud whose Resource Graph refuses hash_sha256 still gets its fleet, at the cost of moving the rules.
    // It costs bandwidth, not safety: reported, and nobody paged.
    findings.push({ code: 'GRAPH_DIGEST_UNSUPPORTED', severity: 'info', message: `Resource Graph refused the query with hash_sha256 (${e.message}); the rules themselves were read instead. Set discover.digest to false to stop trying.` });
    return (await reader.query(fleetQuery({ types, tag: discover.tag, digest: false, ...only }), scope)).map(readRow);
  }
}

/**
 * What discovery says of these firewalls now, and nothing of any other: one query for the IDs,
 * within the configured scope. The queue worker asks it before writing what a message names,
 * so a message (forged, or one a tag change overtook) cannot name a firewall the fleet does not
 * hold. Returns each tagged firewall's row by resourceKey; one that is missing is untagged, of a
 * kind discovery does not look for, or out of scope.
 */
export async function fleetRowsOf(config: TagwallConfig, reader: GraphReader, ids: readonly string[]): Promise<ReadonlyMap<string, GraphRow>> {
  const discover = config.discover;
  const found = new Map<string, GraphRow>();
  if (discover === undefined || ids.length === 0) return found;
  const ignored: RunFinding[] = [];
  const subscriptionsOf = (list: readonly string[]) => [...new Set(list.map((id) => parseResourceId(id).subscriptionId.toLowerCase()))];
  let rows: GraphRow[] = [];
  const scope = discover.scope;
  if ('managementGroups' in scope) {
    try {
      rows = await queryRows(config, reader, { managementGroups: scope.managementGroups }, ignored, ids);
    } catch (e) {
      if (!isTagwallError(e, 'GRAPH_FORBIDDEN')) throw e;
      // As discovery does: the groups the identity can read still count.
      const groups = await readableGroups(reader, scope.managementGroups, ignored);
      if (groups.length > 0) rows = await queryRows(config, reader, { managementGroups: groups }, ignored, ids);
    }
  } else {
    const listed = 'subscriptions' in scope ? new Set(scope.subscriptions.map((s) => s.toLowerCase())) : undefined;
    const inScope = ids.filter((id) => listed === undefined || listed.has(parseResourceId(id).subscriptionId.toLowerCase()));
    if (inScope.length > 0) rows = await queryRows(config, reader, { subscriptions: subscriptionsOf(inScope) }, ignored, inScope);
  }
  for (const row of rows) {
    const key = resourceKey(row);
    // As discovery: a resource tagged twice (the key in two cases) keeps its first row.
    if (!found.has(key)) found.set(key, row);
  }
  return found;
}

/** The report of a tagged firewall that is not protected: skipped, with the reason and a warning finding of the same code. */
export function unprotectedReport(u: Unprotected): TargetReport {
  return {
    vault: u.id,
    kind: u.kind,
    outcome: 'skipped',
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: u.limit },
    excessAddresses: 0,
    drift: [],
    // A firewall a queue message named but the fleet no longer holds is a fact, not a problem to page about.
    findings: [{ severity: u.code === 'TARGET_NOT_IN_FLEET' ? 'info' : 'warning', code: u.code, message: u.message, profile: u.profile }],
    reasons: [{ code: u.code, message: u.message, profile: u.profile }],
    mode: 'merge',
    ...(u.profile === '' ? {} : { profile: u.profile }),
  };
}

/** The fleet without discovery: the explicit targets alone. */
export function explicitFleet(config: TagwallConfig): Fleet {
  return { targets: config.targets, rows: new Map(), unprotected: [], notes: new Map(), findings: [], counts: { discovered: 0, optedOut: 0, unprotected: 0, explicit: config.targets.length, overridden: 0 } };
}

export async function discoverFleet(config: TagwallConfig, reader: GraphReader, options: DiscoverOptions = {}): Promise<Fleet> {
  const discover = config.discover;
  const explicit = new Map(config.targets.map((t) => [resourceKey(t.resource), t]));
  if (discover === undefined) return explicitFleet(config);
  const findings: RunFinding[] = [];
  const { scope, named } = scopeOf(config, options.subscriptions);
  let rows: GraphRow[] = [];
  if ('managementGroups' in scope && scope.managementGroups !== undefined) {
    const groups = await readableGroups(reader, scope.managementGroups, findings);
    if (groups.length > 0) rows = await queryRows(config, reader, { managementGroups: groups }, findings);
  } else if (!('subscriptions' in scope) || (scope.subscriptions?.length ?? 0) > 0) {
    rows = await queryRows(config, reader, scope, findings);
  }
  if (named.length > 0) {
    const seen = new Set(rows.map((r) => r.subscriptionId.toLowerCase()));
    for (const sub of await unreadableSubscriptions(reader, named, seen)) {
      findings.push({ code: 'SCOPE_UNREADABLE', severity: 'warning', message: `subscription ${sub} cannot be read by tagwall's identity (or does not exist); its firewalls were not discovered`, subscriptionId: sub });
    }
  }

  const byKey = new Map<string, GraphRow>();
  const discovered: TargetConfig[] = [];
  const unprotected: Unprotected[] = [];
  const notes = new Map<string, Finding>();
  let optedOut = 0;
  for (const row of rows) {
    const key = resourceKey(row);
    if (byKey.has(key)) continue; // one row per tag key; a resource tagged twice in different cases keeps its first
    byKey.set(key, row);
    const kind = kindOfType(row.type);
    if (kind === undefined) continue;
    if (row.profile.toLowerCase() === 'off') {
      optedOut += 1;
      byKey.delete(key);
      continue;
    }
    const own = explicit.get(key);
    if (own !== undefined) {
      notes.set(key, { severity: 'info', code: 'EXPLICIT_TARGET', message: `configured explicitly in targets; its tag ${discover.tag}=${row.profile} is not used`, profile: row.profile });
      continue;
    }
    try {
      discovered.push(profileTarget(config, row.profile, parseResourceId(row.id), kind));
    } catch (e) {
      const code = unprotectedCode(e);
      if (code === undefined) throw e;
      const message =
        code === 'UNKNOWN_PROFILE'
          ? `tagged ${discover.tag}=${row.profile || '(empty)'}, which names no profile (known: ${[...config.profiles.values()].map((p) => p.name).join(', ') || 'none'}, or off); nothing is written until the tag or the profiles are fixed`
          : code === 'PROFILE_OUT_OF_SCOPE'
            ? `tagged ${discover.tag}=${row.profile}, but ${(e as Error).message}; nothing is written until the tag or the profile's scope is changed`
            : (e as Error).message;
      unprotected.push({ id: row.id, kind: kind.kind, limit: kind.maxRules, profile: row.profile, code, message });
    }
  }
  discovered.sort((a, b) => (resourceKey(a.resource) < resourceKey(b.resource) ? -1 : 1));
  return {
    targets: [...config.targets, ...discovered],
    rows: byKey,
    unprotected,
    notes,
    findings,
    counts: { discovered: discovered.length, optedOut, unprotected: unprotected.length, explicit: config.targets.length, overridden: notes.size },
  };
}

/**
 * The "empty source" guard applied to targets: a fleet that suddenly shrank (a lost role
 * assignment, a mistyped scope, a Resource Graph outage that answers empty) must not be read
 * as every other firewall having gone. Returns the finding when removals must stop.
 */
export function shrinkGuard(discovered: number, lastRun: number | undefined, minDiscovered: number): RunFinding | undefined {
  if (discovered < minDiscovered) {
    return { code: 'DISCOVERY_SHRANK', severity: 'critical', message: `discovery found ${discovered} firewall${discovered === 1 ? '' : 's'}, fewer than guards.minDiscovered (${minDiscovered}); no rule is removed anywhere this run`, discovered, minDiscovered };
  }
  if (lastRun !== undefined && discovered < lastRun / 2) {
    return { code: 'DISCOVERY_SHRANK', severity: 'critical', message: `discovery found ${discovered} firewalls, fewer than half of the last run's ${lastRun}; no rule is removed anywhere this run (--force accepts the smaller fleet)`, discovered, lastRun };
  }
  return undefined;
}
