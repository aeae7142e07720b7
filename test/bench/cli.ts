import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { PUBLIC_FILE, REPO_ROOT } from './data.js';
import { registerSection, summarise } from './harness.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./plan-floor.js', import.meta.url));
const RSS_HOOK = pathToFileURL(fileURLToPath(new URL('./rss-hook.js', import.meta.url))).href;
/** A person running `tagwall plan` should not wait for it. */
const CLI_TARGET_MS = 600;

function run(args: readonly string[]) {
  const t = performance.now();
  const child = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - t, status: child.status, stdout: child.stdout, stderr: child.stderr, error: child.error };
}

function timeRuns(args: readonly string[], iterations: number): number[] {
  run(args); // warm the file cache
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) samples.push(run(args).ms);
  return samples;
}

registerSection('cli', (ctx) => {
  const iterations = Math.max(3, Math.min(ctx.iterations, 10));
  // At 127 rules every tag needs rules wider than the default widening bound allows: measure the
  // collapse itself, with the bound off, as before the bound existed.
  const plan = (k: number) => [CLI, 'plan', '--select', '*', '--service-tags', PUBLIC_FILE, '--max-rules', String(k), '--json', ...(k === 1000 ? [] : ['--max-widened-prefix', '0'])];
  const label = (k: number) => `tagwall plan --select '*' --service-tags <bundled> --json${k === 1000 ? '' : ` --max-rules ${k} --max-widened-prefix 0`}`;
  if (!existsSync(CLI)) {
    ctx.skip(label(1000), `${CLI} does not exist yet (build the CLI first)`, CLI_TARGET_MS);
    return;
  }
  const probe = run(plan(1000));
  let problem: string | undefined;
  if (probe.error !== undefined) problem = probe.error.message;
  else if (probe.status !== 0) problem = `exit ${probe.status}: ${probe.stderr.trim().split('\n')[0] ?? ''}`;
  else {
    try {
      const out = JSON.parse(probe.stdout) as { rules?: unknown[] };
      if (!Array.isArray(out.rules) || out.rules.length === 0) problem = 'the JSON output has no rules';
    } catch {
      problem = 'the output is not one JSON object';
    }
  }
  if (problem !== undefined) {
    ctx.skip(label(1000), `the CLI cannot plan yet (${problem})`, CLI_TARGET_MS);
    return;
  }

  const startup = timeRuns(['-e', ''], iterations);
  ctx.record({ label: 'node startup alone (node -e "")', unit: 'ms', ...summarise(startup), samples: startup.length });
  const imports = timeRuns(['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../src/cli/program.js', import.meta.url))).href)})`], iterations);
  ctx.record({ label: 'node startup + loading the CLI modules', unit: 'ms', ...summarise(imports), samples: imports.length });
  // The Functions cold start: the host imports every entry file before the first invocation.
  const entries = ['syncAllowlists', 'checkDrift', 'planAllowlists', 'manualSync'].map((f) => pathToFileURL(fileURLToPath(new URL(`../../functions/${f}.js`, import.meta.url))).href);
  const entryImports = entries.map((u) => `await import(${JSON.stringify(u)});`).join(' ');
  const cold = timeRuns(['--input-type=module', '-e', entryImports], iterations);
  ctx.record({ label: 'Functions cold start: node + the four entry modules', unit: 'ms', ...summarise(cold), samples: cold.length, note: 'the firewall kinds\' SDKs load on first use' });
  // What the cold start would cost if every kind's SDK were imported up front, as a plain import would.
  const sdks = ['keyvault', 'storage', 'cosmosdb', 'eventhub', 'servicebus', 'containerregistry', 'cognitiveservices', 'search', 'network'].map((p) => `await import('@azure/arm-${p}');`).join(' ');
  const eager = timeRuns(['--input-type=module', '-e', `${entryImports} ${sdks}`], iterations);
  ctx.record({ label: 'Functions cold start with every kind\'s SDK imported up front', unit: 'ms', ...summarise(eager), samples: eager.length, note: 'the cost lazy loading avoids' });
  const floor = timeRuns([FLOOR, PUBLIC_FILE, '1000'], iterations);
  ctx.record({
    label: "floor: node + read + plan '*' + print, no CLI around it",
    unit: 'ms',
    ...summarise(floor),
    samples: floor.length,
    note: 'test/bench/plan-floor.ts; the gap to the CLI row is what the CLI adds',
  });
  for (const k of [1000, 127]) {
    const samples = timeRuns(plan(k), iterations);
    ctx.record({ label: label(k), unit: 'ms', ...summarise(samples), samples: samples.length, target: CLI_TARGET_MS, note: 'whole process, wall time' });
  }

  const withHook = run(['--import', RSS_HOOK, ...plan(1000)]);
  const kb = /tagwall-bench-maxrss-kb=(\d+)/.exec(withHook.stderr);
  if (kb === null) ctx.skip('peak RSS of the CLI plan', 'the child did not report its memory');
  else ctx.record({ label: "peak RSS, CLI plan '*' K=1000", unit: 'MB', median: Number(kb[1]) / 1024, min: Number(kb[1]) / 1024, samples: 1, note: 'maxRSS of the child process' });
});
