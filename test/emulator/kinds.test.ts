import { describe, expect, it } from 'vitest';
import { TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/** The Cosmos DB, AI services and AI Search models as a raw HTTPS client sees them. */

const BASE = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers`;
const COSMOS = `${BASE}/Microsoft.DocumentDB/databaseAccounts/cosmos-raw`;
const COSMOS_FAILING = `${BASE}/Microsoft.DocumentDB/databaseAccounts/cosmos-bad`;
const AI = `${BASE}/Microsoft.CognitiveServices/accounts/ai-raw`;
const SEARCH = `${BASE}/Microsoft.Search/searchServices/srch-raw`;
const SEARCH_FREE = `${BASE}/Microsoft.Search/searchServices/srch-free`;
const COSMOS_API = '?api-version=2025-10-15';
const AI_API = '?api-version=2025-09-01';
const SEARCH_API = '?api-version=2025-05-01';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    { id: COSMOS, properties: { ipRules: [{ ipAddressOrRange: '52.1.2.3' }] }, emulatorOperation: { durationMs: 800 } },
    { id: COSMOS_FAILING, properties: { ipRules: [{ ipAddressOrRange: '52.1.2.3' }] }, emulatorOperation: { durationMs: 0, fail: { code: 'Conflict', message: 'Region is offline.' } } },
    { id: AI, properties: { networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '52.1.2.3' }] } } },
    { id: SEARCH, properties: { networkRuleSet: { ipRules: [{ value: '52.1.2.3' }] } } },
    { id: SEARCH_FREE, sku: { name: 'free' } },
  ],
}));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

describe('Cosmos DB accounts', () => {
  it('answer a PATCH with 200 and status URLs; InProgress until the operation ends, and only then the new rules', async () => {
    const patch = await t.fetch('PATCH', `${COSMOS}${COSMOS_API}`, { body: { properties: { ipRules: [{ ipAddressOrRange: '52.1.2.3' }, { ipAddressOrRange: '20.38.64.0/19' }] } } });
    expect(patch.status).toBe(200);
    expect(patch.json.properties.provisioningState).toBe('Updating');
    const status = pathOf(String(patch.headers['azure-asyncoperation']));
    const results = pathOf(String(patch.headers['location']));
    expect(status).toMatch(/\/operationsStatus\/[0-9a-f-]+\?api-version=2025-10-15$/);
    expect((await t.fetch('GET', status)).json).toMatchObject({ status: 'InProgress' });
    expect((await t.fetch('GET', results)).status).toBe(202);
    const during = await t.fetch('GET', `${COSMOS}${COSMOS_API}`);
    expect(during.json.properties).toMatchObject({ provisioningState: 'Updating', ipRules: [{ ipAddressOrRange: '52.1.2.3' }] });
    // A second update while one runs meets Cosmos DB's lock.
    const second = await t.fetch('PATCH', `${COSMOS}${COSMOS_API}`, { body: { properties: { ipRules: [] } } });
    expect(second).toMatchObject({ status: 412, json: { error: { code: 'PreconditionFailed' } } });
    await sleep(900);
    expect((await t.fetch('GET', status)).json).toMatchObject({ status: 'Succeeded' });
    const done = await t.fetch('GET', results);
    expect(done.status).toBe(200);
    expect(done.json.properties).toMatchObject({ provisioningState: 'Succeeded', ipRules: [{ ipAddressOrRange: '52.1.2.3' }, { ipAddressOrRange: '20.38.64.0/19' }] });
  });

  it('report a failed operation with its error and keep the account as it was', async () => {
    const patch = await t.fetch('PATCH', `${COSMOS_FAILING}${COSMOS_API}`, { body: { properties: { ipRules: [{ ipAddressOrRange: '20.38.64.0/19' }] } } });
    const status = await t.fetch('GET', pathOf(String(patch.headers['azure-asyncoperation'])));
    expect(status.json).toMatchObject({ status: 'Failed', error: { code: 'Conflict', message: 'Region is offline.' } });
    expect((await t.fetch('GET', `${COSMOS_FAILING}${COSMOS_API}`)).json.properties.ipRules).toEqual([{ ipAddressOrRange: '52.1.2.3' }]);
  });

  it('refuse the ranges the spec calls not enforceable, take host bits as the spec examples do, and 404 what is not there', async () => {
    for (const bad of ['10.0.0.0/8', '100.64.1.0/24', '172.20.0.1', '192.168.1.0/24', '2001:db8::1', '52.1.2']) {
      const res = await t.fetch('PATCH', `${COSMOS}${COSMOS_API}`, { body: { properties: { ipRules: [{ ipAddressOrRange: bad }] } } });
      expect([bad, res.status, res.json?.error?.code]).toEqual([bad, 400, 'BadRequest']);
    }
    expect((await t.fetch('PATCH', `${COSMOS}${COSMOS_API}`, { body: { properties: { ipRules: [{ ipAddressOrRange: '23.40.210.0/8' }, { ipAddressOrRange: '0.0.0.0' }] } } })).status).toBe(200);
    expect(await t.fetch('GET', `${BASE}/Microsoft.DocumentDB/databaseAccounts/nope${COSMOS_API}`)).toMatchObject({ status: 404, json: { error: { code: 'ResourceNotFound' } } });
    expect(await t.fetch('GET', `${COSMOS}/operationsStatus/no-such-op${COSMOS_API}`)).toMatchObject({ status: 404 });
    expect(await t.fetch('GET', `${COSMOS}?api-version=2021-01-15`)).toMatchObject({ status: 400, json: { error: { code: 'InvalidApiVersionParameter' } } });
  });

  it('refuse a seed Azure would never hold', async () => {
    await expect(t.reset({ vaults: [], resources: [{ id: COSMOS, properties: { ipRules: [{ ipAddressOrRange: '10.1.2.3' }] } }] })).rejects.toThrow(/resources\[0\]/);
  });

  it('take faults aimed at the account, status polls included', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'resources', resource: COSMOS, method: 'GET', status: 503, times: 1 });
    expect((await t.fetch('GET', `${COSMOS}${COSMOS_API}`)).status).toBe(503);
    expect((await t.fetch('GET', `${COSMOS}${COSMOS_API}`)).status).toBe(200);
  });
});

describe('AI services accounts', () => {
  it('merge a PATCH into networkAcls (a bypass-only PATCH keeps the rules) and refuse /32, /31 and private ranges', async () => {
    const res = await t.fetch('PATCH', `${AI}${AI_API}`, { body: { properties: { networkAcls: { bypass: 'None' } } } });
    expect(res.status).toBe(200);
    expect(res.json.properties.networkAcls).toEqual({ defaultAction: 'Deny', bypass: 'None', ipRules: [{ value: '52.1.2.3' }] });
    for (const bad of ['52.1.2.3/32', '52.1.2.2/31', '172.16.5.0/24', '52.1.3.0/23']) {
      const refused = await t.fetch('PATCH', `${AI}${AI_API}`, { body: { properties: { networkAcls: { ipRules: [{ value: bad }] } } } });
      expect([bad, refused.status, refused.json?.error?.code]).toEqual([bad, 400, 'BadRequest']);
    }
  });
});

describe('AI Search services', () => {
  it('store what is written, refuse IP rules on the Free tier, and 404 what is not there', async () => {
    const res = await t.fetch('PATCH', `${SEARCH}${SEARCH_API}`, { body: { properties: { networkRuleSet: { ipRules: [{ value: '20.38.64.0/19' }], bypass: 'AzureServices' } } } });
    expect(res.json.properties).toMatchObject({ publicNetworkAccess: 'enabled', networkRuleSet: { ipRules: [{ value: '20.38.64.0/19' }], bypass: 'AzureServices' } });
    const free = await t.fetch('PATCH', `${SEARCH_FREE}${SEARCH_API}`, { body: { properties: { networkRuleSet: { ipRules: [{ value: '20.38.64.0/19' }] } } } });
    expect(free).toMatchObject({ status: 400, json: { error: { code: 'BadRequest' } } });
    expect(await t.fetch('GET', `${BASE}/Microsoft.Search/searchServices/nope${SEARCH_API}`)).toMatchObject({ status: 404, json: { error: { code: 'ResourceNotFound' } } });
  });
});
