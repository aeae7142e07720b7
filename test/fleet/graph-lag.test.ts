import { describe, expect, it } from 'vitest';
import type { SeedVault } from '../../src/emulator/model.js';
import { normaliseRule } from '../../src/core/rules.js';
import { vaultId, type TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';

/**
 * Resource Graph lagging a person's edit, end to end: the emulator's Resource Graph answers with
 * each vault as it was `graphLagMs` ago, the real SDK clients, runSync with file state. A row that
 * lags must never be recorded for a direct read it does not describe, or a later return of the
 * firewall to the row's state (here an owned rule removed again) is judged in sync from the row.
 */

const SUB = '1a1a1a1a-0000-4000-8000-00000000000a';
const NAME = 'kv-lagged';
const LAG_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let emu: TestEmulator;
let runs: TargetRuns;
useTargetRuns((e, r) => {
  emu = e;
  runs = r;
});

async function rulesOf(): Promise<string[]> {
  const v = await emu.sdk(SUB).vaults.get('rg-fleet', NAME);
  return (v.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

/** A person's edit through ARM: the vault's networkAcls with these IP rules, the rest as it was. */
async function setRules(rules: readonly string[]): Promise<void> {
  const v = await emu.sdk(SUB).vaults.get('rg-fleet', NAME);
  await emu.sdk(SUB).vaults.update('rg-fleet', NAME, { properties: { networkAcls: { ...v.properties.networkAcls, ipRules: rules.map((value) => ({ value })) } } });
}

describe('a Resource Graph row that lags a hand edit', () => {
  it('is not recorded for the direct read, so removing an owned rule later is found as drift, not judged in sync', async () => {
    const seed: SeedVault = { id: vaultId(NAME, SUB, 'rg-fleet'), tags: { tagwall: 'devops' }, networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] } };
    await emu.reset({ vaults: [seed] });
    // tagwall's own lag (0.6 s) is shorter than the emulator's, so only the hand edits are in its window.
    const config = runs.config([], { profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0.01 } });
    try {
      expect((await runs.sync(config)).vaults[0]).toMatchObject({ outcome: 'applied' });
      const owned = await rulesOf();
      expect(owned.length).toBeGreaterThan(1);
      const removed = owned[0]!;
      await emu.emulator.control.updateSettings({ graphLagMs: LAG_MS });

      // A person removes one of tagwall's rules; Resource Graph catches up with that.
      await setRules(owned.slice(1));
      await sleep(LAG_MS + 300);
      // They put it back; Resource Graph still shows it removed while tagwall reads the vault directly.
      await setRules(owned);
      const readDirectly = await runs.sync(config);
      expect(readDirectly.vaults[0]).toMatchObject({ outcome: 'in-sync' });
      expect(readDirectly.vaults[0]!.checkedBy).toBeUndefined();

      // The rule is removed again, and Resource Graph shows exactly what it showed before.
      await setRules(owned.slice(1));
      await sleep(LAG_MS + 300);
      await emu.emulator.control.resetStats();
      const drift = await runs.sync(config, { dryRun: true });
      expect(drift.vaults[0]!.checkedBy).toBeUndefined();
      expect(drift.vaults[0]).toMatchObject({ outcome: 'pending', add: [normaliseRule(removed).key] });
      expect(drift.vaults[0]!.drift.length).toBeGreaterThan(0);
      const stats = await emu.emulator.control.stats();
      expect(stats.byRoute['GET vault']).toBe(1);

      expect((await runs.sync(config)).vaults[0]).toMatchObject({ outcome: 'applied' });
      expect(new Set((await rulesOf()).map((r) => normaliseRule(r).key))).toEqual(new Set(owned.map((r) => normaliseRule(r).key)));
    } finally {
      await emu.emulator.control.updateSettings({ graphLagMs: 0 });
    }
  });
});
