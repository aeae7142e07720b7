import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { prefetchedRecords, READ_AHEAD_RECORDS, RunCache } from '../../src/state/run-cache.js';
import { TargetStateRepository, vaultStateKey, type VaultRecord } from '../../src/state/records.js';
import { conflict, etagOf, type KeyValueStore, type StoredText, type WriteCondition } from '../../src/state/store.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { startRecordingProxy } from '../helpers/recording-proxy.js';
import { failure } from '../helpers/failure.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const vaultId = (i: number) => `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-${i}`;
const record = (i: number): VaultRecord => ({
  version: 1,
  vault: vaultId(i),
  ownedRules: ['20.38.0.0/17'],
  observedRules: ['20.38.0.0/17'],
  posture: { defaultAction: 'Deny' },
  changeNumber: 1,
  sourceAddresses: 32_769,
});

/** Pure logic: an in-memory store that counts reads and how many were in flight at once. */
class SlowStore implements KeyValueStore {
  readonly description = 'memory';
  readonly data = new Map<string, string>();
  gets = 0;
  inFlight = 0;
  maxInFlight = 0;
  async get(key: string): Promise<StoredText | undefined> {
    this.gets++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await new Promise((r) => setTimeout(r, 2));
    this.inFlight--;
    const text = this.data.get(key);
    return text === undefined ? undefined : { text, etag: etagOf(text) };
  }
  async put(key: string, text: string, condition: WriteCondition = {}): Promise<string> {
    const now = this.data.get(key);
    if (condition.ifNoneExists && now !== undefined) throw conflict(this.description, key);
    if (condition.ifMatch !== undefined && (now === undefined || etagOf(now) !== condition.ifMatch)) throw conflict(this.description, key);
    this.data.set(key, text);
    return etagOf(text);
  }
}

