import { subscribe, unsubscribe } from 'node:diagnostics_channel';

/**
 * Every HTTP request the process makes, as Node and undici announce it on their diagnostics
 * channels: the ARM and Resource Graph clients and the blob store (the Azure core pipeline, on
 * node:https), the service-tags download and the alert webhook (undici), the token requests.
 * One watcher here sees all of them, where a pipeline policy would see only the Azure SDKs'
 * clients and would have to be threaded through every adapter that builds one.
 *
 * Only the method, the host and the path (without its query: SAS tokens and signatures live
 * there) are kept; headers, where bearer tokens live, are never read. A path that is itself a
 * secret (a Slack or Teams webhook URL) is named by its host alone.
 */

export interface RequestEvent {
  readonly method: string;
  /** host[:port]/path, without the query string; a hidden path is left out. */
  readonly target: string;
  /** The path alone (no host, no query), for telling which resource a request concerns. */
  readonly path: string;
  readonly startedAt: number;
}

export interface RequestWatcher {
  /** Requests sent and not yet answered, oldest first. */
  inFlight(): readonly RequestEvent[];
  dispose(): void;
}

export interface WatchOptions {
  /** Called once per request when its answer's headers arrive, or it fails. */
  readonly onDone?: (request: RequestEvent, outcome: { readonly status?: number; readonly error?: string }, durationMs: number) => void;
  readonly onStart?: (request: RequestEvent) => void;
  /** URLs whose path must not be shown (the alert webhook's: its path may be its secret). */
  readonly hidden?: readonly URL[];
  readonly clock?: () => number;
}

const NODE_START = 'http.client.request.start';
const NODE_RESPONSE = 'http.client.response.finish';
const NODE_ERROR = 'http.client.request.error';
const UNDICI_CREATE = 'undici:request:create';
const UNDICI_HEADERS = 'undici:request:headers';
const UNDICI_ERROR = 'undici:request:error';

interface NodeRequest {
  readonly method?: string;
  readonly host?: string;
  readonly path?: string;
  getHeader?(name: string): unknown;
}

interface UndiciRequest {
  readonly origin?: string | URL;
  readonly method?: string;
  readonly path?: string;
}

function withoutQuery(path: string): string {
  const q = path.search(/[?#]/);
  return q === -1 ? path : path.slice(0, q);
}

function isHidden(hidden: readonly URL[], host: string, path: string): boolean {
  return hidden.some((u) => u.host.toLowerCase() === host.toLowerCase() && withoutQuery(u.pathname) === path);
}

/** Starts watching; `dispose` stops. Nothing is printed here: `onDone` decides. */
export function watchRequests(options: WatchOptions): RequestWatcher {
  const clock = options.clock ?? (() => performance.now());
  const hidden = options.hidden ?? [];
  const open = new Map<object, RequestEvent>();

  const start = (key: object, method: string, host: string, rawPath: string): void => {
    const path = withoutQuery(rawPath) || '/';
    const event: RequestEvent = { method: method.toUpperCase(), target: isHidden(hidden, host, path) ? `${host} (path not shown)` : `${host}${path}`, path, startedAt: clock() };
    open.set(key, event);
    options.onStart?.(event);
  };
  const done = (key: object, outcome: { status?: number; error?: string }): void => {
    const event = open.get(key);
    if (event === undefined) return;
    open.delete(key);
    options.onDone?.(event, outcome, clock() - event.startedAt);
  };

  const handlers: [string, (message: unknown) => void][] = [
    [
      NODE_START,
      (m) => {
        const req = (m as { request: NodeRequest }).request;
        const host = String(req.getHeader?.('host') ?? req.host ?? '');
        start(req, req.method ?? 'GET', host, req.path ?? '/');
      },
    ],
    [NODE_RESPONSE, (m) => done((m as { request: object }).request, { status: (m as { response: { statusCode?: number } }).response.statusCode ?? 0 })],
    [NODE_ERROR, (m) => done((m as { request: object }).request, { error: errorName(m) })],
    [
      UNDICI_CREATE,
      (m) => {
        const req = (m as { request: UndiciRequest }).request;
        let host = '';
        try {
          host = new URL(String(req.origin ?? '')).host;
        } catch {
          host = String(req.origin ?? '');
        }
        start(req, req.method ?? 'GET', host, req.path ?? '/');
      },
    ],
    [UNDICI_HEADERS, (m) => done((m as { request: object }).request, { status: (m as { response: { statusCode?: number } }).response.statusCode ?? 0 })],
    [UNDICI_ERROR, (m) => done((m as { request: object }).request, { error: errorName(m) })],
  ];
  for (const [name, handler] of handlers) subscribe(name, handler);
  return {
    inFlight: () => [...open.values()],
    dispose: () => {
      for (const [name, handler] of handlers) unsubscribe(name, handler);
      open.clear();
    },
  };
}

/** The error's code or name, never its message: a message may quote a URL with its query. */
function errorName(message: unknown): string {
  const e = (message as { error?: { code?: unknown; name?: unknown } }).error;
  return String(e?.code ?? e?.name ?? 'error');
}

/** One request as `sync --verbose` prints it on stderr. */
export function requestLine(request: RequestEvent, outcome: { readonly status?: number; readonly error?: string }, durationMs: number): string {
  return `http: ${request.method} ${request.target} ${outcome.error === undefined ? String(outcome.status) : `failed (${outcome.error})`} ${Math.round(durationMs)} ms`;
}
