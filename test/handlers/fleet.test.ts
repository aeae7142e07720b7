import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { QueueServiceClient } from '@azure/storage-queue';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TagwallConfig } from '../../src/config/config.js';
import { TagwallError } from '../../src/core/errors.js';
import type { ShardMessage } from '../../src/fleet/model.js';
import { parseShardMessage, SHARD_QUEUE } from '../../src/fleet/queue.js';
import type { runShard, startFleetRun } from '../../src/run/shards.js';
import { fleetHandlers } from '../../src/handlers/fleet.js';
import type { RunReport } from '../../src/run/run.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { RunRepository, type RunStatus } from '../../src/state/runs.js';
import { startAzurite, type AzuriteWithQueue } from '../helpers/azurite.js';
import { BUNDLED } from '../helpers/cli.js';
import { closeServer, EnvOverrides, shardQueue, startWebhookReceiver, stateContainer } from '../helpers/functions-host.js';
import { vaultId } from '../helpers/emulator.js';
import type { TargetReport } from '../../src/core/report.js';
import type { RunManifest, ShardResult } from '../../src/state/run-records.js';

// The fleet handlers as the host calls them (real InvocationContext and HttpRequest objects,
// configuration from app settings, run records and the shard queue in Azurite, a real webhook
// receiver), with the run itself (runShard, startFleetRun) replaced by fakes that do what the
// contract says and record how they were called.

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
const DOC = 'c'.repeat(64);

let azurite: AzuriteWithQueue;
let receiver: Server;
const posts: { state: string; kind: string; title: string; details?: string[] }[] = [];
const logs: { level: string; line: string }[] = [];
const env = new EnvOverrides();

type RunShard = typeof runShard;
type StartFleetRun = typeof startFleetRun;
const shardCalls: ShardMessage[] = [];
const startCalls: Parameters<StartFleetRun>[1][] = [];
/** What the fake runShard reports for a vault, by its name. */
let outcomeOf: (vault: string) => string = () => 'applied';
let runShardFails: Error | undefined;
let inlineVaults: TargetReport[] = [];
/** Off: the fake decides to do everything inline and sends nothing. */
let enqueue = true;

const fakeRunShard: RunShard = async (_config, message) => {
  shardCalls.push(message);
  if (runShardFails !== undefined) throw runShardFails;
  return {
    version: 1,
    runId: message.runId,
    shard: message.shard,
    finishedAt: new Date().toISOString(),
    state: 'done',
    vaults: message.targets.map((t) => {
      const outcome = outcomeOf(t.id.split('/').pop()!);
      return { vault: t.id, outcome, add: outcome === 'applied' ? 2 : 0, remove: 0, ...(outcome === 'failed' ? { error: { code: 'VAULT_FORBIDDEN', message: 'no role' } } : {}) };
    }),
  };
};

/** Enqueues one shard per configured target through the sink it is given, as the real one would. */
const fakeStartFleetRun: StartFleetRun = async (config, options, _runtime, deps) => {
  startCalls.push(options);
  const runId = randomUUID();
  const targets = (options.vaults ?? config.targets.map((t) => t.resource.id)).map((id) => ({ id }));
  const messages: ShardMessage[] = (enqueue ? targets : []).map((t, shard) => ({ version: 1, runId, document: DOC, shard, targets: [t], ...(options.force ? { force: true } : {}) }));
  const manifest = manifestOf(runId, messages.length);
  await deps.runs!.saveManifest(manifest);
  if (messages.length > 0) await deps.sink!.send(messages);
  const report: RunReport = { dryRun: options.dryRun, serviceTags: { cloud: 'Public', changeNumber: 412, warnings: [] }, vaults: inlineVaults };
  return { runId, report, manifest, enqueued: { shards: messages.length, vaults: messages.length } };
};

const handlers = fleetHandlers({ runShard: fakeRunShard, startFleetRun: fakeStartFleetRun });

function manifestOf(runId: string, shards: number): RunManifest {
  return { version: 1, runId, startedAt: new Date().toISOString(), dryRun: false, document: DOC, changeNumber: 412, shards, discovered: shards, explicit: 0, inline: { 'in-sync': 7 }, findings: [] };
}

function context(name: string): InvocationContext {
  return new InvocationContext({ functionName: name, invocationId: `test-${name}`, logHandler: (level, ...args) => void logs.push({ level, line: String(args[0]) }) });
}

const runs = (): RunRepository => new RunRepository(BlobStore.fromConnectionString(azurite.connectionString, 'tagwall'));
const lines = (prefix: string): string[] => logs.map((l) => l.line).filter((l) => l.startsWith(prefix));

