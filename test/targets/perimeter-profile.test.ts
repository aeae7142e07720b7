import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { countAddresses, rangesOf, subtractRanges, type AddressRange } from '../../src/core/ipv4.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import type { AccessRuleResourceJson, SeedAccessRule } from '../../src/emulator/access-rules.js';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { runSync, type RunOptions, type RunReport } from '../../src/run/run.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import type { FirewallTarget } from '../../src/targets/firewall.js';
import { kindOf } from '../../src/targets/kinds.js';
import { createPerimeterProfileFirewalls, type PerimeterProfileFirewallOptions } from '../../src/targets/perimeter-profile/adapter.js';
import { BUNDLED } from '../helpers/cli.js';
import { FAST_RETRY, perimeterId, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/**
 * A perimeter profile as a firewall through the real @azure/arm-network client, over HTTPS,
 * against the emulator. The test keeps its own model of the profile: which rules are someone
 * else's, what they hold and how many elements they cost; every expected figure below is
 * worked out from that model, never read from the code under test.
 */

const NSP = perimeterId('nsp-app');
const PROFILE_ID = `${NSP}/profiles/defaultProfile`;
const PROFILE = parseResourceId(PROFILE_ID);
const OFFICE = '81.2.69.142/32';
const OFFICE_V6 = '2001:db8::/48';
const PARTNER = '/subscriptions/33333333-3333-3333-3333-333333333333';
// This installation's owner ID: its rules are tagwall-ops-<n>.
const OWNER = 'ops';

// Someone else's rules in the profile, and what each costs against the 200 elements.
const OTHERS = [
  { name: 'office', direction: 'Inbound' as const, addressPrefixes: [OFFICE, OFFICE_V6] }, // 2
  { name: 'partners', direction: 'Inbound' as const, subscriptions: [{ id: PARTNER }] }, // 1
  { name: 'egress', direction: 'Outbound' as const, fullyQualifiedDomainNames: ['www.contoso.com', 'api.contoso.com'] }, // 2
];
const OTHER_ELEMENTS = 5;
// Another profile's rule, named like tagwall's: it is not this target's business.
const ELSEWHERE = { name: 'tagwall-ops-1', profile: 'other', direction: 'Inbound' as const, addressPrefixes: ['20.50.0.0/16'] };

function seed(extra: SeedAccessRule[] = []): EmulatorSeed {
  return { vaults: [], perimeters: [{ id: NSP, profiles: ['defaultProfile', 'other'], accessRules: [...OTHERS, ELSEWHERE, ...extra] }] };
}

let t: TestEmulator;
let stateDir: string;
useTestEmulator((started) => (t = started), () => seed());
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'tagwall-nsp-'));
});

const logger: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function profiles(overrides: Partial<PerimeterProfileFirewallOptions> = {}): FirewallTarget {
  return createPerimeterProfileFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: OWNER, ...overrides });
}

function config(targets: RawConfig['targets'], extra: Partial<RawConfig> = {}): ReturnType<typeof parseConfig> {
  return parseConfig(
    { serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: t.emulator.url }, state: { store: 'file', path: join(stateDir, 'state.json') }, ownerId: OWNER, targets, ...extra },
    { baseDir: stateDir, source: 'test' },
  );
}

async function sync(cfg: ReturnType<typeof parseConfig>, injected: { firewalls?: FirewallTarget } = {}, options: Partial<RunOptions> = {}): Promise<RunReport> {
  const { report } = await runSync(cfg, { dryRun: false, force: false, alerts: 'off', ...options }, { env: {}, logger, credential: t.credential, armCa: t.emulator.caCert, armRetry: FAST_RETRY }, injected);
  return report;
}

/** Every access rule of the perimeter as the emulator stores it. */
async function stored(): Promise<AccessRuleResourceJson[]> {
  return (await t.emulator.control.perimeters()).find((p) => p.perimeter.id === NSP)!.accessRules;
}

const inProfile = (r: AccessRuleResourceJson): boolean => r.id.startsWith(`${PROFILE_ID}/`);
const isTagwall = (r: AccessRuleResourceJson): boolean => inProfile(r) && /^tagwall-ops-\d+$/.test(r.name) && r.properties.direction === 'Inbound';

async function tagwallRules(): Promise<Record<string, string[]>> {
  return Object.fromEntries((await stored()).filter(isTagwall).map((r) => [r.name, r.properties.addressPrefixes]));
}

async function othersAsStored(): Promise<AccessRuleResourceJson[]> {
  return (await stored()).filter((r) => !isTagwall(r));
}

