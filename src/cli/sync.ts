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
import { renderRunMarkdown } from './markdown.js';
import { alertMode, quietErrors, secretUrls, type AlertsMode } from './sync-options.js';
import { startChatter } from './run-output.js';

export interface SyncOptions {
  config?: string;
  dryRun: boolean;
  json: boolean;
  detailedExitcode: boolean;
  force: boolean;
  vault?: string[];
  subscription?: string[];
  /** `--alerts send|preview|none`; true (or unset): send on a sync, preview on a dry run; false: `--no-alerts`. */
  alerts: boolean | AlertsMode;
  verbose: boolean;
  /** Only errors on stderr, no text report (a --json or --format report is still printed). */
  quiet?: boolean;
  /** "still waiting" lines on stderr even when it is not a terminal. */
  progress?: boolean;
  /** `--format`: text (default), json (as --json), markdown (a PR comment). */
  format?: 'text' | 'json' | 'markdown';
  /** Milliseconds from the start of the run. */
  deadline?: number;
  /** With --dry-run: write the plan for review (and `tagwall apply`) to this file. */
  out?: string;
}

/** Alert log lines are JSON for log queries; on a terminal a person wants one readable line each. */
export function cliLogger(io: CliIO, verbose: boolean, quiet = false): AlertLogger {
  const render = (level: string, message: string): string | undefined => {
    if (quiet && level !== 'error') return undefined;
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

export async function runSyncCommand(options: SyncOptions, cliIo: CliIO, runtime: Partial<Runtime> = {}, reviewed?: ReviewedPlan): Promise<number> {
  if (options.out !== undefined && !options.dryRun) throw new TagwallError('USAGE', '--out writes a plan for review, so it needs --dry-run; apply the plan with `tagwall apply FILE`');
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: cliIo.env, cwd: cliIo.cwd });
  using chatter = startChatter(cliIo, { ...options, hidden: secretUrls(config, cliIo.env) });
  const io = chatter.io;
  const format = options.json ? 'json' : (options.format ?? 'text');
  const run: RunOptions = {
    dryRun: options.dryRun,
    force: options.force,
    alerts: alertMode(options.alerts, options.dryRun),
    ...(options.vault === undefined ? {} : { vaults: options.vault }),
    ...(options.subscription === undefined ? {} : { subscriptions: options.subscription }),
    ...(options.deadline === undefined ? {} : { deadline: new Date(Date.now() + options.deadline) }),
    ...(options.out === undefined ? {} : { reviewable: true }),
    ...(reviewed === undefined ? {} : { reviewed }),
  };
  const onTargetDone = chatter.onTargetDone;
  const logger = runtime.logger ?? cliLogger(io, options.verbose, options.quiet === true);
  const { report } = await observeRun({ env: io.env, logger, dryRun: run.dryRun, alerts: run.alerts, process: 'cli' }, () => runSync(config, run, {
    env: io.env,
    logger,
    ...(onTargetDone === undefined ? {} : { onTargetDone }),
    ...runtime,
  }));
  if (options.out !== undefined) {
    const plan = planFileOf(report, new Date());
    await writeFile(resolve(io.cwd, options.out), `${JSON.stringify(plan, null, 2)}\n`);
    if (options.quiet !== true) writeLine(io.stderr, `plan for ${plan.targets.length} target(s) with changes written to ${options.out}; apply it with \`tagwall apply ${options.out}\``);
  }
  if (format === 'json') writeLine(io.stdout, JSON.stringify(report));
  else if (format === 'markdown') writeLine(io.stdout, renderRunMarkdown(report, { command: reviewed === undefined ? 'sync' : 'apply' }));
  else if (options.quiet === true) for (const line of quietErrors(report)) writeLine(io.stderr, line);
  else writeLine(io.stdout, renderRunText(report));
  if (options.force && options.quiet !== true && report.vaults.some((v) => (v.forced ?? []).length > 0)) {
    writeLine(io.stderr, 'warning: --force overrode guards for this run; see "forced" in the report');
  }
  return exitCodeFor(report, options.detailedExitcode);
}
