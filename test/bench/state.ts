import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseVaultId } from '../../src/core/vault-id.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { encodeStateFile, JsonFileStore } from '../../src/state/json-file-store.js';
import { inPool } from '../../src/core/pool.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import { TargetStateRepository, vaultStateKey, type VaultRecord } from '../../src/state/records.js';
import { prefetchedRecords } from '../../src/state/run-cache.js';
import type { KeyValueStore } from '../../src/state/store.js';
import { startAzurite } from '../helpers/azurite.js';
import { registerSection, type SectionContext } from './harness.js';
import { fleetScale } from './fleet.js';

/**
 * `state`: 10,000 records shaped like the fleet bench's after its first apply (300 rules of
 * others observed and listed as unmanaged in the remembered plan, 30 of tagwall's), in each store:
 * what they take on disk (or in blob storage) and how long a run takes to load them all, read and
 * decoded and checked against the record schema. The one-file store is measured beside them.
 */

const RECORDS = 10_000;
const MB = 1024 * 1024;

function recordOf(i: number): { ref: ReturnType<typeof parseVaultId>; record: VaultRecord } {
  const id = `/subscriptions/00000000-0000-0000-0000-0000000000${String(i % 100).padStart(2, '0')}/resourceGroups/rg-${i % 7}/providers/Microsoft.KeyVault/vaults/kv-${i}`;
  const others = Array.from({ length: 300 }, (_, k) => `${11 + ((i + k) % 180)}.${(i * 7 + k) % 256}.${(k * 13) % 256}.0/24`);
  const owned = Array.from({ length: 30 }, (_, k) => `20.${37 + (k % 4)}.${k * 8}.0/21`);
  const observed = [...new Set([...others, ...owned])];
  return {
    ref: parseVaultId(id),
    record: {
      version: 1,
      vault: id,
      ownedRules: owned,
      observedRules: observed,
      posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
      changeNumber: 382,
      sourceAddresses: 32_769,
      appliedAt: '2026-12-01T06:00:00.000Z',
      graph: { fingerprint: `fp-${i}`, confirmedAt: '2026-12-01T06:00:00.000Z' },
      seen: { virtualNetworkRuleCount: 0 },
      settled: {
        key: 'a'.repeat(64),
        rules: { managed: 30, unmanaged: others.length, shared: 0, limit: 400 },
        excessAddresses: 0,
        findings: [],
        unmanaged: others,
        shared: [],
      },
    },
  };
}

/** Loads every record as a run does: read ahead, then each pass's load (JSON + schema). */
async function loadAll(store: KeyValueStore, refs: readonly ReturnType<typeof parseVaultId>[]): Promise<number> {
  const cache = await prefetchedRecords(store, refs.map((resource) => ({ resource })));
  const repo = new TargetStateRepository(cache);
  let found = 0;
  for (const ref of refs) if ((await repo.load(ref)) !== undefined) found++;
  return found;
}

async function diskUse(dir: string): Promise<{ files: number; bytes: number; allocated: number }> {
  let files = 0;
  let bytes = 0;
  let allocated = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const s = await stat(join(entry.parentPath, entry.name));
    files++;
    bytes += s.size;
    allocated += s.blocks * 512;
  }
  return { files, bytes, allocated };
}

