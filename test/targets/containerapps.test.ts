import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { describe, expect, it } from 'vitest';
import { countAddresses, subtractRanges } from '../../src/core/ipv4.js';
import type { RawConfig } from '../../src/config/config.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { createContainerAppFirewalls } from '../../src/targets/containerapps/adapter.js';
import { CONTAINER_APP } from '../../src/targets/containerapps/facts.js';
import { kindOfType } from '../../src/targets/kinds.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { bundledTagRanges, rangesOfRules, targetRuns } from '../helpers/run-target.js';

// Container apps' ingress IP restrictions through the real @azure/arm-appcontainers client (a
// long-running merge-patch update), over HTTPS, against the emulator. What each test expects
// comes from its seed, never from the code under test.

const appId = (name: string, group = TEST_GROUP) => `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${group}/providers/Microsoft.App/containerApps/${name}`;
const ref = (name: string) => parseResourceId(appId(name));
const OWNER = 'ops';
const API = '?api-version=2025-07-01';

// A person's rule, spelled as Azure's own example spells one (host bits and all), and a rule of another installation.
const OFFICE = { name: 'Allow work IP B subnet', description: "Allowing all IP's within the subnet below to access containerapp", ipAddressRange: '145.14.56.1/24', action: 'Allow' };
const OTHER_INSTALL = { name: 'tagwall-other-1', description: 'managed by tagwall', ipAddressRange: '20.10.0.0/16', action: 'Allow' };

/** Everything of a configuration a write must leave alone: secrets (with values), registries, dapr, the rest of ingress. */
const configuration = (restrictions: unknown[] | undefined) => ({
  activeRevisionsMode: 'Multiple',
  maxInactiveRevisions: 10,
  secrets: [
    { name: 'reg-pswd', value: 'hunter2' },
    { name: 'kv-secret', keyVaultUrl: 'https://kv.vault.azure.net/secrets/s', identity: 'system' },
  ],
  registries: [{ server: 'myregistry.azurecr.io', username: 'myregistry', passwordSecretRef: 'reg-pswd' }],
  dapr: { enabled: true, appId: 'orders', appPort: 3000, appProtocol: 'http', logLevel: 'debug', enableApiLogging: true },
  ingress: {
    external: true,
    targetPort: 3000,
    transport: 'auto',
    allowInsecure: false,
    traffic: [{ weight: 80, revisionName: 'app-ab1234' }, { weight: 20, revisionName: 'app-ab4321', label: 'staging' }],
    customDomains: [{ name: 'www.example.com', bindingType: 'SniEnabled', certificateId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env/certificates/c' }],
    stickySessions: { affinity: 'sticky' },
    ...(restrictions === undefined ? {} : { ipSecurityRestrictions: restrictions }),
  },
});

const seedApp = (name: string, restrictions: unknown[] | undefined, extra: Record<string, unknown> = {}) => ({
  id: appId(name),
  location: 'West Europe',
  properties: { configuration: configuration(restrictions), template: { containers: [{ name: 'orders', image: 'repo/orders:v1' }] } },
  ...extra,
});

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    seedApp('ca-office', [OFFICE, OTHER_INSTALL]),
    seedApp('ca-open', undefined),
    seedApp('ca-deny', [{ name: 'block-bad', ipAddressRange: '52.1.2.0/24', action: 'Deny' }]),
    { id: appId('ca-noingress'), properties: { configuration: { secrets: [{ name: 's', value: 'v' }] } } },
    seedApp('ca-slow', [OFFICE], { emulatorOperation: { durationMs: 60_000 } }),
    seedApp('ca-tagged', [OFFICE], { tags: { tagwall: 'frontdoor' } }),
  ],
}));

function firewalls(overrides: Partial<Parameters<typeof createContainerAppFirewalls>[0]> = {}) {
  return createContainerAppFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: OWNER, operations: { pollIntervalMs: 20 }, ...overrides });
}

