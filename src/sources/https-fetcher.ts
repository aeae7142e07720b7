import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, interceptors, request, type Dispatcher, type RetryHandler } from 'undici';
import { TagwallError } from '../core/errors.js';
import { retryAfterMs } from '../core/retry-after.js';
import { HostAllowList } from './allowed-hosts.js';
import { tagwallUserAgent } from '../version.js';

/**
 * HTTPS GET and HEAD for the service-tags sources: host allow-list checked on every hop,
 * redirects followed by hand (so a hop is checked before it is connected to), a size cap,
 * and retries with backoff. The retries are undici's retry interceptor, composed on the
 * dispatcher, with tagwall's decision (`Attempts.retry`): timeouts are retried too (undici's
 * default leaves them alone), Retry-After is read the one way tagwall reads it, and one asking
 * for longer than the backoff's limit ends the retries. A body that breaks after its answer
 * started is fetched again from the top (undici would resume it with a Range request, which a
 * mirror need not honour), from the same count of attempts.
 */
export interface FetchTimeouts {
  /** TCP + TLS handshake. */
  readonly connectMs: number;
  /** From sending the request to the end of the response headers. */
  readonly headersMs: number;
  /** Longest silence between two pieces of the body. */
  readonly bodyMs: number;
  /** Whole request of one hop, its retries included, so a server dribbling one byte at a time cannot hold a run forever. */
  readonly totalMs: number;
}

export interface FetchBackoff {
  /** Wait before the second attempt; doubles for each one after it. */
  readonly initialMs: number;
  /** No wait is longer, and a `Retry-After` asking for more ends the retries. */
  readonly maxMs: number;
}

export interface FetchOptions {
  readonly attempts?: number;
  readonly timeouts?: Partial<FetchTimeouts>;
  readonly maxBytes?: number;
  readonly backoff?: Partial<FetchBackoff>;
  /** Extra CA certificate(s), PEM, trusted besides the public roots (mirrors, tests). */
  readonly ca?: string | readonly string[];
  /** Use this dispatcher instead of building one; its owner closes it. */
  readonly dispatcher?: Dispatcher;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_ATTEMPTS = 4;
export const DEFAULT_TIMEOUTS: FetchTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 30_000, totalMs: 180_000 };
export const DEFAULT_BACKOFF: FetchBackoff = { initialMs: 1_000, maxMs: 30_000 };
export const MAX_REDIRECTS = 5;

export interface FetchedBody {
  /** The URL the body finally came from, after redirects. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface GetOptions {
  /** Names the request in messages: `Public download page`. */
  readonly purpose: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Redirects carry the request elsewhere; off for requests that carry a bearer token. */
  readonly followRedirects?: boolean;
  readonly onProgress?: (received: number, total?: number) => void;
  /**
   * Turns the start of an error response's body into a detail line (an API's error code
   * and message); without it error bodies are discarded unread.
   */
  readonly errorDetail?: (body: string) => string | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const RETRIED_NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function retriedStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/** One failed attempt, turned into an error that says whether another attempt may help. */
function classify(e: unknown, url: string, purpose: string, maxBytes: number, timeouts: FetchTimeouts): TagwallError {
  if (e instanceof TagwallError) return e;
  const err = e as { code?: string; name?: string; message?: string };
  const code = err.code ?? '';
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new TagwallError('SERVICE_TAGS_TOO_LARGE', `${purpose}: ${url} sent more than ${maxBytes} bytes; the download was stopped`, { cause: e });
  }
  if (TIMEOUT_CODES.has(code) || err.name === 'TimeoutError') {
    const which = code === 'UND_ERR_CONNECT_TIMEOUT' ? `connecting took more than ${timeouts.connectMs} ms`
      : code === 'UND_ERR_HEADERS_TIMEOUT' ? `no response headers within ${timeouts.headersMs} ms`
        : code === 'UND_ERR_BODY_TIMEOUT' ? `the body stalled for more than ${timeouts.bodyMs} ms`
          : `the whole request took more than ${timeouts.totalMs} ms`;
    return new TagwallError('DOWNLOAD_TIMEOUT', `${purpose}: ${url}: ${which}`, { transient: true, cause: e });
  }
  if (RETRIED_NETWORK_CODES.has(code)) {
    return new TagwallError('DOWNLOAD_NETWORK', `${purpose}: ${url}: ${err.message ?? code} (${code})`, { transient: true, cause: e });
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
    return new TagwallError('DOWNLOAD_TLS', `${purpose}: ${url}: the TLS certificate was not trusted (${code})`, { cause: e });
  }
  return new TagwallError('DOWNLOAD_NETWORK', `${purpose}: ${url}: ${err.message ?? String(e)}${code ? ` (${code})` : ''}`, { cause: e });
}

