import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { QueueServiceClient, type QueueClient, type StoragePipelineOptions } from '@azure/storage-queue';
import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { parseResourceId } from '../core/resource-id.js';
import { statusOf, storageCodeOf, storageReason } from '../state/blob-errors.js';
import type { Env } from '../state/stores.js';
import { failFast, publicUrl } from '../state/storage-client.js';
import type { ShardMessage, ShardSink } from './model.js';

/**
 * The Storage queue between the timer and the shard workers. Messages are JSON, base64-encoded:
 * the Functions host decodes base64 by default (host.json says so explicitly), and a body that
 * is valid base64 can never be mangled by the XML the queue API wraps it in.
 */

export const SHARD_QUEUE = 'tagwall-shards';
/** Where the host moves a message once it has been delivered maxDequeueCount times (the host's `<queue>-poison`). */
export const SHARD_POISON_QUEUE = `${SHARD_QUEUE}-poison`;
/** Storage refuses a message text over 64 KiB; base64 is what is counted. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** A shard's targets are bounded so a message stays far below the size limit and one invocation below its timeout. */
export const MAX_SHARD_TARGETS = 500;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const shardMessageSchema = z.object({
  version: z.literal(1),
  runId: z.uuid(),
  document: z.string().regex(SHA256_HEX, 'must be the 64-hex sha256 of the stored service-tags document'),
  shard: z.number().int().nonnegative(),
  targets: z
    .array(
      z.object({
        id: z.string().refine((id) => isResourceId(id), 'must be an ARM resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>)'),
        profile: z.string().min(1).optional(),
        fingerprint: z.string().min(1).max(1024).optional(),
      }),
    )
    .min(1)
    .max(MAX_SHARD_TARGETS),
  force: z.boolean().optional(),
});

function isResourceId(id: string): boolean {
  try {
    parseResourceId(id);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the queue trigger hands the handler: the worker has already decoded base64, and parsed
 * the text when it was JSON, so an object or a string arrives. Anything else is refused with
 * every problem listed, because the host will retry it and then park it on the poison queue.
 */
export function parseShardMessage(raw: unknown): ShardMessage {
  let value = raw;
  if (raw instanceof Uint8Array) value = Buffer.from(raw).toString('utf8');
  if (typeof value === 'string') {
    const text = value;
    try {
      value = JSON.parse(text);
    } catch {
      const hint = looksLikeBase64Json(text) ? ' (it is still base64: the host must decode it; host.json sets extensions.queues.messageEncoding to base64)' : '';
      throw invalid([`(message): not JSON${hint}`]);
    }
  }
  const parsed = shardMessageSchema.safeParse(value);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => `${i.path.length === 0 ? '(message)' : i.path.map(String).join('.')}: ${i.message}`));
  return parsed.data as ShardMessage;
}

function looksLikeBase64Json(text: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text.trim())) return false;
  try {
    JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function invalid(problems: readonly string[]): TagwallError {
  return new TagwallError('SHARD_MESSAGE_INVALID', `not a tagwall shard message: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, {
    details: problems,
  });
}

/** The message text as it goes on the queue; refuses what the queue would refuse, before sending. */
export function encodeShardMessage(message: ShardMessage): string {
  const checked = parseShardMessage(message);
  const text = Buffer.from(JSON.stringify(checked), 'utf8').toString('base64');
  if (text.length > MAX_MESSAGE_BYTES) {
    throw new TagwallError(
      'SHARD_MESSAGE_TOO_LARGE',
      `shard ${message.shard} of run ${message.runId} is ${text.length} bytes encoded, over the queue's limit of ${MAX_MESSAGE_BYTES}; make shards smaller`,
      { values: { bytes: text.length, limit: MAX_MESSAGE_BYTES, targets: message.targets.length } },
    );
  }
  return text;
}

export interface ShardQueueOptions {
  readonly env: Env;
  /** The app setting naming the account, as the trigger's `connection` does. */
  readonly connectionSetting?: string;
  readonly queueName?: string;
  /** For identity-based settings; defaults to the managed identity the setting names, or DefaultAzureCredential. */
  readonly credential?: TokenCredential;
  readonly pipeline?: StoragePipelineOptions;
}

/** How many sends are in flight at once: a few hundred shards go out in seconds, without a burst of sockets. */
const SEND_CONCURRENCY = 8;

/**
 * A ShardSink over the queue the trigger reads. The account comes from the same app setting the
 * trigger uses: a connection string, or the identity-based form (`<setting>__queueServiceUri`,
 * or `<setting>__accountName`, with an optional `<setting>__clientId`).
 */
