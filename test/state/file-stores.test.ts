import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTagwallError, TagwallError } from '../../src/core/errors.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { FolderStore } from '../../src/state/store.js';
import { storeContract } from './store-contract.js';
import { failure } from '../helpers/failure.js';

const root = await mkdtemp(join(tmpdir(), 'tagwall-state-'));
afterAll(() => rm(root, { recursive: true, force: true }));

let n = 0;
const freshDir = async (): Promise<string> => {
  const dir = join(root, `case-${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

describe('FolderStore', () => {
  storeContract(async () => new FolderStore(await freshDir()), { racing: false });

  it('leaves no temporary files behind', async () => {
    const dir = await freshDir();
    const store = new FolderStore(dir);
    for (let i = 0; i < 5; i++) await store.put(`tags-${i % 2}.json`, `{"i":${i}}`);
    expect((await readdir(dir)).sort()).toEqual(['tags-0.json', 'tags-1.json']);
  });
});

describe('JsonFileStore', () => {
  storeContract(async () => new JsonFileStore(join(await freshDir(), 'state.json')), { racing: true });

  it('creates the parent folders of the state file', async () => {
    const path = join(await freshDir(), 'a', 'b', '.tagwall', 'state.json');
    await new JsonFileStore(path).put('k.json', '{"k":1}');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, entries: { 'k.json': { k: 1 } } });
  });

  it('keeps every key in one readable file: JSON records as objects, other text as strings', async () => {
    const path = join(await freshDir(), 'state.json');
    const store = new JsonFileStore(path);
    await store.put('vaults/s/rg/kv.json', '{"version":1,"ownedRules":["20.1.2.0/24"]}');
    await store.put('notes.txt', 'not json');
    await store.put('spaced.json', '{ "a": 1 }');
    const file = JSON.parse(await readFile(path, 'utf8')) as { entries: Record<string, unknown> };
    expect(file.entries).toEqual({
      'vaults/s/rg/kv.json': { version: 1, ownedRules: ['20.1.2.0/24'] },
      'notes.txt': 'not json',
      'spaced.json': '{ "a": 1 }',
    });
    expect((await store.get('spaced.json'))?.text).toBe('{ "a": 1 }');
  });

  it('treats a key named __proto__ as an ordinary key', async () => {
    const store = new JsonFileStore(join(await freshDir(), 'state.json'));
    await store.put('__proto__', '{"polluted":true}');
    await store.put('other', '{"x":1}');
    expect((await store.get('__proto__'))?.text).toBe('{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('sees a change made by hand as a new ETag', async () => {
    const path = join(await freshDir(), 'state.json');
    const store = new JsonFileStore(path);
    const etag = await store.put('k.json', '{"owned":["20.0.0.0/8"]}');
    await writeFile(path, JSON.stringify({ version: 1, entries: { 'k.json': { owned: [] } } }));
    expect((await store.get('k.json'))?.etag).not.toBe(etag);
    expect(isTagwallError(await failure(store.put('k.json', '{}', { ifMatch: etag })), 'STATE_CONFLICT')).toBe(true);
  });

  it.each([
    ['not JSON', '{"version":1,"entries":{'],
    ['empty', ''],
    ['an array', '[]'],
    ['an unknown version', '{"version":2,"entries":{}}'],
    ['entries of the wrong type', '{"version":1,"entries":{"k":42}}'],
  ])('reports a state file that is %s as STATE_CORRUPT naming the file, and never overwrites it', async (_label, content) => {
    const path = join(await freshDir(), 'state.json');
    await writeFile(path, content);
    const store = new JsonFileStore(path);
    // One call at a time: a rejection nobody awaits yet would be reported as unhandled.
    for (const attempt of [() => store.get('k'), () => store.put('k', '{}')]) {
      const e = await failure(attempt());
      expect(e.code).toBe('STATE_CORRUPT');
      expect(e.message).toContain(path);
    }
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('serialises concurrent writes in one process, across instances, losing none', async () => {
    const path = join(await freshDir(), 'state.json');
    const stores = [new JsonFileStore(path), new JsonFileStore(path)];
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.put(`key-${i}`, `{"i":${i}}`)));
    const reader = new JsonFileStore(path);
    for (let i = 0; i < 40; i++) expect((await reader.get(`key-${i}`))?.text).toBe(`{"i":${i}}`);
  });

  it('replaces the file atomically: readers never see a partial file, and no temp files remain', async () => {
    const dir = await freshDir();
    const path = join(dir, 'state.json');
    const store = new JsonFileStore(path);
    const big = JSON.stringify({ rules: Array.from({ length: 20_000 }, (_, i) => `20.${i >> 8}.${i & 255}.0/24`) });
    await store.put('seed', big);
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        // Would throw on a truncated or half-written file.
        JSON.parse(await readFile(path, 'utf8'));
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 15 }, (_, i) => store.put(`k${i % 3}`, big)));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    // The lock is held until the store is closed.
    expect((await readdir(dir)).sort()).toEqual(['state.json', 'state.json.lock']);
    await store.close();
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('deletes a key and leaves the others', async () => {
    const store = new JsonFileStore(join(await freshDir(), 'state.json'));
    await store.put('a', '{"a":1}');
    await store.put('b', '{"b":1}');
    await store.delete('a');
    await store.delete('missing');
    expect(await store.get('a')).toBeUndefined();
    expect((await store.get('b'))?.text).toBe('{"b":1}');
  });

  it('reports a state path that cannot be read as STATE_UNREADABLE naming the file', async () => {
    const path = join(await freshDir(), 'state.json');
    await mkdir(path);
    const e = await failure(new JsonFileStore(path).get('k'));
    expect(e.code).toBe('STATE_UNREADABLE');
    expect(e.message).toContain(path);
  });
});