/** Wall time, and this process's CPU time: for blob state, the rest is Azurite's (its own process) and the loopback. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpu: string }> {
  const before = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const ms = performance.now() - t;
  const used = process.cpuUsage(before);
  return { value, ms, cpu: `tagwall CPU ${((used.user + used.system) / 1000).toFixed(0)} ms` };
}

registerSection('state', async (ctx: SectionContext) => {
  const n = Math.max(100, Math.round(RECORDS * fleetScale()));
  const all = Array.from({ length: n }, (_, i) => recordOf(i));
  const refs = all.map((r) => r.ref);
  const work = await mkdtemp(join(tmpdir(), 'tagwall-bench-state-'));
  const ms = (label: string, value: number, note: string, target?: number) => ctx.record({ label, unit: 'ms', median: value, min: value, samples: 1, note, ...(target === undefined ? {} : { target }) });
  const mb = (label: string, value: number, note: string) => ctx.record({ label, unit: 'MB', median: value / MB, min: value / MB, samples: 1, note });
  try {
    // One file per record.
    const writer = new RecordFileStore(join(work, 'a', 'state.json'));
    const repo = new TargetStateRepository(writer);
    const written = await timed(() => inPool(all.length, 32, (i) => repo.save(all[i]!.ref, all[i]!.record)));
    await writer.close();
    ms(`records: write ${n} records`, written.ms, `each its own file, flushed and renamed, 32 at a time; ${written.cpu}`);
    // Moved to a folder no store of this process has seen, so nothing is served from memory.
    await mkdir(join(work, 'b'));
    await rename(join(work, 'a', 'state'), join(work, 'b', 'state'));
    const use = await diskUse(join(work, 'b', 'state'));
    mb(`records: on disk, ${n} records`, use.allocated, `${use.files} files, ${(use.bytes / MB).toFixed(1)} MB of text (${(use.bytes / use.files).toFixed(0)} bytes a record), ${(use.allocated / MB).toFixed(1)} MB allocated in 4 KB blocks`);
    const reader = new RecordFileStore(join(work, 'b', 'state.json'));
    const loaded = await timed(() => loadAll(reader, refs));
    await reader.close();
    ms(`records: load ${n} records (read ahead 32 at a time, JSON + schema)`, loaded.ms, `${loaded.value} found; ${loaded.cpu}; a cold page cache would add the disk's reads`);

    // The one-file store, as before.
    const texts = new Map(all.map(({ ref, record }) => [vaultStateKey(ref), JSON.stringify(record)]));
    const path = join(work, 'one', 'state.json');
    await mkdir(join(work, 'one'));
    const encoded = encodeStateFile(texts);
    await writeFile(path, encoded);
    mb(`one file (before): on disk, ${n} records`, (await stat(path)).blocks * 512, `${(Buffer.byteLength(encoded) / MB).toFixed(1)} MB of text; rewritten whole on every commit`);
    const one = new JsonFileStore(path);
    // As runs loaded it: one record per pass, in turn (its first read decodes the whole file).
    const oneRepo = new TargetStateRepository(one);
    const oneLoaded = await timed(async () => {
      let found = 0;
      for (const ref of refs) if ((await oneRepo.load(ref)) !== undefined) found++;
      return found;
    });
    await one.close();
    ms(`one file (before): load ${n} records`, oneLoaded.ms, `${oneLoaded.value} found, one load at a time as runs made them; ${oneLoaded.cpu}`);

    // Blob state on Azurite (loopback, in memory).
    const azurite = await startAzurite();
    try {
      const blob = BlobStore.fromConnectionString(azurite.connectionString, 'bench-state');
      const blobRepo = new TargetStateRepository(blob);
      const put = await timed(() => inPool(all.length, 32, (i) => blobRepo.save(all[i]!.ref, all[i]!.record)));
      ms(`blob: write ${n} records`, put.ms, `one blob each, 32 at a time, on Azurite; ${put.cpu}`);
      let bytes = 0;
      for (const text of texts.values()) bytes += Buffer.byteLength(text);
      mb(`blob: stored, ${n} records`, bytes, `${n} blobs, ${(bytes / n).toFixed(0)} bytes a record (content only)`);
      const fresh = BlobStore.fromConnectionString(azurite.connectionString, 'bench-state');
      const blobLoaded = await timed(() => loadAll(fresh, refs));
      ms(`blob: load ${n} records (read ahead 32 at a time, JSON + schema)`, blobLoaded.ms, `${blobLoaded.value} found; ${blobLoaded.cpu}, the rest waits on Azurite`);
    } finally {
      await azurite.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
