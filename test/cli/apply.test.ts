import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, FIXTURES, runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// A reviewed plan, applied exactly: `sync --dry-run --out plan.json` then `apply plan.json`, as a
// pipeline with an approval gate between the two runs them (two processes, one state file).

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

interface PlanFile {
  version: number;
  createdAt: string;
  serviceTags: { cloud: string; changeNumber: number; sha256: string };
  targets: { vault: string; kind: string; base: { rules: string[]; posture: Record<string, string> }; add: string[]; remove: string[]; nextRules: string[]; setDefaultActionDeny: boolean }[];
}
interface Report { vaults: { vault: string; outcome: string; add: string[]; reasons: { code: string }[] }[] }

async function writeConfig(source = BUNDLED, select = ['AzureDevOps']): Promise<string> {
  const path = join(dir, 'tagwall.json');
  const targets = ['kv-app', 'kv-two'].map((n) => ({ vault: vaultId(n), select }));
  await writeFile(path, JSON.stringify({ serviceTags: { source: 'file', path: source }, arm: { endpoint: emulator.url }, targets }));
  return path;
}

async function rulesOf(name: string): Promise<string[]> {
  const v = (await emulator.control.vaults()).find((x) => x.name === name)!;
  const acls = (v.properties as { networkAcls?: { ipRules?: { value: string }[] } }).networkAcls;
  return (acls?.ipRules ?? []).map((r) => r.value).sort();
}

async function patches(): Promise<{ method: string; path: string }[]> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((x) => x.method === 'PATCH' || x.method === 'PUT');
}

/** The dry run that makes the plan a person reviews; no write of any kind. */
async function makePlan(config: string): Promise<{ path: string; plan: PlanFile; report: Report }> {
  const path = join(dir, 'plan.json');
  await emulator.control.clearRequests();
  const r = await runCli(['sync', '--config', config, '--dry-run', '--out', path, '--json'], { cwd: dir, env });
  expect(r.stderr).not.toMatch(/^tagwall:/m);
  expect(r.code).toBe(0);
  expect(await patches()).toEqual([]);
  return { path, plan: JSON.parse(await readFile(path, 'utf8')) as PlanFile, report: JSON.parse(r.stdout) as Report };
}

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-apply-'));
  await emulator.control.reset({
    vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: '81.2.69.142' }] }), seedVault('kv-two', { defaultAction: 'Deny', ipRules: [] })],
  });
});

