import { randomUUID } from 'node:crypto';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { checkRuleList, enumOf, mergePatch, nameOf, type RulePolicy } from './rule-values.js';
import { operationBehaviourOf, operationStatus, type OperationBehaviour as Behaviour, type OperationOutcome as Outcome } from './operations.js';

/**
 * Cosmos DB accounts (`Microsoft.DocumentDB/databaseAccounts`) at the api-version
 * @azure/arm-cosmosdb 16.4.0 sends. An update is a long-running operation: the PATCH answers
 * 200 with an Azure-AsyncOperation header (the spec lists 200 alone for DatabaseAccounts_Update,
 * and so does its example CosmosDBDatabaseAccountPatch.json; the body still reads Updating), the
 * status reads InProgress for a while, and only
 * when it reads Succeeded does the account show what was written. Azure's own status URL is
 * a subscription-level `.../providers/Microsoft.DocumentDB/locations/{region}/operationsStatus/{id}`;
 * the emulator serves it under the account instead, which the SDK follows all the same.
 *
 * A seed may carry `emulatorOperation: { durationMs, fail: { code, message } }` to make the
 * account's updates slow, never-ending or failing; it is the emulator's, never shown as ARM's.
 */

export const COSMOS_API_VERSIONS = ['2025-10-15'] as const;
export const DEFAULT_OPERATION_MS = 200;

const TYPE = 'Microsoft.DocumentDB/databaseAccounts';

/** What the spec's IpAddressOrRange says is refused: "not enforceable by the IP address filter". */
const COSMOS_RULES: RulePolicy = {
  path: (i) => `properties.ipRules[${i}].ipAddressOrRange`,
  refused: ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16'],
  // The spec's own examples carry host bits (23.40.210.0/8, 110.12.240.0/12).
  allowHostBits: true,
  refuse3132: false,
  // Wording after the report in terraform-provider-azurerm #7946 ("Supplied IpAddressOrRange
  // is not publicly routable"); the rest of the text is the emulator's.
  failure: (m) => new ArmFailure(400, 'BadRequest', `Supplied IpAddressOrRange is invalid or not publicly routable. ${m}`),
};

/** Properties a PATCH may change here; the rest are the service's or out of scope. */
const WRITABLE = new Set(['ipRules', 'isVirtualNetworkFilterEnabled', 'virtualNetworkRules', 'publicNetworkAccess', 'networkAclBypass', 'networkAclBypassResourceIds', 'disableLocalAuth', 'minimalTlsVersion']);

interface Operation {
  readonly id: string;
  readonly startedAt: number;
  /** The account as it will be once the operation succeeds. */
  readonly result: Record<string, unknown>;
}

interface CosmosRecord extends StoredResource {
  readonly behaviour: Behaviour;
  readonly pending?: Operation;
  readonly finished: Readonly<Record<string, Outcome>>;
}

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

function withProvisioning(json: Record<string, unknown>, state: string): Record<string, unknown> {
  return { ...json, properties: { ...(json['properties'] as Record<string, unknown>), provisioningState: state } };
}

function checkProperties(properties: Record<string, unknown>): void {
  checkRuleList(properties['ipRules'] ?? [], 'ipAddressOrRange', 'properties.ipRules', COSMOS_RULES);
  if (typeof properties['isVirtualNetworkFilterEnabled'] !== 'boolean') throw badRequest('properties.isVirtualNetworkFilterEnabled must be true or false');
  if (!Array.isArray(properties['virtualNetworkRules'])) throw badRequest('properties.virtualNetworkRules must be an array');
  enumOf(properties['publicNetworkAccess'], ['Enabled', 'Disabled', 'SecuredByPerimeter'], 'properties.publicNetworkAccess', badRequest);
  enumOf(properties['networkAclBypass'], ['None', 'AzureServices'], 'properties.networkAclBypass', badRequest);
}

function asRecord(stored: StoredResource): CosmosRecord {
  return stored as CosmosRecord;
}

/** Ends the pending operation once its time is up; returns the record as it now stands. */
function settle(request: ResourceRequest): CosmosRecord | undefined {
  const stored = request.store.get(request.id);
  if (stored === undefined) return undefined;
  const record = asRecord(stored);
  const op = record.pending;
  if (op === undefined || Date.now() - op.startedAt < record.behaviour.durationMs) return record;
  const fail = record.behaviour.fail;
  const settled: CosmosRecord = {
    id: record.id,
    behaviour: record.behaviour,
    json: withProvisioning(fail === undefined ? op.result : record.json, 'Succeeded'),
    finished: { ...record.finished, [op.id]: fail === undefined ? { status: 'Succeeded' } : { status: 'Failed', error: { ...fail } } },
  };
  request.store.set(settled);
  return settled;
}

