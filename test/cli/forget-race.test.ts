import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { runCli as runInProcess } from '../../src/cli/program.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { runCli, useCliEmulator, BUNDLED, type CliRun } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// `tagwall state forget` racing a sync that writes the same target while the person is asked
// (the Functions app's timer, with blob state on Azurite): the sync is the built CLI in its own
// process, started when the question appears; forget is the CLI in this process, its terminal a
// stream the test answers once the sync is done. What the vault holds comes from the emulator.

let emulator: Emulator;
let env: NodeJS.ProcessEnv;
let azurite: Azurite;
let dir: string;
let container = 0;

const PERSON = '81.2.69.142/32';

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(() => azurite?.stop());
beforeEach(async () => {
  container++;
  dir = await mkdtemp(join(tmpdir(), 'tagwall-forget-race-'));
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: PERSON }] })] });
});

async function writeConfig(name: string, select: string[], state: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: emulator.url },
      state,
      // A change of selection is the point here: the guards it would trip are opened.
      targets: [{ resource: vaultId('kv-app'), select, guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 } }],
    }),
  );
  return path;
}

const blobState = () => ({ store: 'blob', connectionSetting: 'STATE', container: `forget-race-${container}` });

async function vaultRules(): Promise<string[]> {
  const v = (await emulator.control.vaults()).find((x) => x.name === 'kv-app')!;
  const acls = (v.properties as { networkAcls?: { ipRules?: { value: string }[] } }).networkAcls;
  return (acls?.ipRules ?? []).map((r) => (r.value.includes('/') ? r.value : `${r.value}/32`)).sort();
}

function cliEnv(): NodeJS.ProcessEnv {
  return { ...env, STATE: azurite.connectionString };
}

async function sync(config: string): Promise<CliRun> {
  return runCli(['sync', '--config', config, '--json'], { cwd: dir, env: cliEnv() });
}

/**
 * `tagwall <args>` in this process, on a terminal that answers `y` once `meanwhile` has run: it
 * starts when the question is asked, so it falls between the command's read and its change.
 */
async function confirmedAfter(args: string[], meanwhile: () => Promise<void>): Promise<{ code: number; stdout: string; stderr: string; asked: boolean }> {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  let asked = false;
  let during: Promise<void> | undefined;
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (!asked && err.includes('Proceed? [y/N]')) {
      asked = true;
      during = meanwhile().then(() => void stdin.write('y\n'));
    }
  });
  // The credential of the CLI's identity is read from the process's environment.
  const saved = { ...process.env };
  Object.assign(process.env, cliEnv());
  try {
    const code = await runInProcess(args, { stdout, stderr, stdin, env: { ...process.env }, cwd: dir } as Parameters<typeof runInProcess>[1]);
    await during;
    return { code, stdout: out, stderr: err, asked };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('state forget racing a sync (blob state)', () => {
  it('keeps the record a run wrote after forget read it: STATE_CONFLICT, exit 1, and the next sync still removes that run\'s rules', async () => {
    const first = await writeConfig('tagwall.json', ['AzureDevOps'], blobState());
    expect((await sync(first)).code).toBe(0);
    const before = await vaultRules();

    // The concurrent run wants more: it adds rules and records that it owns them.
    const wider = await writeConfig('wider.json', ['AzureDevOps', 'AzureFrontDoor.FirstParty'], blobState());
    let concurrent: CliRun | undefined;
    const forget = await confirmedAfter(['state', 'forget', 'kv-app', '--config', first], async () => {
      concurrent = await sync(wider);
    });
    expect(forget.asked).toBe(true);
    expect(concurrent?.code, concurrent?.stderr).toBe(0);
    const added = (await vaultRules()).filter((r) => !before.includes(r));
    expect(added.length).toBeGreaterThan(0);

    expect(forget.code).toBe(1);
    expect(forget.stderr).toMatch(/tagwall: STATE_CONFLICT: \S*kv-app: .*nothing was deleted/);
    expect(forget.stdout).not.toMatch(/record deleted/);

    // The record is the concurrent run's: it owns what that run added.
    const show = await runCli(['state', 'show', 'kv-app', '--config', first, '--json'], { cwd: dir, env: cliEnv() });
    expect(show.code, show.stderr).toBe(0);
    const owned = (JSON.parse(show.stdout) as { owned: { rule: string }[] }).owned.map((o) => o.rule);
    for (const r of added) expect(owned).toContain(r);

    // Back to the first selection: a sync removes every rule the concurrent run added, never the person's.
    expect((await sync(first)).code).toBe(0);
    const after = await vaultRules();
    expect(after).toContain(PERSON);
    expect(added.filter((r) => after.includes(r))).toEqual([]);

    // Run again, forget sees the record as it is now and deletes it.
    const again = await confirmedAfter(['state', 'forget', 'kv-app', '--config', first, '--json'], async () => undefined);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ record: 'deleted' });
  });
});

describe('state forget while a sync starts (file state)', () => {
  it('holds the state lock from its read to its delete: the sync fails STATE_LOCKED with zero writes, and forget deletes', async () => {
    const fileState = () => ({ store: 'file', path: join(dir, 'state.json') });
    const first = await writeConfig('tagwall.json', ['AzureDevOps'], fileState());
    expect((await sync(first)).code).toBe(0);
    const wider = await writeConfig('wider.json', ['AzureDevOps', 'AzureFrontDoor.FirstParty'], fileState());
    await emulator.control.clearRequests();
    let concurrent: CliRun | undefined;
    const forget = await confirmedAfter(['state', 'forget', 'kv-app', '--config', first, '--json'], async () => {
      concurrent = await sync(wider);
    });
    expect(forget.asked).toBe(true);
    expect(concurrent?.code).toBe(1);
    expect(concurrent?.stderr).toMatch(/tagwall: STATE_LOCKED: /);
    const writes = (await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH' || r.method === 'PUT');
    expect(writes).toEqual([]);
    expect(forget.code, forget.stderr).toBe(0);
    expect(JSON.parse(forget.stdout)).toMatchObject({ record: 'deleted' });
  });
});
