import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArmFailure, readJsonBody, sendArmError, sendJson, sleep } from './http.js';
import { PERIMETER_API_VERSIONS, SUPPORTED_API_VERSIONS, type RespondFault } from './model.js';
import { matchPerimeterRoute, perimeterAddressOf, readPerimeters, writeAccessRule } from './perimeter-arm.js';
import { canonicalPerimeterId } from './perimeters.js';
import { matchResourceRoute, type ResourceModel } from './resources.js';
import type { RequestTarget } from './faults.js';
import { subscriptionOfPath } from './directory.js';
import type { EmulatorState } from './state.js';
import { principalOf } from './throttle.js';
import { canonicalId, notFound, type VaultAddress } from './vaults.js';

/**
 * The ARM subset tagwall uses: GET, PATCH and PUT of one Key Vault, GETs of Network Security
 * Perimeters and their associations, and the access rules of a perimeter profile. Checks run in ARM's order (authentication,
 * then api-version, then authorization, then the resource), so a client sees the same
 * error first that Azure would show it.
 */

const VAULT_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i;

const DEFAULT_FAULT_TEXT: Readonly<Record<number, [string, string]>> = {
  400: ['BadRequest', 'The request was invalid.'],
  401: ['InvalidAuthenticationToken', 'The access token is invalid.'],
  403: ['AuthorizationFailed', 'The client does not have authorization to perform this action over this scope.'],
  404: ['ResourceNotFound', 'The resource was not found.'],
  408: ['RequestTimeout', 'The request timed out.'],
  409: ['Conflict', 'Another operation on this vault is in progress.'],
  429: ['TooManyRequests', 'The request is being throttled; retry after the period in the Retry-After header.'],
  500: ['InternalServerError', 'The service encountered an internal error.'],
  502: ['BadGateway', 'The gateway did not receive a response from the service.'],
  503: ['ServiceUnavailable', 'The service is temporarily unavailable.'],
  504: ['GatewayTimeout', 'The gateway did not receive a response from the service in time.'],
};

export function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === '') {
    throw new ArmFailure(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", {
      'www-authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
    });
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) throw new ArmFailure(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is provided in an invalid format.");
  return m[1]!;
}