function operationUrls(request: ResourceRequest, opId: string): Record<string, string> {
  const query = `?api-version=${request.apiVersion}`;
  return {
    'azure-asyncoperation': `${request.origin}${request.id}/operationsStatus/${opId}${query}`,
    location: `${request.origin}${request.id}/operationResults/${opId}${query}`,
  };
}

function patch(request: ResourceRequest, record: CosmosRecord): ArmReply {
  if (record.pending !== undefined) {
    // As Cosmos DB answers a second update while one is running (seen in terraform-provider-azurerm #15842).
    throw new ArmFailure(412, 'PreconditionFailed', `There is another user operation in progress which requires an exclusive lock on [${nameOf(record.id)}]. Please retry after sometime.`);
  }
  const body = request.body;
  if (!isRecord(body)) throw badRequest('The request body must be a JSON object.');
  const props = isRecord(body['properties']) ? body['properties'] : {};
  const current = record.json['properties'] as Record<string, unknown>;
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(props)) if (WRITABLE.has(k)) next[k] = structuredClone(v);
  checkProperties(next);
  const result: Record<string, unknown> = { ...record.json, properties: next };
  if (isRecord(body['tags'])) result['tags'] = mergePatch(record.json['tags'], body['tags']);
  const op: Operation = { id: randomUUID(), startedAt: Date.now(), result };
  const json = withProvisioning(record.json, 'Updating');
  const updating: CosmosRecord = { ...record, json, pending: op };
  request.store.set(updating);
  return { status: 200, body: json, headers: operationUrls(request, op.id) };
}

function operation(request: ResourceRequest, record: CosmosRecord, kind: string, opId: string): ArmReply {
  const outcome = record.finished[opId];
  const running = record.pending?.id === opId;
  if (outcome === undefined && !running) throw new ArmFailure(404, 'NotFound', `Operation ${opId} was not found.`);
  if (kind === 'operationResults') {
    return running ? { status: 202, body: undefined, headers: { location: operationUrls(request, opId)['location']! } } : { status: 200, body: record.json };
  }
  const base = { id: `${request.id}/operationsStatus/${opId}`, name: opId };
  return operationStatus(base, running, outcome, opId);
}

export const COSMOS_DB_MODEL: ResourceModel = {
  resourceType: TYPE,
  apiVersions: COSMOS_API_VERSIONS,

  handle(request: ResourceRequest): ArmReply {
    const record = settle(request);
    if (record === undefined) throw resourceNotFound(request.id);
    const sub = /^\/(operationsStatus|operationResults)\/([^/]+)$/i.exec(request.subPath);
    if (sub !== null && request.method === 'GET') return operation(request, record, sub[1]!, sub[2]!);
    if (request.subPath !== '') throw resourceNotFound(`${request.id}${request.subPath}`);
    if (request.method === 'GET') return { status: 200, body: record.json };
    if (request.method === 'PATCH') return patch(request, record);
    throw new ArmFailure(405, 'MethodNotAllowed', `The emulator does not serve ${request.method} on a Cosmos DB account.`);
  },

  seed(resource): CosmosRecord {
    const { id, emulatorOperation, properties, ...rest } = resource as { id: string; emulatorOperation?: unknown; properties?: unknown } & Record<string, unknown>;
    if (properties !== undefined && !isRecord(properties)) throw seedError(`${id}: properties must be an object`);
    const name = nameOf(id);
    const merged: Record<string, unknown> = {
      provisioningState: 'Succeeded',
      documentEndpoint: `https://${name}.documents.azure.com:443/`,
      databaseAccountOfferType: 'Standard',
      ipRules: [],
      isVirtualNetworkFilterEnabled: false,
      virtualNetworkRules: [],
      publicNetworkAccess: 'Enabled',
      networkAclBypass: 'None',
      networkAclBypassResourceIds: [],
      disableLocalAuth: false,
      minimalTlsVersion: 'Tls12',
      consistencyPolicy: { defaultConsistencyLevel: 'Session', maxIntervalInSeconds: 5, maxStalenessPrefix: 100 },
      locations: [{ id: `${name}-westeurope`, locationName: 'West Europe', documentEndpoint: `https://${name}-westeurope.documents.azure.com:443/`, provisioningState: 'Succeeded', failoverPriority: 0, isZoneRedundant: false }],
      ...properties,
    };
    try {
      checkProperties(merged);
    } catch (e) {
      throw seedError(`${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return {
      id,
      json: { id, name, type: TYPE, location: 'West Europe', kind: 'GlobalDocumentDB', tags: {}, ...rest, properties: merged },
      behaviour: operationBehaviourOf(emulatorOperation, DEFAULT_OPERATION_MS),
      finished: {},
    };
  },
};
