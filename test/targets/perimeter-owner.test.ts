import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { countAddresses, rangesOf, subtractRanges, type AddressRange, type Cidr } from '../../src/core/ipv4.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { createPerimeterProfileFirewalls } from '../../src/targets/perimeter-profile/adapter.js';
import type { AccessRuleResourceJson, SeedAccessRule } from '../../src/emulator/access-rules.js';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { runSync, type RunOptions, type RunReport } from '../../src/run/run.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { BUNDLED } from '../helpers/cli.js';
import { FAST_RETRY, perimeterId, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/**
 * Owners for name-owned rules: two tagwall installations on one perimeter profile, each with its
 * own state, through the real @azure/arm-network client against the emulator. The test keeps its
 * own model: which rule names each installation wrote (read from the emulator after that
 * installation's run, never from the code under test), and what each must allow (its tag, from
 * the service-tags file).
 */

const NSP = perimeterId('nsp-owners');
const PROFILE_ID = `${NSP}/profiles/defaultProfile`;
const PROFILE = parseResourceId(PROFILE_ID);
const OFFICE = '81.2.69.142/32';
const PARTNER = '/subscriptions/33333333-3333-3333-3333-333333333333';
// Someone else's rules: 1 inbound prefix and 1 subscription (2 elements).
const OTHERS: SeedAccessRule[] = [
  { name: 'office', direction: 'Inbound', addressPrefixes: [OFFICE] },
  { name: 'partners', direction: 'Inbound', subscriptions: [{ id: PARTNER }] },
];
const OTHER_ELEMENTS = 2;
// Both installations also want this one: whichever writes it first holds it, and the other keeps it.
const SHARED = '20.99.0.0/16';

function seed(extra: SeedAccessRule[] = []): EmulatorSeed {
  return { vaults: [], perimeters: [{ id: NSP, profiles: ['defaultProfile'], accessRules: [...OTHERS, ...extra] }] };
}

let t: TestEmulator;
let work: string;
useTestEmulator((started) => (t = started), () => seed());
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tagwall-nsp-owner-'));
});

const logger: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** One installation: its own state file (so its own default owner ID), its own selection. */
function installation(name: string, select: string[], extra: Partial<RawConfig> & { ownerId?: string } = {}): ReturnType<typeof parseConfig> {
  return parseConfig(
    {
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: t.emulator.url },
      state: { store: 'file', path: join(work, name, 'state.json') },
      targets: [{ resource: PROFILE_ID, select, extra: [SHARED] }],
      ...extra,
    } as RawConfig,
    { baseDir: work, source: name },
  );
}

async function sync(cfg: ReturnType<typeof parseConfig>, options: Partial<RunOptions> = {}): Promise<RunReport> {
  const { report } = await runSync(cfg, { dryRun: false, force: false, alerts: 'off', ...options }, { env: {}, logger, credential: t.credential, armCa: t.emulator.caCert, armRetry: FAST_RETRY });
  return report;
}

async function stored(): Promise<AccessRuleResourceJson[]> {
  return (await t.emulator.control.perimeters()).find((p) => p.perimeter.id === NSP)!.accessRules;
}

/** Rule name -> prefixes, for the rules whose names match. */
async function rulesNamed(pattern: RegExp): Promise<Record<string, string[]>> {
  return Object.fromEntries((await stored()).filter((r) => pattern.test(r.name)).map((r) => [r.name, r.properties.addressPrefixes]));
}

async function writes(): Promise<string[]> {
  return (await t.emulator.control.requests({ kind: 'arm' }))
    .filter((r) => r.path.includes('/accessRules/') && r.method !== 'GET')
    .map((r) => `${r.method} ${r.path.split('/accessRules/')[1]} ${r.status}`);
}

const ranges = (rules: readonly string[]): AddressRange[] => rangesOf(rules.map((r) => parseCidr(r, { hostBits: 'mask' })));

async function tagCidrs(name: string): Promise<Cidr[]> {
  const doc = await loadServiceTagFile(BUNDLED);
  return [...doc.tags.find((tag) => tag.name === name)!.ipv4];
}

const tagRanges = async (name: string): Promise<AddressRange[]> => rangesOf(await tagCidrs(name));

/** Every inbound prefix of the profile, whoever's rule holds it. */
async function allPrefixes(): Promise<string[]> {
  return (await stored()).filter((r) => r.properties.direction === 'Inbound').flatMap((r) => r.properties.addressPrefixes ?? []);
}

