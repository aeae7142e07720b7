import { isCidrProblem, readCidr } from '../../core/ip-text.js';
import { parseResourceId } from '../../core/resource-id.js';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { oneOf } from './resource-json.js';

/**
 * Azure SQL logical servers (`Microsoft.Sql/servers`) and their IPv4 firewall rules, the child
 * `firewallRules`, at the api-versions @azure/arm-sql 10.0.0 sends (servers 2022-08-01-preview,
 * firewallRules 2020-11-01-preview). Shapes and error codes follow azure-rest-api-specs
 * specification/sql/resource-manager/Microsoft.Sql/preview/2020-11-01-preview/FirewallRules.json
 * (FirewallRules_Get, _CreateOrUpdate, _Delete, _ListByServer and _Replace, whose error list
 * names every refusal below) and its examples FirewallRuleList.json and FirewallRuleReplace.json.
 *
 * The firewall's checks, on every rule a PUT or a replace sends:
 * - a name, of at most 128 characters (FirewallRuleNameEmpty, FirewallRuleNameTooLong);
 * - start and end IPv4 addresses (FirewallRuleNotIPv4Address), the start not after the end
 *   (FirewallRuleInvalidRange);
 * - at most 256 rules per server (TooManyFirewallRules): Microsoft's current "IP firewall rules"
 *   page; its older one said 128, the default tagwall keeps to;
 * - no rule written while publicNetworkAccess is Disabled (DenyPublicEndpointEnabled).
 * The texts are the emulator's own; the codes are the spec's. Private ranges are accepted: SQL's
 * rules are not known to refuse them.
 *
 * The replace is atomic: the whole set is checked first, and a refusal changes nothing. Azure
 * answers it 200 or 202 (in progress); the emulator answers 202 and applies it at once, unless
 * the server's seed carries `emulatorReplace: { afterLists, afterMs }`: the set then shows only
 * after that many more lists of the rules, or that many milliseconds, whichever comes first (as a
 * replace Azure is still applying), so a client that waits for the set to show is exercised, and
 * one that gives up. Any other write to the server lands a pending set first (Azure runs a
 * server's operations in order). Names compare case-insensitively, as ARM's do.
 *
 * A server is stored as ARM returns it plus `firewallRules` (the rules as their own GET returns
 * them); the server's GET leaves that field out, and Resource Graph sees the server, not its rules.
 */

const TYPE = 'Microsoft.Sql/servers';
const RULE_TYPE = 'Microsoft.Sql/servers/firewallRules';
export const SQL_API_VERSIONS = ['2022-08-01-preview', '2020-11-01-preview'] as const;
export const SQL_MAX_FIREWALL_RULES = 256;
const MAX_NAME = 128;

interface RuleBody {
  readonly name: string;
  readonly startIpAddress: string;
  readonly endIpAddress: string;
}

const fail = (code: string, message: string) => new ArmFailure(400, code, message);

function address(raw: unknown, field: string): number {
  const text = typeof raw === 'string' ? raw.trim() : '';
  const parsed = text.includes('/') || text === '' ? undefined : readCidr(text);
  if (parsed === undefined || isCidrProblem(parsed) || parsed.length !== 32) {
    throw fail('FirewallRuleNotIPv4Address', `The ${field} ${JSON.stringify(raw)} of the firewall rule is not an IPv4 address.`);
  }
  return parsed.base;
}

function rule(raw: unknown, name: unknown): RuleBody {
  if (typeof name !== 'string' || name.trim() === '') throw fail('FirewallRuleNameEmpty', 'The provided firewall rule name is empty.');
  if (name.length > MAX_NAME) throw fail('FirewallRuleNameTooLong', `The firewall rule name ${name.slice(0, 20)}... is longer than ${MAX_NAME} characters.`);
  const props = isRecord(raw) && isRecord(raw['properties']) ? raw['properties'] : isRecord(raw) ? raw : {};
  const start = address(props['startIpAddress'], 'startIpAddress');
  const end = address(props['endIpAddress'], 'endIpAddress');
  if (start > end) throw fail('FirewallRuleInvalidRange', `The firewall rule's start ${String(props['startIpAddress'])} is after its end ${String(props['endIpAddress'])}.`);
  return { name: name.trim(), startIpAddress: String(props['startIpAddress']).trim(), endIpAddress: String(props['endIpAddress']).trim() };
}

function ruleJson(serverId: string, r: RuleBody): Record<string, unknown> {
  return { id: `${serverId}/firewallRules/${r.name}`, name: r.name, type: RULE_TYPE, properties: { startIpAddress: r.startIpAddress, endIpAddress: r.endIpAddress } };
}

