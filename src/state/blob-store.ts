import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import { TagwallError } from '../core/errors.js';
import { storageCodeOf, storageFailure, storageReason, statusOf } from './blob-errors.js';
import { conflict, type DeleteCondition, type KeyValueStore, type StoredText, type WriteCondition } from './store.js';
import { failFast, publicUrl } from './storage-client.js';

/**
 * One blob per key in a container, each write conditional on the ETag the caller read
 * (`If-Match`) or on there being no blob yet (`If-None-Match: *`). This is the store for
 * the Functions app: two overlapping runs cannot both write a record they both read.
 */
export class BlobStore implements KeyValueStore {
  readonly description: string;
  readonly location: string;
  private containerReady: Promise<ContainerAccess> | undefined;

  constructor(
    private readonly container: ContainerClient,
    /** Where the container lives, for messages; never includes a SAS. */
    private readonly where: string,
  ) {
    this.description = `blob container ${container.containerName} at ${where}`;
    this.location = `blob:${where}/${container.containerName}`;
  }

  /** Also accepts `UseDevelopmentStorage=true` (Azurite on its default ports). */
  static fromConnectionString(connectionString: string, container = DEFAULT_CONTAINER, options: StoragePipelineOptions = {}): BlobStore {
    checkContainerName(container);
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(connectionString, failFast(options));
    } catch (e) {
      // The SDK's reason is generic ("Invalid AccountName ..."); the string itself is a secret and is never echoed.
      throw new TagwallError('STATE_CONFIG_INVALID', `the storage connection string is not valid (${(e as Error).message})`, { cause: e });
    }
    return new BlobStore(service.getContainerClient(container), publicUrl(service.url));
  }

  /** For managed identity: the account URL must be HTTPS, since tokens are never sent in the clear. */
  static fromAccountUrl(accountUrl: string, credential: TokenCredential, container = DEFAULT_CONTAINER, options: StoragePipelineOptions = {}): BlobStore {
    checkContainerName(container);
    let url: URL;
    try {
      url = new URL(accountUrl);
    } catch (e) {
      throw new TagwallError('STATE_CONFIG_INVALID', `${JSON.stringify(accountUrl)} is not a storage account URL`, { cause: e });
    }
    if (url.protocol !== 'https:') {
      throw new TagwallError('STATE_CONFIG_INVALID', `storage account URL ${publicUrl(accountUrl)} must use https: a managed-identity token is never sent over plain HTTP`);
    }
    const service = new BlobServiceClient(accountUrl, credential, failFast(options));
    return new BlobStore(service.getContainerClient(container), publicUrl(service.url));
  }

  /**
   * Creates the container if it is missing. When this identity may not create it, a read is the
   * only way to learn whether it is there, so one is made: a run must not find out at its first
   * write, after the vaults were changed, that nothing it does can be recorded.
   */
  async open(): Promise<readonly string[]> {
    const access = await this.ensureContainer();
    if (access.createRefused !== undefined) await this.get(PROBE_KEY);
    return [];
  }

  async get(key: string): Promise<StoredText | undefined> {
    const blob = this.container.getBlockBlobClient(checkBlobName(key));
    try {
      return await this.inContainer(async () => {
        try {
          const response = await blob.download();
          const text = await readText(response.readableStreamBody);
          return { text, etag: requireEtag(response.etag, this.description, key) };
        } catch (e) {
          // Only a blob missing from a container that is there counts as "nothing stored": a
          // missing container, or a 404 from a wrong endpoint, must not read as an empty state,
          // or every rule would look unmanaged.
          if (statusOf(e) === 404 && storageCodeOf(e) === 'BlobNotFound') return undefined;
          throw e;
        }
      });
    } catch (e) {
      throw storageFailure(e, `${this.description}: cannot read ${key}`);
    }
  }

  async put(key: string, text: string, condition: WriteCondition = {}): Promise<string> {
    const name = checkBlobName(key);
    const body = Buffer.from(text, 'utf8');
    const conditions = {
      ...(condition.ifMatch !== undefined ? { ifMatch: condition.ifMatch } : {}),
      ...(condition.ifNoneExists ? { ifNoneMatch: '*' } : {}),
    };
    try {
      return await this.inContainer(async () => {
        const response = await this.container.getBlockBlobClient(name).upload(body, body.length, {
          conditions,
          blobHTTPHeaders: { blobContentType: name.endsWith('.json') ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8' },
        });
        return requireEtag(response.etag, this.description, key);
      });
    } catch (e) {
      const status = statusOf(e);
      // 412: the ETag moved on. 409: If-None-Match found a blob (BlobAlreadyExists) or a lease holds it.
      if (status === 412 || status === 409) throw conflict(this.description, key);
      throw storageFailure(e, `${this.description}: cannot write ${key}`);
    }
  }

  async list(prefix: string): Promise<ReadonlyMap<string, string>> {
    try {
      return await this.inContainer(async () => {
        const found = new Map<string, string>();
        for await (const page of this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: LIST_PAGE })) {
          for (const blob of page.segment.blobItems) found.set(blob.name, quotedEtag(requireEtag(blob.properties.etag, this.description, blob.name)));
        }
        return found;
      });
    } catch (e) {
      throw storageFailure(e, `${this.description}: cannot list ${prefix}`);
    }
  }

  async delete(key: string, condition: DeleteCondition = {}): Promise<void> {
    const blob = this.container.getBlockBlobClient(checkBlobName(key));
    let status: number | undefined;
    try {
      await blob.deleteIfExists(condition.ifMatch === undefined ? {} : { conditions: { ifMatch: condition.ifMatch } });
      return;
    } catch (e) {
      // Nothing to delete in a container that is not there; creating one to delete from would be odd.
      if (isContainerNotFound(e)) return;
      status = statusOf(e);
      // 412: written since it was read, or (Azurite) no blob to match. 409: a lease holds it.
      if (status !== 412 && status !== 409) throw storageFailure(e, `${this.description}: cannot delete ${key}`);
    }
    // A blob already gone loses no one's record: deleted, as without a condition.
    if (status === 412 && !(await this.exists(key, blob))) return;
    throw conflict(this.description, key, 'deleted');
  }

  private async exists(key: string, blob: ReturnType<ContainerClient['getBlockBlobClient']>): Promise<boolean> {
    try {
      return await blob.exists();
    } catch (e) {
      throw storageFailure(e, `${this.description}: cannot read ${key}`);
    }
  }

  /**
   * Runs a read or write once the container has been made sure of. A container missing although
   * it was there (deleted behind our back) is made again, once; one this identity may not create
   * is STATE_CONTAINER_MISSING, never "nothing stored".
   */
  private async inContainer<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const ready = this.ensureContainer();
      const access = await ready;
      try {
        return await operation();
      } catch (e) {
        if (!isContainerNotFound(e)) throw e;
        if (access.createRefused !== undefined) throw this.containerMissing(access.createRefused);
        if (attempt > 1) throw this.containerMissing(undefined);
        // Deleted since it was made sure of: the next pass creates it again.
        if (this.containerReady === ready) this.containerReady = undefined;
      }
    }
  }

  /** Creates the container once per store, before the first read or write; a failed attempt is retried by the next. */
  private ensureContainer(): Promise<ContainerAccess> {
    const ready: Promise<ContainerAccess> =
      this.containerReady ??
      this.container.createIfNotExists().then(
        () => ({}),
        (e: unknown) => {
          // A role granted on the container alone cannot create it, yet can read and write in it:
          // let the read or write itself say whether the container is there.
          if (statusOf(e) === 403) return { createRefused: e };
          if (this.containerReady === ready) this.containerReady = undefined;
          throw storageFailure(e, `${this.description}: cannot create the container`);
        },
      );
    this.containerReady = ready;
    return ready;
  }

  private containerMissing(createRefused: unknown): TagwallError {
    const name = this.container.containerName;
    const account = this.container.accountName;
    const where = `blob container ${name} in storage account ${account} (${this.where})`;
    if (createRefused === undefined) {
      return new TagwallError('STATE_CONTAINER_MISSING', `${where} does not exist, although creating it has just succeeded; something may be deleting it`);
    }
    return new TagwallError(
      'STATE_CONTAINER_MISSING',
      `${where} does not exist, and this identity may not create it (${storageReason(createRefused)}); a missing container is never read as "no state"`,
      {
        cause: createRefused,
        details: [
          `create the container once, e.g. az storage container create --name ${name} --account-name ${account} --auth-mode login`,
          `or grant the identity "Storage Blob Data Contributor" on the storage account (a role on the container alone cannot create it), and tagwall creates it on first use`,
          'with a SAS connection string: the SAS needs the container resource type (srt=c) and the create permission (sp=c)',
        ],
      },
    );
  }
}

