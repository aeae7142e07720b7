import type { TokenCredential } from '@azure/core-auth';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { ResourceGraphModels } from '@azure/arm-resourcegraph';
type QueryRequest = ResourceGraphModels.QueryRequest;
type ResourcesResponse = ResourceGraphModels.ResourcesResponse;
import { TagwallError } from '../core/errors.js';
import { armConnection, type ArmClientOptions } from '../targets/arm-client-options.js';
import { retryAfterEnd } from './pacing.js';

/**
 * Resource Graph through `@azure/arm-resourcegraph` 4.2.1, the last release that declares
 * Node 20. It is the older ms-rest-js generation, which matters in three places:
 * - its TokenCredential adapter asks for a token for management.azure.com whatever the cloud,
 *   so the client is given a credential that signs with the configured endpoint's scope;
 * - its retry policies do not retry a Resource Graph 429 (it is thrown first), so this file
 *   waits out `Retry-After` or `x-ms-user-quota-resets-after` itself;
 * - TLS settings go in as `agentSettings`, so the emulator's CA is trusted the same way as
 *   for the firewall adapters.
 */

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

type Headers = { get(name: string): string | undefined | null };

/** `x-ms-user-quota-resets-after` (`hh:mm:ss`, Resource Graph's quota window) in milliseconds. */
export function quotaResetMs(headers: Headers): number | undefined {
  const resets = headers.get('x-ms-user-quota-resets-after');
  const m = resets === undefined || resets === null ? null : /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(resets.trim());
  return m === null ? undefined : ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
}

/** How long a 429 asks to wait: its Retry-After (read as ARM's pacer reads it), else the quota window's reset. */
export function retryDelayMs(headers: Headers): number | undefined {
  const now = Date.now();
  const end = retryAfterEnd({ get: (name) => headers.get(name) ?? undefined }, now);
  return end !== undefined ? end - now : quotaResetMs(headers);
}

interface RestErrorLike {
  readonly statusCode?: number;
  readonly code?: string;
  readonly message?: string;
  readonly body?: unknown;
  readonly response?: { readonly headers: { get(name: string): string | undefined }; readonly bodyAsText?: string | null };
}

function detailCodes(body: unknown): string[] {
  const error = (body as { error?: { code?: unknown; details?: { code?: unknown }[] } } | null)?.error;
  return [error?.code, ...(error?.details ?? []).map((d) => d.code)].filter((c): c is string => typeof c === 'string');
}