function rulesOf(stored: StoredResource): RuleBody[] {
  const raw = stored.json['firewallRules'];
  return (Array.isArray(raw) ? raw : []).map((r) => {
    const j = r as { name: string; properties: { startIpAddress: string; endIpAddress: string } };
    return { name: j.name, startIpAddress: j.properties.startIpAddress, endIpAddress: j.properties.endIpAddress };
  });
}

/** The set as a whole: the limit, one rule per name, and no writes while public access is off. */
function checkedSet(stored: StoredResource, rules: readonly RuleBody[]): RuleBody[] {
  const props = isRecord(stored.json['properties']) ? stored.json['properties'] : {};
  if (String(props['publicNetworkAccess'] ?? 'Enabled').toLowerCase() === 'disabled') {
    throw fail('DenyPublicEndpointEnabled', 'Unable to create or modify firewall rules when public network interface for the server is disabled. To manage server or database level firewall rules, please enable the public network interface.');
  }
  if (rules.length > SQL_MAX_FIREWALL_RULES) throw fail('TooManyFirewallRules', `${rules.length} firewall rules exceed the maximum of ${SQL_MAX_FIREWALL_RULES} per server.`);
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.name.toLowerCase())) throw fail('InvalidServerFirewallRuleResourceParameters', `The firewall rule name ${r.name} is given more than once.`);
    names.add(r.name.toLowerCase());
  }
  return [...rules];
}

/** A seed's `emulatorReplace`: how long a replace answered 202 takes to show. The emulator's, never shown as ARM's. */
interface ReplaceDelay {
  readonly afterLists?: number;
  readonly afterMs?: number;
}

interface SqlRecord extends StoredResource {
  readonly delay?: ReplaceDelay;
  /** A replace accepted and not yet showing: its set, when it was taken, and how many lists still show the old one. */
  readonly pending?: { readonly rules: readonly RuleBody[]; readonly at: number; readonly listsLeft: number };
}

/** The server with these rules, keeping its delay; a pending replace is done with (landed or overtaken). */
function withRules(stored: StoredResource, rules: readonly RuleBody[]): SqlRecord {
  const delay = (stored as SqlRecord).delay;
  return { id: stored.id, json: { ...stored.json, firewallRules: rules.map((r) => ruleJson(stored.id, r)) }, ...(delay === undefined ? {} : { delay }) };
}

/** Lands a pending replace whose time is up, or any pending replace when `now` (another write comes). */
function settled(store: ResourceRequest['store'], stored: SqlRecord, now: boolean): SqlRecord {
  const pending = stored.pending;
  if (pending === undefined) return stored;
  const afterMs = stored.delay?.afterMs;
  if (!now && (afterMs === undefined || Date.now() - pending.at < afterMs)) return stored;
  const landed = withRules(stored, pending.rules);
  store.set(landed);
  return landed;
}

function delayOf(raw: unknown, id: string): ReplaceDelay | undefined {
  if (raw === undefined) return undefined;
  const count = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
  if (!isRecord(raw) || !count(raw['afterLists']) || !count(raw['afterMs']) || Object.keys(raw).some((k) => k !== 'afterLists' && k !== 'afterMs')) {
    throw seedError(`${id}: emulatorReplace must be { afterLists?, afterMs? }, non-negative integers`);
  }
  return { ...(raw['afterLists'] === undefined ? {} : { afterLists: raw['afterLists'] as number }), ...(raw['afterMs'] === undefined ? {} : { afterMs: raw['afterMs'] as number }) };
}

function serverOnly(json: Record<string, unknown>): Record<string, unknown> {
  const { firewallRules: _child, ...server } = json;
  return server;
}

const RULES_PATH = /^\/firewallrules(?:\/([^/]+))?$/i;

