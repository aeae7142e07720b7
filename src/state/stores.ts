import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { dirname, join } from 'node:path';
import type { AlertLogger } from '../alerts/types.js';
import type { TagwallConfig } from '../config/config.js';
import { describeError, TagwallError } from '../core/errors.js';
import { BlobStore, DEFAULT_CONNECTION_SETTING, DEFAULT_CONTAINER } from './blob-store.js';
import { RecordFileStore } from './record-file-store.js';
import { FolderStore, type KeyValueStore } from './store.js';

/** Which store a configuration names, built and opened: the one place that decides where state lives. */

export type StateStoreConfig =
  | { readonly store: 'file'; readonly path: string }
  | { readonly store: 'blob'; readonly connectionSetting?: string; readonly container?: string; readonly accountUrl?: string };

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds the configured store. For blob state the account comes from, in order: `accountUrl`
 * (with `credential`, or the host's identity); the connection string in the app setting
 * `connectionSetting`; or the identity-based form of that setting that Functions uses
 * (`<setting>__blobServiceUri` / `__serviceUri` / `__accountName`, optional `__clientId`).
 */
export function createStateStore(config: StateStoreConfig, env: Env, credential?: TokenCredential, options: StoragePipelineOptions = {}): KeyValueStore {
  if (config.store === 'file') return new RecordFileStore(config.path);
  const container = config.container ?? DEFAULT_CONTAINER;
  const setting = config.connectionSetting ?? DEFAULT_CONNECTION_SETTING;
  const identity = (clientId: string | undefined): TokenCredential =>
    credential ?? (clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential());

  if (config.accountUrl !== undefined) return BlobStore.fromAccountUrl(config.accountUrl, identity(undefined), container, options);

  const connectionString = env[setting]?.trim();
  if (connectionString) {
    try {
      return BlobStore.fromConnectionString(connectionString, container, options);
    } catch (e) {
      if (e instanceof TagwallError && e.code === 'STATE_CONFIG_INVALID') {
        throw new TagwallError('STATE_CONFIG_INVALID', `app setting ${setting}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  const accountName = env[`${setting}__accountName`]?.trim();
  const serviceUri = env[`${setting}__blobServiceUri`]?.trim() || env[`${setting}__serviceUri`]?.trim() || (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  if (serviceUri) return BlobStore.fromAccountUrl(serviceUri, identity(env[`${setting}__clientId`]?.trim()), container, options);

  throw new TagwallError(
    'STATE_CONFIG_INVALID',
    `blob state needs a storage account: set the app setting ${setting} to a connection string (UseDevelopmentStorage=true for Azurite), set ${setting}__blobServiceUri or ${setting}__accountName for managed identity, or give state.accountUrl`,
  );
}

/**
 * The state store, opened (the file store's lock taken, the blob container made sure of) so a
 * run that could not record its work fails before touching a vault, and where the last-known-good
 * service-tags file is kept beside it. Disposing of the result closes the store.
 */
export async function storesFor(config: TagwallConfig, runtime: { readonly env: Env; readonly logger: AlertLogger }, credential: TokenCredential): Promise<{ state: KeyValueStore; cache: KeyValueStore } & AsyncDisposable> {
  const state = createStateStore(config.state, runtime.env, credential);
  for (const warning of (await state.open?.()) ?? []) runtime.logger.warn(warning);
  // The run's work is done by then: a lock that cannot be removed is reported, not made the run's failure.
  const close = { [Symbol.asyncDispose]: () => Promise.resolve(state.close?.()).catch((e: unknown) => runtime.logger.warn(`state not closed: ${describeError(e)}`)) };
  if (config.state.store === 'blob') return { state, cache: state, ...close };
  const cacheDir = 'cacheDir' in config.serviceTags && config.serviceTags.cacheDir !== undefined ? config.serviceTags.cacheDir : join(dirname(config.state.path), 'cache');
  return { state, cache: new FolderStore(cacheDir), ...close };
}

