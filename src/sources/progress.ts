/**
 * A one-line download meter for interactive use. It writes only to a terminal: in a
 * pipe, a log file or Azure Functions the carriage returns would just be noise.
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(chunk: string): boolean;
}

export interface ProgressLine {
  /** Pass as `onProgress`. */
  readonly update: (received: number, total?: number) => void;
  /** Clears the line so the next output starts clean. */
  readonly done: () => void;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export function formatProgress(label: string, received: number, total?: number): string {
  if (total === undefined || total <= 0) return `${label} ${megabytes(received)}`;
  const percent = Math.min(100, Math.floor((received / total) * 100));
  return `${label} ${megabytes(received)} / ${megabytes(total)} (${percent}%)`;
}

export function createProgressLine(stream: ProgressStream, label: string, options: { minIntervalMs?: number; clock?: () => number } = {}): ProgressLine {
  if (stream.isTTY !== true) return { update: () => undefined, done: () => undefined };
  const minInterval = options.minIntervalMs ?? 100;
  const clock = options.clock ?? Date.now;
  let last = -Infinity;
  let drawn = false;
  return {
    update(received, total) {
      const finished = total !== undefined && received >= total;
      const t = clock();
      // Redrawing on every 64 KB chunk would flood a slow terminal.
      if (!finished && t - last < minInterval) return;
      last = t;
      drawn = true;
      stream.write(`\r\x1b[2K${formatProgress(label, received, total)}`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
