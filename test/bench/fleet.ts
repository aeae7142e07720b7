import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig, type RawConfig, type TagwallConfig } from '../../src/config/config.js';
import type { RequestStatsJson } from '../../src/emulator/stats.js';
import type { ShardMessage } from '../../src/fleet/model.js';
import { runShard, startFleetRun } from '../../src/run/shards.js';
import { runSync, type RunReport, type Runtime } from '../../src/run/run.js';
import { PUBLIC_FILE } from './data.js';
import { benchCredential, startEmulatorProcess, type EmulatorProcess } from './emulator-process.js';
import { registerSection, summarise, type SectionContext } from './harness.js';
import type { ShardResult } from '../../src/state/run-records.js';
import { startAzurite } from '../helpers/azurite.js';

/**
 * Fleets found by tag through Resource Graph, on the emulator in its own process with Azure's
 * ARM throttling left on (reads 250 / 25 per s, writes 200 / 10 per s, per subscription) and
 * Resource Graph's quota (15 queries per 5 s). Two sections:
 *
 * - `fleet`: 10,000 Key Vaults in 100 subscriptions, 300 rules each on average, brought to the
 *   steady state once (untimed), then the steady state timed, and a week's change (10 vaults per
 *   subscription missing one of tagwall's rules) timed once;
 * - `fleet-queue`: the first apply of 1,000 vaults through the queue path in this process: the
 *   timer's core (startFleetRun) sends its shards to an in-memory sink, and each message is handed
 *   to the worker's core (runShard), several at once as the host would.
 *
 * `--fleet-scale` shrinks both (0.1: a tenth of the vaults and subscriptions) for trying the
 * benches out; the figures in docs/BENCHMARKS.md are at scale 1.
 */

const LATENCY_MS = 20;
/** The seeded rules are random public /24s (and smaller), so none is covered by a profile's allowlist. */
const RULES_PER_VAULT = 300;
const PROFILES: RawConfig['profiles'] = { devops: { select: ['AzureDevOps'] }, logicapps: { select: ['LogicApps@westeurope'] } };
const TAG = { name: 'tagwall', values: ['devops', 'logicapps'] };
/** Resource Graph's page size at its largest, which tagwall asks for. */
const GRAPH_PAGE = 1000;
/** Resource Graph's quota window: a run started within it after another could be throttled by the other's queries. */
const GRAPH_WINDOW_MS = 5_000;
/** ARM's sustained write rate per subscription (the emulator's default, Azure's figure). */
const WRITES_PER_SECOND = 10;

let scale = 1;

export const fleetScale = (): number => scale;