async function uncovered(tag: string): Promise<number> {
  return countAddresses(subtractRanges(rangesOf([...(await tagCidrs(tag)), parseCidr(SHARED)]), ranges(await allPrefixes())));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ownedBy = (owner: string): RegExp => new RegExp(`^tagwall-${escape(owner)}-[1-9][0-9]*$`);

describe('two installations on one perimeter profile', () => {
  it('each keeps its own prefixes and neither deletes the other\'s, across several runs (owner IDs derived from their state)', async () => {
    const a = installation('a', ['AzureDevOps']);
    const b = installation('b', ['ApiManagement.WestEurope']);

    expect((await sync(a)).vaults[0]).toMatchObject({ outcome: 'applied' });
    const aRules = await rulesNamed(/^tagwall-/);
    const aNames = Object.keys(aRules);
    expect(aNames).toHaveLength(1);

    expect((await sync(b)).vaults[0]).toMatchObject({ outcome: 'applied' });
    // B wrote only its own rule: A's is exactly as A left it.
    expect(await rulesNamed(new RegExp(`^${escape(aNames[0]!)}$`))).toEqual(aRules);
    const bRules = await rulesNamed(/^tagwall-/);
    delete bRules[aNames[0]!];
    const bNames = Object.keys(bRules);
    expect(bNames).toHaveLength(1);
    // The derived owners: a short hash each, different for different state.
    const ownerA = /^tagwall-([0-9a-f]{8})-1$/.exec(aNames[0]!)?.[1];
    const ownerB = /^tagwall-([0-9a-f]{8})-1$/.exec(bNames[0]!)?.[1];
    expect(ownerA).toBeDefined();
    expect(ownerB).toBeDefined();
    expect(ownerB).not.toBe(ownerA);
    // SHARED was A's already, so B holds it through A's rule and does not copy it.
    expect(bRules[bNames[0]!]).not.toContain(SHARED);

    for (let round = 0; round < 3; round++) {
      await t.emulator.control.clearRequests();
      const ra = (await sync(a)).vaults[0]!;
      const rb = (await sync(b)).vaults[0]!;
      expect([round, ra.outcome, ra.remove, rb.outcome, rb.remove]).toEqual([round, 'in-sync', [], 'in-sync', []]);
      expect(await writes()).toEqual([]);
      expect(await rulesNamed(ownedBy(ownerA!))).toEqual(aRules);
      expect(await rulesNamed(ownedBy(ownerB!))).toEqual(bRules);
      expect(await uncovered('AzureDevOps')).toBe(0);
      expect(await uncovered('ApiManagement.WestEurope')).toBe(0);
    }
    expect((await allPrefixes()).length + 1).toBeLessThanOrEqual(200);
  });

  it('with explicit owner IDs, rules are named tagwall-<owner>-<n>; a tag change of one removes only its own prefixes', async () => {
    const lax = { guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 } };
    const a = installation('a', ['AzureDevOps'], { ownerId: 'team-a', ...lax });
    const b = installation('b', ['ApiManagement.WestEurope'], { ownerId: 'team-b', ...lax });
    await sync(a);
    await sync(b);
    expect(Object.keys(await rulesNamed(/^tagwall-/)).sort()).toEqual(['tagwall-team-a-1', 'tagwall-team-b-1']);
    const bRules = await rulesNamed(ownedBy('team-b'));

    // A moves to another tag: its old prefixes go, B's rule is untouched.
    await t.emulator.control.clearRequests();
    const moved = installation('a', ['DataFactory.WestEurope'], { ownerId: 'team-a', ...lax });
    expect((await sync(moved)).vaults[0]).toMatchObject({ outcome: 'applied' });
    expect((await writes()).every((w) => w.includes('tagwall-team-a-'))).toBe(true);
    expect(await rulesNamed(ownedBy('team-b'))).toEqual(bRules);
    expect(countAddresses(subtractRanges(await tagRanges('DataFactory.WestEurope'), ranges(await allPrefixes())))).toBe(0);
    const aNow = Object.values(await rulesNamed(ownedBy('team-a'))).flat();
    // Only the new tag (and SHARED) is left in A's rule: AzureDevOps went.
    expect(ranges(aNow.filter((p) => p !== SHARED))).toEqual(await tagRanges('DataFactory.WestEurope'));
    // And B, after it, is still in step without a write.
    await t.emulator.control.clearRequests();
    expect((await sync(b)).vaults[0]).toMatchObject({ outcome: 'in-sync', remove: [] });
    expect(await writes()).toEqual([]);
  });
});

