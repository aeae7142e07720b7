import { TagwallError, type ErrorCode } from '../../core/errors.js';
import type { VaultRef } from '../../core/vault-id.js';

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

function statusError(e: SdkErrorShape, status: number, vault: VaultRef, action: 'read' | 'write'): TagwallError {
  const azure = e.message ?? `HTTP ${status}`;
  const verb = action === 'read' ? 'read' : 'update';
  const requestId = header(e, 'x-ms-request-id');
  const retryAfter = header(e, 'retry-after');
  const details = [
    `vault: ${vault.id}`,
    `HTTP ${status}${e.code === undefined ? '' : ` ${e.code}`}`,
    ...(requestId === undefined ? [] : [`x-ms-request-id: ${requestId}`]),
    ...(retryAfter === undefined ? [] : [`Retry-After: ${retryAfter}`]),
  ];
  const make = (code: ErrorCode, message: string, transient: boolean): TagwallError => new TagwallError(code, message, { transient, details, cause: e });
  if (status === 400) return make('VAULT_BAD_REQUEST', `Azure refused to ${verb} Key Vault ${vault.name}: ${azure}`, false);
  if (status === 401) return make('VAULT_UNAUTHORIZED', `Azure did not accept the token for Key Vault ${vault.name}: ${azure}`, false);
  if (status === 403) {
    return make(
      'VAULT_FORBIDDEN',
      `not allowed to ${verb} Key Vault ${vault.name} (needs Microsoft.KeyVault/vaults/read and /write on it): ${azure}`,
      false,
    );
  }
  if (status === 404) return make('VAULT_NOT_FOUND', `Key Vault ${vault.name} was not found in resource group ${vault.resourceGroup}: ${azure}`, false);
  if (status === 408) return make('VAULT_TIMEOUT', `Azure timed out while trying to ${verb} Key Vault ${vault.name}: ${azure}`, true);
  if (status === 409) return make('VAULT_CONFLICT', `another operation on Key Vault ${vault.name} is in progress: ${azure}`, true);
  if (status === 429) return make('VAULT_THROTTLED', `Azure throttled requests for Key Vault ${vault.name}, even after retries: ${azure}`, true);
  if (status >= 500) return make('VAULT_SERVER_ERROR', `Azure failed (HTTP ${status}) to ${verb} Key Vault ${vault.name}, even after retries: ${azure}`, true);
  return make('VAULT_REQUEST_FAILED', `could not ${verb} Key Vault ${vault.name}: HTTP ${status}: ${azure}`, false);
}

export function vaultError(error: unknown, vault: VaultRef, action: 'read' | 'write'): TagwallError {
  if (error instanceof TagwallError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const verb = action === 'read' ? 'read' : 'update';
  const message = e.message ?? String(error);
  const details = [`vault: ${vault.id}`];
  // Credential errors carry the token endpoint's status, not ARM's, so they go first.
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError') {
    return new TagwallError('VAULT_CREDENTIAL_UNAVAILABLE', `no Azure credential could get a token to ${verb} Key Vault ${vault.name}: ${message}`, { details, cause: error });
  }
  if (e.name === 'AuthenticationError' || e.name === 'AuthenticationRequiredError') {
    const s = e.statusCode ?? 0;
    return new TagwallError('VAULT_AUTHENTICATION_FAILED', `getting a token to ${verb} Key Vault ${vault.name} failed: ${message}`, {
      transient: s === 408 || s === 429 || s >= 500,
      details,
      cause: error,
    });
  }
  if (typeof e.statusCode === 'number' && e.statusCode > 0) return statusError(e, e.statusCode, vault, action);
  if (e.name === 'AbortError' || (e.code !== undefined && TIMEOUT_CODES.has(e.code))) {
    return new TagwallError('VAULT_TIMEOUT', `no answer from Azure in time to ${verb} Key Vault ${vault.name}: ${message}`, { transient: true, details, cause: error });
  }
  if (e.code !== undefined && TLS_CODES.has(e.code)) {
    return new TagwallError(
      'VAULT_TLS',
      `the ARM endpoint's TLS certificate is not trusted (${e.code}) while trying to ${verb} Key Vault ${vault.name}; for a local emulator, trust its CA`,
      { details, cause: error },
    );
  }
  if (e.name === 'RestError') {
    const code = e.code === undefined || e.code === 'REQUEST_SEND_ERROR' ? '' : ` (${e.code})`;
    return new TagwallError('VAULT_NETWORK', `could not reach Azure to ${verb} Key Vault ${vault.name}${code}: ${message}`, { transient: true, details, cause: error });
  }
  return new TagwallError('VAULT_REQUEST_FAILED', `could not ${verb} Key Vault ${vault.name}: ${message}`, { details, cause: error });
}
