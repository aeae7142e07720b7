import type { TargetConfig } from '../config/config.js';
import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import { checkProfileSelectors, selectTargets } from './reconcile.js';
import { discoverFleet, explicitFleet, shrinkGuard, unprotectedReport, type Fleet, type RunFinding } from '../fleet/discovery.js';
import type { FleetGraph } from '../fleet/model.js';
import { DiscoveryCountRepository, type DiscoveryCount, type Loaded } from '../state/records.js';

import type { RunOptions, RunSession } from './open.js';
import type { RunError, RunReport } from './report.js';
import type { TargetReport } from '../core/report.js';

/**
 * The fleet of one run: discovery (or the explicit targets alone), the narrowing of --vault and
 * --subscription, the shrink guard turning every target add-only, and what the report says of it.
 */

/** The fleet of a run: the explicit targets, and with discovery the tagged firewalls in scope. */
export async function fleetOf(session: RunSession): Promise<{ fleet: Fleet; errors: RunError[]; guard?: RunFinding; lastCount?: Loaded<DiscoveryCount> }> {
  const { config, options } = session;
  checkProfileSelectors(session.doc, config);
  if (config.discover === undefined || session.graph === undefined || session.credentialError !== undefined) {
    return { fleet: explicitFleet(config), errors: [] };
  }
  const narrowed = (options.vaults?.length ?? 0) > 0 || (options.subscriptions?.length ?? 0) > 0;
  const counts = new DiscoveryCountRepository(session.state);
  const lastCount = narrowed ? undefined : await counts.load().catch(() => undefined);
  let fleet: Fleet;
  const errors: RunError[] = [];
  try {
    fleet = await discoverFleet(config, session.graph, options.subscriptions === undefined ? {} : { subscriptions: options.subscriptions });
  } catch (e) {
    // Without its fleet the run still keeps the explicit targets in step, adding only.
    errors.push({ code: isTagwallError(e) ? e.code : 'GRAPH_FAILED', message: `discovery failed, so only explicit targets were reconciled, and nothing was removed: ${describeError(e)}` });
    fleet = explicitFleet(config);
    const guard: RunFinding = { code: 'DISCOVERY_SHRANK', severity: 'critical', message: errors[0]!.message, discovered: 0 };
    return { fleet: { ...fleet, findings: [guard] }, errors, guard, ...(lastCount === undefined ? {} : { lastCount }) };
  }
  const guard = narrowed ? undefined : shrinkGuard(fleet.counts.discovered, lastCount?.value.discovered, config.guards.minDiscovered);
  return { fleet: guard === undefined ? fleet : { ...fleet, findings: [...fleet.findings, guard] }, errors, ...(guard === undefined ? {} : { guard }), ...(lastCount === undefined ? {} : { lastCount }) };
}

/** The targets a run reconciles: narrowed by --vault and --subscription, add-only everywhere when the shrink guard fired. */
export function targetsOf(session: RunSession, fleet: Fleet, guard: RunFinding | undefined): TargetConfig[] {
  const { options } = session;
  let targets = selectTargets({ ...session.config, targets: fleet.targets }, options.vaults);
  if (options.subscriptions !== undefined && options.subscriptions.length > 0) {
    const subs = new Set(options.subscriptions.map((s) => s.trim().toLowerCase()));
    checkSubscriptions(options.subscriptions, fleet.targets, session.config.discover !== undefined);
    targets = targets.filter((t) => subs.has(t.resource.subscriptionId.toLowerCase()));
  }
  // --force is a person accepting the smaller fleet for this run.
  if (guard !== undefined && !options.force) targets = targets.map((t) => (t.policy === 'add-only' ? t : { ...t, policy: 'add-only' as const }));
  return targets;
}

/**
 * A --subscription with no target, configured or discovered, is a typo as often as not: refused
 * like a --vault that is not configured, instead of a run that quietly does nothing.
 */
function checkSubscriptions(given: readonly string[], fleet: readonly TargetConfig[], discovering: boolean): void {
  const present = new Set(fleet.map((t) => t.resource.subscriptionId.toLowerCase()));
  const missing = given.filter((s) => !present.has(s.trim().toLowerCase()));
  if (missing.length === 0) return;
  throw new TagwallError('SUBSCRIPTION_NOT_CONFIGURED', `no target in subscription ${missing.join(', ')} (none configured${discovering ? ', none discovered' : ''})`, {
    details: [...present].slice(0, 20).map((s) => `a subscription with targets: ${s}`),
  });
}

export function graphOf(session: RunSession, fleet: Fleet): FleetGraph | undefined {
  const discover = session.config.discover;
  if (discover === undefined || fleet.rows.size === 0) return undefined;
  return { rows: fleet.rows, recheckMs: discover.recheckHours * 3_600_000, lagMs: discover.lagMinutes * 60_000 };
}

/** Reports for what discovery found but cannot protect, and the explicit targets' EXPLICIT_TARGET notes. */
export function withDiscoveryNotes(fleet: Fleet, vaults: readonly TargetReport[], wanted: (id: string) => boolean): TargetReport[] {
  const noted = vaults.map((v) => {
    const note = fleet.notes.get(v.vault.toLowerCase());
    return note === undefined ? v : { ...v, findings: [...v.findings, note] };
  });
  const unprotected = fleet.unprotected.filter((u) => wanted(u.id)).map(unprotectedReport);
  return [...noted, ...unprotected];
}

/** After a full, non-dry run: remember the fleet's size for the next run's shrink guard. */
export async function rememberFleetSize(session: RunSession, fleet: Fleet, guard: RunFinding | undefined, last: Loaded<DiscoveryCount> | undefined): Promise<void> {
  const { options, config } = session;
  if (config.discover === undefined || options.dryRun || (options.vaults?.length ?? 0) > 0 || (options.subscriptions?.length ?? 0) > 0) return;
  if (guard !== undefined && !options.force) return;
  if (last?.value.discovered === fleet.counts.discovered) return;
  try {
    await new DiscoveryCountRepository(session.state).save({ version: 1, discovered: fleet.counts.discovered, at: session.now().toISOString() }, last?.etag);
  } catch (e) {
    session.runtime.logger.warn(`tagwall could not remember the size of the fleet: ${describeError(e)}`);
  }
}

export function fleetSummary(session: RunSession, fleet: Fleet): RunReport['fleet'] {
  if (session.config.discover === undefined) return undefined;
  return { ...fleet.counts, findings: fleet.findings, ...(session.graph === undefined ? {} : { graph: session.graph.stats() }) };
}

/** Whether a discovered ID is within a narrowed run. */
export function wantedBy(options: RunOptions): (id: string) => boolean {
  const vaults = options.vaults === undefined || options.vaults.length === 0 ? undefined : new Set(options.vaults.map((v) => v.trim().replace(/\/$/, '').toLowerCase()));
  const subs = options.subscriptions === undefined || options.subscriptions.length === 0 ? undefined : new Set(options.subscriptions.map((s) => s.toLowerCase()));
  return (id) => (vaults === undefined || vaults.has(id.toLowerCase())) && (subs === undefined || subs.has((id.split('/')[2] ?? '').toLowerCase()));
}

