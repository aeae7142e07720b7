import { randomUUID } from 'node:crypto';
import { isCidrProblem, readCidr } from '../../core/ip-text.js';
import { parseResourceId } from '../../core/resource-id.js';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { operationBehaviourOf, operationStatus, outcomeOf, type OperationBehaviour, type OperationOutcome } from './operations.js';

/**
 * The start/end kinds whose named rules are written one at a time (`<type>/firewallRules/<name>`
 * under a server: PostgreSQL and MySQL flexible servers, Synapse workspaces, Redis caches), as
 * one model parameterised by each kind's facts (NamedRangeSpec): its field names, api-versions,
 * limit, name pattern, error codes, and whether PUT and DELETE are long-running operations.
 *
 * Served: the server's GET (read-only), the rule list, a rule's GET, PUT and DELETE, and the
 * status URLs of the operations. A rule's checks: a name matching the kind's pattern, start and
 * end IPv4 addresses, the start not after the end, at most `maxRules` rules (when the kind has
 * one), and, where the kind refuses it, no write while public access is off.
 *
 * A long-running PUT or DELETE is applied when Azure accepts it (202, with Azure-AsyncOperation
 * and Location URLs under the server); its status reads InProgress for the seed's
 * `emulatorOperation.durationMs`, then Succeeded. A seed's `emulatorOperation.fail` makes every
 * operation end Failed with that error, and then the change is not applied. Names compare
 * case-insensitively, as ARM's do; a rule keeps the spelling it was created with.
 *
 * A server is stored as its GET returns it plus `firewallRules` (each as its own GET returns it);
 * the server's GET leaves that field out, and Resource Graph sees the server, not its rules.
 */

export interface NamedRangeSpec {
  /** `Microsoft.DBforPostgreSQL/flexibleServers`. */
  readonly resourceType: string;
  readonly apiVersions: readonly string[];
  /** The rule's address fields: `startIpAddress`/`endIpAddress`, or Redis's `startIP`/`endIP`. */
  readonly fields: { readonly start: string; readonly end: string };
  /** The most rules a server holds, when the kind documents one. */
  readonly maxRules?: number;
  /** What a rule's name must match. */
  readonly namePattern: RegExp;
  /** The error codes of the kind's refusals (ARM's generic ones where the kind's own are unknown). */
  readonly codes: {
    readonly badName: string;
    readonly notIPv4: string;
    readonly invalidRange: string;
    readonly tooMany: string;
    /** Set when the kind refuses rule writes while public access is off. */
    readonly publicAccessDisabled?: string;
  };
  /** Where the server's public network access lives in its properties. */
  readonly publicAccess: (properties: Record<string, unknown>) => unknown;
  /** The values public access takes; the first is a new server's. */
  readonly publicAccessValues: readonly string[];
  /** Whether a rule's PUT and DELETE are long-running operations (answered 202). */
  readonly longRunning: { readonly put: boolean; readonly delete: boolean };
  /** A seeded server as its GET returns it: the kind's defaults under what the seed gives. */
  readonly server: (ref: { readonly id: string; readonly name: string }, seed: { readonly location: string; readonly tags: Record<string, unknown>; readonly properties: Record<string, unknown> }) => Record<string, unknown>;
  /** Sets public access in the server's properties (the seed's `publicNetworkAccess` shorthand goes through it). */
  readonly withPublicAccess: (properties: Record<string, unknown>, value: string) => Record<string, unknown>;
}

interface RuleBody {
  readonly name: string;
  readonly start: string;
  readonly end: string;
}

interface Operation {
  readonly startedAt: number;
  readonly outcome: OperationOutcome;
  /** The rule as its GET returns it after a PUT; undefined after a DELETE. */
  readonly result?: Record<string, unknown>;
}

interface NamedRangeRecord extends StoredResource {
  readonly behaviour: OperationBehaviour;
  readonly operations: Readonly<Record<string, Operation>>;
}

const DEFAULT_OPERATION_MS = 0;

