import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { checkRuleList, enumOf, mergePatch, nameOf, type RulePolicy } from './rule-values.js';

/**
 * AI Search services (`Microsoft.Search/searchServices`) at the api-version @azure/arm-search
 * 3.3.0 sends, where `publicNetworkAccess` is spelled in lower camel case and
 * `networkRuleSet` holds `ipRules` and `bypass`. Microsoft documents no limit on IP rules and
 * no address-form exceptions; the emulator holds services to tagwall's own assumption of 100
 * rules (docs/TARGETS.md), refuses the forbidden blocks tagwall never writes, and refuses IP
 * rules on the Free tier, which has no networking options. The error texts are the emulator's.
 */

export const SEARCH_API_VERSIONS = ['2025-05-01'] as const;
export const SEARCH_MAX_IP_RULES = 100;

const TYPE = 'Microsoft.Search/searchServices';

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

const RULES: RulePolicy = {
  path: (i) => `properties.networkRuleSet.ipRules[${i}].value`,
  refused: 'all',
  // The spec's example SearchUpdateServiceToAllowAccessFromPublicCustomIPs.json writes 123.4.6.0/18 and is answered 200.
  allowHostBits: true,
  refuse3132: false,
  maxRules: SEARCH_MAX_IP_RULES,
  failure: badRequest,
};

function checkService(json: Record<string, unknown>): void {
  const properties = json['properties'] as Record<string, unknown>;
  enumOf(properties['publicNetworkAccess'], ['enabled', 'disabled', 'securedByPerimeter'], 'properties.publicNetworkAccess', badRequest);
  const set = properties['networkRuleSet'];
  if (set === undefined) return;
  if (!isRecord(set)) throw badRequest('properties.networkRuleSet must be an object');
  if (set['bypass'] !== undefined) enumOf(set['bypass'], ['None', 'AzureServices'], 'properties.networkRuleSet.bypass', badRequest);
  const rules = checkRuleList(set['ipRules'] ?? [], 'value', 'properties.networkRuleSet.ipRules', RULES);
  const sku = isRecord(json['sku']) ? String(json['sku']['name']).toLowerCase() : '';
  if (sku === 'free' && rules.length > 0) throw badRequest('IP rules are not supported on the Free tier; networking options need Basic or higher.');
}

const WRITABLE = new Set(['networkRuleSet', 'publicNetworkAccess', 'disableLocalAuth', 'authOptions', 'replicaCount', 'partitionCount', 'semanticSearch']);

function patch(request: ResourceRequest, stored: StoredResource): ArmReply {
  const body = request.body;
  if (!isRecord(body)) throw badRequest('The request body must be a JSON object.');
  const current = stored.json['properties'] as Record<string, unknown>;
  const props = isRecord(body['properties']) ? body['properties'] : {};
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(props)) if (WRITABLE.has(k)) next[k] = mergePatch(current[k], v);
  const json: Record<string, unknown> = { ...stored.json, properties: next };
  if (isRecord(body['tags'])) json['tags'] = mergePatch(stored.json['tags'], body['tags']);
  checkService(json);
  request.store.set({ id: stored.id, json });
  return { status: 200, body: json };
}

export const SEARCH_MODEL: ResourceModel = {
  resourceType: TYPE,
  apiVersions: SEARCH_API_VERSIONS,

  handle(request: ResourceRequest): ArmReply {
    const stored = request.store.get(request.id);
    if (stored === undefined || request.subPath !== '') throw resourceNotFound(`${request.id}${request.subPath}`);
    if (request.method === 'GET') return { status: 200, body: stored.json };
    if (request.method === 'PATCH') return patch(request, stored);
    throw new ArmFailure(405, 'MethodNotAllowed', `The emulator does not serve ${request.method} on a search service.`);
  },

  seed(resource): StoredResource {
    const { id, properties, ...rest } = resource as { id: string; properties?: unknown } & Record<string, unknown>;
    if (properties !== undefined && !isRecord(properties)) throw seedError(`${id}: properties must be an object`);
    const name = nameOf(id);
    const json: Record<string, unknown> = {
      id,
      name,
      type: TYPE,
      location: 'West Europe',
      sku: { name: 'basic' },
      tags: {},
      ...rest,
      properties: {
        replicaCount: 1,
        partitionCount: 1,
        endpoint: `https://${name}.search.windows.net`,
        hostingMode: 'default',
        publicNetworkAccess: 'enabled',
        status: 'running',
        statusDetails: '',
        provisioningState: 'succeeded',
        networkRuleSet: { ipRules: [], bypass: 'None' },
        disableLocalAuth: false,
        authOptions: { apiKeyOnly: {} },
        encryptionWithCmk: { enforcement: 'Unspecified', encryptionComplianceStatus: 'Compliant' },
        semanticSearch: 'disabled',
        privateEndpointConnections: [],
        sharedPrivateLinkResources: [],
        ...properties,
      },
    };
    try {
      checkService(json);
    } catch (e) {
      throw seedError(`${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { id, json };
  },
};
