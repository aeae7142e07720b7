import { describe, expect, it } from 'vitest';
import { seedVault, useTestEmulator, subnetId, TEST_GROUP, TEST_SUBSCRIPTION, vaultId, type TestEmulator } from '../helpers/emulator.js';

/** The ARM surface itself, over raw HTTPS where the SDK would hide what is on the wire. */

const API = '?api-version=2026-02-01';
const SUBNET = subnetId('vnet-a', 'snet-1');

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [
    seedVault('kv-one', {
      bypass: 'AzureServices',
      defaultAction: 'Deny',
      ipRules: [{ value: '145.14.56.23' }],
      virtualNetworkRules: [{ id: SUBNET }],
    }),
  ],
}));

describe('authentication and api-version', () => {
  it('answers 401 AuthenticationFailed without an Authorization header, and logs the attempt', async () => {
    const res = await t.fetch('GET', `${vaultId('kv-one')}${API}`, { token: null });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." } });
    expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer /);
    const [entry] = await t.emulator.control.requests();
    expect(entry).toMatchObject({ kind: 'arm', method: 'GET', vault: 'kv-one', status: 401 });
    expect(entry?.token).toBeUndefined();
  });

  it('accepts any bearer token and records it', async () => {
    const res = await t.fetch('GET', `${vaultId('kv-one')}${API}`, { token: 'anything-at-all' });
    expect(res.status).toBe(200);
    expect((await t.emulator.control.requests())[0]?.token).toBe('anything-at-all');
  });

  it('refuses a non-bearer Authorization header', async () => {
    const res = await t.fetch('GET', `${vaultId('kv-one')}${API}`, { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain('invalid format');
  });

  it.each(['2026-02-01', '2025-05-01'])('serves api-version %s', async (v) => {
    const res = await t.fetch('GET', `${vaultId('kv-one')}?api-version=${v}`);
    expect(res.status).toBe(200);
    expect((await t.emulator.control.requests())[0]?.apiVersion).toBe(v);
  });

  it('refuses other api-versions with InvalidApiVersionParameter, and a missing one too', async () => {
    const old = await t.fetch('GET', `${vaultId('kv-one')}?api-version=2019-09-01`);
    expect(old.status).toBe(400);
    expect(old.json.error.code).toBe('InvalidApiVersionParameter');
    expect(old.json.error.message).toContain("'2019-09-01'");
    const none = await t.fetch('GET', vaultId('kv-one'));
    expect(none.status).toBe(400);
    expect(none.json.error.code).toBe('MissingApiVersionParameter');
  });
});

describe('GET', () => {
  it('returns a realistic Vault resource', async () => {
    const res = await t.fetch('GET', `${vaultId('kv-one')}${API}`);
    expect(res.status).toBe(200);
    expect(String(res.headers['x-ms-request-id'])).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json).toMatchObject({
      id: vaultId('kv-one'),
      name: 'kv-one',
      type: 'Microsoft.KeyVault/vaults',
      location: 'westeurope',
      properties: {
        tenantId: '00000000-0000-0000-0000-000000000000',
        sku: { family: 'A', name: 'standard' },
        vaultUri: 'https://kv-one.vault.azure.net/',
        provisioningState: 'Succeeded',
        publicNetworkAccess: 'Enabled',
        networkAcls: {
          bypass: 'AzureServices',
          defaultAction: 'Deny',
          ipRules: [{ value: '145.14.56.23/32' }],
          virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: false }],
        },
      },
    });
  });

  it('matches the path case-insensitively, as ARM does', async () => {
    const path = `/SUBSCRIPTIONS/${TEST_SUBSCRIPTION}/resourcegroups/${TEST_GROUP.toUpperCase()}/providers/microsoft.keyvault/VAULTS/KV-ONE`;
    const res = await t.fetch('GET', `${path}${API}`);
    expect(res.status).toBe(200);
    expect(res.json.id).toBe(vaultId('kv-one'));
  });

  it('answers 404 ResourceNotFound for an unknown vault', async () => {
    const res = await t.fetch('GET', `${vaultId('kv-nope')}${API}`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({
      error: {
        code: 'ResourceNotFound',
        message: `The Resource 'Microsoft.KeyVault/vaults/kv-nope' under resource group '${TEST_GROUP}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      },
    });
  });

  it('answers 404 for paths that are not Key Vaults and 405 for other methods', async () => {
    expect((await t.fetch('GET', `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups${API}`)).status).toBe(404);
    expect((await t.fetch('DELETE', `${vaultId('kv-one')}${API}`)).status).toBe(405);
  });
});

describe('PATCH is a JSON merge patch', () => {
  it('replaces only the networkAcls fields given; arrays are replaced whole', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-one')}${API}`, { body: { properties: { networkAcls: { ipRules: [{ value: '20.1.0.0/16' }] } } } });
    expect(res.status).toBe(200);
    expect(res.json.properties.networkAcls).toEqual({
      bypass: 'AzureServices',
      defaultAction: 'Deny',
      ipRules: [{ value: '20.1.0.0/16' }],
      virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: false }],
    });
  });

  it('an empty array clears the rules; an omitted one keeps them', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-one')}${API}`, { body: { properties: { networkAcls: { virtualNetworkRules: [] } } } });
    expect(res.json.properties.networkAcls.virtualNetworkRules).toEqual([]);
    expect(res.json.properties.networkAcls.ipRules).toEqual([{ value: '145.14.56.23/32' }]);
  });

  it('updates publicNetworkAccess and tags, and ignores read-only properties', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-one')}${API}`, {
      body: { tags: { owner: 'net-team' }, properties: { publicNetworkAccess: 'disabled', vaultUri: 'https://evil.example/' } },
    });
    expect(res.status).toBe(200);
    expect(res.json.tags).toEqual({ owner: 'net-team' });
    expect(res.json.properties.publicNetworkAccess).toBe('Disabled');
    expect(res.json.properties.vaultUri).toBe('https://kv-one.vault.azure.net/');
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-one')}${API}`, { body: '{"properties": ' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('InvalidRequestContent');
  });

  it('answers 404 for an unknown vault', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-nope')}${API}`, { body: { properties: {} } });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('ResourceNotFound');
  });
});