async function readPrefix(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** One call's attempts, counted across undici's retries and the restarts of a broken body. */
class Attempts {
  readonly failures: string[] = [];
  /** Attempts that failed so far. */
  failed = 0;
  /** The current answer has arrived: a failure now is its body's, which undici must not resume. */
  inBody = false;
  /** A Retry-After that asked for more than the backoff's limit. */
  tooLongMs: number | undefined;
  /** Failures already counted, so the one that ends the call is not counted twice. */
  readonly counted = new WeakSet<object>();

  constructor(
    private readonly fetcher: HttpsFetcher,
    readonly purpose: string,
    public url: string,
  ) {}

  record(message: string): void {
    this.failed += 1;
    this.failures.push(`attempt ${this.failed}: ${message}`);
  }

  /** The wait before attempt `failed + 1`: doubling from the initial wait, with jitter to spread out runs that failed together. */
  backoffMs(): number {
    const { initialMs, maxMs } = this.fetcher.backoff;
    return Math.min(maxMs, initialMs * 2 ** (this.failed - 1)) * (0.5 + Math.random() / 2);
  }

  /** undici's retry interceptor asks this whether, and when, to send a failed request again. */
  readonly retry: RetryHandler.RetryCallback = (err, _context, done) => {
    if (this.inBody) return done(err);
    const { statusCode: status, headers } = err as { statusCode?: number; headers?: Record<string, string | string[] | undefined> };
    // Redirects and refusals are the answer, for the caller to read; they are not failed attempts.
    if (status !== undefined && !retriedStatus(status)) return done(err);
    const failure = status === undefined
      ? classify(err, this.url, this.purpose, this.fetcher.maxBytes, this.fetcher.timeouts)
      : new TagwallError('DOWNLOAD_HTTP_STATUS', `${this.purpose}: ${this.url} answered HTTP ${status}`, { transient: true });
    this.record(failure.message);
    this.counted.add(err);
    const wait = status === undefined ? undefined : retryAfterMs(headers ?? {}, Date.now());
    if (wait !== undefined && wait > this.fetcher.backoff.maxMs) this.tooLongMs = wait;
    if (!failure.transient || this.failed >= this.fetcher.attempts || this.tooLongMs !== undefined) return done(err);
    setTimeout(() => done(null), wait ?? this.backoffMs());
  };
}

/** A refused answer whose status the retry callback has already counted as a failed attempt. */
class CountedStatusError extends TagwallError {}

export class HttpsFetcher {
  readonly allowList: HostAllowList;
  readonly attempts: number;
  readonly timeouts: FetchTimeouts;
  readonly maxBytes: number;
  readonly backoff: FetchBackoff;
  /** The agent (or the caller's dispatcher) that connects; closed here only when built here. */
  private readonly base: Dispatcher;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(allowedHosts: readonly string[], options: FetchOptions = {}) {
    this.allowList = new HostAllowList(allowedHosts);
    this.attempts = Math.max(1, Math.floor(options.attempts ?? DEFAULT_ATTEMPTS));
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.ownsDispatcher = options.dispatcher === undefined;
    this.base = options.dispatcher ?? this.agent(options);
    // Each request brings its own retry callback (`retryOptions.retry`); throwOnError off hands the last answer over to be read.
    this.dispatcher = this.base.compose(interceptors.retry({ throwOnError: false }));
  }

  private agent(options: FetchOptions): Dispatcher {
    const extraCa = options.ca === undefined ? [] : typeof options.ca === 'string' ? [options.ca] : [...options.ca];
    return new Agent({
      // Passing `ca` replaces Node's trust store, so keep the public roots beside the extra CA.
      connect: { timeout: this.timeouts.connectMs, ...(extraCa.length > 0 ? { ca: [...rootCertificates, ...extraCa] } : {}) },
      headersTimeout: this.timeouts.headersMs,
      bodyTimeout: this.timeouts.bodyMs,
      maxResponseSize: this.maxBytes,
    });
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.base.close();
  }

  /** GET that resolves only with a 2xx body within the size cap. */
  async get(url: string, options: GetOptions): Promise<FetchedBody> {
    return this.withRetries(url, options.purpose, async (attempts) => {
      const res = await this.exchange(url, 'GET', options, attempts);
      if (res.statusCode < 200 || res.statusCode > 299) return this.refuseStatus(res, options.purpose, options.errorDetail);
      return { url: res.url, status: res.statusCode, headers: res.headers, body: await this.readCapped(res, options) };
    });
  }

  /**
   * HEAD, for probing whether a file exists. Resolves with the final status; only statuses
   * worth retrying (and transport failures) are retried and then thrown.
   */
  async head(url: string, purpose: string): Promise<number> {
    return this.withRetries(url, purpose, async (attempts) => {
      const res = await this.exchange(url, 'HEAD', { purpose }, attempts);
      await res.body.dump();
      if (retriedStatus(res.statusCode)) return this.refuseStatus(res, purpose);
      return res.statusCode;
    });
  }

  private async withRetries<T>(url: string, purpose: string, attempt: (attempts: Attempts) => Promise<T>): Promise<T> {
    const attempts = new Attempts(this, purpose, url);
    for (;;) {
      let failure: TagwallError;
      try {
        return await attempt(attempts);
      } catch (e) {
        failure = classify(e, url, purpose, this.maxBytes, this.timeouts);
        const cause = (e as { cause?: unknown } | null)?.cause;
        if (e instanceof CountedStatusError) attempts.failures[attempts.failed - 1] = `attempt ${attempts.failed}: ${failure.message}`;
        else if (!(attempts.counted.has(e as object) || (typeof cause === 'object' && cause !== null && attempts.counted.has(cause)))) attempts.record(failure.message);
      }
      const n = attempts.failed;
      const tooLong = attempts.tooLongMs;
      if (!failure.transient || n >= this.attempts || tooLong !== undefined) {
        const why = tooLong !== undefined ? `; the server asked to wait ${Math.ceil(tooLong / 1000)} s, more than the ${this.backoff.maxMs} ms limit`
          : failure.transient && n > 1 ? `; gave up after ${n} attempts` : '';
        throw new TagwallError(failure.code, `${failure.message}${why}`, {
          transient: failure.transient, details: n > 1 ? attempts.failures : failure.details, cause: failure.cause ?? failure,
        });
      }
      // A body that broke after its answer began: start again from the top.
      await sleep(attempts.backoffMs());
    }
  }

  /** Sends the request, following redirects within the allow-list, each hop checked first. */
  private async exchange(start: string, method: 'GET' | 'HEAD', options: GetOptions, attempts: Attempts): Promise<Dispatcher.ResponseData & { url: string }> {
    let url: URL;
    try {
      url = new URL(start);
    } catch {
      throw new TagwallError('DOWNLOAD_BAD_URL', `${options.purpose}: "${start}" is not a URL`);
    }
    const signal = AbortSignal.timeout(this.timeouts.totalMs);
    for (let hops = 0; ; hops++) {
      this.allowList.check(url, options.purpose);
      attempts.url = url.href;
      attempts.inBody = false;
      const res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        headers: { 'user-agent': tagwallUserAgent(), ...options.headers },
        headersTimeout: this.timeouts.headersMs,
        bodyTimeout: this.timeouts.bodyMs,
        signal,
        retryOptions: { retry: attempts.retry },
      } as Parameters<typeof request<null>>[1]);
      attempts.inBody = true;
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode) || typeof location !== 'string' || options.followRedirects === false) {
        return Object.assign(res, { url: url.href });
      }
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (hops >= MAX_REDIRECTS) {
        throw new TagwallError('DOWNLOAD_TOO_MANY_REDIRECTS', `${options.purpose}: ${start} redirected more than ${MAX_REDIRECTS} times`);
      }
      try {
        url = new URL(location, url);
      } catch {
        throw new TagwallError('DOWNLOAD_BAD_URL', `${options.purpose}: ${url.href} redirected to "${location}", which is not a URL`);
      }
    }
  }

  private async refuseStatus(res: Dispatcher.ResponseData & { url: string }, purpose: string, errorDetail?: (body: string) => string | undefined): Promise<never> {
    let detail: string | undefined;
    if (errorDetail) {
      const text = await readPrefix(res.body, 64 * 1024).catch(() => '');
      detail = errorDetail(text);
    } else {
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    }
    const message = `${purpose}: ${res.url} answered HTTP ${res.statusCode}${detail ? `: ${detail}` : ''}`;
    if (!retriedStatus(res.statusCode)) throw new TagwallError('DOWNLOAD_HTTP_STATUS', message);
    throw new CountedStatusError('DOWNLOAD_HTTP_STATUS', message, { transient: true });
  }

  /** Reads the body, stopping as soon as it passes the cap (undici's own cap is a second guard). */
  private async readCapped(res: Dispatcher.ResponseData & { url: string }, options: GetOptions): Promise<Buffer> {
    const declared = Number(res.headers['content-length']);
    const total = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
    if (total !== undefined && total > this.maxBytes) {
      res.body.destroy();
      throw new TagwallError('SERVICE_TAGS_TOO_LARGE', `${options.purpose}: ${res.url} announced ${total} bytes, more than the ${this.maxBytes} allowed; nothing was read`);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > this.maxBytes) {
        res.body.destroy();
        throw new TagwallError('SERVICE_TAGS_TOO_LARGE', `${options.purpose}: ${res.url} sent more than ${this.maxBytes} bytes; the download was stopped`);
      }
      chunks.push(chunk);
      options.onProgress?.(received, total);
    }
    return Buffer.concat(chunks, received);
  }
}
