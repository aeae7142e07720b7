import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.js';
import { runEmulatorCommand } from '../../src/emulator/command.js';
import type { Emulator } from '../../src/emulator/server.js';
import { seedVault } from '../helpers/emulator.js';

/**
 * `tagwall emulator` end to end: start it as the CLI would, then follow the hints it
 * prints in a separate Node process, which trusts the CA only through NODE_EXTRA_CA_CERTS
 * and authenticates only through IDENTITY_ENDPOINT / IDENTITY_HEADER.
 */

const run = promisify(execFile);
const COSMOS = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tagwall-test/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-cmd';

let dir: string;
let output = '';
let emulator: Emulator;
let stop: AbortController;
let finished: Promise<void>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cmd-'));
  const seedFile = join(dir, 'seed.json');
  await writeFile(seedFile, JSON.stringify({ vaults: [seedVault('kv-cmd', { defaultAction: 'Deny', ipRules: [{ value: '20.1.0.0/16' }] })], resources: [{ id: COSMOS, properties: { ipRules: [] } }] }));
  const stdout = new PassThrough();
  stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const io: CliIO = { stdout, stderr: new PassThrough(), env: {}, cwd: dir };
  stop = new AbortController();
  const ready = new Promise<Emulator>((resolve, reject) => {
    finished = runEmulatorCommand({ port: 0, seed: 'seed.json', signal: stop.signal, onReady: resolve }, io);
    finished.catch(reject);
  });
  emulator = await ready;
});

afterAll(async () => {
  stop?.abort();
  await finished;
  await rm(dir, { recursive: true, force: true });
});

function hint(name: string): string {
  const m = new RegExp(`export ${name}=(\\S+)`).exec(output);
  if (m === null) throw new Error(`no ${name} hint in:\n${output}`);
  return m[1]!;
}

describe('tagwall emulator', () => {
  it('names the CLI by its built path, never through npx (which resolves the name from the npm registry)', () => {
    expect(output).toMatch(/^Then run this checkout's tagwall: node \/\S+\/cli\/main\.js sync --dry-run$/m);
    expect(output).not.toMatch(/\bnpx\b/);
  });

  it('says in one line that it serves every kind, not only Key Vault, and lists every seeded firewall', () => {
    const [banner] = output.split('\n');
    expect(banner).toBe(`Azure emulator (ARM for every firewall kind tagwall writes, perimeters, Resource Graph, managed identity) listening on ${emulator.url}`);
    expect(output).not.toMatch(/Key Vault emulator/);
    expect(output).toMatch(/^Firewalls \(2\):$/m);
    expect(output).toContain(`\n  ${COSMOS}\n`);
  });

  it('prints the URL, the CA path under .tagwall/emulator, the seeded vaults and the environment hints', () => {
    expect(output).toContain(`listening on ${emulator.url}`);
    expect(output).toContain(`CA certificate: ${join(dir, '.tagwall', 'emulator', 'ca.pem')}`);
    expect(output).toContain('/providers/Microsoft.KeyVault/vaults/kv-cmd');
    expect(hint('NODE_EXTRA_CA_CERTS')).toBe(join(dir, '.tagwall', 'emulator', 'ca.pem'));
    expect(hint('IDENTITY_ENDPOINT')).toBe(emulator.identityEndpoint);
    expect(hint('IDENTITY_HEADER')).toBe(emulator.identityHeader);
    expect(output).toContain(`"arm": { "endpoint": "${emulator.url}" }`);
  });

  it('serves a separate process that follows the hints: NODE_EXTRA_CA_CERTS, managed identity, the real SDK', async () => {
    const script = `
      import { KeyVaultManagementClient } from '@azure/arm-keyvault';
      import { DefaultAzureCredential } from '@azure/identity';
      const endpoint = process.argv[1];
      const client = new KeyVaultManagementClient(new DefaultAzureCredential(), '00000000-0000-0000-0000-000000000000', {
        endpoint, credentials: { scopes: [endpoint + '/.default'] },
      });
      const vault = await client.vaults.get('rg-tagwall-test', 'kv-cmd');
      console.log(JSON.stringify(vault.properties.networkAcls));
    `;
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: dir };
    env['NODE_EXTRA_CA_CERTS'] = hint('NODE_EXTRA_CA_CERTS');
    env['IDENTITY_ENDPOINT'] = hint('IDENTITY_ENDPOINT');
    env['IDENTITY_HEADER'] = hint('IDENTITY_HEADER');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, emulator.url], { cwd: process.cwd(), env, timeout: 30_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ bypass: 'AzureServices', defaultAction: 'Deny', ipRules: [{ value: '20.1.0.0/16' }], virtualNetworkRules: [] });
    const identity = await emulator.control.requests({ kind: 'identity' });
    const [arm] = await emulator.control.requests({ vault: 'kv-cmd' });
    expect(identity.map((r) => r.issuedToken)).toContain(arm?.token);
  });

  it('writes an env file that a shell can source, so the plain app settings reach the emulator', async () => {
    const envFile = join(dir, '.tagwall', 'emulator', 'env');
    expect(output).toContain(`source ${envFile}`);
    const bundled = join(process.cwd(), 'src', 'data', 'ServiceTags_Public_20251013.json.gz');
    const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const vault = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tagwall-test/providers/Microsoft.KeyVault/vaults/kv-cmd';
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: dir, TAGWALL_VAULTS: vault, TAGWALL_SELECT: 'AzureDevOps', TAGWALL_SERVICE_TAGS: bundled };
    const { stdout } = await run('bash', ['-c', `source "$1" && exec "$2" "$3" sync --dry-run --json --no-alerts`, 'sh', envFile, process.execPath, cli], { cwd: dir, env, timeout: 60_000 });
    const report = JSON.parse(stdout) as { vaults: { vault: string; outcome: string; unmanaged: string[] }[] };
    expect(report.vaults).toEqual([expect.objectContaining({ vault, outcome: 'pending', unmanaged: ['20.1.0.0/16'] })]);
  });

  it('stops when told to', async () => {
    stop.abort();
    await finished;
    expect(output).toMatch(/^Emulator stopped\.$/m);
  });
});
