import { runSync, type RunOptions, type Runtime } from '../run/run.js';
import type { AlertLogger } from '../alerts/types.js';
import { loadConfig } from '../config/load.js';
import { exitCodeFor } from '../run/run.js';
import { renderRunText } from '../run/text-report.js';
import { observeRun } from '../telemetry/observe.js';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TagwallError } from '../core/errors.js';
import type { ReviewedPlan } from '../run/context.js';
import { planFileOf } from '../run/plan-file.js';
import { writeLine, type CliIO } from './io.js';

export interface SyncOptions {
  config?: string;
  dryRun: boolean;
  json: boolean;
  detailedExitcode: boolean;
  force: boolean;
  vault?: string[];
  subscription?: string[];
  alerts: boolean;
  verbose: boolean;
  /** Milliseconds from the start of the run. */
  deadline?: number;
  /** With --dry-run: write the plan for review (and `tagwall apply`) to this file. */
  out?: string;
}

/** Alert log lines are JSON for log queries; on a terminal a person wants one readable line each. */
export function cliLogger(io: CliIO, verbose: boolean): AlertLogger {
  const render = (level: string, message: string): string | undefined => {
    const m = /^(tagwall\.alert|tagwall\.would-alert) (\{.*\})$/s.exec(message);
    if (m === null) return verbose || level !== 'info' ? `${level}: ${message}` : undefined;
    const e = JSON.parse(m[2]!) as { severity: string; state: string; title: string; action: string };
    const verb = m[1] === 'tagwall.would-alert' ? 'would alert' : 'alert';
    return `${verb} [${e.severity}, ${e.state}] ${e.title}. ${e.action}`;
  };
  const emit = (level: string) => (message: string) => {
    const line = render(level, message);
    if (line !== undefined) writeLine(io.stderr, line);
  };
  return { info: emit('info'), warn: emit('warning'), error: emit('error') };
}

/** One updating line on a terminal, only when there are enough targets for it to matter. */
function progress(io: CliIO): Runtime['onTargetDone'] {
  if (io.stderr.isTTY !== true) return undefined;
  return (_report, done, total) => {
    if (total < 5) return;
    io.stderr.write(`\r${done}/${total} targets${done === total ? '\n' : ''}`);
  };
}

export async function runSyncCommand(options: SyncOptions, io: CliIO, runtime: Partial<Runtime> = {}, reviewed?: ReviewedPlan): Promise<number> {
  if (options.out !== undefined && !options.dryRun) throw new TagwallError('USAGE', '--out writes a plan for review, so it needs --dry-run; apply the plan with `tagwall apply FILE`');
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: io.env, cwd: io.cwd });
  const run: RunOptions = {
    dryRun: options.dryRun,
    force: options.force,
    alerts: options.alerts ? (options.dryRun ? 'preview' : 'send') : 'off',
    ...(options.vault === undefined ? {} : { vaults: options.vault }),
    ...(options.subscription === undefined ? {} : { subscriptions: options.subscription }),
    ...(options.deadline === undefined ? {} : { deadline: new Date(Date.now() + options.deadline) }),
    ...(options.out === undefined ? {} : { reviewable: true }),
    ...(reviewed === undefined ? {} : { reviewed }),
  };
  const onTargetDone = progress(io);
  const logger = runtime.logger ?? cliLogger(io, options.verbose);
  const { report } = await observeRun({ env: io.env, logger, dryRun: run.dryRun, alerts: run.alerts, process: 'cli' }, () => runSync(config, run, {
    env: io.env,
    logger,
    ...(onTargetDone === undefined ? {} : { onTargetDone }),
    ...runtime,
  }));
  if (options.out !== undefined) {
    const plan = planFileOf(report, new Date());
    await writeFile(resolve(io.cwd, options.out), `${JSON.stringify(plan, null, 2)}\n`);
    writeLine(io.stderr, `plan for ${plan.targets.length} target(s) with changes written to ${options.out}; apply it with \`tagwall apply ${options.out}\``);
  }
  if (options.json) writeLine(io.stdout, JSON.stringify(report));
  else writeLine(io.stdout, renderRunText(report));
  if (options.force && report.vaults.some((v) => (v.forced ?? []).length > 0)) {
    writeLine(io.stderr, 'warning: --force overrode guards for this run; see "forced" in the report');
  }
  return exitCodeFor(report, options.detailedExitcode);
}
