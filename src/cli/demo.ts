import { ManagedIdentityCredential } from '@azure/identity';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSync, type Runtime } from '../run/run.js';
import { cliLogger } from './sync.js';
import { writeLine, type CliIO } from './io.js';
import { parseConfig } from '../config/config.js';
import { sampleSeed } from '../emulator/sample.js';
import { startEmulator } from '../emulator/server.js';
import { renderRunText } from '../run/text-report.js';
import type { GenericAlertBody } from '../alerts/format.js';
import type { EmulatorControl } from '../emulator/control-client.js';
import type { RunReport } from '../run/run.js';
import { bundledServiceTagsPath } from '../version.js';
import { runFleetDemo } from './demo-fleet.js';
import { runKindsDemo } from './demo-kinds.js';

/**
 * `npm start` with no configuration: the whole loop on this machine, with no Azure account.
 * The built-in emulator plays Azure (HTTPS, bearer tokens, a managed-identity endpoint, Key
 * Vault and Storage), the bundled real service-tags snapshot plays the weekly file, and a
 * loopback receiver plays the chat webhook. Nothing here is faked inside tagwall: the same
 * code paths run as against real vaults and accounts.
 */

/**
 * AzureConnectors (Logic Apps' managed connectors) lists 503 IPv4 blocks after merging in the
 * bundled file: more than a Storage account's 400 rules. All of LogicApps would not do: at 400
 * rules it admits 1,971,279 extra addresses, which the excess guard (1,048,576) refuses.
 */
const STORAGE_SELECTION = 'AzureConnectors';

interface Received {
  readonly body: Partial<GenericAlertBody>;
}

