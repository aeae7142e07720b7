import { InvocationContext, HttpRequest, type Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcileShard, reconcileShardPoison, runStatus, syncAllowlists } from '../../src/handlers/fleet.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { drainShardQueue, fleetConfig, loggingContext, resetFleetState, useFunctionsHost } from '../helpers/functions-host.js';

/**
 * The Functions app's fleet path with every real part: the timer discovers through the
 * emulator's Resource Graph and sends shards to Azurite's queue; each message is taken off the
 * queue and handed to the queue worker as the host would (base64-decoded JSON); the worker
 * writes through the real Key Vault SDK and records the shard in Azurite's blob service.
 */

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const logs: string[] = [];
const timer = { isPastDue: false } as Timer;

const context = (name: string): InvocationContext => loggingContext(name, logs);
const drain = () => drainShardQueue(azurite);

async function armCalls(method: 'GET' | 'PATCH'): Promise<number> {
  return (await emulator.control.stats()).byRoute[`${method} vault`] ?? 0;
}

useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  (e) => ({ TAGWALL_CONFIG: fleetConfig(e, { fanOut: { shardSize: 25, inlineBelow: 10 } }) }),
);

beforeEach(async () => {
  logs.length = 0;
  await resetFleetState(emulator, azurite);
});

describe('fan-out on the Storage queue', () => {
  it('sends shards of one subscription each, reconciles them in the worker, makes no second write on redelivery, and reports the run', async () => {
    const fleet = await emulator.control.seedFleet({ subscriptions: 2, vaults: 60, tag: { name: 'tagwall', values: ['devops'] }, untagged: 4 });
    const untagged = fleet.ids.slice(60);
    await emulator.control.resetStats();
    await syncAllowlists(timer, context('syncAllowlists'));
    // The timer reads the fleet and writes nothing itself: 60 vaults are far above inlineBelow.
    expect(await armCalls('GET')).toBe(0);
    expect(await armCalls('PATCH')).toBe(0);
    const started = logs.find((l) => l.startsWith('tagwall.run ') && l.includes(' started '))!;
    const runId = /tagwall\.run (\S+) started shards=(\d+) enqueued=(\d+)/.exec(started)!;
    expect([runId[2], runId[3]]).toEqual(['4', '60']);

    const messages = (await drain()) as { runId: string; shard: number; targets: { id: string; profile?: string }[] }[];
    expect(messages).toHaveLength(4);
    for (const m of messages) {
      // One subscription per shard, 25 at most, never rules, never an untagged vault.
      expect(new Set(m.targets.map((t) => t.id.split('/')[2])).size).toBe(1);
      expect(m.targets.length).toBeLessThanOrEqual(25);
      expect(m.targets.every((t) => t.profile === 'devops')).toBe(true);
    }
    expect(new Set(messages.flatMap((m) => m.targets.map((t) => t.id)))).toEqual(new Set(fleet.ids.slice(0, 60)));

    for (const m of messages) await reconcileShard(m, context('reconcileShard'));
    expect(await armCalls('PATCH')).toBe(60);
    expect(logs.filter((l) => l.includes(`tagwall.run ${runId[1]} complete`))).toHaveLength(1);
    const status = await runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${runId[1]}`, params: { runId: runId[1]! } }), context('runStatus'));
    expect(status.jsonBody).toMatchObject({ complete: true, shards: { total: 4, done: 4, poisoned: 0 }, vaults: { total: 60, byOutcome: { applied: 60 } } });

    // The host delivers a message again (the worker died before deleting it): no second write.
    await reconcileShard(messages[0], context('reconcileShard'));
    expect(await armCalls('PATCH')).toBe(60);
    // Even with its result lost, the one-writer record makes the redelivery a read and nothing more.
    await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tagwall').getBlobClient(`runs/${runId[1]}/0.json`).delete();
    const getsBefore = await armCalls('GET');
    await reconcileShard(messages[0], context('reconcileShard'));
    expect(await armCalls('PATCH')).toBe(60);
    expect((await armCalls('GET')) - getsBefore).toBe(messages[0]!.targets.length);

    // Nothing untagged was ever named in a request.
    const log = await emulator.control.requests();
    for (const id of untagged) expect(log.some((r) => r.path.toLowerCase().includes(id.toLowerCase().split('/').pop()!))).toBe(false);
  });

  it('confirms the written fleet on the next run, and then settles it in the timer with Resource Graph alone', async () => {
    await emulator.control.seedFleet({ subscriptions: 3, vaults: 30, tag: { name: 'tagwall', values: ['devops'] } });
    const drainAll = async () => {
      for (const m of await drain()) await reconcileShard(m, context('reconcileShard'));
    };
    await syncAllowlists(timer, context('syncAllowlists'));
    await drainAll();
    await syncAllowlists(timer, context('syncAllowlists')); // direct reads confirm what Resource Graph now shows
    await drainAll();
    await emulator.control.resetStats();
    logs.length = 0;
    await syncAllowlists(timer, context('syncAllowlists'));
    expect(await drain()).toEqual([]);
    expect(await armCalls('GET')).toBe(0);
    expect(await armCalls('PATCH')).toBe(0);
    expect(logs.some((l) => /started shards=0 enqueued=0/.test(l))).toBe(true);
    expect(logs.some((l) => /in-sync=30/.test(l))).toBe(true);
  });

  it('a shard that ends on the poison queue is reported SHARD_FAILED and pages once', async () => {
    await emulator.control.seedFleet({ subscriptions: 1, vaults: 30, tag: { name: 'tagwall', values: ['devops'] } });
    await syncAllowlists(timer, context('syncAllowlists'));
    const messages = (await drain()) as { runId: string; shard: number; targets: { id: string }[] }[];
    expect(messages).toHaveLength(2);
    await reconcileShard(messages[0], context('reconcileShard'));
    // The host gave up on the second after maxDequeueCount deliveries.
    await reconcileShardPoison(messages[1], context('reconcileShardPoison'));
    const runId = messages[1]!.runId;
    const status = await runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${runId}`, params: { runId } }), context('runStatus'));
    const body = status.jsonBody as { complete: boolean; shards: { poisoned: number }; failures: { vault: string; error?: { code: string } }[] };
    expect(body.shards.poisoned).toBe(1);
    expect(body.failures.map((f) => f.vault).sort()).toEqual(messages[1]!.targets.map((t) => t.id).sort());
    expect(body.failures.every((f) => f.error?.code === 'SHARD_FAILED')).toBe(true);
    expect(logs.filter((l) => l.includes('shard-failed'))).toHaveLength(1);
  });
});