describe('the owner-ID migration of rules named tagwall-<n>', () => {
  const legacy = (n: number, prefixes: string[]): SeedAccessRule => ({ name: `tagwall-${n}`, direction: 'Inbound', addressPrefixes: prefixes });

  it('the first run with an owner ID takes tagwall-<n> as its own and renames it, new rule first, old one deleted last; reported once', async () => {
    // What a run before owner IDs wrote in tagwall-1: the plan's prefixes for this selection (a
    // dry run on the empty profile says which; the fixture only, never an expected figure).
    const a = installation('a', ['AzureDevOps'], { ownerId: 'team-a' });
    const content = (await sync(a, { dryRun: true })).vaults[0]!.add;
    expect(content.length).toBeGreaterThan(20);
    await t.reset(seed([legacy(1, [...content])]));

    const dry = (await sync(a, { dryRun: true })).vaults[0]!;
    expect(dry.findings.map((f) => f.code)).toContain('OWNER_MIGRATED');
    expect(dry.outcome).toBe('pending');
    expect(await writes()).toEqual([]);

    await t.emulator.control.clearRequests();
    const first = (await sync(a)).vaults[0]!;
    expect(first).toMatchObject({ outcome: 'applied', add: [], remove: [] });
    expect(first.findings.map((f) => f.code)).toContain('OWNER_MIGRATED');
    expect(await writes()).toEqual(['PUT tagwall-team-a-1 201', 'DELETE tagwall-1 200']);
    expect(await rulesNamed(/^tagwall-/)).toEqual({ 'tagwall-team-a-1': content });

    // Once: the next run has nothing to rename, reports nothing of it, and writes nothing.
    await t.emulator.control.clearRequests();
    const second = (await sync(a)).vaults[0]!;
    expect(second.outcome).toBe('in-sync');
    expect(second.findings.map((f) => f.code)).not.toContain('OWNER_MIGRATED');
    expect(await writes()).toEqual([]);

    // A second installation upgraded later finds no legacy rule: A's renamed rule is A's.
    const b = installation('b', ['ApiManagement.WestEurope'], { ownerId: 'team-b' });
    const rb = (await sync(b)).vaults[0]!;
    expect(rb.findings.map((f) => f.code)).not.toContain('OWNER_MIGRATED');
    expect(await rulesNamed(ownedBy('team-a'))).toEqual({ 'tagwall-team-a-1': content });
  });

  it('with little room in the profile, the rename moves a few prefixes at a time, never holding fewer and never over the limit', async () => {
    // 2 elements of others + 190 legacy prefixes: 8 free, so 8 prefixes move per step.
    const held = Array.from({ length: 190 }, (_, i) => `20.10.${i}.0/24`);
    await t.reset(seed([legacy(1, held)]));
    const target = createPerimeterProfileFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: 'team-a' });
    const state = await target.read(PROFILE);
    expect(state.findings?.map((f) => f.code)).toContain('OWNER_MIGRATED');
    expect([...state.ownedByName!].sort()).toEqual([...held].sort());
    await t.emulator.control.clearRequests();
    await target.write(state, { ipRules: state.ipRules });
    const w = await writes();
    const room = 200 - OTHER_ELEMENTS - held.length;
    const steps = Math.ceil(held.length / room);
    expect(w).toHaveLength(2 * steps);
    // Alternating: the new rule grows, then the old one shrinks (deleted at the last step).
    w.forEach((line, i) => expect(line.split(' ').slice(0, 2).join(' ')).toBe(i % 2 === 0 ? 'PUT tagwall-team-a-1' : i === w.length - 1 ? 'DELETE tagwall-1' : 'PUT tagwall-1'));
    expect(w.every((line) => !line.endsWith(' 400'))).toBe(true);
    expect(await rulesNamed(/^tagwall-/)).toEqual({ 'tagwall-team-a-1': held });
  });

  it('with no free element, the rename waits (OWNER_MIGRATION_BLOCKED) and the legacy rule stays this installation\'s', async () => {
    const held = Array.from({ length: 198 }, (_, i) => `20.10.${i}.0/24`);
    await t.reset(seed([legacy(1, held)]));
    const target = createPerimeterProfileFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: 'team-a' });
    const state = await target.read(PROFILE);
    expect(state.findings?.map((f) => f.code)).toContain('OWNER_MIGRATION_BLOCKED');
    expect(state.findings?.map((f) => f.code)).not.toContain('OWNER_MIGRATED');
    expect(state.rewrite).toBeUndefined();
    expect(state.ownedByName).toHaveLength(198);
  });
});