describe('tagwall apply', () => {
  it('writes exactly the reviewed rules: one write per target, the plan\'s nextRules', async () => {
    const config = await writeConfig();
    const { path, plan, report } = await makePlan(config);
    expect(plan.version).toBe(1);
    expect(plan.serviceTags).toMatchObject({ cloud: 'Public', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(plan.targets.map((t) => t.vault)).toEqual([vaultId('kv-app'), vaultId('kv-two')]);
    // The base is the firewall as read, in normalised keys.
    expect(plan.targets[0]!.base).toEqual({ rules: ['81.2.69.142/32'], posture: expect.objectContaining({ defaultAction: 'Deny' }) });
    for (const t of plan.targets) expect(t.add).toEqual(report.vaults.find((v) => v.vault === t.vault)!.add);
    expect(plan.targets[0]!.add.length).toBeGreaterThan(0);

    const r = await runCli(['apply', path, '--config', config, '--json'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/^tagwall:/m);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Report).vaults.map((v) => v.outcome)).toEqual(['applied', 'applied']);
    expect(await patches()).toHaveLength(2);
    for (const [i, name] of ['kv-app', 'kv-two'].entries()) {
      const written = await rulesOf(name);
      expect(written.map((x) => (x.includes('/') ? x : `${x}/32`)).sort()).toEqual([...plan.targets[i]!.nextRules].map((x) => (x.includes('/') ? x : `${x}/32`)).sort());
    }
  });

  it('refuses a target a person edited after the review with PLAN_STALE and no write; the others are applied; exit 1', async () => {
    const config = await writeConfig();
    const { path } = await makePlan(config);
    // A person adds a rule by hand between the review and the apply.
    await emulator.control.addRule('kv-two', '81.2.69.160');
    await emulator.control.clearRequests();
    const r = await runCli(['apply', path, '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.vaults.map((v) => [v.outcome, v.reasons.map((x) => x.code)])).toEqual([['applied', []], ['refused', ['PLAN_STALE']]]);
    const written = await patches();
    expect(written).toHaveLength(1);
    expect(written[0]!.path).toContain('/vaults/kv-app');
    expect(await rulesOf('kv-two')).toEqual(['81.2.69.160/32']);
  });

  it('refuses a plan older than --max-age before any request', async () => {
    const config = await writeConfig();
    const { path, plan } = await makePlan(config);
    await writeFile(path, JSON.stringify({ ...plan, createdAt: new Date(Date.now() - 25 * 3600_000).toISOString() }));
    await emulator.control.clearRequests();
    const r = await runCli(['apply', path, '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PLAN_EXPIRED/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
    // A longer --max-age takes the same plan.
    const longer = await runCli(['apply', path, '--config', config, '--max-age', '48h', '--json'], { cwd: dir, env });
    expect(longer.code).toBe(0);
    expect(await patches()).toHaveLength(2);
  });

  it('--max-age reads durations as TAGWALL_PLAN_MAX_AGE does (2d too), and its help shows the default as 24h', async () => {
    // No such file: past the option's parsing, the plan's own check answers.
    const r = await runCli(['apply', join(dir, 'missing.json'), '--max-age', '2d', '--json'], { cwd: dir, env });
    expect(r.stderr).not.toMatch(/is invalid/);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'PLAN_INVALID' } });
    const help = await runCli(['apply', '--help'], { cwd: dir, env });
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('(default: 24h)');
  });

  it('refuses a plan made from another service-tags file: PLAN_SOURCE_MISMATCH, no write', async () => {
    const { path } = await makePlan(await writeConfig());
    const other = await writeConfig(join(FIXTURES, 'ServiceTags_Public_20251006.json.gz'));
    await emulator.control.clearRequests();
    const r = await runCli(['apply', path, '--config', other, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.vaults.map((v) => [v.outcome, v.reasons.map((x) => x.code)])).toEqual([['refused', ['PLAN_SOURCE_MISMATCH']], ['refused', ['PLAN_SOURCE_MISMATCH']]]);
    expect(await patches()).toEqual([]);
  });

  it('refuses a target whose firewall is as reviewed but whose write would differ (the settings changed): PLAN_STALE, no write', async () => {
    const { path } = await makePlan(await writeConfig());
    const wider = await writeConfig(BUNDLED, ['AzureDevOps', 'PowerBI']);
    await emulator.control.clearRequests();
    const r = await runCli(['apply', path, '--config', wider, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.vaults.map((v) => [v.outcome, v.reasons.map((x) => x.code)])).toEqual([['refused', ['PLAN_STALE']], ['refused', ['PLAN_STALE']]]);
    expect(await patches()).toEqual([]);
  });

  it('refuses an edited file that is no longer a plan (PLAN_INVALID) before any request, with the code in --json', async () => {
    const config = await writeConfig();
    const { path, plan } = await makePlan(config);
    await writeFile(path, JSON.stringify({ ...plan, targets: plan.targets.map((t) => ({ ...t, nextRules: undefined })) }));
    await emulator.control.clearRequests();
    const r = await runCli(['apply', path, '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'PLAN_INVALID' } });
    expect(r.stderr).toMatch(/targets\.0\.nextRules/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('--out needs --dry-run', async () => {
    const r = await runCli(['sync', '--config', await writeConfig(), '--out', join(dir, 'plan.json')], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--out .* needs --dry-run/);
    expect(await patches()).toEqual([]);
  });
});
