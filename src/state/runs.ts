import { z } from 'zod';
import { isTagwallError, TagwallError } from '../core/errors.js';
import { inPool } from '../core/pool.js';
import { loadRecord, saveRecord } from './records.js';
import type { KeyValueStore } from './store.js';
import type { OutcomeCounts, RunManifest, ShardResult, ShardVault } from './run-records.js';

/**
 * A fleet run's records: the manifest the timer wrote when it enqueued the shards
 * (`runs/<runId>/run.json`), one result per shard (`runs/<runId>/<shard>.json`), and the
 * claim of whoever logs the closing line (`runs/<runId>/summary.json`). One key per shard is
 * what keeps a redelivered shard from being counted twice.
 */

const isoTime = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-hex sha256');

export const runIdSchema = z.uuid();

export const runManifestSchema = z.object({
  version: z.literal(1),
  runId: runIdSchema,
  startedAt: isoTime,
  dryRun: z.boolean(),
  /** Whether a person started the run with force; the one place a shard worker learns it. */
  force: z.boolean().optional(),
  document: sha256,
  changeNumber: count,
  shards: count,
  discovered: count,
  explicit: count,
  inline: z.record(z.string(), count),
  findings: z.array(z.object({ code: z.string().min(1), message: z.string() })),
});

const shardVaultSchema = z.object({
  vault: z.string().min(1),
  outcome: z.string().min(1),
  add: count,
  remove: count,
  error: z.object({ code: z.string().min(1), message: z.string() }).optional(),
  reasons: z.array(z.string()).optional(),
});

export const shardResultSchema = z.object({
  version: z.literal(1),
  runId: runIdSchema,
  shard: count,
  finishedAt: isoTime,
  state: z.enum(['done', 'poisoned', 'not-sent']),
  vaults: z.array(shardVaultSchema),
});

const summaryClaimSchema = z.object({ version: z.literal(1), runId: runIdSchema, claimedAt: isoTime });

/** What GET /api/runs/{runId} answers. */
export interface RunStatus {
  readonly runId: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  readonly changeNumber: number;
  readonly shards: { readonly total: number; readonly done: number; readonly poisoned: number; readonly notSent: number; readonly pending: number };
  /** Every vault of the run so far: the timer's own decisions (`inline`) plus the shards that have reported. */
  readonly vaults: { readonly byOutcome: Record<string, number>; readonly total: number };
  /** Failed and refused vaults from the shards, in shard order, the first FAILURES_SHOWN of them. */
  readonly failures: readonly ShardVault[];
  /** Every shard has an end: done, poisoned, or recorded as never sent. */
  readonly complete: boolean;
  readonly inline: OutcomeCounts;
}

export const FAILURES_SHOWN = 100;
/** Reads in flight at once when a status gathers its shards: a few hundred blobs in a second or two. */
const READ_CONCURRENCY = 16;

/** Refuses anything but a UUID before it becomes part of a key, so no id can reach another run's records. */
export function checkRunId(runId: string): string {
  if (!runIdSchema.safeParse(runId).success) throw new TagwallError('RUN_ID_INVALID', `${JSON.stringify(runId)} is not a run id (a UUID)`);
  return runId.toLowerCase();
}

export function runKey(runId: string, leaf: 'run' | 'summary' | number): string {
  if (typeof leaf === 'number' && !(Number.isSafeInteger(leaf) && leaf >= 0)) throw new TagwallError('STATE_KEY_INVALID', `${leaf} is not a shard number`);
  return `runs/${checkRunId(runId)}/${leaf}.json`;
}

export class RunRepository {
  constructor(readonly store: KeyValueStore) {}

  /** A run's manifest is written once; saving the same manifest again (a retried start) is not an error. */
  async saveManifest(manifest: RunManifest): Promise<void> {
    const key = runKey(manifest.runId, 'run');
    try {
      await saveRecord(this.store, key, `run ${manifest.runId}`, runManifestSchema, manifest, undefined);
    } catch (e) {
      if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
      const stored = await this.loadManifest(manifest.runId);
      if (JSON.stringify(stored) !== JSON.stringify(runManifestSchema.parse(manifest))) throw e;
    }
  }

  async loadManifest(runId: string): Promise<RunManifest | undefined> {
    const loaded = await loadRecord(this.store, runKey(runId, 'run'), `run ${runId}`, runManifestSchema);
    if (loaded !== undefined && loaded.value.runId.toLowerCase() !== runId.toLowerCase()) {
      throw new TagwallError('STATE_CORRUPT', `state for run ${runId} is corrupt: its manifest describes run ${loaded.value.runId}`);
    }
    return loaded?.value;
  }

