import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { readRow } from '../../src/fleet/discovery.js';
import { fleetQuery } from '../../src/fleet/graph-query.js';
import { rowDescribes } from '../../src/fleet/judge.js';
import { FIREWALL_KINDS, kindOfType } from '../../src/targets/kinds.js';
import { FAST_RETRY, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

/**
 * Each kind's Resource Graph paths (its facts' graphPaths), end to end: one tagged firewall of
 * every discoverable kind in the emulator, each with values no other kind's path holds, queried
 * together through the emulated Resource Graph. Every row must carry its own kind's rules and
 * posture as the test seeded them, and agree with a direct read through the kind's adapter.
 */

const GRAPH = '/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01';
const idOf = (type: string, name: string) => `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${type}/${name}`;

/** What the test seeded, per kind: the rule values and posture the row must show ('' where the kind has no such field). */
interface Seeded {
  readonly id: string;
  readonly rules: readonly string[] | null;
  readonly defaultAction: string;
  readonly bypass: string;
  readonly publicNetworkAccess: string;
}

const SEEDED: Record<string, Seeded> = {
  keyvault: { id: vaultId('kv-paths'), rules: ['52.1.2.0/24', '20.38.64.0/19'], defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' },
  storage: { id: idOf('Microsoft.Storage/storageAccounts', 'stpaths'), rules: ['52.1.3.0/24'], defaultAction: 'Deny', bypass: 'Logging, Metrics', publicNetworkAccess: 'Enabled' },
  cognitiveservices: { id: idOf('Microsoft.CognitiveServices/accounts', 'ai-paths'), rules: ['52.1.4.0/24', '52.1.5.0/24', '52.1.6.0/24'], defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
  containerregistry: { id: idOf('Microsoft.ContainerRegistry/registries', 'crpaths'), rules: ['52.1.7.4'], defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' },
  cosmosdb: { id: idOf('Microsoft.DocumentDB/databaseAccounts', 'cosmos-paths'), rules: ['52.1.8.0/24', '52.1.9.9'], defaultAction: '', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
  search: { id: idOf('Microsoft.Search/searchServices', 'srch-paths'), rules: ['52.1.10.0/24'], defaultAction: '', bypass: 'AzureServices', publicNetworkAccess: 'enabled' },
  // Bare strings, not objects: the row's rules are the values themselves.
  aks: { id: idOf('Microsoft.ContainerService/managedClusters', 'aks-paths'), rules: ['52.1.11.0/24', '52.1.12.7/32'], defaultAction: '', bypass: '', publicNetworkAccess: 'Enabled' },
  // Its rules live in a child resource Resource Graph does not describe.
  eventhub: { id: idOf('Microsoft.EventHub/namespaces', 'eh-paths'), rules: null, defaultAction: '', bypass: '', publicNetworkAccess: '' },
  // Its rules are firewallRules, child resources Resource Graph does not describe.
  sql: { id: idOf('Microsoft.Sql/servers', 'sql-paths'), rules: null, defaultAction: '', bypass: '', publicNetworkAccess: '' },
};

const tags = { tagwall: 'devops' };
let t: TestEmulator;
useTestEmulator((started) => (t = started), (): EmulatorSeed => ({
  vaults: [{ id: SEEDED.keyvault!.id, tags, publicNetworkAccess: 'Enabled', networkAcls: { defaultAction: 'Deny', bypass: 'None', ipRules: SEEDED.keyvault!.rules!.map((value) => ({ value })) } }],
  resources: [
    { id: SEEDED.storage!.id, tags, location: 'westeurope', properties: { publicNetworkAccess: 'Enabled', networkAcls: { defaultAction: 'Deny', bypass: 'Logging, Metrics', ipRules: SEEDED.storage!.rules!.map((value) => ({ value, action: 'Allow' })) } } },
    { id: SEEDED.cognitiveservices!.id, tags, kind: 'OpenAI', properties: { publicNetworkAccess: 'Enabled', networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: SEEDED.cognitiveservices!.rules!.map((value) => ({ value })) } } },
    { id: SEEDED.containerregistry!.id, tags, sku: { name: 'Premium' }, properties: { publicNetworkAccess: 'Enabled', networkRuleBypassOptions: 'None', networkRuleSet: { defaultAction: 'Deny', ipRules: SEEDED.containerregistry!.rules!.map((value) => ({ action: 'Allow', value })) } } },
    { id: SEEDED.cosmosdb!.id, tags, properties: { publicNetworkAccess: 'Enabled', networkAclBypass: 'AzureServices', ipRules: SEEDED.cosmosdb!.rules!.map((ipAddressOrRange) => ({ ipAddressOrRange })) } },
    { id: SEEDED.search!.id, tags, sku: { name: 'standard' }, properties: { publicNetworkAccess: 'enabled', networkRuleSet: { bypass: 'AzureServices', ipRules: SEEDED.search!.rules!.map((value) => ({ value })) } } },
    { id: SEEDED.aks!.id, tags, properties: { publicNetworkAccess: 'Enabled', apiServerAccessProfile: { authorizedIPRanges: SEEDED.aks!.rules } } },
    { id: SEEDED.eventhub!.id, tags, sku: { name: 'Standard' } },
    { id: SEEDED.sql!.id, tags, firewallRules: [{ name: 'office', startIpAddress: '52.1.11.1', endIpAddress: '52.1.11.9' }] },
  ],
}));

async function rows(digest: boolean) {
  const types = FIREWALL_KINDS.filter((k) => k.graph !== undefined).map((k) => k.resourceType);
  const r = await t.fetch('POST', GRAPH, { body: { query: fleetQuery({ types, tag: 'tagwall', digest }) } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return (r.json.data as Record<string, unknown>[]).map(readRow);
}

describe("the fleet query reads each kind at its own paths", () => {
  it('gives every row its own kind’s rules and posture, as seeded, in one query over every kind', async () => {
    const found = await rows(false);
    expect(found.map((r) => kindOfType(r.type)!.kind).sort()).toEqual(Object.keys(SEEDED).sort());
    for (const row of found) {
      const seeded = SEEDED[kindOfType(row.type)!.kind]!;
      expect({ id: row.id.toLowerCase(), rules: row.rules ?? null, ruleCount: row.ruleCount ?? null, defaultAction: row.defaultAction ?? '', bypass: row.bypass ?? '', publicNetworkAccess: row.publicNetworkAccess ?? '' }, row.type).toEqual({
        id: seeded.id.toLowerCase(),
        rules: seeded.rules,
        ruleCount: seeded.rules?.length ?? null,
        defaultAction: seeded.defaultAction,
        bypass: seeded.bypass,
        publicNetworkAccess: seeded.publicNetworkAccess,
      });
    }
  });

  it('agrees with a direct read of every kind in step, with rules and with digests', async () => {
    for (const digest of [false, true]) {
      for (const row of await rows(digest)) {
        const kind = kindOfType(row.type)!;
        if (kind.graph !== 'rules') continue;
        const target = (await kind.load())({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
        const fw = await target.read(parseResourceId(row.id));
        expect(rowDescribes(kind, row, { ipRules: fw.ipRules, virtualNetworkRuleCount: fw.virtualNetworkRuleCount, posture: fw.posture }), `${kind.kind}, digest ${digest}`).toBe(true);
        // One rule fewer, or another bypass, is a read the row does not describe.
        expect(rowDescribes(kind, row, { ipRules: fw.ipRules.slice(1), virtualNetworkRuleCount: 0, posture: fw.posture }), kind.kind).toBe(false);
        // Another value of a posture field the kind keeps where Resource Graph sees it (AKS keeps no bypass).
        const field = (['bypass', 'publicNetworkAccess', 'defaultAction'] as const).find((f) => kind.graphPaths?.[f] !== undefined)!;
        expect(rowDescribes(kind, row, { ipRules: fw.ipRules, virtualNetworkRuleCount: 0, posture: { ...fw.posture, [field]: 'Something' } }), kind.kind).toBe(false);
      }
    }
  });
});