export function createGraphReader(options: GraphReaderOptions): GraphReader {
  const connection = armConnection(options);
  const credential: TokenCredential = options.credential;
  // ms-rest-js's ServiceClientCredentials: sign each request with a token for this cloud's ARM.
  const signer = {
    async signRequest<T extends { headers: { set(name: string, value: string): void } }>(request: T): Promise<T> {
      const token = await credential.getToken(connection.scope);
      if (token === null) throw new TagwallError('VAULT_CREDENTIAL_UNAVAILABLE', `no token for ${connection.scope}`);
      request.headers.set('authorization', `Bearer ${token.token}`);
      return request;
    },
  };
  const agent = connection.pipeline.agent;
  const client = new ResourceGraphClient(signer, {
    baseUri: connection.endpoint,
    ...(agent === undefined ? {} : { agentSettings: { http: agent as never, https: agent } }),
    ...(options.userAgentPrefix === undefined ? {} : { userAgent: options.userAgentPrefix }),
  });
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pageSize = Math.min(options.pageSize ?? PAGE_SIZE, PAGE_SIZE);
  const maxRetries = options.maxThrottledRetries ?? 6;
  const maxWait = options.maxRetryAfterMs ?? 60_000;
  let requests = 0;
  let throttled = 0;
  let bytes = 0;
  let quotaRemaining: number | undefined;
  let quotaWaits = 0;

  const observe = (headers: { get(name: string): string | undefined } | undefined, text: string | null | undefined) => {
    bytes += text === null || text === undefined ? 0 : Buffer.byteLength(text);
    const remaining = Number(headers?.get('x-ms-user-quota-remaining'));
    if (headers?.get('x-ms-user-quota-remaining') !== undefined && Number.isFinite(remaining)) quotaRemaining = Math.min(quotaRemaining ?? remaining, remaining);
  };

  let quotaPauseMs = 0;
  const page = async (request: QueryRequest): Promise<ResourcesResponse> => {
    if (quotaPauseMs > 0) {
      const wait = quotaPauseMs;
      quotaPauseMs = 0;
      quotaWaits += 1;
      await sleep(wait + 100);
    }
    for (let attempt = 0; ; attempt++) {
      requests += 1;
      let answer: ResourcesResponse;
      try {
        // Not the client's own `timeout`: ms-rest-js leaves that timer running after the answer,
        // which held a finished CLI run open for a minute. AbortSignal.timeout does not hold it.
        answer = await client.resources(request, { abortSignal: AbortSignal.timeout(connection.operationOptions.requestOptions.timeout) as never });
      } catch (e) {
        const err = e as RestErrorLike;
        observe(err.response?.headers, err.response?.bodyAsText);
        const status = err.statusCode;
        if (status === 429) {
          throttled += 1;
          const wait = (err.response === undefined ? undefined : retryDelayMs(err.response.headers)) ?? 1000 * 2 ** attempt;
          if (attempt >= maxRetries || wait > maxWait) {
            throw new TagwallError('GRAPH_THROTTLED', `Resource Graph throttled the query ${attempt + 1} times in a row${wait > maxWait ? ` and asked for ${Math.ceil(wait / 1000)} s more` : ''}; the fleet was not read`, {
              transient: true,
              values: { status, retryAfterMs: wait },
              cause: e,
            });
          }
          // A fraction of a second more than asked: the quota window is counted on Azure's clock.
          await sleep(wait + 100);
          continue;
        }
        let body: unknown = err.body;
        if (body === undefined && typeof err.response?.bodyAsText === 'string') {
          try {
            body = JSON.parse(err.response.bodyAsText);
          } catch {
            body = undefined;
          }
        }
        const codes = detailCodes(body);
        const message = (body as { error?: { message?: string; details?: { message?: string }[] } } | undefined)?.error;
        const text = [message?.message, ...(message?.details ?? []).map((d) => d.message)].filter((m) => typeof m === 'string').join(' ') || err.message || String(e);
        if (status === 400) throw new TagwallError('GRAPH_QUERY_INVALID', `Resource Graph refused the query: ${text}`, { values: { status, azureCode: codes.join(',') }, cause: e });
        if (status === 401 || status === 403) throw new TagwallError('GRAPH_FORBIDDEN', `Resource Graph refused the identity: ${text}`, { values: { status, azureCode: codes.join(',') }, cause: e });
        throw new TagwallError('GRAPH_FAILED', `Resource Graph could not be queried: ${text}`, { transient: true, values: { ...(status === undefined ? {} : { status }), azureCode: codes.join(',') }, cause: e });
      }
      observe(answer._response.headers as never, answer._response.bodyAsText);
      // The quota is spent: wait for its window to reset rather than spend a request on a sure 429.
      const headers = answer._response.headers as unknown as { get(name: string): string | undefined };
      if (headers.get('x-ms-user-quota-remaining') === '0') quotaPauseMs = Math.min(quotaResetMs(headers) ?? 0, maxWait);
      return answer;
    }
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
          options: { top: pageSize, resultFormat: 'objectArray', ...(skipToken === undefined ? {} : { skipToken }) },
        });
        const data: unknown = answer.data;
        if (!Array.isArray(data)) throw new TagwallError('GRAPH_FAILED', 'Resource Graph answered without an array of rows (resultFormat objectArray was asked for)');
        rows.push(...(data as Record<string, unknown>[]));
        skipToken = answer.skipToken;
      } while (skipToken !== undefined && skipToken !== '');
      return rows;
    },
    stats: () => ({ requests, throttled, bytes, quotaWaits, ...(quotaRemaining === undefined ? {} : { quotaRemaining }) }),
  };
}
