import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { checkRuleList, enumOf, mergePatch, nameOf, type RulePolicy } from './rule-values.js';

/**
 * Azure AI services accounts (`Microsoft.CognitiveServices/accounts`) at the api-version
 * @azure/arm-cognitiveservices 8.1.0 sends. The rules follow Microsoft's "Configure Azure AI
 * services virtual networks" page: at most 100 IP rules and 100 virtual-network rules, IPv4
 * only, no private (RFC 1918) ranges, and no /31 or /32 ranges (single addresses bare); the
 * /31 and /32 refusal is also reported in azure-powershell #25455. The error texts are the
 * emulator's: Azure's exact wording was not found. The PATCH answers 200 with the account,
 * which the SDK's poller takes as an operation already done.
 */

export const COGNITIVE_API_VERSIONS = ['2025-09-01'] as const;
export const COGNITIVE_MAX_IP_RULES = 100;
export const COGNITIVE_MAX_VNET_RULES = 100;

const TYPE = 'Microsoft.CognitiveServices/accounts';

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

const RULES: RulePolicy = {
  path: (i) => `properties.networkAcls.ipRules[${i}].value`,
  refused: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  allowHostBits: false,
  refuse3132: true,
  maxRules: COGNITIVE_MAX_IP_RULES,
  failure: badRequest,
};

const SUBNET_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;

function checkNetworkAcls(acls: unknown): void {
  if (acls === undefined) return;
  if (!isRecord(acls)) throw badRequest('properties.networkAcls must be an object');
  if (acls['defaultAction'] !== undefined) enumOf(acls['defaultAction'], ['Allow', 'Deny'], 'properties.networkAcls.defaultAction', badRequest);
  if (acls['bypass'] !== undefined) enumOf(acls['bypass'], ['AzureServices', 'None'], 'properties.networkAcls.bypass', badRequest);
  checkRuleList(acls['ipRules'] ?? [], 'value', 'properties.networkAcls.ipRules', RULES);
  const vnet = acls['virtualNetworkRules'] ?? [];
  if (!Array.isArray(vnet)) throw badRequest('properties.networkAcls.virtualNetworkRules must be an array');
  if (vnet.length > COGNITIVE_MAX_VNET_RULES) throw badRequest(`properties.networkAcls.virtualNetworkRules has ${vnet.length} rules; at most ${COGNITIVE_MAX_VNET_RULES} are allowed`);
  vnet.forEach((r: unknown, i) => {
    if (!isRecord(r) || typeof r['id'] !== 'string' || !SUBNET_ID.test(r['id'])) throw badRequest(`properties.networkAcls.virtualNetworkRules[${i}].id must be a subnet resource ID`);
  });
}

function checkProperties(properties: Record<string, unknown>): void {
  checkNetworkAcls(properties['networkAcls']);
  enumOf(properties['publicNetworkAccess'], ['Enabled', 'Disabled'], 'properties.publicNetworkAccess', badRequest);
}

/** What a PATCH may change; the rest (endpoint, provisioningState, ...) is the service's. */
const WRITABLE = new Set(['networkAcls', 'publicNetworkAccess', 'disableLocalAuth', 'restrictOutboundNetworkAccess', 'allowedFqdnList', 'customSubDomainName']);

function patch(request: ResourceRequest, stored: StoredResource): ArmReply {
  const body = request.body;
  if (!isRecord(body)) throw badRequest('The request body must be a JSON object.');
  const current = stored.json['properties'] as Record<string, unknown>;
  const props = isRecord(body['properties']) ? body['properties'] : {};
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(props)) if (WRITABLE.has(k)) next[k] = mergePatch(current[k], v);
  checkProperties(next);
  const json: Record<string, unknown> = { ...stored.json, properties: next };
  if (isRecord(body['tags'])) json['tags'] = mergePatch(stored.json['tags'], body['tags']);
  request.store.set({ id: stored.id, json });
  return { status: 200, body: json };
}

export const COGNITIVE_SERVICES_MODEL: ResourceModel = {
  resourceType: TYPE,
  apiVersions: COGNITIVE_API_VERSIONS,

  handle(request: ResourceRequest): ArmReply {
    const stored = request.store.get(request.id);
    if (stored === undefined || request.subPath !== '') throw resourceNotFound(`${request.id}${request.subPath}`);
    if (request.method === 'GET') return { status: 200, body: stored.json };
    if (request.method === 'PATCH') return patch(request, stored);
    throw new ArmFailure(405, 'MethodNotAllowed', `The emulator does not serve ${request.method} on an AI services account.`);
  },

  seed(resource): StoredResource {
    const { id, properties, ...rest } = resource as { id: string; properties?: unknown } & Record<string, unknown>;
    if (properties !== undefined && !isRecord(properties)) throw seedError(`${id}: properties must be an object`);
    const name = nameOf(id);
    const merged: Record<string, unknown> = {
      provisioningState: 'Succeeded',
      endpoint: `https://${name}.cognitiveservices.azure.com/`,
      customSubDomainName: name,
      publicNetworkAccess: 'Enabled',
      disableLocalAuth: false,
      ...properties,
    };
    try {
      checkProperties(merged);
    } catch (e) {
      throw seedError(`${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { id, json: { id, name, type: TYPE, location: 'westeurope', kind: 'CognitiveServices', sku: { name: 'S0' }, tags: {}, ...rest, properties: merged } };
  },
};
