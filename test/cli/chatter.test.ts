import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { runCli as runInProcess } from '../../src/cli/program.js';
import { BUNDLED, runCli, useCliEmulator } from '../helpers/cli.js';
import { closeServer } from '../helpers/functions-host.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// The CLI without surprises: --verbose, "still waiting" after a silence, --quiet and --format markdown,
// as a new user runs them against the emulator.

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;
let receiver: Server;
let posts: string[] = [];

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeAll(async () => {
  receiver = createServer((req, res) => {
    posts.push(req.url ?? '');
    req.resume().on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterAll(() => closeServer(receiver));
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-chatter-'));
  posts = [];
  await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })] });
  await emulator.control.clearRequests();
});

async function writeConfig(body: Record<string, unknown>): Promise<string> {
  const path = join(dir, 'tagwall.json');
  await writeFile(path, JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, ...body }));
  return path;
}

const HTTP_LINE = /^http: (GET|PUT|PATCH|POST|DELETE) (\S+)(?: \(path not shown\))? (\d{3}|failed \(\S+\)) \d+ ms$/;

describe('sync --verbose', () => {
  it('prints one line per request (method, target, status, time) on stderr, no token or query, and stdout stays one JSON object', async () => {
    const secretHook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook/s3cret-path?sig=s3cret-sig`;
    const config = await writeConfig({
      targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-gone'), select: ['AzureDevOps'] }],
      alerts: { webhook: { url: secretHook, format: 'generic', attempts: 1 } },
    });
    const r = await runCli(['sync', '--config', config, '--json', '--verbose'], { cwd: dir, env });
    expect(r.code).toBe(1); // kv-gone: VAULT_NOT_FOUND, which alerts through the webhook
    const report = JSON.parse(r.stdout) as { vaults: { vault: string; outcome: string }[] };
    expect(report.vaults.map((v) => v.outcome).sort()).toEqual(['applied', 'failed']);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('http: '));
    for (const l of lines) expect(l).toMatch(HTTP_LINE);
    const armPath = (name: string) => `${new URL(emulator.url).host}${vaultId(name)}`;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^http: GET ${escape(armPath('kv-app'))} 200 \\d+ ms$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^http: (PATCH|PUT) ${escape(armPath('kv-app'))} 20\\d \\d+ ms$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^http: GET ${escape(armPath('kv-gone'))} 404 \\d+ ms$`)));
    // The webhook's POST is shown by its host alone: its path and query are its secret.
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^http: POST 127\\.0\\.0\\.1:${(receiver.address() as AddressInfo).port} \\(path not shown\\) 200 \\d+ ms$`)));
    expect(posts.length).toBeGreaterThan(0);
    // As many lines as the emulator saw ARM requests.
    const arm = await emulator.control.requests({ kind: 'arm' });
    expect(lines.filter((l) => l.includes(vaultId('kv-')))).toHaveLength(arm.filter((q) => q.path.includes('/vaults/kv-')).length);
    expect(r.stderr).not.toMatch(/Bearer|sig=|s3cret|api-version|\?/);
  });

  it('without --verbose, no request lines', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
    const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/^http: /m);
  });
});

describe('"still waiting" after a silence', () => {
  it('names the targets done and the slow write, after the threshold, off a terminal with --progress', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
    await emulator.control.addFault({ kind: 'delay', vault: 'kv-app', method: 'PUT', delayMs: 1_500 });
    await emulator.control.addFault({ kind: 'delay', vault: 'kv-app', method: 'PATCH', delayMs: 1_500 });
    const r = await runCli(['sync', '--config', config, '--json', '--progress'], { cwd: dir, env: { ...env, TAGWALL_PROGRESS_AFTER_MS: '400' } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('vaults');
    expect(r.stderr).toMatch(new RegExp(`^still waiting: no target done yet, Key Vault update on ${escape(vaultId('kv-app'))} running for \\d+ s$`, 'm'));
  });

  it('is not printed in a log unless asked, and never with --quiet, even on a terminal', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
    const slow = () => emulator.control.addFault({ kind: 'delay', vault: 'kv-app', delayMs: 1_200, times: 2 });
    await slow();
    const log = await runCli(['sync', '--config', config, '--dry-run'], { cwd: dir, env: { ...env, TAGWALL_PROGRESS_AFTER_MS: '300' } });
    expect(log.stderr).not.toMatch(/still waiting/);
    // On a terminal (in process, with a stderr that says it is one) it is shown...
    await slow();
    const tty = await inProcess(['sync', '--config', config, '--dry-run'], { TAGWALL_PROGRESS_AFTER_MS: '300' });
    expect(tty.stderr).toMatch(/still waiting: /);
    // ...but not with --quiet.
    await slow();
    const quiet = await inProcess(['sync', '--config', config, '--dry-run', '--quiet'], { TAGWALL_PROGRESS_AFTER_MS: '300' });
    expect([quiet.code, quiet.stdout.slice(0, 2000)]).toEqual([0, '']);
    expect(quiet.stderr).toBe('');
  });
});

describe('sync --quiet', () => {
  it('prints nothing on success, and only each failed target\'s code on failure', async () => {
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }] });
    const ok = await runCli(['sync', '--config', config, '--quiet'], { cwd: dir, env });
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, '', '']);
    const bad = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-gone'), select: ['AzureDevOps'] }] });
    const failed = await runCli(['sync', '--config', bad, '--quiet', '--no-alerts'], { cwd: dir, env });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(new RegExp(`^tagwall: VAULT_NOT_FOUND: ${escape(vaultId('kv-gone'))}: `));
    // The rest are that error's own detail lines; nothing about the target that went well.
    for (const line of failed.stderr.trim().split('\n').slice(1)) expect(line).toMatch(/^ {2}- /);
  });

  it('cannot be combined with --verbose', async () => {
    const r = await runCli(['sync', '--quiet', '--verbose'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/'--quiet' cannot be used with option '--verbose'/);
  });
});

describe('sync --format markdown', () => {
  it('prints a table per target, findings and details for a pull-request comment', async () => {
    await emulator.control.seed({ vaults: [seedVault('kv-closed', { defaultAction: 'Deny', ipRules: [] }, { publicNetworkAccess: 'Disabled' })] });
    const config = await writeConfig({ targets: [{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-closed'), select: ['AzureDevOps'] }] });
    const json = JSON.parse((await runCli(['sync', '--config', config, '--dry-run', '--json'], { cwd: dir, env })).stdout) as { vaults: { vault: string; add: string[] }[] };
    const adds = json.vaults.find((v) => v.vault === vaultId('kv-app'))!.add;
    const r = await runCli(['sync', '--config', config, '--dry-run', '--format', 'markdown'], { cwd: dir, env });
    expect(r.code).toBe(0);
    const md = r.stdout;
    expect(md.split('\n').slice(0, 1)).toEqual(['### tagwall sync (dry run: nothing was written): 2 targets, 1 pending, 1 skipped']);
    expect(md).toContain(
      [
        '| kind | target | outcome | adds | removes | rules used/limit | codes |',
        '| --- | --- | --- | ---: | ---: | ---: | --- |',
        // Rules used: what the plan leaves on the firewall, as the text report's RULES column.
        `| keyvault | \`kv-app\` | pending | ${adds.length} | 0 | ${adds.length}/1000 | - |`,
        `| keyvault | \`kv-closed\` | skipped | 0 | 0 | ${adds.length}/1000 | \`PUBLIC_ACCESS_DISABLED\` |`,
      ].join('\n'),
    );
    expect(md).toContain(`<details><summary><code>kv-app</code>: ${adds.length} add</summary>\n\n\`${vaultId('kv-app')}\`\n\nadd:\n\`\`\`\n${adds.join('\n')}\n\`\`\`\n\n</details>`);
    expect(md).toMatch(/<summary><code>kv-closed<\/code>: skipped<\/summary>[\s\S]*- note `PUBLIC_ACCESS_DISABLED`: /);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The CLI in this process, with a stderr that says it is a terminal. */
async function inProcess(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void, isTTY: boolean) => ({ isTTY, write: (s: string) => (add(String(s)), true) }) as unknown as NodeJS.WritableStream & { isTTY: boolean };
  // DefaultAzureCredential reads the process's environment, not the CLI's `env`.
  const saved = { ...process.env };
  Object.assign(process.env, env, extraEnv);
  try {
    const code = await runInProcess(args, {
      stdout: sink((s) => (stdout += s), false),
      stderr: sink((s) => (stderr += s), true),
      env: { ...process.env },
      cwd: dir,
    });
    return { code, stdout, stderr };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
