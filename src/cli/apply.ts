import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import { checkPlanAge, parsePlanFile, reviewedOf, type PlanFile } from '../run/plan-file.js';
import { writeLine, type CliIO } from './io.js';
import { runSyncCommand } from './sync.js';

export interface ApplyOptions {
  config?: string;
  json: boolean;
  /** Milliseconds: a plan older than this is refused (PLAN_EXPIRED). */
  maxAge: number;
  alerts: boolean;
  verbose: boolean;
  quiet?: boolean;
  progress?: boolean;
  format?: 'text' | 'json' | 'markdown';
}


/**
 * `tagwall apply FILE`: writes exactly the reviewed plan. The file is checked whole (its shape,
 * its age) before any request; then a sync of the plan's targets alone runs, in which every
 * target's fresh plan must be the reviewed one or it is refused (PLAN_STALE, PLAN_SOURCE_MISMATCH).
 */
export async function runApplyCommand(file: string, options: ApplyOptions, io: CliIO): Promise<number> {
  let plan: PlanFile;
  try {
    const text = await readFile(resolve(io.cwd, file), 'utf8').catch((e: unknown) => {
      throw new TagwallError('PLAN_INVALID', `cannot read the plan ${file}: ${describeError(e)}`);
    });
    plan = parsePlanFile(text, file);
    checkPlanAge(plan, new Date(), options.maxAge);
  } catch (e) {
    if (!isTagwallError(e)) throw e;
    // The code on stderr, and with --json on stdout, so a pipeline tells an expired plan from a refused target.
    writeLine(io.stderr, `tagwall: ${e.code}: ${describeError(e)}`);
    if (options.json || options.format === 'json') writeLine(io.stdout, JSON.stringify({ error: { code: e.code, message: describeError(e) } }));
    return 1;
  }
  if (plan.targets.length === 0) {
    if (options.quiet !== true) writeLine(io.stderr, `the plan ${file} has no changes: nothing to apply`);
    if (options.json || options.format === 'json') writeLine(io.stdout, JSON.stringify({ dryRun: false, vaults: [] }));
    return 0;
  }
  return runSyncCommand(
    {
      ...(options.config === undefined ? {} : { config: options.config }),
      dryRun: false,
      json: options.json,
      detailedExitcode: false,
      force: false,
      vault: plan.targets.map((t) => t.vault),
      alerts: options.alerts,
      verbose: options.verbose,
      ...(options.quiet === undefined ? {} : { quiet: options.quiet }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      ...(options.format === undefined ? {} : { format: options.format }),
    },
    io,
    {},
    reviewedOf(plan),
  );
}
