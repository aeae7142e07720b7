import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { prefetchedRecords, RunCache } from '../../src/state/run-cache.js';
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

  it('loads 300 records in one round of parallel GETs and no GET per pass after it', async () => {
    const proxy = await startRecordingProxy(azurite.port);
    try {
      const store = BlobStore.fromConnectionString(proxy.connectionString(azurite.connectionString), `runcache-${process.pid}`);
      const targets = Array.from({ length: 300 }, (_, i) => ({ resource: parseVaultId(vaultId(i)) }));
      const repo = new TargetStateRepository(store);
      for (let i = 0; i < 300; i += 3) await repo.save(targets[i]!.resource, record(i));
      proxy.requests.length = 0;
      const cache = await prefetchedRecords(store, targets);
      expect(proxy.requests.filter((r) => r.method === 'GET')).toHaveLength(300);
      const loads = new TargetStateRepository(cache);
      for (const [i, t] of targets.entries()) expect((await loads.load(t.resource))?.record).toEqual(i % 3 === 0 ? record(i) : undefined);
      expect(proxy.requests.filter((r) => r.method === 'GET')).toHaveLength(300);
    } finally {
      await proxy.close();
    }
  });
});
