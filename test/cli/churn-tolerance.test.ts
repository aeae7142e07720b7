import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// `churnTolerance` says what it did: when it keeps a rule that the least excess would replace,
// `plan` and `sync` show an info finding CHURN_TOLERANCE_USED, in text and in --json, with the
// rules kept and the price; without the trade there is none. Last week tagwall wrote
// 20.0.0.0/23; this week's tag is its low /24 only: keeping the /23 admits 256 more addresses.

const LAST_WEEK = ['20.0.0.0/23'];
const THIS_WEEK = ['20.0.0.0/24'];
const OPEN = { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 };

let emulator: Emulator;
let env: NodeJS.ProcessEnv;
let dir: string;

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-churn-'));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
});

async function tags(name: string, prefixes: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ changeNumber: 7, cloud: 'Public', values: [{ name: 'Test', id: 'Test', properties: { changeNumber: 7, region: '', regionId: 0, platform: 'Azure', systemService: 'Test', addressPrefixes: prefixes, networkFeatures: null } }] }));
  return path;
}

async function config(tagsPath: string, churnTolerance: number | undefined, name = 'tagwall.json'): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    JSON.stringify({
      serviceTags: { source: 'file', path: tagsPath },
      arm: { endpoint: emulator.url },
      state: { store: 'file', path: join(dir, 'state.json') },
      targets: [{ vault: vaultId('kv-app'), select: ['Test'], guards: OPEN, ...(churnTolerance === undefined ? {} : { churnTolerance }) }],
    }),
  );
  return path;
}

interface Finding { severity: string; code: string; message: string; [k: string]: unknown }

const churn = (findings: Finding[]) => findings.filter((f) => f.code === 'CHURN_TOLERANCE_USED');

describe('CHURN_TOLERANCE_USED through the CLI', () => {
  it('plan --config --target: in the text and in --json, only when the tolerance kept a rule', async () => {
    // The record a sync would have left last week (no ARM request: plan is offline).
    const store = new JsonFileStore(join(dir, 'state.json'));
    await new TargetStateRepository(store).save(parseResourceId(vaultId('kv-app')), {
      version: 1,
      vault: vaultId('kv-app'),
      ownedRules: LAST_WEEK,
      observedRules: LAST_WEEK,
      posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
      changeNumber: 6,
      sourceAddresses: 512,
      appliedAt: '2025-10-06T00:00:00.000Z',
    });
    await store.close();
    const week = await tags('week2.json', THIS_WEEK);
    await emulator.control.clearRequests();

    const tolerant = await config(week, 256);
    const json = await runCli(['plan', '--config', tolerant, '--target', vaultId('kv-app'), '--json'], { cwd: dir, env });
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { add: string[]; remove: string[]; findings: Finding[] };
    expect([out.add, out.remove]).toEqual([[], []]);
    expect(churn(out.findings)).toEqual([expect.objectContaining({ severity: 'info', rules: LAST_WEEK, count: 1, changesAvoided: 2, excessAddresses: 256, leastExcessAddresses: 0, churnTolerance: 256 })]);
    const text = await runCli(['plan', '--config', tolerant, '--target', vaultId('kv-app')], { cwd: dir, env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Finding +info CHURN_TOLERANCE_USED: kept 1 rule .*256 addresses more than the least .*churnTolerance 256\): 20\.0\.0\.0\/23$/m);

    // Without the tolerance: the /23 goes, and nothing is said of a trade.
    const strict = await config(week, undefined, 'strict.json');
    const plain = await runCli(['plan', '--config', strict, '--target', vaultId('kv-app'), '--json'], { cwd: dir, env });
    expect(plain.code, plain.stderr).toBe(0);
    const p = JSON.parse(plain.stdout) as { add: string[]; remove: string[]; findings: Finding[] };
    expect([p.add, p.remove]).toEqual([THIS_WEEK, LAST_WEEK]);
    expect(churn(p.findings)).toEqual([]);
    expect((await runCli(['plan', '--config', strict, '--target', vaultId('kv-app')], { cwd: dir, env })).stdout).not.toMatch(/CHURN_TOLERANCE_USED/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('sync: in the text report and in --json; the rule stays, with zero writes, and no alert is sent for it', async () => {
    const first = await runCli(['sync', '--config', await config(await tags('week1.json', LAST_WEEK), 256, 'week1.json.config')], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    expect((await emulator.control.vault('kv-app'))!.properties.networkAcls?.ipRules?.map((r) => r.value)).toEqual(LAST_WEEK);
    await emulator.control.clearRequests();

    const tolerant = await config(await tags('week2.json', THIS_WEEK), 256);
    const json = await runCli(['sync', '--config', tolerant, '--json', '--alerts', 'send'], { cwd: dir, env });
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { vaults: { outcome: string; findings: Finding[] }[] };
    expect(report.vaults[0]!.outcome).toBe('in-sync');
    expect(churn(report.vaults[0]!.findings)).toEqual([expect.objectContaining({ severity: 'info', rules: LAST_WEEK, count: 1, changesAvoided: 2, excessAddresses: 256 })]);
    // Info only: nothing pages (the CLI logs each alert it sends on stderr).
    expect(json.stderr).not.toMatch(/alert/i);
    const text = await runCli(['sync', '--config', tolerant], { cwd: dir, env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}info CHURN_TOLERANCE_USED: kept 1 rule .*by admitting 256 addresses more than the least/m);
    expect((await emulator.control.requests({ kind: 'arm' })).filter((x) => x.method === 'PATCH' || x.method === 'PUT')).toEqual([]);
    expect((await emulator.control.vault('kv-app'))!.properties.networkAcls?.ipRules?.map((r) => r.value)).toEqual(LAST_WEEK);

    // The control: the same week without the tolerance replaces the /23, and says nothing of a trade.
    const strict = await runCli(['sync', '--config', await config(await tags('week2b.json', THIS_WEEK), 0, 'strict.json'), '--dry-run', '--json'], { cwd: dir, env });
    const s = JSON.parse(strict.stdout) as { vaults: { outcome: string; add: string[]; findings: Finding[] }[] };
    expect(s.vaults[0]).toMatchObject({ outcome: 'pending', add: THIS_WEEK });
    expect(churn(s.vaults[0]!.findings)).toEqual([]);
  });
});
