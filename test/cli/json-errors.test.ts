import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, runCli, useCliEmulator, type CliRun } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// The commands beside sync (`allow`, `state show|forget|adopt`, `offboard`) fail as sync does
// (README, "exit code"): exit 1, the code first on stderr (`tagwall: CODE: ...`), and with --json
// one object on stdout whose `error.code` a pipeline can branch on. Each error path through the
// built CLI against the emulator; the codes expected are the README's, not read from the code.

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

const PERSON = '81.2.69.142';

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-json-errors-'));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: PERSON }] }), seedVault('kv-old', { defaultAction: 'Deny', ipRules: [] })] });
  await emulator.control.clearRequests();
});

async function writeConfig(ids: string[], name = 'tagwall.json', extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: emulator.url },
      state: { store: 'file', path: join(dir, 'state.json') },
      targets: ids.map((id) => ({ vault: id, select: ['AzureDevOps'], guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 } })),
      ...extra,
    }),
  );
  return path;
}

async function writes(): Promise<unknown[]> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((x) => x.method === 'PATCH' || x.method === 'PUT');
}

/** Exit 1, `tagwall: CODE:` on stderr, and with --json exactly one object `{"error": {"code", "message"}}` on stdout. */
function expectJsonError(r: CliRun, code: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^tagwall: ${code}: `, 'm'));
  const lines = r.stdout.trim().split('\n');
  expect(lines, r.stdout).toHaveLength(1);
  const out = JSON.parse(lines[0]!) as { error?: { code?: unknown; message?: unknown } };
  expect(out.error?.code).toBe(code);
  expect(typeof out.error?.message).toBe('string');
}

describe('--json errors beside sync', () => {
  it('a configuration that is not valid: CONFIG_INVALID from every command, before any request', async () => {
    const config = await writeConfig([vaultId('kv-app')], 'bad.json', { concurrency: 0 });
    for (const args of [
      ['allow', '81.2.69.160', '--for', '1h', '--target', 'kv-app'],
      ['allow', '--list'],
      ['state', 'show', 'kv-app'],
      ['state', 'forget', 'kv-app', '--yes'],
      ['state', 'adopt', 'kv-app', '--yes'],
      ['offboard', 'kv-app', '--yes'],
      ['sync'],
    ]) {
      const r = await runCli([...args, '--config', config, '--json'], { cwd: dir, env });
      expectJsonError(r, 'CONFIG_INVALID');
    }
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('allow without --for or --target: USAGE, as JSON', async () => {
    const config = await writeConfig([vaultId('kv-app')]);
    expectJsonError(await runCli(['allow', '81.2.69.160', '--target', 'kv-app', '--config', config, '--json'], { cwd: dir, env }), 'USAGE');
    expect(await writes()).toEqual([]);
  });

  it('state and offboard on an unknown target: TARGET_UNKNOWN, as JSON', async () => {
    const config = await writeConfig([vaultId('kv-app')]);
    for (const args of [['state', 'forget', 'kv-nowhere', '--yes'], ['state', 'adopt', 'kv-nowhere', '--yes'], ['offboard', 'kv-nowhere', '--yes']]) {
      expectJsonError(await runCli([...args, '--config', config, '--json'], { cwd: dir, env }), 'TARGET_UNKNOWN');
    }
    expect(await writes()).toEqual([]);
  });

  it('a change not confirmed (no terminal, no --yes): CONFIRMATION_REQUIRED, as JSON, nothing changed', async () => {
    // A run leaves a record on kv-old; then kv-old leaves the configuration (so offboard may go ahead).
    const both = await writeConfig([vaultId('kv-app'), vaultId('kv-old')]);
    expect((await runCli(['sync', '--config', both], { cwd: dir, env })).code).toBe(0);
    const config = await writeConfig([vaultId('kv-app')], 'after.json');
    await emulator.control.clearRequests();
    // (`state adopt` asks only when there is something to adopt; it asks through the same confirmer.)
    for (const args of [['state', 'forget', 'kv-app'], ['offboard', vaultId('kv-old')]]) {
      expectJsonError(await runCli([...args, '--config', config, '--json'], { cwd: dir, env }), 'CONFIRMATION_REQUIRED');
    }
    expect(await writes()).toEqual([]);
    // The records are still there: state show still lists kv-old's rules as tagwall's.
    const shown = await runCli(['state', 'show', vaultId('kv-old'), '--config', config, '--json'], { cwd: dir, env });
    expect(shown.code).toBe(0);
    expect((JSON.parse(shown.stdout) as { owned: unknown[] }).owned.length).toBeGreaterThan(0);
  });

  it('offboard refused (OFFBOARD_TARGET_CONFIGURED): exit 1, the code on stderr, and error.code in --json beside the result', async () => {
    const config = await writeConfig([vaultId('kv-app')]);
    expect((await runCli(['sync', '--config', config], { cwd: dir, env })).code).toBe(0);
    await emulator.control.clearRequests();
    const r = await runCli(['offboard', 'kv-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expectJsonError(r, 'OFFBOARD_TARGET_CONFIGURED');
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'refused', reasons: [{ code: 'OFFBOARD_TARGET_CONFIGURED' }], writes: 0 });
    // Text mode says the code on stderr too, as `allow` does for its refusals.
    const text = await runCli(['offboard', 'kv-app', '--config', config, '--yes'], { cwd: dir, env });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^tagwall: OFFBOARD_TARGET_CONFIGURED: /m);
    expect(await writes()).toEqual([]);
  });
});
