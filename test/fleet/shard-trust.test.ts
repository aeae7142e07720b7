import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SeedVault } from '../../src/emulator/model.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { ShardMessage } from '../../src/fleet/model.js';
import { manualSync, reconcileShard, runStatus, syncAllowlists } from '../../src/handlers/fleet.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { vaultId } from '../helpers/emulator.js';
import { drainShardQueue, fleetConfig, loggingContext, resetFleetState, sendToShardQueue, startedRunId, storedShard, useFunctionsHost } from '../helpers/functions-host.js';

/**
 * The queue is not a back door: whoever can send to the shard queue (or a tag change that
 * overtakes a waiting message) must not get a write that discovery would not make, nor a forced
 * one the run was not started with. Every part is real: the emulator's Resource Graph and Key
 * Vaults, Azurite's queue and blobs, messages taken off the queue and handed to the worker as the
 * host does. What each test expects comes from the seed it wrote and the messages it sent.
 */

const SUB_A = '1a1a1a1a-0000-4000-8000-00000000000a';
const SUB_B = '2b2b2b2b-0000-4000-8000-00000000000b';
/** Outside discover.scope. */
const SUB_C = '3c3c3c3c-0000-4000-8000-00000000000c';

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const logs: string[] = [];
const timer = { isPastDue: false } as Timer;

const vault = (name: string, sub: string, tags?: Record<string, string>): SeedVault => ({
  id: vaultId(name, sub, 'rg-fleet'),
  ...(tags === undefined ? {} : { tags }),
  networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] },
});

const context = (name: string): InvocationContext => loggingContext(name, logs);
const send = (message: object) => sendToShardQueue(azurite, message);
const drain = () => drainShardQueue<ShardMessage>(azurite);

async function patchesOf(name: string): Promise<number> {
  return (await emulator.control.requests({ vault: name })).filter((r) => r.method === 'PATCH').length;
}