/** The access-rule requests, as `METHOD name status`. */
async function ruleRequests(): Promise<string[]> {
  return (await t.emulator.control.requests({ kind: 'arm' }))
    .filter((r) => r.path.includes('/accessRules'))
    .map((r) => `${r.method} ${r.path.split('/accessRules')[1]!.replace(/^\//, '') || '(list)'} ${r.status}`);
}

const ranges = (rules: readonly string[]): AddressRange[] => rangesOf(rules.map((r) => parseCidr(r, { hostBits: 'mask' })));

async function tagRanges(...names: string[]): Promise<AddressRange[]> {
  const doc = await loadServiceTagFile(BUNDLED);
  return rangesOf(names.flatMap((n) => doc.tags.find((tag) => tag.name === n)!.ipv4));
}

/** `n` distinct /32s in 20.10.0.0/16, in address order. */
const addresses = (n: number, second = 10): string[] => Array.from({ length: n }, (_, i) => `20.${second}.${Math.floor(i / 256)}.${i % 256}/32`);

describe('the kind', () => {
  it('is known by its resource type, with the limit and address forms of its facts', () => {
    expect(kindOf(PROFILE)).toMatchObject({ kind: 'nsp-profile', maxRules: 200, singleAddress: 'cidr', allows31: true });
    expect(PROFILE.parents).toEqual(['nsp-app']);
  });
});

describe('read', () => {
  it('reports every inbound prefix of the profile, owns none of the others\', and counts their other elements', async () => {
    const state = await profiles().read(PROFILE);
    expect(state.ipRules).toEqual([OFFICE, OFFICE_V6]);
    expect(state.ownedByName).toEqual([]);
    expect(state.otherEntries).toBe(3); // a subscription and two FQDNs
    expect(state.posture).toEqual({ defaultAction: 'Deny' });
    expect(state.findings?.map((f) => f.code)).toEqual(['NSP_OTHER_ELEMENTS']);
  });

  it('a prefix another rule holds too is not tagwall\'s, even in tagwall-ops-1', async () => {
    await t.reset(seed([{ name: 'tagwall-ops-1', direction: 'Inbound', addressPrefixes: [OFFICE, '20.1.0.0/16'] }]));
    const state = await profiles().read(PROFILE);
    expect(state.ownedByName).toEqual(['20.1.0.0/16']);
  });

  it('an unknown profile is TARGET_NOT_FOUND', async () => {
    const e = await profiles().read(parseResourceId(`${NSP}/profiles/missing`)).catch((x: unknown) => x);
    expect(isTagwallError(e, 'TARGET_NOT_FOUND')).toBe(true);
  });
});

