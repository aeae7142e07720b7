import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken } from './arm.js';
import { supportPreamble } from './graph-quota.js';
import { ArmFailure, isRecord, readJsonBody, sendArmError, sendJson, sleep } from './http.js';
import { KqlError } from './kql-parse.js';
import { compileKql, runKql, type Row } from './kql.js';
import type { EmulatorState } from './state.js';
import { principalOf } from './throttle.js';

/**
 * Resource Graph's query route, `POST /providers/Microsoft.ResourceGraph/resources` (REST API
 * 2021-03-01, "Resources - Resources"): the body names the scope (subscriptions or management
 * groups) and the query; the answer is one page of rows in `data`, with `$skipToken` when more
 * follow. The rows are the emulator's own vaults and resources as Resource Graph holds them: the
 * ARM body with `type` lowercased, and `subscriptionId` and `resourceGroup` (lowercased) added.
 */

export const GRAPH_PATH = /^\/providers\/Microsoft\.ResourceGraph\/resources\/?$/i;

/** Resource Graph's page size: 100 rows unless asked, 1,000 at most. */
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;

interface Scope {
  readonly subscriptions: readonly string[];
  /** What a skip token is bound to, so that one query's token cannot page another. */
  readonly key: string;
}

/** One answer kept per emulator, so that paging through a large result does not run the query again for each page. */
const cache = new WeakMap<EmulatorState, { key: string; generation: number; rows: Record<string, unknown>[] }>();

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

/**
 * Resource Graph's envelope for a refused query. The outer code and the InvalidQuery detail
 * follow what Azure answers; the second detail's code and message are the emulator's own, not
 * checked against Azure's wording.
 */
function invalidQuery(e: KqlError, correlationId: string): unknown {
  return {
    error: {
      code: 'BadRequest',
      message: supportPreamble(correlationId),
      details: [
        { code: 'InvalidQuery', message: 'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.' },
        { code: e.code, message: e.message, line: e.line, characterPositionInLine: e.column },
      ],
    },
  };
}

function stringList(raw: unknown, what: string): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) throw badRequest(`The request content was invalid: ${what} must be an array of strings.`);
  return raw as string[];
}

function scopeOf(body: Record<string, unknown>, state: EmulatorState): Scope {
  const subscriptions = stringList(body['subscriptions'], 'subscriptions');
  const groups = stringList(body['managementGroups'], 'managementGroups');
  // The emulator's choice: one scope per query, so a test never wonders which of the two won.
  if (subscriptions !== undefined && groups !== undefined) throw badRequest('Give either subscriptions or managementGroups, not both.');
  let named: readonly string[];
  if (groups !== undefined) named = groups.flatMap((g) => state.directory.group(g));
  else if (subscriptions !== undefined) named = subscriptions;
  else named = state.directory.subscriptions(state.history.visible(state.settings.graphLagMs).map((r) => String(r['id']).split('/')[2] ?? ''));
  const readable = [...new Set(named.map((s) => s.toLowerCase()))].filter((s) => state.directory.canRead(s));
  return { subscriptions: readable, key: `${groups === undefined ? 's' : 'mg'}:${[...(groups ?? subscriptions ?? ['*'])].map((s) => s.toLowerCase()).sort().join(',')}` };
}

function resourceRow(json: Readonly<Record<string, unknown>>): Row {
  const id = String(json['id']);
  const parts = id.split('/');
  return {
    id,
    name: json['name'],
    type: String(json['type']).toLowerCase(),
    kind: json['kind'],
    location: json['location'],
    resourceGroup: (parts[4] ?? '').toLowerCase(),
    subscriptionId: parts[2] ?? '',
    sku: json['sku'],
    identity: json['identity'],
    tags: json['tags'] ?? {},
    properties: json['properties'] ?? {},
  };
}

function tableRows(table: 'resources' | 'resourcecontainers', scope: Scope, state: EmulatorState): Row[] {
  const inScope = new Set(scope.subscriptions);
  const resources = state.history
    .visible(state.settings.graphLagMs)
    .map(resourceRow)
    .filter((r) => inScope.has(String(r['subscriptionId']).toLowerCase()));
  if (table === 'resources') return resources;
  const known = state.directory.subscriptions(resources.map((r) => String(r['subscriptionId'])));
  return known
    .filter((s) => inScope.has(s.toLowerCase()))
    .map((s) => ({ id: `/subscriptions/${s}`, name: s, type: 'microsoft.resources/subscriptions', subscriptionId: s, tags: {}, properties: { state: 'Enabled' } }));
}