async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c));
    req.on('end', () => {
      try {
        received.push({ body: JSON.parse(text) as Received['body'] });
      } catch {
        received.push({ body: {} });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function showWebhook(io: CliIO, received: Received[]): void {
  writeLine(io.stdout, `Webhook POSTs received: ${received.length}`);
  for (const { body } of received) {
    writeLine(io.stdout, `  [${body.severity ?? '?'}, ${body.state ?? '?'}] ${body.title ?? ''}`);
    for (const d of body.details ?? []) writeLine(io.stdout, `      ${d}`);
    if (body.action !== undefined) writeLine(io.stdout, `      what tagwall does: ${body.action}`);
  }
  received.length = 0;
}

function name(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

/** The account's rules as the emulator stores them: the count, the bare single addresses, and no /32 or /31. */
async function showStorageLimit(io: CliIO, control: EmulatorControl, id: string, report: RunReport): Promise<void> {
  const json = (await control.resource(id)) as { properties?: { networkAcls?: { ipRules?: { value: string }[] } } } | undefined;
  const rules = (json?.properties?.networkAcls?.ipRules ?? []).map((r) => r.value);
  const v = report.vaults.find((r) => r.vault === id);
  const bare = rules.filter((r) => !r.includes('/'));
  const tiny = rules.filter((r) => /\/3[12]$/.test(r));
  writeLine(io.stdout, `${name(id)}: ${rules.length} of ${v?.rules.limit ?? '?'} rules. ${STORAGE_SELECTION} needs more, so tagwall widened some (${(v?.excessAddresses ?? 0).toLocaleString('en-US')} addresses beyond the source).`);
  writeLine(io.stdout, `Storage refuses /31 and /32: ${bare.length} single addresses are written bare (${bare.slice(0, 3).join(', ')}, ...), and ${tiny.length} rules end in /32 or /31.`);
  writeLine(io.stdout, 'Rules as stored:');
  for (let i = 0; i < rules.length; i += 6) writeLine(io.stdout, `  ${rules.slice(i, i + 6).join(' ')}`);
}

/** The profile's access rules as the emulator stores them: someone else's, untouched, and tagwall's. */
async function showProfile(io: CliIO, control: EmulatorControl, profileId: string): Promise<void> {
  const perimeters = await control.perimeters();
  const rules = perimeters.flatMap((p) => p.accessRules);
  for (const r of rules.filter((x) => x.id.toLowerCase().startsWith(`${profileId.toLowerCase()}/`))) {
    const prefixes = r.properties.addressPrefixes ?? [];
    writeLine(io.stdout, `  ${r.name} (${r.properties.direction}): ${prefixes.length} prefix${prefixes.length === 1 ? '' : 'es'}${prefixes.length <= 3 ? `: ${prefixes.join(', ')}` : ` (${prefixes.slice(0, 3).join(', ')}, ...)`}`);
  }
}

function heading(io: CliIO, text: string): void {
  writeLine(io.stdout);
  writeLine(io.stdout, `== ${text}`);
}

export async function runDemo(io: CliIO): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'tagwall-demo-'));
  const seed = sampleSeed();
  const emulator = await startEmulator({ port: 0, seed, stateDir: join(work, 'emulator') });
  const receiver = await startReceiver();
  // The emulator's identity endpoint speaks the App Service protocol, so the real
  // managed-identity credential gets its token there, as it would in a Function App.
  process.env.IDENTITY_ENDPOINT = emulator.identityEndpoint;
  process.env.IDENTITY_HEADER = emulator.identityHeader;
  try {
    const [office, open] = seed.vaults.map((v) => v.id) as [string, string];
    const account = seed.resources![0]!.id;
    const profile = `${seed.perimeters![0]!.id}/profiles/defaultProfile`;
    const config = parseConfig(
      {
        serviceTags: { source: 'file', path: bundledServiceTagsPath() },
        arm: { endpoint: emulator.url },
        state: { store: 'file', path: join(work, 'state.json') },
        // Named, so the demo's perimeter rule reads tagwall-demo-1 rather than a hash of a temp folder.
        ownerId: 'demo',
        alerts: { webhook: { url: receiver.url, format: 'generic' } },
        targets: [
          { vault: office, select: ['AzureDevOps', 'LogicApps@westeurope'] },
          { vault: open, select: ['LogicApps'] },
          { resource: account, select: [STORAGE_SELECTION] },
          // A perimeter profile covers every resource associated with it, even ones with no IP firewall.
          { resource: profile, select: ['AzureDevOps'] },
        ],
      },
      { baseDir: work, source: 'demo' },
    );
    const runtime: Runtime = { env: {}, logger: cliLogger(io, false), credential: new ManagedIdentityCredential(), armCa: emulator.caCert };
    const patches = async () => (await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH' || r.method === 'PUT').length;

    writeLine(io.stdout, 'tagwall demo: the built-in Azure emulator, the bundled Public service tags (change 373), no Azure account.');
    writeLine(io.stdout, 'The bundled file is from October 2025, so tagwall rightly warns that it is old; in Azure it downloads this week\'s.');
    writeLine(io.stdout, `Emulator: ${emulator.url}; two vaults: ${seed.vaults.map((v) => name(v.id)).join(', ')}; a Storage account: ${name(account)}; a perimeter profile: ${name(profile)} of ${name(seed.perimeters![0]!.id)}.`);

    heading(io, '1. First sync: plan, one guarded write per vault, verify');
    const first = await runSync(config, { dryRun: false, force: false, alerts: 'send' }, runtime);
    writeLine(io.stdout, renderRunText(first.report));
    writeLine(io.stdout, `Writes (PATCH or PUT): ${await patches()}`);
    showWebhook(io, receiver.received);

    heading(io, `The Storage account: at most 400 rules, none a /32 or /31 (${STORAGE_SELECTION})`);
    await showStorageLimit(io, emulator.control, account, first.report);

    heading(io, 'The perimeter profile: tagwall writes only its own access rules (tagwall-<owner>-<n>)');
    await showProfile(io, emulator.control, profile);

    heading(io, '2. Second sync: already in step, so zero writes');
    await emulator.control.clearRequests();
    const second = await runSync(config, { dryRun: false, force: false, alerts: 'send' }, runtime);
    writeLine(io.stdout, renderRunText(second.report));
    writeLine(io.stdout, `Writes (PATCH or PUT) this run: ${await patches()}`);
    showWebhook(io, receiver.received);

    heading(io, '3. Someone removes two of tagwall\'s rules in the portal; the drift check (a dry run) alerts once');
    const vault = await emulator.control.vault(office);
    const rules = (vault?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
    const victims = rules.filter((r) => r !== '145.14.56.23/32').slice(0, 2);
    await emulator.control.seed({
      vaults: [{ ...seed.vaults[0]!, networkAcls: { ...seed.vaults[0]!.networkAcls, ipRules: rules.filter((r) => !victims.includes(r)).map((value) => ({ value })) } }],
    });
    const drift = await runSync(config, { dryRun: true, force: false, alerts: 'send' }, runtime);
    writeLine(io.stdout, renderRunText(drift.report));
    writeLine(io.stdout, '');
    showWebhook(io, receiver.received);
    await runSync(config, { dryRun: true, force: false, alerts: 'send' }, runtime);
    writeLine(io.stdout, `Drift check again: ${receiver.received.length} new webhook POSTs (each problem pages once).`);
    receiver.received.length = 0;

    heading(io, '4. The next scheduled sync restores the rules; the next drift check sends one "resolved"');
    const repair = await runSync(config, { dryRun: false, force: false, alerts: 'send' }, runtime);
    const office1 = repair.report.vaults[0]!;
    writeLine(io.stdout, `${name(office1.vault)}: ${office1.outcome}, restored ${office1.add.join(', ')}`);
    await runSync(config, { dryRun: true, force: false, alerts: 'send' }, runtime);
    showWebhook(io, receiver.received);

    await runFleetDemo(io, emulator, work, runtime);
    await runKindsDemo(io, emulator, work, runtime);

    heading(io, 'Next');
    writeLine(io.stdout, 'Try it on your own firewalls: `az login`, write a config (see README), then `node dist/src/cli/main.js sync --config my.json --dry-run` in this checkout.');
    return 0;
  } finally {
    await receiver.close();
    await emulator.close();
    await rm(work, { recursive: true, force: true });
  }
}
