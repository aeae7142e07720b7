import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import type { FirewallTarget } from '../../src/targets/firewall.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';
import type { RequestLogEntry } from '../../src/emulator/model.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { targetRuns } from '../helpers/run-target.js';
import { BUNDLED } from '../helpers/cli.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { FORBIDDEN_SPANS, intersect, ip, minus, size, union, wantedSpans, type Span } from '../core/reference.js';

// Synapse workspaces and Azure Cache for Redis, the start/end kinds written one rule at a time,
// each through its real @azure/arm-* client over HTTPS against the emulator, by the same tests:
// one row per kind. The rows carry what differs (field names, rule names, statuses, long-running
// or not); what each test expects comes from its seed, the emulator's request log and the
// reference set algebra (test/core/reference.ts), never from the run's own report.

interface KindRow {
  readonly kind: string;
  readonly resourceType: string;
  /** The api-version the SDK sends, for the rules and the server. */
  readonly apiVersion: string;
  readonly fields: { readonly start: string; readonly end: string };
  /** An owner's rule n, as this test spells it (not taken from src/). */
  readonly ruleName: (owner: string, n: number) => string;
  /** Statuses Azure answers: a PUT that creates, a DELETE that removes. */
  readonly created: number;
  readonly deleted: number;
  /** A name the kind takes and one it refuses. */
  readonly goodName: string;
  readonly badName: string;
  /** Whether an empty rule list means open (Redis): the first rule needs enforceDeny, the last is never removed. */
  readonly switch: boolean;
  /** The most rules the API holds, where it refuses more. */
  readonly capacity?: number;
  /** Whether a rule's PUT and DELETE are long-running operations. */
  readonly longRunning: boolean;
}

const KINDS: readonly KindRow[] = [
  // IpFirewallRules_CreateOrUpdate and _Delete: long-running, 202. Names: no <>*%&:\/?, not ending with '.'.
  { kind: 'synapse', resourceType: 'Microsoft.Synapse/workspaces', apiVersion: '2021-06-01', fields: { start: 'startIpAddress', end: 'endIpAddress' }, ruleName: (o, n) => `tagwall-${o}-${n}`, created: 202, deleted: 202, goodName: 'my-rule.v2', badName: 'trailing.', switch: false, capacity: 128, longRunning: true },
  // FirewallRules_CreateOrUpdate 201/200 and _Delete 200: synchronous. Names: letters, digits, underscores.
  { kind: 'redis', resourceType: 'Microsoft.Cache/redis', apiVersion: '2024-11-01', fields: { start: 'startIP', end: 'endIP' }, ruleName: (o, n) => `tagwall_${o.replace(/-/g, '_')}_${n}`, created: 201, deleted: 200, goodName: 'my_rule_2', badName: 'my-rule', switch: true, longRunning: false },
];

const OWNER = 'team-a';
/** Guards off for the changes that merge two tags into a few ranges: the order is under test, not the widening. */
const LOOSE = { guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } };

