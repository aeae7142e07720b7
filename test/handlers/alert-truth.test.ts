import { InvocationContext, type Timer } from '@azure/functions';
import type { TokenCredential } from '@azure/core-auth';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkDrift, syncAllowlists } from '../../src/handlers/functions.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { BUNDLED } from '../helpers/cli.js';
import { closeServer, startWebhookReceiver, stateContainer, useFunctionsHost, webhookAlerts } from '../helpers/functions-host.js';
import { FAST_RETRY, seedVault, staticTokenCredential, vaultId } from '../helpers/emulator.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import { runSync } from '../../src/run/run.js';

// Alerts that tell the truth, through the Functions handlers as the host calls them: state in
// Azurite, ARM and the managed identity from the emulator, and a real webhook receiver.
//  - a failed write is resolved only by a run that writes, never by the drift check's dry run;
//  - one missing role over many vaults pages once, naming the count, and resolves once.

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const VAULTS = ['kv-a', 'kv-b', 'kv-c'];

let emulator: Emulator;
let azurite: AzuriteWithQueue;
let receiver: Server;
const posts: { state: string; kind: string; title: string; details: string[]; action: string; vault: string }[] = [];
const env = useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  () => ({ TAGWALL_ALERT_WEBHOOK_URL: undefined }),
);

function context(name: string): InvocationContext {
  return new InvocationContext({ functionName: name, invocationId: `test-${name}`, logHandler: () => undefined });
}

function configure(vaults: readonly string[]): void {
  env.set({
    TAGWALL_CONFIG: JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: emulator.url },
      alerts: webhookAlerts(receiver),
      targets: vaults.map((v) => ({ vault: vaultId(v), select: ['AzureDevOps'] })),
    }),
  });
}

/** Azure's answer to a PATCH by an identity without write rights (read rights it has). */
async function forbidWrites(vaults: readonly string[]): Promise<void> {
  for (const vault of vaults) {
    await emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault, status: 403, code: 'AuthorizationFailed', message: 'The client does not have authorization to perform action Microsoft.KeyVault/vaults/write.', times: 'always' });
  }
}

async function sync(): Promise<void> {
  // A failed vault fails the invocation; the alerts went out before that.
  await syncAllowlists(timer, context('syncAllowlists')).catch(() => undefined);
}

function taken(): typeof posts {
  return posts.splice(0, posts.length);
}

beforeAll(async () => {
  receiver = await startWebhookReceiver((text) => {
    posts.push(JSON.parse(text) as (typeof posts)[number]);
    return 204;
  });
});

afterAll(async () => {
  await closeServer(receiver);
});

beforeEach(async () => {
  posts.length = 0;
  await emulator.control.reset({ vaults: VAULTS.map((v) => seedVault(v, { defaultAction: 'Deny', ipRules: [] })) });
  await stateContainer(azurite).deleteIfExists();
});

describe('a failed write', () => {
  it('is not resolved by the drift check (a dry run), only by the sync that writes again', async () => {
    configure(['kv-a']);
    await forbidWrites(['kv-a']);
    await sync();
    expect(taken().map((p) => [p.state, p.kind, p.title])).toEqual([['firing', 'vault-failed', 'kv-a: VAULT_FORBIDDEN']]);

    // The drift check reads the vault fine (the GET is allowed), and the 403 on writing still stands.
    await checkDrift(timer, context('checkDrift'));
    await checkDrift(timer, context('checkDrift'));
    expect(taken()).toEqual([]);
    expect((await emulator.control.requests({ kind: 'arm', vault: 'kv-a' })).filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([403]);

    // The role is granted: the next sync writes, and that resolves it, once.
    await emulator.control.clearFaults();
    await sync();
    expect(taken().map((p) => [p.state, p.kind, p.title])).toEqual([['resolved', 'vault-failed', 'kv-a: VAULT_FORBIDDEN']]);
    await sync();
    await checkDrift(timer, context('checkDrift'));
    expect(taken()).toEqual([]);
  });

  it('says what a person must do, not that it retries', async () => {
    configure(['kv-a']);
    await forbidWrites(['kv-a']);
    await sync();
    const [firing] = taken();
    expect(firing!.action).toMatch(/^Grant the identity/);
    expect(firing!.action).not.toMatch(/Retries/);
  });
});

describe('one root cause', () => {
  it('pages once for three vaults refused with 403, naming the count, and resolves once', async () => {
    configure(VAULTS);
    await forbidWrites(VAULTS);
    await sync();
    const firing = taken();
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({ state: 'firing', kind: 'vault-failed', title: 'VAULT_FORBIDDEN on 3 targets: kv-a, kv-b, kv-c' });
    expect(firing[0]!.details.map((d) => d.slice(0, d.indexOf(':', d.indexOf('/vaults/'))))).toEqual(VAULTS.map((v) => vaultId(v)));

    // Still there on the next sync: remembered per vault, nothing new to say.
    await sync();
    await checkDrift(timer, context('checkDrift'));
    expect(taken()).toEqual([]);

    await emulator.control.clearFaults();
    await sync();
    const resolved = taken();
    expect(resolved.map((p) => [p.state, p.title])).toEqual([['resolved', 'VAULT_FORBIDDEN on 3 targets: kv-a, kv-b, kv-c']]);
  });

  it('pages once, run-wide, when no credential gets a token, naming the count; and resolves when one does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-cred-'));
    const port = (receiver.address() as AddressInfo).port;
    const config = parseConfig(
      {
        serviceTags: { source: 'file', path: BUNDLED },
        arm: { endpoint: emulator.url },
        state: { store: 'file', path: join(dir, 'state.json') },
        alerts: { webhook: { url: `http://127.0.0.1:${port}/hook`, format: 'generic', attempts: 1, timeoutMs: 2000 } },
        targets: VAULTS.map((v) => ({ vault: vaultId(v), select: ['AzureDevOps'] })),
      },
      { baseDir: dir, source: 'test' },
    );
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const none = {
      getToken: async () => {
        throw Object.assign(new Error('EnvironmentCredential is unavailable. ManagedIdentityCredential: no managed identity endpoint.'), { name: 'CredentialUnavailableError' });
      },
    };
    const run = (credential: TokenCredential) =>
      runSync(config, { dryRun: false, force: false, alerts: 'send' }, { env: {}, logger: quiet, credential, armCa: emulator.caCert, armRetry: FAST_RETRY });
    const failed = await run(none);
    expect(failed.report.vaults.map((v) => v.outcome)).toEqual(['failed', 'failed', 'failed']);
    const firing = taken();
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({ state: 'firing', kind: 'vault-failed', vault: '_run', title: expect.stringMatching(/VAULT_CREDENTIAL_UNAVAILABLE.*: 3 targets were not read$/) });
    expect(firing[0]!.action).toMatch(/managed identity/);

    await run(none);
    expect(taken()).toEqual([]);
    await run(staticTokenCredential());
    expect(taken().map((p) => [p.state, p.vault, p.title])).toEqual([['resolved', '_run', firing[0]!.title]]);
  });
});