async function rulesOf(name: string): Promise<string[]> {
  return ((await emulator.control.vault(name))?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

/** A shard's stored result, as GET /api/runs/{runId} would count it, by vault name. */
async function shardOutcomes(runId: string, shard: number): Promise<Map<string, { outcome: string; reasons?: string[] }>> {
  const result = await storedShard(azurite, runId, shard);
  return new Map(result.vaults.map((v) => [v.vault.split('/').pop()!, { outcome: v.outcome, ...(v.reasons === undefined ? {} : { reasons: v.reasons }) }]));
}

/** The timer's run: its id, and the messages it sent. */
async function timerRun(): Promise<{ runId: string; messages: ShardMessage[] }> {
  logs.length = 0;
  await syncAllowlists(timer, context('syncAllowlists'));
  return { runId: startedRunId(logs), messages: await drain() };
}

useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  (e) => ({ TAGWALL_CONFIG: fleetConfig(e, {
    profiles: {
      devops: { select: ['AzureDevOps'] },
      bi: { select: ['PowerBI'], maxRules: 900 },
      // Five rules cannot cover AzureDevOps without widening, and no widening is allowed: refused unless forced.
      tight: { select: ['AzureDevOps'], maxRules: 5, guards: { maxExcessAddresses: 0, maxWidenedPrefix: 0 } },
    },
    discover: { tag: 'tagwall', lagMinutes: 0, scope: { subscriptions: [SUB_A, SUB_B] } },
    // Everything that needs work goes to the queue.
    fanOut: { shardSize: 25, inlineBelow: 0 },
  }) }),
);

beforeEach(async () => {
  logs.length = 0;
  await resetFleetState(emulator, azurite);
});

describe('the shard worker checks what a message names', () => {
  it('a forged message naming an untagged vault, or a tagged one outside discover.scope, writes nothing', async () => {
    await emulator.control.seed({ vaults: [vault('kv-tagged', SUB_A, { tagwall: 'devops' }), vault('kv-untagged', SUB_A), vault('kv-elsewhere', SUB_C, { tagwall: 'devops' })] });
    const { runId, messages } = await timerRun();
    expect(messages.map((m) => m.targets.map((t) => t.id.split('/').pop()))).toEqual([['kv-tagged']]);
    for (const m of messages) await reconcileShard(m, context('reconcileShard'));
    await emulator.control.clearRequests();

    // Someone with the queue's connection string sends a shard of their own, in the real run's name.
    const forged = { ...messages[0]!, shard: 7, targets: [{ id: vaultId('kv-untagged', SUB_A, 'rg-fleet'), profile: 'devops' }, { id: vaultId('kv-elsewhere', SUB_C, 'rg-fleet'), profile: 'devops' }] };
    await send(forged);
    for (const m of await drain()) await reconcileShard(m, context('reconcileShard'));

    expect(await patchesOf('kv-untagged')).toBe(0);
    expect(await patchesOf('kv-elsewhere')).toBe(0);
    expect(await rulesOf('kv-untagged')).toEqual([]);
    expect(await rulesOf('kv-elsewhere')).toEqual([]);
    const outcomes = await shardOutcomes(runId, 7);
    expect(outcomes.get('kv-untagged')).toEqual({ outcome: 'skipped', reasons: ['TARGET_NOT_IN_FLEET'] });
    expect(outcomes.get('kv-elsewhere')).toEqual({ outcome: 'skipped', reasons: ['TARGET_NOT_IN_FLEET'] });
    // One warning per refused target (the per-target telemetry events name the code too, and are not counted here).
    expect(logs.filter((l) => l.includes('TARGET_NOT_IN_FLEET') && !l.includes('tagwall.target '))).toHaveLength(2);
  });

  it('a vault whose tag changed between enqueue and work is skipped; the others of the shard are written', async () => {
    await emulator.control.seed({
      vaults: [vault('kv-keeps', SUB_A, { tagwall: 'devops' }), vault('kv-untags', SUB_A, { tagwall: 'devops' }), vault('kv-moves', SUB_A, { tagwall: 'devops' }), vault('kv-off', SUB_A, { tagwall: 'devops' })],
    });
    const { runId, messages } = await timerRun();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.targets).toHaveLength(4);
    // While the message waits: one loses its tag, one moves to another profile, one opts out.
    await emulator.control.seed({ vaults: [vault('kv-untags', SUB_A), vault('kv-moves', SUB_A, { tagwall: 'bi' }), vault('kv-off', SUB_A, { tagwall: 'off' })] });
    await emulator.control.clearRequests();
    await reconcileShard(messages[0], context('reconcileShard'));

    expect(await patchesOf('kv-keeps')).toBe(1);
    for (const name of ['kv-untags', 'kv-moves', 'kv-off']) {
      expect(await patchesOf(name), name).toBe(0);
      expect(await rulesOf(name), name).toEqual([]);
    }
    const outcomes = await shardOutcomes(runId, 0);
    expect(outcomes.get('kv-keeps')).toEqual({ outcome: 'applied' });
    for (const name of ['kv-untags', 'kv-moves', 'kv-off']) expect(outcomes.get(name), name).toEqual({ outcome: 'skipped', reasons: ['TARGET_NOT_IN_FLEET'] });
    // The next timer run takes kv-moves with the profile its tag names now (and reads kv-keeps, written last run).
    const next = await timerRun();
    expect(next.messages.flatMap((m) => m.targets.map((t) => [t.id.split('/').pop(), t.profile])).sort()).toEqual([
      ['kv-keeps', 'devops'],
      ['kv-moves', 'bi'],
    ]);
  });

  it('takes force from the run\'s manifest, never from the message', async () => {
    await emulator.control.seed({ vaults: [vault('kv-tight', SUB_A, { tagwall: 'tight' })] });
    // The timer's run is not forced; a copy of its message claiming force is not forced either.
    const { runId, messages } = await timerRun();
    expect(messages).toHaveLength(1);
    await send({ ...messages[0]!, force: true });
    for (const m of await drain()) await reconcileShard(m, context('reconcileShard'));
    expect(await patchesOf('kv-tight')).toBe(0);
    const refused = await runStatus(new HttpRequest({ method: 'GET', url: `https://func.example/api/runs/${runId}`, params: { runId } }), context('runStatus'));
    expect(refused.jsonBody).toMatchObject({ vaults: { byOutcome: { refused: 1 } }, failures: [{ outcome: 'refused', reasons: ['EXCESS_GUARD'] }] });
    expect(logs.some((l) => l.includes('the message asks for force, but its run\'s manifest does not'))).toBe(true);

    // A person's forced apply records force in its manifest: that shard is forced, even with the flag dropped from its message.
    const response = await manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: JSON.stringify({ apply: true, force: true }) } }), context('manualSync'));
    expect(response.status).toBe(202);
    const forcedRun = (response.jsonBody as { runId: string }).runId;
    const [forced] = await drain();
    const { force: _flag, ...unflagged } = forced!;
    await reconcileShard(unflagged, context('reconcileShard'));
    expect(await patchesOf('kv-tight')).toBe(1);
    expect((await rulesOf('kv-tight')).length).toBe(5);
    expect((await shardOutcomes(forcedRun, 0)).get('kv-tight')).toEqual({ outcome: 'applied' });
  });
});
