import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, TEST_SUBSCRIPTION, vaultId } from '../helpers/emulator.js';

// The CLI without surprises: the CLI as a new user tries it, each case one they ran into.

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

async function writeConfig(body: Record<string, unknown>, text?: string): Promise<string> {
  const path = join(dir, 'tagwall.json');
  await writeFile(path, text ?? JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, ...body }));
  return path;
}

async function writes(): Promise<number> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method !== 'GET' && r.method !== 'POST').length;
}

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-surprises-'));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
  await emulator.control.clearRequests();
});

describe('tagwall sync: narrowing and placeholders', () => {
  it('--subscription that matches no target exits 1 naming it, and writes nothing', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
    const other = '11111111-2222-3333-4444-555555555555';
    const r = await runCli(['sync', '--config', config, '--subscription', other], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^tagwall: SUBSCRIPTION_NOT_CONFIGURED: no target in subscription ${other}`, 'm'));
    expect(await writes()).toBe(0);
    // The subscription that has the target still narrows to it, in any case.
    const ok = await runCli(['sync', '--config', config, '--subscription', TEST_SUBSCRIPTION.toUpperCase(), '--json'], { cwd: dir, env });
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { vaults: { vault: string }[] }).vaults.map((v) => v.vault)).toEqual([vaultId('kv-app')]);
  });

  it('placeholder IDs in a configuration are CONFIG_INVALID with their path, before any request', async () => {
    const config = await writeConfig({
      targets: [
        { vault: '/subscriptions/<id>/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app', select: ['AzureDevOps'] },
        { resource: `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/stapp`, select: ['AzureDevOps'] },
        { resource: '/subscriptions/my-subscription/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stapp', select: ['AzureDevOps'] },
      ],
    });
    const r = await runCli(['sync', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tagwall: CONFIG_INVALID: .*3 configuration problems/m);
    expect(r.stderr).toMatch(/- targets\[0\]\.vault: .*placeholder "<id>"/);
    expect(r.stderr).toMatch(/- targets\[1\]\.resource: .*placeholder "<group>"/);
    expect(r.stderr).toMatch(/- targets\[2\]\.resource: .*subscription ID "my-subscription" is not a GUID/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});

describe('tagwall: run-level failures carry their code', () => {
  it('a configuration error: CODE on stderr, and {"error": {code, message}} on stdout with --json', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }], concurrency: 0 });
    const text = await runCli(['sync', '--config', config], { cwd: dir, env });
    expect(text.code).toBe(1);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^tagwall: CONFIG_INVALID: .*1 configuration problem\n {2}- concurrency:/m);
    const json = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout) as { error: { code: string; message: string; details?: string[] } };
    expect(out.error.code).toBe('CONFIG_INVALID');
    expect(out.error.message).toMatch(/1 configuration problem/);
    expect(out.error.details).toEqual([expect.stringMatching(/^concurrency:/)]);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('one target Azure refused is not a run-level error: the report, not {"error"}', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-gone'), select: ['AzureDevOps'] }] });
    const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { error?: unknown; vaults: { error?: { code: string } }[] };
    expect(out.error).toBeUndefined();
    expect(out.vaults[0]?.error?.code).toBe('VAULT_NOT_FOUND');
  });

  it('plan --json and tags --json say a bad input the same way', async () => {
    const plan = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'NoSuchTag', '--json'], { cwd: dir, env });
    expect(plan.code).toBe(1);
    expect((JSON.parse(plan.stdout) as { error: { code: string } }).error.code).toBe('UNKNOWN_SELECTOR');
    expect(plan.stderr).toMatch(/^tagwall: UNKNOWN_SELECTOR: /m);
    const tags = await runCli(['tags', '--service-tags', join(dir, 'missing.json'), '--json'], { cwd: dir, env });
    expect(tags.code).toBe(1);
    expect((JSON.parse(tags.stdout) as { error: { code: string } }).error.code).toMatch(/^SERVICE_TAGS_/);
  });
});

describe('tagwall sync: configuration mistakes a person makes', () => {
  it('an unknown key names the known key it is nearest to, at its path', async () => {
    const config = await writeConfig({ concurency: 4, targets: [{ vault: vaultId('kv-app'), selct: ['AzureDevOps'], guards: { maxExcesAddresses: 10 } }] });
    const r = await runCli(['sync', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/- \(root\): unknown key "concurency"; did you mean "concurrency"\?/);
    expect(r.stderr).toMatch(/- targets\[0\]: unknown key "selct"; did you mean "select"\?/);
    expect(r.stderr).toMatch(/- targets\[0\]\.guards: unknown key "maxExcesAddresses"; did you mean "maxExcessAddresses"\?/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('a JSON syntax error names its line and column', async () => {
    const config = await writeConfig({}, '{\n  "targets": [\n    { "vault": "x", },\n  ]\n}\n');
    const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tagwall: CONFIG_INVALID: .*tagwall\.json:3:21: not valid JSON/m);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('CONFIG_INVALID');
  });
});

describe('tagwall sync: a skipped target', () => {
  it('shows no pending adds, in text and JSON: nothing is written to it this run', async () => {
    await emulator.control.seed({ vaults: [seedVault('kv-closed', { defaultAction: 'Deny', ipRules: [] }, { publicNetworkAccess: 'Disabled' })] });
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-closed'), select: ['AzureDevOps'] }] });
    const json = await runCli(['sync', '--config', config, '--dry-run', '--json'], { cwd: dir, env });
    const v = (JSON.parse(json.stdout) as { vaults: { outcome: string; add: string[]; remove: string[]; reasons: { code: string }[] }[] }).vaults[0]!;
    expect(v.outcome).toBe('skipped');
    expect(v.reasons.map((r) => r.code)).toEqual(['PUBLIC_ACCESS_DISABLED']);
    expect([v.add, v.remove]).toEqual([[], []]);
    const text = await runCli(['sync', '--config', config, '--dry-run'], { cwd: dir, env });
    expect(text.stdout).toMatch(/^kv-closed\s+skipped\s+\+0\s+-0/m);
    expect(text.stdout).not.toMatch(/^ {2}add: /m);
    expect(await writes()).toBe(0);
  });
});

describe('tagwall: words for what is meant', () => {
  it('a Storage account\'s report and sync --help never call a target a vault', async () => {
    const account = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/rg-tagwall-test/providers/Microsoft.Storage/storageAccounts/stopen`;
    // Firewall off, and AzureCloud selected: both findings used to say "the vault".
    await emulator.control.seed({ vaults: [], resources: [{ id: account, location: 'westeurope', properties: { networkAcls: { defaultAction: 'Allow', ipRules: [] } } }] });
    const config = await writeConfig({ targets: [{ resource: account, select: ['AzureCloud.westeurope'], maxRules: 400 }] });
    const r = await runCli(['sync', '--config', config, '--dry-run', '--force'], { cwd: dir, env });
    expect(r.stdout).toMatch(/FIREWALL_DISABLED/);
    expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/\bvaults?\b/i);
    // The generic word, lowercase; "Key Vault" (the kind) and TAGWALL_VAULTS (a setting) are names.
    const help = await runCli(['sync', '--help'], { cwd: dir, env });
    expect(help.stdout.replace(/--vault <id>/g, '')).not.toMatch(/\bvaults?\b/);
  });
});

