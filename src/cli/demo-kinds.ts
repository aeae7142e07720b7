import { collapseAllowlist, prepareAllowlist } from '../core/allowlist.js';
import { loadServiceTagFile } from '../sources/file.js';
import { parseConfig } from '../config/config.js';
import type { Emulator } from '../emulator/server.js';
import { runSync, type Runtime } from '../run/run.js';
import { renderRunText } from '../run/text-report.js';
import { count } from '../core/text.js';
import { bundledServiceTagsPath } from '../version.js';
import { writeLine, type CliIO } from './io.js';

/**
 * The demo's other kinds: an Azure SQL server, whose rules are start/end ranges (so the range
 * optimum covers them, not the CIDR DP), and an AKS cluster's authorized IP ranges. Each has a
 * person's rule that tagwall keeps; the SQL server also has AllowAllWindowsAzureIps, the server's
 * own switch, which tagwall never owns.
 */

const SUB = '00000000-0000-0000-0000-000000000000';
const SQL_ID = `/subscriptions/${SUB}/resourceGroups/rg-tagwall-demo/providers/Microsoft.Sql/servers/sql-tagwall-demo`;
const AKS_ID = `/subscriptions/${SUB}/resourceGroups/rg-tagwall-demo/providers/Microsoft.ContainerService/managedClusters/aks-tagwall-demo`;

/**
 * 149 CIDR blocks after the lossless merge, but 113 start/end ranges (adjacent blocks of unequal
 * sizes are one range): more than a SQL server's 128 rules as blocks, well within them as ranges.
 */
const SQL_SELECTION = 'AzureCloud.brazilsouth';

function heading(io: CliIO, text: string): void {
  writeLine(io.stdout);
  writeLine(io.stdout, `== ${text}`);
}

interface StoredSqlRule {
  readonly name: string;
  readonly properties: { readonly startIpAddress: string; readonly endIpAddress: string };
}

export async function runKindsDemo(io: CliIO, emulator: Emulator, work: string, runtime: Runtime): Promise<void> {
  await emulator.control.seed({
    vaults: [],
    resources: [
      {
        id: SQL_ID,
        firewallRules: [
          { name: 'corp-office', startIpAddress: '145.14.56.23', endIpAddress: '145.14.56.23' },
          { name: 'AllowAllWindowsAzureIps', startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' },
        ],
      },
      // A short update, so the demo does not wait for the emulator's default operation.
      { id: AKS_ID, emulatorOperation: { durationMs: 0 }, properties: { apiServerAccessProfile: { authorizedIPRanges: ['145.14.56.23/32'] } } },
    ],
  });
  const config = parseConfig(
    {
      serviceTags: { source: 'file', path: bundledServiceTagsPath() },
      arm: { endpoint: emulator.url },
      state: { store: 'file', path: `${work}/kinds-state.json` },
      ownerId: 'demo',
      targets: [
        { resource: SQL_ID, select: [SQL_SELECTION] },
        { resource: AKS_ID, select: ['AzureDevOps'] },
      ],
    },
    { baseDir: work, source: 'demo' },
  );

  heading(io, `7. An Azure SQL server (start/end rules, at most 128) and an AKS cluster's authorized IP ranges (at most 200)`);
  writeLine(io.stdout, 'sql-tagwall-demo holds corp-office (145.14.56.23) and AllowAllWindowsAzureIps (0.0.0.0, the server\'s "Allow Azure services" switch); aks-tagwall-demo holds 145.14.56.23/32.');
  const first = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime);
  writeLine(io.stdout, renderRunText(first.report));

  const sql = first.report.vaults.find((v) => v.vault === SQL_ID);
  const stored = ((await emulator.control.resource(SQL_ID)) as { firewallRules?: StoredSqlRule[] } | undefined)?.firewallRules ?? [];
  const others = stored.filter((r) => !r.name.startsWith('tagwall-demo-'));
  const mine = stored.filter((r) => r.name.startsWith('tagwall-demo-'));
  // The same selection and the same budget (the limit less the rules that are not tagwall's), collapsed as CIDR blocks.
  const budget = (sql?.rules.limit ?? 128) - others.length;
  const source = prepareAllowlist(await loadServiceTagFile(bundledServiceTagsPath()), { select: [SQL_SELECTION] });
  const asBlocks = collapseAllowlist(source, { maxRules: budget });
  const asRanges = collapseAllowlist(source, { shape: 'range', maxRules: Number.MAX_SAFE_INTEGER });
  writeLine(io.stdout, `${SQL_SELECTION}: ${source.merged.length} CIDR blocks, or ${asRanges.rules.length} start/end ranges covering exactly the same addresses.`);
  writeLine(io.stdout, `Within the ${budget} rules left to tagwall: as CIDR blocks ${count(asBlocks.stats.excessAddresses)} addresses beyond the source; as the SQL server's ranges ${count(sql?.excessAddresses ?? 0)}.`);
  writeLine(io.stdout, `Rules as stored: ${stored.length}; kept as they were: ${others.map((r) => `${r.name} ${r.properties.startIpAddress}-${r.properties.endIpAddress}`).join(', ')}; tagwall's: ${mine.slice(0, 2).map((r) => `${r.name} ${r.properties.startIpAddress}-${r.properties.endIpAddress}`).join(', ')}, ...`);

  await emulator.control.clearRequests();
  const second = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime);
  const writes = (await emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH' || r.method === 'PUT').length;
  writeLine(io.stdout, `Second sync: ${second.report.vaults.map((v) => `${v.vault.slice(v.vault.lastIndexOf('/') + 1)} ${v.outcome}`).join(', ')}; writes (PATCH or PUT): ${writes}.`);
}
