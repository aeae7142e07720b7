import { describe, expect, it } from 'vitest';
import { countAddresses, mergeRanges, subtractRanges } from '../../src/core/ipv4.js';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import { createSearchFirewalls } from '../../src/targets/search/adapter.js';
import { AI_SEARCH } from '../../src/targets/search/facts.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { exitCodeFor } from '../../src/run/run.js';
import { bundledTagRanges, rangesOfRules, targetRuns } from '../helpers/run-target.js';

// The AI Search adapter through the real SDK client, over HTTPS, against the emulator.

const OFFICE = '145.14.56.23';
/** Microsoft documents no limit for Search; 100 is the figure docs/TARGETS.md gives and explains. */
const LIMIT = 100;

function serviceId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Search/searchServices/${name}`;
}
function ref(name: string): ResourceRef {
  return parseResourceId(serviceId(name));
}

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    { id: serviceId('srch-locked'), sku: { name: 'standard' }, tags: { team: 'search' }, properties: { replicaCount: 2, networkRuleSet: { ipRules: [{ value: OFFICE }, { value: '20.38.64.0/19' }], bypass: 'AzureServices' } } },
    { id: serviceId('srch-open') },
    { id: serviceId('srch-free'), sku: { name: 'free' } },
    { id: serviceId('srch-private'), properties: { publicNetworkAccess: 'disabled', networkRuleSet: { ipRules: [{ value: OFFICE }] } } },
    { id: serviceId('srch-app'), properties: { networkRuleSet: { ipRules: [{ value: OFFICE }], bypass: 'None' } } },
  ],
}));

function firewalls() {
  return createSearchFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
}

async function log(name: string) {
  return (await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.target?.toLowerCase() === serviceId(name).toLowerCase());
}

function addresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `52.${100 + Math.floor(i / 250)}.${i % 250}.1`);
}

describe('the facts', () => {
  it('say 100 rules, single addresses bare and no /31, and a plain PATCH', () => {
    expect(AI_SEARCH).toMatchObject({ resourceType: 'Microsoft.Search/searchServices', apiVersion: '2025-05-01', maxRules: LIMIT, singleAddress: 'bare', allows31: false, longRunning: false });
  });
});

describe('read', () => {
  it('maps the rule set; rules present read as Deny', async () => {
    const fw = await firewalls().read(ref('srch-locked'));
    expect(fw.ipRules).toEqual([OFFICE, '20.38.64.0/19']);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'enabled' });
    expect(fw.unsupported).toBeUndefined();
    expect((await log('srch-locked'))[0]).toMatchObject({ method: 'GET', status: 200, apiVersion: '2025-05-01', token: t.credential.token });
  });

  it('reads no rules as Allow, disabled public access as such, and the Free tier as unsupported', async () => {
    expect((await firewalls().read(ref('srch-open'))).posture).toEqual({ defaultAction: 'Allow', bypass: 'None', publicNetworkAccess: 'enabled' });
    expect((await firewalls().read(ref('srch-private'))).posture.publicNetworkAccess).toBe('disabled');
    expect((await firewalls().read(ref('srch-free'))).unsupported).toMatchObject({ code: 'SEARCH_FREE_TIER' });
  });

  it('answers a missing service with TARGET_NOT_FOUND', async () => {
    expect(await failure(firewalls().read(ref('srch-nowhere')))).toMatchObject({ code: 'TARGET_NOT_FOUND', values: { status: 404, azureCode: 'ResourceNotFound' } });
  });
});

describe('write', () => {
  it('PATCHes the rule set with bypass as read and changes nothing else', async () => {
    const target = firewalls();
    const before = (await t.emulator.control.resource(serviceId('srch-locked'))) as Record<string, any>;
    const fw = await target.write(await target.read(ref('srch-locked')), { ipRules: [OFFICE, '52.5.6.7'] });
    expect(fw.ipRules).toEqual([OFFICE, '52.5.6.7']);
    const expected = structuredClone(before);
    expected['properties'].networkRuleSet.ipRules = [{ value: OFFICE }, { value: '52.5.6.7' }];
    expect(await t.emulator.control.resource(serviceId('srch-locked'))).toEqual(expected);
    const patch = (await log('srch-locked')).find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({ status: 200, body: { properties: { networkRuleSet: { ipRules: [{ value: OFFICE }, { value: '52.5.6.7' }], bypass: 'AzureServices' } } } });
    expect(Object.keys((patch!.body as any).properties)).toEqual(['networkRuleSet']);
  });

  it('writes a first rule only when asked for Deny, and never removes the last one', async () => {
    const target = firewalls();
    const open = await target.read(ref('srch-open'));
    expect(await failure(target.write(open, { ipRules: ['52.5.6.7'] }))).toMatchObject({ code: 'TARGET_WOULD_ENABLE_FIREWALL' });
    expect((await log('srch-open')).map((r) => r.method)).toEqual(['GET']);
    expect((await target.write(open, { ipRules: ['52.5.6.7'], defaultAction: 'Deny' })).posture.defaultAction).toBe('Deny');
    const locked = await target.read(ref('srch-locked'));
    expect(await failure(target.write(locked, { ipRules: [] }))).toMatchObject({ code: 'TARGET_WOULD_DISABLE_FIREWALL' });
  });

  it('is refused private ranges, malformed values, duplicates and more than 100 rules, as TARGET_BAD_REQUEST', async () => {
    const target = firewalls();
    const current = await target.read(ref('srch-locked'));
    for (const bad of [['10.20.0.0/16'], ['127.0.0.1'], ['52.5.6.300'], ['2001:db8::/32'], ['52.5.6.7', '52.5.6.7/32'], addresses(LIMIT + 1)]) {
      expect(await failure(target.write(current, { ipRules: bad }))).toMatchObject({ code: 'TARGET_BAD_REQUEST', values: { status: 400, azureCode: 'BadRequest' } });
    }
    expect((await target.write(current, { ipRules: addresses(LIMIT) })).ipRules).toHaveLength(LIMIT);
  });
});

describe('end to end through runSync', () => {
  /** AzureMonitorForSAP holds ten /31s and ten /32s in the bundled file (Public 20251013). */
  const TAG = 'AzureMonitorForSAP';
  /** AzureCognitiveSearch holds 187 IPv4 prefixes there: more than a service takes. */
  const BIG = 'AzureCognitiveSearch';

  const values = async (name: string): Promise<string[]> =>
    (((await t.emulator.control.resource(serviceId(name))) as any).properties.networkRuleSet.ipRules as { value: string }[]).map((r) => r.value);

  it('first run applies the tag beside the hand-made rule, singles bare and /31s split; the second run writes nothing', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: serviceId('srch-app'), select: [TAG] }]);
    expect((await runs.sync(cfg)).vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [`${OFFICE}/32`] });
    const stored = await values('srch-app');
    expect(stored).toContain(OFFICE);
    expect(stored.filter((r) => r.endsWith('/32') || r.endsWith('/31'))).toEqual([]);
    expect(rangesOfRules(stored)).toEqual(mergeRanges([...(await bundledTagRanges(TAG)), ...rangesOfRules([OFFICE])]));

    await t.emulator.control.clearRequests();
    expect((await runs.sync(cfg)).vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
    expect((await log('srch-app')).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200']);
  });

  it('fits a selection that needs more than 100 rules into 100, beside the hand-made one', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([{ resource: serviceId('srch-app'), select: [BIG], guards: { maxExcessAddresses: 4294967296, maxWidenedPrefix: 0 } }]));
    // It had to widen: the tag alone holds more prefixes than fit.
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', excessAddresses: expect.any(Number) });
    expect(report.vaults[0]!.excessAddresses).toBeGreaterThan(0);
    const stored = await values('srch-app');
    expect(stored.length).toBeLessThanOrEqual(LIMIT);
    expect(stored).toContain(OFFICE);
    expect(countAddresses(subtractRanges(await bundledTagRanges(BIG), rangesOfRules(stored)))).toBe(0);
  });

  it('refuses a first rule on an open service in the dry run as in the apply (exit 1), with no request that writes', async () => {
    const runs = await targetRuns(t);
    const preview = await runs.sync(runs.config([{ resource: serviceId('srch-open'), select: [TAG] }]), { dryRun: true });
    expect(preview.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect(exitCodeFor(preview, true)).toBe(1);
  });

  it('reports posture by code: open, Free tier, disabled public access, and a bypass other than expected', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(
      runs.config([
        { resource: serviceId('srch-open'), select: [TAG] },
        { resource: serviceId('srch-free'), select: [TAG] },
        { resource: serviceId('srch-private'), select: [TAG] },
        { resource: serviceId('srch-locked'), select: [TAG], expectBypass: 'None' },
      ]),
    );
    const byName = new Map(report.vaults.map((v) => [v.vault.split('/').at(-1), v]));
    expect(byName.get('srch-open')!.findings.map((f) => [f.severity, f.code])).toContainEqual(['critical', 'FIREWALL_DISABLED']);
    expect(byName.get('srch-open')).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect((await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH' && r.target?.toLowerCase() === serviceId('srch-open').toLowerCase())).toEqual([]);
    expect(await values('srch-open')).toEqual([]);
    expect(byName.get('srch-free')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'SEARCH_FREE_TIER' })] });
    expect(byName.get('srch-private')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
    expect(byName.get('srch-locked')!.findings.map((f) => f.code)).toContain('BYPASS_MISMATCH');
    expect(byName.get('srch-locked')!.outcome).toBe('applied');
  });
});