/** From `--fleet-scale`: a fraction of the full fleet, for trying the benches out. */
export function setFleetScale(value: number): void {
  if (!(value > 0 && value <= 1)) throw new Error(`--fleet-scale must be above 0 and at most 1, not ${value}`);
  scale = value;
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function runtimeFor(emulator: EmulatorProcess, env: Runtime['env'] = {}): Runtime {
  return { env, logger: quiet, credential: benchCredential, armCa: emulator.caCert };
}

function rawConfig(emulator: EmulatorProcess, work: string, extra: Partial<RawConfig>): RawConfig {
  return {
    serviceTags: { source: 'file', path: PUBLIC_FILE },
    arm: { endpoint: emulator.url },
    state: { store: 'file', path: join(work, 'state.json') },
    profiles: PROFILES,
    // No lag: the emulator's Resource Graph shows a write at once, so the confirming run can follow the apply.
    discover: { tag: TAG.name, lagMinutes: 0, types: ['keyvault'] },
    ...extra,
  };
}

function outcomesOf(vaults: readonly { outcome: string; checkedBy?: string }[]): string {
  const by = new Map<string, number>();
  for (const v of vaults) {
    const key = v.checkedBy === undefined ? v.outcome : `${v.outcome} (${v.checkedBy})`;
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return [...by].map(([o, n]) => `${n} ${o}`).join(', ');
}

/** At most `width` calls at once, each taking the next item when one finishes (as a host takes the next message). */
async function inPool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** The most writes any subscription received within one second (a sliding window), and which subscription. */
function peakWritesPerSecond(stats: RequestStatsJson): { peak: number; subscription?: string } {
  let best: { peak: number; subscription?: string } = { peak: 0 };
  for (const [subscription, raw] of Object.entries(stats.writeTimes)) {
    const times = [...raw].sort((a, b) => a - b);
    let first = 0;
    for (let last = 0; last < times.length; last++) {
      while (times[last]! - times[first]! >= 1000) first++;
      if (last - first + 1 > best.peak) best = { peak: last - first + 1, subscription };
    }
  }
  return best;
}

/** ARM requests other than vault GETs and PATCHes (the perimeter listings, say), as `"GET perimeter": n`. */
function otherArm(stats: RequestStatsJson): string {
  const other = Object.entries(stats.byRoute).filter(([route]) => !/ (vault|graph|control)$/.test(route));
  return other.length === 0 ? 'none' : other.map(([r, n]) => `${r} ${n}`).join(', ');
}

/**
 * CPU time a process has used, in ms, from /proc (Linux; clock ticks taken as the usual 100 a
 * second); undefined elsewhere. The emulator's share tells whether "Azure" or tagwall was busy.
 */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * With TAGWALL_BENCH_CPU_PROF=<folder>, `fn` runs under the V8 CPU profiler (what `node --cpu-prof`
 * records, for this run alone rather than the whole bench) and the profile is written there as
 * `<name>.cpuprofile`, for Chrome's DevTools or any reader of that format.
 */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.TAGWALL_BENCH_CPU_PROF;
  if (dir === undefined || dir === '') return fn();
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (e, r) => (e === null ? resolve(r) : reject(e))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    session.disconnect();
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}

/** Wall time and both processes' CPU time around `fn`: a run whose CPU time nears its wall time is bound by CPU, not by latency. */
async function measured<T>(emulator: EmulatorProcess, fn: () => Promise<T>): Promise<{ value: T; ms: number; cpu: string }> {
  const emuBefore = processCpuMs(emulator.child.pid);
  const before = process.cpuUsage();
  const t = performance.now();
  const value = await fn();
  const ms = performance.now() - t;
  const used = process.cpuUsage(before);
  const emuAfter = processCpuMs(emulator.child.pid);
  const emu = emuBefore === undefined || emuAfter === undefined ? '?' : String(emuAfter - emuBefore);
  return { value, ms, cpu: `CPU: tagwall ${((used.user + used.system) / 1000).toFixed(0)} ms, emulator ${emu} ms` };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const count = (ctx: SectionContext, label: string, value: number, target?: number, note?: string) =>
  ctx.record({ label, unit: 'count', median: value, min: value, samples: 1, ...(target === undefined ? {} : { target }), ...(note === undefined ? {} : { note }) });

/** One steady-state run in a child process started with the RSS hook: the peak resident set of that run alone. */
async function peakRssOfOneRun(config: RawConfig, work: string, caCert: string, env: Runtime['env'] = {}, variant: RssVariant = {}): Promise<{ rssMb?: number; summary?: string; problem?: string }> {
  const input = join(work, 'child-run.json');
  await writeFile(input, JSON.stringify({ config, baseDir: work, caCert, env }));
  // TAGWALL_BENCH_CHILD_NODE_ARGS (say `--heap-prof --heap-prof-dir=/tmp/x`) profiles that run's memory.
  const extra = [...(process.env.TAGWALL_BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), ...(variant.args ?? [])];
  const script = variant.script ?? fileURLToPath(new URL('./fleet-run-child.js', import.meta.url));
  const child = spawn(process.execPath, [...extra, '--import', pathToFileURL(fileURLToPath(new URL('./rss-hook.js', import.meta.url))).href, script, input], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const kb = /tagwall-bench-maxrss-kb=(\d+)/.exec(stderr);
  if (code !== 0 || kb === null) return { problem: `the child exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}` };
  return { rssMb: Number(kb[1]) / 1024, summary: stdout.trim() };
}

/**
 * TAGWALL_BENCH_RSS_VARIANTS, a JSON list of `{ "label", "args"?, "script"? }`: more one-run children
 * on the same prepared fleet, with other node flags or another build's child script (an older
 * dist, say), so that figures compared were taken on the same fleet at the same load.
 */
interface RssVariant {
  readonly label?: string;
  readonly args?: readonly string[];
  readonly script?: string;
}

interface FleetShape {
  /** At scale 1. */
  readonly subscriptions: number;
  readonly changedPerSubscription: number;
  readonly store: 'file' | 'blob';
  /** Time the steady state and its peak RSS (the 10,000-vault fleets); the 2,000 one times only the week's change and the run after it. */
  readonly steady: boolean;
  /** What the run after the week's change must stay under, when there is a target for it. */
  readonly confirmTargetMs?: number;
}

async function fleetSection(ctx: SectionContext, shape: FleetShape): Promise<void> {
  const subscriptions = Math.max(1, Math.round(shape.subscriptions * scale));
  const vaults = subscriptions * 100;
  const changedPerSubscription = shape.changedPerSubscription;
  const work = await mkdtemp(join(tmpdir(), 'tagwall-bench-fleet-'));
  // Seeded and prepared without latency; the timed runs get theirs below.
  const emulator = await startEmulatorProcess(work, ['--empty']);
  const azurite = shape.store === 'blob' ? await startAzurite() : undefined;
  try {
    const seeded = await emulator.control.seedFleet({ subscriptions, vaults, tag: TAG, rules: RULES_PER_VAULT, defaultAction: 'Deny' });
    const env = azurite === undefined ? {} : { AzureWebJobsStorage: azurite.connectionString };
    const raw = rawConfig(emulator, work, { concurrency: 256, concurrencyPerSubscription: 8, ...(azurite === undefined ? {} : { state: { store: 'blob' as const, container: 'fleet' } }) });
    const config = parseConfig(raw, { baseDir: work, source: 'bench' });
    const runtime = runtimeFor(emulator, env);
    const run = async (profile?: string) => {
      await emulator.control.resetStats();
      const once = () => runSync(config, { dryRun: false, force: false, alerts: 'off' }, runtime);
      const { value, ms, cpu } = await measured(emulator, () => (profile === undefined ? once() : profiled(`fleet-${shape.store}-${vaults}-${profile}`, once)));
      return { ms, cpu, report: value.report, stats: await emulator.control.stats() };
    };
    const prepared = (r: { report: RunReport }) => r.report.vaults.every((v) => v.outcome === 'in-sync' && v.checkedBy === 'resource-graph');

    // Preparation, untimed for the targets: the first apply writes every vault (the seeded rules
    // cover none of a profile's), the next run reads each once more and records its fingerprint.
    const apply = await run();
    ctx.record({ label: `preparation (latency 0): first apply, ${vaults} vaults`, unit: 'ms', median: apply.ms, min: apply.ms, samples: 1, note: `${outcomesOf(apply.report.vaults)}; ${apply.cpu}; ${apply.stats.byRoute['GET vault'] ?? 0} GETs, ${apply.stats.byRoute['PATCH vault'] ?? 0} PATCHes, ${apply.stats.byStatus['429'] ?? 0} answered 429` });
    // The week's change takes out one rule tagwall wrote into each changed vault.
    const changed = seeded.ids.slice(0, subscriptions * changedPerSubscription);
    const written = new Map(apply.report.vaults.map((v) => [v.vault.toLowerCase(), v.add[0]]));
    const removal = changed.map((id) => ({ id, rule: written.get(id.toLowerCase()) }));
    if (removal.some((r) => r.rule === undefined)) throw new Error('the first apply added no rule to some of the vaults the change needs');
    let confirm = await run();
    ctx.record({ label: 'preparation (latency 0): confirming run', unit: 'ms', median: confirm.ms, min: confirm.ms, samples: 1, note: `${outcomesOf(confirm.report.vaults)}; ${confirm.cpu}; ${confirm.stats.byRoute['GET vault'] ?? 0} GETs` });
    for (let extra = 0; extra < 2 && !prepared(confirm); extra++) confirm = await run();
    if (!prepared(confirm)) throw new Error(`the fleet did not reach the steady state: ${outcomesOf(confirm.report.vaults)}`);

    await emulator.control.updateSettings({ latencyMs: LATENCY_MS });
    if (shape.steady) await steadyState();
    // The steady state and one run's peak RSS, in a function so that the 2,000-vault shapes can leave them out.
    async function steadyState(): Promise<void> {
      const repeats = Math.max(1, Math.min(ctx.iterations, 5));
      const samples: number[] = [];
      let last!: Awaited<ReturnType<typeof run>>;
      for (let i = 0; i < repeats; i++) {
        // A timer run comes an hour after the last; here the quota window of the last run's queries is let pass.
        await sleep(GRAPH_WINDOW_MS + 200);
        last = await run();
        samples.push(last.ms);
        if (!prepared(last)) throw new Error(`a steady-state run was not settled by Resource Graph alone: ${outcomesOf(last.report.vaults)}`);
    }
    const graph = last.report.fleet?.graph;
    const s = last.stats;
    ctx.record({ label: `steady state: wall time, ${vaults} vaults in ${plural(subscriptions, 'subscription')}`, unit: 'ms', ...summarise(samples), samples: samples.length, target: 5_000, note: `runSync, latency ${LATENCY_MS} ms; ${outcomesOf(last.report.vaults)}; last run's ${last.cpu}` });
    count(ctx, 'steady state: Resource Graph requests', s.byRoute['POST graph'] ?? 0, Math.ceil(vaults / GRAPH_PAGE), `${graph?.throttled ?? 0} throttled`);
    count(ctx, 'steady state: vault GETs', s.byRoute['GET vault'] ?? 0, 0);
    count(ctx, 'steady state: vault PATCHes', s.byRoute['PATCH vault'] ?? 0, 0, `other ARM requests: ${otherArm(s)}`);
    ctx.record({ label: 'steady state: Resource Graph answer bytes', unit: 'MB', median: s.graphBytes / MB, min: s.graphBytes / MB, samples: 1, note: `${s.graphBytes} bytes sent by the emulator, ${graph?.bytes ?? '?'} received; ${(s.graphBytes / vaults).toFixed(0)} bytes a vault` });

    await sleep(GRAPH_WINDOW_MS + 200);
    await emulator.control.resetStats();
    const child = await peakRssOfOneRun(raw, work, emulator.caCert, env);
    if (child.rssMb === undefined) ctx.skip('steady state: peak RSS of one run (own process)', child.problem ?? 'no figure');
    else ctx.record({ label: 'steady state: peak RSS of one run (own process)', unit: 'MB', median: child.rssMb, min: child.rssMb, samples: 1, target: 500, note: `maxRSS of a child doing one runSync: ${child.summary}` });
    for (const variant of JSON.parse(process.env.TAGWALL_BENCH_RSS_VARIANTS ?? '[]') as RssVariant[]) {
      await sleep(GRAPH_WINDOW_MS + 200);
      const other = await peakRssOfOneRun(raw, work, emulator.caCert, env, variant);
      const label = `steady state: peak RSS of one run (own process), ${variant.label ?? JSON.stringify(variant)}`;
      if (other.rssMb === undefined) ctx.skip(label, other.problem ?? 'no figure');
      else ctx.record({ label, unit: 'MB', median: other.rssMb, min: other.rssMb, samples: 1, target: 500, note: other.summary ?? '' });
    }
    const own = process.resourceUsage().maxRSS / 1024;
    ctx.record({ label: 'peak RSS of the benchmark process so far', unit: 'MB', median: own, min: own, samples: 1, note: `includes the preparation's first apply of ${vaults} vaults and every section before` });
    }

    // A week's change: 10 vaults in every subscription lack a rule tagwall wrote.
    await emulator.control.updateSettings({ latencyMs: 0 });
    await inPool(removal, 16, (r) => emulator.control.removeRule(r.id, r.rule!));
    await emulator.control.updateSettings({ latencyMs: LATENCY_MS });
    await sleep(GRAPH_WINDOW_MS + 200);
    const week = await run('week');
    const ws = week.stats;
    const gets = ws.byRoute['GET vault'] ?? 0;
    const patches = ws.byRoute['PATCH vault'] ?? 0;
    const peak = peakWritesPerSecond(ws);
    const rateBoundMs = Math.ceil(changedPerSubscription / WRITES_PER_SECOND) * 1000;
    ctx.record({
      label: `a week's change: wall time, ${changed.length} of ${vaults} vaults need a write`,
      unit: 'ms',
      median: week.ms,
      min: week.ms,
      samples: 1,
      target: rateBoundMs + 2_000,
      note: `write-rate bound ceil(${changedPerSubscription} / ${WRITES_PER_SECOND} per s) = ${rateBoundMs} ms, subscriptions in parallel, plus 2 s of tagwall's own; ${outcomesOf(week.report.vaults)}; ${week.cpu}`,
    });
    ctx.record({ label: "a week's change: ARM calls per changed vault", unit: 'count', median: (gets + patches) / changed.length, min: (gets + patches) / changed.length, samples: 1, target: 3, note: `${gets} vault GETs, ${patches} PATCHes for ${changed.length} vaults; other ARM requests: ${otherArm(ws)}` });
    count(ctx, "a week's change: most writes into one subscription in any 1 s", peak.peak, WRITES_PER_SECOND, `${peak.subscription ?? '–'}; ${ws.byStatus['429'] ?? 0} answers were 429`);
    count(ctx, "a week's change: Resource Graph requests", ws.byRoute['POST graph'] ?? 0, Math.ceil(vaults / GRAPH_PAGE));

    // The next run confirms each write with one GET (Resource Graph shows the written firewalls changed since their record).
    await sleep(GRAPH_WINDOW_MS + 200);
    const after = await run('after');
    const as = after.stats;
    ctx.record({
      label: `the run after the week's change: wall time, ${changed.length} of ${vaults} written`,
      unit: 'ms',
      median: after.ms,
      min: after.ms,
      samples: 1,
      ...(shape.confirmTargetMs === undefined ? {} : { target: shape.confirmTargetMs }),
      note: `${outcomesOf(after.report.vaults)}; ${after.cpu}`,
    });
    count(ctx, "the run after the week's change: vault GETs", as.byRoute['GET vault'] ?? 0, changed.length, `${as.byRoute['PATCH vault'] ?? 0} PATCHes`);
  } finally {
    await emulator.stop();
    await azurite?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

registerSection('fleet', (ctx) => fleetSection(ctx, { subscriptions: 100, changedPerSubscription: 10, store: 'file', steady: true }));
registerSection('fleet-blob', (ctx) => fleetSection(ctx, { subscriptions: 100, changedPerSubscription: 10, store: 'blob', steady: true }));
// The week's change at 10,000 without the steady state, for profiling it (TAGWALL_BENCH_CPU_PROF) in a few minutes.
registerSection('fleet-week', (ctx) => fleetSection(ctx, { subscriptions: 100, changedPerSubscription: 10, store: 'file', steady: false }));
// The confirming-run target: 2,000 firewalls, 100 of them written, the run after under 3 s.
registerSection('fleet-2000', (ctx) => fleetSection(ctx, { subscriptions: 20, changedPerSubscription: 5, store: 'file', steady: false, confirmTargetMs: 3_000 }));
registerSection('fleet-2000-blob', (ctx) => fleetSection(ctx, { subscriptions: 20, changedPerSubscription: 5, store: 'blob', steady: false, confirmTargetMs: 3_000 }));

registerSection('fleet-queue', async (ctx) => {
  const subscriptions = Math.max(1, Math.round(20 * scale));
  const vaults = subscriptions * 50;
  const concurrency = 64;
  const perSubscription = 8;
  // Each shard is one subscription, so it has perSubscription vaults in flight; this many shards at once make `concurrency`.
  const shardsAtOnce = Math.ceil(concurrency / perSubscription);
  const work = await mkdtemp(join(tmpdir(), 'tagwall-bench-queue-'));
  const emulator = await startEmulatorProcess(work, ['--empty', '--latency-ms', String(LATENCY_MS)]);
  try {
    await emulator.control.seedFleet({ subscriptions, vaults, tag: TAG, rules: RULES_PER_VAULT, defaultAction: 'Deny' });
    const config: TagwallConfig = parseConfig(rawConfig(emulator, work, { concurrency, concurrencyPerSubscription: perSubscription, fanOut: { shardSize: 50, inlineBelow: 0 } }), { baseDir: work, source: 'bench' });
    const runtime = runtimeFor(emulator);
    await emulator.control.resetStats();
    const sent: ShardMessage[] = [];
    let timerMs = 0;
    let started!: Awaited<ReturnType<typeof startFleetRun>>;
    const { value: results, ms, cpu } = await measured(emulator, () => profiled(`fleet-queue-${vaults}`, async (): Promise<ShardResult[]> => {
      const t = performance.now();
      started = await startFleetRun(config, { dryRun: false, force: false, alerts: 'off', fanOut: 'queue' }, runtime, { sink: { send: async (messages) => void sent.push(...messages) } });
      timerMs = performance.now() - t;
      // The host hands each message to the worker as a fresh invocation; several run side by side.
      return inPool(sent, shardsAtOnce, (m) => runShard(config, structuredClone(m), runtime));
    }));
    const stats = await emulator.control.stats();
    const perVault = 3;
    const bound = Math.ceil(vaults / concurrency) * perVault * LATENCY_MS;
    const outcomes = outcomesOf(results.flatMap((r) => r.vaults));
    ctx.record({
      label: `first apply through the queue: wall time, ${vaults} vaults in ${plural(subscriptions, 'subscription')}`,
      unit: 'ms',
      median: ms,
      min: ms,
      samples: 1,
      target: 2 * bound,
      note: `latency bound ceil(${vaults} / ${concurrency}) × ${perVault} × ${LATENCY_MS} ms = ${bound} ms; timer ${timerMs.toFixed(0)} ms (${started.enqueued.shards} shards of ≤ 50), then ${shardsAtOnce} shards at once × ${perSubscription} vaults each; ${outcomes}; ${cpu}`,
    });
    count(ctx, 'first apply through the queue: vault GETs', stats.byRoute['GET vault'] ?? 0, 2 * vaults);
    count(ctx, 'first apply through the queue: vault PATCHes', stats.byRoute['PATCH vault'] ?? 0, vaults, `${stats.byStatus['429'] ?? 0} answers were 429; other ARM requests: ${otherArm(stats)}`);
    const peak = peakWritesPerSecond(stats);
    count(ctx, 'first apply through the queue: most writes into one subscription in any 1 s', peak.peak, undefined, `within the write burst (200); ${peak.subscription ?? '–'}`);
  } finally {
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
});
