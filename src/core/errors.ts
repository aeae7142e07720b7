/**
 * One error type for every failure tagwall reports on purpose. Callers branch on
 * `code` (stable, documented) and on `transient` (worth retrying on the next run),
 * never on message text, which is written for people.
 */
export class TagwallError extends Error {
  override readonly name = 'TagwallError';
  readonly code: string;
  readonly transient: boolean;
  /** Extra lines a reader needs (every config problem, close tag names, ...). */
  readonly details: readonly string[];

  constructor(code: string, message: string, options: { transient?: boolean; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.transient = options.transient ?? false;
    this.details = options.details ?? [];
  }
}

export function isTagwallError(e: unknown, code?: string): e is TagwallError {
  return e instanceof TagwallError && (code === undefined || e.code === code);
}

/** The message plus its detail lines, the way the CLI and the logs print an error. */
export function describeError(e: unknown): string {
  if (e instanceof TagwallError) {
    return e.details.length === 0 ? e.message : `${e.message}\n${e.details.map((d) => `  - ${d}`).join('\n')}`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
