import { mkdtemp, readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseResourceId, type ResourceRef } from '../../src/core/resource-id.js';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { runSync, type RunReport } from '../../src/run/run.js';
import type { ArmClientOptions } from '../../src/arm/client-options.js';
import type { FirewallTarget } from '../../src/targets/firewall.js';
import { minus, size, span, union, wantedSpans, type Span } from '../core/reference.js';
import { BUNDLED } from '../helpers/cli.js';
import { FAST_RETRY, subnetId, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';

/**
 * What Event Hubs and Service Bus namespaces share, tested once per kind through the kind's real
 * SDK client, over HTTPS, against the emulator. Each figure below is the test's own (from
 * Microsoft's pages, see docs/TARGETS.md), never read from the code under test.
 */

export interface NamespaceKindCase {
  /** For test names. */
  readonly label: string;
  /** `Microsoft.EventHub`. */
  readonly provider: string;
  /** The api-version the SDK sends. */
  readonly apiVersion: string;
  readonly create: (options: ArmClientOptions) => FirewallTarget;
  /** Finding codes a read of ns-locked (Premium, one VNet rule, trusted services on) has. */
  readonly lockedFindings: readonly string[];
  /** Whether the kind's quotas page counts virtual-network rules against the same 128 as IP rules. */
  readonly limitSharedWithVnetRules: boolean;
}

export const OFFICE = '81.2.69.142';
export const PARTNER = '145.14.56.0/24';
export const SUBNET = subnetId('vnet-apps', 'snet-web');
/** Documented by both services' quota pages. */
export const LIMIT = 128;

const logger: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function namespaceId(provider: string, name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${provider}/namespaces/${name}`;
}

/** The rule set's `properties` of the seeded namespace with everything set. */
export const LOCKED_RULE_SET = {
  defaultAction: 'Deny',
  publicNetworkAccess: 'Enabled',
  trustedServiceAccessEnabled: true,
  ipRules: [
    { ipMask: OFFICE, action: 'Allow' },
    { ipMask: PARTNER, action: 'Allow' },
  ],
  virtualNetworkRules: [{ subnet: { id: SUBNET }, ignoreMissingVnetServiceEndpoint: true }],
};

export function namespaceSeed(provider: string): EmulatorSeed {
  const id = (name: string) => namespaceId(provider, name);
  return {
    vaults: [],
    resources: [
      { id: id('ns-locked'), sku: { name: 'Premium', capacity: 1 }, networkRuleSet: LOCKED_RULE_SET },
      { id: id('ns-open'), sku: { name: 'Standard' } },
      { id: id('ns-basic'), sku: { name: 'Basic' } },
      { id: id('ns-private'), sku: { name: 'Standard' }, networkRuleSet: { defaultAction: 'Deny', publicNetworkAccess: 'Disabled' } },
      { id: id('ns-deny-empty'), sku: { name: 'Standard' }, networkRuleSet: { defaultAction: 'Deny' } },
    ],
  };
}

function spansOf(rules: readonly string[]): Span[] {
  return union(rules.map(span));
}

export function namespaceSuite(kind: NamespaceKindCase): { emulator: () => TestEmulator } {
  let t: TestEmulator;
  const id = (name: string) => namespaceId(kind.provider, name);
  const ref = (name: string): ResourceRef => parseResourceId(id(name));
  const firewalls = () => kind.create({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
  const stored = async (name: string) => (await t.emulator.control.resource(id(name)))?.['networkRuleSet'] as { properties: Record<string, unknown> } | undefined;
  const log = async (name: string) => t.emulator.control.requests({ target: id(name), kind: 'arm' });

  useTestEmulator((started) => (t = started), () => namespaceSeed(kind.provider));

  describe(`${kind.label}: read and write through the real SDK`, () => {
    it('reads the rules as spelled, the VNet rule count and the posture, with one GET of the namespace and one of its rule set', async () => {
      const fw = await firewalls().read(ref('ns-locked'));
      expect(fw.ipRules).toEqual([OFFICE, PARTNER]);
      expect(fw.virtualNetworkRuleCount).toBe(1);
      expect(fw.posture).toEqual({ defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' });
      expect(fw.unsupported).toBeUndefined();
      expect((fw.findings ?? []).map((f) => f.code)).toEqual(kind.lockedFindings);
      const requests = await log('ns-locked');
      expect(requests.map((r) => `${r.method} ${r.path.slice(id('ns-locked').length) || '/'} ${r.status}`).sort()).toEqual(['GET / 200', 'GET /networkRuleSets/default 200']);
      for (const r of requests) expect(r).toMatchObject({ apiVersion: kind.apiVersion, token: t.credential.token });
      expect(t.credential.requests.at(-1)).toEqual([`${t.emulator.url}/.default`]);
    });

    it('reads a namespace never given a rule set as Allow, no trusted services, public access on', async () => {
      const fw = await firewalls().read(ref('ns-open'));
      expect(fw).toMatchObject({ ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Allow', bypass: 'None', publicNetworkAccess: 'Enabled' } });
      expect(fw.findings).toBeUndefined();
    });

    it('writes one PUT of the whole rule set that changes the IP rules and sends everything else back exactly as read', async () => {
      const target = firewalls();
      const current = await target.read(ref('ns-locked'));
      const written = await target.write(current, { ipRules: [OFFICE, PARTNER, '20.38.64.0/19', '52.5.6.7'] });
      const ipRules = [OFFICE, PARTNER, '20.38.64.0/19', '52.5.6.7'].map((ipMask) => ({ ipMask, action: 'Allow' }));
      const expected = { ...LOCKED_RULE_SET, ipRules };
      expect((await stored('ns-locked'))?.properties).toEqual(expected);
      const requests = await log('ns-locked');
      expect(requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path.slice(id('ns-locked').length)}`)).toEqual(['PUT /networkRuleSets/default']);
      // The body itself: a PUT replaces, so a field left out would be reset to its default.
      expect(requests.find((r) => r.method === 'PUT')?.body).toEqual({ properties: expected });
      expect(written).toMatchObject({ ipRules: [OFFICE, PARTNER, '20.38.64.0/19', '52.5.6.7'], virtualNetworkRuleCount: 1, posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' } });
    });

    it('leaves defaultAction as read unless the change asks for Deny', async () => {
      const target = firewalls();
      await target.write(await target.read(ref('ns-open')), { ipRules: [OFFICE] });
      expect((await stored('ns-open'))?.properties).toMatchObject({ defaultAction: 'Allow', trustedServiceAccessEnabled: false, publicNetworkAccess: 'Enabled' });
      const denied = await target.write(await target.read(ref('ns-open')), { ipRules: [OFFICE], defaultAction: 'Deny' });
      expect((await stored('ns-open'))?.properties).toEqual({
        defaultAction: 'Deny',
        publicNetworkAccess: 'Enabled',
        trustedServiceAccessEnabled: false,
        ipRules: [{ ipMask: OFFICE, action: 'Allow' }],
        virtualNetworkRules: [],
      });
      expect(denied.posture).toEqual({ defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' });
    });

    it('takes a single address bare or as /32, and a /31, keeping each as written', async () => {
      const target = firewalls();
      const rules = ['52.5.6.7', '52.5.6.8/31', '52.5.6.10/32'];
      await target.write(await target.read(ref('ns-open')), { ipRules: rules });
      expect(((await stored('ns-open'))?.properties['ipRules'] as { ipMask: string }[]).map((r) => r.ipMask)).toEqual(rules);
      expect((await target.read(ref('ns-open'))).ipRules).toEqual(rules);
    });

    it(`takes ${LIMIT} IP rules and refuses ${LIMIT + 1} with Azure's BadRequest, storing nothing`, async () => {
      const target = firewalls();
      const rules = Array.from({ length: LIMIT + 1 }, (_, i) => `52.5.${Math.floor(i / 256)}.${i % 256}`);
      await target.write(await target.read(ref('ns-open')), { ipRules: rules.slice(0, LIMIT) });
      expect((await target.read(ref('ns-open'))).ipRules).toHaveLength(LIMIT);
      const e = await failure(target.write(await target.read(ref('ns-open')), { ipRules: rules }));
      expect(e.code).toBe('TARGET_BAD_REQUEST');
      expect(e.values).toMatchObject({ azureCode: 'BadRequest', status: 400 });
      expect((await stored('ns-open'))?.properties['ipRules']).toHaveLength(LIMIT);
    });

    it('surfaces a malformed mask refused by the service as TARGET_BAD_REQUEST with Azure\'s code and text', async () => {
      const target = firewalls();
      const e = await failure(target.write(await target.read(ref('ns-open')), { ipRules: ['52.5.6.7', '52.5.6.0/33'] }));
      expect(e.code).toBe('TARGET_BAD_REQUEST');
      expect(e.values).toMatchObject({ azureCode: 'BadRequest', status: 400 });
      expect(e.message).toContain('The provided ip address mask does not follow the CIDR notation.');
      expect((await stored('ns-open'))?.properties['ipRules']).toEqual([]);
    });

    it('answers an unknown namespace with TARGET_NOT_FOUND and Azure\'s ResourceNotFound', async () => {
      const e = await failure(firewalls().read(ref('ns-missing')));
      expect(e.code).toBe('TARGET_NOT_FOUND');
      expect(e.values).toMatchObject({ azureCode: 'ResourceNotFound', status: 404 });
    });

    it('turns a 403 into TARGET_FORBIDDEN naming the permissions the rule set needs', async () => {
      await t.emulator.control.addFault({ kind: 'respond', on: 'resources', resource: id('ns-open'), status: 403 });
      const e = await failure(firewalls().read(ref('ns-open')));
      expect(e.code).toBe('TARGET_FORBIDDEN');
      expect(e.message).toContain(`${kind.provider}/namespaces/networkRuleSets/read and /write`);
    });

    it('reads a Basic namespace as unsupported (SKU_UNSUPPORTED) with a warning finding', async () => {
      const fw = await firewalls().read(ref('ns-basic'));
      expect(fw.unsupported).toMatchObject({ code: 'SKU_UNSUPPORTED' });
      expect(fw.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'SKU_UNSUPPORTED', sku: 'Basic' })]);
    });

    it('warns that Deny without any rule is not enforced (DENY_WITHOUT_RULES)', async () => {
      const fw = await firewalls().read(ref('ns-deny-empty'));
      expect(fw.posture.defaultAction).toBe('Deny');
      expect(fw.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'DENY_WITHOUT_RULES' })]);
    });
  });

  describe(`${kind.label}: targets[].resource takes the namespace with the kind's own figures`, () => {
    const raw = (target: Record<string, unknown>): RawConfig => ({ serviceTags: { source: 'file', path: BUNDLED }, targets: [{ resource: id('ns-open'), select: ['AzureDevOps'], ...target }] });

    it(`defaults maxRules to ${LIMIT}, writes single addresses bare and keeps /31s`, () => {
      const target = parseConfig(raw({}), { baseDir: tmpdir(), source: 'test' }).targets[0]!;
      expect(target).toMatchObject({ maxRules: LIMIT, singleAddress: 'bare', split31: false, special: [] });
    });

    it(`refuses a maxRules above ${LIMIT}`, () => {
      let problems: readonly string[] = [];
      try {
        parseConfig(raw({ maxRules: LIMIT + 1 }), { baseDir: tmpdir(), source: 'test' });
      } catch (e) {
        problems = isTagwallError(e, 'CONFIG_INVALID') ? e.details : [String(e)];
      }
      expect(problems).toEqual([expect.stringMatching(new RegExp(`maxRules: ${LIMIT + 1} is more than .* takes \\(${LIMIT}\\)`))]);
    });
  });

  describe(`${kind.label}: sync rounds through runSync`, () => {
    let stateDir: string;
    beforeEach(async () => {
      stateDir = await mkdtemp(join(tmpdir(), `tagwall-${kind.label.toLowerCase().replace(/\W+/g, '-')}-`));
    });

    const config = (targets: RawConfig['targets']) =>
      parseConfig(
        { serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: t.emulator.url }, state: { store: 'file', path: join(stateDir, 'state.json') }, targets },
        { baseDir: stateDir, source: 'test' },
      );
    const sync = async (cfg: ReturnType<typeof parseConfig>): Promise<RunReport> =>
      (await runSync(cfg, { dryRun: false, force: false, alerts: 'off' }, { env: {}, logger, credential: t.credential, armCa: t.emulator.caCert, armRetry: FAST_RETRY })).report;
    const methods = async (name: string) => (await log(name)).map((r) => r.method).sort();
    const masks = async (name: string) => ((await stored(name))?.properties['ipRules'] as { ipMask: string }[]).map((r) => r.ipMask);
    // The file read directly, not through tagwall's loader.
    const tag = async (name: string) => {
      const doc = JSON.parse(gunzipSync(await readFile(BUNDLED)).toString('utf8')) as { values: { name: string; properties: { addressPrefixes: string[] } }[] };
      return wantedSpans(doc.values.find((x) => x.name === name)!.properties.addressPrefixes);
    };

    it('first round: two GETs, one PUT, two verifying GETs; the namespace allows exactly the tag and the hand-made rules; the rest of the rule set is untouched', async () => {
      const report = await sync(config([{ resource: id('ns-locked'), select: ['AzureDevOps'] }]));
      expect(report.vaults[0]!.outcome).toBe('applied');
      expect([...report.vaults[0]!.unmanaged].sort()).toEqual([PARTNER, `${OFFICE}/32`].sort());
      expect(await methods('ns-locked')).toEqual(['GET', 'GET', 'GET', 'GET', 'PUT']);
      const rules = await masks('ns-locked');
      expect(rules).toContain(OFFICE);
      expect(rules).toContain(PARTNER);
      expect(spansOf(rules)).toEqual(union([...(await tag('AzureDevOps')), span(OFFICE), span(PARTNER)]));
      const { ipRules: _ip, ...rest } = (await stored('ns-locked'))!.properties;
      const { ipRules: _seeded, ...seededRest } = LOCKED_RULE_SET;
      expect(rest).toEqual(seededRest);
    });

    it('second round: no PUT, in sync', async () => {
      const cfg = config([{ resource: id('ns-locked'), select: ['AzureDevOps'] }]);
      await sync(cfg);
      const before = await masks('ns-locked');
      await t.emulator.control.clearRequests();
      const report = await sync(cfg);
      expect(report.vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
      expect(await methods('ns-locked')).toEqual(['GET', 'GET']);
      expect(await masks('ns-locked')).toEqual(before);
    });

    it(`fits LogicApps (1,728 prefixes) into ${LIMIT} rules that cover all of it, beside the hand-made rule`, async () => {
      const report = await sync(config([{ resource: id('ns-open'), select: ['LogicApps'], guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } }]));
      expect(report.vaults[0]).toMatchObject({ outcome: 'applied', rules: { limit: LIMIT } });
      const rules = await masks('ns-open');
      expect(rules.length).toBeLessThanOrEqual(LIMIT);
      expect(rules.length).toBeGreaterThan(LIMIT - 10);
      expect(size(minus(await tag('LogicApps'), spansOf(rules)))).toBe(0);
    });

    it(`fits LogicApps beside ns-locked's VNet rule and two hand-made rules, within what the quotas page leaves for IP rules`, async () => {
      const report = await sync(config([{ resource: id('ns-locked'), select: ['LogicApps'], guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } }]));
      expect(report.vaults[0]).toMatchObject({ outcome: 'applied' });
      const rules = await masks('ns-locked');
      // One VNet rule: Service Bus leaves 127 for IP rules, Event Hubs all 128.
      const room = kind.limitSharedWithVnetRules ? LIMIT - 1 : LIMIT;
      expect(rules.length).toBeLessThanOrEqual(room);
      expect(rules.length).toBeGreaterThan(room - 10);
      expect(rules).toContain(OFFICE);
      expect(rules).toContain(PARTNER);
      expect((await stored('ns-locked'))?.properties['virtualNetworkRules']).toEqual(LOCKED_RULE_SET.virtualNetworkRules);
      expect(size(minus(await tag('LogicApps'), spansOf(rules)))).toBe(0);
    });

    // The PUT resends every field as read, so a person's change made at the same time is undone or
    // lands just after it; no ETag guards the rule set, so the read after the write must say so.
    it.each([
      ['turns public access off', { publicNetworkAccess: 'Disabled' }, 'publicNetworkAccess'],
      ['adds a VNet rule', { virtualNetworkRules: [...LOCKED_RULE_SET.virtualNetworkRules, { subnet: { id: subnetId('vnet-apps', 'snet-jobs') } }] }, 'virtualNetworkRuleCount'],
      ['turns trusted services off', { trustedServiceAccessEnabled: false }, 'bypass'],
    ] as const)('reports CONCURRENT_CHANGE, not applied, when a person %s at the moment of the PUT', async (_what, ruleSet, field) => {
      await t.emulator.control.addFault({ kind: 'resourceEdit', after: 'PUT', resource: id('ns-locked'), ruleSet: { ...ruleSet } });
      const report = await sync(config([{ resource: id('ns-locked'), select: ['AzureDevOps'] }]));
      expect(report.vaults[0]).toMatchObject({ outcome: 'failed', error: { code: 'CONCURRENT_CHANGE' } });
      expect(report.vaults[0]!.error?.message).toContain(field);
      // The person's edit is what the namespace holds now.
      expect((await stored('ns-locked'))?.properties).toMatchObject(ruleSet);
      expect(await methods('ns-locked')).toEqual(['GET', 'GET', 'GET', 'GET', 'PUT']);
    });

    it('reports posture by code: an open firewall, a Basic namespace and one closed to the public, writing none of the last two', async () => {
      const report = await sync(config(['ns-open', 'ns-basic', 'ns-private'].map((n) => ({ resource: id(n), select: ['AzureDevOps'] }))));
      const by = (name: string) => report.vaults.find((v) => v.vault.toLowerCase() === id(name).toLowerCase())!;
      expect(by('ns-open').findings.find((f) => f.code === 'FIREWALL_DISABLED')?.severity).toBe('critical');
      expect(by('ns-basic')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'SKU_UNSUPPORTED' })] });
      expect(by('ns-basic').findings.map((f) => f.code)).toContain('SKU_UNSUPPORTED');
      expect(by('ns-private')).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
      expect(await methods('ns-basic')).toEqual(['GET', 'GET']);
      expect(await methods('ns-private')).toEqual(['GET', 'GET']);
      expect(await methods('ns-open')).toContain('PUT');
    });
  });

  return { emulator: () => t };
}