/** A run of `n` one-vault shards, its manifest stored as startFleetRun would have. */
async function seededRun(n: number): Promise<{ runId: string; messages: ShardMessage[] }> {
  const runId = randomUUID();
  await runs().saveManifest(manifestOf(runId, n));
  const messages = Array.from({ length: n }, (_, shard): ShardMessage => ({ version: 1, runId, document: DOC, shard, targets: [{ id: vaultId(`kv-${shard}`), profile: 'default' }] }));
  return { runId, messages };
}

beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
  receiver = await startWebhookReceiver((text) => {
    posts.push(JSON.parse(text) as (typeof posts)[number]);
    return 204;
  });
  env.set({
    AzureWebJobsStorage: azurite.connectionString,
    TAGWALL_CONFIG: JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      alerts: { webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, format: 'generic', attempts: 1, timeoutMs: 2000 } },
      targets: [
        { vault: vaultId('kv-app'), select: ['AzureDevOps'] },
        { vault: vaultId('kv-open'), select: ['AzureDevOps'] },
      ],
    }),
    TAGWALL_VAULTS: undefined,
    TAGWALL_SELECT: undefined,
    TAGWALL_CONFIG_PATH: undefined,
    TAGWALL_ALERT_WEBHOOK_URL: undefined,
  });
});

afterAll(async () => {
  env.restore();
  await closeServer(receiver);
  await azurite?.stop();
});

beforeEach(async () => {
  posts.length = 0;
  logs.length = 0;
  shardCalls.length = 0;
  startCalls.length = 0;
  outcomeOf = () => 'applied';
  runShardFails = undefined;
  inlineVaults = [];
  enqueue = true;
  // Fresh state and an empty queue per test: nothing leaks from one test into the next.
  await stateContainer(azurite).deleteIfExists();
  await shardQueue(azurite).deleteIfExists();
});