export function createShardQueue(options: ShardQueueOptions): ShardSink & { readonly description: string } {
  const queueName = options.queueName ?? SHARD_QUEUE;
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(queueName)) {
    throw new TagwallError('QUEUE_CONFIG_INVALID', `${JSON.stringify(queueName)} is not a valid queue name (3-63 lowercase letters, digits and single dashes)`);
  }
  const queue = queueClientFor(options, queueName);
  const description = `queue ${queueName} at ${publicUrl(queue.url)}`;
  let ready: Promise<void> | undefined;

  const ensureQueue = (): Promise<void> => {
    const attempt: Promise<void> =
      ready ??
      queue.createIfNotExists().then(
        () => undefined,
        (e: unknown) => {
          // A sender role (Storage Queue Data Message Sender) cannot create the queue yet can send
          // to one that exists: let the send say whether it is there.
          if (statusOf(e) === 403) return undefined;
          if (ready === attempt) ready = undefined;
          throw queueFailure(e, `${description}: cannot create the queue`);
        },
      );
    ready = attempt;
    return attempt;
  };

  return {
    description,
    async send(messages) {
      // Every message is checked before the first is sent, so a bad shard never leaves a run half-enqueued.
      const texts = messages.map(encodeShardMessage);
      if (texts.length === 0) return;
      await ensureQueue();
      let next = 0;
      let sent = 0;
      let failed = false;
      const worker = async (): Promise<void> => {
        while (!failed && next < texts.length) {
          const i = next++;
          try {
            await queue.sendMessage(texts[i]!);
            sent++;
          } catch (e) {
            failed = true;
            const failure = queueFailure(e, `${description}: shard ${messages[i]!.shard} not sent`);
            throw new TagwallError(failure.code, failure.message, { transient: failure.transient, details: failure.details, cause: e, values: { ...failure.values, sent } });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, texts.length) }, worker));
    },
  };
}

function queueClientFor(options: ShardQueueOptions, queueName: string): QueueClient {
  const setting = options.connectionSetting ?? 'AzureWebJobsStorage';
  const pipeline = failFast(options.pipeline ?? {});
  const connectionString = options.env[setting]?.trim();
  if (connectionString) {
    try {
      return QueueServiceClient.fromConnectionString(connectionString, pipeline).getQueueClient(queueName);
    } catch (e) {
      // The string is a secret: only the SDK's reason is repeated.
      throw new TagwallError('QUEUE_CONFIG_INVALID', `app setting ${setting}: the storage connection string is not valid (${(e as Error).message})`, { cause: e });
    }
  }
  const accountName = options.env[`${setting}__accountName`]?.trim();
  const serviceUri = options.env[`${setting}__queueServiceUri`]?.trim() || (accountName ? `https://${accountName}.queue.core.windows.net` : undefined);
  if (serviceUri === undefined) {
    throw new TagwallError(
      'QUEUE_CONFIG_INVALID',
      `the shard queue needs a storage account: set the app setting ${setting} to a connection string, or ${setting}__queueServiceUri or ${setting}__accountName for managed identity`,
    );
  }
  let url: URL;
  try {
    url = new URL(serviceUri);
  } catch (e) {
    throw new TagwallError('QUEUE_CONFIG_INVALID', `${setting}__queueServiceUri: ${JSON.stringify(serviceUri)} is not a URL`, { cause: e });
  }
  if (url.protocol !== 'https:') {
    throw new TagwallError('QUEUE_CONFIG_INVALID', `${setting}__queueServiceUri ${publicUrl(serviceUri)} must use https: a managed-identity token is never sent over plain HTTP`);
  }
  const clientId = options.env[`${setting}__clientId`]?.trim();
  const credential = options.credential ?? (clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential());
  return new QueueServiceClient(serviceUri, credential, pipeline).getQueueClient(queueName);
}

function queueFailure(e: unknown, what: string): TagwallError {
  if (e instanceof TagwallError) return e;
  const status = statusOf(e);
  const code = storageCodeOf(e);
  const details =
    status === 401 || status === 403
      ? ['the identity needs "Storage Queue Data Message Sender" on the queue (and "Storage Queue Data Contributor" on the account to create it); with a connection string, check the key or SAS']
      : code === 'QueueNotFound'
        ? [`create the queue once, e.g. az storage queue create --name <queue> --account-name <account> --auth-mode login`]
        : [];
  // Only a refusal that someone must fix is permanent; outages and throttling pass.
  const transient = !(status === 400 || status === 401 || status === 403 || status === 404 || status === 413);
  return new TagwallError('QUEUE_UNAVAILABLE', `${what} (${storageReason(e)})`, { transient, details, cause: e, values: status === undefined ? {} : { status } });
}

