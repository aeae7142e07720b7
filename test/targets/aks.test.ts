import { describe, expect, it } from 'vitest';
import { countAddresses, mergeRanges, subtractRanges } from '../../src/core/ipv4.js';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import { exitCodeFor } from '../../src/run/run.js';
import { createAksFirewalls } from '../../src/targets/aks/adapter.js';
import { AKS_CLUSTER } from '../../src/targets/aks/facts.js';
import type { ArmClientOptions } from '../../src/arm/client-options.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { bundledTagRanges, rangesOfRules, targetRuns } from '../helpers/run-target.js';

// AKS API server authorized IP ranges through the real @azure/arm-containerservice client (a
// long-running PUT of the whole cluster), over HTTPS, against the emulator.

const OFFICE = '145.14.56.23/32';
const CI = '20.38.64.0/19';

function clusterId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.ContainerService/managedClusters/${name}`;
}
const ref = (name: string): ResourceRef => parseResourceId(clusterId(name));
const access = (ranges: string[], extra: Record<string, unknown> = {}) => ({ apiServerAccessProfile: { authorizedIPRanges: ranges, ...extra } });

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    {
      id: clusterId('aks-locked'),
      location: 'westeurope',
      tags: { team: 'platform' },
      identity: { type: 'SystemAssigned' },
      properties: {
        ...access([OFFICE, CI], { disableRunCommand: true }),
        kubernetesVersion: '1.32.4',
        linuxProfile: { adminUsername: 'azureuser', ssh: { publicKeys: [{ keyData: 'ssh-rsa AAAA' }] } },
        addonProfiles: { azurepolicy: { enabled: true } },
        autoUpgradeProfile: { upgradeChannel: 'patch' },
      },
      emulatorOperation: { durationMs: 100 },
    },
    { id: clusterId('aks-open'), location: 'westeurope', emulatorOperation: { durationMs: 0 } },
    { id: clusterId('aks-private'), location: 'westeurope', properties: { apiServerAccessProfile: { enablePrivateCluster: true }, publicNetworkAccess: 'Disabled' } },
    { id: clusterId('aks-private-public'), location: 'westeurope', properties: { apiServerAccessProfile: { enablePrivateCluster: true } } },
    { id: clusterId('aks-egress'), location: 'westeurope', properties: access(['0.0.0.0/32']) },
    { id: clusterId('aks-stuck'), location: 'westeurope', properties: access([OFFICE]), emulatorOperation: { durationMs: 3_600_000 } },
    { id: clusterId('aks-failing'), location: 'westeurope', properties: access([OFFICE]), emulatorOperation: { durationMs: 50, fail: { code: 'VMExtensionProvisioningError', message: 'The cluster update failed: a node could not be reconciled.' } } },
    { id: clusterId('aks-tagged'), location: 'westeurope', tags: { tagwall: 'devops' }, properties: access([OFFICE]) },
  ],
}));

function firewalls(overrides: Partial<ArmClientOptions> = {}) {
  return createAksFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, operations: { pollIntervalMs: 20 }, ...overrides });
}

async function log(name: string) {
  return (await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.target?.toLowerCase() === clusterId(name).toLowerCase() || r.path.toLowerCase().startsWith(clusterId(name).toLowerCase()));
}

type Stored = Record<string, any> & { eTag: string; properties: Record<string, any> };
const stored = async (name: string): Promise<Stored> => (await t.emulator.control.resource(clusterId(name))) as Stored;
const ranges = async (name: string): Promise<string[]> => (await stored(name)).properties.apiServerAccessProfile?.authorizedIPRanges ?? [];

/** A person's change through ARM: the cluster PUT back with other ranges, as the portal or az would. */
async function personSets(name: string, next: string[]): Promise<void> {
  const now = await stored(name);
  const { provisioningState: _s, fqdn: _f, ...writable } = now.properties;
  const res = await t.fetch('PUT', `${clusterId(name)}?api-version=2026-04-01`, {
    body: { location: now.location, tags: now.tags, properties: { ...writable, apiServerAccessProfile: { ...writable.apiServerAccessProfile, authorizedIPRanges: next } } },
  });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  for (let i = 0; i < 100 && (await stored(name)).properties.provisioningState !== 'Succeeded'; i++) {
    await t.fetch('GET', `${clusterId(name)}?api-version=2026-04-01`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the facts', () => {
  it('say 200 ranges as CIDR, 0.0.0.0/32 special, the list as the switch, a long-running write with a note on its cost', () => {
    expect(AKS_CLUSTER).toMatchObject({ maxRules: 200, singleAddress: 'cidr', allows31: false, special: ['0.0.0.0/32'], ipListIsSwitch: true, longRunning: true, apiVersion: '2026-04-01' });
    expect(AKS_CLUSTER.writeNote).toMatch(/whole-cluster update.*minutes/);
    expect(AKS_CLUSTER.graphPaths).toEqual({ rules: 'properties.apiServerAccessProfile.authorizedIPRanges', publicNetworkAccess: 'properties.publicNetworkAccess' });
  });
});

describe('read', () => {
  it('maps the ranges as the cluster holds them; ranges present read as Deny, none as Allow', async () => {
    const locked = await firewalls().read(ref('aks-locked'));
    expect(locked.ipRules).toEqual([OFFICE, CI]);
    expect(locked.posture).toEqual({ defaultAction: 'Deny', publicNetworkAccess: 'Enabled' });
    expect(locked.unsupported).toBeUndefined();
    const open = await firewalls().read(ref('aks-open'));
    expect(open.ipRules).toEqual([]);
    expect(open.posture.defaultAction).toBe('Allow');
    expect((await log('aks-locked')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([['GET', 200, '2026-04-01']]);
  });

  it('a private cluster is AKS_PRIVATE_CLUSTER, and 0.0.0.0/32 alone is AKS_EGRESS_ONLY: never written', async () => {
    for (const name of ['aks-private', 'aks-private-public']) {
      const fw = await firewalls().read(ref(name));
      expect(fw.unsupported).toEqual({ code: 'AKS_PRIVATE_CLUSTER', message: expect.stringContaining('private') });
    }
    const egress = await firewalls().read(ref('aks-egress'));
    expect(egress.ipRules).toEqual(['0.0.0.0/32']);
    expect(egress.unsupported).toEqual({ code: 'AKS_EGRESS_ONLY', message: expect.stringContaining('0.0.0.0/32') });
  });

  it('answers a missing cluster with TARGET_NOT_FOUND', async () => {
    expect((await failure(firewalls().read(ref('aks-missing')))).code).toBe('TARGET_NOT_FOUND');
  });
});

describe('write', () => {
  it('PUTs the cluster as read with only the ranges changed, If-Match on its eTag, polls the operation to its end, and changes nothing else', async () => {
    const target = firewalls();
    const current = await target.read(ref('aks-locked'));
    const before = await stored('aks-locked');
    const written = await target.write(current, { ipRules: [OFFICE, CI, '52.5.6.0/24'] });
    expect(written.ipRules).toEqual([OFFICE, CI, '52.5.6.0/24']);
    const requests = await log('aks-locked');
    expect(requests.map((r) => `${r.method} ${r.status}`).filter((r) => !r.startsWith('GET 200'))).toEqual(['PUT 200']);
    const put = requests.find((r) => r.method === 'PUT')!;
    expect(requests.filter((r) => r.path.includes('/operations/')).length).toBeGreaterThanOrEqual(1);
    // The last request is the read of the cluster once the operation has ended.
    expect(requests.at(-1)).toMatchObject({ method: 'GET', path: clusterId('aks-locked') });
    // The body is the cluster as read, less what the service owns.
    const body = put.body as { properties: Record<string, any>; location: string; identity: unknown; tags: unknown };
    expect(body.properties.apiServerAccessProfile).toEqual({ authorizedIPRanges: [OFFICE, CI, '52.5.6.0/24'], disableRunCommand: true });
    expect(body.properties.fqdn).toBeUndefined();
    expect(body.properties.provisioningState).toBeUndefined();
    expect(body).toMatchObject({ location: 'westeurope', identity: { type: 'SystemAssigned' }, tags: { team: 'platform' } });
    const after = await stored('aks-locked');
    const { eTag: _e1, ...restBefore } = before;
    const { eTag: _e2, ...restAfter } = after;
    expect(restAfter).toEqual({ ...restBefore, properties: { ...before.properties, apiServerAccessProfile: { ...before.properties.apiServerAccessProfile, authorizedIPRanges: [OFFICE, CI, '52.5.6.0/24'] } } });
    expect(after.eTag).not.toBe(before.eTag);
  });

  it('a cluster changed since it was read is not overwritten: If-Match fails as TARGET_CONFLICT, and the change stays', async () => {
    const target = firewalls();
    const current = await target.read(ref('aks-locked'));
    await personSets('aks-locked', [OFFICE]);
    const e = await failure(target.write(current, { ipRules: [OFFICE, CI, '52.5.6.0/24'] }));
    expect(e).toMatchObject({ code: 'TARGET_CONFLICT', values: { status: 412 } });
    expect(await ranges('aks-locked')).toEqual([OFFICE]);
  });

  it('Azure refuses more than 200 ranges, host bits, private space, and 0.0.0.0/32 beside others, as TARGET_BAD_REQUEST; nothing changes', async () => {
    const target = firewalls();
    const current = await target.read(ref('aks-locked'));
    const many = Array.from({ length: 201 }, (_, i) => `20.${i >> 8}.${i & 255}.0/24`);
    const cases: [string[], RegExp][] = [
      [many, /201 authorized IP ranges exceed the maximum of 200/],
      [[OFFICE, '137.117.106.90/29'], /host bits/],
      [[OFFICE, '10.1.0.0/16'], /not a public IP address/],
      [[OFFICE, '0.0.0.0/32'], /0\.0\.0\.0\/32 is not allowed with other IP ranges/],
    ];
    for (const [rules, why] of cases) {
      const e = await failure(target.write(current, { ipRules: rules }));
      expect(e.code).toBe('TARGET_BAD_REQUEST');
      expect(e.values).toMatchObject({ status: 400, azureCode: 'InvalidParameter' });
      expect(e.message).toMatch(why);
    }
    expect(await ranges('aks-locked')).toEqual([OFFICE, CI]);
    expect((await target.write(current, { ipRules: many.slice(0, 200) })).ipRules).toHaveLength(200);
  });

  it('a bare address is stored as its /32', async () => {
    const target = firewalls();
    const written = await target.write(await target.read(ref('aks-locked')), { ipRules: ['52.5.6.7'] });
    expect(written.ipRules).toEqual(['52.5.6.7/32']);
  });

  it('writes a first range only when asked for Deny, and never removes the last one; neither request is sent', async () => {
    const target = firewalls();
    const open = await target.read(ref('aks-open'));
    expect((await failure(target.write(open, { ipRules: [CI] }))).code).toBe('TARGET_WOULD_ENABLE_FIREWALL');
    const locked = await target.read(ref('aks-locked'));
    expect((await failure(target.write(locked, { ipRules: [] }))).code).toBe('TARGET_WOULD_DISABLE_FIREWALL');
    expect((await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PUT')).toEqual([]);
    expect((await target.write(open, { ipRules: [CI], defaultAction: 'Deny' })).ipRules).toEqual([CI]);
  });

  it('gives up on a never-ending update with TARGET_OPERATION_TIMEOUT, and a second update meets the running one as TARGET_CONFLICT', async () => {
    const target = firewalls({ operations: { pollIntervalMs: 20, timeoutMs: 300 } });
    const current = await target.read(ref('aks-stuck'));
    const started = Date.now();
    const e = await failure(target.write(current, { ipRules: [OFFICE, CI] }));
    expect(e.code).toBe('TARGET_OPERATION_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
    const again = await failure(target.write(await target.read(ref('aks-stuck')), { ipRules: [OFFICE, CI] }));
    expect(again).toMatchObject({ code: 'TARGET_CONFLICT', values: { status: 409, azureCode: 'OperationNotAllowed' } });
  });

  it('a failed update is TARGET_OPERATION_FAILED with Azure code, and the ranges stay as they were', async () => {
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('aks-failing')), { ipRules: [OFFICE, CI] }));
    expect(e).toMatchObject({ code: 'TARGET_OPERATION_FAILED', values: { operationStatus: 'failed', azureCode: 'VMExtensionProvisioningError' } });
    expect(await ranges('aks-failing')).toEqual([OFFICE]);
  });
});

describe('end to end through runSync', () => {
  /** AzureMonitorForSAP holds ten /31s and ten /32s in the bundled file (Public 20251013): it shows the address forms. */
  const TAG = 'AzureMonitorForSAP';

  it('first run applies the tag beside a person\'s range, singles as /32 and no /31, and says what the write costs; the second writes nothing', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: clusterId('aks-tagged'), select: [TAG] }]);
    const preview = await runs.sync(cfg, { dryRun: true });
    expect(preview.vaults[0]!.findings).toContainEqual(expect.objectContaining({ severity: 'info', code: 'WRITE_NOTE', message: expect.stringMatching(/whole-cluster update/) }));
    expect((await log('aks-tagged')).filter((r) => r.method === 'PUT')).toEqual([]);

    const first = await runs.sync(cfg);
    expect(first.vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [OFFICE] });
    const now = await ranges('aks-tagged');
    expect(now).toContain(OFFICE);
    expect(now.every((r) => r.includes('/'))).toBe(true);
    expect(now.filter((r) => r.endsWith('/31'))).toEqual([]);
    expect(rangesOfRules(now)).toEqual(mergeRanges([...(await bundledTagRanges(TAG)), ...rangesOfRules([OFFICE])]));
    expect((await log('aks-tagged')).filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([200]);

    await t.emulator.control.clearRequests();
    const second = await runs.sync(cfg);
    expect(second.vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
    expect(second.vaults[0]!.findings.map((f) => f.code)).not.toContain('WRITE_NOTE');
    expect((await log('aks-tagged')).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200']);
  });

  it('a range of tagwall\'s removed by a person is drift, and the next run puts it back beside the person\'s own', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: clusterId('aks-tagged'), select: [TAG] }]);
    await runs.sync(cfg);
    const mine = (await ranges('aks-tagged')).filter((r) => r !== OFFICE);
    const victim = mine[0]!;
    await personSets('aks-tagged', (await ranges('aks-tagged')).filter((r) => r !== victim));
    const again = await runs.sync(cfg);
    expect(again.vaults[0]!.drift).toContainEqual(expect.objectContaining({ code: 'RULE_MISSING', rule: victim }));
    expect(again.vaults[0]).toMatchObject({ outcome: 'applied', add: [victim] });
    expect(await ranges('aks-tagged')).toContain(victim);
    expect(await ranges('aks-tagged')).toContain(OFFICE);
  });

  it('fits a selection that needs more than 200 ranges into 200, and refuses maxRules above it', async () => {
    const runs = await targetRuns(t);
    expect(() => runs.config([{ resource: clusterId('aks-tagged'), select: ['LogicApps'], maxRules: 201 }])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const report = await runs.sync(runs.config([{ resource: clusterId('aks-tagged'), select: ['LogicApps'], guards: { maxExcessAddresses: 4294967296, maxWidenedPrefix: 0 } }]));
    expect(report.vaults[0]!.outcome).toBe('applied');
    const now = await ranges('aks-tagged');
    expect(now.length).toBeLessThanOrEqual(200);
    expect(now).toContain(OFFICE);
    expect(countAddresses(subtractRanges(await bundledTagRanges('LogicApps'), rangesOfRules(now)))).toBe(0);
  });

  it('refuses a first range on an open cluster in the dry run as in the apply, with no PUT; enforceDeny closes it', async () => {
    const runs = await targetRuns(t);
    const cfg = runs.config([{ resource: clusterId('aks-open'), select: [TAG] }]);
    const preview = await runs.sync(cfg, { dryRun: true });
    expect(preview.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect(exitCodeFor(preview, true)).toBe(1);
    const apply = await runs.sync(cfg, { force: true });
    expect(apply.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
    expect((await log('aks-open')).filter((r) => r.method === 'PUT')).toEqual([]);
    expect(await ranges('aks-open')).toEqual([]);

    const enforced = await runs.sync(runs.config([{ resource: clusterId('aks-open'), select: [TAG], enforceDeny: true }]));
    expect(enforced.vaults[0]!.outcome).toBe('applied');
    expect((await ranges('aks-open')).length).toBeGreaterThan(0);
  });

  it('skips a private cluster and an egress-only one as TARGET_UNSUPPORTED with their causes, with no PUT', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(
      runs.config([
        { resource: clusterId('aks-private-public'), select: [TAG], enforceDeny: true },
        { resource: clusterId('aks-egress'), select: [TAG] },
        { resource: clusterId('aks-private'), select: [TAG] },
      ]),
    );
    const byName = new Map(report.vaults.map((v) => [v.vault.split('/').at(-1), v]));
    expect(byName.get('aks-private-public')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'AKS_PRIVATE_CLUSTER' })] });
    expect(byName.get('aks-egress')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'AKS_EGRESS_ONLY' })] });
    expect(byName.get('aks-private')).toMatchObject({ outcome: 'skipped' });
    expect((await t.emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PUT')).toEqual([]);
    expect(await ranges('aks-egress')).toEqual(['0.0.0.0/32']);
  });

  it('discovery by tag finds the tagged cluster through Resource Graph and applies its profile', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([], { profiles: { devops: { select: [TAG] } }, discover: { tag: 'tagwall', lagMinutes: 0, types: ['Microsoft.ContainerService/managedClusters'] } }));
    expect(report.vaults.map((v) => v.vault.toLowerCase())).toEqual([clusterId('aks-tagged').toLowerCase()]);
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [OFFICE] });
    expect(rangesOfRules(await ranges('aks-tagged'))).toEqual(mergeRanges([...(await bundledTagRanges(TAG)), ...rangesOfRules([OFFICE])]));
  });
});
