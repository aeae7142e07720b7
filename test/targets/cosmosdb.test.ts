import { describe, expect, it } from 'vitest';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import { normaliseRule } from '../../src/core/rules.js';
import { createCosmosDbFirewalls } from '../../src/targets/cosmosdb/adapter.js';
import { COSMOS_DB } from '../../src/targets/cosmosdb/facts.js';
import type { ArmClientOptions } from '../../src/targets/arm-client-options.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, subnetId, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';

// The Cosmos DB adapter through the real SDK client, over HTTPS, against the emulator.

const OFFICE = '145.14.56.23';
const SUBNET = subnetId('vnet-apps', 'snet-data');
/** The public cloud's "All APIs" portal middleware addresses, from Microsoft's "Configure IP firewall for Azure Cosmos DB" page (2025-09). */
const PORTAL = ['13.91.105.215', '4.210.172.107', '13.88.56.148', '40.91.218.243'];
/** The same page's legacy public-cloud portal addresses. */
const PORTAL_LEGACY = ['104.42.195.92', '40.76.54.131', '52.176.6.30', '52.169.50.45', '52.187.184.26'];

function accountId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.DocumentDB/databaseAccounts/${name}`;
}
function ref(name: string): ResourceRef {
  return parseResourceId(accountId(name));
}
const rules = (...values: string[]) => values.map((ipAddressOrRange) => ({ ipAddressOrRange }));

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    {
      id: accountId('cosmos-locked'),
      tags: { team: 'data' },
      properties: {
        ipRules: rules(OFFICE, '0.0.0.0', PORTAL[0]!, '23.40.210.0/24'),
        isVirtualNetworkFilterEnabled: true,
        virtualNetworkRules: [{ id: SUBNET, ignoreMissingVNetServiceEndpoint: false }],
        networkAclBypass: 'AzureServices',
        networkAclBypassResourceIds: ['/subscriptions/x/resourceGroups/y/providers/Microsoft.Synapse/workspaces/ws'],
      },
      emulatorOperation: { durationMs: 400 },
    },
    { id: accountId('cosmos-open') },
    { id: accountId('cosmos-vnet-only'), properties: { isVirtualNetworkFilterEnabled: true, virtualNetworkRules: [{ id: SUBNET }] } },
    { id: accountId('cosmos-failing'), properties: { ipRules: rules(OFFICE) }, emulatorOperation: { durationMs: 20, fail: { code: 'InternalServerError', message: 'Updating the account failed in region West Europe.' } } },
    { id: accountId('cosmos-stuck'), properties: { ipRules: rules(OFFICE) }, emulatorOperation: { durationMs: 3_600_000 } },
    { id: accountId('cosmos-private'), properties: { ipRules: rules(OFFICE), publicNetworkAccess: 'Disabled' } },
  ],
}));

function firewalls(overrides: Partial<ArmClientOptions> = {}) {
  return createCosmosDbFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, operations: { pollIntervalMs: 20 }, ...overrides });
}

async function log(name: string) {
  return (await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.target?.toLowerCase() === accountId(name).toLowerCase());
}

describe('the facts', () => {
  it('keep 0.0.0.0 and every portal address, normalised, as special entries', () => {
    for (const a of ['0.0.0.0', ...PORTAL, ...PORTAL_LEGACY]) expect(COSMOS_DB.special).toContain(`${a}/32`);
    for (const s of COSMOS_DB.special) expect(normaliseRule(s).key).toBe(s);
    expect(COSMOS_DB).toMatchObject({ resourceType: 'Microsoft.DocumentDB/databaseAccounts', apiVersion: '2025-10-15', singleAddress: 'bare', allows31: false, longRunning: true, maxRules: 1000 });
  });
});

describe('read', () => {
  it('maps the rules as the account spells them, the VNet rules, and posture; 0.0.0.0 is a finding', async () => {
    const fw = await firewalls().read(ref('cosmos-locked'));
    expect(fw.ipRules).toEqual([OFFICE, '0.0.0.0', PORTAL[0], '23.40.210.0/24']);
    expect(fw.virtualNetworkRuleCount).toBe(1);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' });
    expect(fw.findings?.map((f) => [f.severity, f.code])).toEqual([['warning', 'COSMOS_AZURE_DATACENTERS']]);
    const [get] = await log('cosmos-locked');
    expect(get).toMatchObject({ method: 'GET', status: 200, apiVersion: '2025-10-15', token: t.credential.token });
    expect(t.credential.requests.at(-1)).toEqual([`${t.emulator.url}/.default`]);
  });

  it('reads no rules and no VNet filter as Allow, and a VNet filter alone as Deny', async () => {
    expect((await firewalls().read(ref('cosmos-open'))).posture.defaultAction).toBe('Allow');
    expect((await firewalls().read(ref('cosmos-vnet-only'))).posture.defaultAction).toBe('Deny');
    expect((await firewalls().read(ref('cosmos-private'))).posture.publicNetworkAccess).toBe('Disabled');
  });

  it('answers a missing account with TARGET_NOT_FOUND', async () => {
    const e = await failure(firewalls().read(ref('cosmos-nowhere')));
    expect(e).toMatchObject({ code: 'TARGET_NOT_FOUND', transient: false, values: { status: 404, azureCode: 'ResourceNotFound' } });
  });
});

describe('write', () => {
  it('PATCHes ipRules alone, polls the operation until it succeeds, and leaves everything else as it was', async () => {
    const target = firewalls();
    const before = await t.emulator.control.resource(accountId('cosmos-locked'));
    const current = await target.read(ref('cosmos-locked'));
    const next = [OFFICE, '0.0.0.0', PORTAL[0]!, '20.38.64.0/19', '52.5.6.7'];
    const written = target.write(current, { ipRules: next });
    // While the operation runs the account still holds what it held.
    for (let i = 0; i < 100 && !(await log('cosmos-locked')).some((r) => r.method === 'PATCH'); i++) await new Promise((r) => setTimeout(r, 5));
    const during = (await t.emulator.control.resource(accountId('cosmos-locked'))) as { properties: { ipRules: unknown; provisioningState: string } };
    expect(during.properties).toMatchObject({ ipRules: rules(OFFICE, '0.0.0.0', PORTAL[0]!, '23.40.210.0/24'), provisioningState: 'Updating' });
    const fw = await written;
    expect(fw.ipRules).toEqual(next);
    const after = (await t.emulator.control.resource(accountId('cosmos-locked'))) as Record<string, any>;
    const expected = structuredClone(before) as Record<string, any>;
    expected['properties'].ipRules = rules(...next);
    expect(after).toEqual(expected);

    const requests = await log('cosmos-locked');
    const patch = requests.find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({ status: 202, body: { properties: { ipRules: rules(...next) } } });
    const polls = requests.filter((r) => r.path.includes('/operationsStatus/'));
    // 400 ms of InProgress at a 20 ms interval: several polls, all answered.
    expect(polls.length).toBeGreaterThanOrEqual(3);
    expect(polls.every((r) => r.status === 200)).toBe(true);
    expect(requests.at(-1)).toMatchObject({ method: 'GET', status: 200, path: expect.stringContaining('/operationResults/') });
  });

  it('fails with TARGET_OPERATION_FAILED and Azure code when the operation fails; the account keeps its rules', async () => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('cosmos-failing')), { ipRules: [OFFICE, '52.5.6.7'] }));
    expect(e).toMatchObject({ code: 'TARGET_OPERATION_FAILED', values: { status: 'failed', azureCode: 'InternalServerError' } });
    expect(e.message).toMatch(/failed in region West Europe/);
    expect((await target.read(ref('cosmos-failing'))).ipRules).toEqual([OFFICE]);
  });

  it('gives up on a never-ending operation with TARGET_OPERATION_TIMEOUT, and a second write meets the lock as TARGET_CONFLICT', async () => {
    const target = firewalls({ operations: { pollIntervalMs: 20, timeoutMs: 250 } });
    const current = await target.read(ref('cosmos-stuck'));
    const started = Date.now();
    const e = await failure(target.write(current, { ipRules: [OFFICE, '52.5.6.7'] }));
    expect(e).toMatchObject({ code: 'TARGET_OPERATION_TIMEOUT', transient: true, values: { timeoutMs: 250 } });
    expect(Date.now() - started).toBeLessThan(5_000);
    const again = await failure(target.write(current, { ipRules: [OFFICE, '52.5.6.8'] }));
    expect(again).toMatchObject({ code: 'TARGET_CONFLICT', transient: true, values: { status: 412, azureCode: 'PreconditionFailed' } });
  });

  it('turns a refused value into TARGET_BAD_REQUEST with Azure code, and starts no operation', async () => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('cosmos-failing')), { ipRules: [OFFICE, '10.1.0.0/16'] }));
    expect(e).toMatchObject({ code: 'TARGET_BAD_REQUEST', transient: false, values: { status: 400, azureCode: 'BadRequest' } });
    expect((await log('cosmos-failing')).filter((r) => r.path.includes('/operationsStatus/'))).toEqual([]);
  });

  it('writes a first rule only when asked for Deny, and never removes the last one', async () => {
    const target = firewalls();
    const open = await target.read(ref('cosmos-open'));
    expect(await failure(target.write(open, { ipRules: ['52.5.6.7'] }))).toMatchObject({ code: 'TARGET_WOULD_ENABLE_FIREWALL' });
    expect((await log('cosmos-open')).map((r) => r.method)).toEqual(['GET']);
    const on = await target.write(open, { ipRules: ['52.5.6.7'], defaultAction: 'Deny' });
    expect(on.posture.defaultAction).toBe('Deny');

    const failing = await target.read(ref('cosmos-failing'));
    expect(await failure(target.write(failing, { ipRules: [] }))).toMatchObject({ code: 'TARGET_WOULD_DISABLE_FIREWALL' });
    // Behind a VNet filter the account stays closed without IP rules.
    const vnet = await target.read(ref('cosmos-vnet-only'));
    expect((await target.write(vnet, { ipRules: ['52.5.6.7'] })).ipRules).toEqual(['52.5.6.7']);
    const cleared = await target.write(await target.read(ref('cosmos-vnet-only')), { ipRules: [] });
    expect(cleared.posture.defaultAction).toBe('Deny');
  });
});
