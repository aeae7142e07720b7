import { getGlobalDispatcher, interceptors, request, type Dispatcher, type RetryHandler } from 'undici';
import { TagwallError } from '../core/errors.js';
import { retryAfterMs } from '../core/retry-after.js';
import { WEBHOOK_FORMATS, type WebhookFormat } from './format.js';

/**
 * The optional webhook sink: one JSON POST per notification, each attempt bounded by a
 * timeout and the attempts bounded in number, so an unreachable receiver costs a run
 * seconds, never the run itself. Webhook URLs carry their secret in the path or query
 * (Slack, Teams Workflows), so messages name only the scheme and host.
 */

export interface WebhookConfig {
  readonly url: string;
  readonly format: WebhookFormat;
  /** Per attempt, covering connect, response headers and body. Default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts per notification, including the first. Default 3. */
  readonly attempts?: number;
  /** Wait before the first retry; doubled for each further one. Default 1 s. */
  readonly retryDelayMs?: number;
  /** For a receiver behind a private CA or a proxy. */
  readonly dispatcher?: Dispatcher;
}

export interface WebhookSettings {
  readonly url: URL;
  readonly format: WebhookFormat;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly retryDelayMs: number;
  readonly dispatcher?: Dispatcher;
}

export const WEBHOOK_URL_SETTING = 'TAGWALL_ALERT_WEBHOOK_URL';
export const WEBHOOK_FORMAT_SETTING = 'TAGWALL_ALERT_WEBHOOK_FORMAT';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MAX_ATTEMPTS = 10;
const MAX_TIMEOUT_MS = 120_000;
/** No single wait between attempts, Retry-After included, is longer than this. */
const MAX_RETRY_WAIT_MS = 30_000;

/**
 * Parses and checks a webhook URL. It must be https: the body names vaults and rules and
 * the URL is a credential. Plain http is allowed only to loopback, for local receivers.
 */
export function validateWebhookUrl(raw: string, source = 'alerts.webhook.url'): URL {
  const value = raw.trim();
  if (value === '') throw invalid(`${source} is empty`);
  if (/^@Microsoft\.KeyVault\(/i.test(value)) {
    throw invalid(
      `${source} is an unresolved Key Vault reference; the platform could not read the secret`,
      ["check that the Function App's managed identity may get the secret and that the reference names it correctly"],
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value is not shown: a mistyped webhook URL is still a secret.
    throw invalid(`${source} is not a valid URL (value not shown, it may contain a secret)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`${source} must be an https URL (got a ${url.protocol} URL)`);
  if (!isRealHost(url, value)) {
    // The host is not the secret part of a webhook URL, and naming it shows which placeholder was left in.
    throw invalid(
      `${source} has no real host (got ${JSON.stringify(url.hostname)}): it must be a host name such as hooks.slack.com or an IP address, as in https://prod-12.westeurope.logic.azure.com/workflows/...`,
    );
  }
  if (url.protocol === 'https:') return url;
  if (LOOPBACK_HOSTS.has(url.hostname.toLowerCase())) return url;
  throw invalid(`${source} must use https; plain http is allowed only to 127.0.0.1, localhost or [::1] (got http://${url.host})`);
}

/**
 * The URL parser accepts almost anything as a host (`https://...` has the host "..."), and
 * reads `https://1` as 0.0.0.1, so a placeholder left in a setting would pass and only fail
 * at the first alert. Accept a DNS name (at least two labels, or localhost), a dotted-quad
 * IPv4 address written as such, or an IPv6 literal.
 */
function isRealHost(url: URL, raw: string): boolean {
  const host = url.hostname.toLowerCase();
  // The parser has already validated a bracketed IPv6 literal.
  if (host.startsWith('[')) return true;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host)) return writtenHost(raw) === host;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === 'localhost') return true;
  const labels = name.split('.');
  return name.length <= 253 && labels.length >= 2 && labels.every((l) => HOST_LABEL.test(l));
}

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The host as it was typed, without user info or port, before the parser normalised it. */
function writtenHost(raw: string): string | undefined {
  const authority = /^[a-z][a-z0-9+.-]*:[/\\]{2}([^/\\?#]*)/i.exec(raw)?.[1];
  if (authority === undefined) return undefined;
  return authority.slice(authority.lastIndexOf('@') + 1).replace(/:\d*$/, '').toLowerCase();
}

/** Scheme and host only: safe to log. */
export function describeWebhookUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Checks a webhook configuration and fills in the defaults. */
export function webhookSettings(config: WebhookConfig, source = 'alerts.webhook.url'): WebhookSettings {
  const url = validateWebhookUrl(config.url, source);
  if (!WEBHOOK_FORMATS.includes(config.format)) {
    throw invalid(`alerts.webhook.format must be one of ${WEBHOOK_FORMATS.join(', ')} (got ${JSON.stringify(config.format)})`);
  }
  const timeoutMs = config.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw invalid(`alerts.webhook.timeoutMs must be between 1 and ${MAX_TIMEOUT_MS} (got ${timeoutMs})`);
  }
  const attempts = config.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw invalid(`alerts.webhook.attempts must be a whole number from 1 to ${MAX_ATTEMPTS} (got ${attempts})`);
  }
  const retryDelayMs = config.retryDelayMs ?? 1_000;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0 || retryDelayMs > MAX_RETRY_WAIT_MS) {
    throw invalid(`alerts.webhook.retryDelayMs must be between 0 and ${MAX_RETRY_WAIT_MS} (got ${retryDelayMs})`);
  }
  return { url, format: config.format, timeoutMs, attempts, retryDelayMs, ...(config.dispatcher ? { dispatcher: config.dispatcher } : {}) };
}