  /**
   * Records a shard's result unless one is there already: a redelivered shard's second result is
   * not counted again, and a shard that finished is not turned into a failure by a late poison
   * message. Only a poisoned or not-sent result gives way, to a `done` one (a message re-queued by
   * hand, or one the queue took although its send seemed to fail).
   * Returns the result that is stored afterwards.
   */
  async saveShardResult(result: ShardResult): Promise<{ readonly saved: boolean; readonly stored: ShardResult }> {
    const key = runKey(result.runId, result.shard);
    const subject = `shard ${result.shard} of run ${result.runId}`;
    // Two workers racing on the same shard: whoever loses reads the winner's record and decides again.
    for (let attempt = 1; ; attempt++) {
      const existing = await this.loadShard(result.runId, result.shard);
      if (existing !== undefined && !(existing.value.state !== 'done' && result.state === 'done')) return { saved: false, stored: existing.value };
      try {
        await saveRecord(this.store, key, subject, shardResultSchema, result, existing?.etag);
        return { saved: true, stored: result };
      } catch (e) {
        if (!isTagwallError(e, 'STATE_CONFLICT') || attempt >= 3) throw e;
      }
    }
  }

  async loadShardResult(runId: string, shard: number): Promise<ShardResult | undefined> {
    return (await this.loadShard(runId, shard))?.value;
  }

  /** The run as its records say now. RUN_NOT_FOUND when there is no manifest. */
  async status(runId: string): Promise<RunStatus> {
    const manifest = await this.loadManifest(runId);
    if (manifest === undefined) throw new TagwallError('RUN_NOT_FOUND', `no run ${runId} in ${this.store.description}`, { values: { runId } });
    const results = await inPool(manifest.shards, READ_CONCURRENCY, (shard) => this.loadShardResult(manifest.runId, shard));
    const byOutcome: Record<string, number> = { ...manifest.inline };
    const failures: ShardVault[] = [];
    let done = 0;
    let poisoned = 0;
    let notSent = 0;
    for (const r of results) {
      if (r === undefined) continue;
      if (r.state === 'done') done++;
      else if (r.state === 'not-sent') notSent++;
      else poisoned++;
      for (const v of r.vaults) {
        byOutcome[v.outcome] = (byOutcome[v.outcome] ?? 0) + 1;
        if ((v.outcome === 'failed' || v.outcome === 'refused') && failures.length < FAILURES_SHOWN) failures.push(v);
      }
    }
    const pending = manifest.shards - done - poisoned - notSent;
    return {
      runId: manifest.runId,
      startedAt: manifest.startedAt,
      dryRun: manifest.dryRun,
      changeNumber: manifest.changeNumber,
      shards: { total: manifest.shards, done, poisoned, notSent, pending },
      vaults: { byOutcome, total: Object.values(byOutcome).reduce((a, b) => a + b, 0) },
      failures,
      complete: pending === 0,
      inline: manifest.inline,
    };
  }

  /**
   * True for exactly one caller per run, however many ask at once: the write succeeds only if
   * nothing is stored under the key yet. Whoever gets true logs the run's closing line.
   */
  async claimSummary(runId: string, now: Date = new Date()): Promise<boolean> {
    const claim = { version: 1 as const, runId: checkRunId(runId), claimedAt: now.toISOString() };
    try {
      await saveRecord(this.store, runKey(runId, 'summary'), `the summary of run ${runId}`, summaryClaimSchema, claim, undefined);
      return true;
    } catch (e) {
      if (isTagwallError(e, 'STATE_CONFLICT')) return false;
      throw e;
    }
  }

  private async loadShard(runId: string, shard: number): Promise<{ etag: string; value: ShardResult } | undefined> {
    const subject = `shard ${shard} of run ${runId}`;
    const loaded = await loadRecord(this.store, runKey(runId, shard), subject, shardResultSchema);
    // A record copied under the wrong key would count one shard's vaults as another's.
    if (loaded !== undefined && (loaded.value.runId.toLowerCase() !== runId.toLowerCase() || loaded.value.shard !== shard)) {
      throw new TagwallError('STATE_CORRUPT', `state for ${subject} is corrupt: it describes shard ${loaded.value.shard} of run ${loaded.value.runId}`);
    }
    return loaded === undefined ? undefined : { etag: loaded.etag, value: loaded.value as ShardResult };
  }
}