function readOptions(raw: unknown): { top: number; skip: number; skipToken?: string } {
  if (raw === undefined || raw === null) return { top: DEFAULT_TOP, skip: 0 };
  if (!isRecord(raw)) throw badRequest('The request content was invalid: options must be an object.');
  const format = raw['resultFormat'];
  if (format !== undefined && format !== 'objectArray') throw badRequest(`The emulator answers resultFormat 'objectArray' only, not ${JSON.stringify(format)}.`);
  const top = raw['$top'] ?? DEFAULT_TOP;
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > MAX_TOP) throw badRequest(`The value of $top must be between 1 and ${MAX_TOP}.`);
  const skip = raw['$skip'] ?? 0;
  if (typeof skip !== 'number' || !Number.isInteger(skip) || skip < 0) throw badRequest('The value of $skip must be a non-negative integer.');
  const token = raw['$skipToken'];
  if (token !== undefined && token !== null && typeof token !== 'string') throw badRequest('The $skipToken must be a string.');
  return { top, skip, ...(typeof token === 'string' && token !== '' ? { skipToken: token } : {}) };
}

function bindingOf(query: string, scope: Scope): string {
  return createHash('sha256').update(`${scope.key}\n${query}`).digest('base64url').slice(0, 22);
}

function skipToken(offset: number, binding: string): string {
  return Buffer.from(JSON.stringify({ o: offset, b: binding })).toString('base64url');
}

function offsetOf(token: string, binding: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; b?: unknown };
    if (t.b === binding && typeof t.o === 'number' && Number.isInteger(t.o) && t.o >= 0) return t.o;
  } catch {
    // refused below
  }
  throw badRequest('The $skipToken is invalid: it belongs to another query or scope, or it was changed.');
}

export async function handleGraphRequest(req: IncomingMessage, res: ServerResponse, url: URL, state: EmulatorState): Promise<void> {
  const started = Date.now();
  const requestId = randomUUID();
  const clientRequestId = req.headers['x-ms-client-request-id'];
  const correlationId = typeof clientRequestId === 'string' ? clientRequestId : requestId;
  let headers: Record<string, string> = { 'x-ms-request-id': requestId, 'x-ms-correlation-request-id': correlationId };
  const method = (req.method ?? 'GET').toUpperCase();
  const apiVersion = url.searchParams.get('api-version');
  let token: string | undefined;
  let body: unknown;
  let status = 500;
  let named: string[] = [];
  try {
    await sleep(state.settings.latencyMs);
    token = bearerToken(req);
    if (apiVersion === null || apiVersion === '') throw new ArmFailure(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    if (method !== 'POST') throw new ArmFailure(405, 'MethodNotAllowed', `Resource Graph queries are POSTs; ${method} is not allowed here.`);
    headers = { ...headers, ...state.graphQuota.take(state.settings.graphQuota, principalOf(token), correlationId) };
    body = await readJsonBody(req);
    if (!isRecord(body) || typeof body['query'] !== 'string' || body['query'].trim() === '') throw badRequest('The request content was invalid: query is required.');
    named = stringList(body['subscriptions'], 'subscriptions') ?? [];
    const options = readOptions(body['options']);
    const scope = scopeOf(body, state);
    const query = body['query'];
    let rows: Record<string, unknown>[];
    try {
      const compiled = compileKql(query);
      const key = bindingOf(query, scope) + scope.subscriptions.join(',');
      const cached = cache.get(state);
      const fresh = state.settings.graphLagMs === 0 && cached?.key === key && cached.generation === state.history.generation;
      rows = fresh ? cached!.rows : runKql(compiled, tableRows(compiled.query.table, scope, state));
      if (state.settings.graphLagMs === 0) cache.set(state, { key, generation: state.history.generation, rows });
    } catch (e) {
      if (!(e instanceof KqlError)) throw e;
      status = 400;
      sendJson(res, status, invalidQuery(e, correlationId), headers);
      return;
    }
    const binding = bindingOf(query, scope);
    const offset = options.skipToken === undefined ? options.skip : offsetOf(options.skipToken, binding);
    const page = rows.slice(offset, offset + options.top);
    const next = offset + page.length;
    status = 200;
    const answer = { totalRecords: rows.length, count: page.length, resultTruncated: 'false', ...(next < rows.length ? { $skipToken: skipToken(next, binding) } : {}), data: page, facets: [] };
    state.stats.addGraphBytes(sendJson(res, status, answer, headers));
  } catch (e) {
    const failure = e instanceof ArmFailure ? e : new ArmFailure(500, 'InternalServerError', `The emulator failed: ${(e as Error).message}`);
    status = failure.status;
    if (!res.headersSent) sendArmError(res, failure, headers);
  } finally {
    state.stats.count(method, 'graph', status, named);
    state.log.add({
      time: new Date(started).toISOString(),
      kind: 'graph',
      method,
      path: url.pathname,
      ...(apiVersion === null ? {} : { apiVersion }),
      status,
      durationMs: Date.now() - started,
      ...(body === undefined ? {} : { body }),
      ...(token === undefined ? {} : { token }),
    });
  }
}
