import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { reconcile } from '../../src/run/reconcile.js';
import { BlobStore } from '../../src/state/blob-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { seedVault, startTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';
import { tinyDocument } from '../core/documents.js';

// Least churn end to end: two weeks of a tag through the real SDK against the emulator, state on
// Azurite. Week 1's cover is still a cover of least excess in week 2; least churn writes nothing,
// today's tie-break swaps every rule for another of the same excess.

let emu: TestEmulator;
let azurite: Azurite;
let container = 0;

beforeAll(async () => {
  [emu, azurite] = await Promise.all([startTestEmulator(), startAzurite()]);
});
afterAll(async () => {
  await Promise.all([emu?.close(), azurite?.stop()]);
});
beforeEach(async () => {
  container++;
  await emu.reset({ vaults: [seedVault('kv-churn', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] })] });
});

// .0, .2, .4, .6, .7 in three rules: only .0, .2 and .4/30 admit one excess address.
const WEEK1 = ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.6/31'];
// .7 leaves: either side may now share a /30, two excess addresses each way.
const WEEK2 = ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.6/32'];

async function weeks(churn: 'least' | 'tie-break' | undefined) {
  const config = parseConfig(
    {
      arm: { endpoint: emu.emulator.url },
      state: { store: 'blob', connectionSetting: 'STATE', container: `churn-${container}` },
      guards: { maxRemovedFraction: 1 },
      targets: [{ vault: vaultId('kv-churn'), select: ['AzureDevOps'], maxRules: 3, ...(churn === undefined ? {} : { churn }) }],
    },
    { baseDir: '/', source: 'test' },
  );
  const state = new TargetStateRepository(BlobStore.fromConnectionString(azurite.connectionString, `churn-${container}`));
  const deps = { firewalls: emu.firewalls(), state: state.access() };
  const week = async (prefixes: string[]) => (await reconcile(config, tinyDocument([{ name: 'AzureDevOps', prefixes }]), deps, { dryRun: false, force: false }))[0]!;
  expect(await week(WEEK1)).toMatchObject({ outcome: 'applied', add: ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30'] });
  await emu.emulator.control.clearRequests();
  const second = await week(WEEK2);
  const writes = (await emu.emulator.control.requests({ vault: 'kv-churn' })).filter((r) => r.method !== 'GET');
  const rules = (await emu.emulator.control.vault('kv-churn'))!.properties.networkAcls!.ipRules.map((r) => r.value).sort();
  return { second, writes: writes.length, rules };
}

describe('least churn across two weekly files', () => {
  it('by default keeps last week’s rules: no write', async () => {
    const { second, writes, rules } = await weeks(undefined);
    expect(second).toMatchObject({ outcome: 'in-sync', add: [], remove: [] });
    expect(writes).toBe(0);
    expect(rules).toEqual(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
  });

  it('churn: "tie-break" swaps all three rules for three others of the same excess', async () => {
    const { second, writes, rules } = await weeks('tie-break');
    expect(second).toMatchObject({ outcome: 'applied', add: ['20.0.0.0/30', '20.0.0.4/32', '20.0.0.6/32'] });
    expect([...second.remove].sort()).toEqual(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
    expect(writes).toBe(1);
    expect(rules).toEqual(['20.0.0.0/30', '20.0.0.4/32', '20.0.0.6/32']);
  });
});