function checkApiVersion(apiVersion: string | null, supported: readonly string[]): string {
  if (apiVersion === null || apiVersion === '') {
    throw new ArmFailure(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  }
  if (!supported.includes(apiVersion)) {
    throw new ArmFailure(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(',')}'.`);
  }
  return apiVersion;
}

function faultFailure(fault: RespondFault): ArmFailure {
  const [code, message] = DEFAULT_FAULT_TEXT[fault.status] ?? ['Failed', `The request failed with status ${fault.status}.`];
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
  if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
  return new ArmFailure(fault.status, fault.code ?? code, fault.message ?? message, headers);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function address(m: RegExpExecArray): VaultAddress {
  const [, subscriptionId, resourceGroup, name] = m.map(decodeSegment) as [string, string, string, string];
  return { subscriptionId, resourceGroup, name };
}

async function injectFaults(state: EmulatorState, target: RequestTarget): Promise<void> {
  const delay = state.faults.take('delay', target);
  if (delay !== undefined) await sleep(delay.delayMs);
  const fault = state.faults.take('respond', target);
  if (fault !== undefined) {
    await sleep(fault.delayMs ?? 0);
    throw faultFailure(fault);
  }
}

/**
 * ARM's front door for a request into a subscription: its throttling first, then whether the
 * identity may read the subscription at all. Returns the rate-limit header for the answer.
 */
function admit(state: EmulatorState, token: string, subscriptionId: string | undefined, method: string, path: string, headers: Record<string, string>): void {
  if (subscriptionId === undefined) return;
  Object.assign(headers, state.throttle.take(state.settings.throttle, principalOf(token), subscriptionId, method));
  state.directory.checkArm(subscriptionId, method, path);
}

function tryQuietly(f: () => void): void {
  try {
    f();
  } catch {
    // see the caller
  }
}

async function editRuleSet(model: ResourceModel, state: EmulatorState, id: string, ruleSet: Record<string, unknown>, apiVersion: string): Promise<void> {
  const stored = state.resources.get(id);
  const current = stored?.json['networkRuleSet'];
  if (stored === undefined || typeof current !== 'object' || current === null) return;
  const properties = { ...((current as { properties?: Record<string, unknown> }).properties ?? {}), ...ruleSet };
  try {
    await model.handle({ method: 'PUT', id: stored.id, subPath: '/networkRuleSets/default', apiVersion, body: { properties }, store: state.resources, origin: '' });
  } catch {
    // see the caller
  }
}

export async function handleArmRequest(req: IncomingMessage, res: ServerResponse, url: URL, state: EmulatorState): Promise<void> {
  const started = Date.now();
  const requestId = randomUUID();
  const clientRequestId = req.headers['x-ms-client-request-id'];
  const headers: Record<string, string> = {
    'x-ms-request-id': requestId,
    'x-ms-correlation-request-id': typeof clientRequestId === 'string' ? clientRequestId : requestId,
  };
  const method = (req.method ?? 'GET').toUpperCase();
  const apiVersion = url.searchParams.get('api-version');
  const perimeterRoute = matchPerimeterRoute(url.pathname);
  const resourceRoute = perimeterRoute === undefined ? matchResourceRoute(url.pathname) : undefined;
  const match = perimeterRoute === undefined && resourceRoute === undefined ? VAULT_PATH.exec(url.pathname) : null;
  const vault = match === null ? undefined : address(match);
  const perimeter = perimeterRoute === undefined ? undefined : perimeterAddressOf(perimeterRoute)?.name;
  const subscriptionId = subscriptionOfPath(url.pathname);
  let token: string | undefined;
  let body: unknown;
  let status = 500;
  try {
    await sleep(state.settings.latencyMs);
    token = bearerToken(req);
    if (perimeterRoute !== undefined) {
      const version = checkApiVersion(apiVersion, PERIMETER_API_VERSIONS);
      admit(state, token, subscriptionId, method, url.pathname, headers);
      // Access rules are the one perimeter resource tagwall writes.
      const writable = perimeterRoute.kind === 'accessRule' && (method === 'PUT' || method === 'DELETE');
      if (method !== 'GET' && !writable) throw new ArmFailure(405, 'MethodNotAllowed', `The emulator writes perimeter access rules only; ${method} is not allowed here.`);
      body = method === 'PUT' ? await readJsonBody(req) : undefined;
      const about = perimeterAddressOf(perimeterRoute);
      await injectFaults(state, { on: 'perimeters', method, ...(about === undefined ? {} : { perimeterName: about.name, perimeterId: canonicalPerimeterId(about) }) });
      if (writable) {
        const reply = writeAccessRule(perimeterRoute, state.perimeters, method, body);
        status = reply.status;
        sendJson(res, status, reply.body, headers);
        return;
      }
      // nextLinks point back at whatever address the client used to reach the emulator.
      const answer = readPerimeters(perimeterRoute, state.perimeters, url, `https://${req.headers.host ?? 'localhost'}`, version);
      status = 200;
      sendJson(res, status, answer, headers);
      return;
    }
    if (resourceRoute !== undefined) {
      const version = checkApiVersion(apiVersion, resourceRoute.model.apiVersions);
      admit(state, token, subscriptionId, method, url.pathname, headers);
      body = method === 'GET' || method === 'DELETE' ? undefined : await readJsonBody(req);
      await injectFaults(state, { on: 'resources', method, resourceId: resourceRoute.id });
      const reply = await resourceRoute.model.handle({
        method,
        id: state.resources.get(resourceRoute.id)?.id ?? resourceRoute.id,
        subPath: resourceRoute.subPath,
        apiVersion: version,
        body,
        store: state.resources,
        origin: `https://${req.headers.host ?? 'localhost'}`,
        ...(typeof req.headers['if-match'] === 'string' ? { ifMatch: req.headers['if-match'] } : {}),
      });
      status = reply.status;
      sendJson(res, status, reply.body, { ...headers, ...reply.headers });
      const edit = state.faults.take('resourceEdit', { on: 'resources', method, resourceId: resourceRoute.id });
      // Another admin's edit of a namespace's rule set, a PUT like any other: a refused one simply fails.
      if (edit !== undefined) await editRuleSet(resourceRoute.model, state, resourceRoute.id, edit.ruleSet, version);
      return;
    }
    checkApiVersion(apiVersion, SUPPORTED_API_VERSIONS);
    admit(state, token, subscriptionId, method, url.pathname, headers);
    if (vault === undefined) {
      throw new ArmFailure(404, 'NotFound', `The emulator serves only Key Vault and Network Security Perimeter resources; ${url.pathname} is not one.`);
    }
    if (method !== 'GET' && method !== 'PATCH' && method !== 'PUT') {
      throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${method} is not allowed for this resource.`);
    }
    body = method === 'GET' ? undefined : await readJsonBody(req);
    const target = { on: 'vaults', method, vaultName: vault.name, vaultId: canonicalId(vault) } as const;
    await injectFaults(state, target);
    const oldApi = state.settings.oldApi;
    if (method === 'GET') {
      const found = state.vaults.get(vault);
      if (found === undefined) throw notFound(vault);
      status = 200;
      sendJson(res, status, found, headers);
    } else if (method === 'PATCH') {
      status = 200;
      sendJson(res, status, state.vaults.patch(vault, body, oldApi), headers);
    } else {
      const put = state.vaults.put(vault, body, oldApi);
      status = put.created ? 201 : 200;
      sendJson(res, status, put.vault, headers);
    }
    if (method === 'GET' || method === 'PATCH') {
      const edit = state.faults.take('edit', target);
      // The control API checked these rules when the fault was added; a vault in old-API
      // mode can still refuse them, and then the "other admin's" edit simply fails.
      if (edit !== undefined) tryQuietly(() => state.vaults.replaceIpRules(vault, edit.ipRules, oldApi));
    }
  } catch (e) {
    const failure = e instanceof ArmFailure ? e : new ArmFailure(500, 'InternalServerError', `The emulator failed: ${(e as Error).message}`);
    status = failure.status;
    if (!res.headersSent) sendArmError(res, failure, headers);
  } finally {
    const kind = perimeterRoute !== undefined ? 'perimeter' : resourceRoute !== undefined ? 'resource' : vault !== undefined ? 'vault' : 'other';
    state.stats.count(method, kind, status, subscriptionId === undefined ? [] : [subscriptionId], started);
    state.log.add({
      time: new Date(started).toISOString(),
      kind: 'arm',
      method,
      path: url.pathname,
      ...(vault === undefined ? {} : { vault: vault.name }),
      ...(perimeter === undefined ? {} : { perimeter }),
      ...(resourceRoute === undefined ? {} : { target: resourceRoute.id }),
      ...(apiVersion === null ? {} : { apiVersion }),
      status,
      durationMs: Date.now() - started,
      ...(body === undefined ? {} : { body }),
      ...(token === undefined ? {} : { token }),
    });
  }
}
