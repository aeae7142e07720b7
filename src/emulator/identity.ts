import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http.js';
import type { EmulatorState } from './state.js';

/**
 * The App Service / Functions managed-identity endpoint (protocol 2019-08-01): the
 * platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER, and the credential sends
 * `GET {IDENTITY_ENDPOINT}?resource=...&api-version=2019-08-01` with the secret in
 * `X-IDENTITY-HEADER`. Like the platform's, it is plain HTTP on loopback only.
 */

export const IDENTITY_PATH = '/msi/token';
export const IDENTITY_API_VERSION = '2019-08-01';
/** The client ID the emulated system-assigned identity reports. */
export const EMULATOR_IDENTITY_CLIENT_ID = '5e7a9a1e-0000-4000-8000-7a9a11e00001';
const TOKEN_LIFETIME_S = 3600;

export function handleIdentityRequest(req: IncomingMessage, res: ServerResponse, url: URL, state: EmulatorState): void {
  const started = Date.now();
  const resource = url.searchParams.get('resource') ?? undefined;
  let status: number;
  let issuedToken: string | undefined;
  if (url.pathname.toLowerCase().replace(/\/$/, '') !== IDENTITY_PATH) {
    status = 404;
    sendJson(res, status, { error: 'not_found', error_description: `no identity endpoint at ${url.pathname}` });
  } else if (req.method !== 'GET') {
    status = 405;
    sendJson(res, status, { error: 'invalid_request', error_description: 'the identity endpoint answers GET only' });
  } else if (req.headers['x-identity-header'] !== state.identityHeader) {
    status = 401;
    sendJson(res, status, { error: 'unauthorized_client', error_description: 'X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER' });
  } else if (url.searchParams.get('api-version') !== IDENTITY_API_VERSION) {
    status = 400;
    sendJson(res, status, { error: 'invalid_request', error_description: `api-version must be ${IDENTITY_API_VERSION}` });
  } else if (resource === undefined || resource === '') {
    status = 400;
    sendJson(res, status, { error: 'invalid_request', error_description: 'the resource parameter is required' });
  } else {
    status = 200;
    issuedToken = `emulator-mi.${randomUUID()}`;
    sendJson(res, status, {
      access_token: issuedToken,
      // App Service sends expires_on as a string of Unix seconds.
      expires_on: String(Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S),
      resource,
      token_type: 'Bearer',
      client_id: EMULATOR_IDENTITY_CLIENT_ID,
    });
  }
  state.log.add({
    time: new Date(started).toISOString(),
    kind: 'identity',
    method: req.method ?? 'GET',
    path: url.pathname,
    status,
    durationMs: Date.now() - started,
    ...(issuedToken === undefined ? {} : { issuedToken }),
    ...(resource === undefined ? {} : { resource }),
  });
}