describe('drift of name-owned rules', () => {
  it('a prefix removed from tagwall\'s rule outside tagwall is RULE_MISSING in the next dry run, and the sync puts it back', async () => {
    const a = installation('a', ['AzureDevOps']);
    await sync(a);
    const [name, mine] = Object.entries(await rulesNamed(/^tagwall-/))[0]!;
    const victim = mine.find((p) => p !== SHARED)!;
    const put = await t.fetch('PUT', `${PROFILE_ID}/accessRules/${name}?api-version=2025-05-01`, { body: { properties: { direction: 'Inbound', addressPrefixes: mine.filter((p) => p !== victim) } } });
    expect(put.status).toBe(200);

    const dry = (await sync(a, { dryRun: true })).vaults[0]!;
    expect(dry.drift).toEqual([expect.objectContaining({ kind: 'missing', code: 'RULE_MISSING', rule: victim })]);
    expect(dry.outcome).toBe('pending');

    const repaired = (await sync(a)).vaults[0]!;
    expect(repaired).toMatchObject({ outcome: 'applied', add: [victim] });
    expect((await sync(a, { dryRun: true })).vaults[0]!.drift).toEqual([]);
  });

  it('tagwall\'s rule deleted outside tagwall: every one of its prefixes is RULE_MISSING', async () => {
    const a = installation('a', ['AzureDevOps'], { ownerId: 'team-a' });
    await sync(a);
    const mine = (await rulesNamed(ownedBy('team-a')))['tagwall-team-a-1']!;
    expect((await t.fetch('DELETE', `${PROFILE_ID}/accessRules/tagwall-team-a-1?api-version=2025-05-01`)).status).toBe(200);
    const dry = (await sync(a, { dryRun: true })).vaults[0]!;
    expect(dry.drift.filter((d) => d.code === 'RULE_MISSING').map((d) => (d as { rule: string }).rule).sort()).toEqual([...mine].sort());
  });
});

describe('the ownerId setting', () => {
  const raw = (ownerId: unknown) => ({ serviceTags: { source: 'file', path: BUNDLED }, state: { store: 'file', path: join(work, 's.json') }, targets: [{ resource: PROFILE_ID, select: ['AzureDevOps'] }], ownerId });
  const problems = (ownerId: unknown): string[] => {
    try {
      parseConfig(raw(ownerId), { baseDir: work, source: 'test' });
      return [];
    } catch (e) {
      expect(isTagwallError(e, 'CONFIG_INVALID')).toBe(true);
      return isTagwallError(e) ? [...e.details] : [];
    }
  };

  it('takes lowercase letters, digits and inner dashes, up to 63 characters (tagwall-<owner>-<n> stays within the 80 of an access-rule name)', () => {
    expect(problems('team-a')).toEqual([]);
    expect(problems('x'.repeat(63))).toEqual([]);
    expect(problems('0a1b2c3d')).toEqual([]);
    for (const bad of ['x'.repeat(64), 'Team-A', 'team_a', 'team.a', '-a', 'a-', '', 'a b']) {
      expect([bad, problems(bad).length]).toEqual([bad, 1]);
      expect(problems(bad)[0]).toMatch(/^ownerId: /);
    }
  });

  it('TAGWALL_OWNER_ID sets it in the app settings', async () => {
    const env = { TAGWALL_VAULTS: PROFILE_ID, TAGWALL_SELECT: 'AzureDevOps', TAGWALL_OWNER_ID: 'prod-weu' };
    expect((await loadConfig({ env, cwd: work })).ownerId).toBe('prod-weu');
    const e = await loadConfig({ env: { ...env, TAGWALL_OWNER_ID: 'Prod_WEU' }, cwd: work }).catch((x: unknown) => x);
    expect(isTagwallError(e, 'CONFIG_INVALID') && e.details[0]).toMatch(/^TAGWALL_OWNER_ID: /);
  });
});
