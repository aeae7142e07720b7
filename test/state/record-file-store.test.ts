import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTagwallError } from '../../src/core/errors.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import { encodeStateFile } from '../../src/state/json-file-store.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import { TargetStateRepository, vaultStateKey, type VaultRecord } from '../../src/state/records.js';
import { etagOf } from '../../src/state/store.js';
import { createStateStore } from '../../src/state/stores.js';
import { storeContract } from './store-contract.js';
import { failure } from '../helpers/failure.js';

const root = await mkdtemp(join(tmpdir(), 'tagwall-records-store-'));
afterAll(() => rm(root, { recursive: true, force: true }));

let n = 0;
const freshDir = async (): Promise<string> => {
  const dir = join(root, `case-${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

const SUB = '00000000-1111-2222-3333-444444444444';
const vaultId = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${name}`;
const record = (name: string): VaultRecord => ({
  version: 1,
  vault: vaultId(name),
  ownedRules: ['20.38.0.0/17'],
  observedRules: ['20.38.0.0/17', '198.51.7.9/32'],
  posture: { defaultAction: 'Deny' },
  changeNumber: 382,
  sourceAddresses: 32_769,
});

/** Every file under `dir`, as relative paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1)).sort();
}

describe('RecordFileStore', () => {
  storeContract(async () => new RecordFileStore(join(await freshDir(), 'state.json')), { racing: true });

  it('is what file state now means, keeping the description of where it lives and the owner ID of the one-file store', () => {
    const store = createStateStore({ store: 'file', path: '/tmp/tagwall-test/state.json' }, {});
    expect(store).toBeInstanceOf(RecordFileStore);
    expect((store as RecordFileStore).dir).toBe('/tmp/tagwall-test/state');
    // The default owner ID is a hash of this: it must read as it did for the one-file store.
    expect(store.location).toBe('file:/tmp/tagwall-test/state.json');
    expect(new RecordFileStore('/tmp/tagwall-test/records').dir).toBe('/tmp/tagwall-test/records');
  });

  it('keeps one file per record, laid out like the blob container, with the text exactly as stored', async () => {
    const dir = await freshDir();
    const store = new RecordFileStore(join(dir, 'state.json'));
    const key = vaultStateKey(parseVaultId(vaultId('kv-1')));
    await store.put(key, '{"a":1}');
    await store.put('fleet/discovered.json', '{ "b": 2 }\n');
    await store.close();
    expect(await filesUnder(join(dir, 'state'))).toEqual(['fleet/discovered.json', key]);
    expect(await readFile(join(dir, 'state', key), 'utf8')).toBe('{"a":1}');
    expect(await readFile(join(dir, 'state', 'fleet', 'discovered.json'), 'utf8')).toBe('{ "b": 2 }\n');
  });

  it('gives every key its own file, whatever characters it holds, and lists them back', async () => {
    const store = new RecordFileStore(join(await freshDir(), 'state.json'));
    const keys = ['__proto__', 'a b', 'a%20b', 'a_20b', '.hidden', '.tmp/x', 'Grüße/東京 🚀', 'x/..y', 'x/y.', 'A', 'colon:star*'];
    for (const [i, key] of keys.entries()) await store.put(key, `{"i":${i}}`);
    for (const [i, key] of keys.entries()) expect((await store.get(key))?.text).toBe(`{"i":${i}}`);
    expect([...(await store.list(''))].map(([k]) => k).sort()).toEqual([...keys].sort());
    for (const bad of ['', 'a//b', 'a/']) expect((await failure(store.put(bad, '{}'))).code).toBe('STATE_KEY_INVALID');
  });

  it('sees a record changed by hand as a new ETag, and refuses a write on the old one', async () => {
    const dir = await freshDir();
    const store = new RecordFileStore(join(dir, 'state.json'));
    const etag = await store.put('k.json', '{"owned":["20.0.0.0/8"]}');
    expect((await store.get('k.json'))?.etag).toBe(etag);
    await writeFile(join(dir, 'state', 'k.json'), '{"owned":[]}');
    expect(await store.get('k.json')).toEqual({ text: '{"owned":[]}', etag: etagOf('{"owned":[]}') });
    expect(isTagwallError(await failure(store.put('k.json', '{}', { ifMatch: etag })), 'STATE_CONFLICT')).toBe(true);
  });

  it('fails only the firewall whose record is damaged, with STATE_CORRUPT naming it', async () => {
    const dir = await freshDir();
    const repo = new TargetStateRepository(new RecordFileStore(join(dir, 'state.json')));
    const [good, bad] = [parseVaultId(vaultId('kv-good')), parseVaultId(vaultId('kv-bad'))];
    await repo.save(good, record('kv-good'));
    await repo.save(bad, record('kv-bad'));
    await writeFile(join(dir, 'state', vaultStateKey(bad)), '{"version":1,"vault":');
    const e = await failure(repo.load(bad));
    expect(e.code).toBe('STATE_CORRUPT');
    expect(e.message).toContain(vaultId('kv-bad'));
    expect((await repo.load(good))?.record).toEqual(record('kv-good'));
  });

  it('serialises concurrent writes in one process, across instances, losing none', async () => {
    const path = join(await freshDir(), 'state.json');
    const stores = [new RecordFileStore(path), new RecordFileStore(path)];
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.put(`key-${i % 10}/${i}`, `{"i":${i}}`)));
    const reader = new RecordFileStore(path);
    for (let i = 0; i < 40; i++) expect((await reader.get(`key-${i % 10}/${i}`))?.text).toBe(`{"i":${i}}`);
    await Promise.all([...stores, reader].map((s) => s.close()));
  });

  it('leaves no temporary file behind, and its lock goes on close', async () => {
    const dir = await freshDir();
    const store = new RecordFileStore(join(dir, 'state.json'));
    await Promise.all(Array.from({ length: 15 }, (_, i) => store.put(`k${i % 3}.json`, `{"i":${i}}`)));
    expect((await readdir(dir)).sort()).toEqual(['state', 'state.json.lock']);
    expect(await readdir(join(dir, 'state', '.tmp'))).toEqual([]);
    await store.close();
    expect(await readdir(dir)).toEqual(['state']);
  });

  it('reports a record that cannot be read as STATE_UNREADABLE naming the state', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'state', 'k.json', 'inner'), { recursive: true });
    await writeFile(join(dir, 'state', 'k.json', 'inner', 'x'), '');
    const store = new RecordFileStore(join(dir, 'state.json'));
    // A folder where the record would be reads as no record; writing over it is refused.
    expect(await store.get('k.json')).toBeUndefined();
    expect((await failure(store.put('k.json', '{}'))).code).toBe('STATE_UNWRITABLE');
  });
});

describe('migration from the one-file state', () => {
  it('writes every entry of state.json as its record on first use, renames the file and says so', async () => {
    const dir = await freshDir();
    const path = join(dir, 'state.json');
    const texts = new Map([
      [vaultStateKey(parseVaultId(vaultId('kv-1'))), JSON.stringify(record('kv-1'))],
      ['alerts/_run.json', '{"version":1,"alerts":[]}'],
      ['notes.txt', 'not json'],
    ]);
    await writeFile(path, encodeStateFile(texts));
    const store = new RecordFileStore(path);
    const warnings = await store.open();
    expect(warnings).toEqual([expect.stringMatching(/^state file .*state\.json: migrated 3 records to one file each under .*state\/; the old file is kept as .*state\.json\.migrated$/)]);
    expect((await readdir(dir)).sort()).toEqual(['state', 'state.json.lock', 'state.json.migrated']);
    // The ETags are those the one-file store gave: hashes of the same texts.
    for (const [key, text] of texts) expect(await store.get(key)).toEqual({ text, etag: etagOf(text) });
    expect((await new TargetStateRepository(store).load(parseVaultId(vaultId('kv-1'))))?.record).toEqual(record('kv-1'));
    await store.close();
    // Once: the next run finds nothing to migrate.
    const again = new RecordFileStore(path);
    expect(await again.open()).toEqual([]);
    expect((await again.get('notes.txt'))?.text).toBe('not json');
    await again.close();
  });

  it('stops on a corrupt state.json with STATE_CORRUPT naming it, migrating nothing and leaving it as it is', async () => {
    const dir = await freshDir();
    const path = join(dir, 'state.json');
    await writeFile(path, '{"version":1,"entries":{');
    const store = new RecordFileStore(path);
    const e = await failure(store.get('k.json'));
    expect(e.code).toBe('STATE_CORRUPT');
    expect(e.message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe('{"version":1,"entries":{');
    // Nor is the lock kept by the run that could not open.
    expect(await readdir(dir)).toEqual(['state.json']);
  });
});
