import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TagwallError } from '../../src/core/errors.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import {
  alertStateKey,
  AlertStateRepository,
  RUN_SCOPE,
  TargetStateRepository,
  vaultStateKey,
  type AlertState,
  type VaultRecord,
} from '../../src/state/records.js';
import { fileNameForKey, FolderStore, type KeyValueStore } from '../../src/state/store.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { closedPort } from '../helpers/ports.js';
import { failure } from '../helpers/failure.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/Network-RG/providers/Microsoft.KeyVault/vaults/kv-Prod-01`;
const vault = parseVaultId(VAULT_ID);
const otherVault = parseVaultId(`/subscriptions/${SUB}/resourceGroups/Network-RG/providers/Microsoft.KeyVault/vaults/kv-test-02`);

const record = (over: Partial<VaultRecord> = {}): VaultRecord => ({
  version: 1,
  vault: VAULT_ID,
  ownedRules: ['20.38.0.0/17', '52.174.1.32/32'],
  observedRules: ['20.38.0.0/17', '52.174.1.32/32', '198.51.7.9/32'],
  posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
  changeNumber: 382,
  sourceAddresses: 32_769,
  appliedAt: '2025-10-13T06:00:00.000Z',
  ...over,
});

const alerts: AlertState = {
  version: 1,
  alerts: [
    {
      fingerprint: 'budget:kv-prod-01:1000',
      kind: 'budget-exceeded',
      severity: 'warning',
      vault: VAULT_ID,
      firstSeen: '2025-10-06T06:00:00Z',
      lastSent: '2025-10-13T06:00:00Z',
      summary: 'LogicApps needs 1728 rules; widened to 1000',
    },
  ],
};

let root: string;
let azurite: Azurite;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tagwall-records-'));
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const backends: [string, () => KeyValueStore][] = [
  ['JsonFileStore', () => new JsonFileStore(join(root, `case-${++n}`, 'state.json'))],
  ['RecordFileStore', () => new RecordFileStore(join(root, `case-${++n}`, 'state.json'))],
  ['BlobStore', () => BlobStore.fromConnectionString(azurite.connectionString, `records-${process.pid}-${++n}`)],
];

