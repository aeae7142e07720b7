import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/state/blob-store.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { defaultOwnerId } from '../../src/state/owner-id.js';
import { createStateStore } from '../../src/state/stores.js';

/**
 * The default owner ID comes from where the state lives: the same for every run of one
 * installation, different for installations with their own state. No request is made: a store
 * is only constructed.
 */

const AZURITE = 'UseDevelopmentStorage=true';
const sha8 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8);

describe('defaultOwnerId', () => {
  it('a file store: a hash of its absolute path, whichever relative spelling named it', () => {
    const a = defaultOwnerId(new JsonFileStore('state/a.json'));
    expect(a).toBe(sha8(`file:${resolve('state/a.json')}`));
    expect(defaultOwnerId(new JsonFileStore(resolve('state/a.json')))).toBe(a);
    expect(defaultOwnerId(new JsonFileStore('state/./a.json'))).toBe(a);
    expect(defaultOwnerId(new JsonFileStore('state/b.json'))).not.toBe(a);
  });

  it('a blob store: the account and the container, however the account was given', () => {
    const tagwall = defaultOwnerId(BlobStore.fromConnectionString(AZURITE, 'tagwall'));
    expect(tagwall).toMatch(/^[0-9a-f]{8}$/);
    expect(defaultOwnerId(BlobStore.fromConnectionString(AZURITE, 'tagwall'))).toBe(tagwall);
    expect(defaultOwnerId(BlobStore.fromConnectionString(AZURITE, 'tagwall-b'))).not.toBe(tagwall);
    // The Functions app's path: the connection string in AzureWebJobsStorage.
    expect(defaultOwnerId(createStateStore({ store: 'blob' }, { AzureWebJobsStorage: AZURITE }))).toBe(tagwall);
    // Managed identity: the account URL, by setting or by accountUrl, is one account.
    const byName = defaultOwnerId(createStateStore({ store: 'blob' }, { AzureWebJobsStorage__accountName: 'stprod' }, fakeCredential));
    const byUrl = defaultOwnerId(createStateStore({ store: 'blob', accountUrl: 'https://stprod.blob.core.windows.net/' }, {}, fakeCredential));
    expect(byUrl).toBe(byName);
    expect(byName).toBe(sha8('blob:https://stprod.blob.core.windows.net/tagwall'));
  });
});

const fakeCredential = { getToken: async () => ({ token: 'x', expiresOnTimestamp: Date.now() + 60_000 }) };
