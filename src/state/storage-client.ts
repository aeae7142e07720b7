/**
 * What the Storage clients share, blob (the state store) and queue (the fleet's shards): the
 * retry settings and how an account's URL is shown. Errors are in blob-errors.ts.
 */

/**
 * The SDK's defaults (4 tries, 4 s doubling up to 2 min) can hold a timer run for minutes on an
 * unreachable account; a run that fails fast is retried by the next schedule anyway. Both SDKs
 * spell their pipeline's retry options the same.
 */
export function failFast<T extends { readonly retryOptions?: object }>(options: T): T {
  return {
    ...options,
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4_000, tryTimeoutInMs: 30_000, ...options.retryOptions },
  };
}

/** An account or queue URL without its query (a SAS token) or credentials, for messages. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  } catch {
    return '(invalid URL)';
  }
}
