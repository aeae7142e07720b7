import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, runCli, useCliEmulator } from '../helpers/cli.js';
import { closeServer, webhookAlerts } from '../helpers/functions-host.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// The CLI without surprises: `tagwall alerts test`, and a CLI drift check that pages (`sync --dry-run --alerts send`).

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;
let receiver: Server;
let failing: Server;
let received: { url: string; body: { kind?: string; state?: string; title?: string } }[] = [];
let failedPosts = 0;

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      received.push({ url: req.url ?? '', body: JSON.parse(body) as { kind?: string } });
      res.writeHead(200).end();
    });
  });
  failing = createServer((req, res) => {
    failedPosts++;
    req.resume().on('end', () => res.writeHead(500).end('receiver down'));
  });
  await Promise.all([receiver, failing].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});
afterAll(async () => {
  await closeServer(receiver);
  await closeServer(failing);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-alerts-'));
  received = [];
  failedPosts = 0;
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
  await emulator.control.clearRequests();
});

async function writeConfig(alerts: unknown): Promise<string> {
  const path = join(dir, 'tagwall.json');
  await writeFile(path, JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }], alerts }));
  return path;
}

async function writes(): Promise<number> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method !== 'GET' && r.method !== 'POST').length;
}

/** Every file of the state folder (alert memory included), names, contents and times. */
async function stateHash(): Promise<string> {
  const root = join(dir, '.tagwall', 'state');
  const hash = createHash('sha256');
  const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  expect(files.some((f) => f.includes('alerts'))).toBe(true);
  for (const f of files) hash.update(`${f}\0${(await stat(f)).mtimeMs}\0`).update(await readFile(f));
  return hash.digest('hex');
}

/** Removes two of tagwall's rules from kv-app, as someone in the portal would. */
async function drift(): Promise<void> {
  const vault = await emulator.control.vault(vaultId('kv-app'));
  const rules = (vault?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
  expect(rules.length).toBeGreaterThan(2);
  await emulator.control.seed({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: rules.slice(2).map((value) => ({ value })) })] });
}

describe('tagwall sync --dry-run --alerts send: the drift check from the CLI', () => {
  it('pages once for a drifted target, writes nothing, and a second identical check sends nothing', async () => {
    const config = await writeConfig(webhookAlerts(receiver));
    expect((await runCli(['sync', '--config', config], { cwd: dir, env })).code).toBe(0);
    expect(received).toEqual([]);
    await drift();
    await emulator.control.clearRequests();

    // Today's default: a dry run previews and sends nothing.
    const preview = await runCli(['sync', '--config', config, '--dry-run'], { cwd: dir, env });
    expect(preview.stderr).toMatch(/^would alert \[warning, firing\] 2 owned rules were removed from kv-app/m);
    expect(received).toEqual([]);

    const check = await runCli(['sync', '--config', config, '--dry-run', '--alerts', 'send'], { cwd: dir, env });
    expect(check.code).toBe(0);
    expect(check.stderr).toMatch(/^alert \[warning, firing\] 2 owned rules were removed from kv-app/m);
    expect(received.map((r) => [r.body.kind, r.body.state])).toEqual([['drift', 'firing']]);
    expect(await writes()).toBe(0);

    const again = await runCli(['sync', '--config', config, '--dry-run', '--alerts', 'send'], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(received).toHaveLength(1);
    expect(await writes()).toBe(0);
  });

  it('--alerts none is --no-alerts; an unknown mode is a usage error', async () => {
    const config = await writeConfig(webhookAlerts(receiver));
    await runCli(['sync', '--config', config], { cwd: dir, env });
    await drift();
    const none = await runCli(['sync', '--config', config, '--dry-run', '--alerts', 'none'], { cwd: dir, env });
    expect(none.stderr).not.toMatch(/alert/);
    const bad = await runCli(['sync', '--config', config, '--alerts', 'loud'], { cwd: dir, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Allowed choices are send, preview, none/);
  });
});

describe('tagwall alerts test', () => {
  it('sends exactly one test notification per channel, reports it sent with the status, and leaves the alert memory alone', async () => {
    const config = await writeConfig(webhookAlerts(receiver));
    await runCli(['sync', '--config', config], { cwd: dir, env });
    await drift();
    await runCli(['sync', '--config', config, '--dry-run', '--alerts', 'send'], { cwd: dir, env });
    expect(received).toHaveLength(1);
    const before = await stateHash();
    await emulator.control.clearRequests();

    const r = await runCli(['alerts', 'test', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(received).toHaveLength(2);
    expect(received[1]!.body).toMatchObject({ kind: 'test', state: 'firing' });
    expect(r.stdout).toMatch(/^webhook http:\/\/127\.0\.0\.1:\d+ \(generic\): sent, HTTP 200$/m);
    expect(await stateHash()).toBe(before);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);

    // The real drift alert is still remembered: the next check neither resolves nor repeats it.
    await runCli(['sync', '--config', config, '--dry-run', '--alerts', 'send'], { cwd: dir, env });
    expect(received).toHaveLength(2);
  });

  it('a failing channel: one request, "failed" with its HTTP status, exit 1; --json says the same', async () => {
    const config = await writeConfig({ webhook: { ...webhookAlerts(failing).webhook, attempts: 3 } });
    const r = await runCli(['alerts', 'test', '--config', config], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(failedPosts).toBe(1);
    expect(r.stdout).toMatch(/^webhook http:\/\/127\.0\.0\.1:\d+ \(generic\): failed, HTTP 500$/m);
    const json = await runCli(['alerts', 'test', '--config', config, '--json'], { cwd: dir, env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ channels: [expect.objectContaining({ channel: 'webhook', outcome: 'failed', status: 500 })] });
  });

  it('no channel configured: ALERT_CHANNEL_MISSING, exit 1', async () => {
    const config = await writeConfig(undefined);
    const r = await runCli(['alerts', 'test', '--config', config, '--json'], { cwd: dir, env: { ...env, TAGWALL_ALERT_WEBHOOK_URL: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tagwall: ALERT_CHANNEL_MISSING: /m);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ALERT_CHANNEL_MISSING');
  });
});
