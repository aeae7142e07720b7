import type { AlertLogger } from '../alerts/types.js';
import { isTagwallError } from '../core/errors.js';
import type { RunReport } from '../run/report.js';
import { logTargetEvents } from './events.js';
import { recordRun, recordRunFailure } from './metrics.js';
import { startTelemetry, type TelemetryOptions } from './setup.js';

/**
 * What the CLI and the Functions handlers wrap a run in, one line each: the exporters started
 * (once per process), the run timed, its metrics and its targets' events recorded, the exporters
 * flushed. A run that throws is a failed attempt; the error goes on unchanged.
 */

export interface ObservedRun {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: AlertLogger;
  readonly dryRun: boolean;
  readonly alerts?: 'send' | 'preview' | 'off';
  readonly process?: TelemetryOptions['process'];
}

export async function observeRun<T extends { readonly report: RunReport }>(observed: ObservedRun, run: () => Promise<T>): Promise<T> {
  const telemetry = await startTelemetry(observed.env, { logger: observed.logger, ...(observed.process === undefined ? {} : { process: observed.process }) });
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const result = await run();
    recordRun(result.report, { durationSeconds: seconds(), ...(observed.alerts === undefined ? {} : { alerts: observed.alerts }) });
    logTargetEvents(observed.logger, result.report);
    return result;
  } catch (e) {
    recordRunFailure(observed.dryRun ? 'dry-run' : 'sync', isTagwallError(e) ? e.code : 'INTERNAL', { durationSeconds: seconds() });
    throw e;
  } finally {
    await telemetry.flush().catch((e: unknown) => observed.logger.warn(`tagwall telemetry not exported: ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** A queue shard: the exporters started and flushed around it; the shard records its own targets (fleet/run.ts). */
export async function withTelemetry<T>(env: NodeJS.ProcessEnv, logger: AlertLogger, work: () => Promise<T>): Promise<T> {
  const telemetry = await startTelemetry(env, { logger });
  try {
    return await work();
  } finally {
    await telemetry.flush().catch((e: unknown) => logger.warn(`tagwall telemetry not exported: ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** A shard's targets, in the metrics and the log; the run's timestamps and duration are its starter's. */
export function recordShard(report: RunReport, logger: AlertLogger): void {
  recordRun(report, { shard: true });
  logTargetEvents(logger, report);
}
