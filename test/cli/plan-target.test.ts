import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { BUNDLED, runCli } from '../helpers/cli.js';

// `tagwall plan --config --target`: one configured target planned offline from its last record.
// No emulator runs: arm.endpoint points at a bare TCP listener that counts connections, so any
// request tagwall made to ARM would show up as one.

const SUB = '11111111-2222-3333-4444-555555555555';
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp`;
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-app`;
/** A person's rule, and one tagwall wrote last time that this week's selection no longer wants. */
const PERSON = '81.2.69.142';
const STALE_OWNED = '198.51.100.0/24';
/** A single address the target's configuration adds: written bare to a Storage account, never as /32. */
const SINGLE = '52.1.2.3';

let listener: Server;
let connections = 0;
let dir: string;
let config: string;
let statePath: string;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as { port: number }).port;
  dir = await mkdtemp(join(tmpdir(), 'tagwall-plan-target-'));
  statePath = join(dir, 'state.json');
  config = join(dir, 'tagwall.json');
  await writeFile(
    config,
    JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: `https://127.0.0.1:${port}` },
      state: { store: 'file', path: statePath },
      targets: [
        { resource: STORAGE, select: ['AzureCloud.westeurope'], extra: [SINGLE] },
        { vault: VAULT, select: ['AzureDevOps'], maxRules: 14 },
      ],
    }),
  );
  // The record a sync would have left: what it saw in the account, and what it owns there.
  const store = new JsonFileStore(statePath);
  await new TargetStateRepository(store).save(parseResourceId(STORAGE), {
    version: 1,
    vault: STORAGE,
    ownedRules: [STALE_OWNED],
    observedRules: [PERSON, '198.51.100.0/24'],
    posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
    changeNumber: 372,
    sourceAddresses: 4_400_000,
    appliedAt: '2025-10-06T00:00:00.000Z',
  });
  await store.close();
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
});

interface TargetPlanJson {
  target: { id: string; kind: string; record: boolean };
  rules: string[];
  add: string[];
  remove: string[];
  unmanaged: string[];
  guards: { code: string; verdict: string; before?: number; after?: number }[];
}

describe('tagwall plan --config --target', () => {
  it('plans a Storage account from its last record with its kind\'s facts: at most 400 rules, no /32 or /31, the person\'s rule kept, the stale one removed; no ARM request', async () => {
    // A sync holding the state file's lock does not keep a plan out: the plan only reads.
    const holder = new JsonFileStore(statePath);
    await holder.open();
    try {
      const r = await runCli(['plan', '--config', config, '--target', STORAGE, '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as TargetPlanJson;
      expect(out.target).toMatchObject({ id: STORAGE, kind: 'storage', record: true });
      expect(out.rules.length).toBeLessThanOrEqual(400);
      expect(out.rules.filter((x) => /\/3[12]$/.test(x))).toEqual([]);
      expect(out.rules).toContain(PERSON);
      expect(out.rules).toContain(SINGLE);
      expect(out.unmanaged).toEqual([`${PERSON}/32`]);
      expect(out.remove).toEqual([STALE_OWNED]);
      // The person's rule counts against the limit: the cover had 399 to spend.
      expect(out.rules.length).toBe(400);
      // The shrink guard compared with the record's source, as sync would.
      expect(out.guards.find((g) => g.code === 'SOURCE_SHRINK_GUARD')).toMatchObject({ verdict: 'pass', before: 4_400_000, after: 4_468_949 });
      // Its az export names the account, removes the stale rule and adds only what is missing.
      const az = await runCli(['plan', '--config', config, '--target', STORAGE, '--format', 'az'], { cwd: dir });
      expect(az.code, az.stderr).toBe(0);
      expect(az.stdout).toMatch(/^group=rg-app\nname=stapp$/m);
      const lines = az.stdout.split('\n').filter((l) => l.startsWith('az '));
      expect(lines[0]).toBe(`az storage account network-rule remove --resource-group "$group" --account-name "$name" --ip-address ${STALE_OWNED}`);
      const added = lines.slice(1).map((l) => l.split(' ').at(-1)!);
      expect(added).toHaveLength(out.add.length);
      // In the form the account takes: a single address bare, never /32.
      expect(added.filter((x) => x.endsWith('/32'))).toEqual([]);
      expect(added.every((x) => out.rules.includes(x))).toBe(true);
      expect(added).toContain(SINGLE);
    } finally {
      await holder.close();
    }
    expect(connections).toBe(0);
  });

  it('a target without a record is planned as first contact, and its configured limit and guards apply (exit 1 when one refuses)', async () => {
    const r = await runCli(['plan', '--config', config, '--target', VAULT], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Last record\s+none in state folder .*: planned as first contact/m);
    expect(r.stdout).toMatch(/^Rules\s+14 of 14$/m);
    expect(r.stderr).toMatch(/^tagwall: sync would refuse this plan: EXCESS_GUARD for \/subscriptions\//m);
    expect(connections).toBe(0);
  });

  it('a resource that is not a configured target is an error, and so are selection options beside --target', async () => {
    const other = STORAGE.replace('stapp', 'stother');
    const missing = await runCli(['plan', '--config', config, '--target', other], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not a configured target: .*stother/);
    const mixed = await runCli(['plan', '--config', config, '--target', STORAGE, '--select', 'AzureDevOps'], { cwd: dir });
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/--select: with --target, the configuration decides/);
    expect(connections).toBe(0);
  });
});
