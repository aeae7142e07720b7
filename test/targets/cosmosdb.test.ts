import { describe, expect, it } from 'vitest';
import { countAddresses, mergeRanges, subtractRanges } from '../../src/core/ipv4.js';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import { normaliseRule } from '../../src/core/rules.js';
import { createCosmosDbFirewalls } from '../../src/targets/cosmosdb/adapter.js';
import { COSMOS_DB } from '../../src/targets/cosmosdb/facts.js';
import type { ArmClientOptions } from '../../src/arm/client-options.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, subnetId, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { bundledTagRanges, rangesOfRules, targetRuns } from '../helpers/run-target.js';
import { exitCodeFor } from '../../src/run/run.js';

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
      emulatorOperation: { durationMs: 600 },
    },
    { id: accountId('cosmos-open') },
    { id: accountId('cosmos-vnet-only'), properties: { isVirtualNetworkFilterEnabled: true, virtualNetworkRules: [{ id: SUBNET }] } },
    { id: accountId('cosmos-failing'), properties: { ipRules: rules(OFFICE) }, emulatorOperation: { durationMs: 300, fail: { code: 'InternalServerError', message: 'Updating the account failed in region West Europe.' } } },
    // Failed by the SDK's first poll, which it makes before handing back the poller.
    { id: accountId('cosmos-failing-now'), properties: { ipRules: rules(OFFICE) }, emulatorOperation: { durationMs: 0, fail: { code: 'InternalServerError', message: 'Updating the account failed in region West Europe.' } } },
    { id: accountId('cosmos-stuck'), properties: { ipRules: rules(OFFICE) }, emulatorOperation: { durationMs: 3_600_000 } },
    { id: accountId('cosmos-private'), properties: { ipRules: rules(OFFICE), publicNetworkAccess: 'Disabled' } },
    { id: accountId('cosmos-app'), properties: { ipRules: rules(OFFICE, '0.0.0.0', PORTAL[0]!, PORTAL_LEGACY[0]!) } },
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
    expect(patch).toMatchObject({ status: 200, body: { properties: { ipRules: rules(...next) } } });
    const polls = requests.filter((r) => r.path.includes('/operationsStatus/'));
    // 600 ms of InProgress at a 20 ms interval: at least one poll that saw it running and one that saw it end.
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((r) => r.status === 200)).toBe(true);
    expect(requests.at(-1)).toMatchObject({ method: 'GET', status: 200, path: expect.stringContaining('/operationResults/') });
  });

  it.each(['cosmos-failing', 'cosmos-failing-now'])('fails with TARGET_OPERATION_FAILED and Azure code when the operation fails (%s); the account keeps its rules', async (name) => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref(name)), { ipRules: [OFFICE, '52.5.6.7'] }));
    expect(e).toMatchObject({ code: 'TARGET_OPERATION_FAILED', values: { operationStatus: 'failed', azureCode: 'InternalServerError' } });
    expect(e.message).toMatch(/failed in region West Europe/);
    expect((await target.read(ref(name))).ipRules).toEqual([OFFICE]);
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

  it('reports a status poll that keeps failing as the HTTP failure it is, not as a failed operation', async () => {
    const target = firewalls();
    const current = await target.read(ref('cosmos-locked'));
    const written = failure(target.write(current, { ipRules: [OFFICE, '52.5.6.7'] }));
    // Once the operation is being polled, its status stops answering.
    for (let i = 0; i < 200 && !(await log('cosmos-locked')).some((r) => r.path.includes('/operationsStatus/')); i++) await new Promise((r) => setTimeout(r, 5));
    await t.emulator.control.addFault({ kind: 'respond', on: 'resources', resource: accountId('cosmos-locked'), method: 'GET', status: 500, times: 'always' });
    const e = await written;
    expect(e).toMatchObject({ code: 'TARGET_SERVER_ERROR', transient: true, values: { status: 500 } });
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

describe('end to end through runSync', () => {
  /** AzureMonitorForSAP holds ten /31s and ten /32s in the bundled file (Public 20251013): it shows the address forms. */
  const TAG = 'AzureMonitorForSAP';
  const KEPT = [OFFICE, '0.0.0.0', PORTAL[0]!, PORTAL_LEGACY[0]!];

  async function storedRules(name: string): Promise<string[]> {
    const json = (await t.emulator.control.resource(accountId(name))) as { properties: { ipRules: { ipAddressOrRange: string }[] } };
    return json.properties.ipRules.map((r) => r.ipAddressOrRange);
  }

  it('first run applies the tag beside the hand-made and special entries, single addresses bare and no /31; the second run writes nothing', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: accountId('cosmos-app'), select: [TAG] }]);
    const first = await runs.sync(cfg);
    expect(first.vaults[0]).toMatchObject({ outcome: 'applied' });
    expect(first.vaults[0]!.findings.map((f) => f.code)).toContain('COSMOS_AZURE_DATACENTERS');
    const stored = await storedRules('cosmos-app');
    for (const r of KEPT) expect(stored).toContain(r);
    expect(stored.filter((r) => r.endsWith('/32') || r.endsWith('/31'))).toEqual([]);
    // Exactly the tag and the kept entries are allowed (the tag fits losslessly).
    expect(rangesOfRules(stored)).toEqual(mergeRanges([...(await bundledTagRanges(TAG)), ...rangesOfRules(KEPT)]));
    const requests = await log('cosmos-app');
    expect(requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([200]);
    expect(requests.filter((r) => r.path.includes('/operationsStatus/')).length).toBeGreaterThanOrEqual(1);
    // The verifying read comes after the operation's end.
    expect(requests.at(-1)).toMatchObject({ method: 'GET', path: accountId('cosmos-app') });

    await t.emulator.control.clearRequests();
    const second = await runs.sync(cfg);
    expect(second.vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
    expect((await log('cosmos-app')).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200']);
  });

  it('keeps 0.0.0.0 and the portal addresses even in authoritative mode, where the stranger goes', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([{ resource: accountId('cosmos-app'), select: [TAG], mode: 'authoritative', guards: { maxRemovedFraction: 1 } }]));
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', remove: [`${OFFICE}/32`] });
    const stored = await storedRules('cosmos-app');
    expect(stored).not.toContain(OFFICE);
    for (const r of ['0.0.0.0', PORTAL[0]!, PORTAL_LEGACY[0]!]) expect(stored).toContain(r);
  });

  it('respects the limit: a selection that needs more than 1000 rules is widened into 1000, and maxRules above it is refused', async () => {
    const runs = await targetRuns(t);
    expect(() => runs.config([{ resource: accountId('cosmos-app'), select: [TAG], maxRules: 1001 }])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', details: [expect.stringMatching(/more than a Cosmos DB account takes \(1000\)/)] }));
    // LogicApps alone holds 1728 IPv4 prefixes (shared/docs/DOMAIN.md).
    const report = await runs.sync(runs.config([{ resource: accountId('cosmos-app'), select: ['LogicApps'], guards: { maxExcessAddresses: 4294967296, maxWidenedPrefix: 0 } }]));
    expect(report.vaults[0]!.outcome).toBe('applied');
    expect(report.vaults[0]!.excessAddresses).toBeGreaterThan(0);
    const stored = await storedRules('cosmos-app');
    expect(stored.length).toBeLessThanOrEqual(1000);
    expect(countAddresses(subtractRanges(await bundledTagRanges('LogicApps'), rangesOfRules(stored)))).toBe(0);
  });

  it('reports posture by code: an open account is FIREWALL_DISABLED and left open unless enforceDeny; disabled public access is skipped', async () => {
    const runs = await targetRuns(t);
    const openCfg = runs.config([{ resource: accountId('cosmos-open'), select: [TAG] }]);
    // The dry run says what the apply does: refused, by the same code, before any request (exit 1 as refusals are, not 2).
    const preview = await runs.sync(openCfg, { dryRun: true });
    expect(preview.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect(exitCodeFor(preview, true)).toBe(1);
    const open = await runs.sync(openCfg, { force: true });
    expect(open.vaults[0]!.findings.map((f) => [f.severity, f.code])).toContainEqual(['critical', 'FIREWALL_DISABLED']);
    // --force lifts guards, not this: only enforceDeny may turn the firewall on.
    expect(open.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect(await storedRules('cosmos-open')).toEqual([]);
    expect((await log('cosmos-open')).filter((r) => r.method === 'PATCH')).toEqual([]);

    const again = await targetRuns(t);
    const enforced = await again.sync(again.config([{ resource: accountId('cosmos-open'), select: [TAG], enforceDeny: true }]));
    expect(enforced.vaults[0]!.outcome).toBe('applied');
    expect((await storedRules('cosmos-open')).length).toBeGreaterThan(0);

    const closed = await runs.sync(runs.config([{ resource: accountId('cosmos-private'), select: [TAG] }]));
    expect(closed.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
  });

  it('reports a failed operation with its code and Azure code, and leaves the account as it was', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([{ resource: accountId('cosmos-failing'), select: [TAG] }]));
    expect(report.vaults[0]).toMatchObject({ outcome: 'failed', error: { code: 'TARGET_OPERATION_FAILED', azureCode: 'InternalServerError' } });
    expect(await storedRules('cosmos-failing')).toEqual([OFFICE]);
  });
});
