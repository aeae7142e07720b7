import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { runSync, type RunReport } from '../../src/run/run.js';
import { createStorageFirewalls } from '../../src/targets/storage/adapter.js';
import { BUNDLED } from '../helpers/cli.js';
import { FAST_RETRY, subnetId, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { minus, size, span, wantedSpans } from '../core/reference.js';

// Storage accounts through the real @azure/arm-storage client, over HTTPS, against the emulator.

function accountId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Storage/storageAccounts/${name}`;
}

const OFFICE = '145.14.56.23';
const SUBNET = subnetId('vnet-apps', 'snet-web');
const SCANNER = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', resourceId: `/subscriptions/${TEST_SUBSCRIPTION}/providers/Microsoft.Security/datascanners/storageDataScanner` };
const BYPASS = 'Logging, Metrics, AzureServices';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    {
      id: accountId('stlocked'),
      location: 'westeurope',
      properties: {
        publicNetworkAccess: 'Enabled',
        networkAcls: {
          bypass: BYPASS,
          resourceAccessRules: [SCANNER],
          virtualNetworkRules: [{ id: SUBNET, action: 'Allow' }],
          ipRules: [{ value: OFFICE, action: 'Allow' }, { value: '20.38.64.0/19', action: 'Allow' }],
          defaultAction: 'Deny',
        },
      },
    },
    { id: accountId('stopen'), location: 'northeurope' },
    { id: accountId('stprivate'), location: 'westeurope', properties: { publicNetworkAccess: 'Disabled', networkAcls: { defaultAction: 'Deny' } } },
  ],
}));

function firewalls() {
  return createStorageFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
}

const ref = (name: string) => parseResourceId(accountId(name));

async function stored(name: string): Promise<{ properties: { networkAcls: Record<string, unknown> & { ipRules: { value: string }[] } } }> {
  return (await t.emulator.control.resource(accountId(name))) as never;
}

async function storedRules(name: string): Promise<string[]> {
  return (await stored(name)).properties.networkAcls.ipRules.map((r) => r.value);
}

async function arm(name: string): Promise<{ method: string; status: number; body?: unknown; apiVersion?: string; token?: string }[]> {
  return t.emulator.control.requests({ target: accountId(name), kind: 'arm' });
}

const LOCKED_ACLS = (ipRules: string[]) => ({
  bypass: BYPASS,
  resourceAccessRules: [SCANNER],
  virtualNetworkRules: [{ id: SUBNET, action: 'Allow', state: 'Succeeded' }],
  ipRules: ipRules.map((value) => ({ value, action: 'Allow' })),
  defaultAction: 'Deny',
});

describe('the adapter', () => {
  it('reads the rules as the account spells them, the posture and the same-region bypass', async () => {
    const fw = await firewalls().read(ref('stlocked'));
    expect(fw.ipRules).toEqual([OFFICE, '20.38.64.0/19']);
    expect(fw.virtualNetworkRuleCount).toBe(1);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: BYPASS, publicNetworkAccess: 'Enabled' });
    expect(fw.unsupported).toBeUndefined();
    expect(fw.findings).toEqual([expect.objectContaining({ severity: 'info', code: 'SAME_REGION_BYPASS', location: 'westeurope' })]);
    const log = await arm('stlocked');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ method: 'GET', status: 200, apiVersion: '2025-06-01', token: t.credential.token });
    expect(t.credential.requests.at(-1)).toEqual([`${t.emulator.url}/.default`]);
  });

  it('names the location it read in the same-region finding, every read', async () => {
    const target = firewalls();
    for (let i = 0; i < 2; i++) expect((await target.read(ref('stopen'))).findings?.map((f) => [f.code, f.location])).toEqual([['SAME_REGION_BYPASS', 'northeurope']]);
  });

  it('writes one PATCH carrying the complete networkAcls, with only the IP rules changed', async () => {
    const target = firewalls();
    const current = await target.read(ref('stlocked'));
    const written = await target.write(current, { ipRules: [OFFICE, '20.38.64.0/19', '52.5.6.7', '40.74.0.0/15'] });
    const expected = LOCKED_ACLS([OFFICE, '20.38.64.0/19', '52.5.6.7', '40.74.0.0/15']);
    expect((await stored('stlocked')).properties.networkAcls).toEqual(expected);
    expect(written.ipRules).toEqual([OFFICE, '20.38.64.0/19', '52.5.6.7', '40.74.0.0/15']);
    const log = await arm('stlocked');
    expect(log.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'PATCH 200']);
    // The body on the wire, not the outcome: merge-patch would hide a field the serializer dropped.
    expect(log[1]?.body).toEqual({ properties: { networkAcls: expected } });
  });

  it('leaves defaultAction Allow alone unless the change asks for Deny', async () => {
    const target = firewalls();
    await target.write(await target.read(ref('stopen')), { ipRules: ['20.1.0.0/16'] });
    await target.write(await target.read(ref('stopen')), { ipRules: ['20.1.0.0/16'], defaultAction: 'Deny' });
    const patches = (await arm('stopen')).filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => (r.body as { properties: { networkAcls: { defaultAction: string } } }).properties.networkAcls.defaultAction)).toEqual(['Allow', 'Deny']);
    expect((await stored('stopen')).properties.networkAcls).toEqual({ bypass: 'AzureServices', virtualNetworkRules: [], ipRules: [{ value: '20.1.0.0/16', action: 'Allow' }], defaultAction: 'Deny' });
  });

  it.each([
    ['an explicit /32', '52.5.6.7/32'],
    ['a /31', '52.5.6.6/31'],
    ['private space', '10.20.0.0/16'],
    ['a CIDR with host bits', '52.5.6.7/24'],
    ['IPv6', '2603:1000::/40'],
    ['a duplicate of a bare address', '145.14.56.23'],
  ])("Azure refuses %s with 400 InvalidValuesForRequestParameters; TARGET_BAD_REQUEST carries Azure's code, and nothing is stored", async (_, rule) => {
    const target = firewalls();
    const current = await target.read(ref('stlocked'));
    const e = await failure(target.write(current, { ipRules: [OFFICE, rule] }));
    expect(e.code).toBe('TARGET_BAD_REQUEST');
    expect(e.transient).toBe(false);
    expect(e.values).toMatchObject({ status: 400, azureCode: 'InvalidValuesForRequestParameters' });
    expect(e.message).toBe(
      'Azure refused to update Storage account stlocked: Values for request parameters are invalid: networkAcls.ipRule[*].value. For more information, see - https://aka.ms/storagenetworkruleset',
    );
    expect(await storedRules('stlocked')).toEqual([OFFICE, '20.38.64.0/19']);
  });

  it('takes 400 rules and refuses 401', async () => {
    const target = firewalls();
    const rules = Array.from({ length: 401 }, (_, i) => `20.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const current = await target.read(ref('stopen'));
    const e = await failure(target.write(current, { ipRules: rules }));
    expect(e.values).toMatchObject({ status: 400, azureCode: 'InvalidValuesForRequestParameters' });
    expect(e.message).toContain('networkAcls.ipRules[]');
    expect((await target.write(current, { ipRules: rules.slice(0, 400) })).ipRules).toHaveLength(400);
  });

  it('uses one client per subscription, so one token serves every account in it', async () => {
    const other = '11111111-1111-1111-1111-111111111111';
    const elsewhere = accountId('stelsewhere').replace(TEST_SUBSCRIPTION, other);
    await t.emulator.control.seed({ vaults: [], resources: [{ id: elsewhere }] });
    const target = firewalls();
    const before = t.credential.requests.length;
    await target.read(ref('stlocked'));
    await target.read(ref('stopen'));
    expect(t.credential.requests.length - before).toBe(1);
    await target.read(parseResourceId(elsewhere));
    expect(t.credential.requests.length - before).toBe(2);
  });

  it('404: TARGET_NOT_FOUND naming the account', async () => {
    const e = await failure(firewalls().read(ref('stmissing')));
    expect(e.code).toBe('TARGET_NOT_FOUND');
    expect(e.values).toMatchObject({ status: 404, azureCode: 'ResourceNotFound' });
    expect(e.message).toContain("The Resource 'Microsoft.Storage/storageAccounts/stmissing' under resource group 'rg-tagwall-test' was not found");
    expect(e.details).toContain(`resource: ${accountId('stmissing')}`);
  });

  it('403: TARGET_FORBIDDEN naming the permissions it needs', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'resources', resource: accountId('stopen'), status: 403 });
    const e = await failure(firewalls().read(ref('stopen')));
    expect(e.code).toBe('TARGET_FORBIDDEN');
    expect(e.message).toContain('Microsoft.Storage/storageAccounts/read and /write');
  });
});

