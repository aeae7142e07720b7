import type { TargetReport } from '../core/report.js';
import { FIREWALL_KINDS } from '../targets/kinds.js';
import type { RequestEvent } from './verbose.js';

/**
 * "still waiting" on stderr after a stretch of silence, so a run waiting on one slow write does
 * not look hung. As git, npm and az do, it is shown on a terminal, and in a log only when asked
 * (--progress, or --verbose, which asked for more on stderr): a CI log stays as it was, and
 * --quiet turns it off. Never on stdout, which may be JSON.
 */

export const DEFAULT_SILENCE_MS = 5_000;

export interface SilenceOptions {
  readonly write: (text: string) => void;
  /** Silence (ms) before a line, and between lines while it lasts. */
  readonly afterMs?: number;
  readonly clock?: () => number;
  /** Clear the terminal's counter line first (a TTY). */
  readonly tty?: boolean;
  /** False where the work is not counted in targets (`plan`): the line names only what is awaited. */
  readonly targets?: boolean;
}

const TITLE_BY_TYPE = new Map(FIREWALL_KINDS.map((k) => [k.resourceType.toLowerCase(), k.title]));
const WRITES = new Set(['PUT', 'PATCH', 'DELETE']);

/** `Microsoft.DocumentDB/databaseAccounts/db1` → the kind's title, or undefined. */
function titleOf(path: string): string | undefined {
  const m = /\/providers\/([^/]+\/[^/]+)\//i.exec(`${path}/`);
  return m === null ? undefined : TITLE_BY_TYPE.get(m[1]!.toLowerCase());
}

function seconds(ms: number): string {
  return `${Math.floor(ms / 1000)} s`;
}

export class SilenceWatch {
  readonly #options: SilenceOptions;
  readonly #afterMs: number;
  readonly #clock: () => number;
  #last: number;
  #done = 0;
  #total: number | undefined;
  /** Writes to a firewall, by lowercased resource path, until their target is done. */
  readonly #writes = new Map<string, { path: string; since: number }>();
  readonly #requests = new Set<RequestEvent>();

  constructor(options: SilenceOptions) {
    this.#options = options;
    this.#afterMs = options.afterMs ?? DEFAULT_SILENCE_MS;
    this.#clock = options.clock ?? (() => performance.now());
    this.#last = this.#clock();
  }

  /** Something was printed: the silence starts again. */
  spoke(): void {
    this.#last = this.#clock();
  }

  requestStarted(request: RequestEvent): void {
    this.#requests.add(request);
    if (!WRITES.has(request.method) || !/^\/subscriptions\//i.test(request.path)) return;
    const key = request.path.toLowerCase();
    if (!this.#writes.has(key)) this.#writes.set(key, { path: request.path, since: this.#clock() });
  }

  requestDone(request: RequestEvent): void {
    this.#requests.delete(request);
  }

  targetDone(report: TargetReport, done: number, total: number): void {
    this.#done = done;
    this.#total = total;
    const id = report.vault.toLowerCase();
    for (const key of [...this.#writes.keys()]) if (key === id || key.startsWith(`${id}/`)) this.#writes.delete(key);
  }

  /** Prints a line when the silence has lasted long enough; call it often (tick does). */
  check(): string | undefined {
    const now = this.#clock();
    if (now - this.#last < this.#afterMs) return undefined;
    const line = this.line(now);
    this.#options.write(`${this.#options.tty === true ? '\r\x1b[2K' : ''}${line}\n`);
    this.#last = now;
    return line;
  }

  line(now = this.#clock()): string {
    const parts = this.#options.targets === false ? [] : [this.#total === undefined ? 'no target done yet' : `${this.#done} of ${this.#total} targets done`];
    const write = [...this.#writes.values()].sort((a, b) => a.since - b.since)[0];
    if (write !== undefined) {
      parts.push(`${titleOf(write.path) ?? 'firewall'} update on ${write.path} running for ${seconds(now - write.since)}`);
    } else {
      const oldest = [...this.#requests].sort((a, b) => a.startedAt - b.startedAt)[0];
      if (oldest !== undefined) parts.push(`${oldest.method} ${oldest.target} waiting for ${seconds(now - oldest.startedAt)}`);
    }
    return parts.length === 0 ? 'still working' : `still waiting: ${parts.join(', ')}`;
  }

  /** Checks on a timer that never keeps the process alive; returns the stop. */
  tick(): () => void {
    const timer = setInterval(() => this.check(), Math.max(50, Math.min(1_000, Math.floor(this.#afterMs / 5))));
    timer.unref();
    return () => clearInterval(timer);
  }
}
