import { InvocationContext, type Timer } from '@azure/functions';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseVaultId } from '../../src/core/vault-id.js';
import type { SeedVault } from '../../src/emulator/model.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { ShardMessage } from '../../src/fleet/model.js';
import { reconcileShard, syncAllowlists } from '../../src/handlers/fleet.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { vaultId } from '../helpers/emulator.js';
import { drainShardQueue, fleetConfig, loggingContext, resetFleetState, startedRunId, storedShard, useFunctionsHost } from '../helpers/functions-host.js';

/**
 * A shard whose delivery died (its worker killed mid-way, as a host restart or an out-of-memory
 * kill does) is delivered again by the host. The redelivery must finish the firewalls the dead
 * delivery announced intents for, accounting for the writes that landed and those that did not,
 * while any other run still finds them busy. The first delivery runs the built worker in a
 * process of its own, killed with SIGKILL once its intents are stored; every other part is real:
 * the emulator's Resource Graph and Key Vaults, Azurite's queue and blobs.
 */

const SUB = '1a1a1a1a-0000-4000-8000-00000000000a';
const HANDLERS = fileURLToPath(new URL('../../dist/src/handlers/fleet.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Their PATCH never lands: it hangs, and would answer 503, long after the worker is gone. */
const NOT_LANDED = ['kv-0', 'kv-1', 'kv-2', 'kv-3'];
/** Their PATCH lands 8 s after it was sent: after the worker that sent it is gone. */
const LANDED = ['kv-4', 'kv-5'];
/** No fault: the dead delivery finished them before it died. */
const FINISHED = ['kv-6', 'kv-7'];
const ALL = [...NOT_LANDED, ...LANDED, ...FINISHED];

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const logs: string[] = [];
const timer = { isPastDue: false } as Timer;

const id = (name: string) => vaultId(name, SUB, 'rg-fleet');

const context = (name: string): InvocationContext => loggingContext(name, logs);
const records = () => new TargetStateRepository(BlobStore.fromConnectionString(azurite.connectionString, 'tagwall'));

const drain = () => drainShardQueue<ShardMessage>(azurite);

async function timerRun(): Promise<{ runId: string; messages: ShardMessage[] }> {
  logs.length = 0;
  await syncAllowlists(timer, context('syncAllowlists'));
  return { runId: startedRunId(logs), messages: await drain() };
}

async function rulesOf(name: string): Promise<string[]> {
  return ((await emulator.control.vault(name))?.properties.networkAcls?.ipRules ?? []).map((r) => r.value).sort();
}

async function patches(filter: (status: number) => boolean): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (const r of await emulator.control.requests()) if (r.method === 'PATCH' && r.vault !== undefined && filter(r.status)) by.set(r.vault, (by.get(r.vault) ?? 0) + 1);
  return by;
}

async function shardOutcomes(runId: string, shard: number): Promise<Record<string, string>> {
  const result = await storedShard(azurite, runId, shard);
  return Object.fromEntries(result.vaults.map((v) => [v.vault.split('/').pop()!, [v.outcome, ...(v.reasons ?? [])].join(':')]));
}

async function until(what: () => string, test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what()}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  (e) => ({ TAGWALL_CONFIG: fleetConfig(e, {
    fanOut: { shardSize: 25, inlineBelow: 0 },
    // Every vault of the shard in flight at once, so each reaches its write before the kill.
    concurrency: 16,
    concurrencyPerSubscription: 16,
  }) }),
);

beforeEach(async () => {
  await resetFleetState(emulator, azurite);
});

