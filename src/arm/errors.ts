import { TagwallError, type ErrorCode } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';

/** Who is being read or written, in an error's words and codes. */
export interface FirewallErrorContext {
  /** `Key Vault`, `Storage account`, ... */
  readonly title: string;
  /** The permissions a 403 means are missing, e.g. `Microsoft.KeyVault/vaults/read and /write`. */
  readonly permissions: string;
  /** Key Vault keeps the codes it has always had (VAULT_*); every other kind uses TARGET_*. */
  readonly codes: 'VAULT' | 'TARGET';
}

type Failure = 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'TIMEOUT' | 'CONFLICT' | 'THROTTLED' | 'SERVER_ERROR' | 'REQUEST_FAILED' | 'CREDENTIAL_UNAVAILABLE' | 'AUTHENTICATION_FAILED' | 'TLS' | 'NETWORK';

function code(ctx: FirewallErrorContext, failure: Failure): ErrorCode {
  return `${ctx.codes}_${failure}`;
}

/**
 * Turns what the Azure SDK throws (RestError, credential errors, aborts) into tagwall's
 * stable codes. Errors are recognised by name and shape rather than by class, because
 * the SDK's error classes live in packages tagwall does not depend on directly.
 */

interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly response?: { readonly headers?: { get(name: string): string | undefined } };
}

/** OpenSSL's certificate-verification failures, as Node names them. */
const TLS_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function header(e: SdkErrorShape, name: string): string | undefined {
  try {
    return e.response?.headers?.get(name) ?? undefined;
  } catch {
    return undefined;
  }
}

function statusError(e: SdkErrorShape, status: number, vault: ResourceRef, action: 'read' | 'write', ctx: FirewallErrorContext): TagwallError {
  const azure = e.message ?? `HTTP ${status}`;
  const verb = action === 'read' ? 'read' : 'update';
  const requestId = header(e, 'x-ms-request-id');
  const retryAfter = header(e, 'retry-after');
  const details = [
    `${ctx.codes === 'VAULT' ? 'vault' : 'resource'}: ${vault.id}`,
    `HTTP ${status}${e.code === undefined ? '' : ` ${e.code}`}`,
    ...(requestId === undefined ? [] : [`x-ms-request-id: ${requestId}`]),
    ...(retryAfter === undefined ? [] : [`Retry-After: ${retryAfter}`]),
  ];
  const make = (code: ErrorCode, message: string, transient: boolean): TagwallError =>
    new TagwallError(code, message, { transient, details, cause: e, values: { status, during: action, ...(e.code === undefined ? {} : { azureCode: e.code }) } });
  if (status === 400) return make(code(ctx, 'BAD_REQUEST'), `Azure refused to ${verb} ${ctx.title} ${vault.name}: ${azure}`, false);
  if (status === 401) return make(code(ctx, 'UNAUTHORIZED'), `Azure did not accept the token for ${ctx.title} ${vault.name}: ${azure}`, false);
  // Governance, not a missing role: granting one changes nothing, so each has its own code and action.
  if (status === 403 && e.code === 'DenyAssignmentAuthorizationFailed') {
    return make('DENY_ASSIGNMENT', `a deny assignment does not let this identity ${verb} ${ctx.title} ${vault.name} (a deployment stack's deny settings, say); exclude its principal from it: ${azure}`, false);
  }
  if (status === 403 && e.code === 'RequestDisallowedByPolicy') {
    return make('REQUEST_DISALLOWED_BY_POLICY', `Azure Policy does not allow tagwall to ${verb} ${ctx.title} ${vault.name}: ${azure}`, false);
  }
  if (status === 403) {
    return make(
      code(ctx, 'FORBIDDEN'),
      `not allowed to ${verb} ${ctx.title} ${vault.name} (needs ${ctx.permissions} on it): ${azure}`,
      false,
    );
  }
  if (status === 404) return make(code(ctx, 'NOT_FOUND'), `${ctx.title} ${vault.name} was not found in resource group ${vault.resourceGroup}: ${azure}`, false);
  if (status === 408) return make(code(ctx, 'TIMEOUT'), `Azure timed out while trying to ${verb} ${ctx.title} ${vault.name}: ${azure}`, true);
  if (status === 409) return make(code(ctx, 'CONFLICT'), `another operation on ${ctx.title} ${vault.name} is in progress: ${azure}`, true);
  if (status === 429) return make(code(ctx, 'THROTTLED'), `Azure throttled requests for ${ctx.title} ${vault.name}, even after retries: ${azure}`, true);
  if (status >= 500) return make(code(ctx, 'SERVER_ERROR'), `Azure failed (HTTP ${status}) to ${verb} ${ctx.title} ${vault.name}, even after retries: ${azure}`, true);
  return make(code(ctx, 'REQUEST_FAILED'), `could not ${verb} ${ctx.title} ${vault.name}: HTTP ${status}: ${azure}`, false);
}

