import { createHash } from 'node:crypto';
import { getClient } from '@azure-rest/core-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { forbiddenOverlap } from '../../src/core/forbidden.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { GRAPH_API_VERSION } from '../../src/fleet/graph-client.js';
import { fleetQuery, subscriptionsQuery } from '../../src/fleet/graph-query.js';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { sharedTestCertificates } from '../global-setup.js';
import { startTestEmulator, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

/** The emulated Resource Graph, through the real Azure REST client (as tagwall sends it) and raw HTTPS. */

const GRAPH = '/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01';
const OTHER_SUBSCRIPTION = '11111111-1111-4111-8111-111111111111';
const KV = ['Microsoft.KeyVault/vaults'];

let t: TestEmulator;

useTestEmulator((started) => (t = started), (): EmulatorSeed => ({
  vaults: [
    { id: vaultId('kv-tagged'), tags: { TagWall: 'DevOps-WEU' }, networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '52.1.2.0/24' }, { value: '20.38.64.0/19' }] } },
    { id: vaultId('kv-other-tag'), tags: { owner: 'tagwall' }, networkAcls: { ipRules: [{ value: '52.1.2.3' }] } },
    { id: vaultId('kv-untagged') },
    { id: vaultId('kv-elsewhere', OTHER_SUBSCRIPTION), tags: { tagwall: 'logic' } },
  ],
}));

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function query(body: Record<string, unknown>, token?: string | null) {
  return t.fetch('POST', GRAPH, { body, ...(token === undefined ? {} : { token }) });
}

async function rows(q: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
  const r = await query({ query: q, ...extra });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json.data;
}