describe('a redelivered shard', () => {
  it('takes over its own dead delivery\'s intents and finishes those firewalls, while another run still finds them busy', async () => {
    expect(existsSync(HANDLERS), 'build first (npx tsc -p tsconfig.json): the dead delivery runs dist/').toBe(true);
    const seed: SeedVault[] = ALL.map((name) => ({ id: id(name), tags: { tagwall: 'devops' }, networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] } }));
    await emulator.control.seed({ vaults: seed });
    const { runId, messages } = await timerRun();
    expect(messages).toHaveLength(1);
    const message = messages[0]!;
    expect(message.targets.map((t) => t.id.split('/').pop()).sort()).toEqual(ALL);

    for (const name of NOT_LANDED) await emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: name, status: 503, delayMs: 20_000 });
    for (const name of LANDED) await emulator.control.addFault({ kind: 'delay', method: 'PATCH', vault: name, delayMs: 8_000 });
    await emulator.control.clearRequests();

    // The first delivery, in a worker process of its own.
    const code = [
      `const { reconcileShard } = await import(${JSON.stringify(pathToFileURL(HANDLERS).href)});`,
      `const functions = await import('@azure/functions');`,
      `const InvocationContext = functions.InvocationContext ?? functions.default.InvocationContext;`,
      `await reconcileShard(JSON.parse(process.env.TAGWALL_TEST_MESSAGE), new InvocationContext({ functionName: 'reconcileShard', invocationId: 'dead', logHandler: () => {} }));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: REPO, env: { ...process.env, TAGWALL_TEST_MESSAGE: JSON.stringify(message) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const store = records();
    let last: unknown;
    const state = async () => Promise.all(ALL.map(async (name) => [name, (await store.load(parseVaultId(id(name))))?.record] as const));
    try {
      // Killed once every faulted vault has announced its write and the others are recorded.
      await until(
        () => `the dead delivery announced its writes (exit: ${child.exitCode}, stderr: ${stderr}, state: ${JSON.stringify(last)})`,
        async () => {
          const now = new Map(await state());
          last = [...now].map(([n, r]) => [n, r === undefined ? 'none' : r.intent !== undefined ? 'intent' : r.appliedAt !== undefined ? 'applied' : 'other']);
          return [...NOT_LANDED, ...LANDED].every((n) => now.get(n)?.intent !== undefined) && FINISHED.every((n) => now.get(n)?.appliedAt !== undefined && now.get(n)?.intent === undefined);
        },
        30_000,
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // The killed delivery left its intents; two of its writes land after it is gone.
    const left = new Map(await state());
    for (const name of [...NOT_LANDED, ...LANDED]) expect(left.get(name)?.intent, name).toBeDefined();
    await until(
      () => 'the late writes landed',
      async () => {
        const ok = await patches((s) => s === 200);
        return LANDED.every((n) => ok.has(n));
      },
      30_000,
    );
    for (const name of NOT_LANDED) expect(await rulesOf(name), name).toEqual([]);
    const written = await rulesOf('kv-6');
    expect(written.length).toBeGreaterThan(0);
    for (const name of [...LANDED, ...FINISHED]) expect(await rulesOf(name), name).toEqual(written);

    // Another run meets those intents while they are young: busy, nothing written.
    const other = await timerRun();
    expect(other.messages).toHaveLength(1);
    await emulator.control.clearRequests();
    await reconcileShard(other.messages[0], context('reconcileShard'));
    expect((await patches(() => true)).size).toBe(0);
    const busy = await shardOutcomes(other.runId, 0);
    for (const name of [...NOT_LANDED, ...LANDED]) expect(busy[name], name).toBe('skipped:VAULT_BUSY');

    // The host delivers the dead delivery's message again: it finishes what the intents announced.
    await emulator.control.clearFaults();
    await emulator.control.clearRequests();
    await reconcileShard(message, context('reconcileShard'));
    const redelivered = await shardOutcomes(runId, 0);
    expect(redelivered).toEqual(Object.fromEntries(ALL.map((name) => [name, NOT_LANDED.includes(name) ? 'applied' : 'in-sync'])));
    // Exactly one write per firewall whose write had not landed; none for those whose write had.
    expect(Object.fromEntries(await patches(() => true))).toEqual(Object.fromEntries(NOT_LANDED.map((n) => [n, 1])));
    for (const name of ALL) expect(await rulesOf(name), name).toEqual(written);
    // No intent is left, and each firewall's rules are tagwall's: the landed writes were taken over too.
    for (const [name, record] of await state()) {
      expect(record?.intent, name).toBeUndefined();
      expect([...(record?.ownedRules ?? [])].sort(), name).toEqual(written);
    }
  }, 90_000);
});
