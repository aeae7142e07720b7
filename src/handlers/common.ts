import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSync, type RunOptions, type RunReport, type Runtime } from '../run/run.js';
import type { TagwallConfig } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { describeError, TagwallError } from '../core/errors.js';
import { parseResourceId } from '../core/resource-id.js';
import { renderRunText } from '../run/text-report.js';
import type { AlertLogger } from '../alerts/types.js';
import { DEFAULT_OPERATION_TIMEOUT_MS } from '../targets/long-running.js';
import { observeRun } from '../telemetry/observe.js';

/** What every Functions handler shares: configuration, the runtime, the host's deadline, HTTP answers. */

/** In Azure, state (ownership, alerts, the last good service-tags file) lives in AzureWebJobsStorage. */
const FUNCTIONS_STATE = { store: 'blob' as const, connectionSetting: 'AzureWebJobsStorage', container: 'tagwall' };

function loggerFor(context: InvocationContext): AlertLogger {
  return {
    info: (message, props) => context.log(message, ...(props === undefined ? [] : [props])),
    warn: (message, props) => context.warn(message, ...(props === undefined ? [] : [props])),
    error: (message, props) => context.error(message, ...(props === undefined ? [] : [props])),
  };
}

/** What the host gives an invocation before it kills it, read from host.json (`functionTimeout`). */
export function functionTimeoutMs(hostJson: string | undefined): number {
  const fallback = 10 * 60_000; // the Consumption plan's default and the shipped host.json's value
  if (hostJson === undefined) return fallback;
  try {
    const timeout = (JSON.parse(hostJson) as { functionTimeout?: unknown }).functionTimeout;
    const m = typeof timeout === 'string' ? /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(timeout) : null;
    if (m === null) return fallback;
    return (((Number(m[1] ?? 0) * 24 + Number(m[2])) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1000;
  } catch {
    return fallback;
  }
}

/**
 * A run stops starting vaults a margin before the host's timeout (a vault takes a few seconds:
 * GET, PATCH, GET, record), so no write is cut off halfway; the rest go first next time.
 */
export function deadlineFor(start: Date, timeoutMs: number): Date {
  const margin = Math.min(120_000, Math.max(15_000, timeoutMs * 0.2));
  return new Date(start.getTime() + Math.max(0, timeoutMs - margin));
}

const HTTP_BUDGET_MS = 200_000;

function hostTimeoutMs(): number {
  let text: string | undefined;
  try {
    text = readFileSync(join(process.cwd(), 'host.json'), 'utf8');
  } catch {
    text = undefined;
  }
  return functionTimeoutMs(text);
}

export function hostDeadline(): Date {
  return deadlineFor(new Date(), hostTimeoutMs());
}

/**
 * How long a long-running write (Cosmos DB's, AI services', a registry's) is waited for inside an
 * invocation: half the host's timeout, at most the 20-minute default. A long write starts only
 * when that wait ends before the deadline, so with the default 20 minutes none would ever start
 * under the 10-minute functionTimeout.
 */
export function operationBoundFor(timeoutMs: number): number {
  return Math.min(DEFAULT_OPERATION_TIMEOUT_MS, Math.floor(timeoutMs / 2));
}

/** The HTTP front end gives up on a request after about 230 s, whatever functionTimeout says. */
export function httpDeadline(): Date {
  return new Date(Math.min(hostDeadline().getTime(), Date.now() + HTTP_BUDGET_MS));
}

export function runtimeFor(context: InvocationContext): Runtime {
  return { env: process.env, logger: loggerFor(context), armOperations: { timeoutMs: operationBoundFor(hostTimeoutMs()) } };
}

export async function configFor(context: InvocationContext): Promise<TagwallConfig> {
  try {
    return refuseFileState(await loadConfig({ env: process.env, cwd: process.cwd(), defaultState: FUNCTIONS_STATE }));
  } catch (e) {
    // Never fall back to an empty plan: a bad configuration fails the invocation, loudly.
    context.error(`tagwall configuration is invalid: ${describeError(e)}`);
    throw e;
  }
}

/**
 * Instances scale out, are recycled, and each has its own disk: a state file there would be
 * forgotten between runs and differ between instances, so ownership would be lost and every
 * rule read as unmanaged. Only blob state is shared.
 */
function refuseFileState(config: TagwallConfig): TagwallConfig {
  if (config.state.store !== 'file') return config;
  throw new TagwallError(
    'CONFIG_INVALID',
    'state.store "file" cannot be used in the Functions app: a per-instance disk is not shared between instances or runs; use blob state',
    {
      details: [
        `state.store: "file" (${config.state.path}) is not shared between instances or runs; use {"store": "blob"}, or leave state out for the tagwall container in AzureWebJobsStorage`,
      ],
    },
  );
}

export function logSummary(context: InvocationContext, report: RunReport): void {
  for (const v of report.vaults) {
    const line = `tagwall.vault ${v.vault} outcome=${v.outcome} add=${v.add.length} remove=${v.remove.length} unmanaged=${v.rules.unmanaged} rules=${v.rules.managed + v.rules.unmanaged}/${v.rules.limit} excess=${v.excessAddresses} drift=${v.drift.length}${v.error === undefined ? '' : ` error=${v.error.code}`}`;
    if (v.outcome === 'failed' || v.outcome === 'refused') context.warn(line);
    else context.log(line);
  }
  const by = new Map<string, number>();
  for (const v of report.vaults) by.set(v.outcome, (by.get(v.outcome) ?? 0) + 1);
  context.log(
    `tagwall.run ${report.dryRun ? 'dry-run' : 'apply'} serviceTags=${report.serviceTags.cloud}#${report.serviceTags.changeNumber}${report.serviceTags.cacheUsed ? ' (cache)' : ''} vaults=${report.vaults.length} ${[...by].map(([o, n]) => `${o}=${n}`).join(' ')}`,
  );
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } };
}

