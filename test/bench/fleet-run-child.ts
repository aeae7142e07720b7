import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { runSync } from '../../src/run/run.js';
import { benchCredential } from './emulator-process.js';

// One runSync in a process of its own, started by the fleet bench with the RSS hook: its peak
// resident set is then that of one run over the fleet, not of the bench's preparation as well.
const { config, baseDir, caCert, env } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: RawConfig; baseDir: string; caCert: string; env?: Record<string, string> };
const t = performance.now();
const { report } = await runSync(parseConfig(config, { baseDir, source: 'bench' }), { dryRun: false, force: false, alerts: 'off' }, {
  env: env ?? {},
  logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  credential: benchCredential,
  armCa: caCert,
});
const ms = performance.now() - t;
const settled = report.vaults.filter((v) => v.outcome === 'in-sync' && v.checkedBy === 'resource-graph').length;
process.stdout.write(`${report.vaults.length} vaults, ${settled} settled by Resource Graph, ${ms.toFixed(0)} ms\n`);
