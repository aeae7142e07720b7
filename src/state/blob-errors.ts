import { TagwallError } from '../core/errors.js';

/**
 * Turns what the Storage SDK and @azure/identity throw into TagwallErrors. `transient` says
 * whether the next scheduled run may succeed without anyone changing anything: an outage or
 * throttling will pass, a missing role assignment will not.
 */

interface HttpFailure {
  readonly statusCode?: number;
  readonly code?: string;
  readonly name?: string;
  readonly message?: string;
}

function asFailure(e: unknown): HttpFailure {
  return e !== null && typeof e === 'object' ? (e as HttpFailure) : { message: String(e) };
}

export function statusOf(e: unknown): number | undefined {
  const status = asFailure(e).statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function storageCodeOf(e: unknown): string | undefined {
  const code = asFailure(e).code;
  return typeof code === 'string' ? code : undefined;
}

/** Storage error messages carry a request ID and timestamp on later lines; the first line is the reason. */
function reasonOf(e: HttpFailure): string {
  const first = (e.message ?? '').split('\n', 1)[0]?.trim() ?? '';
  const parts = [e.statusCode === undefined ? undefined : `HTTP ${e.statusCode}`, e.code, first].filter(
    (p): p is string => p !== undefined && p !== '',
  );
  // The code and the message's first line are often the same word.
  return [...new Set(parts)].join(' ') || 'unknown error';
}

/** "HTTP 403 AuthorizationPermissionMismatch This request is not authorized ...", for messages. */
export function storageReason(e: unknown): string {
  return reasonOf(asFailure(e));
}

const AUTH_HINT =
  'the identity needs the "Storage Blob Data Contributor" role on the container or the account; with a connection string, check the account key or SAS';

/** `what` reads like "blob container tagwall at https://...: cannot write vaults/x.json". */
export function storageFailure(e: unknown, what: string): TagwallError {
  if (e instanceof TagwallError) return e;
  const f = asFailure(e);
  const status = statusOf(e);
  const reason = reasonOf(f);
  switch (f.name) {
    case 'CredentialUnavailableError':
      // No identity on this host (or not configured): nothing changes until someone acts.
      return new TagwallError('STATE_AUTH_FAILED', `${what}: no credential is available (${reason})`, { cause: e, details: [AUTH_HINT] });
    case 'AuthenticationError':
    case 'AggregateAuthenticationError': {
      // The token endpoint being down or busy passes; a rejected client ID does not.
      const transient = status === undefined || status === 429 || status >= 500;
      return new TagwallError('STATE_AUTH_FAILED', `${what}: could not get a token (${reason})`, { transient, cause: e });
    }
    case 'AbortError':
      return new TagwallError('STATE_UNAVAILABLE', `${what}: the request timed out or was aborted`, { transient: true, cause: e });
  }
  if (status === 401 || status === 403) {
    return new TagwallError('STATE_AUTH_FAILED', `${what}: access denied (${reason})`, { cause: e, details: [AUTH_HINT] });
  }
  if (status === undefined ? looksLikeNetwork(f) : status === 408 || status === 429 || status >= 500) {
    return new TagwallError('STATE_UNAVAILABLE', `${what}: storage is unavailable (${reason})`, { transient: true, cause: e });
  }
  return new TagwallError('STATE_REQUEST_FAILED', `${what}: storage refused the request (${reason})`, { cause: e });
}

/** A request that never got an answer: refused, reset, DNS, TLS, timeout. */
function looksLikeNetwork(f: HttpFailure): boolean {
  return f.name === 'RestError' || /^E[A-Z_]+$/.test(f.code ?? '') || (f.code ?? '').startsWith('UND_ERR');
}
