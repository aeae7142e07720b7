import { profileTarget, type TagwallConfig, type TargetConfig } from '../config/config.js';
import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import { parseResourceId, resourceKey } from '../core/resource-id.js';
import { finishRun, reconcileTargetPasses, reconcileTargets } from './run.js';
import { fleetOf, graphOf, rememberFleetSize, targetsOf, wantedBy, withDiscoveryNotes } from './fleet.js';
import { openRun, type RunOptions, type Runtime } from './open.js';
import { failedUnplanned, type RunError, type RunReport } from './report.js';
import { kindOf } from '../targets/kinds.js';
import { storeDocument } from '../fleet/documents.js';
import { fleetRowsOf, unprotectedCode, unprotectedReport, type Unprotected } from '../fleet/discovery.js';
import { RunRepository } from '../state/runs.js';
import type { FleetGraph, GraphRow, ShardMessage, ShardSink } from '../fleet/model.js';
import type { TargetReport } from '../core/report.js';
import type { OutcomeCounts, RunManifest, ShardResult, ShardVault } from '../state/run-records.js';

/**
 * The fleet run as the Functions app does it. The timer resolves the document once (stored
 * content-addressed), discovers the fleet, settles every firewall Resource Graph shows
 * unchanged without an ARM call, and sends the rest to the queue in shards of one
 * subscription each; a small remainder it reconciles inline, on the same code path. Each shard
 * is reconciled by the queue worker with exactly the document the run resolved.
 */

/** Where the run's manifest goes, for `GET /api/runs/{runId}`, and the shards the queue never took. */
export interface RunRecords {
  saveManifest(manifest: RunManifest): Promise<unknown>;
  saveShardResult(result: ShardResult): Promise<unknown>;
}

export interface FleetRunStarted {
  readonly runId: string;
  /** Everything the timer settled itself (in sync by Resource Graph, unprotected, inline work). */
  readonly report: RunReport;
  readonly manifest: RunManifest;
  readonly enqueued: { readonly shards: number; readonly vaults: number };
}

/** Keeps a message well under Storage's 64 KB once base64 adds its third. */
const MAX_MESSAGE_JSON = 45_000;

function counts(reports: readonly TargetReport[]): OutcomeCounts {
  const by: Record<string, number> = {};
  for (const r of reports) by[r.outcome] = (by[r.outcome] ?? 0) + 1;
  return by;
}

