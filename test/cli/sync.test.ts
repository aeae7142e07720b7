import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// `tagwall sync` as a process, the way a pipeline runs it: the CA trusted through
// NODE_EXTRA_CA_CERTS and the managed identity found through IDENTITY_ENDPOINT.

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

async function writeConfig(targets: unknown[], extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, 'tagwall.json');
  await writeFile(path, JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, targets, ...extra }));
  return path;
}

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-sync-'));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: '81.2.69.142' }] })] });
});

describe('tagwall sync', () => {
  it('--dry-run --detailed-exitcode exits 2 with changes pending, writes nothing, and prints one JSON object', async () => {
    const config = await writeConfig([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    const r = await runCli(['sync', '--config', config, '--dry-run', '--detailed-exitcode', '--json'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/^tagwall:/m);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as { dryRun: boolean; vaults: { vault: string; outcome: string; add: string[]; unmanaged: string[]; rules: { managed: number; unmanaged: number; limit: number } }[] };
    expect(report.dryRun).toBe(true);
    expect(report.vaults[0]).toMatchObject({ vault: vaultId('kv-app'), outcome: 'pending', unmanaged: ['81.2.69.142/32'], rules: { unmanaged: 1, limit: 1000 } });
    expect((await emulator.control.requests({ kind: 'arm' })).filter((x) => x.method === 'PATCH')).toHaveLength(0);
  });

  it('applies, then exits 0 with --detailed-exitcode once in step', async () => {
    const config = await writeConfig([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    const first = await runCli(['sync', '--config', config], { cwd: dir, env });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^kv-app\s+applied\s+\+\d+\s+-0\s+1\s/m);
    const again = await runCli(['sync', '--config', config, '--detailed-exitcode'], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^kv-app\s+in-sync\s+\+0\s+-0/m);
  });

  it('exits 1 when a vault fails, and still syncs the others', async () => {
    const config = await writeConfig([{ vault: vaultId('kv-gone'), select: ['AzureDevOps'] }, { vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { vaults: { outcome: string; error?: { code: string } }[] };
    expect(report.vaults.map((v) => [v.outcome, v.error?.code])).toEqual([['failed', 'VAULT_NOT_FOUND'], ['applied', undefined]]);
  });

  it('a bad configuration is reported whole on stderr, exits 1, and makes no request', async () => {
    const config = await writeConfig([{ vault: 'kv-app', select: ['AzureDevOps'], extra: ['10.0.0.0/8'] }], { concurrency: 0 });
    await emulator.control.clearRequests();
    const r = await runCli(['sync', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/configuration problems/);
    expect(r.stderr).toMatch(/- concurrency:/);
    expect(r.stderr).toMatch(/- targets\[0\]\.vault:/);
    expect(r.stderr).toMatch(/- targets\[0\]\.extra: extra 10\.0\.0\.0\/8 overlaps 10\.0\.0\.0\/8/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('--vault limits the run to that vault and refuses one that is not configured', async () => {
    await emulator.control.seed({ vaults: [seedVault('kv-two', { defaultAction: 'Deny', ipRules: [] })] });
    const config = await writeConfig([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-two'), select: ['AzureDevOps'] }]);
    const r = await runCli(['sync', '--config', config, '--vault', vaultId('kv-two').toUpperCase(), '--json'], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { vaults: { vault: string }[] }).vaults.map((v) => v.vault)).toEqual([vaultId('kv-two')]);
    const bad = await runCli(['sync', '--config', config, '--vault', vaultId('kv-three')], { cwd: dir, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a configured target/);
  });

  it('refuses a bad webhook app setting before any request, and runs without it under --no-alerts', async () => {
    const config = await writeConfig([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    await emulator.control.clearRequests();
    // Refused by validation, so nothing is ever sent to it.
    const hook = { ...env, TAGWALL_ALERT_WEBHOOK_URL: 'http://hooks.example.invalid/alerts' };
    const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env: hook });
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ALERT_WEBHOOK_INVALID');
    expect(r.stderr).toMatch(/^tagwall: ALERT_WEBHOOK_INVALID: TAGWALL_ALERT_WEBHOOK_URL must use https/m);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
    const quiet = await runCli(['sync', '--config', config, '--json', '--no-alerts'], { cwd: dir, env: hook });
    expect(quiet.code).toBe(0);
    expect((JSON.parse(quiet.stdout) as { vaults: { outcome: string }[] }).vaults[0]!.outcome).toBe('applied');
  });

  it('keeps a second sync off the same state file: it exits 1 with STATE_LOCKED naming the first, which completes', async () => {
    const config = await writeConfig([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    const tagwallDir = join(dir, '.tagwall');
    const lock = join(tagwallDir, 'state.json.lock');
    // The first run waits inside its first vault read, long enough for the second to start.
    await emulator.control.addFault({ kind: 'delay', method: 'GET', vault: 'kv-app', delayMs: 5000, times: 1 });
    await emulator.control.clearRequests();
    let firstPid: number | undefined;
    const first = runCli(['sync', '--config', config, '--json'], { cwd: dir, env, onSpawn: (child) => (firstPid = child.pid) });
    const started = Date.now();
    while (!(await readFile(lock, 'utf8').then(() => true, () => false))) {
      if (Date.now() - started > 20_000) throw new Error('the first run never took the lock');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((JSON.parse(await readFile(lock, 'utf8')) as { pid: number }).pid).toBe(firstPid);

    const second = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(second.code).toBe(1);
    expect((JSON.parse(second.stdout) as { error: { code: string } }).error.code).toBe('STATE_LOCKED');
    expect(second.stderr).toMatch(new RegExp(`^tagwall: STATE_LOCKED: state file .*state\\.json is in use by another tagwall run: pid ${firstPid} on this host, since `, 'm'));
    // Refused before it read anything: the only ARM requests are the first run's.
    const done = await first;
    expect(done.code).toBe(0);
    expect((JSON.parse(done.stdout) as { vaults: { outcome: string }[] }).vaults.map((v) => v.outcome)).toEqual(['applied']);
    // The first run's: its vault's GET, PATCH and verifying GET, and one listing of the subscription's perimeters.
    const arm = await emulator.control.requests({ kind: 'arm' });
    expect(arm.filter((r) => r.vault !== undefined).map((r) => r.method)).toEqual(['GET', 'PATCH', 'GET']);
    expect(arm.filter((r) => r.vault === undefined).map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([expect.stringMatching(/^GET \/subscriptions\/[^/]+\/providers\/Microsoft\.Network\/networkSecurityPerimeters$/)]);
    // The first run recorded its work and let go of the lock.
    expect((await readdir(tagwallDir)).sort()).toEqual(['state']);
    const records = (await readdir(join(tagwallDir, 'state'), { recursive: true })).map(String);
    expect(records.some((k) => k.startsWith('vaults/') && k.endsWith('/kv-app.json'))).toBe(true);
  });

  it('--help documents the exit codes', async () => {
    const r = await runCli(['sync', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes: 0 .*; 1 .*\n2 \(only with --detailed-exitcode\)/);
  });
});

describe('tagwall plan and tagwall sync judge a cover alike', () => {
  it('the cover plan refuses (AzureDevOps in 14 rules) is the one sync refuses, with the same codes', async () => {
    await emulator.control.seed({ vaults: [seedVault('kv-empty', { defaultAction: 'Deny', ipRules: [] })] });
    const config = await writeConfig([{ vault: vaultId('kv-empty'), select: ['AzureDevOps'], maxRules: 14 }]);
    const sync = await runCli(['sync', '--config', config, '--dry-run', '--json'], { cwd: dir, env });
    expect(sync.code).toBe(1);
    const vault = (JSON.parse(sync.stdout) as { vaults: { outcome: string; reasons: { code: string }[]; findings: { code: string }[] }[] }).vaults[0]!;
    expect(vault.outcome).toBe('refused');
    const plan = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '14', '--json']);
    expect(plan.code).toBe(1);
    const guards = (JSON.parse(plan.stdout) as { guards: { code: string; verdict: string }[] }).guards;
    expect(guards.filter((g) => g.verdict === 'refused').map((g) => g.code)).toEqual(vault.reasons.map((r) => r.code));
    expect(vault.reasons.map((r) => r.code)).toEqual(['EXCESS_GUARD']);
    expect(guards.filter((g) => g.verdict === 'warning').map((g) => g.code)).toEqual(vault.findings.filter((f) => f.code === 'WIDE_RULE').map((f) => f.code));
    expect(vault.findings.map((f) => f.code)).toContain('WIDE_RULE');
  });
});
