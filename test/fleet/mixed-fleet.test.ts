import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/run/run.js';
import type { TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';

/**
 * A mixed fleet from the emulator's fleet seed (Key Vaults, Storage accounts, Azure SQL servers,
 * AKS clusters, container apps, taken in turn), found by tag through Resource Graph and synced
 * through each kind's real SDK. AKS and container apps keep their rules in the resource's body,
 * which Resource Graph describes, so an unchanged one is settled from its row; a SQL server's
 * rules are a child Resource Graph does not see (graph: 'tags'), so it is read on every run.
 */

const KINDS = ['keyvault', 'storage', 'sql', 'aks', 'containerapp'];
const TYPE_OF: Readonly<Record<string, string>> = {
  keyvault: 'microsoft.keyvault/vaults',
  storage: 'microsoft.storage/storageaccounts',
  sql: 'microsoft.sql/servers',
  aks: 'microsoft.containerservice/managedclusters',
  containerapp: 'microsoft.app/containerapps',
};

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
  it('seeds every kind in turn, protects each tagged one through its own SDK, never reads the untagged; then Resource Graph settles all but the SQL servers, which are read directly', async () => {
    await emu.reset({ vaults: [] });
    const fleet = await emu.emulator.control.seedFleet({ subscriptions: 2, vaults: 10, kinds: KINDS, rules: 3, untagged: 5, tag: { name: 'tagwall', values: ['devops'] } });
    const tagged = fleet.ids.slice(0, 10);
    const untagged = fleet.ids.slice(10);
    // Two of each kind tagged, and every kind among the untagged.
    for (const kind of KINDS) expect(tagged.filter((id) => typeOf(id) === TYPE_OF[kind]).length, kind).toBe(2);
    expect(new Set(untagged.map(typeOf)).size).toBe(5);

    const config = runs.config([], { ownerId: 'fleet', profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0, scope: { subscriptions: fleet.subscriptions } } } as never);
    await emu.emulator.control.clearRequests();
    const first = await runs.sync(config);
    const outcome = (report: RunReport) => Object.fromEntries(report.vaults.map((v) => [v.vault.toLowerCase(), v]));
    const firstBy = outcome(first);
    for (const id of tagged) expect(firstBy[id.toLowerCase()], `${id}: ${JSON.stringify(firstBy[id.toLowerCase()]?.error ?? firstBy[id.toLowerCase()]?.reasons)}`).toMatchObject({ outcome: 'applied' });
    expect(first.vaults).toHaveLength(10);
    const log = await emu.emulator.control.requests({ kind: 'arm' });
    for (const id of untagged) expect(log.filter((r) => r.path.toLowerCase().includes(id.toLowerCase())), id).toEqual([]);

    // The run after a write reads each firewall once more to confirm its row; the one after settles from Resource Graph.
    await runs.sync(config);
    await emu.emulator.control.clearRequests();
    const steady = await runs.sync(config);
    const steadyLog = await emu.emulator.control.requests({ kind: 'arm' });
    for (const v of steady.vaults) {
      const kind = typeOf(v.vault);
      expect(v.outcome, v.vault).toBe('in-sync');
      const reads = steadyLog.filter((r) => r.path.toLowerCase().includes(v.vault.toLowerCase()));
      if (kind === TYPE_OF['sql']) {
        expect(v.checkedBy, v.vault).toBeUndefined();
        // The server and its rule list, and nothing written.
        expect(reads.map((r) => r.method), v.vault).toEqual(['GET', 'GET']);
      } else {
        expect(v.checkedBy, v.vault).toBe('resource-graph');
        expect(reads, v.vault).toEqual([]);
      }
    }
  });
});
