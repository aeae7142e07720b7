import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runSync } from '../../src/run/run.js';
import { parseConfig } from '../../src/config/config.js';
import { benchCredential, startEmulatorProcess } from './emulator-process.js';
import { PUBLIC_FILE } from './data.js';
import { registerSection, summarise } from './harness.js';

/**
 * 200 vaults on the emulator with 20 ms added to every ARM request, at concurrency 8. The
 * latency bound is what the requests alone must cost when 8 run at a time:
 * ceil(200 / 8) rounds × requests per vault × 20 ms. The targets are twice that.
 *
 * It measures the loop's own cost, as it always has: ARM's throttling is off in the emulator and
 * tagwall's pacing lifted. In Azure, 400 reads in one subscription are paced at 25 a second
 * after a burst of 250 (the fleet bench measures runs within those limits).
 */

const VAULTS = 200;
const LATENCY_MS = 20;
const CONCURRENCY = 8;
const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000be';

registerSection('reconcile', async (ctx) => {
  const work = await mkdtemp(join(tmpdir(), 'tagwall-bench-'));
  const ids = Array.from({ length: VAULTS }, (_, i) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-bench/providers/Microsoft.KeyVault/vaults/kv-bench-${String(i).padStart(3, '0')}`);
  const seedPath = join(work, 'seed.json');
  await writeFile(seedPath, JSON.stringify({ vaults: ids.map((id) => ({ id, networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '145.14.56.23' }] } })) }));
  const emulator = await startEmulatorProcess(work, ['--seed', seedPath, '--latency-ms', String(LATENCY_MS)]);
  try {
    await emulator.control.updateSettings({ throttle: false });
    const config = parseConfig(
      {
        serviceTags: { source: 'file', path: PUBLIC_FILE },
        arm: { endpoint: emulator.url, pacing: { reads: { burst: 100_000, perSecond: 10_000 }, writes: { burst: 100_000, perSecond: 10_000 } } },
        state: { store: 'file', path: join(work, 'state.json') },
        concurrency: CONCURRENCY,
        concurrencyPerSubscription: CONCURRENCY,
        targets: ids.map((vault) => ({ vault, select: ['AzureDevOps', 'LogicApps@westeurope'] })),
      },
      { baseDir: work, source: 'bench' },
    );
    const runtime = { env: {}, logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, credential: benchCredential, armCa: emulator.caCert };
    const rounds = Math.ceil(VAULTS / CONCURRENCY);
    const pass = async (label: string, requestsPerVault: number, repeats: number) => {
      const samples: number[] = [];
      let report!: Awaited<ReturnType<typeof runSync>>['report'];
      let log: Awaited<ReturnType<typeof emulator.control.requests>> = [];
      for (let i = 0; i < repeats; i++) {
        await emulator.control.clearRequests();
        const t = performance.now();
        ({ report } = await runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime));
        samples.push(performance.now() - t);
        log = await emulator.control.requests({ kind: 'arm' });
      }
      const { median: ms, min } = summarise(samples);
      // Requests to the vaults; the one listing of the subscription's perimeters is counted apart.
      const count = (method: string) => log.filter((r) => r.method === method && r.vault !== undefined).length;
      const perimeterListings = log.filter((r) => r.perimeter === undefined && r.vault === undefined && r.path.includes('networkSecurityPerimeters')).length;
      const outcomes = new Map<string, number>();
      for (const v of report.vaults) outcomes.set(v.outcome, (outcomes.get(v.outcome) ?? 0) + 1);
      const bound = rounds * requestsPerVault * LATENCY_MS;
      ctx.record({
        label: `${label}: wall time, ${VAULTS} vaults`,
        unit: 'ms',
        median: ms,
        min,
        samples: samples.length,
        target: 2 * bound,
        note: `latency bound ${bound} ms; outcomes ${[...outcomes].map(([o, n]) => `${n} ${o}`).join(', ')}`,
      });
      ctx.record({ label: `${label}: GET requests`, unit: 'count', median: count('GET'), min: count('GET'), samples: 1, target: requestsPerVault === 3 ? 2 * VAULTS : VAULTS });
      ctx.record({ label: `${label}: PATCH requests`, unit: 'count', median: count('PATCH'), min: count('PATCH'), samples: 1, target: requestsPerVault === 3 ? VAULTS : 0 });
      ctx.record({ label: `${label}: perimeter listings`, unit: 'count', median: perimeterListings, min: perimeterListings, samples: 1, target: 1, note: 'one per subscription per run, for every vault in it' });
    };
    // A first apply can only happen once per seeded vault; the steady state is measured a few times.
    await pass('first apply', 3, 1);
    await pass('steady state', 1, 5);
  } finally {
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
});
