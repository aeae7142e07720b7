import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { TagwallError } from '../../src/core/errors.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { createStateStore } from '../../src/state/stores.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import { DEV_ACCOUNT, objectOnlySasConnectionString, startAzurite, type Azurite } from '../helpers/azurite.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { closedPort } from '../helpers/ports.js';
import { storeContract } from './store-contract.js';
import { failure } from '../helpers/failure.js';
import { startRecordingProxy, type Recorded } from '../helpers/recording-proxy.js';

let azurite: Azurite;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(() => azurite?.stop());

let n = 0;
const freshContainer = (): string => `state-${process.pid}-${++n}`;
const fastFail = { retryOptions: { maxTries: 1 } };
const VAULT = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-state';

const isCreateContainer = (r: Recorded): boolean => r.method === 'PUT' && /[?&]restype=container(&|$)/.test(r.path) && !/[?&]comp=/.test(r.path);

describe('BlobStore against Azurite', () => {
  storeContract(async () => BlobStore.fromConnectionString(azurite.connectionString, freshContainer()), { racing: true });

  it('creates its container on first use: the first read makes it, and finds nothing', async () => {
    const name = freshContainer();
    const store = BlobStore.fromConnectionString(azurite.connectionString, name);
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    expect(await service.getContainerClient(name).exists()).toBe(false);
    expect(await store.get('vaults/a.json')).toBeUndefined();
    expect(await service.getContainerClient(name).exists()).toBe(true);

    const etag = await store.put('vaults/a.json', '{"a":1}');
    const blob = service.getContainerClient(name).getBlobClient('vaults/a.json');
    const props = await blob.getProperties();
    expect(props.etag).toBe(etag);
    expect(props.contentType).toBe('application/json; charset=utf-8');
    expect((await blob.downloadToBuffer()).toString('utf8')).toBe('{"a":1}');
  });

  it('asks to create the container once per store, however many reads and writes follow', async () => {
    const proxy = await startRecordingProxy(azurite.port);
    try {
      const store = BlobStore.fromConnectionString(proxy.connectionString(azurite.connectionString), freshContainer());
      await Promise.all([store.get('a.json'), store.get('b.json'), store.put('c.json', '{}')]);
      await store.put('a.json', '{}');
      await store.get('a.json');
      expect(proxy.requests.filter(isCreateContainer)).toHaveLength(1);
      expect(proxy.requests.filter((r) => !isCreateContainer(r))).toHaveLength(5);
      // The create came first, before any blob request.
      expect(isCreateContainer(proxy.requests[0]!)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('stores one blob per key, under the key as its name', async () => {
    const name = freshContainer();
    const store = BlobStore.fromConnectionString(azurite.connectionString, name);
    await store.put('vaults/sub/rg/kv1.json', '{}');
    await store.put('vaults/sub/rg/kv2.json', '{}');
    await store.put('alerts/_run.json', '{}');
    const names: string[] = [];
    for await (const b of BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name).listBlobsFlat()) names.push(b.name);
    expect(names.sort()).toEqual(['alerts/_run.json', 'vaults/sub/rg/kv1.json', 'vaults/sub/rg/kv2.json']);
  });

  it('sees a write by another client as a new ETag', async () => {
    const name = freshContainer();
    const ours = BlobStore.fromConnectionString(azurite.connectionString, name);
    const theirs = BlobStore.fromConnectionString(azurite.connectionString, name);
    const etag = await ours.put('k.json', '{"v":1}');
    await theirs.put('k.json', '{"v":1}');
    // Same content, yet a real write happened in between: the blob ETag must move.
    expect((await failure(ours.put('k.json', '{"v":2}', { ifMatch: etag }))).code).toBe('STATE_CONFLICT');
  });

  it('makes the container again, once, when it is deleted behind the store\'s back', async () => {
    const proxy = await startRecordingProxy(azurite.port);
    try {
      const name = freshContainer();
      const store = BlobStore.fromConnectionString(proxy.connectionString(azurite.connectionString), name);
      const admin = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name);
      await store.put('k.json', '{"v":1}');
      await admin.delete();
      // Everything stored went with the container; the store is as new, as the next run's would be.
      expect(await store.get('k.json')).toBeUndefined();
      expect(await admin.exists()).toBe(true);
      await store.put('k.json', '{"v":2}');
      expect((await store.get('k.json'))?.text).toBe('{"v":2}');
      await admin.delete();
      await store.put('k.json', '{"v":3}');
      expect((await admin.getBlobClient('k.json').downloadToBuffer()).toString('utf8')).toBe('{"v":3}');
      expect(proxy.requests.filter(isCreateContainer)).toHaveLength(3);
    } finally {
      await proxy.close();
    }
  });

  describe('an identity that may not create the container (an object-only SAS: Azurite answers 403 to the create)', () => {
    const objectOnly = (): string => objectOnlySasConnectionString(azurite);

    it('is refused the create for real', async () => {
      const name = freshContainer();
      const refused = await BlobServiceClient.fromConnectionString(objectOnly(), fastFail).getContainerClient(name).createIfNotExists().then(
        () => undefined,
        (e: { statusCode?: number; code?: string }) => e,
      );
      expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationResourceTypeMismatch' });
    });

    it('reports a missing container as STATE_CONTAINER_MISSING on open, read and write, naming it, its account and the fix', async () => {
      const name = freshContainer();
      const store = BlobStore.fromConnectionString(objectOnly(), name, fastFail);
      for (const attempt of [() => store.open(), () => store.get('vaults/a.json'), () => store.put('vaults/a.json', '{}'), () => store.put('vaults/a.json', '{}', { ifNoneExists: true })]) {
        const e = await failure(attempt());
        expect(e.code).toBe('STATE_CONTAINER_MISSING');
        expect(e.transient).toBe(false);
        expect(e.message).toContain(`blob container ${name} in storage account ${DEV_ACCOUNT} (${azurite.url})`);
        expect(e.message).toMatch(/may not create it \(HTTP 403 AuthorizationResourceTypeMismatch/);
        expect(e.details.join('\n')).toMatch(/Storage Blob Data Contributor" on the storage account/);
        expect(e.details.join('\n')).toContain(`az storage container create --name ${name} --account-name ${DEV_ACCOUNT}`);
        expect(`${e.message} ${e.details.join(' ')}`).not.toMatch(/sig=/);
      }
      // Nothing was made behind the caller's back either.
      expect(await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name).exists()).toBe(false);
    });

    it('keeps it an error through the record layer: never "no state" for a vault', async () => {
      const store = BlobStore.fromConnectionString(objectOnly(), freshContainer(), fastFail);
      const e = await failure(new TargetStateRepository(store).load(parseVaultId(VAULT)));
      expect(e.code).toBe('STATE_CONTAINER_MISSING');
      expect(e.message).toMatch(/^state for vault .* cannot be read: blob container/);
    });

    it('works in a container someone else created: a blob not there is "nothing stored"', async () => {
      const name = freshContainer();
      const store = BlobStore.fromConnectionString(objectOnly(), name, fastFail);
      expect((await failure(store.get('k.json'))).code).toBe('STATE_CONTAINER_MISSING');
      await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name).create();
      // The same store, without asking to create it again: the container is there now.
      expect(await store.open()).toEqual([]);
      expect(await store.get('k.json')).toBeUndefined();
      const etag = await store.put('k.json', '{"v":1}');
      expect(await store.get('k.json')).toEqual({ text: '{"v":1}', etag });
    });
  });

  it('deletes a blob, and deleting a missing one is not an error', async () => {
    const store = BlobStore.fromConnectionString(azurite.connectionString, freshContainer());
    await store.delete('never.json');
    await store.put('k.json', '{}');
    await store.delete('k.json');
    expect(await store.get('k.json')).toBeUndefined();
  });

  it.each(['', 'a//b.json', '../escape.json', 'vaults/./x.json', 'ends-with-dot.', 'back\\slash.json'])('refuses %j as a blob name', async (key) => {
    const store = BlobStore.fromConnectionString(azurite.connectionString, freshContainer());
    expect((await failure(store.put(key, '{}'))).code).toBe('STATE_KEY_INVALID');
  });

  it('reports a wrong account key as STATE_AUTH_FAILED, not transient, without echoing the key', async () => {
    const wrongKey = Buffer.from('not the azurite key, but valid base64').toString('base64');
    const conn = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`);
    const store = BlobStore.fromConnectionString(conn, freshContainer(), fastFail);
    for (const attempt of [() => store.get('k.json'), () => store.put('k.json', '{}')]) {
      const e = await failure(attempt());
      expect(e.code).toBe('STATE_AUTH_FAILED');
      expect(e.transient).toBe(false);
      expect(e.message).toContain(azurite.url);
      expect(`${e.message} ${e.details.join(' ')}`).not.toContain(wrongKey);
    }
  });

  it('reports storage that does not answer as STATE_UNAVAILABLE, transient', async () => {
    const port = await closedPort();
    const conn = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`);
    const store = BlobStore.fromConnectionString(conn, freshContainer(), fastFail);
    for (const attempt of [() => store.get('k.json'), () => store.put('k.json', '{}')]) {
      const e = await failure(attempt());
      expect(e.code).toBe('STATE_UNAVAILABLE');
      expect(e.transient).toBe(true);
      expect(e.message).toContain(`127.0.0.1:${port}`);
    }
  });
});

describe('createStateStore', () => {
  const credential: TokenCredential = {
    getToken: async (): Promise<AccessToken> => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };

  it('gives a RecordFileStore for file state', () => {
    const store = createStateStore({ store: 'file', path: '/tmp/tagwall-test/state.json' }, {});
    expect(store).toBeInstanceOf(RecordFileStore);
    expect(store.description).toBe('state folder /tmp/tagwall-test/state');
  });

  it('reads the connection string from AzureWebJobsStorage by default, into container tagwall', async () => {
    const store = createStateStore({ store: 'blob' }, { AzureWebJobsStorage: azurite.connectionString });
    expect(store.description).toBe(`blob container tagwall at ${azurite.url}`);
    const etag = await store.put('factory.json', '{"ok":true}');
    expect(await store.get('factory.json')).toEqual({ text: '{"ok":true}', etag });
  });

  it('reads a named setting and container', async () => {
    const container = freshContainer();
    const store = createStateStore({ store: 'blob', connectionSetting: 'TAGWALL_STATE', container }, { TAGWALL_STATE: azurite.connectionString });
    await store.put('k.json', '{}');
    expect(await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).exists()).toBe(true);
  });

  it('accepts UseDevelopmentStorage=true as Azurite on its default port', () => {
    const store = createStateStore({ store: 'blob' }, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(store.description).toBe('blob container tagwall at http://127.0.0.1:10000/devstoreaccount1');
  });

  it('uses an HTTPS account URL with the given credential', () => {
    const store = createStateStore({ store: 'blob', accountUrl: 'https://acct.blob.core.windows.net/', container: 'state' }, {}, credential);
    expect(store.description).toBe('blob container state at https://acct.blob.core.windows.net');
  });

  it('follows the identity-based form of the setting that Functions uses', () => {
    expect(createStateStore({ store: 'blob' }, { AzureWebJobsStorage__accountName: 'acct' }, credential).description).toBe(
      'blob container tagwall at https://acct.blob.core.windows.net',
    );
    expect(
      createStateStore({ store: 'blob', connectionSetting: 'S' }, { S__blobServiceUri: 'https://other.blob.core.windows.net' }, credential).description,
    ).toBe('blob container tagwall at https://other.blob.core.windows.net');
  });

  it('never shows a SAS token in its description', () => {
    const conn = 'BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2024-01-01&sig=SECRETSIG';
    expect(createStateStore({ store: 'blob' }, { AzureWebJobsStorage: conn }).description).not.toContain('SECRETSIG');
  });

  it.each<[string, Parameters<typeof createStateStore>[0], Record<string, string>, RegExp]>([
    ['no setting', { store: 'blob' }, {}, /AzureWebJobsStorage/],
    ['an empty named setting', { store: 'blob', connectionSetting: 'MY_STATE' }, { MY_STATE: ' ' }, /MY_STATE/],
    ['a plain-HTTP account URL', { store: 'blob', accountUrl: 'http://acct.blob.core.windows.net' }, {}, /https/],
    ['an invalid container name', { store: 'blob', container: 'Bad_Name' }, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' }, /Bad_Name/],
  ])('refuses %s with STATE_CONFIG_INVALID', (_label, config, env, mentions) => {
    let thrown: unknown;
    try {
      createStateStore(config, env, credential);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TagwallError);
    expect((thrown as TagwallError).code).toBe('STATE_CONFIG_INVALID');
    expect((thrown as TagwallError).message).toMatch(mentions);
  });

  it('names the setting, not its secret value, when the connection string is malformed', () => {
    const secret = 'AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;DefaultEndpointsProtocol=ftp';
    let thrown: unknown;
    try {
      createStateStore({ store: 'blob', connectionSetting: 'STATE_CONN' }, { STATE_CONN: secret });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as TagwallError).code).toBe('STATE_CONFIG_INVALID');
    expect((thrown as TagwallError).message).toContain('STATE_CONN');
    expect((thrown as TagwallError).message).not.toContain('c2VjcmV0LWtleQ==');
  });
});
