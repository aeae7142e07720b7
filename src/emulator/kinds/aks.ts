import { randomUUID } from 'node:crypto';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { checkRuleValue, enumOf, nameOf, type RulePolicy } from './rule-values.js';
import { operationBehaviourOf, operationStatus, type OperationBehaviour as Behaviour, type OperationOutcome as Outcome } from './operations.js';

/**
 * AKS clusters (`Microsoft.ContainerService/managedClusters`) at the api-version
 * @azure/arm-containerservice 25.3.0 sends (2026-04-01): GET, and the long-running PUT that is
 * the only way to change a cluster's properties (the API's PATCH is updateTags alone). The PUT
 * answers 200 with an Azure-AsyncOperation header and the cluster reading Updating; the status
 * reads InProgress for a while, and only when it reads Succeeded does the cluster show what was
 * written (azure-rest-api-specs, specification/containerservice/resource-manager/
 * Microsoft.ContainerService/aks/stable/2026-04-01, examples ManagedClustersGet.json and, for the
 * PUT's statuses, 2025-10-01's ManagedClustersCreate_Update.json). Azure's status URL is under
 * the subscription's locations; the emulator serves it under the cluster, which the SDK follows
 * all the same. A PUT replaces what a client may write and keeps what the service owns
 * (provisioningState, fqdn, the pools' versions, ...); it honours If-Match on the eTag, which
 * every update changes; a second update while one runs is refused with 409.
 *
 * The authorized IP ranges' checks, from Microsoft's "Secure access to the API server using
 * authorized IP address ranges in AKS" page and azure-cli's validator (acs/_validators.py,
 * validate_ip_ranges):
 * - at most 200 ranges;
 * - IPv4 addresses or CIDR ranges, written from the block's first address (the page: "start with
 *   the first IP address in the range"; the validator refuses host bits);
 * - no private or reserved space (the validator: "must be global non-reserved addresses or
 *   CIDRs"); that the service refuses it too is assumed;
 * - `0.0.0.0/32` (only the cluster's own outbound IP) alone: the only refusal whose code and
 *   wording are Azure's own (InvalidParameter, quoted in Azure/terraform-azurerm-aks #378);
 * - none on a private cluster ("You can't use this feature with private clusters");
 * - a bare address is stored as its /32, as the az output in Azure/AKS #4085 shows.
 * The other refusals use InvalidParameter with the emulator's wording.
 *
 * A seed may carry `emulatorOperation: { durationMs, fail: { code, message } }` to make the
 * cluster's updates slow, never-ending or failing; it is the emulator's, never shown as ARM's.
 */

export const AKS_API_VERSIONS = ['2026-04-01'] as const;
export const AKS_MAX_RANGES = 200;
const DEFAULT_OPERATION_MS = 200;
const TYPE = 'Microsoft.ContainerService/managedClusters';
const EGRESS_ONLY = '0.0.0.0/32';

/** The service's own properties: a PUT cannot set them, and they survive it. */
const SERVICE_OWNED = ['provisioningState', 'powerState', 'maxAgentPools', 'currentKubernetesVersion', 'fqdn', 'azurePortalFQDN', 'privateFQDN', 'resourceUID'];
const POOL_SERVICE_OWNED = ['provisioningState', 'currentOrchestratorVersion', 'nodeImageVersion', 'eTag'];

function invalid(message: string): ArmFailure {
  return new ArmFailure(400, 'InvalidParameter', message);
}

const RANGES: RulePolicy = {
  path: (i) => `properties.apiServerAccessProfile.authorizedIPRanges[${i}]`,
  refused: 'all',
  allowHostBits: false,
  refuse3132: false,
  failure: (m) => invalid(`${m}. Refer to https://aka.ms/aks/auth-ip-ranges for more details`),
};

/** Checks the access profile; returns it with the ranges as AKS stores them. */
function accessProfile(raw: unknown): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) throw invalid('properties.apiServerAccessProfile must be an object');
  const ranges = raw['authorizedIPRanges'];
  if (ranges === undefined || ranges === null) return structuredClone(raw);
  if (!Array.isArray(ranges)) throw invalid('properties.apiServerAccessProfile.authorizedIPRanges must be an array');
  if (ranges.length > AKS_MAX_RANGES) throw invalid(`${ranges.length} authorized IP ranges exceed the maximum of ${AKS_MAX_RANGES}. Refer to https://aka.ms/aks/auth-ip-ranges for more details`);
  if (ranges.length > 0 && raw['enablePrivateCluster'] === true) throw invalid('API server authorized IP ranges are not supported on private clusters. Refer to https://aka.ms/aks/auth-ip-ranges for more details');
  if (ranges.includes(EGRESS_ONLY) && ranges.length > 1) {
    throw invalid('Setting apiServerAuthorizedIPRange to 0.0.0.0/32 is not allowed with other IP ranges. Refer to https://aka.ms/aks/auth-ip-ranges for more details');
  }
  const stored = ranges.map((r: unknown, i) => {
    if (r === EGRESS_ONLY) return r;
    const key = checkRuleValue(r, i, RANGES);
    return (r as string).includes('/') ? (r as string).trim() : key;
  });
  return { ...structuredClone(raw), authorizedIPRanges: stored };
}

