import type { TargetReport } from '../core/report.js';
import type { CliIO } from './io.js';
import { DEFAULT_SILENCE_MS, SilenceWatch } from './progress.js';
import { requestLine, watchRequests, type RequestWatcher } from './verbose.js';

/**
 * What a run prints on stderr besides its report, by the options a person gave: each request
 * (--verbose), "still waiting" after a silence (a terminal, --progress or --verbose; never with
 * --quiet), the target counter on a terminal. stdout is never written here.
 */

export interface ChatterOptions {
  readonly verbose?: boolean;
  readonly quiet?: boolean;
  /** --progress: "still waiting" lines even when stderr is not a terminal. */
  readonly progress?: boolean;
  /** URLs whose path is a secret (the alert webhook's). */
  readonly hidden?: readonly URL[];
  /** False for a command that plans no targets (`plan`): "still waiting" names only the request awaited. */
  readonly targets?: boolean;
}

export interface RunChatter extends Disposable {
  /** The IO to run with: its stderr tells the silence watch when something was said. */
  readonly io: CliIO;
  readonly onTargetDone?: (report: TargetReport, done: number, total: number) => void;
}

/** The silence before "still waiting" (ms): TAGWALL_PROGRESS_AFTER_MS, for tests and slow links; default 5 s. */
function silenceMs(env: NodeJS.ProcessEnv): number {
  const raw = env.TAGWALL_PROGRESS_AFTER_MS;
  return raw !== undefined && /^\d+$/.test(raw) && Number(raw) > 0 ? Number(raw) : DEFAULT_SILENCE_MS;
}

export function startChatter(io: CliIO, options: ChatterOptions): RunChatter {
  const tty = io.stderr.isTTY === true;
  const showProgress = options.quiet !== true && (tty || options.progress === true || options.verbose === true);
  const watch = showProgress ? new SilenceWatch({ write: (s) => void io.stderr.write(s), afterMs: silenceMs(io.env), tty, ...(options.targets === undefined ? {} : { targets: options.targets }) }) : undefined;
  const stderr = watch === undefined ? io.stderr : tapped(io.stderr, () => watch.spoke());
  let requests: RequestWatcher | undefined;
  if (watch !== undefined || options.verbose === true) {
    requests = watchRequests({
      ...(options.hidden === undefined ? {} : { hidden: options.hidden }),
      onStart: (r) => watch?.requestStarted(r),
      onDone: (r, outcome, ms) => {
        watch?.requestDone(r);
        if (options.verbose === true) stderr.write(`${requestLine(r, outcome, ms)}\n`);
      },
    });
  }
  const stop = watch?.tick();
  const counter = tty && options.quiet !== true;
  return {
    io: { ...io, stderr },
    onTargetDone: (report, done, total) => {
      watch?.targetDone(report, done, total);
      // One updating line on a terminal, only when there are enough targets for it to matter.
      if (counter && total >= 5) stderr.write(`\r${done}/${total} targets${done === total ? '\n' : ''}`);
    },
    [Symbol.dispose]: () => {
      stop?.();
      requests?.dispose();
    },
  };
}

/** The same stream, telling `spoke` of every write. */
function tapped(stream: CliIO['stderr'], spoke: () => void): CliIO['stderr'] {
  return new Proxy(stream, {
    get(target, key, receiver) {
      if (key === 'write') {
        return (...args: Parameters<typeof stream.write>) => {
          spoke();
          return (target.write as (...a: unknown[]) => boolean).apply(target, args);
        };
      }
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