/** Shards of at most `size` targets, each of one subscription, each message within the size limit. */
export function shardsOf(targets: readonly TargetConfig[], size: number, runId: string, document: string, force: boolean, graph?: FleetGraph): ShardMessage[] {
  const bySubscription = new Map<string, TargetConfig[]>();
  for (const t of targets) {
    const key = t.resource.subscriptionId.toLowerCase();
    bySubscription.set(key, [...(bySubscription.get(key) ?? []), t]);
  }
  const shards: ShardMessage[] = [];
  const push = (group: ShardMessage['targets']) => {
    shards.push({ version: 1, runId, document, shard: shards.length, targets: group, ...(force ? { force: true } : {}) });
  };
  // The limit is the whole message's; what is not targets (the envelope, with the widest shard
  // number a run could reach) comes off it first, or a full shard ends up to ~150 characters over.
  const envelope = JSON.stringify({ version: 1, runId, document, shard: Number.MAX_SAFE_INTEGER, targets: [], ...(force ? { force: true } : {}) }).length;
  const budget = MAX_MESSAGE_JSON - envelope;
  for (const group of bySubscription.values()) {
    let current: { id: string; profile?: string; fingerprint?: string }[] = [];
    let bytes = 0;
    for (const t of group) {
      const fingerprint = graph?.rows.get(resourceKey(t.resource))?.fingerprint;
      const entry = { id: t.resource.id, ...(t.profile === undefined ? {} : { profile: t.profile }), ...(fingerprint === undefined ? {} : { fingerprint }) };
      const cost = JSON.stringify(entry).length + 1;
      if (current.length > 0 && (current.length >= size || bytes + cost > budget)) {
        push(current);
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += cost;
    }
    if (current.length > 0) push(current);
  }
  return shards;
}

export async function startFleetRun(
  config: TagwallConfig,
  options: RunOptions & { readonly fanOut: 'queue' | 'auto' },
  runtime: Runtime,
  deps: { readonly sink?: ShardSink; readonly runs?: RunRecords },
): Promise<FleetRunStarted> {
  await using session = await openRun(config, options, runtime);
  const { fleet, errors, guard, lastCount } = await fleetOf(session);
  const targets = targetsOf(session, fleet, guard);
  const graph = graphOf(session, fleet);
  // Judging costs state reads only; what it cannot settle needs a direct read and maybe a write.
  const judged = await reconcileTargetPasses(session, targets, graph, { judgeOnly: true });
  const work = targets.filter((_, i) => judged[i]!.needsWork === true);
  const settled = judged.filter((p) => p.needsWork !== true).map((p) => p.report);
  const queue = deps.sink !== undefined && !options.dryRun && work.length > 0 && (options.fanOut === 'queue' || work.length > config.fanOut.inlineBelow);
  let inline: TargetReport[] = [];
  let shards: ShardMessage[] = [];
  let document = '';
  // Stored once per weekly file (content-addressed), so every run's manifest can name it.
  if (queue || (!options.dryRun && deps.runs !== undefined)) document = await storeDocument(session.state, session.doc);
  if (queue) {
    shards = shardsOf(work, config.fanOut.shardSize, session.runId, document, options.force, graph);
  } else if (work.length > 0) {
    // With the rows, a vault found in step by its direct read records what Resource Graph showed.
    inline = await reconcileTargets(session, work, graph);
  }
  // Config order, whichever way each vault was settled.
  const byId = new Map([...settled, ...inline].map((r) => [resourceKey({ id: r.vault }), r]));
  const ordered = targets.flatMap((t) => byId.get(resourceKey(t.resource)) ?? []);
  const vaults = withDiscoveryNotes(fleet, ordered, wantedBy(options));
  const manifest: RunManifest = {
    version: 1,
    runId: session.runId,
    startedAt: session.now().toISOString(),
    dryRun: options.dryRun,
    ...(options.force ? { force: true } : {}),
    document,
    changeNumber: session.doc.changeNumber,
    shards: shards.length,
    discovered: fleet.counts.discovered,
    explicit: fleet.counts.explicit,
    inline: counts(vaults),
    findings: [...errors, ...fleet.findings].map((f) => ({ code: f.code, message: f.message })),
  };
  // The manifest first, so the status is readable as soon as the first shard lands (and a run
  // with nothing to send still has a status to show).
  if (!options.dryRun) await deps.runs?.saveManifest(manifest);
  const unsent = queue ? await sendShards(session, deps, shards, work) : { reports: [], shards: 0, vaults: 0, errors: [] };
  await rememberFleetSize(session, fleet, guard, lastCount);
  const { report } = await finishRun(session, [...vaults, ...unsent.reports], { errors: [...errors, ...unsent.errors], fleet, scopes: 'run' });
  return { runId: session.runId, report, manifest, enqueued: { shards: shards.length - unsent.shards, vaults: work.length * Number(queue) - unsent.vaults } };
}

/** Shard messages sent at once, each its own send, so a failure leaves no doubt which went out. */
const SEND_CONCURRENCY = 8;

/**
 * Sends the shards; when the queue fails partway, the shards it did not take are recorded as
 * `not-sent` (SHARD_NOT_SENT, every firewall named), so the run's status reaches an end instead of
 * waiting for them forever, and they come back as failed firewalls in the run's report (and its
 * alerts). The next sync finds those firewalls again. A shard whose send failed although the queue
 * took it is reconciled anyway; its `done` result replaces the `not-sent` one.
 */
async function sendShards(
  session: Awaited<ReturnType<typeof openRun>>,
  deps: { readonly sink?: ShardSink; readonly runs?: RunRecords },
  shards: readonly ShardMessage[],
  work: readonly TargetConfig[],
): Promise<{ reports: TargetReport[]; shards: number; vaults: number; errors: RunError[] }> {
  const sent = new Set<number>();
  let failure: unknown;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < shards.length) {
      const shard = shards[next++]!;
      try {
        await deps.sink!.send([shard]);
        sent.add(shard.shard);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, shards.length) }, worker));
  if (failure === undefined) return { reports: [], shards: 0, vaults: 0, errors: [] };

  const missing = shards.filter((s) => !sent.has(s.shard));
  const why = `the queue failed after ${sent.size} of ${shards.length} shards of run ${session.runId} were sent: ${describeError(failure)}`;
  const finishedAt = session.now().toISOString();
  const byKey = new Map(work.map((t) => [resourceKey(t.resource), t]));
  const reports: TargetReport[] = [];
  for (const shard of missing) {
    const vaults = shard.targets.map((t) => ({ vault: t.id, outcome: 'failed', add: 0, remove: 0, error: { code: 'SHARD_NOT_SENT', message: why } }));
    try {
      await deps.runs?.saveShardResult({ version: 1, runId: session.runId, shard: shard.shard, finishedAt, state: 'not-sent', vaults });
    } catch (e) {
      // The report and its alerts still say it; only the status keeps counting this shard as pending.
      session.runtime.logger.error(`tagwall.run ${session.runId}: shard ${shard.shard} could not be recorded as not sent: ${describeError(e)}`);
    }
    for (const t of shard.targets) {
      const target = byKey.get(resourceKey(t));
      if (target !== undefined) reports.push(notSentReport(target, why));
    }
  }
  const count = missing.reduce((n, s) => n + s.targets.length, 0);
  session.runtime.logger.error(`tagwall.run ${session.runId}: SHARD_NOT_SENT: ${missing.length} of ${shards.length} shards (${count} firewalls) were not sent; ${why}`);
  const code = isTagwallError(failure) ? failure.code : 'QUEUE_UNAVAILABLE';
  return { reports, shards: missing.length, vaults: count, errors: [{ code: 'SHARD_NOT_SENT', message: `${missing.length} of ${shards.length} shards were not sent (${code}); their ${count} firewalls were not reconciled: ${why}` }] };
}