describe.each(KINDS.map((k) => [k.kind, k] as const))('%s', (_name, row) => {
  const { start: S, end: E } = row.fields;
  const rule = (name: string, start: string, end: string) => ({ name, [S]: start, [E]: end });
  const OFFICE = rule('office', '145.14.56.20', '145.14.56.29');
  const AZURE = rule('AllowAllWindowsAzureIps', '0.0.0.0', '0.0.0.0');
  const serverId = (name: string) => `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${row.resourceType}/${name}`;
  const ref = (name: string) => parseResourceId(serverId(name));
  const api = `?api-version=${row.apiVersion}`;
  const mineName = (n: number) => row.ruleName(OWNER, n);
  const minePattern = new RegExp(`^${row.ruleName(OWNER, 0).slice(0, -1)}[1-9][0-9]*$`);

  let t: TestEmulator;
  useTestEmulator((started) => (t = started), () => ({
    vaults: [],
    resources: [
      { id: serverId('fw-main'), firewallRules: [OFFICE, AZURE] },
      // Another installation's rule, one of this owner's, and the 0.0.0.0 entry under a name like tagwall's.
      { id: serverId('fw-owned'), firewallRules: [OFFICE, rule(row.ruleName('team-b', 1), '52.9.0.0', '52.9.0.255'), rule(mineName(1), '52.8.0.1', '52.8.0.7'), rule(mineName(2).toUpperCase(), '0.0.0.0', '0.0.0.0')] },
      { id: serverId('fw-private'), publicNetworkAccess: 'Disabled', firewallRules: [OFFICE] },
      { id: serverId('fw-tagged'), tags: { tagwall: 'devops' }, firewallRules: [AZURE] },
      // No rules at all: for Redis, open to every client.
      { id: serverId('fw-empty'), firewallRules: [] },
    ],
  }));

  async function firewalls(): Promise<FirewallTarget> {
    const create = await FIREWALL_KINDS.find((k) => k.kind === row.kind)!.load();
    return create({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY, ownerId: OWNER, operations: { pollIntervalMs: 20 } });
  }

  type Stored = { name: string; start: string; end: string };
  async function storedRules(name: string): Promise<Stored[]> {
    const json = (await t.emulator.control.resource(serverId(name))) as { firewallRules: { name: string; properties: Record<string, string> }[] };
    return json.firewallRules.map((r) => ({ name: r.name, start: r.properties[S]!, end: r.properties[E]! }));
  }
  const log = (name: string) => t.emulator.control.requests({ target: serverId(name), kind: 'arm' });
  const writes = async (name: string) => (await log(name)).filter((r) => r.method !== 'GET');
  /** A person's edit, straight to ARM. */
  const personPut = (server: string, r: Record<string, string>) => t.fetch('PUT', `${serverId(server)}/firewallRules/${r['name']}${api}`, { body: { properties: { [S]: r[S], [E]: r[E] } } });
  const personDelete = (server: string, name: string) => t.fetch('DELETE', `${serverId(server)}/firewallRules/${name}${api}`);

  const spanOf = (r: { start: string; end: string }): Span => ({ start: ip(r.start), end: ip(r.end) });
  const admitted = (rules: readonly Stored[]) => union(rules.map(spanOf));
  const mine = (rules: readonly Stored[]) => rules.filter((r) => minePattern.test(r.name) && r.start !== '0.0.0.0');

  async function tagSpans(...tags: string[]): Promise<Span[]> {
    const doc = await loadServiceTagFile(BUNDLED);
    return union(tags.flatMap((tag) => wantedSpans(doc.tags.find((x) => x.name === tag)!.addressPrefixes.filter((p) => !p.includes(':')))));
  }

  /** The rule writes in the log, replayed over the rules as they stood before them: the rules after each request, in order. */
  function replay(before: readonly Stored[], entries: readonly RequestLogEntry[]): Stored[][] {
    const now = new Map(before.map((r) => [r.name.toLowerCase(), r]));
    const states: Stored[][] = [];
    for (const e of entries) {
      const m = /\/firewallRules\/([^/?]+)$/i.exec(e.path);
      if (m === null || e.status >= 400 || (e.method !== 'PUT' && e.method !== 'DELETE')) continue;
      const name = decodeURIComponent(m[1]!);
      if (e.method === 'DELETE') now.delete(name.toLowerCase());
      else {
        const props = (e.body as { properties: Record<string, string> }).properties;
        now.set(name.toLowerCase(), { name, start: props[S]!, end: props[E]! });
      }
      states.push([...now.values()]);
    }
    return states;
  }

  async function runsFor(server = 'fw-main') {
    const runs = await targetRuns(t);
    const config = (target: Record<string, unknown>, extra: Record<string, unknown> = {}) => runs.config([{ resource: serverId(server), select: ['LogicApps@westeurope'], maxRules: 20, ...target }] as never, { ownerId: OWNER, ...extra } as never);
    return { runs, config };
  }

  describe('the adapter', () => {
    it('reads every rule as a range, public access, and only this owner\'s IPv4 rules as its own', async () => {
      const fw = await (await firewalls()).read(ref('fw-owned'));
      expect(fw.ipRules.slice().sort()).toEqual(['0.0.0.0', '145.14.56.20-145.14.56.29', '52.8.0.1-52.8.0.7', '52.9.0.0-52.9.0.255']);
      expect(fw.ownedByName).toEqual(['52.8.0.1-52.8.0.7']);
      expect(fw.posture).toEqual({ defaultAction: 'Deny', publicNetworkAccess: 'Enabled' });
      expect(fw.findings).toEqual([expect.objectContaining({ code: 'RANGE_RULE_NAME_TAKEN', rules: [mineName(2).toUpperCase()] })]);
      expect((await log('fw-owned')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([
        ['GET', 200, row.apiVersion],
        ['GET', 200, row.apiVersion],
      ]);
    });

    it('writes one rule at a time: new ones numbered around taken names, then the dropped one deleted; everyone else\'s untouched', async () => {
      const target = await firewalls();
      const fw = await target.read(ref('fw-owned'));
      await t.emulator.control.clearRequests();
      const after = await target.write(fw, { ipRules: ['0.0.0.0', '145.14.56.20-145.14.56.29', '52.9.0.0-52.9.0.255', '52.7.1.0-52.7.1.255', '52.7.9.9'] });
      const sent = (await writes('fw-owned')).filter((r) => /\/firewallRules\//i.test(r.path)).map((r) => [r.method, decodeURIComponent(r.path.split('/firewallRules/')[1]!), r.status]);
      expect(sent).toEqual([
        ['PUT', mineName(3), row.created],
        ['PUT', mineName(4), row.created],
        ['DELETE', mineName(1), row.deleted],
      ]);
      expect(after.ownedByName?.slice().sort()).toEqual(['52.7.1.0-52.7.1.255', '52.7.9.9']);
      const stored = await storedRules('fw-owned');
      expect(stored.map((r) => r.name).sort()).toEqual([mineName(2).toUpperCase(), mineName(3), mineName(4), 'office', row.ruleName('team-b', 1)].sort());
      expect(stored).toContainEqual({ name: mineName(4), start: '52.7.9.9', end: '52.7.9.9' });
      expect(stored).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
    });

    // Synapse holds at most 128 rules, so on a full workspace a put-first order would be refused:
    // a delete that is already safe (its range is not wanted) goes first.
    it.runIf(row.capacity !== undefined)('on a full firewall, deletes an unwanted rule before a put would exceed the limit, and never holds more rules than it takes', async () => {
      const limit = row.capacity!;
      const at = (i: number) => `52.10.${Math.floor(i / 200)}.${i % 200}`;
      const full = [OFFICE, ...Array.from({ length: limit - 1 }, (_, i) => rule(mineName(i + 1), at(i), at(i)))];
      await t.reset({ vaults: [], resources: [{ id: serverId('fw-main'), firewallRules: full }] });
      const target = await firewalls();
      const fw = await target.read(ref('fw-main'));
      await t.emulator.control.clearRequests();
      // Drop tagwall's first two rules, add one new range: the end state has limit - 1 rules.
      const keep = Array.from({ length: limit - 3 }, (_, i) => at(i + 2));
      await target.write(fw, { ipRules: ['145.14.56.20-145.14.56.29', ...keep, '52.11.0.0-52.11.0.255'] });
      const sent = (await writes('fw-main')).filter((r) => /\/firewallRules\/[^/]+$/i.test(r.path)).map((r) => [r.method, r.status]);
      expect(sent).toEqual([
        ['DELETE', row.deleted],
        ['PUT', row.created],
        ['DELETE', row.deleted],
      ]);
      const stored = await storedRules('fw-main');
      expect(stored.length).toBe(limit - 1);
      expect(stored.map((r) => r.start)).toContain('52.11.0.0');
      expect(stored.map((r) => r.start)).not.toContain(at(0));
      expect(stored.map((r) => r.start)).not.toContain(at(1));
    });

    it.runIf(row.longRunning)('a long-running rule write that ends Failed is TARGET_OPERATION_FAILED, and changed nothing', async () => {
      await t.reset({ vaults: [], resources: [{ id: serverId('fw-main'), firewallRules: [OFFICE], emulatorOperation: { durationMs: 30, fail: { code: 'InternalServerError', message: 'An unexpected error occured while processing the request.' } } }] });
      const target = await firewalls();
      const e = await failure(target.write(await target.read(ref('fw-main')), { ipRules: ['145.14.56.20-145.14.56.29', '52.7.1.0-52.7.1.255'] }));
      expect(e).toMatchObject({ code: 'TARGET_OPERATION_FAILED', values: { azureCode: 'InternalServerError' } });
      expect(await storedRules('fw-main')).toEqual([{ name: 'office', start: '145.14.56.20', end: '145.14.56.29' }]);
    });

    it('refuses, sending nothing, a list that would drop someone else\'s rule or make tagwall own the 0.0.0.0 entry', async () => {
      const target = await firewalls();
      const fw = await target.read(ref('fw-main'));
      await t.emulator.control.clearRequests();
      expect(await failure(target.write(fw, { ipRules: ['0.0.0.0', '52.7.1.0-52.7.1.255'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true, rules: ['145.14.56.20-145.14.56.29'] } });
      const tagged = await target.read(ref('fw-tagged'));
      await t.emulator.control.clearRequests();
      expect(await failure(target.write({ ...tagged, opaque: { rules: [] } }, { ipRules: ['0.0.0.0'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true } });
      expect(await writes('fw-main')).toEqual([]);
      expect(await writes('fw-tagged')).toEqual([]);
    });
  });

  describe("the emulator's validation, through ARM", () => {
    it('refuses a start after its end, an IPv6 address and a name the kind does not take; nothing changes', async () => {
      const before = await storedRules('fw-main');
      const put = (name: string, start: string, end: string) => personPut('fw-main', rule(name, start, end));
      expect((await put('backwards', '52.1.1.9', '52.1.1.1')).status).toBe(400);
      expect((await put('v6', '2001:db8::1', '2001:db8::2')).status).toBe(400);
      expect((await put(row.badName, '52.1.1.1', '52.1.1.1')).status).toBe(400);
      expect(await storedRules('fw-main')).toEqual(before);
      expect((await put(row.goodName, '52.1.1.1', '52.1.1.1')).status).toBe(row.created);
    });
  });

  describe('sync', () => {
    it('first apply: fits the tag into 20 ranges beside the person\'s rule and the 0.0.0.0 entry, every address covered, nothing forbidden; the next run writes nothing', async () => {
      const { runs, config } = await runsFor();
      const report = await runs.sync(config({}));
      expect(report.vaults[0], JSON.stringify(report.vaults[0]!.error)).toMatchObject({ outcome: 'applied', rules: { limit: 20 } });
      const rules = await storedRules('fw-main');
      expect(rules.length).toBeLessThanOrEqual(20);
      expect(rules).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
      expect(rules).toContainEqual({ name: AZURE.name, start: '0.0.0.0', end: '0.0.0.0' });
      expect(mine(rules).length).toBe(rules.length - 2);
      const wanted = await tagSpans('LogicApps.WestEurope');
      expect(size(minus(wanted, admitted(rules))), 'wanted addresses left out').toBe(0);
      expect(size(intersect(admitted(mine(rules)), [...FORBIDDEN_SPANS])), 'forbidden addresses allowed').toBe(0);
      expect(report.vaults[0]!.excessAddresses).toBe(size(minus(admitted(mine(rules)), wanted)));
      const ruleWrites = (await writes('fw-main')).filter((r) => /\/firewallRules\//i.test(r.path));
      expect(ruleWrites.length).toBe(mine(rules).length);
      expect(ruleWrites.every((r) => r.method === 'PUT')).toBe(true);

      await t.emulator.control.clearRequests();
      const again = await runs.sync(config({}));
      expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
      expect((await log('fw-main')).map((r) => r.method)).toEqual(['GET', 'GET']);
    });

    it('drift: a rule of tagwall\'s a person deleted is RULE_MISSING and comes back; the rule a person added is RULE_ADDED and stays, under its name', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({}));
      const victim = mine(await storedRules('fw-main'))[0]!;
      expect((await personDelete('fw-main', victim.name)).status).toBe(row.deleted);
      expect((await personPut('fw-main', rule('vpn', '198.51.100.7', '198.51.100.7'))).status).toBe(row.created);
      const v = (await runs.sync(config({}))).vaults[0]!;
      expect(v.outcome).toBe('applied');
      expect(v.drift.map((d) => d.code).sort()).toEqual(['RULE_ADDED', 'RULE_MISSING']);
      expect(v.drift).toContainEqual(expect.objectContaining({ code: 'RULE_ADDED', rule: '198.51.100.7/32' }));
      const after = await storedRules('fw-main');
      expect(after).toContainEqual({ name: 'vpn', start: '198.51.100.7', end: '198.51.100.7' });
      expect(after.map(spanOf)).toContainEqual(spanOf(victim));
      expect(after).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
    });

    it('refuses with zero writes when the rules a person keeps leave no room (BUDGET_EXHAUSTED), and skips a firewall whose public access is off', async () => {
      const { runs, config } = await runsFor();
      const report = await runs.sync(config({ maxRules: 1 }));
      expect(report.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'BUDGET_EXHAUSTED' })] });
      const closed = await runs.sync(runs.config([{ resource: serverId('fw-private'), select: ['AzureDevOps'] }], { ownerId: OWNER } as never));
      expect(closed.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
      expect(await writes('fw-main')).toEqual([]);
      expect(await writes('fw-private')).toEqual([]);
    });

    it('a change puts every new rule before it deletes any, so at every moment the firewall admits all that both the old and the new rules admit', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({ select: ['AzureDevOps'], maxRules: 30 }, LOOSE));
      const old = await storedRules('fw-main');
      await t.emulator.control.clearRequests();
      // More source in the same budget: the old ranges are merged differently, so some go and others come.
      const report = await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE));
      expect(report.vaults[0]!.outcome, JSON.stringify(report.vaults[0]!.reasons)).toBe('applied');
      const now = await storedRules('fw-main');
      const entries = (await log('fw-main')).filter((e) => /\/firewallRules\/[^/]+$/i.test(e.path) && e.method !== 'GET');
      const methods = entries.map((e) => e.method);
      expect(methods).toContain('PUT');
      expect(methods).toContain('DELETE');
      expect(methods.lastIndexOf('PUT'), 'a PUT after a DELETE').toBeLessThan(methods.indexOf('DELETE'));
      const both = intersect(admitted(old), admitted(now));
      expect(size(both)).toBeGreaterThan(0);
      const states = replay(old, entries);
      expect(states.length).toBe(entries.length);
      states.forEach((s, i) => expect(size(minus(both, admitted(s))), `after request ${i + 1} (${entries[i]!.method})`).toBe(0));
      expect(states.at(-1)!.map((r) => `${r.name}=${r.start}-${r.end}`).sort()).toEqual(now.map((r) => `${r.name}=${r.start}-${r.end}`).sort());
    });

    it('a PUT failing part-way: the run fails (partial), only old or wanted rules stay and old ∩ new is admitted after every request; the next run finishes the change', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({ select: ['AzureDevOps'], maxRules: 30 }, LOOSE));
      const old = await storedRules('fw-main');
      await t.emulator.control.clearRequests();
      // The first rule PUT goes through; every one after it answers 500 (the SDK retries each three times).
      await t.emulator.control.addFault({ kind: 'respond', on: 'resources', method: 'PUT', resource: serverId('fw-main'), skip: 1, status: 500, times: 4 });
      const failed = (await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE))).vaults[0]!;
      expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'TARGET_SERVER_ERROR', message: expect.stringContaining('after 1 of') } });
      const failing = (await log('fw-main')).filter((e) => /\/firewallRules\/[^/]+$/i.test(e.path) && e.method !== 'GET');
      expect(failing.map((e) => [e.method, e.status])).toEqual([['PUT', row.created], ['PUT', 500], ['PUT', 500], ['PUT', 500], ['PUT', 500]]);
      const between = await storedRules('fw-main');
      await t.emulator.control.clearRequests();

      // The failed run withdrew its intent: the next one is not held as busy, and finishes.
      const done = (await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE))).vaults[0]!;
      expect(done.outcome, JSON.stringify([done.reasons, done.findings.map((f) => f.code)])).toBe('applied');
      expect([...done.reasons.map((r) => r.code), ...done.findings.map((f) => f.code)]).not.toContain('VAULT_BUSY');
      const finishing = (await log('fw-main')).filter((e) => /\/firewallRules\/[^/]+$/i.test(e.path) && e.method !== 'GET');
      const wanted = await storedRules('fw-main');
      const key = (r: Stored) => `${r.start}-${r.end}`;
      const oldOrWanted = new Set([...old, ...wanted].map(key));
      expect(between.filter((r) => !oldOrWanted.has(key(r)))).toEqual([]);
      // Every request of both runs, replayed from the rules before the first: none leaves old ∩ new short.
      const both = intersect(admitted(old), admitted(wanted));
      expect(size(both)).toBeGreaterThan(0);
      const states = [...replay(old, failing), ...replay(between, finishing)];
      expect(states.length).toBe(1 + finishing.length);
      states.forEach((st, i) => expect(size(minus(both, admitted(st))), `after request ${i + 1}`).toBe(0));
      expect(states.at(-1)!.map(key).sort()).toEqual(wanted.map(key).sort());
      // Everyone else's rules came through both runs as they were.
      expect(wanted).toContainEqual({ name: OFFICE['name'], start: '145.14.56.20', end: '145.14.56.29' });
      expect(wanted).toContainEqual({ name: AZURE['name'], start: '0.0.0.0', end: '0.0.0.0' });
    });

    it('finds a tagged firewall through Resource Graph and reads its rules directly (graph: tags)', async () => {
      const runs = await targetRuns(t);
      const report = await runs.sync(runs.config([], { ownerId: OWNER, profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0 } } as never));
      const v = report.vaults.find((r) => r.vault.toLowerCase() === serverId('fw-tagged').toLowerCase());
      expect(v, JSON.stringify(report.vaults.map((r) => r.vault))).toMatchObject({ outcome: 'applied' });
      const rules = await storedRules('fw-tagged');
      expect(rules).toContainEqual({ name: AZURE.name, start: '0.0.0.0', end: '0.0.0.0' });
      expect(size(minus(await tagSpans('AzureDevOps'), admitted(rules)))).toBe(0);
      expect(rules.length).toBeLessThanOrEqual(FIREWALL_KINDS.find((k) => k.kind === row.kind)!.maxRules);
    });
  });

  // An empty list: Synapse admits no public client then; a Redis cache admits every one.
  describe('a firewall with no rules', () => {
    it.runIf(row.switch)('is open: the first rule is refused without enforceDeny, with zero writes, and written with it', async () => {
      const { runs, config } = await runsFor('fw-empty');
      const refused = (await runs.sync(config({}))).vaults[0]!;
      expect(refused).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'TARGET_WOULD_ENABLE_FIREWALL' })] });
      expect(await writes('fw-empty')).toEqual([]);
      const applied = (await runs.sync(config({ enforceDeny: true }))).vaults[0]!;
      expect(applied.outcome, JSON.stringify(applied.reasons)).toBe('applied');
      const rules = await storedRules('fw-empty');
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.every((r) => minePattern.test(r.name))).toBe(true);
      expect(size(minus(await tagSpans('LogicApps.WestEurope'), admitted(rules)))).toBe(0);
    });

    it.runIf(row.switch)('never loses its last rule: a write emptying the list is refused before any request', async () => {
      await t.reset({ vaults: [], resources: [{ id: serverId('fw-empty'), firewallRules: [rule(mineName(1), '52.8.0.1', '52.8.0.7')] }] });
      const target = await firewalls();
      const fw = await target.read(ref('fw-empty'));
      expect(fw.posture.defaultAction).toBe('Deny');
      await t.emulator.control.clearRequests();
      expect(await failure(target.write(fw, { ipRules: [] }))).toMatchObject({ code: 'TARGET_WOULD_DISABLE_FIREWALL', values: { notSent: true } });
      expect(await writes('fw-empty')).toEqual([]);
      expect(await storedRules('fw-empty')).toEqual([{ name: mineName(1), start: '52.8.0.1', end: '52.8.0.7' }]);
    });

    it.runIf(!row.switch)('is closed: the first rules need no enforceDeny', async () => {
      const fw = await (await firewalls()).read(ref('fw-empty'));
      expect(fw.posture.defaultAction).toBe('Deny');
      const { runs, config } = await runsFor('fw-empty');
      const applied = (await runs.sync(config({}))).vaults[0]!;
      expect(applied.outcome, JSON.stringify(applied.reasons)).toBe('applied');
      expect((await storedRules('fw-empty')).length).toBeGreaterThan(0);
    });
  });
});
