import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShardQueue, encodeShardMessage, MAX_MESSAGE_BYTES, parseShardMessage, SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/fleet/queue.js';
import type { ShardMessage } from '../../src/fleet/model.js';
import { startAzurite, type AzuriteWithQueue } from '../helpers/azurite.js';

// The queue adapter against Azurite's queue service: what it sends is read back by a plain
// QueueClient, decoded the way the Functions host decodes it, and parsed by the handler's parser.

let azurite: AzuriteWithQueue;
beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
});
afterAll(async () => {
  await azurite?.stop();
});

const RUN = '3f1c2b8e-6a4d-4c1e-9b7a-2d5e8f0a1b3c';
const DOC = 'a'.repeat(64);
const vault = (n: number, pad = ''): string => `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fleet/providers/Microsoft.KeyVault/vaults/kv-${pad}${n}`;

function message(shard: number, targets: number, extra: Partial<ShardMessage> = {}): ShardMessage {
  return { version: 1, runId: RUN, document: DOC, shard, targets: Array.from({ length: targets }, (_, i) => ({ id: vault(i), profile: 'default' })), ...extra };
}

function env(): Record<string, string> {
  return { AzureWebJobsStorage: azurite.connectionString };
}

async function receiveAll(queue: QueueClient): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return texts;
    texts.push(...receivedMessageItems.map((m) => m.messageText));
  }
}

describe('createShardQueue', () => {
  it('creates the queue once, and sends each shard as base64 JSON that parses back to the same message', async () => {
    const name = 'shards-roundtrip';
    const sink = createShardQueue({ env: env(), queueName: name });
    const sent = [message(0, 3, { force: true }), message(1, 1), message(2, 2)];
    await sink.send(sent.slice(0, 2));
    await sink.send(sent.slice(2));
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(name);
    const texts = await receiveAll(queue);
    expect(texts).toHaveLength(3);
    for (const t of texts) expect(t).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    // What the host hands the handler: the decoded body, parsed as JSON.
    const received = texts.map((t) => parseShardMessage(JSON.parse(Buffer.from(t, 'base64').toString('utf8'))));
    expect(received.sort((a, b) => a.shard - b.shard)).toEqual(sent);
  });

  it('defaults to the queue the trigger reads, and its poison queue is the host\'s <queue>-poison', async () => {
    expect(SHARD_QUEUE).toBe('tagwall-shards');
    expect(SHARD_POISON_QUEUE).toBe('tagwall-shards-poison');
    const sink = createShardQueue({ env: env() });
    expect(sink.description).toBe(`queue tagwall-shards at ${azurite.queueUrl}/tagwall-shards`);
    await sink.send([message(0, 1)]);
    const texts = await receiveAll(QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(SHARD_QUEUE));
    expect(texts.map((t) => parseShardMessage(Buffer.from(t, 'base64').toString('utf8')).shard)).toEqual([0]);
  });

  it('refuses a message over 64 KB encoded before sending anything of the batch', async () => {
    const name = 'shards-oversize';
    const big = { ...message(1, 0), targets: Array.from({ length: 400 }, (_, i) => ({ id: vault(i, 'x'.repeat(100)), profile: 'default' })) };
    expect(() => encodeShardMessage(big)).toThrow(expect.objectContaining({ code: 'SHARD_MESSAGE_TOO_LARGE' }));
    const sink = createShardQueue({ env: env(), queueName: name });
    const err = await sink.send([message(0, 1), big]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SHARD_MESSAGE_TOO_LARGE', values: { limit: MAX_MESSAGE_BYTES, targets: 400 } });
    expect((err as { values: { bytes: number } }).values.bytes).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(name);
    // Refused before the queue was even created.
    expect(await queue.exists()).toBe(false);
  });

  it('refuses an invalid message before sending', async () => {
    const sink = createShardQueue({ env: env(), queueName: 'shards-invalid' });
    await expect(sink.send([message(0, 0)])).rejects.toMatchObject({ code: 'SHARD_MESSAGE_INVALID', details: [expect.stringMatching(/^targets: /)] });
  });

  it('reports an unreachable account as QUEUE_UNAVAILABLE (transient)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const sink = createShardQueue({
      env: { AzureWebJobsStorage: azurite.connectionString.replace(/QueueEndpoint=[^;]+/, `QueueEndpoint=http://127.0.0.1:${closed}/devstoreaccount1`) },
      pipeline: { retryOptions: { maxTries: 1 } },
    });
    await expect(sink.send([message(0, 1)])).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE', transient: true });
  });

  it('names what is missing when the setting gives no account, and refuses identity over plain HTTP', () => {
    expect(() => createShardQueue({ env: {} })).toThrow(expect.objectContaining({ code: 'QUEUE_CONFIG_INVALID', message: expect.stringMatching(/AzureWebJobsStorage__queueServiceUri/) }));
    expect(() => createShardQueue({ env: { AzureWebJobsStorage__queueServiceUri: 'http://example.test' } })).toThrow(expect.objectContaining({ code: 'QUEUE_CONFIG_INVALID', message: expect.stringMatching(/must use https/) }));
    expect(() => createShardQueue({ env: env(), queueName: 'Bad_Name' })).toThrow(expect.objectContaining({ code: 'QUEUE_CONFIG_INVALID' }));
    const byName = createShardQueue({ env: { Storage__accountName: 'tagwallfleet' }, connectionSetting: 'Storage' });
    expect(byName.description).toBe('queue tagwall-shards at https://tagwallfleet.queue.core.windows.net/tagwall-shards');
  });
});

describe('parseShardMessage', () => {
  it('takes the decoded body as an object, as JSON text, or as bytes', () => {
    const m = message(4, 2);
    expect(parseShardMessage(m)).toEqual(m);
    expect(parseShardMessage(JSON.stringify(m))).toEqual(m);
    expect(parseShardMessage(Buffer.from(JSON.stringify(m)))).toEqual(m);
  });

  it('refuses malformed messages with SHARD_MESSAGE_INVALID, listing every problem', () => {
    const problems = (raw: unknown): readonly string[] => {
      try {
        parseShardMessage(raw);
      } catch (e) {
        expect(e).toMatchObject({ code: 'SHARD_MESSAGE_INVALID' });
        return (e as { details: readonly string[] }).details;
      }
      throw new Error('accepted');
    };
    const bad = { version: 2, runId: '../../etc', document: 'ABC', shard: -1, targets: [{ id: 'kv-app' }] };
    expect(problems(bad)).toEqual([
      expect.stringMatching(/^version: /),
      expect.stringMatching(/^runId: /),
      expect.stringMatching(/^document: .*sha256/),
      expect.stringMatching(/^shard: /),
      expect.stringMatching(/^targets\.0\.id: must be an ARM resource ID/),
    ]);
    expect(problems({ ...message(0, 1), targets: [] })).toEqual([expect.stringMatching(/^targets: /)]);
    expect(problems({ ...message(0, 1), targets: Array.from({ length: 501 }, (_, i) => ({ id: vault(i) })) })).toEqual([expect.stringMatching(/^targets: /)]);
    expect(problems({ ...message(0, 1), shard: 1.5 })).toEqual([expect.stringMatching(/^shard: /)]);
    expect(problems('not json')).toEqual(['(message): not JSON']);
    expect(problems(null)).toEqual([expect.stringMatching(/^\(message\): /)]);
    // A body the host did not decode says what is wrong with the host's settings.
    expect(problems(Buffer.from(JSON.stringify(message(0, 1))).toString('base64'))).toEqual([expect.stringMatching(/still base64.*messageEncoding/)]);
  });
});