/**
 * `values.during` says whether the request that failed was a read or a write: an alert about a
 * failed write is seen cleared only by a run that writes (a dry run's successful read proves nothing).
 */
export function firewallError(error: unknown, vault: ResourceRef, action: 'read' | 'write', ctx: FirewallErrorContext): TagwallError {
  if (error instanceof TagwallError) return duringOf(error, action);
  return duringOf(mapped(error, vault, action, ctx), action);
}

/** A TagwallError raised inside the call (a long-running operation's end, say) learns which call it was. */
function duringOf(error: TagwallError, action: 'read' | 'write'): TagwallError {
  if (error.values.during !== undefined) return error;
  return new TagwallError(error.code, error.message, { transient: error.transient, details: error.details, cause: error.cause ?? error, values: { ...error.values, during: action } });
}

function mapped(error: unknown, vault: ResourceRef, action: 'read' | 'write', ctx: FirewallErrorContext): TagwallError {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const verb = action === 'read' ? 'read' : 'update';
  const message = e.message ?? String(error);
  const details = [`${ctx.codes === 'VAULT' ? 'vault' : 'resource'}: ${vault.id}`];
  // Credential errors carry the token endpoint's status, not ARM's, so they go first.
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError') {
    return new TagwallError(code(ctx, 'CREDENTIAL_UNAVAILABLE'), `no Azure credential could get a token to ${verb} ${ctx.title} ${vault.name}: ${message}`, { details, cause: error });
  }
  if (e.name === 'AuthenticationError' || e.name === 'AuthenticationRequiredError') {
    const s = e.statusCode ?? 0;
    return new TagwallError(code(ctx, 'AUTHENTICATION_FAILED'), `getting a token to ${verb} ${ctx.title} ${vault.name} failed: ${message}`, {
      transient: s === 408 || s === 429 || s >= 500,
      details,
      cause: error,
    });
  }
  if (typeof e.statusCode === 'number' && e.statusCode > 0) return statusError(e, e.statusCode, vault, action, ctx);
  if (e.name === 'AbortError' || (e.code !== undefined && TIMEOUT_CODES.has(e.code))) {
    return new TagwallError(code(ctx, 'TIMEOUT'), `no answer from Azure in time to ${verb} ${ctx.title} ${vault.name}: ${message}`, { transient: true, details, cause: error });
  }
  if (e.code !== undefined && TLS_CODES.has(e.code)) {
    return new TagwallError(
      code(ctx, 'TLS'),
      `the ARM endpoint's TLS certificate is not trusted (${e.code}) while trying to ${verb} ${ctx.title} ${vault.name}; for a local emulator, trust its CA`,
      { details, cause: error },
    );
  }
  if (e.name === 'RestError') {
    const why = e.code === undefined || e.code === 'REQUEST_SEND_ERROR' ? '' : ` (${e.code})`;
    return new TagwallError(code(ctx, 'NETWORK'), `could not reach Azure to ${verb} ${ctx.title} ${vault.name}${why}: ${message}`, { transient: true, details, cause: error });
  }
  return new TagwallError(code(ctx, 'REQUEST_FAILED'), `could not ${verb} ${ctx.title} ${vault.name}: ${message}`, { details, cause: error });
}