export function configProblem(e: unknown): HttpResponseInit {
  const err = e instanceof TagwallError ? e : undefined;
  return json(500, { error: { code: err?.code ?? 'INTERNAL', message: err?.message ?? describeError(e), problems: err?.details ?? [] } });
}

/** A run that failed as a whole: a bad configuration is the app's fault (500), anything else a dependency's (502). */
export function runProblem(context: InvocationContext, e: unknown): HttpResponseInit {
  context.error(`tagwall run failed: ${describeError(e)}`);
  const err = e instanceof TagwallError ? e : undefined;
  // A vault that discovery did not find is the caller's mistake, like an unconfigured one.
  if (err?.code === 'VAULT_NOT_CONFIGURED') return json(400, { error: { code: err.code, message: err.message } });
  return json(err?.code === 'CONFIG_INVALID' ? 500 : 502, { error: { code: err?.code ?? 'INTERNAL', message: describeError(e), problems: err?.details ?? [] } });
}

/** `?vault=` / `"vault"`: any configured target's resource ID, whatever its kind, or with discovery any ID (the run checks it was discovered); a 400 answer otherwise. */
export function narrowTo(config: TagwallConfig, vaultParam: string | null): { readonly vaults?: string[] } | { readonly refused: HttpResponseInit } {
  if (vaultParam === null || vaultParam === '') return {};
  try {
    const ref = parseResourceId(vaultParam);
    if (config.discover === undefined && !config.targets.some((t) => t.resource.id.toLowerCase() === ref.id.toLowerCase())) {
      return { refused: json(400, { error: { code: 'VAULT_NOT_CONFIGURED', message: `${ref.id} is not a configured target` } }) };
    }
    return { vaults: [ref.id] };
  } catch (e) {
    return { refused: json(400, { error: { code: 'VAULT_ID_INVALID', message: describeError(e) } }) };
  }
}

/** The configuration and the `vault` narrowing of an HTTP request, or the answer that refuses it. */
export async function httpRun(context: InvocationContext, vaultParam: string | null): Promise<{ config: TagwallConfig; narrowed: { readonly vaults?: string[] } } | { refused: HttpResponseInit }> {
  let config: TagwallConfig;
  try {
    config = await configFor(context);
  } catch (e) {
    return { refused: configProblem(e) };
  }
  const narrowed = narrowTo(config, vaultParam);
  return 'refused' in narrowed ? narrowed : { config, narrowed };
}

export async function dryRunOverHttp(request: HttpRequest, context: InvocationContext, options: Omit<RunOptions, 'vaults'>, vaultParam: string | null): Promise<HttpResponseInit> {
  const prepared = await httpRun(context, vaultParam);
  if ('refused' in prepared) return prepared.refused;
  const { config, narrowed } = prepared;
  try {
    const runtime = runtimeFor(context);
    const { report } = await observeRun({ env: runtime.env, logger: runtime.logger, dryRun: options.dryRun, alerts: options.alerts }, () => runSync(config, { deadline: httpDeadline(), ...options, ...narrowed }, runtime));
    logSummary(context, report);
    if (request.query.get('format') === 'text') {
      return { status: 200, body: `${renderRunText(report)}\n`, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } };
    }
    return json(200, report);
  } catch (e) {
    return runProblem(context, e);
  }
}
