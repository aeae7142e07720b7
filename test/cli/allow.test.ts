import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// `tagwall allow` as a pipeline agent runs it: the built CLI in its own process, against the
// emulator, with file state. (Expiry needs a clock the test controls: test/run/temporary.test.ts.)

const TAG = ['52.100.1.0/24', '52.100.3.0/24', '52.100.5.0/24'];
const AGENT = '81.2.69.160';

let emulator: Emulator;
let env: NodeJS.ProcessEnv;
let dir: string;
let config: string;

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-allow-'));
  const tags = join(dir, 'tags.json');
  await writeFile(
    tags,
    JSON.stringify({
      changeNumber: 7,
      cloud: 'Public',
      values: [{ name: 'Pipelines', id: 'Pipelines', properties: { changeNumber: 7, region: '', regionId: 0, platform: 'Azure', systemService: 'Pipelines', addressPrefixes: TAG, networkFeatures: null } }],
    }),
  );
  config = join(dir, 'tagwall.json');
  await writeFile(config, JSON.stringify({ serviceTags: { source: 'file', path: tags }, arm: { endpoint: emulator.url }, targets: [{ vault: vaultId('kv-app'), select: ['Pipelines'], maxRules: 4 }] }));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
});

async function rules(): Promise<string[]> {
  const v = await emulator.control.vault('kv-app');
  return (v!.properties.networkAcls?.ipRules ?? []).map((r) => r.value.replace(/\/32$/, '')).sort();
}

describe('tagwall allow', () => {
  it('the usage hint\'s example works when copied: its address is allowed, and an empty --list says so', async () => {
    const usage = await runCli(['allow', '--config', config], { cwd: dir, env });
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/^tagwall: USAGE: /m);
    const example = /e\.g\. tagwall allow (\S+) --for (\S+) --target/.exec(usage.stderr);
    expect(example).not.toBeNull();
    const copied = await runCli(['allow', example![1]!, '--for', example![2]!, '--target', 'kv-app', '--config', config, '--json'], { cwd: dir, env });
    expect(copied.stderr).not.toMatch(/CIDR_INVALID/);
    expect(copied.code).toBe(0);
    expect(await rules()).toContain(example![1]);

    const empty = join(dir, 'other.json');
    await writeFile(empty, (await readFile(config, 'utf8')).replace('"targets"', '"state": {"store": "file", "path": "other-state/state.json"}, "targets"'));
    const list = await runCli(['allow', '--list', '--config', empty], { cwd: dir, env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/no grants/);
  });

  it('allows the address on the target by name, at once, and lists the grant', async () => {
    const r = await runCli(['allow', AGENT, '--for', '1h', '--target', 'kv-app', '--note', 'build 42', '--config', config, '--json'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/^tagwall:/m);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { grant: { cidr: string; until: string; note: string }; target: string; report: { vaults: { outcome: string; add: string[] }[] } };
    expect(out.grant).toMatchObject({ cidr: `${AGENT}/32`, note: 'build 42' });
    const left = Date.parse(out.grant.until) - Date.now();
    expect(left).toBeGreaterThan(55 * 60_000);
    expect(left).toBeLessThanOrEqual(3_600_000);
    expect(out.target).toBe(vaultId('kv-app'));
    expect(out.report.vaults[0]).toMatchObject({ outcome: 'applied' });
    expect(out.report.vaults[0]!.add).toContain(`${AGENT}/32`);
    expect(await rules()).toEqual([...TAG, AGENT].sort());

    const list = await runCli(['allow', '--list', '--config', config, '--json'], { cwd: dir, env });
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { grants: unknown[] }).grants).toEqual([expect.objectContaining({ target: vaultId('kv-app'), cidr: `${AGENT}/32`, until: out.grant.until })]);

    // A sync of the same state keeps it.
    const sync = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(sync.code).toBe(0);
    expect(await rules()).toEqual([...TAG, AGENT].sort());
  });

  it('refuses a target that is not configured, a duration past 7 days, and a grant with no room, each with its code', async () => {
    const unknown = await runCli(['allow', AGENT, '--for', '1h', '--target', 'kv-nope', '--config', config, '--json'], { cwd: dir, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^tagwall: VAULT_NOT_CONFIGURED: not a configured target: kv-nope/m);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'VAULT_NOT_CONFIGURED' } });

    const long = await runCli(['allow', AGENT, '--for', '8d', '--target', 'kv-app', '--config', config], { cwd: dir, env });
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/--for.*at most 7d/);

    await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), targets: [{ vault: vaultId('kv-app'), select: ['Pipelines'], maxRules: 3 }] }));
    expect((await runCli(['sync', '--config', config], { cwd: dir, env })).code).toBe(0);
    await emulator.control.clearRequests();
    const full = await runCli(['allow', AGENT, '--for', '30m', '--target', vaultId('kv-app'), '--config', config, '--json'], { cwd: dir, env });
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/^tagwall: GRANT_NO_ROOM: /m);
    expect(JSON.parse(full.stdout)).toMatchObject({ error: { code: 'GRANT_NO_ROOM' } });
    expect((await emulator.control.requests({ kind: 'arm' })).filter((x) => x.method === 'PATCH' || x.method === 'PUT')).toEqual([]);
    expect(await rules()).toEqual([...TAG].sort());
  });
});