describe('tagwall --help and tags', () => {
  it('--help lists demo', async () => {
    const r = await runCli(['--help'], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}demo\b/m);
  });

  it('tags lists tags sorted by name, and --region keeps one region (any case)', async () => {
    const all = await runCli(['tags', '--service-tags', BUNDLED, '--json'], { cwd: dir, env });
    const names = (JSON.parse(all.stdout) as { tags: { name: string }[] }).tags.map((t) => t.name.toLowerCase());
    expect(names.length).toBeGreaterThan(1000);
    const unsorted = names.findIndex((n, i) => i > 0 && names[i - 1]! > n);
    expect(unsorted, `${names[unsorted - 1]} before ${names[unsorted]}`).toBe(-1);
    const region = await runCli(['tags', '--service-tags', BUNDLED, '--region', 'WestEurope', '--json'], { cwd: dir, env });
    const rows = (JSON.parse(region.stdout) as { tags: { name: string; region: string }[] }).tags;
    expect(rows.length).toBeGreaterThan(40);
    expect(new Set(rows.map((t) => t.region))).toEqual(new Set(['westeurope']));
    expect(rows.map((t) => t.name)).toContain('AzureCloud.westeurope');
    const text = await runCli(['tags', '--service-tags', BUNDLED, '--region', 'westeurope', '--search', 'Storage'], { cwd: dir, env });
    expect(text.stdout).toMatch(/^Storage\.WestEurope\s+westeurope/m);
    expect(text.stdout).not.toMatch(/northeurope/);
  });
});
