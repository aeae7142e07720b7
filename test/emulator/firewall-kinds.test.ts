import { describe, expect, it } from 'vitest';
import { subnetId, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/**
 * The Storage account and container registry models as any client sees them: raw HTTPS, ARM's
 * error envelope, PATCH semantics, seeds. (The SDK's view is in test/targets/.)
 */

const ACCOUNT = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Storage/storageAccounts/stplain`;
const REGISTRY = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.ContainerRegistry/registries/crplain`;
const STORAGE_API = '?api-version=2025-06-01';
const REGISTRY_API = '?api-version=2025-11-01';
const SUBNET = subnetId('vnet', 'app');

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    { id: ACCOUNT, location: 'uksouth', properties: { networkAcls: { defaultAction: 'Deny', virtualNetworkRules: [{ id: SUBNET }], ipRules: [{ value: '145.14.56.23' }] } } },
    { id: REGISTRY, location: 'uksouth', sku: { name: 'Premium' } },
  ],
}));

const storageError = (field: string) => ({
  error: { code: 'InvalidValuesForRequestParameters', message: `Values for request parameters are invalid: ${field}. For more information, see - https://aka.ms/storagenetworkruleset` },
});

describe('Storage accounts', () => {
  it('are served as ARM returns them, with the service defaults filled in', async () => {
    const res = await t.fetch('GET', `${ACCOUNT}${STORAGE_API}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: ACCOUNT,
      name: 'stplain',
      type: 'Microsoft.Storage/storageAccounts',
      location: 'uksouth',
      sku: { name: 'Standard_LRS', tier: 'Standard' },
      kind: 'StorageV2',
      properties: {
        provisioningState: 'Succeeded',
        primaryEndpoints: { blob: 'https://stplain.blob.core.windows.net/' },
        networkAcls: { bypass: 'AzureServices', virtualNetworkRules: [{ id: SUBNET, action: 'Allow', state: 'Succeeded' }], ipRules: [{ value: '145.14.56.23', action: 'Allow' }], defaultAction: 'Deny' },
      },
    });
    expect(res.json.properties).not.toHaveProperty('publicNetworkAccess');
  });

  it('PATCH merges objects and replaces arrays: a body with ipRules alone keeps the VNet rules', async () => {
    const res = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { ipRules: [{ value: '20.1.0.0/16' }] } } } });
    expect(res.status).toBe(200);
    expect(res.json.properties.networkAcls).toEqual({ bypass: 'AzureServices', virtualNetworkRules: [{ id: SUBNET, action: 'Allow', state: 'Succeeded' }], ipRules: [{ value: '20.1.0.0/16', action: 'Allow' }], defaultAction: 'Deny' });
  });

  it('keeps a comma list bypass in canonical spelling, and refuses an unknown one', async () => {
    const ok = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { bypass: 'logging,metrics, AzureServices' } } } });
    expect(ok.json.properties.networkAcls.bypass).toBe('Logging, Metrics, AzureServices');
    const bad = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { bypass: 'Logging, Everything' } } } });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual(storageError('networkAcls.bypass'));
  });

  it.each(['20.1.2.3/32', '20.1.2.2/31', '192.168.0.0/16', '100.64.0.0/10', 'not-an-address'])('refuses %s', async (value) => {
    const res = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { ipRules: [{ value }] } } } });
    expect(res.status).toBe(400);
    expect(res.json).toEqual(storageError('networkAcls.ipRule[*].value'));
  });

  it('takes a /30 and a bare address as written', async () => {
    const res = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { ipRules: [{ value: '20.1.2.4/30' }, { value: '20.1.2.9' }] } } } });
    expect(res.json.properties.networkAcls.ipRules).toEqual([{ value: '20.1.2.4/30', action: 'Allow' }, { value: '20.1.2.9', action: 'Allow' }]);
  });

  it('refuses a VNet rule that names no subnet, and more than 400 IP rules', async () => {
    const vnet = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { virtualNetworkRules: [{ id: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/v' }] } } } });
    expect(vnet.json).toEqual(storageError('networkAcls.virtualNetworkRules[*].id'));
    const many = Array.from({ length: 401 }, (_, i) => ({ value: `20.${Math.floor(i / 256)}.${i % 256}.0/24` }));
    const limit = await t.fetch('PATCH', `${ACCOUNT}${STORAGE_API}`, { body: { properties: { networkAcls: { ipRules: many } } } });
    expect(limit.json).toEqual(storageError('networkAcls.ipRules[]'));
  });

  it('answers 404 for an unknown account, a sub-resource, and an api-version it does not serve', async () => {
    const missing = await t.fetch('GET', `${ACCOUNT}x${STORAGE_API}`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('ResourceNotFound');
    expect((await t.fetch('GET', `${ACCOUNT}/blobServices/default${STORAGE_API}`)).status).toBe(404);
    const old = await t.fetch('GET', `${ACCOUNT}?api-version=2019-06-01`);
    expect(old.status).toBe(400);
    expect(old.json.error.code).toBe('InvalidApiVersionParameter');
  });

  it('refuses a seed with a rule Azure would refuse, naming the resource', async () => {
    await expect(t.emulator.control.reset({ vaults: [], resources: [{ id: ACCOUNT, properties: { networkAcls: { ipRules: [{ value: '20.1.2.3/32' }] } } }] })).rejects.toThrow(
      /resources\[0\]: .*stplain: Values for request parameters are invalid: networkAcls\.ipRule\[\*\]\.value/,
    );
  });
});

describe('container registries', () => {
  it('answer a PATCH with 201 and an Azure-AsyncOperation URL on this emulator that reports Succeeded', async () => {
    const res = await t.fetch('PATCH', `${REGISTRY}${REGISTRY_API}`, { body: { properties: { networkRuleSet: { defaultAction: 'Deny', ipRules: [{ value: '20.1.2.3/32' }] } } } });
    expect(res.status).toBe(201);
    expect(res.json.properties.provisioningState).toBe('Updating');
    const operation = new URL(String(res.headers['azure-asyncoperation']));
    expect(operation.origin).toBe(t.emulator.url);
    expect(operation.searchParams.get('api-version')).toBe('2025-11-01');
    const status = await t.fetch('GET', `${operation.pathname}${operation.search}`);
    expect(status.status).toBe(200);
    expect(status.json.status).toBe('Succeeded');
    const after = await t.fetch('GET', `${REGISTRY}${REGISTRY_API}`);
    expect(after.json.properties).toMatchObject({ provisioningState: 'Succeeded', networkRuleSet: { defaultAction: 'Deny', ipRules: [{ action: 'Allow', value: '20.1.2.3' }] } });
  });

  it('refuses IP rules on a registry moved below Premium in the same PATCH', async () => {
    const res = await t.fetch('PATCH', `${REGISTRY}${REGISTRY_API}`, { body: { sku: { name: 'Standard' }, properties: { networkRuleSet: { defaultAction: 'Deny', ipRules: [] } } } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('NetworkRuleSetNotSupported');
    expect((await t.fetch('GET', `${REGISTRY}${REGISTRY_API}`)).json.sku).toEqual({ name: 'Premium', tier: 'Premium' });
  });

  it('refuses a seed of a Basic registry with IP rules, and one without a SKU', async () => {
    await expect(t.emulator.control.reset({ vaults: [], resources: [{ id: REGISTRY, sku: { name: 'Basic' }, properties: { networkRuleSet: { defaultAction: 'Deny' } } }] })).rejects.toThrow(/Network rules are not supported for the SKU Basic/);
    await expect(t.emulator.control.reset({ vaults: [], resources: [{ id: REGISTRY }] })).rejects.toThrow(/sku\.name/);
  });

  it('answers 404 for an operation of an unknown registry and for other sub-resources', async () => {
    expect((await t.fetch('GET', `${REGISTRY}x/operationStatuses/registries-00000000-0000-0000-0000-000000000000${REGISTRY_API}`)).status).toBe(404);
    expect((await t.fetch('GET', `${REGISTRY}/replications${REGISTRY_API}`)).status).toBe(404);
  });
});
