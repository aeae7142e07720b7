import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/run/run.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';
import type { TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';

/**
 * A mixed fleet from the emulator's fleet seed (Key Vaults, Storage accounts, Azure SQL servers,
 * AKS clusters, container apps, PostgreSQL and MySQL flexible servers, Synapse workspaces, Redis
 * caches, taken in turn), found by tag through Resource Graph and synced through each kind's real
 * SDK. AKS and container apps keep their rules in the resource's body, which Resource Graph
 * describes, so an unchanged one is settled from its row; the start/end kinds keep theirs in a
 * child Resource Graph does not see (graph: 'tags'), so each is read on every run.
 */

const KINDS = ['keyvault', 'storage', 'sql', 'aks', 'containerapp', 'postgresql-flexible', 'mysql-flexible', 'synapse', 'redis'];
const TYPE_OF: Readonly<Record<string, string>> = {
  keyvault: 'microsoft.keyvault/vaults',
  storage: 'microsoft.storage/storageaccounts',
  sql: 'microsoft.sql/servers',
  aks: 'microsoft.containerservice/managedclusters',
  containerapp: 'microsoft.app/containerapps',
  'postgresql-flexible': 'microsoft.dbforpostgresql/flexibleservers',
  'mysql-flexible': 'microsoft.dbformysql/flexibleservers',
  synapse: 'microsoft.synapse/workspaces',
  redis: 'microsoft.cache/redis',
};
/** Read directly every run: the kinds whose rules Resource Graph does not describe. */
const READ_EVERY_RUN = new Set(['sql', 'postgresql-flexible', 'mysql-flexible', 'synapse', 'redis'].map((k) => TYPE_OF[k]));
const TAGGED = 2 * KINDS.length;

let emu: TestEmulator;
let runs: TargetRuns;
useTargetRuns((e, r) => {
  emu = e;
  runs = r;
});

const typeOf = (id: string) => {
  const m = /\/providers\/([^/]+\/[^/]+)\//i.exec(id);
  return m![1]!.toLowerCase();
};

describe('a mixed fleet found by tag', () => {
  it('seeds every kind in turn, protects each tagged one through its own SDK, never reads the untagged; then Resource Graph settles all but the start/end kinds, which are read directly', async () => {
    await emu.reset({ vaults: [] });
    const fleet = await emu.emulator.control.seedFleet({ subscriptions: 2, vaults: TAGGED, kinds: KINDS, rules: 3, untagged: KINDS.length, tag: { name: 'tagwall', values: ['devops'] } });
    const tagged = fleet.ids.slice(0, TAGGED);
    const untagged = fleet.ids.slice(TAGGED);
    // Two of each kind tagged, and every kind among the untagged.
    for (const kind of KINDS) expect(tagged.filter((id) => typeOf(id) === TYPE_OF[kind]).length, kind).toBe(2);
    expect(new Set(untagged.map(typeOf)).size).toBe(KINDS.length);

    const config = runs.config([], { ownerId: 'fleet', profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0, scope: { subscriptions: fleet.subscriptions } } } as never);
    await emu.emulator.control.clearRequests();
    const first = await runs.sync(config);
    const outcome = (report: RunReport) => Object.fromEntries(report.vaults.map((v) => [v.vault.toLowerCase(), v]));
    const firstBy = outcome(first);
    for (const id of tagged) expect(firstBy[id.toLowerCase()], `${id}: ${JSON.stringify(firstBy[id.toLowerCase()]?.error ?? firstBy[id.toLowerCase()]?.reasons)}`).toMatchObject({ outcome: 'applied' });
    expect(first.vaults).toHaveLength(TAGGED);
    const log = await emu.emulator.control.requests({ kind: 'arm' });
    for (const id of untagged) expect(log.filter((r) => r.path.toLowerCase().includes(id.toLowerCase())), id).toEqual([]);
    // Each start/end firewall keeps the seed's rules (its Azure-services entry and a person's rule-1) beside tagwall's own.
    for (const id of tagged.filter((i) => READ_EVERY_RUN.has(typeOf(i)))) {
      const kind = FIREWALL_KINDS.find((k) => k.resourceType.toLowerCase() === typeOf(id))!;
      const names = ((await emu.fetch('GET', `${id}/firewallRules?api-version=${kind.apiVersion}`)).json.value as { name: string }[]).map((r) => r.name.split('/').pop()!);
      expect(names.filter((n) => /^rule[-_]1$|^AllowAll/.test(n)).length, `${id}: ${names.join()}`).toBe(kind.kind === 'redis' ? 1 : 2);
      expect(names.some((n) => /^tagwall[-_]fleet[-_]1$/.test(n)), `${id}: ${names.join()}`).toBe(true);
    }

    // The run after a write reads each firewall once more to confirm its row; the one after settles from Resource Graph.
    await runs.sync(config);
    await emu.emulator.control.clearRequests();
    const steady = await runs.sync(config);
    const steadyLog = await emu.emulator.control.requests({ kind: 'arm' });
    expect(steady.vaults).toHaveLength(TAGGED);
    for (const v of steady.vaults) {
      const kind = typeOf(v.vault);
      expect(v.outcome, v.vault).toBe('in-sync');
      const reads = steadyLog.filter((r) => r.path.toLowerCase().includes(v.vault.toLowerCase()));
      if (READ_EVERY_RUN.has(kind)) {
        expect(v.checkedBy, v.vault).toBeUndefined();
        // The resource (its public access) and its rule list, and nothing written.
        expect(reads.map((r) => r.method), v.vault).toEqual(['GET', 'GET']);
      } else {
        expect(v.checkedBy, v.vault).toBe('resource-graph');
        expect(reads, v.vault).toEqual([]);
      }
    }
  });
});
