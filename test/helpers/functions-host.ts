import { InvocationContext } from '@azure/functions';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { SHARD_QUEUE } from '../../src/fleet/queue.js';
import { sharedTestCertificates } from '../global-setup.js';
import { startAzurite, type AzuriteWithQueue } from './azurite.js';
import { BUNDLED } from './cli.js';

/**
 * What the Functions handler tests share: the emulator and Azurite (blob and queue) started
 * together, the app settings the host would give the handlers, the shard queue as the host reads
 * it, and InvocationContext objects whose log lines the test can read.
 */

/** The emulator and Azurite with its queue, started side by side. */
export async function startHost(): Promise<[Emulator, AzuriteWithQueue]> {
  return Promise.all([startEmulator({ port: 0, certificates: await sharedTestCertificates() }), startAzurite({ queue: true })]);
}

/**
 * App settings changed for one test file and put back afterwards: call `set` as often as needed
 * (the first value seen for a name is the one restored) and `restore` in afterAll.
 */
export class EnvOverrides {
  private readonly saved = new Map<string, string | undefined>();

  set(values: Record<string, string | undefined>): void {
    for (const [k, v] of Object.entries(values)) {
      if (!this.saved.has(k)) this.saved.set(k, process.env[k]);
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }

  restore(): void {
    for (const [k, v] of this.saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The settings that point the handlers at Azurite and at the emulator's managed identity, with
 * every other way of configuring them cleared, so the developer's own environment cannot leak in.
 */
export function hostSettings(emulator: Emulator, azurite: AzuriteWithQueue): Record<string, string | undefined> {
  return {
    AzureWebJobsStorage: azurite.connectionString,
    IDENTITY_ENDPOINT: emulator.identityEndpoint,
    IDENTITY_HEADER: emulator.identityHeader,
    TAGWALL_VAULTS: undefined,
    TAGWALL_SELECT: undefined,
    TAGWALL_CONFIG_PATH: undefined,
    AZURE_CLIENT_ID: undefined,
    AZURE_TENANT_ID: undefined,
    AZURE_CLIENT_SECRET: undefined,
  };
}

/**
 * The emulator and Azurite for a whole test file, with the host's settings (`hostSettings`, then
 * the file's own `settings`) applied once both have started and put back after the last test.
 * `set` receives both, so the file can keep plain `let emulator` and `let azurite`; the returned
 * overrides let a test change a setting for the rest of the file.
 */
export function useFunctionsHost(
  set: (emulator: Emulator, azurite: AzuriteWithQueue) => void,
  settings: (emulator: Emulator, azurite: AzuriteWithQueue) => Record<string, string | undefined> = () => ({}),
): EnvOverrides {
  const env = new EnvOverrides();
  let emulator: Emulator | undefined;
  let azurite: AzuriteWithQueue | undefined;
  beforeAll(async () => {
    [emulator, azurite] = await startHost();
    set(emulator, azurite);
    env.set({ ...hostSettings(emulator, azurite), ...settings(emulator, azurite) });
  });
  afterAll(async () => {
    env.restore();
    await Promise.all([emulator?.close(), azurite?.stop()]);
  });
  return env;
}

/**
 * TAGWALL_CONFIG for a discovered fleet against the emulator: the bundled tags, one `devops`
 * profile and discovery by the `tagwall` tag without lag, then `extra` (which may replace any of them).
 */
export function fleetConfig(emulator: Emulator, extra: Record<string, unknown>): string {
  return JSON.stringify({
    serviceTags: { source: 'file', path: BUNDLED },
    arm: { endpoint: emulator.url },
    profiles: { devops: { select: ['AzureDevOps'] } },
    discover: { tag: 'tagwall', lagMinutes: 0 },
    ...extra,
  });
}

/** A clean slate between tests: the emulator reset, and tagwall's blobs and shard queue gone. */
export async function resetFleetState(emulator: Emulator, azurite: AzuriteWithQueue): Promise<void> {
  await emulator.control.reset();
  await stateContainer(azurite).deleteIfExists();
  await shardQueue(azurite).deleteIfExists();
}

/** An InvocationContext whose log lines go to `logs`, one string a call. */
export function loggingContext(name: string, logs: string[]): InvocationContext {
  return new InvocationContext({ functionName: name, invocationId: `test-${name}-${logs.length}`, logHandler: (_level, ...args) => void logs.push(args.map(String).join(' ')) });
}

/** The blob container tagwall keeps its state in. */
export const stateContainer = (azurite: AzuriteWithQueue): ContainerClient => BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('tagwall');

export const shardQueue = (azurite: AzuriteWithQueue): QueueClient => QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(SHARD_QUEUE);

/** Sends a message as the timer does (base64 JSON), whoever wrote it. */
export async function sendToShardQueue(azurite: AzuriteWithQueue, message: object): Promise<void> {
  await shardQueue(azurite).createIfNotExists();
  await shardQueue(azurite).sendMessage(Buffer.from(JSON.stringify(message), 'utf8').toString('base64'));
}

/** Takes every waiting message off the shard queue, decoded as the host decodes it. */
export async function drainShardQueue<T = unknown>(azurite: AzuriteWithQueue): Promise<T[]> {
  const queue = shardQueue(azurite);
  const messages: T[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return messages;
    for (const m of receivedMessageItems) {
      messages.push(JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as T);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

/** A shard's stored result (runs/{runId}/{shard}.json), as the worker wrote it. */
export async function storedShard(azurite: AzuriteWithQueue, runId: string, shard: number): Promise<{ vaults: { vault: string; outcome: string; reasons?: string[] }[] }> {
  const blob = stateContainer(azurite).getBlobClient(`runs/${runId}/${shard}.json`);
  return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as { vaults: { vault: string; outcome: string; reasons?: string[] }[] };
}

/** The run id the timer's "tagwall.run <id> started" log line names. */
export function startedRunId(logs: readonly string[]): string {
  const started = logs.find((l) => l.startsWith('tagwall.run ') && l.includes(' started '))!;
  return /tagwall\.run (\S+) started/.exec(started)![1]!;
}

/** A webhook receiver on a free loopback port: each POST body goes to `take`, which picks the status to answer. */
export async function startWebhookReceiver(take: (body: string) => number): Promise<Server> {
  const receiver = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c));
    req.on('end', () => {
      res.writeHead(take(text)).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  return receiver;
}

/** The `alerts` config that sends generic webhooks to `receiver`, once each, quickly. */
export function webhookAlerts(receiver: Server): { webhook: { url: string; format: 'generic'; attempts: number; timeoutMs: number } } {
  return { webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, format: 'generic', attempts: 1, timeoutMs: 2000 } };
}

export async function closeServer(server: Server | undefined): Promise<void> {
  await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
}
