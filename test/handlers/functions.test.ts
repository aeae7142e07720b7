import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueueServiceClient } from '@azure/storage-queue';
import { checkDrift, manualSync, planAllowlists, syncAllowlists } from '../../src/handlers/functions.js';
import { reconcileShard, runStatus } from '../../src/handlers/fleet.js';
import { SHARD_QUEUE } from '../../src/fleet/queue.js';
import type { Emulator } from '../../src/emulator/server.js';
import { objectOnlySasConnectionString, type AzuriteWithQueue } from '../helpers/azurite.js';
import { BUNDLED } from '../helpers/cli.js';
import { closeServer, startWebhookReceiver, stateContainer, useFunctionsHost, webhookAlerts } from '../helpers/functions-host.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// The handlers as the Functions host calls them: real InvocationContext and HttpRequest objects,
// configuration from app settings, state in Azurite, the managed identity and ARM from the emulator
// (trusted through NODE_EXTRA_CA_CERTS, as a user would), and a real webhook receiver.

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const OFFICE = '81.2.69.142';

let emulator: Emulator;
let azurite: AzuriteWithQueue;
let receiver: Server;
let receiverStatus = 204;
const posts: { state: string; kind: string; title: string; unreported?: boolean; rules?: string[] }[] = [];
const env = useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  () => ({ TAGWALL_ALERT_WEBHOOK_URL: undefined }),
);
const logs: string[] = [];

function context(name: string): InvocationContext {
  return new InvocationContext({ functionName: name, invocationId: `test-${name}`, logHandler: (_level, ...args) => void logs.push(args.map(String).join(' ')) });
}

function configure(extra: Record<string, unknown> = {}): void {
  env.set({
    TAGWALL_CONFIG: JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: emulator.url },
      alerts: webhookAlerts(receiver),
      targets: [
        { vault: vaultId('kv-app'), select: ['AzureDevOps'] },
        { vault: vaultId('kv-open'), select: ['AzureDevOps'] },
      ],
      ...extra,
    }),
  });
}

/** A sync (its alerts cleared), then one rule it owns removed from kv-app outside tagwall; the rule removed. */
async function syncThenRemoveOneOwnedRule(): Promise<string> {
  await syncAllowlists(timer, context('syncAllowlists'));
  posts.length = 0;
  const vault = await emulator.control.vault('kv-app');
  const rules = vault!.properties.networkAcls!.ipRules.map((r) => r.value);
  const victim = rules.find((r) => r !== `${OFFICE}/32`)!;
  await emulator.control.seed({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: rules.filter((r) => r !== victim).map((value) => ({ value })) })] });
  return victim;
}

async function armCalls(method?: string): Promise<number> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((r) => method === undefined || r.method === method).length;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver((text) => {
    if (receiverStatus < 300) posts.push(JSON.parse(text) as (typeof posts)[number]);
    return receiverStatus;
  });
});

afterAll(async () => {
  await closeServer(receiver);
});

beforeEach(async () => {
  posts.length = 0;
  logs.length = 0;
  receiverStatus = 204;
  await emulator.control.reset({
    vaults: [seedVault('kv-app', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: OFFICE }] }), seedVault('kv-open', { defaultAction: 'Deny', ipRules: [] })],
  });
  // A fresh container per test: state from one test must not leak into the next.
  await stateContainer(azurite).deleteIfExists();
  configure();
});

describe('planAllowlists (GET /api/plan)', () => {
  it('returns the dry-run report and never writes', async () => {
    const res = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan' }), context('planAllowlists'));
    expect(res.status).toBe(200);
    const body = res.jsonBody as { dryRun: boolean; vaults: { vault: string; outcome: string; add: string[] }[] };
    expect(body.dryRun).toBe(true);
    expect(body.vaults.map((v) => v.outcome)).toEqual(['pending', 'pending']);
    expect(body.vaults[0]!.add.length).toBeGreaterThan(0);
    expect(await armCalls('PATCH')).toBe(0);
    expect(posts).toEqual([]);
  });

  it('narrows to one vault, answers text, and refuses a bad vault parameter with 400', async () => {
    const one = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan', query: { vault: vaultId('kv-open') } }), context('planAllowlists'));
    expect((one.jsonBody as { vaults: { vault: string }[] }).vaults.map((v) => v.vault)).toEqual([vaultId('kv-open')]);
    const text = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan', query: { format: 'text' } }), context('planAllowlists'));
    expect(text.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8' });
    expect(String(text.body)).toMatch(/^TARGET\s+OUTCOME/m);
    const bad = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan', query: { vault: 'kv-app' } }), context('planAllowlists'));
    expect(bad.status).toBe(400);
    const unknown = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan', query: { vault: vaultId('kv-nope') } }), context('planAllowlists'));
    expect(unknown.status).toBe(400);
    expect(await armCalls('PATCH')).toBe(0);
  });

  it('answers a bad configuration with 500 and the list of problems', async () => {
    configure({ targets: [{ vault: 'not-a-vault', select: [] }] });
    const res = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan' }), context('planAllowlists'));
    expect(res.status).toBe(500);
    const err = (res.jsonBody as { error: { code: string; problems: string[] } }).error;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^targets\[0\]\.select/), expect.stringMatching(/^targets\[0\]\.vault/)]));
    expect(await armCalls()).toBe(0);
  });
});