// ---- Whole runs: config → plan → one guarded PATCH → verify, against the emulator.

interface WireTag {
  name: string;
  properties: { addressPrefixes: string[] };
}

/** The tag's prefixes straight from the bundled file, not through tagwall's reader. */
async function prefixesOf(tag: string): Promise<string[]> {
  const doc = JSON.parse(gunzipSync(await readFile(BUNDLED)).toString('utf8')) as { values: WireTag[] };
  return doc.values.find((v) => v.name === tag)!.properties.addressPrefixes;
}

async function sync(targets: RawConfig['targets'], dir?: string): Promise<RunReport> {
  const work = dir ?? (await mkdtemp(join(tmpdir(), 'tagwall-storage-')));
  const config = parseConfig(
    { serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: t.emulator.url }, state: { store: 'file', path: join(work, 'state.json') }, targets },
    { baseDir: work, source: 'test' },
  );
  const { report } = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, { env: {}, logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, credential: t.credential, armCa: t.emulator.caCert, armRetry: FAST_RETRY });
  return report;
}

const STORAGE_RULE = /^\d{1,3}(\.\d{1,3}){3}(\/([0-9]|[12][0-9]|30))?$/;

describe('sync', () => {
  it('fits a selection of 503 blocks into 400 rules beside the hand-made ones: single addresses bare, no /31 or /32, every address covered', async () => {
    // AzureConnectors lists 503 IPv4 blocks after merging in Public 20251013 (tagwall plan --select AzureConnectors).
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-storage-'));
    const report = await sync([{ resource: accountId('stlocked'), select: ['AzureConnectors'] }], dir);
    const v = report.vaults[0]!;
    expect(v).toMatchObject({ outcome: 'applied', unmanaged: [`${OFFICE}/32`, '20.38.64.0/19'], rules: { limit: 400 } });
    expect(v.findings.map((f) => [f.severity, f.code])).toContainEqual(['info', 'SAME_REGION_BYPASS']);
    // Storage takes 400 virtual-network rules, not Key Vault's 200.
    expect(v.findings).toContainEqual(expect.objectContaining({ code: 'VNET_RULES', count: 1, limit: 400 }));
    const rules = await storedRules('stlocked');
    expect(rules).toHaveLength(400);
    expect(rules.filter((r) => !STORAGE_RULE.test(r))).toEqual([]);
    expect(rules.filter((r) => !r.includes('/')).length).toBeGreaterThan(100);
    expect(rules).toContain(OFFICE);
    const uncovered = minus(wantedSpans(await prefixesOf('AzureConnectors')), rules.map(span));
    expect(size(uncovered)).toBe(0);
    // Everything but the IP rules is as it was.
    const { ipRules: _, ...rest } = (await stored('stlocked')).properties.networkAcls;
    const { ipRules: __, ...expectedRest } = LOCKED_ACLS([]);
    expect(rest).toEqual(expectedRest);
    const log = await arm('stlocked');
    expect(log.map((r) => r.method)).toEqual(['GET', 'PATCH', 'GET']);
    // The stored account would hide a field the PATCH left out (merge-patch keeps it): check the body sent.
    expect(log[1]?.body).toEqual({ properties: { networkAcls: LOCKED_ACLS(rules) } });

    await t.emulator.control.clearRequests();
    const again = await sync([{ resource: accountId('stlocked'), select: ['AzureConnectors'] }], dir);
    expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
    expect((await arm('stlocked')).map((r) => r.method)).toEqual(['GET']);
  });

  it('writes a /31 as its two bare addresses and a single address bare', async () => {
    const report = await sync([{ resource: accountId('stopen'), select: ['AzureDevOps'], extra: ['52.1.2.2/31', '52.1.2.9/32'] }]);
    expect(report.vaults[0]?.outcome).toBe('applied');
    const rules = await storedRules('stopen');
    expect(rules).toEqual(expect.arrayContaining(['52.1.2.2', '52.1.2.3', '52.1.2.9']));
    expect(rules.filter((r) => /\/3[12]$/.test(r))).toEqual([]);
  });

  it('skips an account whose public network access is disabled, with no write', async () => {
    const report = await sync([{ resource: accountId('stprivate'), select: ['AzureDevOps'] }]);
    expect(report.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
    expect(report.vaults[0]!.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['PUBLIC_ACCESS_DISABLED', 'SAME_REGION_BYPASS']));
    expect((await arm('stprivate')).map((r) => r.method)).toEqual(['GET']);
  });

  it('refuses a configured maxRules above the 400 a Storage account takes', () => {
    let error: unknown;
    try {
      parseConfig({ serviceTags: { source: 'file', path: BUNDLED }, targets: [{ resource: accountId('stopen'), select: ['AzureDevOps'], maxRules: 401 }] }, { baseDir: '.', source: 'test' });
    } catch (e) {
      error = e;
    }
    expect(isTagwallError(error, 'CONFIG_INVALID') && error.details).toEqual(['targets[0].maxRules: 401 is more than a Storage account takes (400)']);
  });
});

