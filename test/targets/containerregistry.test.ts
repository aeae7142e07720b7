import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { runSync, type RunReport } from '../../src/run/run.js';
import { createRegistryFirewalls } from '../../src/targets/containerregistry/adapter.js';
import { BUNDLED } from '../helpers/cli.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { minus, size, span, wantedSpans } from '../core/reference.js';

// Container registries through the real @azure/arm-containerregistry client (a long-running
// update), over HTTPS, against the emulator.

function registryId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.ContainerRegistry/registries/${name}`;
}

const OFFICE = '145.14.56.23';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    {
      id: registryId('crpremium'),
      location: 'westeurope',
      sku: { name: 'Premium' },
      properties: { adminUserEnabled: true, networkRuleBypassOptions: 'None', networkRuleSet: { defaultAction: 'Deny', ipRules: [{ action: 'Allow', value: OFFICE }] } },
    },
    { id: registryId('cropen'), sku: { name: 'Premium' } },
    { id: registryId('crstandard'), sku: { name: 'Standard' } },
    { id: registryId('crbasic'), sku: { name: 'Basic' } },
    { id: registryId('crprivate'), sku: { name: 'Premium' }, properties: { publicNetworkAccess: 'Disabled', networkRuleSet: { defaultAction: 'Deny' } } },
  ],
}));

function firewalls() {
  return createRegistryFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
}

const ref = (name: string) => parseResourceId(registryId(name));

type StoredRegistry = { sku: { name: string }; properties: Record<string, unknown> & { networkRuleSet: { defaultAction: string; ipRules: { action: string; value: string }[] } } };

async function stored(name: string): Promise<StoredRegistry> {
  return (await t.emulator.control.resource(registryId(name))) as never;
}

async function storedRules(name: string): Promise<string[]> {
  return (await stored(name)).properties.networkRuleSet.ipRules.map((r) => r.value);
}

async function arm(name: string) {
  return t.emulator.control.requests({ target: registryId(name), kind: 'arm' });
}

describe('the adapter', () => {
  it('reads the rules, and maps defaultAction, networkRuleBypassOptions and publicNetworkAccess onto the posture', async () => {
    const fw = await firewalls().read(ref('crpremium'));
    expect(fw.ipRules).toEqual([OFFICE]);
    expect(fw.virtualNetworkRuleCount).toBe(0);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' });
    expect(fw.unsupported).toBeUndefined();
    expect(fw.findings).toBeUndefined();
    expect((await arm('crpremium')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([['GET', 200, '2025-11-01']]);
  });

  it.each(['Standard', 'Basic'])('a %s registry is SKU_UNSUPPORTED: no write, and a warning that says why', async (sku) => {
    const fw = await firewalls().read(ref(`cr${sku.toLowerCase()}`));
    expect(fw.unsupported).toEqual({ code: 'SKU_UNSUPPORTED', message: expect.stringContaining('IP rules need the Premium SKU') });
    expect(fw.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SKU_UNSUPPORTED', sku, required: 'Premium' })]);
  });

  it('writes one long-running PATCH with only the rule set, polls it to its end and reads the registry back', async () => {
    const target = firewalls();
    const current = await target.read(ref('crpremium'));
    const before = await stored('crpremium');
    const written = await target.write(current, { ipRules: [OFFICE, '20.38.64.0/19', '52.5.6.7'] });
    expect(written.ipRules).toEqual([OFFICE, '20.38.64.0/19', '52.5.6.7']);
    const log = await arm('crpremium');
    expect(log.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'PATCH 201', 'GET 200', 'GET 200']);
    expect(log[2]?.path).toMatch(/\/registries\/crpremium\/operationStatuses\/registries-[0-9a-f-]{36}$/);
    expect(log[3]?.path).toBe(registryId('crpremium'));
    const rules = [OFFICE, '20.38.64.0/19', '52.5.6.7'].map((value) => ({ action: 'Allow', value }));
    expect(log[1]?.body).toEqual({ properties: { networkRuleSet: { defaultAction: 'Deny', ipRules: rules } } });
    const after = await stored('crpremium');
    expect(after).toEqual({ ...before, properties: { ...before.properties, networkRuleSet: { defaultAction: 'Deny', ipRules: rules } } });
  });

  it('a /32 is accepted and stored as the bare address, as Azure does', async () => {
    const target = firewalls();
    const written = await target.write(await target.read(ref('cropen')), { ipRules: ['52.5.6.7/32', '52.5.6.8/31'] });
    expect(written.ipRules).toEqual(['52.5.6.7', '52.5.6.8/31']);
    expect(await storedRules('cropen')).toEqual(['52.5.6.7', '52.5.6.8/31']);
  });

  it('leaves defaultAction Allow alone unless the change asks for Deny', async () => {
    const target = firewalls();
    await target.write(await target.read(ref('cropen')), { ipRules: ['20.1.0.0/16'] });
    expect((await stored('cropen')).properties.networkRuleSet.defaultAction).toBe('Allow');
    await target.write(await target.read(ref('cropen')), { ipRules: ['20.1.0.0/16'], defaultAction: 'Deny' });
    expect((await stored('cropen')).properties.networkRuleSet.defaultAction).toBe('Deny');
  });

  it('takes 100 rules and refuses 101 with a 400 that becomes TARGET_BAD_REQUEST; nothing is stored', async () => {
    const target = firewalls();
    const rules = Array.from({ length: 101 }, (_, i) => `20.0.${i}.0/24`);
    const current = await target.read(ref('cropen'));
    const e = await failure(target.write(current, { ipRules: rules }));
    expect(e.code).toBe('TARGET_BAD_REQUEST');
    expect(e.values).toMatchObject({ status: 400, azureCode: 'BadRequest' });
    expect(e.message).toContain('101 IP rules exceed the maximum of 100');
    expect(await storedRules('cropen')).toEqual([]);
    expect((await target.write(current, { ipRules: rules.slice(0, 100) })).ipRules).toHaveLength(100);
  });

  it('refuses private space', async () => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('cropen')), { ipRules: ['172.16.0.0/12'] }));
    expect(e.values).toMatchObject({ status: 400, azureCode: 'BadRequest' });
    expect(e.message).toContain('properties.networkRuleSet.ipRules[0].value');
  });

  it('a lower SKU refuses IP rules (the write tagwall never sends), and refuses disabling public access', async () => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('crstandard')), { ipRules: ['20.1.0.0/16'] }));
    expect(e.code).toBe('TARGET_BAD_REQUEST');
    expect(e.values).toMatchObject({ status: 400, azureCode: 'NetworkRuleSetNotSupported' });
    expect(await storedRules('crstandard')).toEqual([]);
    const off = await t.fetch('PATCH', `${registryId('crbasic')}?api-version=2025-11-01`, { body: { properties: { publicNetworkAccess: 'Disabled' } } });
    expect(off.status).toBe(400);
    expect(off.json.error).toEqual({
      code: 'DisablingPublicNetworkAccessNotSupported',
      message: 'Disabling public network access is not supported for the SKU Basic. For more information, please visit https://aka.ms/acr/private-link.',
    });
  });

  it('404: TARGET_NOT_FOUND naming the registry', async () => {
    const e = await failure(firewalls().read(ref('crmissing')));
    expect(e.code).toBe('TARGET_NOT_FOUND');
    expect(e.message).toContain("The Resource 'Microsoft.ContainerRegistry/registries/crmissing' under resource group 'rg-tagwall-test' was not found");
  });

  it('waits for the update no longer than its bound: a stalled operation is TARGET_OPERATION_TIMEOUT, like every long-running write', async () => {
    const target = createRegistryFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, operations: { timeoutMs: 300, pollIntervalMs: 20 } });
    const current = await target.read(ref('cropen'));
    // The status poll hangs for 3 s: far beyond the 300 ms bound.
    await t.emulator.control.addFault({ kind: 'delay', on: 'resources', resource: registryId('cropen'), method: 'GET', delayMs: 3_000 });
    const started = Date.now();
    const e = await failure(target.write(current, { ipRules: ['20.1.0.0/16'] }));
    expect(e.code).toBe('TARGET_OPERATION_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('a failed poll of the update fails the write, not silently', async () => {
    const target = firewalls();
    const current = await target.read(ref('cropen'));
    await t.emulator.control.addFault({ kind: 'respond', on: 'resources', resource: registryId('cropen'), method: 'GET', status: 403 });
    const e = await failure(target.write(current, { ipRules: ['20.1.0.0/16'] }));
    expect(e.code).toBe('TARGET_FORBIDDEN');
    expect(e.message).toContain('Microsoft.ContainerRegistry/registries/read and /write');
  });
});

// ---- Whole runs against the emulator.

async function prefixesOf(tag: string): Promise<string[]> {
  const doc = JSON.parse(gunzipSync(await readFile(BUNDLED)).toString('utf8')) as { values: { name: string; properties: { addressPrefixes: string[] } }[] };
  return doc.values.find((v) => v.name === tag)!.properties.addressPrefixes;
}

async function sync(targets: RawConfig['targets'], dir?: string): Promise<RunReport> {
  const work = dir ?? (await mkdtemp(join(tmpdir(), 'tagwall-registry-')));
  const config = parseConfig(
    { serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: t.emulator.url }, state: { store: 'file', path: join(work, 'state.json') }, targets },
    { baseDir: work, source: 'test' },
  );
  const { report } = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, { env: {}, logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, credential: t.credential, armCa: t.emulator.caCert, armRetry: FAST_RETRY });
  return report;
}

describe('sync', () => {
  it('fits 110 blocks into 100 rules beside the hand-made one, single addresses bare, every address covered; the next run writes nothing', async () => {
    // LogicApps@westeurope: the LogicApps.WestEurope tag, 110 blocks after merging in Public 20251013.
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-registry-'));
    const report = await sync([{ resource: registryId('crpremium'), select: ['LogicApps@westeurope'] }], dir);
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [`${OFFICE}/32`], rules: { limit: 100 } });
    const rules = await storedRules('crpremium');
    expect(rules).toHaveLength(100);
    expect(rules).toContain(OFFICE);
    expect(rules.filter((r) => /\/3[12]$/.test(r))).toEqual([]);
    expect(rules.filter((r) => !r.includes('/')).length).toBeGreaterThan(50);
    expect(size(minus(wantedSpans(await prefixesOf('LogicApps.WestEurope')), rules.map(span)))).toBe(0);
    expect((await stored('crpremium')).properties.networkRuleBypassOptions).toBe('None');

    await t.emulator.control.clearRequests();
    const again = await sync([{ resource: registryId('crpremium'), select: ['LogicApps@westeurope'] }], dir);
    expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
    expect((await arm('crpremium')).map((r) => r.method)).toEqual(['GET']);
  });

  it('skips a Standard registry as TARGET_UNSUPPORTED (SKU_UNSUPPORTED): a clear finding, no write, no failure', async () => {
    const report = await sync([{ resource: registryId('crstandard'), select: ['AzureDevOps'], enforceDeny: true }]);
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('skipped');
    expect(v.reasons).toEqual([expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'SKU_UNSUPPORTED' })]);
    expect(v.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'SKU_UNSUPPORTED']]);
    expect(v.error).toBeUndefined();
    expect((await arm('crstandard')).map((r) => r.method)).toEqual(['GET']);
  });

  it('skips a registry whose public network access is disabled', async () => {
    const report = await sync([{ resource: registryId('crprivate'), select: ['AzureDevOps'] }]);
    expect(report.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
    expect((await arm('crprivate')).map((r) => r.method)).toEqual(['GET']);
  });

  it('reports bypass None against expectBypass AzureServices', async () => {
    const report = await sync([{ resource: registryId('crpremium'), select: ['AzureDevOps'], expectBypass: 'AzureServices' }]);
    expect(report.vaults[0]!.findings).toContainEqual(expect.objectContaining({ code: 'BYPASS_MISMATCH', bypass: 'None', expected: 'AzureServices' }));
  });
});