function notSentReport(target: TargetConfig, message: string): TargetReport {
  return failedUnplanned(target, { code: 'SHARD_NOT_SENT', message });
}

/**
 * The targets a message names: the explicit target for an ID, else the profile discovery gives
 * it now. A message is not trusted to say what the fleet holds (anyone who may send to the queue
 * could write one, and a tag may change while it waits): a discovered firewall is written only
 * when Resource Graph still shows it tagged with the message's profile, within the scope
 * (`rows`, from fleetRowsOf), and the profile's own scope covers it.
 */
function targetsOfMessage(config: TagwallConfig, message: ShardMessage, rows: ReadonlyMap<string, GraphRow> | undefined, logger: Runtime['logger']): { targets: TargetConfig[]; unprotected: TargetReport[] } {
  const explicit = new Map(config.targets.map((t) => [resourceKey(t.resource), t]));
  const targets: TargetConfig[] = [];
  const unprotected: TargetReport[] = [];
  for (const entry of message.targets) {
    const own = explicit.get(resourceKey(entry));
    if (own !== undefined) {
      targets.push(own);
      continue;
    }
    const resource = parseResourceId(entry.id);
    const kind = kindOf(resource);
    const skip = (code: Unprotected['code'], message: string) => unprotected.push(unprotectedReport({ id: entry.id, kind: kind.kind, limit: kind.maxRules, profile: entry.profile ?? '', code, message }));
    if (entry.profile === undefined) {
      skip('UNKNOWN_PROFILE', `${entry.id} is no longer a configured target and carries no profile`);
      continue;
    }
    // Without rows (no token) nothing is written anyway: every target fails for want of one.
    const row = rows?.get(resourceKey(entry));
    if (rows !== undefined && (row === undefined || row.profile.toLowerCase() !== entry.profile.toLowerCase())) {
      const now = row === undefined ? 'Resource Graph shows it untagged, of a kind not discovered, or outside discover.scope' : `its tag now names ${JSON.stringify(row.profile)}`;
      const why = `the message names it for profile ${entry.profile}, but ${now}; nothing is written (the next run takes it as its tag says)`;
      logger.warn(`tagwall.shard ${message.runId}#${message.shard}: ${entry.id} skipped (TARGET_NOT_IN_FLEET): ${why}`);
      skip('TARGET_NOT_IN_FLEET', why);
      continue;
    }
    try {
      targets.push(profileTarget(config, entry.profile, resource, kind));
    } catch (e) {
      // The configuration changed while the message waited: nothing is written on a guess.
      const code = unprotectedCode(e);
      if (code === undefined) throw e;
      skip(code, (e as Error).message);
    }
  }
  return { targets, unprotected };
}