export function namedRangeModel(spec: NamedRangeSpec): ResourceModel {
  const ruleType = `${spec.resourceType}/firewallRules`;
  const fail = (code: string, message: string) => new ArmFailure(400, code, message);
  const { start: START, end: END } = spec.fields;

  function address(raw: unknown, field: string): number {
    const text = typeof raw === 'string' ? raw.trim() : '';
    const parsed = text.includes('/') || text === '' ? undefined : readCidr(text);
    if (parsed === undefined || isCidrProblem(parsed) || parsed.length !== 32) {
      throw fail(spec.codes.notIPv4, `The ${field} ${JSON.stringify(raw)} of the firewall rule is not an IPv4 address.`);
    }
    return parsed.base;
  }

  function rule(raw: unknown, name: unknown): RuleBody {
    if (typeof name !== 'string' || !spec.namePattern.test(name)) {
      throw fail(spec.codes.badName, `The firewall rule name ${JSON.stringify(name)} is not valid: it must match ${spec.namePattern.source}.`);
    }
    const props = isRecord(raw) && isRecord(raw['properties']) ? raw['properties'] : isRecord(raw) ? raw : {};
    const start = address(props[START], START);
    const end = address(props[END], END);
    if (start > end) throw fail(spec.codes.invalidRange, `The firewall rule's ${START} ${String(props[START])} is after its ${END} ${String(props[END])}.`);
    return { name, start: String(props[START]).trim(), end: String(props[END]).trim() };
  }

  const ruleJson = (serverId: string, r: RuleBody): Record<string, unknown> => ({ id: `${serverId}/firewallRules/${r.name}`, name: r.name, type: ruleType, properties: { [START]: r.start, [END]: r.end } });

  function rulesOf(stored: StoredResource): RuleBody[] {
    const raw = stored.json['firewallRules'];
    return (Array.isArray(raw) ? raw : []).map((r) => {
      const j = r as { name: string; properties: Record<string, string> };
      return { name: j.name, start: j.properties[START]!, end: j.properties[END]! };
    });
  }

  function checkedSet(stored: StoredResource, rules: readonly RuleBody[]): RuleBody[] {
    const props = isRecord(stored.json['properties']) ? stored.json['properties'] : {};
    if (spec.codes.publicAccessDisabled !== undefined && String(spec.publicAccess(props) ?? '').toLowerCase() === 'disabled') {
      throw fail(spec.codes.publicAccessDisabled, 'Firewall rules cannot be created or changed while public network access to the server is disabled.');
    }
    if (spec.maxRules !== undefined && rules.length > spec.maxRules) throw fail(spec.codes.tooMany, `${rules.length} firewall rules exceed the maximum of ${spec.maxRules} per server.`);
    return [...rules];
  }

  const serverOnly = (json: Record<string, unknown>): Record<string, unknown> => {
    const { firewallRules: _child, ...server } = json;
    return server;
  };

  function store(request: ResourceRequest, record: NamedRangeRecord, rules: readonly RuleBody[] | undefined, operations: Record<string, Operation>): void {
    const json = rules === undefined ? record.json : { ...record.json, firewallRules: rules.map((r) => ruleJson(record.id, r)) };
    request.store.set({ id: record.id, json, behaviour: record.behaviour, operations } as NamedRangeRecord);
  }

  /** Starts an operation for a change already checked: applied now unless the seed makes it fail. */
  function operate(request: ResourceRequest, record: NamedRangeRecord, next: readonly RuleBody[], result: Record<string, unknown> | undefined): ArmReply {
    const id = randomUUID();
    const outcome = outcomeOf(record.behaviour);
    const op: Operation = { startedAt: Date.now(), outcome, ...(result === undefined ? {} : { result }) };
    store(request, record, outcome.status === 'Succeeded' ? next : undefined, { ...record.operations, [id]: op });
    const query = `?api-version=${request.apiVersion}`;
    return {
      status: 202,
      body: undefined,
      headers: {
        'azure-asyncoperation': `${request.origin}${record.id}/firewallRuleOperations/${id}${query}`,
        location: `${request.origin}${record.id}/firewallRuleOperationResults/${id}${query}`,
      },
    };
  }

  function operation(request: ResourceRequest, record: NamedRangeRecord, what: string, id: string): ArmReply {
    const op = record.operations[id];
    const running = op !== undefined && Date.now() - op.startedAt < record.behaviour.durationMs;
    if (what.toLowerCase() === 'firewallruleoperations') return operationStatus({ id: `${record.id}/firewallRuleOperations/${id}`, name: id }, running, op?.outcome, id);
    if (op === undefined) throw new ArmFailure(404, 'NotFound', `Operation ${id} was not found.`);
    if (running) return { status: 202, body: undefined, headers: { location: `${request.origin}${record.id}/firewallRuleOperationResults/${id}?api-version=${request.apiVersion}` } };
    if (op.outcome.status === 'Failed') throw new ArmFailure(400, op.outcome.error.code, op.outcome.error.message);
    return op.result === undefined ? { status: 204, body: undefined } : { status: 200, body: op.result };
  }

  const RULES_PATH = /^\/firewallrules(?:\/([^/]+))?$/i;
  const OPERATION_PATH = /^\/(firewallRuleOperations|firewallRuleOperationResults)\/([^/]+)$/i;

  function handle(request: ResourceRequest): ArmReply {
    const record = request.store.get(request.id) as NamedRangeRecord | undefined;
    if (request.subPath === '') {
      if (request.method !== 'GET') throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves ${spec.resourceType} read-only; ${request.method} is not modelled.`);
      if (record === undefined) throw resourceNotFound(request.id);
      return { status: 200, body: serverOnly(record.json) };
    }
    const op = OPERATION_PATH.exec(request.subPath);
    if (op !== null && request.method === 'GET') {
      if (record === undefined) throw resourceNotFound(request.id);
      return operation(request, record, op[1]!, op[2]!);
    }
    const m = RULES_PATH.exec(request.subPath);
    if (m === null) throw new ArmFailure(404, 'NotFound', `The emulator serves only firewallRules under ${spec.resourceType}, not ${request.subPath}.`);
    if (record === undefined) throw resourceNotFound(request.id);
    const rules = rulesOf(record);
    const name = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
    if (name === undefined) {
      if (request.method !== 'GET') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
      return { status: 200, body: { value: rules.map((r) => ruleJson(record.id, r)) } };
    }
    const at = rules.findIndex((r) => r.name.toLowerCase() === name.toLowerCase());
    if (request.method === 'GET') {
      if (at < 0) throw new ArmFailure(404, 'ResourceNotFound', `The requested resource of type '${ruleType}' with name '${name}' was not found.`);
      return { status: 200, body: ruleJson(record.id, rules[at]!) };
    }
    if (request.method === 'DELETE') {
      if (at < 0) return { status: 204, body: undefined };
      const next = checkedSet(record, rules.filter((_, i) => i !== at));
      if (spec.longRunning.delete) return operate(request, record, next, undefined);
      store(request, record, next, { ...record.operations });
      return { status: 200, body: undefined };
    }
    if (request.method !== 'PUT') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
    const written = rule(request.body, at < 0 ? name : rules[at]!.name);
    const next = checkedSet(record, at < 0 ? [...rules, written] : rules.map((r, i) => (i === at ? written : r)));
    if (spec.longRunning.put) return operate(request, record, next, ruleJson(record.id, written));
    store(request, record, next, { ...record.operations });
    return { status: at < 0 ? 201 : 200, body: ruleJson(record.id, written) };
  }

  function seed(resource: { readonly id: string } & Record<string, unknown>): NamedRangeRecord {
    const ref = parseResourceId(resource.id);
    const { firewallRules, properties, location, tags, publicNetworkAccess, emulatorOperation, id: _id, ...rest } = resource;
    if (Object.keys(rest).length > 0) throw seedError(`${resource.id}: unknown field${Object.keys(rest).length === 1 ? '' : 's'} ${Object.keys(rest).join(', ')}`);
    if (properties !== undefined && !isRecord(properties)) throw seedError(`${resource.id}: properties must be an object`);
    let props = { ...(properties as Record<string, unknown> | undefined) };
    if (publicNetworkAccess !== undefined) {
      const value = spec.publicAccessValues.find((v) => typeof publicNetworkAccess === 'string' && v.toLowerCase() === publicNetworkAccess.toLowerCase());
      if (value === undefined) throw seedError(`${resource.id}: publicNetworkAccess must be one of ${spec.publicAccessValues.join(', ')}`);
      props = spec.withPublicAccess(props, value);
    } else if (spec.publicAccess(props) === undefined) {
      props = spec.withPublicAccess(props, spec.publicAccessValues[0]!);
    }
    const id = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${spec.resourceType}/${ref.name}`;
    const json = spec.server({ id, name: ref.name }, { location: typeof location === 'string' ? location : 'westeurope', tags: isRecord(tags) ? tags : {}, properties: props });
    if (firewallRules !== undefined && !Array.isArray(firewallRules)) throw seedError(`${resource.id}: firewallRules must be an array of {name, ${START}, ${END}}`);
    let behaviour: OperationBehaviour;
    try {
      behaviour = operationBehaviourOf(emulatorOperation, DEFAULT_OPERATION_MS);
    } catch (e) {
      throw seedError(`${resource.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      const rules = ((firewallRules as unknown[] | undefined) ?? []).map((r) => rule(r, isRecord(r) ? r['name'] : undefined));
      // A seed may hold rules whatever public access says: a server can be closed after its rules were made.
      if (spec.maxRules !== undefined && rules.length > spec.maxRules) throw fail(spec.codes.tooMany, `${rules.length} firewall rules exceed the maximum of ${spec.maxRules} per server.`);
      return { id, json: { ...json, firewallRules: rules.map((r) => ruleJson(id, r)) }, behaviour, operations: {} };
    } catch (e) {
      throw seedError(`${resource.id}: firewallRules: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  return { resourceType: spec.resourceType, apiVersions: spec.apiVersions, handle, seed };
}
