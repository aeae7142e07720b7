import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { runSync } from '../../src/run/run.js';
import { benchCredential } from './emulator-process.js';

// One runSync in a process of its own, started by the fleet bench with the RSS hook: its peak
// resident set is then that of one run over the fleet, not of the bench's preparation as well.
const { config, baseDir, caCert, env } = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as { config: RawConfig; baseDir: string; caCert: string; env?: Record<string, string> };
// The most the heap held while the run went, sampled every 20 ms.
const peak = { used: 0, total: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.used = Math.max(peak.used, m.heapUsed);
  peak.total = Math.max(peak.total, m.heapTotal);
}, 20);
const t = performance.now();
const { report } = await runSync(parseConfig(config, { baseDir, source: 'bench' }), { dryRun: false, force: false, alerts: 'off' }, {
  env: env ?? {},
  logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  credential: benchCredential,
  armCa: caCert,
});
const ms = performance.now() - t;
clearInterval(sampler);
const settled = report.vaults.filter((v) => v.outcome === 'in-sync' && v.checkedBy === 'resource-graph').length;
// TAGWALL_BENCH_HEAP_SNAPSHOT=<file>: what the heap holds at the end of the run, its report still in hand.
if (process.env.TAGWALL_BENCH_HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.TAGWALL_BENCH_HEAP_SNAPSHOT);
const m = process.memoryUsage();
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
process.stdout.write(`${report.vaults.length} vaults, ${settled} settled by Resource Graph, ${ms.toFixed(0)} ms; heap at most ${mb(peak.used)} used of ${mb(peak.total)}; at the end, report still held: heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, external ${mb(m.external)}\n`);
