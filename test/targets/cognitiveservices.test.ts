import { describe, expect, it } from 'vitest';
import { countAddresses, mergeRanges, subtractRanges } from '../../src/core/ipv4.js';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import { createCognitiveServicesFirewalls } from '../../src/targets/cognitiveservices/adapter.js';
import { COGNITIVE_SERVICES } from '../../src/targets/cognitiveservices/facts.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, subnetId, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { bundledTagRanges, rangesOfRules, targetRuns } from '../helpers/run-target.js';

// The AI services adapter through the real SDK client, over HTTPS, against the emulator.

const OFFICE = '145.14.56.23';
const SUBNET = subnetId('vnet-apps', 'snet-ai');
/** "Each Azure AI services resource supports up to 100 IP network rules" (Microsoft's "Configure Azure AI services virtual networks"). */
const LIMIT = 100;

function accountId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.CognitiveServices/accounts/${name}`;
}
function ref(name: string): ResourceRef {
  return parseResourceId(accountId(name));
}

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    {
      id: accountId('ai-locked'),
      kind: 'OpenAI',
      tags: { team: 'ml' },
      properties: {
        networkAcls: {
          defaultAction: 'Deny',
          bypass: 'AzureServices',
          ipRules: [{ value: OFFICE }, { value: '20.38.64.0/19' }],
          virtualNetworkRules: [{ id: SUBNET, state: 'Succeeded', ignoreMissingVnetServiceEndpoint: true }],
        },
        restrictOutboundNetworkAccess: false,
      },
    },
    { id: accountId('ai-open') },
    { id: accountId('ai-private'), properties: { publicNetworkAccess: 'Disabled', networkAcls: { defaultAction: 'Deny', ipRules: [] } } },
    {
      id: accountId('ai-app'),
      properties: { networkAcls: { defaultAction: 'Deny', bypass: 'None', ipRules: [{ value: OFFICE }], virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: false }] } },
    },
  ],
}));

function firewalls() {
  return createCognitiveServicesFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, operations: { pollIntervalMs: 20 } });
}

async function log(name: string) {
  return (await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.target?.toLowerCase() === accountId(name).toLowerCase());
}

function addresses(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `52.${100 + Math.floor((from + i) / 250)}.${(from + i) % 250}.1`);
}

describe('the facts', () => {
  it('say 100 rules, single addresses bare and no /31', () => {
    expect(COGNITIVE_SERVICES).toMatchObject({ resourceType: 'Microsoft.CognitiveServices/accounts', apiVersion: '2025-09-01', maxRules: LIMIT, singleAddress: 'bare', allows31: false, special: [] });
  });
});

describe('read', () => {
  it('maps networkAcls and publicNetworkAccess', async () => {
    const fw = await firewalls().read(ref('ai-locked'));
    expect(fw.ipRules).toEqual([OFFICE, '20.38.64.0/19']);
    expect(fw.virtualNetworkRuleCount).toBe(1);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' });
    expect((await log('ai-locked'))[0]).toMatchObject({ method: 'GET', status: 200, apiVersion: '2025-09-01', token: t.credential.token });
  });

  it('reads an account without networkAcls as Allow, and keeps Disabled public access', async () => {
    expect((await firewalls().read(ref('ai-open'))).posture).toEqual({ defaultAction: 'Allow', publicNetworkAccess: 'Enabled' });
    expect((await firewalls().read(ref('ai-private'))).posture).toMatchObject({ defaultAction: 'Deny', publicNetworkAccess: 'Disabled' });
  });

  it('answers a missing account with TARGET_NOT_FOUND', async () => {
    expect(await failure(firewalls().read(ref('ai-nowhere')))).toMatchObject({ code: 'TARGET_NOT_FOUND', values: { status: 404, azureCode: 'ResourceNotFound' } });
  });
});

describe('write', () => {
  it('sends networkAcls back exactly as read with only the IP rules changed', async () => {
    const target = firewalls();
    const before = (await t.emulator.control.resource(accountId('ai-locked'))) as Record<string, any>;
    const fw = await target.write(await target.read(ref('ai-locked')), { ipRules: [OFFICE, '52.5.6.7', '40.64.0.0/16'] });
    expect(fw.ipRules).toEqual([OFFICE, '52.5.6.7', '40.64.0.0/16']);
    const after = (await t.emulator.control.resource(accountId('ai-locked'))) as Record<string, any>;
    const expected = structuredClone(before);
    expected['properties'].networkAcls.ipRules = [{ value: OFFICE }, { value: '52.5.6.7' }, { value: '40.64.0.0/16' }];
    expect(after).toEqual(expected);
    const patch = (await log('ai-locked')).find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({ status: 200 });
    expect(patch?.body).toEqual({
      properties: {
        networkAcls: {
          defaultAction: 'Deny',
          bypass: 'AzureServices',
          ipRules: [{ value: OFFICE }, { value: '52.5.6.7' }, { value: '40.64.0.0/16' }],
          virtualNetworkRules: [{ id: SUBNET, state: 'Succeeded', ignoreMissingVnetServiceEndpoint: true }],
        },
      },
    });
  });

  it('keeps an open account open unless asked for Deny, and turns it on when asked', async () => {
    const target = firewalls();
    const open = await target.read(ref('ai-open'));
    expect((await target.write(open, { ipRules: ['52.5.6.7'] })).posture.defaultAction).toBe('Allow');
    const on = await target.write(await target.read(ref('ai-open')), { ipRules: ['52.5.6.7'], defaultAction: 'Deny' });
    expect(on.posture.defaultAction).toBe('Deny');
    expect((await log('ai-open')).filter((r) => r.method === 'PATCH').map((r) => (r.body as any).properties.networkAcls.defaultAction)).toEqual(['Allow', 'Deny']);
  });

  it('is refused /32 and /31 ranges, private ranges and more than 100 rules, as TARGET_BAD_REQUEST', async () => {
    const target = firewalls();
    const current = await target.read(ref('ai-locked'));
    for (const bad of [['52.5.6.7/32'], ['52.5.6.6/31'], ['10.20.0.0/16'], ['192.168.1.1'], addresses(LIMIT + 1)]) {
      expect(await failure(target.write(current, { ipRules: bad }))).toMatchObject({ code: 'TARGET_BAD_REQUEST', values: { status: 400, azureCode: 'BadRequest' } });
    }
    // Exactly the limit is taken; single addresses bare are.
    expect((await target.write(current, { ipRules: addresses(LIMIT) })).ipRules).toHaveLength(LIMIT);
  });
});

describe('end to end through runSync', () => {
  /** AzureMonitorForSAP holds ten /31s and ten /32s in the bundled file (Public 20251013). */
  const TAG = 'AzureMonitorForSAP';
  /** AzureCognitiveSearch holds 187 IPv4 prefixes there: more than an account takes. */
  const BIG = 'AzureCognitiveSearch';

  async function acls(name: string): Promise<{ defaultAction?: string; ipRules: { value: string }[]; virtualNetworkRules?: unknown[] }> {
    return ((await t.emulator.control.resource(accountId(name))) as any).properties.networkAcls;
  }
  const values = async (name: string) => (await acls(name)).ipRules.map((r) => r.value);

  it('first run applies the tag beside the hand-made rule, singles bare and /31s split; VNet rules stay; the second run writes nothing', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: accountId('ai-app'), select: [TAG] }]);
    expect((await runs.sync(cfg)).vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [`${OFFICE}/32`] });
    const stored = await values('ai-app');
    expect(stored).toContain(OFFICE);
    expect(stored.filter((r) => r.endsWith('/32') || r.endsWith('/31'))).toEqual([]);
    expect(rangesOfRules(stored)).toEqual(mergeRanges([...(await bundledTagRanges(TAG)), ...rangesOfRules([OFFICE])]));
    expect((await acls('ai-app')).virtualNetworkRules).toEqual([{ id: SUBNET, ignoreMissingVnetServiceEndpoint: false }]);

    await t.emulator.control.clearRequests();
    expect((await runs.sync(cfg)).vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
    expect((await log('ai-app')).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200']);
  });

  it('fits a selection that needs more than 100 rules into 100, beside the hand-made one', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([{ resource: accountId('ai-app'), select: [BIG], guards: { maxExcessAddresses: 4294967296, maxWidenedPrefix: 0 } }]));
    // It had to widen: the tag alone holds more prefixes than fit.
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', excessAddresses: expect.any(Number) });
    expect(report.vaults[0]!.excessAddresses).toBeGreaterThan(0);
    const stored = await values('ai-app');
    expect(stored.length).toBeLessThanOrEqual(LIMIT);
    expect(stored).toContain(OFFICE);
    expect(countAddresses(subtractRanges(await bundledTagRanges(BIG), rangesOfRules(stored)))).toBe(0);
  });

  it('reports posture by code: an open account is FIREWALL_DISABLED and stays open unless enforceDeny; disabled public access is skipped', async () => {
    const runs = await targetRuns(t);
    const open = await runs.sync(runs.config([{ resource: accountId('ai-open'), select: [TAG] }]));
    expect(open.vaults[0]!.findings.map((f) => [f.severity, f.code])).toContainEqual(['critical', 'FIREWALL_DISABLED']);
    expect(open.vaults[0]!.outcome).toBe('applied');
    expect((await acls('ai-open')).defaultAction).toBe('Allow');

    const enforced = await runs.sync(runs.config([{ resource: accountId('ai-open'), select: [TAG], enforceDeny: true }]));
    expect(enforced.vaults[0]!.outcome).toBe('applied');
    expect((await acls('ai-open')).defaultAction).toBe('Deny');

    const closed = await runs.sync(runs.config([{ resource: accountId('ai-private'), select: [TAG] }]));
    expect(closed.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
  });
});
