import { InvocationContext, HttpRequest, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import { fleetHandlers } from '../../src/handlers/fleet.js';
import type { ShardSink } from '../../src/fleet/model.js';
import { SHARD_QUEUE } from '../../src/fleet/queue.js';
import { runShard, startFleetRun } from '../../src/run/shards.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { drainShardQueue, fleetConfig, loggingContext, stateContainer, useFunctionsHost } from '../helpers/functions-host.js';

/**
 * A timer run whose queue fails after some of its shards went out: the shards never sent are
 * recorded as such, so GET /api/runs/{runId} reaches a final state that names their firewalls,
 * instead of counting them as pending forever. Real parts: the emulator's Resource Graph and
 * Key Vaults, Azurite's queue and blob state; the queue's failure comes from a wrapper around the
 * real sink that lets the first messages through.
 */

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const logs: string[] = [];

const context = (name: string): InvocationContext => loggingContext(name, logs);
const drain = () => drainShardQueue(azurite);

/** The real sink for the first `k` messages; after that, the refusal a queue that went away gives. */
function acceptingFirst(k: number, sink: ShardSink): ShardSink {
  let accepted = 0;
  return {
    async send(messages) {
      const now = messages.slice(0, Math.max(0, k - accepted));
      // Counted before the send: several sends may be under way at once.
      accepted += now.length;
      if (now.length > 0) await sink.send(now);
      if (now.length < messages.length) {
        throw new TagwallError('QUEUE_UNAVAILABLE', `queue ${SHARD_QUEUE}: shard ${messages[now.length]!.shard} not sent (QueueNotFound: the specified queue does not exist)`, { values: { status: 404 } });
      }
    },
  };
}

useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  (e) => ({ TAGWALL_CONFIG: fleetConfig(e, { fanOut: { shardSize: 10, inlineBelow: 5 } }) }),
);

describe('a queue that fails halfway through a run', () => {
  it('records the shards not sent, so the run status ends final and names their firewalls', async () => {
    const fleet = await emulator.control.seedFleet({ subscriptions: 2, vaults: 60, tag: { name: 'tagwall', values: ['devops'] } });
    const handlers = fleetHandlers({ runShard, startFleetRun: (config, options, runtime, deps) => startFleetRun(config, options, runtime, { ...deps, sink: acceptingFirst(2, deps.sink!) }) });

    const timerError = await handlers.syncAllowlists({ isPastDue: false } as Timer, context('syncAllowlists')).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The invocation still fails, so Functions' failure metrics see the run.
    expect(timerError).toBeInstanceOf(Error);

    const sent = (await drain()) as { runId: string; shard: number; targets: { id: string }[] }[];
    expect(sent).toHaveLength(2);
    for (const m of sent) await handlers.reconcileShard(m, context('reconcileShard'));

    const blobs = stateContainer(azurite);
    const manifests: string[] = [];
    for await (const b of blobs.listBlobsFlat({ prefix: 'runs/' })) if (b.name.endsWith('/run.json')) manifests.push(b.name);
    expect(manifests).toHaveLength(1);
    const runId = manifests[0]!.split('/')[1]!;
    expect(sent.every((m) => m.runId === runId)).toBe(true);

    const status = await handlers.runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${runId}`, params: { runId } }), context('runStatus'));
    const body = status.jsonBody as { complete: boolean; shards: { total: number; done: number; pending: number }; failures: { vault: string; error?: { code: string } }[]; vaults: { total: number } };
    const sentIds = new Set(sent.flatMap((m) => m.targets.map((t) => t.id.toLowerCase())));
    const unsent = fleet.ids.slice(0, 60).filter((id) => !sentIds.has(id.toLowerCase()));
    expect(unsent).toHaveLength(40);
    expect(body.shards).toMatchObject({ total: 6, done: 2, pending: 0 });
    expect(body.complete).toBe(true);
    expect(body.failures.map((f) => f.vault.toLowerCase()).sort()).toEqual(unsent.map((id) => id.toLowerCase()).sort());
    expect(body.failures.every((f) => f.error?.code === 'SHARD_NOT_SENT')).toBe(true);
    expect(body.vaults.total).toBe(60);
    // Reported where people look: the timer's log and its alerts name the code.
    expect(logs.some((l) => l.includes('SHARD_NOT_SENT'))).toBe(true);
  });
});
