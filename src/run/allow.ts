import type { TagwallConfig, TargetConfig } from '../config/config.js';
import { configuredDetails, findConfiguredTarget } from '../config/find-target.js';
import { forbiddenOverlap } from '../core/forbidden.js';
import { TagwallError, type ErrorCode } from '../core/errors.js';
import { parseCidr } from '../core/ip-text.js';
import { formatCidr, formatRule } from '../core/ipv4.js';
import type { TargetReport } from '../core/report.js';
import { resourceKey } from '../core/resource-id.js';
import { MAX_GRANT_MS } from '../core/temporary.js';
import { GrantRepository, type Grant } from '../state/grants.js';
import { storesFor } from '../state/stores.js';
import { credentialFor, openRun, type Injected, type Runtime } from './open.js';
import type { RunReport } from './report.js';
import { finishRun, reconcileTargetPasses } from './run.js';
import { grantEntry } from './steps/temporary.js';

/**
 * `tagwall allow`: a temporary grant of one address to one configured target, for the length of a
 * pipeline job, without editing the configuration. The grant is checked first by a dry run of the
 * target's pass with the grant in it (nothing written), then stored in the state store, then applied
 * by the same pass as sync (guards, budget, forbidden space, merge mode, ownership). Every later run
 * reads it from the store and keeps it until it expires (steps/temporary.ts).
 */

export interface AllowRequest {
  /** A configured target's resource ID, or its name when only one target has it. */
  readonly target: string;
  readonly cidr: string;
  /** Milliseconds from now; at most MAX_GRANT_MS. */
  readonly forMs: number;
  readonly note?: string;
}

export interface AllowResult {
  readonly grant: Grant;
  /** The target's resource ID. */
  readonly target: string;
  readonly report: RunReport;
  /** Why nothing was granted; absent when the grant is stored and allowed. */
  readonly refused?: { readonly code: ErrorCode; readonly message: string };
}

/** A configured target (explicit, in `targets`) by resource ID or by name. */
export function grantTarget(config: TagwallConfig, ref: string): TargetConfig {
  const lookup = findConfiguredTarget(config, ref);
  if (lookup.found !== undefined) return lookup.found;
  if (lookup.ambiguous !== undefined) {
    throw new TagwallError('VAULT_NOT_CONFIGURED', `${lookup.ambiguous.length} configured targets are named ${ref}; give the one meant by its resource ID`, { details: configuredDetails(lookup.ambiguous) });
  }
  throw new TagwallError('VAULT_NOT_CONFIGURED', `not a configured target: ${ref} (a grant is for a target in the configuration's targets, by resource ID or name)`, { details: configuredDetails(config.targets) });
}

/** The grant a request asks for at `now`, its address checked as a configured extra is. */
export function grantOf(request: Pick<AllowRequest, 'cidr' | 'forMs' | 'note'>, now: Date): Grant {
  if (!Number.isFinite(request.forMs) || request.forMs <= 0 || request.forMs > MAX_GRANT_MS) {
    throw new TagwallError('USAGE', `--for must be a duration from 1s to ${MAX_GRANT_MS / 86_400_000}d (e.g. 30m, 2h, 1d)`);
  }
  const cidr = parseCidr(request.cidr);
  const bad = forbiddenOverlap(cidr);
  if (bad !== undefined) throw new TagwallError('CIDR_INVALID', `${formatRule(cidr)} overlaps ${bad.cidr}, which is ${bad.why} and can never be allowed`);
  return {
    cidr: formatCidr(cidr),
    until: new Date(now.getTime() + request.forMs).toISOString(),
    ...(request.note === undefined || request.note === '' ? {} : { note: request.note.slice(0, 200) }),
    grantedAt: now.toISOString(),
  };
}

/** Why a pass did not allow the grant, if it did not. */
function refusalOf(report: TargetReport, grant: Grant): AllowResult['refused'] {
  if (report.findings.some((f) => f.code === 'TEMPORARY_ENTRY_NO_ROOM' && f.cidr === grant.cidr)) {
    return { code: 'GRANT_NO_ROOM', message: `${grant.cidr} fits ${report.vault} only by widening its other rules (${report.rules.managed + report.rules.unmanaged + report.rules.shared} of ${report.rules.limit} rules in use); nothing was written` };
  }
  if (report.outcome === 'failed') return { code: 'GRANT_NOT_APPLIED', message: `${report.vault} failed (${report.error?.code ?? 'INTERNAL'}: ${report.error?.message ?? ''}); nothing was granted` };
  if (report.outcome === 'refused' || report.outcome === 'skipped') {
    return { code: 'GRANT_NOT_APPLIED', message: `${report.vault} was ${report.outcome} (${report.reasons.map((r) => r.code).join(', ')}); nothing was granted` };
  }
  return undefined;
}

export async function allowTemporary(config: TagwallConfig, request: AllowRequest, runtime: Runtime, injected: Injected = {}): Promise<AllowResult> {
  const target = grantTarget(config, request.target);
  const now = (runtime.now ?? (() => new Date()))();
  const grant = grantOf(request, now);
  await using session = await openRun(config, { dryRun: false, force: false, alerts: 'off' }, runtime, injected);
  const only = { backlog: false } as const;
  const [check] = await reconcileTargetPasses(session, [target], undefined, { ...only, dryRun: true, proposedGrant: { target: resourceKey(target.resource), grant } });
  const refusedFirst = refusalOf(check!.report, grant);
  const done = async (report: TargetReport, refused?: AllowResult['refused']): Promise<AllowResult> => ({
    grant,
    target: target.resource.id,
    report: (await finishRun(session, [report], { scopes: 'vaults' })).report,
    ...(refused === undefined ? {} : { refused }),
  });
  if (refusedFirst !== undefined) return done(check!.report, refusedFirst);

  // Stored before the write: a run that plans after the write then sees it (steps/temporary.ts).
  const grants = new GrantRepository(session.state);
  await grants.update(target.resource, (r) => ({
    ...r,
    // A grant for the same address that ends no later is replaced; what others added meanwhile stays.
    grants: [...r.grants.filter((g) => g.cidr !== grant.cidr || grantEntry(g).expiresAt > grantEntry(grant).expiresAt), grant],
  }));
  const [applied] = await reconcileTargetPasses(session, [target], undefined, only);
  const refused = refusalOf(applied!.report, grant);
  if (refused !== undefined) {
    // Withdrawn, so no later run allows what this one could not.
    await grants.update(target.resource, (r) => (r.grants.some((g) => sameGrant(g, grant)) ? { ...r, grants: r.grants.filter((g) => !sameGrant(g, grant)) } : undefined));
  }
  return done(applied!.report, refused);
}

function sameGrant(a: Grant, b: Grant): boolean {
  return a.cidr === b.cidr && a.until === b.until && a.grantedAt === b.grantedAt;
}

export interface ListedGrant extends Grant {
  readonly target: string;
}

/** Every configured target's grants, as stored (expired ones included until a run drops them). */
export async function listGrants(config: TagwallConfig, runtime: Runtime): Promise<ListedGrant[]> {
  await using stores = await storesFor(config, runtime, credentialFor(config, runtime));
  const repo = new GrantRepository(stores.state);
  const out: ListedGrant[] = [];
  for (const t of config.targets) for (const g of (await repo.load(t.resource)).record.grants) out.push({ target: t.resource.id, ...g });
  return out;
}
