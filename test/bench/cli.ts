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
  const plan = (k: number) => [CLI, 'plan', '--select', '*', '--service-tags', PUBLIC_FILE, '--max-rules', String(k), '--json'];
  const label = (k: number) => `tagwall plan --select '*' --service-tags <bundled> --json${k === 1000 ? '' : ` --max-rules ${k}`}`;
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