describe('record keys', () => {
  it('are readable lowercased paths from the resource ID', () => {
    expect(vaultStateKey(vault)).toBe(`vaults/${SUB}/network-rg/kv-prod-01.json`);
    expect(alertStateKey(VAULT_ID)).toBe(`alerts/${SUB}/network-rg/kv-prod-01.json`);
    expect(alertStateKey(RUN_SCOPE)).toBe('alerts/_run.json');
  });

  it('are the same for every casing of the resource ID', () => {
    const shouted = parseVaultId(VAULT_ID.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'));
    const lower = parseVaultId(VAULT_ID.toLowerCase());
    expect(vaultStateKey(shouted)).toBe(vaultStateKey(vault));
    expect(vaultStateKey(lower)).toBe(vaultStateKey(vault));
    expect(alertStateKey(VAULT_ID.toLowerCase())).toBe(alertStateKey(VAULT_ID));
  });

  it('encode unusual resource-group names without merging different ones', () => {
    const key = (rg: string): string =>
      vaultStateKey(parseVaultId(`/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/kv1`));
    expect(key('rg (prod).eu')).toBe(`vaults/${SUB}/rg%20(prod).eu/kv1.json`);
    expect(key('Grüne')).toBe(key('grüne'));
    expect(new Set([key('grüne'), key('grüße'), key('gr_ne'), key('rg.'), key('rg')]).size).toBe(5);
    expect(key('rg.')).toBe(`vaults/${SUB}/rg%2E/kv1.json`);
  });

  it('refuse an alert scope that is neither a resource nor the run', () => {
    expect(() => alertStateKey('everything')).toThrow(expect.objectContaining({ code: 'RESOURCE_ID_INVALID' }));
  });
});

describe.each(backends)('TargetStateRepository over %s', (_name, makeStore) => {
  it('saves a first record and loads it back with its ETag', async () => {
    const repo = new TargetStateRepository(makeStore());
    expect(await repo.load(vault)).toBeUndefined();
    const etag = await repo.save(vault, record());
    expect(await repo.load(vault)).toEqual({ record: record(), etag });
  });

  it('finds the record under any casing of the resource ID', async () => {
    const repo = new TargetStateRepository(makeStore());
    await repo.save(vault, record());
    const loaded = await repo.load(parseVaultId(VAULT_ID.toLowerCase()));
    expect(loaded?.record.ownedRules).toEqual(record().ownedRules);
  });

  it('updates with the loaded ETag and refuses a stale one, naming the vault', async () => {
    const repo = new TargetStateRepository(makeStore());
    const first = await repo.save(vault, record());
    const second = await repo.save(vault, record({ changeNumber: 383 }), first);
    const e = await failure(repo.save(vault, record({ changeNumber: 384 }), first));
    expect(e.code).toBe('STATE_CONFLICT');
    expect(e.transient).toBe(true);
    expect(e.message).toContain(VAULT_ID);
    expect(await repo.load(vault)).toEqual({ record: record({ changeNumber: 383 }), etag: second });
  });

  it('refuses a save without an ETag once a record exists', async () => {
    const repo = new TargetStateRepository(makeStore());
    await repo.save(vault, record());
    expect((await failure(repo.save(vault, record({ ownedRules: [] })))).code).toBe('STATE_CONFLICT');
  });

  it('keeps each vault in its own record', async () => {
    const repo = new TargetStateRepository(makeStore());
    await repo.save(vault, record());
    await repo.save(otherVault, record({ vault: otherVault.id, ownedRules: ['40.1.0.0/16'] }));
    expect((await repo.load(vault))?.record.ownedRules).toEqual(record().ownedRules);
    expect((await repo.load(otherVault))?.record.ownedRules).toEqual(['40.1.0.0/16']);
  });

  it.each([
    ['not JSON', '{"version":1,"ownedRules":['],
    ['a newer version', JSON.stringify({ ...record(), version: 2 })],
    ['a rule with host bits', JSON.stringify(record({ ownedRules: ['20.38.0.1/17'] }))],
    ['a bare address', JSON.stringify(record({ ownedRules: ['52.174.1.32'] }))],
    ['a missing field', JSON.stringify({ ...record(), changeNumber: undefined })],
    ['an intent without its rules', JSON.stringify({ ...record(), intent: { runId: 'r', startedAt: '2025-10-13T00:00:00Z' } })],
    ['another vault', JSON.stringify(record({ vault: otherVault.id }))],
  ])('reports a stored record that is %s as STATE_CORRUPT naming the vault', async (_label, text) => {
    const store = makeStore();
    await store.put(vaultStateKey(vault), text);
    const e = await failure(new TargetStateRepository(store).load(vault));
    expect(e.code).toBe('STATE_CORRUPT');
    expect(e.message).toContain(VAULT_ID);
  });

  it.each<[string, Partial<VaultRecord>, string]>([
    ['a rule with host bits', { ownedRules: ['20.38.0.1/17'] }, 'ownedRules.0'],
    ['a prefix length with a leading zero', { ownedRules: ['20.38.0.0/017'] }, 'ownedRules.0'],
    ['an address with a leading zero', { ownedRules: ['52.174.1.32/32', '020.38.0.0/17'] }, 'ownedRules.1'],
    ['an IPv6 rule', { ownedRules: ['2603:1000::/40'] }, 'ownedRules.0'],
    ['a repeated rule', { ownedRules: ['20.38.0.0/17', '20.38.0.0/17'] }, 'ownedRules'],
    ['a negative change number', { changeNumber: -1 }, 'changeNumber'],
    ['a time that is not ISO', { appliedAt: 'Monday' }, 'appliedAt'],
  ])('refuses to save a record with %s, and stores nothing', async (_label, over, path) => {
    const repo = new TargetStateRepository(makeStore());
    const e = await failure(repo.save(vault, record(over)));
    expect(e.code).toBe('STATE_RECORD_INVALID');
    expect(e.message).toContain(VAULT_ID);
    expect(e.details.some((d) => d.startsWith(`${path}:`))).toBe(true);
    expect(await repo.load(vault)).toBeUndefined();
  });

  it('refuses to save one vault’s record under another vault', async () => {
    const repo = new TargetStateRepository(makeStore());
    expect((await failure(repo.save(vault, record({ vault: otherVault.id })))).code).toBe('STATE_RECORD_INVALID');
  });
});

describe.each(backends)('AlertStateRepository over %s', (_name, makeStore) => {
  it('keeps per-vault and run-wide alert memory apart, with ETags', async () => {
    const repo = new AlertStateRepository(makeStore());
    const runAlerts: AlertState = { version: 1, alerts: [{ ...alerts.alerts[0]!, fingerprint: 'download', kind: 'download-failed', vault: '' }] };
    const v = await repo.save(VAULT_ID, alerts);
    const r = await repo.save(RUN_SCOPE, runAlerts);
    expect(await repo.load(VAULT_ID.toLowerCase())).toEqual({ state: alerts, etag: v });
    expect(await repo.load(RUN_SCOPE)).toEqual({ state: runAlerts, etag: r });
    expect((await failure(repo.save(RUN_SCOPE, { version: 1, alerts: [] }, v))).code).toBe('STATE_CONFLICT');
  });

  it('reads a record written before notifications could be pending, and keeps pending ones with their content', async () => {
    const store = makeStore();
    const before = { version: 1, alerts: [{ fingerprint: 'drift:abc', kind: 'drift', severity: 'warning', vault: VAULT_ID, firstSeen: '2026-03-01T08:00:00.000Z', lastSent: '2026-03-01T08:00:00.000Z', summary: 's' }] };
    await store.put(alertStateKey(VAULT_ID), JSON.stringify(before));
    const repo = new AlertStateRepository(store);
    const loaded = await repo.load(VAULT_ID);
    expect(loaded?.state).toEqual(before);
    const pending: AlertState = {
      version: 1,
      alerts: [{ ...before.alerts[0]!, pending: 'firing', clearedAt: '2026-03-01T09:00:00.000Z', details: ['removed 10.0.0.0/24'], rules: ['10.0.0.0/24'] }],
    };
    await repo.save(VAULT_ID, pending, loaded!.etag);
    expect((await repo.load(VAULT_ID))?.state).toEqual(pending);
    expect((await failure(repo.save(VAULT_ID, { version: 1, alerts: [{ ...before.alerts[0]!, clearedAt: 'yesterday' }] }))).code).toBe('STATE_RECORD_INVALID');
  });

  it('reports corrupt alert memory as STATE_CORRUPT naming the vault', async () => {
    const store = makeStore();
    await store.put(alertStateKey(VAULT_ID), '{"version":1,"alerts":[{"fingerprint":""}]}');
    const e = await failure(new AlertStateRepository(store).load(VAULT_ID));
    expect(e.code).toBe('STATE_CORRUPT');
    expect(e.message).toContain(VAULT_ID);
  });
});

describe('unreadable state', () => {
  it('names the vault and the file when the whole state file is corrupt', async () => {
    const path = join(root, 'broken', 'state.json');
    await mkdir(join(root, 'broken'), { recursive: true });
    await writeFile(path, 'not json at all');
    const e = await failure(new TargetStateRepository(new JsonFileStore(path)).load(vault));
    expect(e.code).toBe('STATE_CORRUPT');
    expect(e.message).toContain(VAULT_ID);
    expect(e.message).toContain(path);
  });

  it('reports a record that cannot be read as STATE_UNREADABLE naming the vault', async () => {
    const dir = join(root, 'folder');
    const store = new FolderStore(dir);
    // A folder where the record file should be: present, but not readable as a file.
    await mkdir(join(dir, fileNameForKey(vaultStateKey(vault))), { recursive: true });
    const e = await failure(new TargetStateRepository(store).load(vault));
    expect(e.code).toBe('STATE_UNREADABLE');
    expect(e.message).toContain(VAULT_ID);
  });

  it('keeps a storage outage transient, naming the vault', async () => {
    const conn = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1`);
    const store = BlobStore.fromConnectionString(conn, 'tagwall', { retryOptions: { maxTries: 1 } });
    const e = await failure(new TargetStateRepository(store).load(vault));
    expect(e.code).toBe('STATE_UNREADABLE');
    expect(e.transient).toBe(true);
    expect(e.message).toContain(VAULT_ID);
  });
});

describe('vault records as data', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const rule = fc.tuple(octet, octet, octet, octet, fc.integer({ min: 1, max: 32 })).map(([a, b, c, d, len]) => {
    const value = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
    const size = 2 ** (32 - len);
    const base = value - (value % size);
    return `${base >>> 24}.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/${len}`;
  });

  it('round-trip through the state file for any valid content', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(rule, { maxLength: 20 }),
        fc.array(fc.string(), { maxLength: 5 }),
        fc.record({ defaultAction: fc.option(fc.string(), { nil: undefined }), bypass: fc.option(fc.string(), { nil: undefined }) }),
        fc.nat(),
        async (ownedRules, observedRules, posture, changeNumber) => {
          const repo = new TargetStateRepository(new JsonFileStore(join(root, `prop-${++n}`, 'state.json')));
          const saved = record({ ownedRules, observedRules, posture: JSON.parse(JSON.stringify(posture)), changeNumber });
          await repo.save(vault, saved);
          expect((await repo.load(vault))?.record).toEqual(saved);
        },
      ),
      { numRuns: 40 },
    );
  });
});