export const DEFAULT_CONTAINER = 'tagwall';
export const DEFAULT_CONNECTION_SETTING = 'AzureWebJobsStorage';

/** The most names one list request returns. */
const LIST_PAGE = 5_000;

/** Read only to learn whether the container exists; never written. */
const PROBE_KEY = 'open-probe';

/** Whether the identity could create the container; when it could not, what the create request answered. */
interface ContainerAccess {
  readonly createRefused?: unknown;
}

function isContainerNotFound(e: unknown): boolean {
  return statusOf(e) === 404 && storageCodeOf(e) === 'ContainerNotFound';
}

function requireEtag(etag: string | undefined, store: string, key: string): string {
  if (etag === undefined || etag === '') {
    throw new TagwallError('STATE_REQUEST_FAILED', `${store}: the response for ${key} carried no ETag`);
  }
  return etag;
}

/** A listing gives ETags bare (`0x8D...`), a read's header quoted: one form, so they compare. */
function quotedEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`;
}

async function readText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (stream === undefined) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Container names: 3-63 lowercase letters, digits and single dashes, starting and ending alphanumeric. */
function checkContainerName(name: string): void {
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(name)) {
    throw new TagwallError('STATE_CONFIG_INVALID', `${JSON.stringify(name)} is not a valid blob container name (3-63 lowercase letters, digits and single dashes)`);
  }
}

/**
 * Keys are paths like `vaults/<sub>/<rg>/<name>.json`. Refuse what would be stored under a
 * different name than asked for: dot segments and empty segments are folded by URL handling,
 * backslashes are turned into slashes by some tools.
 */
function checkBlobName(key: string): string {
  const segments = key.split('/');
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.includes('\\') ||
    key.endsWith('.') ||
    /[\u0000-\u001f\u007f]/.test(key) ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new TagwallError('STATE_KEY_INVALID', `${JSON.stringify(key)} cannot be used as a blob name`);
  return key;
}