function checkProperties(props: Record<string, unknown>): Record<string, unknown> {
  const profile = accessProfile(props['apiServerAccessProfile']);
  const out: Record<string, unknown> = { ...props };
  if (profile === undefined) delete out['apiServerAccessProfile'];
  else out['apiServerAccessProfile'] = profile;
  if (out['publicNetworkAccess'] !== undefined) out['publicNetworkAccess'] = enumOf(out['publicNetworkAccess'], ['Enabled', 'Disabled'], 'properties.publicNetworkAccess', invalid);
  return out;
}

interface Operation {
  readonly id: string;
  readonly startedAt: number;
  /** The cluster as it will be once the operation succeeds. */
  readonly result: Record<string, unknown>;
}

interface AksRecord extends StoredResource {
  readonly behaviour: Behaviour;
  readonly pending?: Operation;
  readonly finished: Readonly<Record<string, Outcome>>;
}

function props(json: Record<string, unknown>): Record<string, unknown> {
  return json['properties'] as Record<string, unknown>;
}

function withProvisioning(json: Record<string, unknown>, state: string): Record<string, unknown> {
  return { ...json, properties: { ...props(json), provisioningState: state } };
}

/** Ends the pending operation once its time is up; returns the record as it now stands. */
function settle(request: ResourceRequest): AksRecord | undefined {
  const stored = request.store.get(request.id);
  if (stored === undefined) return undefined;
  const record = stored as AksRecord;
  const op = record.pending;
  if (op === undefined || Date.now() - op.startedAt < record.behaviour.durationMs) return record;
  const fail = record.behaviour.fail;
  const settled: AksRecord = {
    id: record.id,
    behaviour: record.behaviour,
    json: withProvisioning(fail === undefined ? op.result : record.json, fail === undefined ? 'Succeeded' : 'Failed'),
    finished: { ...record.finished, [op.id]: fail === undefined ? { status: 'Succeeded' } : { status: 'Failed', error: { ...fail } } },
  };
  request.store.set(settled);
  return settled;
}

/** A pool as PUT, with what the service owns of the pool of the same name as it was. */
function pools(raw: unknown, before: unknown): unknown {
  if (!Array.isArray(raw)) return raw;
  const old = new Map((Array.isArray(before) ? before : []).filter(isRecord).map((p) => [String(p['name']), p]));
  return raw.map((p: unknown) => {
    if (!isRecord(p)) return p;
    const was = old.get(String(p['name']));
    const owned = Object.fromEntries(POOL_SERVICE_OWNED.filter((k) => was?.[k] !== undefined).map((k) => [k, was![k]]));
    const own = Object.fromEntries(Object.entries(p).filter(([k]) => !POOL_SERVICE_OWNED.includes(k)));
    return { ...own, ...owned };
  });
}