/** What the timer's Resource Graph read said of each vault, as far as confirming a direct read needs it. */
function graphOfMessage(config: TagwallConfig, message: ShardMessage): FleetGraph | undefined {
  const discover = config.discover;
  if (discover === undefined) return undefined;
  const rows = new Map<string, GraphRow>();
  for (const t of message.targets) {
    if (t.fingerprint !== undefined) rows.set(resourceKey(t), { id: t.id, type: '', subscriptionId: t.id.split('/')[2] ?? '', profile: t.profile ?? '', fingerprint: t.fingerprint });
  }
  return rows.size === 0 ? undefined : { rows, recheckMs: discover.recheckHours * 3_600_000, lagMs: discover.lagMinutes * 60_000 };
}

function shardVault(r: TargetReport): ShardVault {
  return {
    vault: r.vault,
    outcome: r.outcome,
    add: r.add.length,
    remove: r.remove.length,
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }),
    ...(r.reasons.length === 0 ? {} : { reasons: r.reasons.map((x) => x.code) }),
  };
}

/**
 * One shard, as the queue worker runs it: the run's own document, the one-writer protocol (so a
 * redelivered message finds its vaults written and writes nothing), and the shard's own alerts.
 * A vault's failure is in the result; only a shard that could not run at all throws.
 */
export async function runShard(config: TagwallConfig, message: ShardMessage, runtime: Runtime, options: { readonly deadline?: Date } = {}): Promise<ShardResult> {
  const runOptions: RunOptions = { dryRun: false, force: false, alerts: 'send', ...(options.deadline === undefined ? {} : { deadline: options.deadline }) };
  await using session = await openRun(config, runOptions, runtime, { documentId: message.document });
  // Force is a person's decision, recorded in the run's manifest when the run started; a message
  // saying so is not enough.
  const force = (await new RunRepository(session.state).loadManifest(message.runId))?.force === true;
  if (message.force === true && !force) runtime.logger.warn(`tagwall.shard ${message.runId}#${message.shard}: the message asks for force, but its run's manifest does not; not forced`);
  const discovered = message.targets.filter((t) => t.profile !== undefined).map((t) => t.id);
  let rows: ReadonlyMap<string, GraphRow> | undefined;
  if (discovered.length > 0 && session.credentialError === undefined) {
    // Without discovery configured, no message can name a discovered firewall.
    rows = session.graph === undefined ? new Map() : await fleetRowsOf(config, session.graph, discovered);
  }
  const { targets, unprotected } = targetsOfMessage(config, message, rows, runtime.logger);
  // Intents carry this delivery's own id and the shard as their writer. The host delivers a
  // message again only once the delivery before has failed or stopped renewing its hold (its
  // worker died), so an intent of the same shard is that dead delivery's: this one takes it over,
  // reading the firewall to see whether the write landed. Every other run still finds it busy.
  const writer = `shard:${message.runId.toLowerCase()}#${message.shard}`;
  const vaults = [...(await reconcileTargets(session, targets, graphOfMessage(config, message), { backlog: false, force, writer })), ...unprotected];
  const { report } = await finishRun(session, vaults, { scopes: 'vaults' });
  runtime.onShardReport?.(report);
  return { version: 1, runId: message.runId, shard: message.shard, finishedAt: session.now().toISOString(), state: 'done', vaults: vaults.map(shardVault) };
}