type Rule = { name: string; description?: string; ipAddressRange: string; action: string };
type StoredApp = { location: string; properties: { provisioningState: string; configuration: Record<string, any> & { ingress: Record<string, any> & { ipSecurityRestrictions?: Rule[] } }; template: unknown } };

async function stored(name: string): Promise<StoredApp> {
  return (await t.emulator.control.resource(appId(name))) as never;
}

async function restrictions(name: string): Promise<Rule[]> {
  return (await stored(name)).properties.configuration.ingress.ipSecurityRestrictions ?? [];
}

async function arm(name: string) {
  return t.emulator.control.requests({ target: appId(name), kind: 'arm' });
}

/** The secrets with their values, through the SDK's listSecrets (GET never shows a value). */
async function secrets(name: string) {
  const client = new ContainerAppsAPIClient(t.credential, TEST_SUBSCRIPTION, { endpoint: t.emulator.url, credentialScopes: [`${t.emulator.url}/.default`], tlsOptions: { ca: t.emulator.caCert } } as never);
  return (await client.containerApps.listSecrets(TEST_GROUP, name)).value;
}

/** The configuration without the restrictions: what a write must leave exactly as it was. */
function rest(app: StoredApp) {
  const { ipSecurityRestrictions: _r, ...ingress } = app.properties.configuration.ingress;
  return { location: app.location, configuration: { ...app.properties.configuration, ingress }, template: app.properties.template };
}

describe('the kind', () => {
  it('is registered by its resource type, discoverable at its Resource Graph paths', () => {
    expect(kindOfType('microsoft.app/containerapps')).toBe(CONTAINER_APP);
    expect(CONTAINER_APP).toMatchObject({ maxRules: 100, singleAddress: 'cidr', ipListIsSwitch: true, longRunning: true, graph: 'rules' });
    expect(CONTAINER_APP.graphPaths).toEqual({ rules: 'properties.configuration.ingress.ipSecurityRestrictions', ruleValue: 'ipAddressRange' });
  });

  it('will not start without an owner ID: the rule names are the ownership', () => {
    expect(() => firewalls({ ownerId: undefined })).toThrow(/owner ID/);
  });
});

describe('read', () => {
  it('reads every rule, owns only tagwall-<owner>-<n> Allow rules, and reads Allow rules as a firewall that is on', async () => {
    await t.reset({ vaults: [], resources: [seedApp('ca-x', [OFFICE, OTHER_INSTALL, { name: 'tagwall-ops-3', ipAddressRange: '52.9.9.9/32', action: 'Allow' }, { name: 'TAGWALL-OPS-4', ipAddressRange: '145.14.56.0/24', action: 'Allow' }])] });
    const fw = await firewalls().read(ref('ca-x'));
    expect(fw.ipRules).toEqual(['145.14.56.1/24', '20.10.0.0/16', '52.9.9.9/32', '145.14.56.0/24']);
    // tagwall-ops-4 holds what the person's rule holds too: that address stays theirs.
    expect(fw.ownedByName).toEqual(['52.9.9.9/32']);
    expect(fw.posture).toEqual({ defaultAction: 'Deny' });
    expect(fw.unsupported).toBeUndefined();
    expect((await arm('ca-x')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([['GET', 200, '2025-07-01']]);
  });

  it('an app without rules is open (Allow); one with Deny rules or without ingress is unsupported, with a cause', async () => {
    expect((await firewalls().read(ref('ca-open'))).posture).toEqual({ defaultAction: 'Allow' });
    const deny = await firewalls().read(ref('ca-deny'));
    expect(deny.unsupported).toEqual({ code: 'CONTAINERAPP_DENY_RULES', message: expect.stringContaining('Deny') });
    expect(deny.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'CONTAINERAPP_DENY_RULES', rules: ['block-bad'] })]);
    expect((await firewalls().read(ref('ca-noingress'))).unsupported?.code).toBe('CONTAINERAPP_NO_INGRESS');
  });
});