describe('PUT', () => {
  it('creates a vault through the real SDK (201), then replaces it (200)', async () => {
    const sdk = t.sdk();
    const created = await sdk.vaults.createOrUpdate(TEST_GROUP, 'kv-new', {
      location: 'northeurope',
      properties: {
        tenantId: '11111111-2222-3333-4444-555555555555',
        sku: { family: 'A', name: 'premium' },
        networkAcls: { defaultAction: 'Deny', ipRules: [{ value: '20.50.0.0/16' }] },
      },
    });
    expect(created.id).toBe(vaultId('kv-new'));
    expect(created.properties.networkAcls).toEqual({ bypass: 'AzureServices', defaultAction: 'Deny', ipRules: [{ value: '20.50.0.0/16' }], virtualNetworkRules: [] });
    const replaced = await sdk.vaults.createOrUpdate(TEST_GROUP, 'kv-new', {
      location: 'northeurope',
      properties: { tenantId: '11111111-2222-3333-4444-555555555555', sku: { family: 'A', name: 'standard' } },
    });
    expect(replaced.properties.networkAcls).toBeUndefined();
    expect((await t.emulator.control.requests({ vault: 'kv-new' })).map((r) => `${r.method} ${r.status}`)).toEqual(['PUT 201', 'PUT 200']);
  });

  it('answers 400 LocationRequired without a location', async () => {
    const res = await t.fetch('PUT', `${vaultId('kv-new')}${API}`, { body: { properties: { tenantId: 'x', sku: { family: 'A', name: 'standard' } } } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('LocationRequired');
  });
});
