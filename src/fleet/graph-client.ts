import { getClient } from '@azure-rest/core-client';
import type { PipelinePolicy, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { TagwallError } from '../core/errors.js';
import { retryAfterMs } from '../core/retry-after.js';
import { armConnection, type ArmClientOptions } from '../arm/client-options.js';

/**
 * Resource Graph as one REST call, `POST {arm}/providers/Microsoft.ResourceGraph/resources`
 * ("Resources - Resources"), sent through `@azure-rest/core-client` with the same pipeline as
 * every other ARM client: the configured endpoint's scope, TLS agent, user agent, retry options
 * and the ARM pacer. The pipeline's retry policy waits out 5xx and 429s; Resource Graph's quota
 * is read by one policy here (`graphQuotaPolicy`), which tells that retry how long a 429 asks for
 * and stops the query when Resource Graph asks for too long or too often.
 */
export const GRAPH_API_VERSION = '2024-04-01';
const GRAPH_PATH = '/providers/Microsoft.ResourceGraph/resources';

/** What one query asks, as Resource Graph's REST body has it. */
export interface GraphScope {
  readonly subscriptions?: readonly string[];
  readonly managementGroups?: readonly string[];
}

export interface GraphPageStats {
  /** Requests sent, throttled answers included. */
  readonly requests: number;
  /** Answers that were 429. */
  readonly throttled: number;
  /** Response bytes received (the JSON bodies). */
  readonly bytes: number;
  /** Pauses before a request because the last answer said the quota was spent. */
  readonly quotaWaits: number;
  /** The lowest `x-ms-user-quota-remaining` seen, when Resource Graph sent it. */
  readonly quotaRemaining?: number;
}

export interface GraphReader {
  /** Every row of the query, page after page. Throws GRAPH_* codes. */
  query(query: string, scope: GraphScope): Promise<Record<string, unknown>[]>;
  readonly stats: () => GraphPageStats;
}

export interface GraphReaderOptions extends ArmClientOptions {
  /** Rows per page; Resource Graph's most is 1000. */
  readonly pageSize?: number;
  /** How many 429s in a row one page may meet before the query fails as GRAPH_THROTTLED. */
  readonly maxThrottledRetries?: number;
  /** The longest wait for one 429; a longer Retry-After fails the query rather than hold the run. */
  readonly maxRetryAfterMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const PAGE_SIZE = 1000;
/** The Azure pipeline's own default count of retries. */
const DEFAULT_ARM_RETRIES = 3;

type Headers = { get(name: string): string | undefined | null };

/** `x-ms-user-quota-resets-after` (`hh:mm:ss`, Resource Graph's quota window) in milliseconds. */
export function quotaResetMs(headers: Headers): number | undefined {
  const resets = headers.get('x-ms-user-quota-resets-after');
  const m = resets === undefined || resets === null ? null : /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(resets.trim());
  return m === null ? undefined : ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
}

/** How long a 429 asks to wait: its Retry-After (read as every retry in tagwall reads it), else the quota window's reset. */
export function retryDelayMs(headers: Headers): number | undefined {
  return retryAfterMs({ get: (name) => headers.get(name) ?? undefined }, Date.now()) ?? quotaResetMs(headers);
}

/** What the REST client hands back: the status as text, the headers as an object. */
interface GraphAnswer {
  readonly status: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

interface GraphPage {
  readonly data?: unknown;
  readonly $skipToken?: string;
}

function detailCodes(body: unknown): string[] {
  const error = (body as { error?: { code?: unknown; details?: { code?: unknown }[] } } | null)?.error;
  return [error?.code, ...(error?.details ?? []).map((d) => d.code)].filter((c): c is string => typeof c === 'string');
}

/** A refused or failed answer as the GRAPH_* code it means. */
function graphFailure(status: number, body: unknown): TagwallError {
  const codes = detailCodes(body);
  const error = (body as { error?: { message?: string; details?: { message?: string }[] } } | undefined)?.error;
  const text = [error?.message, ...(error?.details ?? []).map((d) => d.message)].filter((m) => typeof m === 'string').join(' ') || `HTTP ${status}`;
  const values = { status, azureCode: codes.join(',') };
  if (status === 429) return new TagwallError('GRAPH_THROTTLED', `Resource Graph throttled the query and its retries ran out; the fleet was not read: ${text}`, { transient: true, values });
  if (status === 400) return new TagwallError('GRAPH_QUERY_INVALID', `Resource Graph refused the query: ${text}`, { values });
  if (status === 401 || status === 403) return new TagwallError('GRAPH_FORBIDDEN', `Resource Graph refused the identity: ${text}`, { values });
  return new TagwallError('GRAPH_FAILED', `Resource Graph could not be queried: ${text}`, { transient: true, values });
}

/** What the pipeline's exponential retry retries (DOMAIN.md, "Default retries"). */
function retriedFailure(status: number): boolean {
  return status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

function parsed(text: string | null | undefined): unknown {
  try {
    return text === null || text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface QuotaLimits {
  /** 429s in a row one page may meet before GRAPH_THROTTLED. */
  readonly maxRetries: number;
  readonly maxWait: number;
  /** Retries of a failed answer (5xx, 408), as the ARM retry options say for every ARM call. */
  readonly maxFailureRetries: number;
}

interface QuotaTally {
  requests: number;
  throttled: number;
  bytes: number;
  quotaRemaining?: number;
  /** The answer said the quota is spent: the window's reset, in milliseconds. */
  spentFor?: number;
}

/**
 * Sees every attempt (it sits after signing, inside the pipeline's retry): counts requests,
 * bytes and 429s, notes the quota headers, and on a 429 either stops the query (GRAPH_THROTTLED)
 * or writes the wait tagwall read into `retry-after-ms`, the header the pipeline's throttling
 * retry reads first. That makes the pipeline wait what tagwall's one Retry-After reading says,
 * and also wait out a 429 that gives only `x-ms-user-quota-resets-after`, which the pipeline
 * alone would not retry.
 */
function graphQuotaPolicy(limits: QuotaLimits, tally: QuotaTally): PipelinePolicy {
  const inARow = new WeakMap<PipelineRequest, number>();
  const failures = new WeakMap<PipelineRequest, number>();
  const observe = (response: PipelineResponse): void => {
    tally.bytes += response.bodyAsText === undefined || response.bodyAsText === null ? 0 : Buffer.byteLength(response.bodyAsText);
    const header = response.headers.get('x-ms-user-quota-remaining');
    const remaining = Number(header);
    if (header !== undefined && header.trim() !== '' && Number.isFinite(remaining)) tally.quotaRemaining = Math.min(tally.quotaRemaining ?? remaining, remaining);
  };
  return {
    name: 'tagwallGraphQuota',
    async sendRequest(request, next) {
      tally.requests += 1;
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (e) {
        const answered = (e as { response?: PipelineResponse } | null)?.response;
        if (answered !== undefined) observe(answered);
        throw e;
      }
      observe(response);
      if (retriedFailure(response.status)) {
        // The pipeline may retry more often than the ARM retry options allow (it has to, for
        // 429s); a failure past their count ends here, as it would for any other ARM call.
        const failed = (failures.get(request) ?? 0) + 1;
        failures.set(request, failed);
        if (failed > limits.maxFailureRetries) throw graphFailure(response.status, parsed(response.bodyAsText));
      }
      if (response.status !== 429) {
        // The quota is spent: the next page waits for its window to reset rather than spend a request on a sure 429.
        if (response.headers.get('x-ms-user-quota-remaining')?.trim() === '0') tally.spentFor = Math.min(quotaResetMs(response.headers) ?? 0, limits.maxWait);
        return response;
      }
      tally.throttled += 1;
      const count = (inARow.get(request) ?? 0) + 1;
      inARow.set(request, count);
      const wait = retryDelayMs(response.headers) ?? 1000 * 2 ** (count - 1);
      if (count > limits.maxRetries || wait > limits.maxWait) {
        throw new TagwallError('GRAPH_THROTTLED', `Resource Graph throttled the query ${count} times in a row${wait > limits.maxWait ? ` and asked for ${Math.ceil(wait / 1000)} s more` : ''}; the fleet was not read`, {
          transient: true,
          values: { status: 429, retryAfterMs: wait },
        });
      }
      // A fraction of a second more than asked: the quota window is counted on Azure's clock.
      response.headers.set('retry-after-ms', String(Math.ceil(wait) + 100));
      return response;
    },
  };
}

export function createGraphReader(options: GraphReaderOptions): GraphReader {
  const connection = armConnection(options);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pageSize = Math.min(options.pageSize ?? PAGE_SIZE, PAGE_SIZE);
  const { additionalPolicies = [], retryOptions, ...pipeline } = connection.pipeline;
  const limits: QuotaLimits = {
    maxRetries: options.maxThrottledRetries ?? 6,
    maxWait: options.maxRetryAfterMs ?? 60_000,
    maxFailureRetries: retryOptions?.maxRetries ?? DEFAULT_ARM_RETRIES,
  };
  const tally: QuotaTally = { requests: 0, throttled: 0, bytes: 0 };
  let quotaWaits = 0;
  const client = getClient(connection.endpoint, options.credential, {
    ...pipeline,
    credentials: { scopes: [connection.scope] },
    apiVersion: GRAPH_API_VERSION,
    // Enough of the pipeline's retries for the 429s this reader is willing to wait out.
    retryOptions: { ...retryOptions, maxRetries: Math.max(limits.maxFailureRetries, limits.maxRetries) },
    additionalPolicies: [...additionalPolicies, { policy: graphQuotaPolicy(limits, tally), position: 'perRetry' }],
  });

  const page = async (body: Record<string, unknown>): Promise<GraphPage> => {
    if (tally.spentFor !== undefined) {
      const wait = tally.spentFor;
      tally.spentFor = undefined;
      quotaWaits += 1;
      await sleep(wait + 100);
    }
    let answer: GraphAnswer;
    try {
      answer = (await client.path(GRAPH_PATH).post({ body, timeout: connection.operationOptions.requestOptions.timeout })) as GraphAnswer;
    } catch (e) {
      if (e instanceof TagwallError) throw e;
      const err = e as { statusCode?: number; code?: string; message?: string };
      throw new TagwallError('GRAPH_FAILED', `Resource Graph could not be queried: ${err.message ?? String(e)}`, {
        transient: true,
        values: { ...(err.statusCode === undefined ? {} : { status: err.statusCode }), azureCode: err.code ?? '' },
        cause: e,
      });
    }
    const status = Number(answer.status);
    if (status >= 200 && status < 300) return (answer.body ?? {}) as GraphPage;
    throw graphFailure(status, answer.body);
  };

  return {
    async query(query, scope) {
      const rows: Record<string, unknown>[] = [];
      let skipToken: string | undefined;
      do {
        const answer = await page({
          query,
          ...(scope.subscriptions === undefined ? {} : { subscriptions: [...scope.subscriptions] }),
          ...(scope.managementGroups === undefined ? {} : { managementGroups: [...scope.managementGroups] }),
          options: { $top: pageSize, resultFormat: 'objectArray', ...(skipToken === undefined ? {} : { $skipToken: skipToken }) },
        });
        const data: unknown = answer.data;
        if (!Array.isArray(data)) throw new TagwallError('GRAPH_FAILED', 'Resource Graph answered without an array of rows (resultFormat objectArray was asked for)');
        rows.push(...(data as Record<string, unknown>[]));
        skipToken = answer.$skipToken;
      } while (skipToken !== undefined && skipToken !== '');
      return rows;
    },
    stats: () => ({
      requests: tally.requests, throttled: tally.throttled, bytes: tally.bytes, quotaWaits,
      ...(tally.quotaRemaining === undefined ? {} : { quotaRemaining: tally.quotaRemaining }),
    }),
  };
}
