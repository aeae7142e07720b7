import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/state/blob-store.js';
import { FAILURES_SHOWN, RunRepository, runKey } from '../../src/state/runs.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import type { RunManifest, ShardResult, ShardVault } from '../../src/state/run-records.js';

// Run records in a real blob container (Azurite): conditional writes are what make a
// redelivered shard count once and a summary claim succeed once.

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

let containers = 0;
function repository(): RunRepository {
  return new RunRepository(BlobStore.fromConnectionString(azurite.connectionString, `runs-${++containers}`));
}

function manifest(runId: string, shards: number, extra: Partial<RunManifest> = {}): RunManifest {
  return {
    version: 1,
    runId,
    startedAt: '2025-10-20T06:00:00.000Z',
    dryRun: false,
    document: 'b'.repeat(64),
    changeNumber: 412,
    shards,
    discovered: 1200,
    explicit: 2,
    inline: { 'in-sync': 1100, skipped: 2 },
    findings: [],
    ...extra,
  };
}

const vault = (name: string, outcome: string, code?: string): ShardVault => ({
  vault: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${name}`,
  outcome,
  add: outcome === 'applied' ? 3 : 0,
  remove: 0,
  ...(code === undefined ? {} : { error: { code, message: `${name}: ${code}` } }),
});

function result(runId: string, shard: number, vaults: ShardVault[], state: ShardResult['state'] = 'done'): ShardResult {
  return { version: 1, runId, shard, finishedAt: '2025-10-20T06:05:00.000Z', state, vaults };
}

describe('RunRepository', () => {
  it('aggregates the manifest and the shards that have reported', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 3));
    expect(await runs.loadManifest(runId)).toEqual(manifest(runId, 3));

    const before = await runs.status(runId);
    expect(before).toMatchObject({ runId, dryRun: false, changeNumber: 412, shards: { total: 3, done: 0, poisoned: 0, pending: 3 }, complete: false, failures: [] });
    expect(before.vaults).toEqual({ byOutcome: { 'in-sync': 1100, skipped: 2 }, total: 1102 });

    await runs.saveShardResult(result(runId, 0, [vault('kv-a', 'applied'), vault('kv-b', 'failed', 'VAULT_FORBIDDEN')]));
    await runs.saveShardResult(result(runId, 2, [vault('kv-c', 'in-sync'), vault('kv-d', 'refused')]));
    const partial = await runs.status(runId);
    expect(partial.shards).toEqual({ total: 3, done: 2, poisoned: 0, notSent: 0, pending: 1 });
    expect(partial.complete).toBe(false);
    expect(partial.vaults).toEqual({ byOutcome: { 'in-sync': 1101, skipped: 2, applied: 1, failed: 1, refused: 1 }, total: 1106 });
    expect(partial.failures.map((f) => [f.outcome, f.error?.code])).toEqual([
      ['failed', 'VAULT_FORBIDDEN'],
      ['refused', undefined],
    ]);
    expect(partial.inline).toEqual({ 'in-sync': 1100, skipped: 2 });

    await runs.saveShardResult(result(runId, 1, [vault('kv-e', 'failed', 'SHARD_FAILED')], 'poisoned'));
    const done = await runs.status(runId);
    expect(done.shards).toEqual({ total: 3, done: 2, poisoned: 1, notSent: 0, pending: 0 });
    expect(done.complete).toBe(true);
    // In shard order, whatever order they arrived in.
    expect(done.failures.map((f) => f.vault.split('/').pop())).toEqual(['kv-b', 'kv-e', 'kv-d']);
  });

  it('a run with nothing enqueued is complete at once', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 0));
    expect(await runs.status(runId)).toMatchObject({ shards: { total: 0, pending: 0 }, complete: true });
  });

  it('does not count a redelivered shard twice, and a late poison does not undo a done shard', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 2, { inline: {} }));
    const first = result(runId, 0, [vault('kv-a', 'applied')]);
    expect(await runs.saveShardResult(first)).toEqual({ saved: true, stored: first });
    // The redelivery finds the vault already in sync; the first result stands.
    expect(await runs.saveShardResult(result(runId, 0, [vault('kv-a', 'in-sync')]))).toEqual({ saved: false, stored: first });
    expect(await runs.saveShardResult(result(runId, 0, [vault('kv-a', 'failed', 'SHARD_FAILED')], 'poisoned'))).toEqual({ saved: false, stored: first });
    const status = await runs.status(runId);
    expect(status.vaults).toEqual({ byOutcome: { applied: 1 }, total: 1 });
    expect(status.shards).toMatchObject({ done: 1, poisoned: 0, pending: 1 });
  });

  it('a shard re-queued from the poison queue that then finishes replaces its poisoned result', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 1, { inline: {} }));
    await runs.saveShardResult(result(runId, 0, [vault('kv-a', 'failed', 'SHARD_FAILED')], 'poisoned'));
    const later = result(runId, 0, [vault('kv-a', 'applied')]);
    expect(await runs.saveShardResult(later)).toEqual({ saved: true, stored: later });
    expect((await runs.status(runId)).vaults.byOutcome).toEqual({ applied: 1 });
  });

  it('a shard recorded as not sent that the queue took after all: its done result replaces the record, and the status counts it done', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 2, { inline: {} }));
    await runs.saveShardResult(result(runId, 0, [vault('kv-a', 'failed', 'SHARD_NOT_SENT')], 'not-sent'));
    await runs.saveShardResult(result(runId, 1, [vault('kv-b', 'failed', 'SHARD_NOT_SENT')], 'not-sent'));
    expect((await runs.status(runId)).shards).toEqual({ total: 2, done: 0, poisoned: 0, notSent: 2, pending: 0 });
    const later = result(runId, 0, [vault('kv-a', 'applied')]);
    expect(await runs.saveShardResult(later)).toEqual({ saved: true, stored: later });
    // A late poison message for a shard recorded as not sent changes nothing.
    expect((await runs.saveShardResult(result(runId, 1, [vault('kv-b', 'failed', 'SHARD_FAILED')], 'poisoned'))).saved).toBe(false);
    const status = await runs.status(runId);
    expect(status.shards).toEqual({ total: 2, done: 1, poisoned: 0, notSent: 1, pending: 0 });
    expect(status.complete).toBe(true);
    expect(status.failures.map((f) => f.error?.code)).toEqual(['SHARD_NOT_SENT']);
  });

  it('two results for one shard racing: one is stored, both callers are told which', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 1, { inline: {} }));
    const a = result(runId, 0, [vault('kv-a', 'applied')]);
    const b = result(runId, 0, [vault('kv-a', 'in-sync')]);
    const [ra, rb] = await Promise.all([runs.saveShardResult(a), runs.saveShardResult(b)]);
    expect([ra.saved, rb.saved].sort()).toEqual([false, true]);
    expect(ra.stored).toEqual(rb.stored);
    expect((await runs.status(runId)).vaults.total).toBe(1);
  });

  it('lists at most the first hundred failures', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 3, { inline: {} }));
    await Promise.all([0, 1, 2].map((s) => runs.saveShardResult(result(runId, s, Array.from({ length: 50 }, (_, i) => vault(`kv-${s}-${i}`, 'failed', 'VAULT_FORBIDDEN'))))));
    const status = await runs.status(runId);
    expect(status.vaults.byOutcome).toEqual({ failed: 150 });
    expect(status.failures).toHaveLength(FAILURES_SHOWN);
    expect(status.failures[0]!.vault).toMatch(/kv-0-0$/);
    expect(status.failures[99]!.vault).toMatch(/kv-1-49$/);
  });

  it('claimSummary is true exactly once, even for two claims at the same moment', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 1));
    const claims = await Promise.all([runs.claimSummary(runId), runs.claimSummary(runId)]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await runs.claimSummary(runId)).toBe(false);
    // Another run's claim is its own.
    expect(await runs.claimSummary(randomUUID())).toBe(true);
  });

  it('says RUN_NOT_FOUND for an unknown run, and refuses a malformed id before building a key', async () => {
    const runs = repository();
    await expect(runs.status(randomUUID())).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    expect(await runs.loadManifest(randomUUID())).toBeUndefined();
    for (const bad of ['../vaults/x', 'abc', `${randomUUID()}/../../alerts/_run`, '']) {
      await expect(runs.status(bad)).rejects.toMatchObject({ code: 'RUN_ID_INVALID' });
      await expect(runs.claimSummary(bad)).rejects.toMatchObject({ code: 'RUN_ID_INVALID' });
    }
    expect(() => runKey(randomUUID(), -1)).toThrow(expect.objectContaining({ code: 'STATE_KEY_INVALID' }));
    const runId = randomUUID();
    expect(runKey(runId.toUpperCase(), 3)).toBe(`runs/${runId}/3.json`);
  });

  it('writes a manifest once: the same one again is accepted, a different one is a conflict', async () => {
    const runs = repository();
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 2));
    await runs.saveManifest(manifest(runId, 2));
    await expect(runs.saveManifest(manifest(runId, 3))).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    await expect(runs.saveManifest({ ...manifest(runId, 2), document: 'not-a-hash' })).rejects.toMatchObject({ code: 'STATE_RECORD_INVALID' });
  });

  it('refuses a shard record stored under another shard\'s key', async () => {
    const store = BlobStore.fromConnectionString(azurite.connectionString, `runs-${++containers}`);
    const runs = new RunRepository(store);
    const runId = randomUUID();
    await runs.saveManifest(manifest(runId, 2));
    await store.put(runKey(runId, 1), JSON.stringify(result(runId, 0, [vault('kv-a', 'applied')])));
    await expect(runs.status(runId)).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });
});