function put(request: ResourceRequest, record: AksRecord): ArmReply {
  if (record.pending !== undefined) {
    throw new ArmFailure(409, 'OperationNotAllowed', `Operation is not allowed because there's an in progress update managed cluster operation on ${nameOf(record.id)}. Please wait for it to finish before starting a new operation.`);
  }
  const ifMatch = request.ifMatch;
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== record.json['eTag']) {
    throw new ArmFailure(412, 'PreconditionFailed', `Operation failed because the eTag in If-Match (${ifMatch}) does not match the cluster's current eTag.`);
  }
  const body = request.body;
  if (!isRecord(body)) throw invalid('The request body must be a JSON object.');
  if (typeof body['location'] !== 'string') throw invalid('location is required');
  const before = props(record.json);
  const asked = isRecord(body['properties']) ? body['properties'] : {};
  const writable = Object.fromEntries(Object.entries(asked).filter(([k]) => !SERVICE_OWNED.includes(k)));
  const wasPrivate = isRecord(before['apiServerAccessProfile']) && before['apiServerAccessProfile']['enablePrivateCluster'] === true;
  const nowPrivate = isRecord(writable['apiServerAccessProfile']) && writable['apiServerAccessProfile']['enablePrivateCluster'] === true;
  if (wasPrivate !== nowPrivate) throw invalid('Changing property apiServerAccessProfile.enablePrivateCluster is not allowed on an existing cluster.');
  const owned = Object.fromEntries(SERVICE_OWNED.filter((k) => before[k] !== undefined).map((k) => [k, before[k]]));
  const next = checkProperties({ ...structuredClone(writable), agentPoolProfiles: pools(writable['agentPoolProfiles'], before['agentPoolProfiles']), ...owned });
  if (next['agentPoolProfiles'] === undefined) delete next['agentPoolProfiles'];
  // A PUT that leaves publicNetworkAccess out keeps the cluster's (Enabled unless it was set).
  if (next['publicNetworkAccess'] === undefined && before['publicNetworkAccess'] !== undefined) next['publicNetworkAccess'] = before['publicNetworkAccess'];
  const { properties: _p, ...rest } = body;
  const result: Record<string, unknown> = {
    ...structuredClone(rest),
    id: record.id,
    name: nameOf(record.id),
    type: TYPE,
    eTag: randomUUID(),
    properties: next,
  };
  const op: Operation = { id: randomUUID(), startedAt: Date.now(), result };
  const json = withProvisioning(record.json, 'Updating');
  const updating: AksRecord = { ...record, json, pending: op };
  request.store.set(updating);
  const url = `${request.origin}${record.id}/operations/${op.id}?api-version=${request.apiVersion}`;
  return { status: 200, body: withProvisioning(result, 'Updating'), headers: { 'azure-asyncoperation': url } };
}

function operation(record: AksRecord, opId: string): ArmReply {
  const outcome = record.finished[opId];
  const running = record.pending?.id === opId;
  const base = { name: opId, startTime: new Date().toISOString() };
  return operationStatus(base, running, outcome, opId);
}

export const AKS_MODEL: ResourceModel = {
  resourceType: TYPE,
  apiVersions: AKS_API_VERSIONS,

  handle(request: ResourceRequest): ArmReply {
    const record = settle(request);
    if (record === undefined) throw resourceNotFound(request.id);
    const sub = /^\/operations\/([^/]+)$/i.exec(request.subPath);
    if (sub !== null && request.method === 'GET') return operation(record, sub[1]!);
    if (request.subPath !== '') throw resourceNotFound(`${request.id}${request.subPath}`);
    if (request.method === 'GET') return { status: 200, body: record.json };
    if (request.method === 'PUT') return put(request, record);
    throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves GET and PUT of managed clusters; ${request.method} is not modelled.`);
  },

  seed(resource): AksRecord {
    const { id, emulatorOperation, properties, ...rest } = resource as { id: string; emulatorOperation?: unknown; properties?: unknown } & Record<string, unknown>;
    if (properties !== undefined && !isRecord(properties)) throw seedError(`${id}: properties must be an object`);
    const name = nameOf(id);
    const location = typeof rest['location'] === 'string' ? rest['location'] : 'westeurope';
    const dnsPrefix = isRecord(properties) && typeof properties['dnsPrefix'] === 'string' ? properties['dnsPrefix'] : name;
    const merged: Record<string, unknown> = {
      provisioningState: 'Succeeded',
      powerState: { code: 'Running' },
      kubernetesVersion: '1.33.0',
      currentKubernetesVersion: '1.33.0',
      dnsPrefix,
      fqdn: `${dnsPrefix}-a1b2c3d4.hcp.${location}.azmk8s.io`,
      agentPoolProfiles: [{ name: 'nodepool1', count: 3, vmSize: 'Standard_D2s_v5', osType: 'Linux', mode: 'System', type: 'VirtualMachineScaleSets', provisioningState: 'Succeeded', currentOrchestratorVersion: '1.33.0' }],
      nodeResourceGroup: `MC_${name}_${location}`,
      enableRBAC: true,
      networkProfile: { networkPlugin: 'azure', loadBalancerSku: 'standard', outboundType: 'loadBalancer' },
      maxAgentPools: 100,
      publicNetworkAccess: 'Enabled',
      ...properties,
    };
    let checked: Record<string, unknown>;
    try {
      checked = checkProperties(merged);
    } catch (e) {
      throw seedError(`${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return {
      id,
      json: { id, name, type: TYPE, location, tags: {}, sku: { name: 'Base', tier: 'Free' }, eTag: randomUUID(), ...rest, properties: checked },
      behaviour: operationBehaviourOf(emulatorOperation, DEFAULT_OPERATION_MS),
      finished: {},
    };
  },
};
