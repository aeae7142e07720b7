import { describe, expect, it } from 'vitest';
import { SqlManagementClient } from '@azure/arm-sql';
import { armConnection, classicClientOptions } from '../../src/arm/client-options.js';
import { parseConfig } from '../../src/config/config.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { createSqlFirewalls } from '../../src/targets/sql/adapter.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { targetRuns } from '../helpers/run-target.js';
import { BUNDLED } from '../helpers/cli.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { RecordFileStore } from '../../src/state/record-file-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { dotted, FORBIDDEN_SPANS, intersect, ip, minus, size, union, wantedSpans, type Span } from '../core/reference.js';

// Azure SQL servers through the real @azure/arm-sql client (the rule list and one
// FirewallRules_Replace), over HTTPS, against the emulator. What each test expects comes from
// its seed and the reference set algebra, never from the run's own report.

const OWNER = 'team-a';
const OFFICE = { name: 'office', startIpAddress: '145.14.56.20', endIpAddress: '145.14.56.29' };
const AZURE = { name: 'AllowAllWindowsAzureIps', startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' };

function serverId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Sql/servers/${name}`;
}

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: [
    { id: serverId('sql-main'), firewallRules: [OFFICE, AZURE] },
    // Another installation's rule and one of this owner's, written by an earlier run.
    { id: serverId('sql-owned'), firewallRules: [OFFICE, { name: 'tagwall-team-b-1', startIpAddress: '52.9.0.0', endIpAddress: '52.9.0.255' }, { name: 'tagwall-team-a-1', startIpAddress: '52.8.0.1', endIpAddress: '52.8.0.7' }, { name: 'TAGWALL-TEAM-A-2', startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }] },
    { id: serverId('sql-private'), properties: { publicNetworkAccess: 'Disabled' }, firewallRules: [OFFICE] },
    { id: serverId('sql-tagged'), tags: { tagwall: 'devops' }, firewallRules: [AZURE] },
    // A replace answered 202 that shows in the list only after two more lists; one that shows only after 2 s.
    { id: serverId('sql-slow'), emulatorReplace: { afterLists: 2 }, firewallRules: [OFFICE, AZURE] },
    { id: serverId('sql-stuck'), emulatorReplace: { afterMs: 2000 }, firewallRules: [OFFICE, AZURE] },
  ],
}));

const ref = (name: string) => parseResourceId(serverId(name));

function firewalls() {
  return createSqlFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: OWNER });
}

/** The SDK as a person would use it, for the hand edits. */
function person(): SqlManagementClient {
  const connection = armConnection({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: { maxRetries: 0 } });
  return new SqlManagementClient(t.credential, TEST_SUBSCRIPTION, classicClientOptions(connection));
}

type StoredRule = { name: string; properties: { startIpAddress: string; endIpAddress: string } };

async function storedRules(name: string): Promise<{ name: string; startIpAddress: string; endIpAddress: string }[]> {
  const json = (await t.emulator.control.resource(serverId(name))) as { firewallRules: StoredRule[] };
  return json.firewallRules.map((r) => ({ name: r.name, ...r.properties }));
}

async function arm(name: string) {
  return t.emulator.control.requests({ target: serverId(name), kind: 'arm' });
}

const writes = async (name: string) => (await arm(name)).filter((r) => r.method !== 'GET');

/** A stored rule's addresses, by string splitting. */
const ruleSpan = (r: { startIpAddress: string; endIpAddress: string }): Span => ({ start: ip(r.startIpAddress), end: ip(r.endIpAddress) });

/** The canonical key of a range, worked out here: one aligned block as a.b.c.d/n, any other range a.b.c.d-e.f.g.h. */
function keyOfSpan(s: Span): string {
  const count = s.end - s.start + 1;
  const bits = Math.log2(count);
  if (Number.isInteger(bits) && s.start % count === 0) return `${dotted(s.start)}/${32 - bits}`;
  return `${dotted(s.start)}-${dotted(s.end)}`;
}

async function tagSpans(tag: string): Promise<Span[]> {
  const doc = await loadServiceTagFile(BUNDLED);
  return wantedSpans(doc.tags.find((x) => x.name === tag)!.addressPrefixes.filter((p) => !p.includes(':')));
}

describe('the adapter', () => {
  it('reads every rule as a range (a single address bare), the server\'s publicNetworkAccess, and only this owner\'s IPv4 rules as its own', async () => {
    const fw = await firewalls().read(ref('sql-owned'));
    expect(fw.ipRules).toEqual(['145.14.56.20-145.14.56.29', '52.8.0.1-52.8.0.7', '0.0.0.0', '52.9.0.0-52.9.0.255']);
    expect(fw.ownedByName).toEqual(['52.8.0.1-52.8.0.7']);
    expect(fw.posture).toEqual({ defaultAction: 'Deny', publicNetworkAccess: 'Enabled' });
    // TAGWALL-TEAM-A-2 holds the special 0.0.0.0 entry: named like tagwall's, but never tagwall's.
    expect(fw.findings).toEqual([expect.objectContaining({ code: 'SQL_RULE_NAME_TAKEN', rules: ['TAGWALL-TEAM-A-2'] })]);
    expect((await arm('sql-owned')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([
      ['GET', 200, '2022-08-01-preview'],
      ['GET', 200, '2020-11-01-preview'],
    ]);
  });

  it('writes the whole set in one replace: everyone else\'s rules as read, its own kept under their names, new ones numbered around taken names', async () => {
    const target = firewalls();
    const fw = await target.read(ref('sql-owned'));
    await t.emulator.control.clearRequests();
    const after = await target.write(fw, { ipRules: [...fw.ipRules.filter((r) => r !== '52.8.0.1-52.8.0.7'), '52.8.0.1-52.8.0.7', '52.7.1.0-52.7.1.255', '52.7.9.9'] });
    const sent = (await writes('sql-owned')).map((r) => [r.method, r.path.split('/providers/')[1], r.status, r.body]);
    expect(sent).toEqual([
      [
        'PUT',
        'Microsoft.Sql/servers/sql-owned/firewallRules',
        202,
        {
          values: [
            { name: 'office', properties: { startIpAddress: '145.14.56.20', endIpAddress: '145.14.56.29' } },
            { name: 'TAGWALL-TEAM-A-2', properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' } },
            { name: 'tagwall-team-b-1', properties: { startIpAddress: '52.9.0.0', endIpAddress: '52.9.0.255' } },
            { name: 'tagwall-team-a-1', properties: { startIpAddress: '52.8.0.1', endIpAddress: '52.8.0.7' } },
            { name: 'tagwall-team-a-3', properties: { startIpAddress: '52.7.1.0', endIpAddress: '52.7.1.255' } },
            { name: 'tagwall-team-a-4', properties: { startIpAddress: '52.7.9.9', endIpAddress: '52.7.9.9' } },
          ],
        },
      ],
    ]);
    expect(after.ownedByName?.slice().sort()).toEqual(['52.7.1.0-52.7.1.255', '52.7.9.9', '52.8.0.1-52.8.0.7']);
    expect((await storedRules('sql-owned')).map((r) => r.name)).toContain('tagwall-team-a-4');
  });

  it('refuses, sending nothing, a list that would drop someone else\'s rule or make tagwall own the 0.0.0.0 entry', async () => {
    const target = firewalls();
    const fw = await target.read(ref('sql-main'));
    await t.emulator.control.clearRequests();
    expect(await failure(target.write(fw, { ipRules: ['0.0.0.0', '52.7.1.0-52.7.1.255'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true, rules: ['145.14.56.20-145.14.56.29'] } });
    const open = await target.read(ref('sql-tagged'));
    await t.emulator.control.clearRequests();
    expect(await failure(target.write({ ...open, opaque: { rules: [] } }, { ipRules: ['0.0.0.0'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true } });
    expect(await writes('sql-main')).toEqual([]);
    expect(await writes('sql-tagged')).toEqual([]);
  });
});

describe("the emulator's SQL firewall (Azure's validation, through the SDK)", () => {
  const replace = (server: string, values: object[]) => person().firewallRules.replace(TEST_GROUP, server, { values } as never);

  it('refuses a start after its end, an IPv6 address, 257 rules and a write while public access is off; a refused replace changes nothing', async () => {
    const before = await storedRules('sql-main');
    await expect(replace('sql-main', [OFFICE, { name: 'x', startIpAddress: '52.1.1.9', endIpAddress: '52.1.1.1' }])).rejects.toMatchObject({ statusCode: 400, code: 'FirewallRuleInvalidRange' });
    await expect(replace('sql-main', [{ name: 'v6', startIpAddress: '2001:db8::1', endIpAddress: '2001:db8::2' }])).rejects.toMatchObject({ statusCode: 400, code: 'FirewallRuleNotIPv4Address' });
    const many = Array.from({ length: 257 }, (_, i) => ({ name: `r${i}`, startIpAddress: `52.2.${i >> 8}.${i & 255}`, endIpAddress: `52.2.${i >> 8}.${i & 255}` }));
    await expect(replace('sql-main', many)).rejects.toMatchObject({ statusCode: 400, code: 'TooManyFirewallRules' });
    expect(await storedRules('sql-main')).toEqual(before);
    await replace('sql-main', many.slice(0, 256));
    expect(await storedRules('sql-main')).toHaveLength(256);
    await expect(person().firewallRules.createOrUpdate(TEST_GROUP, 'sql-private', 'x', { startIpAddress: '52.1.1.1', endIpAddress: '52.1.1.1' })).rejects.toMatchObject({ statusCode: 400, code: 'DenyPublicEndpointEnabled' });
  });
});

describe('sync', () => {
  async function runsFor() {
    const runs = await targetRuns(t);
    const config = (target: Record<string, unknown>, extra: Record<string, unknown> = {}) => runs.config([{ resource: serverId('sql-main'), select: ['LogicApps@westeurope'], maxRules: 20, ...target }] as never, { ownerId: OWNER, ...extra } as never);
    return { runs, config };
  }

  it('first apply: fits the tag into 20 ranges beside the person\'s rule and AllowAllWindowsAzureIps, every address covered, nothing forbidden; the next run writes nothing', async () => {
    const { runs, config } = await runsFor();
    const report = await runs.sync(config({}));
    expect(report.vaults[0], JSON.stringify(report.vaults[0]!.error)).toMatchObject({ outcome: 'applied', rules: { limit: 20 } });
    const rules = await storedRules('sql-main');
    expect(rules.length).toBeLessThanOrEqual(20);
    expect(rules).toContainEqual(OFFICE);
    expect(rules).toContainEqual(AZURE);
    const mine = rules.filter((r) => /^tagwall-team-a-\d+$/.test(r.name));
    expect(mine.length).toBe(rules.length - 2);
    const wanted = await tagSpans('LogicApps.WestEurope');
    const allowed = union(rules.map(ruleSpan));
    expect(size(minus(wanted, allowed)), 'wanted addresses left out').toBe(0);
    expect(size(intersect(union(mine.map(ruleSpan)), [...FORBIDDEN_SPANS])), 'forbidden addresses allowed').toBe(0);
    // Excess as for CIDR kinds: what tagwall's ranges admit beyond the source (the office range lies outside it).
    const excess = size(minus(union(mine.map(ruleSpan)), wanted));
    expect(excess, 'the 20-range cover widens').toBeGreaterThan(0);
    expect(report.vaults[0]!.excessAddresses).toBe(excess);
    // The widening report works per range, and its totals are the same excess.
    expect(report.vaults[0]!.widening?.totals.excessAddresses).toBe(excess);
    expect(report.vaults[0]!.widening?.rules.every((r) => /^[\d.]+-[\d.]+$/.test(r.rule))).toBe(true);
    expect((await writes('sql-main')).map((r) => [r.method, r.path.split('/providers/')[1]])).toEqual([['PUT', 'Microsoft.Sql/servers/sql-main/firewallRules']]);

    await t.emulator.control.clearRequests();
    const again = await runs.sync(config({}));
    expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
    expect((await arm('sql-main')).map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('drift: a rule of tagwall\'s a person deleted is RULE_MISSING and comes back; the rule a person added is RULE_ADDED and stays, under its name', async () => {
    const { runs, config } = await runsFor();
    await runs.sync(config({}));
    const mine = (await storedRules('sql-main')).filter((r) => r.name.startsWith('tagwall-'));
    const victim = mine[0]!;
    await person().firewallRules.delete(TEST_GROUP, 'sql-main', victim.name);
    await person().firewallRules.createOrUpdate(TEST_GROUP, 'sql-main', 'vpn', { startIpAddress: '198.51.100.7', endIpAddress: '198.51.100.7' });
    const report = await runs.sync(config({}));
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('applied');
    expect(v.drift.map((d) => d.code).sort()).toEqual(['RULE_ADDED', 'RULE_MISSING']);
    expect(v.drift).toContainEqual(expect.objectContaining({ code: 'RULE_ADDED', rule: '198.51.100.7/32' }));
    expect(v.drift).toContainEqual(expect.objectContaining({ code: 'RULE_MISSING', rule: keyOfSpan(ruleSpan(victim)) }));
    const after = await storedRules('sql-main');
    expect(after).toContainEqual({ name: 'vpn', startIpAddress: '198.51.100.7', endIpAddress: '198.51.100.7' });
    expect(after.map(ruleSpan)).toContainEqual(ruleSpan(victim));
    expect(after).toContainEqual(OFFICE);
  });

  it('refuses with zero writes when the rules a person keeps leave no room (BUDGET_EXHAUSTED), and skips a server whose public access is disabled', async () => {
    const { runs, config } = await runsFor();
    const report = await runs.sync(config({ maxRules: 1 }));
    expect(report.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'BUDGET_EXHAUSTED' })] });
    const closed = await runs.sync(runs.config([{ resource: serverId('sql-private'), select: ['AzureDevOps'] }], { ownerId: OWNER } as never));
    expect(closed.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
    expect(await writes('sql-main')).toEqual([]);
    expect(await writes('sql-private')).toEqual([]);
  });

  it('finds a tagged server through Resource Graph and reads its rules directly (graph: tags)', async () => {
    const runs = await targetRuns(t);
    const report = await runs.sync(runs.config([], { ownerId: OWNER, profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0 } } as never));
    const v = report.vaults.find((r) => r.vault.toLowerCase() === serverId('sql-tagged').toLowerCase());
    expect(v, JSON.stringify(report.vaults.map((r) => r.vault))).toMatchObject({ outcome: 'applied' });
    const rules = await storedRules('sql-tagged');
    expect(rules).toContainEqual(AZURE);
    expect(size(minus(await tagSpans('AzureDevOps'), union(rules.map(ruleSpan))))).toBe(0);
    expect(rules.length).toBeLessThanOrEqual(128);
  });

  it('takes maxRules up to 255 (Microsoft\'s figures disagree: 128 by default), and no more', () => {
    const parse = (maxRules: number) => parseConfig({ targets: [{ resource: serverId('sql-main'), select: ['X'], maxRules }] }, { baseDir: '/', source: 'test' });
    expect(parseConfig({ targets: [{ resource: serverId('sql-main'), select: ['X'] }] }, { baseDir: '/', source: 'test' }).targets[0]).toMatchObject({ maxRules: 128, ruleShape: 'range', mode: 'merge' });
    expect(parse(255).targets[0]!.maxRules).toBe(255);
    expect(() => parse(256)).toThrow(expect.objectContaining({ details: [expect.stringMatching(/maxRules: 256 is more than a Azure SQL logical server takes \(255\)/)] }));
    expect(() => parseConfig({ targets: [{ resource: serverId('sql-main'), select: ['X'], mode: 'authoritative' }] }, { baseDir: '/', source: 'test' })).toThrow(expect.objectContaining({ details: [expect.stringMatching(/mode "merge" only/)] }));
  });
});

describe('a replace Azure answered 202 and is still applying', () => {
  const listsOf = async (name: string) => (await arm(name)).filter((r) => r.method === 'GET' && /\/firewallRules$/i.test(r.path.split('?')[0]!));

  it('the write waits for the set to show: the state it returns is the new set, read on the third list after the replace', async () => {
    const fw = createSqlFirewalls({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: OWNER, operations: { pollIntervalMs: 10, timeoutMs: 5_000 } });
    const current = await fw.read(ref('sql-slow'));
    await t.emulator.control.clearRequests();
    const written = await fw.write(current, { ipRules: [...current.ipRules, '52.1.2.0-52.1.2.9'] });
    expect(written.ipRules).toContain('52.1.2.0-52.1.2.9');
    expect(written.ownedByName).toEqual(['52.1.2.0-52.1.2.9']);
    // One PUT, then lists until the set shows: two still show the old set, the third the new one.
    expect((await writes('sql-slow')).map((r) => [r.method, r.status])).toEqual([['PUT', 202]]);
    expect(await listsOf('sql-slow')).toHaveLength(3);
    expect(await storedRules('sql-slow')).toContainEqual({ name: 'tagwall-team-a-1', startIpAddress: '52.1.2.0', endIpAddress: '52.1.2.9' });
  });

  it('a sync through it is applied with no false drift, and records the new set: the next run is in-sync with zero writes', async () => {
    const runs = await targetRuns(t);
    const config = runs.config([{ resource: serverId('sql-slow'), select: ['AzureDevOps'] }] as never, { ownerId: OWNER } as never);
    await t.emulator.control.clearRequests();
    const report = await runs.sync(config);
    const v = report.vaults[0]!;
    expect(v, JSON.stringify(v.error)).toMatchObject({ outcome: 'applied', drift: [] });
    expect(size(minus(await tagSpans('AzureDevOps'), union((await storedRules('sql-slow')).map(ruleSpan))))).toBe(0);
    await t.emulator.control.clearRequests();
    const again = await runs.sync(config);
    expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [], drift: [] });
    expect(await writes('sql-slow')).toEqual([]);
  });

  it('a set that does not show within the bound is TARGET_OPERATION_TIMEOUT with the intent kept (it may still land); once it lands, the next run writes nothing', async () => {
    const runs = await targetRuns(t);
    const config = runs.config([{ resource: serverId('sql-stuck'), select: ['AzureDevOps'] }] as never, { ownerId: OWNER } as never);
    // A dry run first, so the timed run does not also load the service tags.
    await runs.sync(config, { dryRun: true });
    await t.emulator.control.clearRequests();
    const started = Date.now();
    const report = await runs.sync(config, {}, { armOperations: { pollIntervalMs: 20, timeoutMs: 300 } });
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('failed');
    expect(v.error?.code).toBe('TARGET_OPERATION_TIMEOUT');
    // One replace, and no second one while the first may still land.
    expect((await writes('sql-stuck')).map((r) => r.method)).toEqual(['PUT']);
    const stored = await new TargetStateRepository(new RecordFileStore(runs.statePath)).load(ref('sql-stuck'));
    expect(stored?.record.intent?.add.length).toBeGreaterThan(0);
    const ended = Date.now();
    expect(ended - started, 'the run gave up before the set could land').toBeLessThan(2000);
    // Azure finishes later: the list (as a person's client reads it) then shows the set.
    // The replace was sent before the run ended, so 2 s after that it has landed.
    await new Promise((r) => setTimeout(r, Math.max(0, 2050 - (Date.now() - ended))));
    const listed: string[] = [];
    for await (const r of person().firewallRules.listByServer(TEST_GROUP, 'sql-stuck')) listed.push(r.name!);
    expect(listed.filter((n) => n.startsWith('tagwall-team-a-')).length).toBe(stored!.record.intent!.add.length);
    const rules = await storedRules('sql-stuck');
    await t.emulator.control.clearRequests();
    // The intent outlives the write it guards: the next run leaves the server to it, writing nothing.
    const busy = await runs.sync(config);
    expect(busy.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'VAULT_BUSY' })] });
    // Once the intent has expired, the set it announced shows whole: claimed, in step, nothing written.
    const later = () => new Date(Date.now() + 25 * 60_000);
    const after = await runs.sync(config, {}, { now: later });
    expect(after.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [], drift: [] });
    expect(await writes('sql-stuck')).toEqual([]);
    expect((await storedRules('sql-stuck')).length).toBe(rules.length);
  });
});