describe('syncAllowlists (timer)', () => {
  it('applies, keeps the hand-made rule, logs a line per vault and records state in blob storage', async () => {
    await syncAllowlists(timer, context('syncAllowlists'));
    expect(await armCalls('PATCH')).toBe(2);
    const rules = (await emulator.control.vault('kv-app'))?.properties.networkAcls?.ipRules.map((r) => r.value) ?? [];
    expect(rules).toContain(`${OFFICE}/32`);
    expect(rules.length).toBeGreaterThan(1);
    expect(logs.filter((l) => l.startsWith('tagwall.vault '))).toHaveLength(2);
    expect(logs.some((l) => l.startsWith('tagwall.run apply'))).toBe(true);
    const blobs: string[] = [];
    for await (const b of BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tagwall').listBlobsFlat()) blobs.push(b.name);
    expect(blobs).toEqual(expect.arrayContaining([expect.stringMatching(/^vaults\/.*kv-app\.json$/), expect.stringMatching(/^vaults\/.*kv-open\.json$/)]));
  });

  it('fails the invocation when a vault failed, after syncing the others', async () => {
    configure({ targets: [{ vault: vaultId('kv-missing'), select: ['AzureDevOps'] }, { vault: vaultId('kv-open'), select: ['AzureDevOps'] }] });
    await expect(syncAllowlists(timer, context('syncAllowlists'))).rejects.toThrow(/1 of 2 targets failed or were refused: .*kv-missing/);
    expect((await emulator.control.requests({ kind: 'arm', vault: 'kv-open' })).some((r) => r.method === 'PATCH')).toBe(true);
  });

  it('refuses file state before any request: an instance\'s disk is not shared between instances or runs', async () => {
    configure({ state: { store: 'file', path: '.tagwall/state.json' } });
    await emulator.control.clearRequests();
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tagwall');
    await expect(syncAllowlists(timer, context('syncAllowlists'))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/per-instance disk is not shared between instances or runs; use blob state/),
    });
    expect(logs.some((l) => l.includes('tagwall configuration is invalid') && l.includes('use blob state'))).toBe(true);
    await expect(checkDrift(timer, context('checkDrift'))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const res = await planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan' }), context('planAllowlists'));
    expect(res.status).toBe(500);
    const err = (res.jsonBody as { error: { code: string; problems: string[] } }).error;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems).toEqual([expect.stringMatching(/^state\.store: "file" .* use \{"store": "blob"\}/)]);
    const manual = await manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: '{"apply": true}' } }), context('manualSync'));
    expect(manual.status).toBe(500);
    expect(await armCalls()).toBe(0);
    expect(await emulator.control.requests({ kind: 'identity' })).toEqual([]);
    expect(await blob.exists()).toBe(false);
    expect(posts).toEqual([]);
  });

  it('fails the first invocation with the problem list when the configuration is bad, without touching any vault', async () => {
    configure({ guards: { maxRemovedFraction: 7 } });
    await expect(syncAllowlists(timer, context('syncAllowlists'))).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: [expect.stringMatching(/^guards\.maxRemovedFraction/)] });
    expect(logs.some((l) => l.includes('tagwall configuration is invalid') && l.includes('guards.maxRemovedFraction'))).toBe(true);
    expect(await armCalls()).toBe(0);
  });

  it('fails before any vault request when the state container is missing and may not be created', async () => {
    env.set({ AzureWebJobsStorage: objectOnlySasConnectionString(azurite) });
    try {
      await emulator.control.clearRequests();
      await expect(syncAllowlists(timer, context('syncAllowlists'))).rejects.toMatchObject({
        code: 'STATE_CONTAINER_MISSING',
        message: expect.stringMatching(/^blob container tagwall in storage account devstoreaccount1 .* does not exist, and this identity may not create it/),
      });
      expect(await armCalls()).toBe(0);
      expect(posts).toEqual([]);
      // Once someone creates it, the same identity syncs and records state in it.
      await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tagwall').create();
      await syncAllowlists(timer, context('syncAllowlists'));
      expect(await armCalls('PATCH')).toBe(2);
    } finally {
      env.set({ AzureWebJobsStorage: azurite.connectionString });
    }
  });

  it('a failing webhook does not fail the sync', async () => {
    receiverStatus = 500;
    await emulator.control.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Allow', ipRules: [] }), seedVault('kv-open', { defaultAction: 'Deny', ipRules: [] })] });
    await expect(syncAllowlists(timer, context('syncAllowlists'))).resolves.toBeUndefined();
    expect(await armCalls('PATCH')).toBe(2);
    expect(logs.some((l) => /webhook/i.test(l))).toBe(true);
  });
});