describe('Resource Graph queries', () => {
  it('page 2,500 tagged vaults through the real client, 1,000 at a time, each ID once and in order; untagged vaults never appear', async () => {
    // No TLS options given: the client trusts the run's CA through NODE_EXTRA_CA_CERTS.
    const own = await startTestEmulator({ certificates: await sharedTestCertificates() });
    onTestFinished(() => own.close());
    const fleet = await own.emulator.control.seedFleet({ subscriptions: 7, vaults: 2500, untagged: 40, rules: 4, tag: { name: 'tagwall', values: ['devops', 'logic-weu'] } });
    expect(fleet.ids).toHaveLength(2540);
    const client = getClient(own.emulator.url, own.credential, { credentials: { scopes: [`${own.emulator.url}/.default`] }, apiVersion: GRAPH_API_VERSION });
    const seen: string[] = [];
    const pages: number[] = [];
    let skipToken: string | undefined;
    do {
      const answer = await client.path('/providers/Microsoft.ResourceGraph/resources').post({
        body: { query: fleetQuery({ types: KV, tag: 'tagwall', digest: true }), options: { $top: 1000, resultFormat: 'objectArray', ...(skipToken === undefined ? {} : { $skipToken: skipToken }) } },
      });
      expect(answer.status).toBe('200');
      const page = answer.body as { totalRecords: number; count: number; data: unknown; $skipToken?: string };
      expect(page.totalRecords).toBe(2500);
      pages.push(page.count);
      seen.push(...(page.data as { id: string }[]).map((r) => r.id));
      skipToken = page.$skipToken;
    } while (skipToken !== undefined);
    expect(pages).toEqual([1000, 1000, 500]);
    const tagged = fleet.ids.slice(0, 2500);
    expect(seen).toEqual([...tagged].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(seen).size).toBe(2500);
    expect(seen.some((id) => /kvu/.test(id))).toBe(false);
    expect(own.credential.requests.length).toBeGreaterThan(0);
    expect((await own.emulator.control.stats()).byRoute['POST graph']).toBe(3);
  });

  it('match the tag key in any case, return its value as written, and digest the rules as the compact JSON of the array', async () => {
    const found = await rows(fleetQuery({ types: KV, tag: 'tagwall', digest: true }), { subscriptions: [TEST_SUBSCRIPTION] });
    expect(found).toHaveLength(1);
    const vault = await t.emulator.control.vault('kv-tagged');
    const rules = vault!.properties.networkAcls!.ipRules;
    expect(found[0]).toEqual({
      id: vaultId('kv-tagged'),
      type: 'microsoft.keyvault/vaults',
      subscriptionId: TEST_SUBSCRIPTION,
      profile: 'DevOps-WEU',
      defaultAction: 'Deny',
      bypass: 'AzureServices',
      publicNetworkAccess: 'Enabled',
      ruleCount: 2,
      digest: sha256(JSON.stringify(rules)),
    });
    await t.emulator.control.addRule('kv-tagged', '40.74.0.0/15');
    const [after] = await rows(fleetQuery({ types: KV, tag: 'tagwall', digest: true }), { subscriptions: [TEST_SUBSCRIPTION] });
    const newRules = (await t.emulator.control.vault('kv-tagged'))!.properties.networkAcls!.ipRules;
    expect(after!['digest']).not.toBe(found[0]!['digest']);
    expect(after).toMatchObject({ ruleCount: 3, digest: sha256(JSON.stringify(newRules)) });
    const [plain] = await rows(fleetQuery({ types: KV, tag: 'TAGWALL', digest: false }), { subscriptions: [TEST_SUBSCRIPTION] });
    expect(plain!['rules']).toEqual(newRules);
  });

  it('narrow by id in~, in any case of the ID', async () => {
    const q = fleetQuery({ types: KV, tag: 'tagwall', digest: true, ids: [vaultId('KV-ELSEWHERE', OTHER_SUBSCRIPTION).toUpperCase()] });
    const found = await rows(q);
    expect(found.map((r) => r['id'])).toEqual([vaultId('kv-elsewhere', OTHER_SUBSCRIPTION)]);
    expect(found[0]).toMatchObject({ profile: 'logic', ruleCount: null, defaultAction: '' });
  });

  it('leave out a subscription the identity may not read, which also answers ARM with 403', async () => {
    expect((await rows(fleetQuery({ types: KV, tag: 'tagwall', digest: true }))).map((r) => r['subscriptionId'])).toEqual([TEST_SUBSCRIPTION, OTHER_SUBSCRIPTION]);
    await t.emulator.control.setSubscriptionReadable(OTHER_SUBSCRIPTION, false);
    const scoped = await rows(fleetQuery({ types: KV, tag: 'tagwall', digest: true }), { subscriptions: [OTHER_SUBSCRIPTION, TEST_SUBSCRIPTION] });
    expect(scoped.map((r) => r['subscriptionId'])).toEqual([TEST_SUBSCRIPTION]);
    expect((await rows(subscriptionsQuery())).map((r) => r['subscriptionId'])).toEqual([TEST_SUBSCRIPTION]);
    const arm = await t.fetch('GET', `/subscriptions/${OTHER_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.KeyVault/vaults/kv-elsewhere?api-version=2025-05-01`);
    expect(arm).toMatchObject({ status: 403, json: { error: { code: 'AuthorizationFailed' } } });
  });

  it('scope by management group; an unknown or unreadable one is 403 AuthorizationFailed', async () => {
    await t.emulator.control.setManagementGroup({ name: 'mg-platform', subscriptions: [OTHER_SUBSCRIPTION] });
    await t.emulator.control.setManagementGroup({ name: 'mg-secret', subscriptions: [TEST_SUBSCRIPTION], readable: false });
    const found = await rows(subscriptionsQuery(), { managementGroups: ['mg-platform'] });
    expect(found).toEqual([{ subscriptionId: OTHER_SUBSCRIPTION }]);
    for (const mg of ['mg-nowhere', 'mg-secret']) {
      const r = await query({ query: subscriptionsQuery(), managementGroups: [mg] });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('AuthorizationFailed');
      expect(r.json.error.message).toContain(`'/providers/Microsoft.Management/managementGroups/${mg}'`);
    }
  });

  it('refuse what the emulator does not understand with InvalidQuery, naming it and where', async () => {
    const cases: [string, string, number, number][] = [
      ['resources\n| summarize count()', 'UnsupportedOperator', 2, 2],
      ["resources | project d = hash_md5(tostring(properties))", 'UnsupportedFunction', 1, 24],
      ["resources | where type =~ 'x' and", 'ParserFailure', 1, 33],
      ['resources | project idd', 'SemanticError', 1, 0],
      ["resources | where name == 'a' | project id | where name == 'a'", 'SemanticError', 1, 0],
      ['securityresources', 'SemanticError', 1, 0],
    ];
    for (const [q, code, line, position] of cases) {
      const r = await query({ query: q });
      expect(r.status, q).toBe(400);
      expect(r.json.error.code).toBe('BadRequest');
      expect(r.json.error.details[0].code).toBe('InvalidQuery');
      expect(r.json.error.details[1], q).toMatchObject({ code, line, characterPositionInLine: position });
    }
    expect((await query({ query: 'resources', options: { $top: 1001 } })).status).toBe(400);
    expect((await query({ query: 'resources', options: { resultFormat: 'table' } })).status).toBe(400);
  });

  it('evaluate case() as KQL does (the first true predicate picks, a null one is not true, else the last) and dynamic() of a scalar', async () => {
    const q = "resources | where type =~ 'microsoft.keyvault/vaults' | project name, c = case(tags.TagWall =~ 'devops-weu', 'first', name == 'kv-untagged', 'second', 'else'), n = dynamic(null), s = tostring(dynamic('x')) | order by name asc";
    expect(await rows(q, { subscriptions: [TEST_SUBSCRIPTION] })).toEqual([
      { name: 'kv-other-tag', c: 'else', n: null, s: 'x' },
      { name: 'kv-tagged', c: 'first', n: null, s: 'x' },
      { name: 'kv-untagged', c: 'second', n: null, s: 'x' },
    ]);
    for (const [bad, code] of [["resources | project c = case(name == 'a', 1)", 'SemanticError'], ['resources | project d = dynamic([1])', 'UnsupportedFunction']] as const) {
      const r = await query({ query: bad });
      expect(r.status, bad).toBe(400);
      expect(r.json.error.details[1], bad).toMatchObject({ code });
    }
  });

  it('bind a skip token to its query and scope', async () => {
    const first = await query({ query: 'resources | order by id asc', options: { $top: 1 } });
    expect(first.json).toMatchObject({ totalRecords: 4, count: 1, resultTruncated: 'false' });
    const token = first.json.$skipToken as string;
    const next = await query({ query: 'resources | order by id asc', options: { $top: 2, $skipToken: token } });
    expect(next.json.data.map((r: { id: string }) => r.id)).toHaveLength(2);
    expect((await query({ query: 'resources | order by name asc', options: { $skipToken: token } })).status).toBe(400);
    expect((await query({ query: 'resources | order by id asc', subscriptions: [TEST_SUBSCRIPTION], options: { $skipToken: token } })).status).toBe(400);
  });

  it('show a write only once the lag has passed, and a new vault not before', async () => {
    await t.emulator.control.updateSettings({ graphLagMs: 600 });
    const q = fleetQuery({ types: KV, tag: 'tagwall', digest: false });
    // The seed itself was written a moment ago: within the lag, Resource Graph does not have it yet.
    expect(await rows(q)).toEqual([]);
    await sleep(700);
    expect((await rows(q)).map((r) => r['ruleCount'])).toEqual([2, null]);
    await t.emulator.control.addRule('kv-tagged', '40.74.0.0/15');
    expect((await rows(q)).map((r) => r['ruleCount'])).toEqual([2, null]);
    await sleep(700);
    expect((await rows(q)).map((r) => r['ruleCount'])).toEqual([3, null]);
  });

  it('count the quota down, refuse the 16th query in the window with 429 RateLimiting, and count every answer', async () => {
    const remaining: string[] = [];
    let bytes = 0;
    for (let i = 0; i < 15; i += 1) {
      const r = await query({ query: 'resources | take 1' });
      expect(r.status).toBe(200);
      remaining.push(String(r.headers['x-ms-user-quota-remaining']));
      expect(String(r.headers['x-ms-user-quota-resets-after'])).toMatch(/^00:00:0[0-5]$/);
      bytes += Number(r.headers['content-length']);
    }
    expect(remaining).toEqual(['14', '13', '12', '11', '10', '9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
    const refused = await query({ query: 'resources | take 1' });
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('RateLimiting');
    expect(refused.json.error.message).toContain('https://aka.ms/resourcegraph-throttling');
    expect(refused.headers['x-ms-user-quota-remaining']).toBe('0');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(5);
    const stats = await t.emulator.control.stats();
    expect(stats.byRoute['POST graph']).toBe(16);
    expect(stats.byStatus['429']).toBe(1);
    expect(stats.graphBytes).toBe(bytes);
  });

  it('answer injected 429s, then as usual; and 401 without a token', async () => {
    await t.emulator.control.throttleGraph(2);
    for (let i = 0; i < 2; i += 1) {
      const r = await query({ query: 'resources' });
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
    }
    expect((await query({ query: 'resources' })).status).toBe(200);
    expect((await query({ query: 'resources' }, null)).status).toBe(401);
  });

  it('list the fleet subscriptions from resourcecontainers, ordered', async () => {
    await t.reset({ vaults: [] });
    const fleet = await t.emulator.control.seedFleet({ subscriptions: 3, vaults: 6, subscriptionIdPrefix: 'ab' });
    for (const s of fleet.subscriptions) expect(s).toMatch(/^ab[0-9a-f]{6}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await rows(subscriptionsQuery())).map((r) => r['subscriptionId'])).toEqual([...fleet.subscriptions].sort());
  });

  it('seed the same fleet twice alike, with public rules only and untagged vaults carrying no tag', async () => {
    const request = { subscriptions: 4, vaults: 40, untagged: 5, rules: 30, tag: { name: 'tagwall', values: ['a', 'b', 'c'] } };
    const digests = async () => rows(fleetQuery({ types: KV, tag: 'tagwall', digest: true }), { options: { $top: 1000 } });
    await t.reset({ vaults: [] });
    const first = await t.emulator.control.seedFleet(request);
    const before = await digests();
    const vaults = await t.emulator.control.vaults();
    await t.reset({ vaults: [] });
    const second = await t.emulator.control.seedFleet(request);
    expect(second).toEqual(first);
    expect(await digests()).toEqual(before);
    expect(before.map((r) => r['profile'])).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(new Set(before.map((r) => r['digest'])).size).toBe(40);
    for (const v of vaults) {
      expect(Object.keys(v.tags)).toEqual(v.name.startsWith('kvu') ? [] : ['tagwall']);
      for (const { value } of v.properties.networkAcls!.ipRules) expect(forbiddenOverlap(parseCidr(value)), value).toBeUndefined();
    }
  });
});