describe('write', () => {
  const SEVEN = addresses(7);

  it('splits tagwall\'s prefixes over tagwall-ops-1..n and leaves every other rule exactly as stored', async () => {
    const before = await othersAsStored();
    const fw = profiles({ maxPrefixesPerRule: 3 });
    const after = await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    expect(await tagwallRules()).toEqual({ 'tagwall-ops-1': SEVEN.slice(0, 3), 'tagwall-ops-2': SEVEN.slice(3, 6), 'tagwall-ops-3': SEVEN.slice(6) });
    expect(await othersAsStored()).toEqual(before);
    expect(await ruleRequests()).toEqual(['GET (list) 200', 'PUT tagwall-ops-1 201', 'PUT tagwall-ops-2 201', 'PUT tagwall-ops-3 201']);
    expect([...after.ipRules].sort()).toEqual([OFFICE, OFFICE_V6, ...SEVEN].sort());
    expect([...after.ownedByName!].sort()).toEqual([...SEVEN].sort());
  });

  it('a second write of the same list makes no request', async () => {
    const fw = profiles({ maxPrefixesPerRule: 3 });
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    await t.emulator.control.clearRequests();
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    expect(await ruleRequests()).toEqual(['GET (list) 200']);
  });

  it('numbers its rules around someone else\'s rule named tagwall-ops-2', async () => {
    const theirs = { name: 'tagwall-ops-2', direction: 'Outbound' as const, fullyQualifiedDomainNames: ['x.contoso.com'] };
    await t.reset(seed([theirs]));
    const before = await othersAsStored();
    const fw = profiles({ maxPrefixesPerRule: 3 });
    const state = await fw.read(PROFILE);
    expect(state.findings?.map((f) => f.code)).toContain('NSP_RULE_NAME_TAKEN');
    await fw.write(state, { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    expect(await tagwallRules()).toEqual({ 'tagwall-ops-1': SEVEN.slice(0, 3), 'tagwall-ops-3': SEVEN.slice(3, 6), 'tagwall-ops-4': SEVEN.slice(6) });
    expect(await othersAsStored()).toEqual(before);
  });

  it('drops its copy of a prefix another rule holds, and keeps that rule\'s', async () => {
    await t.reset(seed([{ name: 'tagwall-ops-1', direction: 'Inbound', addressPrefixes: [OFFICE, '20.1.0.0/16'] }]));
    const fw = profiles();
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, '20.1.0.0/16'] });
    expect(await tagwallRules()).toEqual({ 'tagwall-ops-1': ['20.1.0.0/16'] });
    expect((await othersAsStored()).find((r) => r.name === 'office')?.properties.addressPrefixes).toEqual([OFFICE, OFFICE_V6]);
  });

  it('shrinking: the rule that keeps the prefixes is written first, the emptied rules are deleted last', async () => {
    const fw = profiles({ maxPrefixesPerRule: 3 });
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    await t.emulator.control.clearRequests();
    // Keep one prefix from each old rule: two of them move into tagwall-ops-1.
    const kept = [SEVEN[0]!, SEVEN[4]!, SEVEN[6]!];
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...kept] });
    expect(await ruleRequests()).toEqual(['GET (list) 200', 'PUT tagwall-ops-1 200', 'DELETE tagwall-ops-2 200', 'DELETE tagwall-ops-3 200']);
    expect(await tagwallRules()).toEqual({ 'tagwall-ops-1': kept });
  });

  it('a failed delete leaves every prefix the plan keeps in place', async () => {
    const fw = profiles({ maxPrefixesPerRule: 3 });
    await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...SEVEN] });
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', method: 'DELETE', status: 400, code: 'Conflict' });
    const kept = [SEVEN[0]!, SEVEN[4]!, SEVEN[6]!];
    const e = await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...kept] }).catch((x: unknown) => x);
    expect(isTagwallError(e, 'TARGET_BAD_REQUEST')).toBe(true);
    const rules = await tagwallRules();
    expect(rules['tagwall-ops-1']).toEqual(kept);
    expect(countAddresses(subtractRanges(ranges(kept), ranges(Object.values(rules).flat())))).toBe(0);
  });

  it('a validation 400 from Azure is TARGET_BAD_REQUEST with Azure\'s code and status', async () => {
    const fw = profiles();
    // The profile already holds 2 inbound prefixes and 1 subscription: 198 more is one too many.
    const e = await fw.write(await fw.read(PROFILE), { ipRules: [OFFICE, OFFICE_V6, ...addresses(198)] }).catch((x: unknown) => x);
    expect(isTagwallError(e, 'TARGET_BAD_REQUEST')).toBe(true);
    expect(isTagwallError(e) && e.values).toMatchObject({ status: 400, azureCode: 'NspRuleElementLimitExceeded' });
    expect(await tagwallRules()).toEqual({});
  });

  it('refuses, before any request, a change that would remove what another rule holds', async () => {
    const fw = profiles();
    const state = await fw.read(PROFILE);
    await t.emulator.control.clearRequests();
    const e = await fw.write(state, { ipRules: SEVEN }).catch((x: unknown) => x);
    expect(isTagwallError(e, 'TARGET_FOREIGN_RULES')).toBe(true);
    expect(await ruleRequests()).toEqual([]);
  });
});