function handle(request: ResourceRequest): ArmReply {
  const found = request.store.get(request.id) as SqlRecord | undefined;
  // A write lands whatever replace is pending before it; a read sees it once its time is up.
  let stored = found === undefined ? undefined : settled(request.store, found, request.method !== 'GET');
  if (request.subPath === '') {
    if (request.method !== 'GET') throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves SQL servers read-only; ${request.method} is not modelled.`);
    if (stored === undefined) throw resourceNotFound(request.id);
    return { status: 200, body: serverOnly(stored.json) };
  }
  const m = RULES_PATH.exec(request.subPath);
  if (m === null) throw new ArmFailure(404, 'NotFound', `The emulator serves only firewallRules under a SQL server, not ${request.subPath}.`);
  if (stored === undefined) throw resourceNotFound(request.id);
  const rules = rulesOf(stored);
  const name = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
  if (name === undefined) {
    if (request.method === 'GET') {
      const pending = stored.pending;
      if (pending !== undefined && pending.listsLeft <= 0) {
        stored = settled(request.store, stored, true);
        return { status: 200, body: { value: rulesOf(stored).map((r) => ruleJson(stored!.id, r)) } };
      }
      if (pending !== undefined) request.store.set({ ...stored, pending: { ...pending, listsLeft: pending.listsLeft - 1 } } as SqlRecord);
      return { status: 200, body: { value: rules.map((r) => ruleJson(stored!.id, r)) } };
    }
    if (request.method !== 'PUT') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
    // FirewallRules_Replace: the whole set, checked as a whole before anything changes.
    const values = isRecord(request.body) ? request.body['values'] : undefined;
    if (!Array.isArray(values)) throw fail('InvalidServerFirewallRuleResourceRequest', 'The request must carry the rules as values: an array.');
    const next = checkedSet(stored, values.map((v) => rule(v, isRecord(v) ? v['name'] : undefined)));
    const delay = stored.delay;
    if (delay === undefined) request.store.set(withRules(stored, next));
    else request.store.set({ ...stored, pending: { rules: next, at: Date.now(), listsLeft: delay.afterLists ?? Number.MAX_SAFE_INTEGER } } as SqlRecord);
    return { status: 202, body: undefined };
  }
  const at = rules.findIndex((r) => r.name.toLowerCase() === name.toLowerCase());
  if (request.method === 'GET') {
    if (at < 0) throw new ArmFailure(404, 'ResourceNotFound', `The requested resource of type '${RULE_TYPE}' with name '${name}' was not found.`);
    return { status: 200, body: ruleJson(stored.id, rules[at]!) };
  }
  if (request.method === 'DELETE') {
    if (at < 0) return { status: 204, body: undefined };
    request.store.set(withRules(stored, checkedSet(stored, rules.filter((_, i) => i !== at))));
    return { status: 200, body: undefined };
  }
  if (request.method !== 'PUT') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
  // A rule keeps the name it was created with; a PUT in another case updates it.
  const written = rule(request.body, at < 0 ? name : rules[at]!.name);
  const next = at < 0 ? [...rules, written] : rules.map((r, i) => (i === at ? written : r));
  request.store.set(withRules(stored, checkedSet(stored, next)));
  return { status: at < 0 ? 201 : 200, body: ruleJson(stored.id, written) };
}

const ACCESS = ['Enabled', 'Disabled', 'SecuredByPerimeter'] as const;

function seed(resource: { readonly id: string } & Record<string, unknown>): StoredResource {
  const ref = parseResourceId(resource.id);
  const { firewallRules, properties, location, tags, emulatorReplace, id: _id, ...rest } = resource;
  const delay = delayOf(emulatorReplace, resource.id);
  if (Object.keys(rest).length > 0) throw seedError(`${resource.id}: unknown field${Object.keys(rest).length === 1 ? '' : 's'} ${Object.keys(rest).join(', ')}`);
  if (properties !== undefined && !isRecord(properties)) throw seedError(`${resource.id}: properties must be an object`);
  const access = oneOf((properties as Record<string, unknown> | undefined)?.['publicNetworkAccess'] ?? 'Enabled', ACCESS);
  if (access === undefined) throw seedError(`${resource.id}: properties.publicNetworkAccess must be one of ${ACCESS.join(', ')}`);
  const id = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${TYPE}/${ref.name}`;
  const json: Record<string, unknown> = {
    id,
    name: ref.name,
    type: TYPE,
    location: typeof location === 'string' ? location : 'westeurope',
    tags: isRecord(tags) ? tags : {},
    kind: 'v12.0',
    properties: {
      administratorLogin: 'sqladmin',
      version: '12.0',
      state: 'Ready',
      fullyQualifiedDomainName: `${ref.name.toLowerCase()}.database.windows.net`,
      minimalTlsVersion: '1.2',
      restrictOutboundNetworkAccess: 'Disabled',
      ...(properties as Record<string, unknown> | undefined),
      publicNetworkAccess: access,
    },
  };
  if (firewallRules !== undefined && !Array.isArray(firewallRules)) throw seedError(`${resource.id}: firewallRules must be an array of {name, startIpAddress, endIpAddress}`);
  try {
    const rules = ((firewallRules as unknown[] | undefined) ?? []).map((r) => rule(r, isRecord(r) ? r['name'] : undefined));
    // A seed may hold rules whatever publicNetworkAccess says: a server can be closed after its rules were made.
    if (rules.length > SQL_MAX_FIREWALL_RULES) throw fail('TooManyFirewallRules', `${rules.length} firewall rules exceed the maximum of ${SQL_MAX_FIREWALL_RULES} per server.`);
    return withRules({ id, json, ...(delay === undefined ? {} : { delay }) } as SqlRecord, rules);
  } catch (e) {
    throw seedError(`${resource.id}: firewallRules: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const SQL_MODEL: ResourceModel = { resourceType: TYPE, apiVersions: SQL_API_VERSIONS, handle, seed };
