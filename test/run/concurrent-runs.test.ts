import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSync, type RunOptions } from '../../src/run/run.js';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { reconcile } from '../../src/run/reconcile.js';
import type { RunReport } from '../../src/run/run.js';
import type { FirewallTarget } from '../../src/targets/firewall.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { BUNDLED, FIXTURES } from '../helpers/cli.js';
import { FAST_RETRY, seedVault, startTestEmulator, vaultId, vaultRef, type TestEmulator } from '../helpers/emulator.js';
import { tinyDocument, wireDocument } from '../core/documents.js';

// Runs that overlap in production, raced for real: two syncs of the same vaults (the timer and a
// manual POST, two slots), and a drift check firing while a sync writes. State on Azurite's blob
// service, the vaults on the HTTPS emulator through the real SDK.

const WEEK1 = `${FIXTURES}ServiceTags_Public_20251006.json.gz`;
const WEEK2 = BUNDLED;
const NAMES = ['kv-a', 'kv-b', 'kv-c', 'kv-d'];

let emu: TestEmulator;
let azurite: Azurite;
let container = 0;
let dir: string;

beforeAll(async () => {
  [emu, azurite] = await Promise.all([startTestEmulator(), startAzurite()]);
});
afterAll(async () => {
  await Promise.all([emu?.close(), azurite?.stop()]);
});
beforeEach(async () => {
  container++;
  dir = await mkdtemp(join(tmpdir(), 'tagwall-concurrent-'));
  await emu.reset({ vaults: NAMES.map((n) => seedVault(n, { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '81.2.69.142' }] })) });
});

function config(tags: string, extra: Partial<RawConfig> = {}, select = ['AzureDevOps']) {
  return parseConfig(
    {
      serviceTags: { source: 'file', path: tags },
      arm: { endpoint: emu.emulator.url },
      state: { store: 'blob', connectionSetting: 'STATE', container: `race-${container}` },
      targets: NAMES.map((n) => ({ vault: vaultId(n), select })),
      ...extra,
    },
    { baseDir: dir, source: 'test' },
  );
}

function run(cfg: ReturnType<typeof config>, options: Partial<RunOptions>, logger?: AlertLogger, firewalls?: FirewallTarget): Promise<RunReport> {
  const quiet: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  return runSync(cfg, { dryRun: false, force: false, alerts: 'off', ...options }, {
    env: { STATE: azurite.connectionString },
    logger: logger ?? quiet,
    credential: emu.credential,
    armCa: emu.emulator.caCert,
    armRetry: FAST_RETRY,
  }, firewalls === undefined ? {} : { firewalls }).then((r) => r.report);
}

async function patches(): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (const r of await emu.emulator.control.requests({ kind: 'arm' })) if (r.method === 'PATCH') by.set(r.vault ?? '', (by.get(r.vault ?? '') ?? 0) + 1);
  return by;
}

describe('two syncs of the same vaults at once', () => {
  it('write each vault exactly once, and leave records that the next run agrees with', async () => {
    await emu.emulator.control.setLatency(25);
    const cfg = config(WEEK2);
    const [a, b] = await Promise.all([run(cfg, {}), run(cfg, {})]);
    const byVault = await patches();
    for (const name of NAMES) expect(byVault.get(name), name).toBe(1);
    for (let i = 0; i < NAMES.length; i++) {
      const outcomes = [a.vaults[i]!.outcome, b.vaults[i]!.outcome].sort();
      // One run wrote; the other found the vault written (in step) or still being written (busy).
      expect(outcomes).toContain('applied');
      expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
      const other = [a.vaults[i]!, b.vaults[i]!].find((v) => v.outcome !== 'applied')!;
      if (other.outcome === 'skipped') expect(other.reasons.map((r) => r.code)).toEqual(['VAULT_BUSY']);
      else expect(other.outcome).toBe('in-sync');
    }
    await emu.emulator.control.setLatency(0);
    await emu.emulator.control.clearRequests();
    const after = await run(cfg, {});
    expect(after.vaults.map((v) => v.outcome)).toEqual(NAMES.map(() => 'in-sync'));
    expect(after.vaults.flatMap((v) => v.drift)).toEqual([]);
    expect((await patches()).size).toBe(0);
    // The records own exactly what tagwall wrote: everything but the office address.
    const repo = new TargetStateRepository(BlobStore.fromConnectionString(azurite.connectionString, `race-${container}`));
    for (const name of NAMES) {
      const loaded = await repo.load(vaultRef(name));
      const rules = (await emu.emulator.control.vault(name))!.properties.networkAcls!.ipRules.map((r) => r.value);
      expect(loaded?.record.intent).toBeUndefined();
      expect([...loaded!.record.ownedRules].sort()).toEqual(rules.filter((r) => r !== '81.2.69.142/32').sort());
    }
  });
});