describe('reconcileShard (queue tagwall-shards)', () => {
  it('saves each result, and logs one summary line when the last shard lands', async () => {
    const { runId, messages } = await seededRun(2);
    outcomeOf = (name) => (name === 'kv-1' ? 'in-sync' : 'applied');
    await handlers.reconcileShard(messages[0], context('reconcileShard'));
    expect(lines('tagwall.run ')).toEqual([]);
    // The host hands over the decoded body; as text it is parsed the same way.
    await handlers.reconcileShard(JSON.stringify(messages[1]), context('reconcileShard'));
    expect(lines('tagwall.run ')).toEqual([`tagwall.run ${runId} complete shards=2 applied=1 in-sync=8`]);
    expect(lines('tagwall.shard ')).toHaveLength(2);
    expect(await runs().status(runId)).toMatchObject({ complete: true, shards: { done: 2, pending: 0 }, vaults: { total: 9 } });

    // A redelivery of a finished shard does no work again and closes nothing twice.
    await handlers.reconcileShard(messages[1], context('reconcileShard'));
    expect(shardCalls).toHaveLength(2);
    expect(lines('tagwall.run ')).toHaveLength(1);
    expect((await runs().status(runId)).vaults.total).toBe(9);
  });

  it('two last shards finishing at once log exactly one summary line', async () => {
    const { runId, messages } = await seededRun(2);
    await Promise.all(messages.map((m) => handlers.reconcileShard(m, context('reconcileShard'))));
    expect(lines('tagwall.run ')).toEqual([`tagwall.run ${runId} complete shards=2 applied=2 in-sync=7`]);
  });

  it('a vault that failed is in the result, not thrown; the summary is a warning then', async () => {
    const { runId, messages } = await seededRun(1);
    outcomeOf = () => 'failed';
    await expect(handlers.reconcileShard(messages[0], context('reconcileShard'))).resolves.toBeUndefined();
    const status = await runs().status(runId);
    expect(status.failures).toEqual([expect.objectContaining({ outcome: 'failed', error: { code: 'VAULT_FORBIDDEN', message: 'no role' } })]);
    expect(logs.filter((l) => l.line.startsWith('tagwall.run ')).map((l) => l.level)).toEqual(['warning']);
  });

  it('throws, so the host retries, when the shard could not run at all or the message is not a shard', async () => {
    const { runId, messages } = await seededRun(1);
    runShardFails = new TagwallError('SERVICE_TAGS_UNAVAILABLE', 'the run\'s service-tags document is missing');
    await expect(handlers.reconcileShard(messages[0], context('reconcileShard'))).rejects.toMatchObject({ code: 'SERVICE_TAGS_UNAVAILABLE' });
    expect((await runs().status(runId)).shards).toMatchObject({ done: 0, pending: 1 });

    shardCalls.length = 0;
    await expect(handlers.reconcileShard({ ...messages[0], runId: 'x' }, context('reconcileShard'))).rejects.toMatchObject({ code: 'SHARD_MESSAGE_INVALID' });
    expect(logs.some((l) => l.level === 'error' && l.line.startsWith('tagwall.shard message refused') && l.line.includes('runId'))).toBe(true);
    expect(shardCalls).toEqual([]);
  });

  it('throws before any work when the state store is down', async () => {
    const { messages } = await seededRun(1);
    const down = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    env.set({ AzureWebJobsStorage: azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${down}/devstoreaccount1`) });
    try {
      await expect(handlers.reconcileShard(messages[0], context('reconcileShard'))).rejects.toMatchObject({ code: 'STATE_UNAVAILABLE' });
    } finally {
      env.set({ AzureWebJobsStorage: azurite.connectionString });
    }
    expect(shardCalls).toEqual([]);
  });
});

describe('reconcileShardPoison (queue tagwall-shards-poison)', () => {
  it('records the shard as failed with SHARD_FAILED, pages once, and closes the run', async () => {
    const { runId, messages } = await seededRun(2);
    await handlers.reconcileShard(messages[0], context('reconcileShard'));
    await handlers.reconcileShardPoison(messages[1], context('reconcileShardPoison'));

    const result = (await runs().loadShardResult(runId, 1)) as ShardResult;
    expect(result.state).toBe('poisoned');
    expect(result.vaults).toEqual([expect.objectContaining({ vault: vaultId('kv-1'), outcome: 'failed', error: expect.objectContaining({ code: 'SHARD_FAILED' }) })]);
    const alerts = lines('tagwall.alert ').map((l) => JSON.parse(l.slice('tagwall.alert '.length)) as { kind: string; severity: string; details: string[]; title: string });
    expect(alerts).toEqual([expect.objectContaining({ kind: 'shard-failed', severity: 'critical', details: [`not reconciled: ${vaultId('kv-1')}`] })]);
    expect(alerts[0]!.title).toContain(`shard 1 of run ${runId}`);
    expect(posts.map((p) => [p.state, p.kind])).toEqual([['firing', 'shard-failed']]);
    expect(lines('tagwall.run ')).toEqual([`tagwall.run ${runId} complete shards=2 applied=1 failed=1 in-sync=7`]);
    const status = (await handlers.runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${runId}`, params: { runId } }), context('runStatus'))).jsonBody as RunStatus;
    expect(status.shards).toEqual({ total: 2, done: 1, poisoned: 1, notSent: 0, pending: 0 });

    // The same poison message again: the shard stays recorded once, and nobody is paged twice.
    await handlers.reconcileShardPoison(messages[1], context('reconcileShardPoison'));
    expect(posts).toHaveLength(1);
    expect(lines('tagwall.run ')).toHaveLength(1);
  });

  it('leaves a shard that finished alone, and pages nobody', async () => {
    const { runId, messages } = await seededRun(1);
    await handlers.reconcileShard(messages[0], context('reconcileShard'));
    await handlers.reconcileShardPoison(messages[0], context('reconcileShardPoison'));
    expect((await runs().loadShardResult(runId, 0))?.state).toBe('done');
    expect(lines('tagwall.alert ')).toEqual([]);
    expect(posts).toEqual([]);
  });

  it('drops a poison message that is not a shard, with an error in the log', async () => {
    await expect(handlers.reconcileShardPoison('garbage', context('reconcileShardPoison'))).resolves.toBeUndefined();
    expect(logs.some((l) => l.level === 'error' && l.line.startsWith('tagwall.shard poison message dropped: not a tagwall shard message'))).toBe(true);
    expect(posts).toEqual([]);
  });
});

