import type { InvocationContext, Timer } from '@azure/functions';
import { runSync, type RunOptions } from '../run/run.js';
import { TagwallError } from '../core/errors.js';
import type { RunReport } from '../run/run.js';
import { configFor, hostDeadline, logSummary, runtimeFor } from './common.js';
import { observeRun } from '../telemetry/observe.js';

/**
 * What the Functions triggers do. The entry files in functions/ only register these, so tests
 * call them directly with real InvocationContext and HttpRequest objects. The fleet's handlers
 * (the sync timer, manual apply, shards, run status) are in fleet.ts.
 */

export { deadlineFor, functionTimeoutMs, operationBoundFor } from './common.js';
export { manualSync, syncAllowlists } from './fleet.js';
/** HTTP GET /api/plan: the dry run, never a write, stored as a reviewed plan whose planId it answers (plans.ts). `?vault=<id>` narrows it, `?format=text` gives the table. */
export { planAllowlists } from './plans.js';

async function run(context: InvocationContext, options: RunOptions): Promise<RunReport> {
  const config = await configFor(context);
  const runtime = runtimeFor(context);
  const { report } = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: options.dryRun, alerts: options.alerts }, () => runSync(config, { deadline: hostDeadline(), ...options }, runtime));
  logSummary(context, report);
  return report;
}

/** Timer: detect drift and alert. A dry run: it never writes to a vault. */
export async function checkDrift(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await run(context, { dryRun: true, force: false, alerts: 'send' });
  const failed = report.vaults.filter((v) => v.outcome === 'failed');
  if (failed.length > 0) throw new TagwallError('DRIFT_CHECK_FAILED', `${failed.length} target${failed.length === 1 ? '' : 's'} could not be read: ${failed.map((v) => v.vault).join(', ')}`);
}