describe('a drift check racing a sync', () => {
  it('never reports the sync\'s own write as drift', async () => {
    // AzureSphere is one of the tags that changed between the two weeks.
    const sphere = (tags: string) => config(tags, {}, ['AzureSphere']);
    await run(sphere(WEEK1), {});
    await emu.emulator.control.setLatency(25);
    const lines: string[] = [];
    const logger: AlertLogger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    // The week's update changes every vault while the drift check reads them: the check loads the
    // old records at once, and its vault reads (the real client, held back a little) land after the
    // sync's PATCHes.
    const real = emu.firewalls();
    const late: FirewallTarget = { read: async (v) => (await new Promise((r) => setTimeout(r, 200)), real.read(v)), write: (c, ch) => real.write(c, ch) };
    const [sync, drift] = await Promise.all([run(sphere(WEEK2), {}), run(sphere(WEEK2), { dryRun: true, alerts: 'send' }, logger, late)]);
    expect(sync.vaults.map((v) => v.outcome)).toEqual(NAMES.map(() => 'applied'));
    for (const v of drift.vaults) {
      expect(v.drift, v.vault).toEqual([]);
      expect(['pending', 'in-sync', 'skipped']).toContain(v.outcome);
      if (v.outcome === 'skipped') expect(v.reasons.map((r) => r.code)).toEqual(['VAULT_BUSY']);
    }
    expect(lines.filter((l) => l.startsWith('tagwall.alert') && l.includes('"kind":"drift"'))).toEqual([]);
  });
});

describe('a hand-made rule across three weeks of tag changes', () => {
  it('is shared while the tag lists it, and stays when the tag drops it', async () => {
    const state = new TargetStateRepository(BlobStore.fromConnectionString(azurite.connectionString, `race-${container}`));
    const cfg = config(WEEK2);
    const one = { ...cfg, targets: cfg.targets.slice(0, 1) };
    const deps = { firewalls: emu.firewalls(), state: state.access() };
    const week = (prefixes: string[]) => reconcile(one, tinyDocument([{ name: 'AzureDevOps', prefixes }]), deps, { dryRun: false, force: false });
    const rules = async () => (await emu.emulator.control.vault('kv-a'))!.properties.networkAcls!.ipRules.map((r) => r.value).sort();

    // Week 1: tagwall owns 20.0.0.0/24. A person then adds 52.0.0.0/24 by hand.
    expect((await week(['20.0.0.0/24']))[0]).toMatchObject({ outcome: 'applied', add: ['20.0.0.0/24'] });
    await emu.sdk().vaults.update('rg-tagwall-test', 'kv-a', {
      properties: { networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [...(await rules()), '52.0.0.0/24'].map((value) => ({ value })) } },
    });
    // Week 2: the tag starts to list it. Nothing to write, and it stays the person's.
    const two = (await week(['20.0.0.0/24', '52.0.0.0/24']))[0]!;
    expect(two).toMatchObject({ outcome: 'in-sync', shared: ['52.0.0.0/24'], add: [], remove: [] });
    expect((await state.load(vaultRef('kv-a')))!.record.ownedRules).toEqual(['20.0.0.0/24']);
    // Week 3: the tag drops it; tagwall removes only what it owns, and this is not.
    const three = (await week(['20.0.0.0/24']))[0]!;
    expect(three).toMatchObject({ remove: [], unmanaged: expect.arrayContaining(['52.0.0.0/24']) });
    expect(await rules()).toEqual(['20.0.0.0/24', '52.0.0.0/24', '81.2.69.142/32']);
  });
});

// A local file for another cloud is a setting that is wrong, refused before any request.
describe('a service-tags file for another cloud', () => {
  it('is a configuration error, with no alert and no vault request', async () => {
    const path = join(dir, 'gov.json');
    await writeFile(path, JSON.stringify({ ...wireDocument([{ name: 'AzureDevOps', prefixes: ['20.0.0.0/24'] }]), cloud: 'AzureGovernment' }));
    const lines: string[] = [];
    const logger: AlertLogger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    await emu.emulator.control.clearRequests();
    const e = await run(config(path, { cloud: 'Public' }), { alerts: 'send' }, logger).then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
    expect(e?.code).toBe('CONFIG_INVALID');
    expect(lines.filter((l) => l.startsWith('tagwall.alert'))).toEqual([]);
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});

describe('a state store that cannot be reached', () => {
  it('stops the run before any vault request, with a critical alert in the log, never as "no record yet"', async () => {
    const lines: string[] = [];
    const logger: AlertLogger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    await emu.emulator.control.clearRequests();
    const down = azurite.connectionString.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9');
    const e = await runSync(config(WEEK2), { dryRun: false, force: false, alerts: 'send' }, { env: { STATE: down }, logger, credential: emu.credential, armCa: emu.emulator.caCert, armRetry: FAST_RETRY }).then(
      () => undefined,
      (err: unknown) => err as { code?: string },
    );
    expect(e?.code).toBe("STATE_UNAVAILABLE");
    const alerts = lines.filter((l) => l.startsWith('tagwall.alert ')).map((l) => JSON.parse(l.slice('tagwall.alert '.length)) as { kind: string; severity: string });
    expect(alerts).toEqual([expect.objectContaining({ kind: 'state-unavailable', severity: 'critical' })]);
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});