describe('runs', () => {
  const target = (select: string[], extra: Record<string, unknown> = {}): RawConfig['targets'] => [{ resource: PROFILE_ID, select, ...extra }];

  it('end to end: the tag lands in tagwall-ops-1, the others stay, and the second run makes no write', async () => {
    const before = await othersAsStored();
    const cfg = config(target(['AzureDevOps']));
    const first = (await sync(cfg)).vaults[0]!;
    expect(first).toMatchObject({ vault: PROFILE_ID, outcome: 'applied' });
    expect([...first.unmanaged].sort()).toEqual([OFFICE, OFFICE_V6].sort());
    expect(first.findings.map((f) => f.code)).not.toContain('FIREWALL_DISABLED');
    const rules = await tagwallRules();
    expect(Object.keys(rules)).toEqual(['tagwall-ops-1']);
    // The tag fits losslessly: tagwall-ops-1 allows exactly its addresses.
    expect(ranges(rules['tagwall-ops-1']!)).toEqual(await tagRanges('AzureDevOps'));
    expect(rules['tagwall-ops-1']!.every((p) => p.includes('/'))).toBe(true);
    expect(await othersAsStored()).toEqual(before);

    await t.emulator.control.clearRequests();
    const second = (await sync(cfg)).vaults[0]!;
    expect(second.outcome).toBe('in-sync');
    expect(second.drift).toEqual([]);
    expect(await ruleRequests()).toEqual(['GET (list) 200']);
  });

  it('the name decides ownership: without any record, nothing is adopted or re-added, and a stranger\'s prefix in tagwall-ops-1 goes', async () => {
    const cfg = config(target(['AzureDevOps']));
    await sync(cfg);
    await rm(join(stateDir, 'state'), { recursive: true, force: true });
    const planted = [...(await tagwallRules())['tagwall-ops-1']!, '20.99.0.0/16'];
    expect((await t.fetch('PUT', `${PROFILE_ID}/accessRules/tagwall-ops-1?api-version=2025-05-01`, { body: { properties: { direction: 'Inbound', addressPrefixes: planted } } })).status).toBe(200);
    const report = (await sync(cfg)).vaults[0]!;
    expect(report).toMatchObject({ outcome: 'applied', remove: ['20.99.0.0/16'], add: [], adopted: [] });
    expect(ranges((await tagwallRules())['tagwall-ops-1']!)).toEqual(await tagRanges('AzureDevOps'));
  });

  it('the budget is the 200 less every element of the others: a tag too big for it fills exactly the rest, and is covered', async () => {
    const cfg = config(target(['AzureCloud.westeurope']), { guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } });
    const report = (await sync(cfg)).vaults[0]!;
    expect(report.outcome).toBe('applied');
    // AzureCloud.westeurope has 415 prefixes that no merge shortens, so the cover uses all it may.
    const mine = Object.values(await tagwallRules()).flat();
    expect(mine).toHaveLength(200 - OTHER_ELEMENTS);
    expect(countAddresses(subtractRanges(await tagRanges('AzureCloud.westeurope'), ranges([...mine, OFFICE])))).toBe(0);
  });

  it('a tag change that shrinks the allowlist rewrites the kept rule first and deletes the emptied rules last', async () => {
    const fw = profiles({ maxPrefixesPerRule: 50 });
    const lax = { guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 } };
    // 24 + 96 prefixes: three rules of at most 50.
    await sync(config(target(['AzureDevOps', 'Storage.WestEurope']), lax), { firewalls: fw });
    expect(Object.keys(await tagwallRules())).toEqual(['tagwall-ops-1', 'tagwall-ops-2', 'tagwall-ops-3']);
    await t.emulator.control.clearRequests();
    const report = (await sync(config(target(['AzureDevOps']), lax), { firewalls: fw })).vaults[0]!;
    expect(report.outcome).toBe('applied');
    const writes = (await ruleRequests()).filter((r) => !r.startsWith('GET'));
    expect(writes).toEqual(['PUT tagwall-ops-1 200', 'DELETE tagwall-ops-2 200', 'DELETE tagwall-ops-3 200']);
    expect(ranges((await tagwallRules())['tagwall-ops-1']!)).toEqual(await tagRanges('AzureDevOps'));
  });

  it('authoritative mode is refused in the configuration, before any request', () => {
    let e: unknown;
    try {
      config(target(['AzureDevOps'], { mode: 'authoritative' }));
    } catch (x) {
      e = x;
    }
    expect(isTagwallError(e, 'CONFIG_INVALID')).toBe(true);
    expect(isTagwallError(e) && e.details).toEqual(['targets[0].mode: a Network Security Perimeter profile takes mode "merge" only: tagwall changes its own rules there and never the others\'']);
  });

  it('an IPv6 prefix someone put in tagwall-ops-1 stays there, and counts against the limit', async () => {
    await t.reset(seed([{ name: 'tagwall-ops-1', direction: 'Inbound', addressPrefixes: ['20.99.0.0/16', '2001:db8:1::/48'] }]));
    const report = (await sync(config(target(['AzureDevOps'])))).vaults[0]!;
    expect(report).toMatchObject({ outcome: 'applied', remove: ['20.99.0.0/16'] });
    expect(report.unmanaged).toContain('2001:db8:1::/48');
    const mine = (await tagwallRules())['tagwall-ops-1']!;
    expect(mine).toContain('2001:db8:1::/48');
    expect(ranges(mine.filter((p) => !p.includes(':')))).toEqual(await tagRanges('AzureDevOps'));
  });

  it('add-only keeps what tagwall-ops-1 holds when the tag moves on', async () => {
    await t.reset(seed([{ name: 'tagwall-ops-1', direction: 'Inbound', addressPrefixes: ['20.99.0.0/16'] }]));
    const report = (await sync(config(target(['AzureDevOps'], { policy: 'add-only' })))).vaults[0]!;
    expect(report).toMatchObject({ outcome: 'applied', remove: [] });
    const mine = (await tagwallRules())['tagwall-ops-1']!;
    expect(mine).toContain('20.99.0.0/16');
    expect(countAddresses(subtractRanges(await tagRanges('AzureDevOps'), ranges(mine)))).toBe(0);
  });
});