/**
 * The webhook to use, from the app setting (which wins: it is where a secret, or a Key
 * Vault reference to one, belongs) or else from config. Undefined when neither sets a URL.
 */
export function resolveWebhookConfig(
  config: { readonly url?: string; readonly format?: string; readonly timeoutMs?: number; readonly attempts?: number } | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): WebhookConfig | undefined {
  const fromEnv = env[WEBHOOK_URL_SETTING]?.trim();
  const url = fromEnv || config?.url?.trim();
  if (!url) return undefined;
  const format = (env[WEBHOOK_FORMAT_SETTING]?.trim() || config?.format || 'generic') as WebhookFormat;
  const resolved: WebhookConfig = { url, format, timeoutMs: config?.timeoutMs, attempts: config?.attempts };
  // Validate now so a bad setting is reported at startup, not at the first alert.
  webhookSettings(resolved, fromEnv ? WEBHOOK_URL_SETTING : 'alerts.webhook.url');
  return resolved;
}

export interface DeliveryResult {
  readonly ok: boolean;
  readonly attempts: number;
  /** The failure might not recur (timeout, network, 5xx, 429): worth trying again next run. */
  readonly transient: boolean;
  readonly error?: string;
  /** The receiver's last HTTP status, when it answered. */
  readonly status?: number;
}

/** What a receiver may accept on a later try: a timeout, 429, or a server failure. */
function retriedStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * POSTs one JSON body through undici's retry interceptor, which re-sends what may succeed on
 * a second try. Its decision is tagwall's (`retry` below): the attempts configured, transport
 * failures and timeouts included (undici's own default leaves timeouts alone), backoff doubling
 * from `retryDelayMs`, at least the Retry-After asked for, never more than 30 s per wait.
 */
export async function postWebhook(settings: WebhookSettings, body: unknown): Promise<DeliveryResult> {
  const payload = JSON.stringify(body);
  const target = describeWebhookUrl(settings.url);
  let failed = 0;
  const retry: RetryHandler.RetryCallback = (err, _context, done) => {
    failed += 1;
    const status = (err as { statusCode?: number }).statusCode;
    if ((status !== undefined && !retriedStatus(status)) || failed >= settings.attempts) return done(err);
    const headers = (err as { headers?: Record<string, string | string[] | undefined> }).headers ?? {};
    const backoff = settings.retryDelayMs * 2 ** (failed - 1);
    setTimeout(() => done(null), Math.min(MAX_RETRY_WAIT_MS, Math.max(backoff, retryAfterMs(headers, Date.now()) ?? 0)));
  };
  const dispatcher = (settings.dispatcher ?? getGlobalDispatcher()).compose(interceptors.retry({ retry, throwOnError: false }));
  const attempt = (n: number) => `(attempt ${n} of ${settings.attempts})`;
  try {
    const res = await request(settings.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'tagwall' },
      body: payload,
      // Per attempt; the signal bounds them all, waits included.
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
      signal: AbortSignal.timeout(settings.attempts * settings.timeoutMs + (settings.attempts - 1) * MAX_RETRY_WAIT_MS),
      dispatcher,
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return { ok: true, attempts: failed + 1, transient: false, status: res.statusCode };
    }
    const text = (await res.body.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 200);
    const transient = retriedStatus(res.statusCode);
    return { ok: false, attempts: failed, transient, status: res.statusCode, error: `${target}: HTTP ${res.statusCode}${text ? ` ${text}` : ''} ${attempt(failed)}` };
  } catch (e) {
    const err = e as Error;
    const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError' || /timeout/i.test(err.name + err.message);
    const n = Math.max(1, failed);
    return { ok: false, attempts: n, transient: true, error: `${target}: ${timedOut ? `no answer within ${settings.timeoutMs} ms` : `request failed (${err.message})`} ${attempt(n)}` };
  }
}

function invalid(message: string, details: readonly string[] = []): TagwallError {
  return new TagwallError('ALERT_WEBHOOK_INVALID', message, { details });
}
