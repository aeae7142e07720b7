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

// The start/end kinds whose named rules are written one at a time, each through its real
// @azure/arm-* client over HTTPS against the emulator, by the same tests: one row per kind in
// KINDS. What each test expects comes from its seed, the emulator's request log and the
// reference set algebra (test/core/reference.ts), never from the run's own report.

interface KindRow {
  /** The kind's `kind` in src/targets/kinds.ts. */
  readonly kind: string;
  readonly resourceType: string;
  /** The api-version the SDK sends for the rules. */
  readonly apiVersion: string;
  /** The rule's address fields on the wire. */
  readonly fields: { readonly start: string; readonly end: string };
  /** Seed properties of a server whose public access is off. */
  readonly closed: Record<string, unknown>;
}

const KINDS: readonly KindRow[] = [
  { kind: 'postgresql-flexible', resourceType: 'Microsoft.DBforPostgreSQL/flexibleServers', apiVersion: '2025-08-01', fields: { start: 'startIpAddress', end: 'endIpAddress' }, closed: { publicNetworkAccess: 'Disabled' } },
  { kind: 'mysql-flexible', resourceType: 'Microsoft.DBforMySQL/flexibleServers', apiVersion: '2021-05-01', fields: { start: 'startIpAddress', end: 'endIpAddress' }, closed: { publicNetworkAccess: 'Disabled' } },
];

const OWNER = 'team-a';
/** Guards off for the changes that merge two tags into a few ranges: the order is under test, not the widening. */
const LOOSE = { guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } };

describe.each(KINDS.map((k) => [k.kind, k] as const))('%s', (_name, row) => {
  const { start: S, end: E } = row.fields;
  const rule = (name: string, start: string, end: string) => ({ name, [S]: start, [E]: end });
  const OFFICE = rule('office', '145.14.56.20', '145.14.56.29');
  const AZURE = rule('AllowAllAzureServicesAndResourcesWithinAzureIps', '0.0.0.0', '0.0.0.0');
  const serverId = (name: string) => `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${row.resourceType}/${name}`;
  const ref = (name: string) => parseResourceId(serverId(name));
  const api = `?api-version=${row.apiVersion}`;

  let t: TestEmulator;
  useTestEmulator((started) => (t = started), () => ({
    vaults: [],
    resources: [
      { id: serverId('db-main'), firewallRules: [OFFICE, AZURE] },
      // Another installation's rule, one of this owner's, and the 0.0.0.0 entry under a name like tagwall's.
      { id: serverId('db-owned'), firewallRules: [OFFICE, rule('tagwall-team-b-1', '52.9.0.0', '52.9.0.255'), rule('tagwall-team-a-1', '52.8.0.1', '52.8.0.7'), rule('TAGWALL-TEAM-A-2', '0.0.0.0', '0.0.0.0')] },
      { id: serverId('db-private'), ...row.closed, firewallRules: [OFFICE] },
      { id: serverId('db-tagged'), tags: { tagwall: 'devops' }, firewallRules: [AZURE] },
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
  const mine = (rules: readonly Stored[]) => rules.filter((r) => /^tagwall-team-a-\d+$/.test(r.name) && r.start !== '0.0.0.0');

  async function tagSpans(...tags: string[]): Promise<Span[]> {
    const doc = await loadServiceTagFile(BUNDLED);
    return union(tags.flatMap((tag) => wantedSpans(doc.tags.find((x) => x.name === tag)!.addressPrefixes.filter((p) => !p.includes(':')))));
  }

  /**
   * The rule writes in the log, replayed over the rules as they stood before them: the rules after
   * each request, in order.
   */
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

  async function runsFor() {
    const runs = await targetRuns(t);
    const config = (target: Record<string, unknown>, extra: Record<string, unknown> = {}) => runs.config([{ resource: serverId('db-main'), select: ['LogicApps@westeurope'], maxRules: 20, ...target }] as never, { ownerId: OWNER, ...extra } as never);
    return { runs, config };
  }

  describe('the adapter', () => {
    it('reads every rule as a range, the server\'s public access, and only this owner\'s IPv4 rules as its own', async () => {
      const fw = await (await firewalls()).read(ref('db-owned'));
      expect(fw.ipRules.slice().sort()).toEqual(['0.0.0.0', '145.14.56.20-145.14.56.29', '52.8.0.1-52.8.0.7', '52.9.0.0-52.9.0.255']);
      expect(fw.ownedByName).toEqual(['52.8.0.1-52.8.0.7']);
      expect(fw.posture).toEqual({ defaultAction: 'Deny', publicNetworkAccess: 'Enabled' });
      expect(fw.findings).toEqual([expect.objectContaining({ code: 'RANGE_RULE_NAME_TAKEN', rules: ['TAGWALL-TEAM-A-2'] })]);
      expect((await log('db-owned')).map((r) => [r.method, r.status, r.apiVersion])).toEqual([
        ['GET', 200, row.apiVersion],
        ['GET', 200, row.apiVersion],
      ]);
    });

    it('writes one rule at a time: new ones numbered around taken names, then the dropped one deleted; everyone else\'s untouched', async () => {
      const target = await firewalls();
      const fw = await target.read(ref('db-owned'));
      await t.emulator.control.clearRequests();
      const after = await target.write(fw, { ipRules: ['0.0.0.0', '145.14.56.20-145.14.56.29', '52.9.0.0-52.9.0.255', '52.7.1.0-52.7.1.255', '52.7.9.9'] });
      const sent = (await writes('db-owned')).map((r) => [r.method, r.path.split('/firewallRules/')[1], r.status]);
      expect(sent).toEqual([
        ['PUT', 'tagwall-team-a-3', 202],
        ['PUT', 'tagwall-team-a-4', 202],
        ['DELETE', 'tagwall-team-a-1', 202],
      ]);
      expect(after.ownedByName?.slice().sort()).toEqual(['52.7.1.0-52.7.1.255', '52.7.9.9']);
      const stored = await storedRules('db-owned');
      expect(stored.map((r) => r.name).sort()).toEqual(['TAGWALL-TEAM-A-2', 'office', 'tagwall-team-a-3', 'tagwall-team-a-4', 'tagwall-team-b-1']);
      expect(stored).toContainEqual({ name: 'tagwall-team-a-4', start: '52.7.9.9', end: '52.7.9.9' });
    });

    it('refuses, sending nothing, a list that would drop someone else\'s rule or make tagwall own the 0.0.0.0 entry', async () => {
      const target = await firewalls();
      const fw = await target.read(ref('db-main'));
      await t.emulator.control.clearRequests();
      expect(await failure(target.write(fw, { ipRules: ['0.0.0.0', '52.7.1.0-52.7.1.255'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true, rules: ['145.14.56.20-145.14.56.29'] } });
      const open = await target.read(ref('db-tagged'));
      await t.emulator.control.clearRequests();
      expect(await failure(target.write({ ...open, opaque: { rules: [] } }, { ipRules: ['0.0.0.0'] }))).toMatchObject({ code: 'TARGET_FOREIGN_RULES', values: { notSent: true } });
      expect(await writes('db-main')).toEqual([]);
      expect(await writes('db-tagged')).toEqual([]);
    });

    it('a long-running rule write that ends Failed is TARGET_OPERATION_FAILED, and changed nothing', async () => {
      await t.reset({ vaults: [], resources: [{ id: serverId('db-main'), firewallRules: [OFFICE], emulatorOperation: { durationMs: 30, fail: { code: 'InternalServerError', message: 'An unexpected error occured while processing the request.' } } }] });
      const target = await firewalls();
      const e = await failure(target.write(await target.read(ref('db-main')), { ipRules: ['145.14.56.20-145.14.56.29', '52.7.1.0-52.7.1.255'] }));
      expect(e).toMatchObject({ code: 'TARGET_OPERATION_FAILED', values: { azureCode: 'InternalServerError' } });
      expect(await storedRules('db-main')).toEqual([{ name: 'office', start: '145.14.56.20', end: '145.14.56.29' }]);
    });
  });

  describe("the emulator's validation, through ARM", () => {
    it('refuses a start after its end, an IPv6 address and a name the kind does not take; nothing changes', async () => {
      const before = await storedRules('db-main');
      const put = (name: string, start: string, end: string) => personPut('db-main', rule(name, start, end));
      expect((await put('backwards', '52.1.1.9', '52.1.1.1')).status).toBe(400);
      expect((await put('v6', '2001:db8::1', '2001:db8::2')).status).toBe(400);
      expect((await put('bad.name', '52.1.1.1', '52.1.1.1')).status).toBe(400);
      expect(await storedRules('db-main')).toEqual(before);
      expect((await put('ok', '52.1.1.1', '52.1.1.1')).status).toBe(202);
    });
  });

  describe('sync', () => {
    it('first apply: fits the tag into 20 ranges beside the person\'s rule and the 0.0.0.0 entry, every address covered, nothing forbidden; the next run writes nothing', async () => {
      const { runs, config } = await runsFor();
      const report = await runs.sync(config({}));
      expect(report.vaults[0], JSON.stringify(report.vaults[0]!.error)).toMatchObject({ outcome: 'applied', rules: { limit: 20 } });
      const rules = await storedRules('db-main');
      expect(rules.length).toBeLessThanOrEqual(20);
      expect(rules).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
      expect(rules).toContainEqual({ name: AZURE.name, start: '0.0.0.0', end: '0.0.0.0' });
      expect(mine(rules).length).toBe(rules.length - 2);
      const wanted = await tagSpans('LogicApps.WestEurope');
      expect(size(minus(wanted, admitted(rules))), 'wanted addresses left out').toBe(0);
      expect(size(intersect(admitted(mine(rules)), [...FORBIDDEN_SPANS])), 'forbidden addresses allowed').toBe(0);
      expect(report.vaults[0]!.excessAddresses).toBe(size(minus(admitted(mine(rules)), wanted)));
      expect((await writes('db-main')).every((r) => r.method === 'PUT')).toBe(true);

      await t.emulator.control.clearRequests();
      const again = await runs.sync(config({}));
      expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
      expect((await log('db-main')).map((r) => r.method)).toEqual(['GET', 'GET']);
    });

    it('two installations on one server (owners team-a and team-b, their own state): each keeps its own tag covered, neither removes the other\'s rules, and both settle to zero writes', async () => {
      // Each installation has its own state folder, as two deployments would.
      const a = await targetRuns(t);
      const b = await targetRuns(t);
      const configA = a.config([{ resource: serverId('db-main'), select: ['LogicApps@westeurope'] }] as never, { ownerId: 'team-a' } as never);
      const configB = b.config([{ resource: serverId('db-main'), select: ['AzureDevOps'] }] as never, { ownerId: 'team-b' } as never);
      const teamB = (rules: readonly Stored[]) => rules.filter((r) => /^tagwall-team-b-\d+$/.test(r.name));
      const [logicApps, devOps] = [await tagSpans('LogicApps.WestEurope'), await tagSpans('AzureDevOps')];
      for (let round = 0; round < 2; round++) {
        for (const [runs, config] of [[a, configA], [b, configB]] as const) {
          const report = await runs.sync(config);
          expect(report.vaults[0]!.outcome, JSON.stringify(report.vaults[0])).toMatch(/^(applied|in-sync)$/);
          const rules = await storedRules('db-main');
          expect(rules).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
          expect(rules).toContainEqual({ name: AZURE.name, start: '0.0.0.0', end: '0.0.0.0' });
          // Whoever ran last, the other's tag is still covered by the other's own rules.
          if (mine(rules).length > 0) expect(size(minus(logicApps, admitted(mine(rules)))), 'LogicApps left out').toBe(0);
          if (teamB(rules).length > 0) expect(size(minus(devOps, admitted(teamB(rules)))), 'AzureDevOps left out').toBe(0);
        }
      }
      const rules = await storedRules('db-main');
      expect(mine(rules).length).toBeGreaterThan(0);
      expect(teamB(rules).length).toBeGreaterThan(0);
      await t.emulator.control.clearRequests();
      expect((await a.sync(configA)).vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
      expect((await b.sync(configB)).vaults[0]).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
      expect(await writes('db-main')).toEqual([]);
    });

    it('drift: a rule of tagwall\'s a person deleted is RULE_MISSING and comes back; the rule a person added is RULE_ADDED and stays, under its name', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({}));
      const victim = mine(await storedRules('db-main'))[0]!;
      expect((await personDelete('db-main', victim.name)).status).toBe(202);
      expect((await personPut('db-main', rule('vpn', '198.51.100.7', '198.51.100.7'))).status).toBe(202);
      const v = (await runs.sync(config({}))).vaults[0]!;
      expect(v.outcome).toBe('applied');
      expect(v.drift.map((d) => d.code).sort()).toEqual(['RULE_ADDED', 'RULE_MISSING']);
      expect(v.drift).toContainEqual(expect.objectContaining({ code: 'RULE_ADDED', rule: '198.51.100.7/32' }));
      const after = await storedRules('db-main');
      expect(after).toContainEqual({ name: 'vpn', start: '198.51.100.7', end: '198.51.100.7' });
      expect(after.map(spanOf)).toContainEqual(spanOf(victim));
      expect(after).toContainEqual({ name: 'office', start: '145.14.56.20', end: '145.14.56.29' });
    });

    it('refuses with zero writes when the rules a person keeps leave no room (BUDGET_EXHAUSTED), and skips a server whose public access is off', async () => {
      const { runs, config } = await runsFor();
      const report = await runs.sync(config({ maxRules: 1 }));
      expect(report.vaults[0]).toMatchObject({ outcome: 'refused', reasons: [expect.objectContaining({ code: 'BUDGET_EXHAUSTED' })] });
      const closed = await runs.sync(runs.config([{ resource: serverId('db-private'), select: ['AzureDevOps'] }], { ownerId: OWNER } as never));
      expect(closed.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PUBLIC_ACCESS_DISABLED' })] });
      expect(await writes('db-main')).toEqual([]);
      expect(await writes('db-private')).toEqual([]);
    });

    it('a change puts every new rule before it deletes any, so at every moment the firewall admits all that both the old and the new rules admit', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({ select: ['AzureDevOps'], maxRules: 30 }, LOOSE));
      const old = await storedRules('db-main');
      await t.emulator.control.clearRequests();
      // More source in the same 20 rules: the old ranges are merged differently, so some go and others come.
      const report = await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE));
      expect(report.vaults[0]!.outcome, JSON.stringify(report.vaults[0]!.reasons)).toBe('applied');
      const now = await storedRules('db-main');
      const entries = (await log('db-main')).filter((e) => /\/firewallRules\/[^/]+$/i.test(e.path) && e.method !== 'GET');
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

    it('a PUT failing part-way: the run fails (partial), the server holds only old or wanted rules and still admits old ∩ new; the next run finishes the change', async () => {
      const { runs, config } = await runsFor();
      await runs.sync(config({ select: ['AzureDevOps'], maxRules: 30 }, LOOSE));
      const old = await storedRules('db-main');
      await t.emulator.control.clearRequests();
      await t.emulator.control.addFault({ kind: 'respond', on: 'resources', method: 'PUT', resource: serverId('db-main'), skip: 1, status: 500, times: 4 });
      const failed = (await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE))).vaults[0]!;
      // A 500 (after the SDK's retries) may or may not have landed; part-way, the rules' names still say whose they are.
      expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'TARGET_SERVER_ERROR', message: expect.stringContaining('after 1 of') } });
      const puts = (await log('db-main')).filter((e) => e.method === 'PUT');
      expect(puts.map((e) => e.status)).toEqual([202, 500, 500, 500, 500]);
      expect((await log('db-main')).filter((e) => e.method === 'DELETE')).toEqual([]);
      const between = await storedRules('db-main');

      const done = (await runs.sync(config({ select: ['AzureDevOps', 'LogicApps@westeurope'], maxRules: 30 }, LOOSE))).vaults[0]!;
      expect(done.outcome, JSON.stringify([done.reasons, done.findings.map((f) => f.code)])).toBe('applied');
      const wanted = await storedRules('db-main');
      const key = (r: Stored) => `${r.start}-${r.end}`;
      const oldOrWanted = new Set([...old, ...wanted].map(key));
      expect(between.filter((r) => !oldOrWanted.has(key(r)))).toEqual([]);
      expect(size(minus(intersect(admitted(old), admitted(wanted)), admitted(between)))).toBe(0);
    });

    it('finds a tagged server through Resource Graph and reads its rules directly (graph: tags)', async () => {
      const runs = await targetRuns(t);
      const report = await runs.sync(runs.config([], { ownerId: OWNER, profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0 } } as never));
      const v = report.vaults.find((r) => r.vault.toLowerCase() === serverId('db-tagged').toLowerCase());
      expect(v, JSON.stringify(report.vaults.map((r) => r.vault))).toMatchObject({ outcome: 'applied' });
      const rules = await storedRules('db-tagged');
      expect(rules).toContainEqual({ name: AZURE.name, start: '0.0.0.0', end: '0.0.0.0' });
      expect(size(minus(await tagSpans('AzureDevOps'), admitted(rules)))).toBe(0);
      expect(rules.length).toBeLessThanOrEqual(FIREWALL_KINDS.find((k) => k.kind === row.kind)!.maxRules);
    });
  });
});