describe('write', () => {
  it('one long-running PATCH of configuration.ingress alone, polled to its end; secrets, registries, dapr and the rest of ingress untouched', async () => {
    const target = firewalls();
    const current = await target.read(ref('ca-office'));
    const before = await stored('ca-office');
    const secretsBefore = await secrets('ca-office');
    expect(secretsBefore.find((s) => s.name === 'reg-pswd')?.value).toBe('hunter2');
    await t.emulator.control.clearRequests();

    const written = await target.write(current, { ipRules: ['145.14.56.1/24', '20.10.0.0/16', '52.5.6.7/32', '20.38.64.0/19'] });
    expect(written.ipRules).toEqual(['145.14.56.1/24', '20.10.0.0/16', '52.5.6.7/32', '20.38.64.0/19']);
    expect(written.ownedByName).toEqual(['52.5.6.7/32', '20.38.64.0/19']);

    const log = await arm('ca-office');
    expect(log.map((r) => `${r.method} ${r.status}`)).toEqual([...['PATCH 202'], ...log.slice(1, -1).map(() => 'GET 200'), 'GET 200']);
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log[1]?.path).toMatch(/\/containerApps\/ca-office\/containerappOperationResults\/[0-9a-f-]{36}$/);
    expect(log.at(-1)?.path).toBe(appId('ca-office'));
    // On the wire: the location the SDK requires and the ingress as read (less its read-only fqdn),
    // with only the restrictions changed. No secrets, registries or dapr: merge patch leaves them be.
    // The SDK fills in the spec's defaults on reading (a traffic weight's latestRevision: false),
    // so those go back spelled out: the same value, by the spec.
    const { fqdn: _fqdn, ...read } = before.properties.configuration.ingress;
    const ingressAsRead = { ...read, traffic: read['traffic'].map((w: object) => ({ latestRevision: false, ...w })) };
    const next = [
      OFFICE,
      OTHER_INSTALL,
      { name: 'tagwall-ops-1', description: 'managed by tagwall', ipAddressRange: '52.5.6.7/32', action: 'Allow' },
      { name: 'tagwall-ops-2', description: 'managed by tagwall', ipAddressRange: '20.38.64.0/19', action: 'Allow' },
    ];
    expect(log[0]?.body).toEqual({ location: 'West Europe', properties: { configuration: { ingress: { ...ingressAsRead, ipSecurityRestrictions: next } } } });

    const after = await stored('ca-office');
    expect(after.properties.configuration.ingress.ipSecurityRestrictions).toEqual(next);
    const withDefaults = rest(before);
    withDefaults.configuration.ingress = { ...withDefaults.configuration.ingress, traffic: ingressAsRead.traffic };
    expect(rest(after)).toEqual(withDefaults);
    expect(after.properties.provisioningState).toBe('Succeeded');
    expect(await secrets('ca-office')).toEqual(secretsBefore);
  });

  it('sending the configuration back whole, secrets as GET shows them, is what Azure refuses: why tagwall sends ingress alone', async () => {
    const app = await t.fetch('GET', `${appId('ca-office')}${API}`);
    expect(app.json.properties.configuration.secrets).toEqual([{ name: 'reg-pswd' }, { name: 'kv-secret', keyVaultUrl: 'https://kv.vault.azure.net/secrets/s', identity: 'system' }]);
    const res = await t.fetch('PATCH', `${appId('ca-office')}${API}`, { body: { properties: { configuration: app.json.properties.configuration } } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('ContainerAppSecretInvalid');
    expect(res.json.error.message).toContain("'reg-pswd' are invalid: value or keyVaultUrl and identity should be provided");
  });

  it('removes only the rules the change drops, numbers new rules around names taken, and leaves another installation\'s rule', async () => {
    await t.reset({ vaults: [], resources: [seedApp('ca-n', [OFFICE, { name: 'tagwall-ops-1', description: 'managed by tagwall', ipAddressRange: '52.1.0.0/16', action: 'Allow' }, { name: 'tagwall-ops-2', ipAddressRange: '52.2.0.0/16', action: 'Allow' }])] });
    const target = firewalls();
    await target.write(await target.read(ref('ca-n')), { ipRules: ['145.14.56.1/24', '52.2.0.0/16', '52.3.0.0/16', '52.4.0.0/16'] });
    expect((await restrictions('ca-n')).map((r) => `${r.name} ${r.ipAddressRange}`)).toEqual([`${OFFICE.name} 145.14.56.1/24`, 'tagwall-ops-2 52.2.0.0/16', 'tagwall-ops-1 52.3.0.0/16', 'tagwall-ops-3 52.4.0.0/16']);
  });

  it('refuses, before any request, a change to an app holding Deny rules, a first rule without Deny, and removing the last rule', async () => {
    const target = firewalls();
    const deny = await target.read(ref('ca-deny'));
    const open = await target.read(ref('ca-open'));
    const office = await target.read(ref('ca-office'));
    await t.emulator.control.clearRequests();
    expect((await failure(target.write(deny, { ipRules: ['52.1.2.0/24', '20.1.0.0/16'] }))).code).toBe('TARGET_FOREIGN_RULES');
    expect((await failure(target.write(open, { ipRules: ['20.1.0.0/16'] }))).code).toBe('TARGET_WOULD_ENABLE_FIREWALL');
    expect((await failure(target.write(office, { ipRules: [] }))).code).toBe('TARGET_WOULD_DISABLE_FIREWALL');
    expect(await t.emulator.control.requests({ kind: 'arm' })).toEqual([]);
    // Asked for Deny, the first rule is written.
    expect((await target.write(open, { ipRules: ['20.1.0.0/16'], defaultAction: 'Deny' })).posture).toEqual({ defaultAction: 'Deny' });
  });

  it('waits for the update no longer than its bound: TARGET_OPERATION_TIMEOUT, and a second update meanwhile is TARGET_CONFLICT', async () => {
    const target = firewalls({ operations: { timeoutMs: 300, pollIntervalMs: 20 } });
    const current = await target.read(ref('ca-slow'));
    const started = Date.now();
    const e = await failure(target.write(current, { ipRules: ['145.14.56.1/24', '20.1.0.0/16'] }));
    expect(e.code).toBe('TARGET_OPERATION_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
    expect((await stored('ca-slow')).properties.provisioningState).toBe('InProgress');
    const again = await failure(target.write(current, { ipRules: ['145.14.56.1/24', '20.2.0.0/16'] }));
    expect(again.code).toBe('TARGET_CONFLICT');
  });

  it('a failed operation is TARGET_OPERATION_FAILED with Azure\'s code, and the app stays as it was', async () => {
    await t.reset({ vaults: [], resources: [seedApp('ca-fail', [OFFICE], { emulatorOperation: { durationMs: 0, fail: { code: 'ContainerAppProvisioningFailed', message: 'revision failed to provision' } } })] });
    const target = firewalls();
    const e = await failure(target.write(await target.read(ref('ca-fail')), { ipRules: ['145.14.56.1/24', '20.1.0.0/16'] }));
    expect(e.code).toBe('TARGET_OPERATION_FAILED');
    expect(e.values).toMatchObject({ azureCode: 'ContainerAppProvisioningFailed' });
    expect(await restrictions('ca-fail')).toEqual([OFFICE]);
  });
});

describe("the emulator's checks, as Azure's", () => {
  const patch = (rules: unknown[]) => t.fetch('PATCH', `${appId('ca-open')}${API}`, { body: { properties: { configuration: { ingress: { ipSecurityRestrictions: rules } } } } });
  it.each([
    ['Allow and Deny rules in one list', [{ name: 'a', ipAddressRange: '20.1.0.0/16', action: 'Allow' }, { name: 'b', ipAddressRange: '20.2.0.0/16', action: 'Deny' }], 'cannot be combined'],
    ['a bare address (CIDR notation is required)', [{ name: 'a', ipAddressRange: '20.1.2.3', action: 'Allow' }], 'CIDR notation'],
    ['an IPv6 range', [{ name: 'a', ipAddressRange: '2001:db8::/32', action: 'Allow' }], 'only IPv4'],
    ['two rules of one name', [{ name: 'same', ipAddressRange: '20.1.0.0/16', action: 'Allow' }, { name: 'SAME', ipAddressRange: '20.2.0.0/16', action: 'Allow' }], 'must be unique'],
    ['a rule without a name', [{ ipAddressRange: '20.1.0.0/16', action: 'Allow' }], 'name is required'],
    ['an action that is neither Allow nor Deny', [{ name: 'a', ipAddressRange: '20.1.0.0/16', action: 'Block' }], 'is not one of Allow, Deny'],
  ])('refuses %s with 400, and stores nothing', async (_what, rules, text) => {
    const res = await patch(rules);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain(text);
    expect((await stored('ca-open')).properties.configuration.ingress.ipSecurityRestrictions).toBeUndefined();
  });

  it('takes a /32, a range with host bits and private space, echoed as written, after the operation ends', async () => {
    const rules = [{ name: 'one', ipAddressRange: '52.5.6.7/32', action: 'allow' }, { name: 'lan', ipAddressRange: '192.168.1.1/8', action: 'Allow' }];
    const res = await patch(rules);
    expect(res.status).toBe(202);
    expect(res.headers['azure-asyncoperation']).toMatch(/\/containerappOperationResults\//);
    await new Promise((r) => setTimeout(r, 150));
    // A GET lets the emulator see that the operation's time is up.
    expect((await t.fetch('GET', `${appId('ca-open')}${API}`)).json.properties.provisioningState).toBe('Succeeded');
    expect(await restrictions('ca-open')).toEqual([{ ...rules[0], action: 'Allow' }, rules[1]]);
  });
});

// ---- Whole runs against the emulator.

describe('sync', () => {
  const FRONT_DOOR = 'AzureFrontDoor.Backend';
  const target = (name: string, extra: Record<string, unknown> = {}) => ({ resource: appId(name), select: [FRONT_DOOR], ...extra });

  it('fits AzureFrontDoor.Backend into 100 rules beside the person\'s and another installation\'s, /32 written as such; the next run writes nothing', async () => {
    const runs = await targetRuns(t);
    const config = runs.config([target('ca-office')], { ownerId: OWNER });
    const report = await runs.sync(config);
    const v = report.vaults[0]!;
    expect(v).toMatchObject({ outcome: 'applied', rules: { limit: 100 } });
    expect([...v.unmanaged].sort()).toEqual(['145.14.56.0/24', '20.10.0.0/16']);
    const rules = await restrictions('ca-office');
    expect(rules).toHaveLength(100);
    // The person's rule and the other installation's, exactly as they were.
    expect(rules.slice(0, 2)).toEqual([OFFICE, OTHER_INSTALL]);
    const mine = rules.slice(2);
    expect(mine.map((r) => r.name)).toEqual(mine.map((_, i) => `tagwall-ops-${i + 1}`));
    expect(mine.every((r) => r.action === 'Allow' && r.description === 'managed by tagwall' && r.ipAddressRange.includes('/'))).toBe(true);
    // Every address of the tag is let in (the reference's range algebra, not the plan's).
    expect(countAddresses(subtractRanges(await bundledTagRanges(FRONT_DOOR), rangesOfRules(rules.map((r) => r.ipAddressRange))))).toBe(0);

    await t.emulator.control.clearRequests();
    const again = await runs.sync(config);
    expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
    expect((await arm('ca-office')).map((r) => r.method)).toEqual(['GET']);
  });

  it('an open app: the first rule is refused without enforceDeny (no write), and written with it', async () => {
    const runs = await targetRuns(t);
    const refused = (await runs.sync(runs.config([target('ca-open')], { ownerId: OWNER }))).vaults[0]!;
    expect(refused.outcome).toBe('refused');
    expect(refused.reasons.map((r) => r.code)).toContain('TARGET_WOULD_ENABLE_FIREWALL');
    expect(refused.findings.map((f) => f.code)).toContain('FIREWALL_DISABLED');
    expect((await arm('ca-open')).map((r) => r.method)).toEqual(['GET']);
    expect(await restrictions('ca-open')).toEqual([]);

    const applied = (await runs.sync(runs.config([target('ca-open', { enforceDeny: true })], { ownerId: OWNER }))).vaults[0]!;
    expect(applied.outcome).toBe('applied');
    expect((await restrictions('ca-open')).length).toBeGreaterThan(50);
  });

  it('skips an app holding Deny rules as TARGET_UNSUPPORTED (CONTAINERAPP_DENY_RULES): no write, no failure', async () => {
    const runs = await targetRuns(t);
    const v = (await runs.sync(runs.config([target('ca-deny', { enforceDeny: true })], { ownerId: OWNER }))).vaults[0]!;
    expect(v.outcome).toBe('skipped');
    expect(v.reasons).toEqual([expect.objectContaining({ code: 'TARGET_UNSUPPORTED', cause: 'CONTAINERAPP_DENY_RULES' })]);
    expect(v.error).toBeUndefined();
    expect((await arm('ca-deny')).map((r) => r.method)).toEqual(['GET']);
  });

  it('drift: tagwall\'s rule removed by hand is RULE_MISSING in a dry run and put back by the sync; the person\'s rule stays throughout', async () => {
    const runs = await targetRuns(t);
    const config = runs.config([target('ca-office', { select: ['AzureDevOps'] })], { ownerId: OWNER });
    expect((await runs.sync(config)).vaults[0]!.outcome).toBe('applied');
    const rules = await restrictions('ca-office');
    const victim = rules.find((r) => r.name.startsWith('tagwall-ops-'))!;
    const res = await t.fetch('PATCH', `${appId('ca-office')}${API}`, { body: { properties: { configuration: { ingress: { ipSecurityRestrictions: rules.filter((r) => r !== victim) } } } } });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 150));

    const dry = (await runs.sync(config, { dryRun: true })).vaults[0]!;
    expect(dry.drift).toEqual([expect.objectContaining({ code: 'RULE_MISSING', rule: victim.ipAddressRange })]);
    const repaired = (await runs.sync(config)).vaults[0]!;
    expect(repaired).toMatchObject({ outcome: 'applied', add: [victim.ipAddressRange], remove: [] });
    const after = await restrictions('ca-office');
    expect(after.map((r) => r.ipAddressRange).sort()).toEqual(rules.map((r) => r.ipAddressRange).sort());
    expect(after.slice(0, 2)).toEqual([OFFICE, OTHER_INSTALL]);
  });

  it('discovery by tag: Resource Graph finds the tagged app at its paths, the profile is applied, and an unchanged app is then judged from the row alone', async () => {
    const runs = await targetRuns(t);
    const config = runs.config([], { ownerId: OWNER, profiles: { frontdoor: { select: [FRONT_DOOR] } }, discover: { tag: 'tagwall', lagMinutes: 0 } });
    const first = await runs.sync(config);
    expect(first.vaults.map((v) => [v.vault, v.outcome, v.profile])).toEqual([[appId('ca-tagged'), 'applied', 'frontdoor']]);
    expect(await restrictions('ca-tagged')).toHaveLength(100);
    await runs.sync(config); // read directly once after its write, and confirmed
    await t.emulator.control.clearRequests();
    const steady = await runs.sync(config);
    expect(steady.vaults.map((v) => [v.outcome, v.checkedBy])).toEqual([['in-sync', 'resource-graph']]);
    expect(await arm('ca-tagged')).toEqual([]);
  });
});