describe('runStatus (GET /api/runs/{runId})', () => {
  const get = (runId: string) => handlers.runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${encodeURIComponent(runId)}`, params: { runId } }), context('runStatus'));

  it('answers 200 with the run\'s status, 404 for an unknown run, 400 for a malformed id', async () => {
    const { runId, messages } = await seededRun(2);
    await handlers.reconcileShard(messages[0], context('reconcileShard'));
    const ok = await get(runId);
    expect(ok.status).toBe(200);
    expect(ok.jsonBody).toMatchObject({ runId, complete: false, shards: { total: 2, done: 1, poisoned: 0, pending: 1 }, vaults: { byOutcome: { applied: 1, 'in-sync': 7 }, total: 8 }, inline: { 'in-sync': 7 } });

    const missing = await get(randomUUID());
    expect(missing.status).toBe(404);
    expect((missing.jsonBody as { error: { code: string } }).error.code).toBe('RUN_NOT_FOUND');
    for (const bad of ['abc', '..', `${runId}.json`]) {
      const res = await get(bad);
      expect(res.status).toBe(400);
      expect((res.jsonBody as { error: { code: string } }).error.code).toBe('RUN_ID_INVALID');
    }
  });
});

describe('manualSync (POST /api/sync) with {"apply": true}', () => {
  const post = (body: string, query: Record<string, string> = {}) => handlers.manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: body }, query }), context('manualSync'));

  it('answers 202 with the run id and its status URL once the shards are on the queue, never running a shard itself', async () => {
    const res = await post('{"apply": true, "force": true}');
    expect(res.status).toBe(202);
    const body = res.jsonBody as { runId: string; status: string; shards: number; vaults: number };
    expect(body).toEqual({ runId: expect.any(String), status: `/api/runs/${body.runId}`, shards: 2, vaults: 2 });
    expect(res.headers).toMatchObject({ location: body.status });
    expect(startCalls).toEqual([expect.objectContaining({ dryRun: false, force: true, alerts: 'send', fanOut: 'queue' })]);
    expect(startCalls[0]!.deadline!.getTime()).toBeLessThanOrEqual(Date.now() + 200_000);
    expect(shardCalls).toEqual([]);

    // The shards are real messages on the queue the trigger reads.
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(SHARD_QUEUE);
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    const shards = receivedMessageItems.map((m) => parseShardMessage(Buffer.from(m.messageText, 'base64').toString('utf8')));
    expect(shards.map((s) => [s.runId, s.force]).sort()).toEqual([
      [body.runId, true],
      [body.runId, true],
    ]);
    const status = await handlers.runStatus(new HttpRequest({ method: 'GET', url: `https://func.example${body.status}`, params: { runId: body.runId } }), context('runStatus'));
    expect(status.jsonBody).toMatchObject({ shards: { total: 2, pending: 2 }, complete: false });
  });

  it('narrows to one configured target with ?vault=, and refuses a bad one with 400 before starting anything', async () => {
    const one = await post('{"apply": true}', { vault: vaultId('kv-open') });
    expect(one.status).toBe(202);
    expect(startCalls[0]).toMatchObject({ vaults: [vaultId('kv-open')], fanOut: 'queue' });
    expect((one.jsonBody as { vaults: number }).vaults).toBe(1);
    startCalls.length = 0;
    expect((await post(JSON.stringify({ apply: true, vault: vaultId('kv-nope') }))).status).toBe(400);
    expect((await post('{"apply": true}', { vault: 'kv-app' })).status).toBe(400);
    expect((await post('{"apply": "yes"}')).status).toBe(400);
    expect((await post('{"apply": true, "dryRun": false}')).status).toBe(400);
    expect(startCalls).toEqual([]);
  });
});

describe('syncAllowlists (timer)', () => {
  it('starts a fleet run that may fan out, and logs that it started', async () => {
    await handlers.syncAllowlists(timer, context('syncAllowlists'));
    expect(startCalls).toEqual([expect.objectContaining({ dryRun: false, force: false, alerts: 'send', fanOut: 'auto' })]);
    expect(lines('tagwall.run ').some((l) => /^tagwall\.run [0-9a-f-]{36} started shards=2 enqueued=2$/.test(l))).toBe(true);
    expect(shardCalls).toEqual([]);
  });

  it('needs a queue endpoint only when it enqueues something', async () => {
    env.set({ AzureWebJobsStorage: azurite.connectionString.replace(/QueueEndpoint=[^;]+;/, '') });
    try {
      enqueue = false;
      await expect(handlers.syncAllowlists(timer, context('syncAllowlists'))).resolves.toBeUndefined();
      enqueue = true;
      await expect(handlers.syncAllowlists(timer, context('syncAllowlists'))).rejects.toMatchObject({ code: 'QUEUE_CONFIG_INVALID' });
    } finally {
      env.set({ AzureWebJobsStorage: azurite.connectionString });
    }
  });

  it('fails the invocation when a vault it did inline failed or was refused', async () => {
    inlineVaults = [inlineReport(vaultId('kv-app'), 'failed'), inlineReport(vaultId('kv-open'), 'in-sync')];
    await expect(handlers.syncAllowlists(timer, context('syncAllowlists'))).rejects.toMatchObject({
      code: 'SYNC_FAILED',
      message: expect.stringMatching(/^1 of 2 targets failed or were refused: .*kv-app$/),
    });
  });
});

function inlineReport(vault: string, outcome: TargetReport['outcome']): TargetReport {
  return {
    vault,
    kind: 'keyvault',
    outcome,
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: 400 },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: 'merge' satisfies TagwallConfig['targets'][number]['mode'],
    ...(outcome === 'failed' ? { error: { code: 'VAULT_FORBIDDEN' as const, message: 'no role' } } : {}),
  };
}