describe('RunCache', () => {
  it('reads a run\'s records ahead, many at once, and serves each pass\'s first load from them', async () => {
    const store = new SlowStore();
    const targets = Array.from({ length: 200 }, (_, i) => ({ resource: parseVaultId(vaultId(i)) }));
    for (let i = 0; i < 200; i += 2) store.data.set(vaultStateKey(targets[i]!.resource), JSON.stringify(record(i)));
    const cache = await prefetchedRecords(store, targets);
    expect(store.gets).toBe(200);
    expect(store.maxInFlight).toBeGreaterThan(8);
    const repo = new TargetStateRepository(cache);
    for (const [i, t] of targets.entries()) expect((await repo.load(t.resource))?.record).toEqual(i % 2 === 0 ? record(i) : undefined);
    expect(store.gets).toBe(200);
  });

  it('hands a prefetched record out once: a second load reads the store and sees another run\'s write', async () => {
    const store = new SlowStore();
    const key = 'vaults/a.json';
    store.data.set(key, '{"n":1}');
    const cache = new RunCache(store);
    await cache.prefetch([key]);
    // Another run writes after the prefetch.
    await store.put(key, '{"n":2}');
    expect((await cache.get(key))?.text).toBe('{"n":1}');
    expect((await cache.get(key))?.text).toBe('{"n":2}');
  });

  it('keeps every write conditional on the ETag loaded: a stale prefetched record loses the race and is dropped', async () => {
    const store = new SlowStore();
    const key = 'vaults/a.json';
    store.data.set(key, '{"n":1}');
    const cache = new RunCache(store);
    await cache.prefetch([key]);
    const stale = await cache.get(key);
    await store.put(key, '{"other":true}');
    expect((await failure(cache.put(key, '{"intent":true}', { ifMatch: stale!.etag }))).code).toBe('STATE_CONFLICT');
    expect(store.data.get(key)).toBe('{"other":true}');
    expect((await cache.get(key))?.text).toBe('{"other":true}');
    // A write that succeeds is what the next load gets, without a read.
    const gets = store.gets;
    const etag = await cache.put(key, '{"n":3}', { ifMatch: etagOf('{"other":true}') });
    expect(await cache.get(key)).toEqual({ text: '{"n":3}', etag });
    expect(store.gets).toBe(gets);
  });

  it('reads ahead a window, not the run: at most `records` held at once, each record read once, served to its load', async () => {
    const store = new SlowStore();
    const n = 1_000;
    const keys = Array.from({ length: n }, (_, i) => `vaults/k${i}.json`);
    for (const [i, k] of keys.entries()) store.data.set(k, JSON.stringify({ i, pad: 'x'.repeat(100) }));
    const cache = new RunCache(store);
    await cache.prefetch(keys, { inFlight: 8, records: 50 });
    // The old read-ahead read all 1,000 before the first pass.
    expect(store.gets).toBeLessThanOrEqual(50);
    let mostHeld = cache.window.records;
    // Passes load in the planned order, a few at once, as workers do.
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < n) {
          const i = next++;
          expect(JSON.parse((await cache.get(keys[i]!))!.text).i).toBe(i);
          mostHeld = Math.max(mostHeld, cache.window.records);
          await new Promise((r) => setTimeout(r, 1));
        }
      }),
    );
    expect(store.gets).toBe(n);
    expect(cache.window.missed).toBe(0);
    expect(mostHeld).toBeLessThanOrEqual(50);
    expect(store.maxInFlight).toBeLessThanOrEqual(8);
    expect(cache.window.records).toBe(0);
  });

  it('bounds the window by characters too, and a load out of the planned order reads that record once, not again', async () => {
    const store = new SlowStore();
    const keys = Array.from({ length: 100 }, (_, i) => `vaults/k${i}.json`);
    for (const k of keys) store.data.set(k, 'y'.repeat(1_000));
    const cache = new RunCache(store);
    await cache.prefetch(keys, { inFlight: 4, records: 1_000, chars: 10_000 });
    // Reads stop once 10,000 characters are held (at most the reads in flight past it).
    expect(cache.window.chars).toBeLessThanOrEqual(10_000 + 4 * 1_000);
    expect(store.gets).toBeLessThan(20);
    // The schedule passed over the first half (a throttled subscription): the second half is asked first.
    for (const k of [...keys.slice(50), ...keys.slice(0, 50)]) expect((await cache.get(k))?.text).toHaveLength(1_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.gets).toBe(100);
    expect(cache.window.missed).toBeGreaterThan(0);
  });

  it('holds nothing for a key that could not be read: the pass\'s own load reports the error', async () => {
    const store = new SlowStore();
    let fail = true;
    const flaky: KeyValueStore = {
      description: 'flaky',
      get: (key) => (fail ? Promise.reject(new TagwallError('STATE_UNREADABLE', 'down')) : store.get(key)),
      put: (key, text, c) => store.put(key, text, c),
    };
    const cache = new RunCache(flaky);
    await cache.prefetch(['a.json']);
    expect((await failure(cache.get('a.json'))).code).toBe('STATE_UNREADABLE');
    fail = false;
    expect(await cache.get('a.json')).toBeUndefined();
  });
});

describe('RunCache over blob state (Azurite)', () => {
  let azurite: Azurite;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(() => azurite?.stop());

  it('loads 300 records in parallel GETs, a window of them before the first pass, and one GET each in all', async () => {
    const proxy = await startRecordingProxy(azurite.port);
    try {
      const store = BlobStore.fromConnectionString(proxy.connectionString(azurite.connectionString), `runcache-${process.pid}`);
      const targets = Array.from({ length: 300 }, (_, i) => ({ resource: parseVaultId(vaultId(i)) }));
      const repo = new TargetStateRepository(store);
      for (let i = 0; i < 300; i += 3) await repo.save(targets[i]!.resource, record(i));
      proxy.requests.length = 0;
      const cache = await prefetchedRecords(store, targets);
      expect(proxy.requests.filter((r) => r.method === 'GET')).toHaveLength(READ_AHEAD_RECORDS);
      const loads = new TargetStateRepository(cache);
      for (const [i, t] of targets.entries()) expect((await loads.load(t.resource))?.record).toEqual(i % 3 === 0 ? record(i) : undefined);
      expect(proxy.requests.filter((r) => r.method === 'GET')).toHaveLength(300);
    } finally {
      await proxy.close();
    }
  });
});
