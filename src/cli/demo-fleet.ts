import { parseConfig } from '../config/config.js';
import type { Emulator } from '../emulator/server.js';
import { runSync, type Runtime } from '../run/run.js';
import { bundledServiceTagsPath } from '../version.js';
import { writeLine, type CliIO } from './io.js';
import { renderRunText } from '../run/text-report.js';

/**
 * The demo's fleet part: vaults in two more subscriptions that nobody lists in the
 * configuration, found by their `tagwall` tag through the emulator's Resource Graph. One is
 * tagged in another case, one opted out, one names a profile that does not exist, one is
 * untagged; then an unchanged fleet is checked with one query and no vault read.
 */

const FLEET_SUBSCRIPTIONS = ['f1ee7000-0000-4000-8000-000000000001', 'f1ee7000-0000-4000-8000-000000000002'] as const;

function fleetVault(sub: string, name: string, tags: Record<string, string> | undefined) {
  return {
    id: `/subscriptions/${sub}/resourceGroups/rg-fleet-demo/providers/Microsoft.KeyVault/vaults/${name}`,
    ...(tags === undefined ? {} : { tags }),
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] },
  };
}

function heading(io: CliIO, text: string): void {
  writeLine(io.stdout);
  writeLine(io.stdout, `== ${text}`);
}

export async function runFleetDemo(io: CliIO, emulator: Emulator, work: string, runtime: Runtime): Promise<void> {
  const [s1, s2] = FLEET_SUBSCRIPTIONS;
  await emulator.control.seed({
    vaults: [
      fleetVault(s1, 'kv-fleet-build', { tagwall: 'devops' }),
      fleetVault(s1, 'kv-fleet-reports', { TagWall: 'BI' }),
      fleetVault(s2, 'kv-fleet-optout', { tagwall: 'off' }),
      fleetVault(s2, 'kv-fleet-typo', { tagwall: 'devosp' }),
      fleetVault(s2, 'kv-fleet-untagged', undefined),
    ],
  });
  const config = parseConfig(
    {
      serviceTags: { source: 'file', path: bundledServiceTagsPath() },
      arm: { endpoint: emulator.url },
      state: { store: 'file', path: `${work}/fleet-state.json` },
      profiles: { devops: { select: ['AzureDevOps'] }, bi: { select: ['PowerBI'], maxRules: 900 } },
      // lagMinutes 0: the emulator's Resource Graph has no lag unless asked for one.
      discover: { tag: 'tagwall', scope: { subscriptions: [...FLEET_SUBSCRIPTIONS] }, lagMinutes: 0 },
    },
    { baseDir: work, source: 'demo' },
  );
  const reads = async () => {
    const stats = await emulator.control.stats();
    return { graph: stats.byRoute['POST graph'] ?? 0, gets: stats.byRoute['GET vault'] ?? 0, patches: stats.byRoute['PATCH vault'] ?? 0 };
  };

  heading(io, '5. A fleet found by tag: vaults in two subscriptions that no configuration lists');
  writeLine(io.stdout, 'Tags: kv-fleet-build tagwall=devops, kv-fleet-reports TagWall=BI (any case), kv-fleet-optout tagwall=off, kv-fleet-typo tagwall=devosp, kv-fleet-untagged none.');
  await emulator.control.resetStats();
  const first = await runSync(config, { dryRun: false, force: false, alerts: 'preview' }, runtime);
  writeLine(io.stdout, renderRunText(first.report));
  const r1 = await reads();
  writeLine(io.stdout, `Requests: ${r1.graph} Resource Graph, ${r1.gets} vault GETs, ${r1.patches} PATCHes; kv-fleet-optout, kv-fleet-typo and kv-fleet-untagged were never read.`);

  heading(io, '6. The next syncs: a vault tagwall wrote is read once more to confirm, then Resource Graph alone says it is unchanged');
  await runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime);
  await emulator.control.resetStats();
  const steady = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime);
  const r3 = await reads();
  for (const v of steady.report.vaults) writeLine(io.stdout, `${v.vault.slice(v.vault.lastIndexOf('/') + 1)}: ${v.outcome}${v.checkedBy === 'resource-graph' ? ' (by Resource Graph, not read)' : ''}`);
  writeLine(io.stdout, `Requests: ${r3.graph} Resource Graph, ${r3.gets} vault GETs, ${r3.patches} PATCHes.`);
}