describe('checkDrift (timer)', () => {
  it('alerts once per drift, never writes, and sends one "resolved" when it clears', async () => {
    await syncThenRemoveOneOwnedRule();
    await emulator.control.clearRequests();

    await checkDrift(timer, context('checkDrift'));
    expect(posts.map((p) => [p.state, p.kind])).toEqual([['firing', 'drift']]);
    expect(posts[0]!.title).toMatch(/1 owned rule was removed from kv-app outside tagwall/);
    await checkDrift(timer, context('checkDrift'));
    expect(posts).toHaveLength(1);
    expect(await armCalls('PATCH')).toBe(0);

    await syncAllowlists(timer, context('syncAllowlists'));
    await checkDrift(timer, context('checkDrift'));
    expect(posts.map((p) => p.state)).toEqual(['firing', 'resolved']);
  });
});

describe('an alert the webhook could not take', () => {
  it('is reported by the next run although the sync that found the drift also repaired it', async () => {
    const victim = await syncThenRemoveOneOwnedRule();

    // The scheduled sync finds the drift and restores the rule, while the webhook is down.
    receiverStatus = 503;
    await syncAllowlists(timer, context('syncAllowlists'));
    expect((await emulator.control.vault('kv-app'))!.properties.networkAcls!.ipRules.map((r) => r.value)).toContain(victim);
    expect(posts).toEqual([]);

    // The drift check finds nothing wrong any more, and tells what happened, once.
    receiverStatus = 204;
    await checkDrift(timer, context('checkDrift'));
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ state: 'resolved', kind: 'drift', unreported: true, rules: [victim] });
    const told = posts[0] as unknown as { firstSeen: string; clearedAt: string; title: string };
    expect(Date.parse(told.firstSeen)).toBeLessThanOrEqual(Date.parse(told.clearedAt));
    expect(told.title).toMatch(/1 owned rule was removed from kv-app outside tagwall/);
    await checkDrift(timer, context('checkDrift'));
    await syncAllowlists(timer, context('syncAllowlists'));
    expect(posts).toHaveLength(1);
  });
});

describe('manualSync (POST /api/sync)', () => {
  it('is a dry run without an explicit {"apply": true}', async () => {
    const res = await manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: '' } }), context('manualSync'));
    expect(res.status).toBe(200);
    expect((res.jsonBody as { dryRun: boolean }).dryRun).toBe(true);
    expect(await armCalls('PATCH')).toBe(0);
    const notBool = await manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: '{"apply": "yes"}' } }), context('manualSync'));
    expect(notBool.status).toBe(400);
    expect(await armCalls('PATCH')).toBe(0);
  });

  it('applies with {"apply": true} through the queue: 202 at once, the writes when the worker takes the shard', async () => {
    const res = await manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: '{"apply": true}' } }), context('manualSync'));
    expect(res.status).toBe(202);
    const body = res.jsonBody as { runId: string; status: string; shards: number; vaults: number };
    expect(body).toMatchObject({ shards: 1, vaults: 2, status: `/api/runs/${body.runId}` });
    // Nothing is written inside the request.
    expect(await armCalls('PATCH')).toBe(0);
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(SHARD_QUEUE);
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(receivedMessageItems).toHaveLength(1);
    // As the host hands it over: base64 decoded to the JSON body.
    await reconcileShard(JSON.parse(Buffer.from(receivedMessageItems[0]!.messageText, 'base64').toString('utf8')), context('reconcileShard'));
    expect(await armCalls('PATCH')).toBe(2);
    const status = await runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${body.runId}`, params: { runId: body.runId } }), context('runStatus'));
    expect(status.status).toBe(200);
    expect(status.jsonBody).toMatchObject({ runId: body.runId, complete: true, shards: { total: 1, done: 1 }, vaults: { byOutcome: { applied: 2 } } });
  });
});
