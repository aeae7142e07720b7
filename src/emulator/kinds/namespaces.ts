import { isCidrProblem, readCidr } from '../../core/ip-text.js';
import { formatCidr } from '../../core/ipv4.js';
import { parseResourceId } from '../../core/resource-id.js';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, seedError, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';

/**
 * Event Hubs and Service Bus namespaces, which keep their firewall alike: the child
 * `networkRuleSets/default`, replaced whole by a PUT. Shapes follow azure-rest-api-specs
 * `specification/eventhub/resource-manager/Microsoft.EventHub/stable/2024-01-01/networkrulessets.json`
 * and `specification/servicebus/resource-manager/Microsoft.ServiceBus/stable/2021-11-01/networksets.json`.
 *
 * A namespace is stored as ARM returns it, plus `networkRuleSet`: the child as its own GET
 * returns it. The namespace's GET leaves that field out.
 */

export interface NamespaceService {
  /** `Microsoft.EventHub/namespaces`, as a request path spells it. */
  readonly resourceType: string;
  /** `Microsoft.EventHub/Namespaces`, as ARM spells the type in its answers. */
  readonly armType: string;
  readonly apiVersions: readonly string[];
  /** For the error texts, e.g. `Event Hubs`. */
  readonly title: string;
  /** Lowercased SKU names that take IP rules, and those that take virtual-network rules. */
  readonly ipRuleTiers: readonly string[];
  readonly vnetRuleTiers: readonly string[];
  readonly maxIpRules: number;
  readonly maxVnetRules: number;
  /** Whether one limit (maxIpRules) counts IP and virtual-network rules together. */
  readonly sharedLimit: boolean;
  /** Namespace properties ARM fills in on creation, beside provisioningState and status. */
  readonly namespaceDefaults: (name: string) => Record<string, unknown>;
}

const RULE_SET_PATH = '/networkrulesets/default';
const SUBNET_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;
const SKUS = ['Basic', 'Standard', 'Premium'] as const;

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

// Azure's wording is known only for a malformed mask (Azure CLI issue #21098). Every other
// refusal below is the emulator's own text, with Azure's error code (BadRequest).
const MASK_NOT_CIDR = 'The provided ip address mask does not follow the CIDR notation.';

function enumValue(raw: unknown, allowed: readonly string[], fallback: string, field: string): string {
  if (raw === undefined || raw === null) return fallback;
  const found = typeof raw === 'string' ? allowed.find((a) => a.toLowerCase() === raw.toLowerCase()) : undefined;
  if (found === undefined) throw badRequest(`The value ${JSON.stringify(raw)} of ${field} is not valid; allowed values are ${allowed.join(', ')}.`);
  return found;
}

function ipRule(raw: unknown, index: number): { ipMask: string; action: string; key: string } {
  if (!isRecord(raw) || typeof raw['ipMask'] !== 'string') throw badRequest(`ipRules[${index}].ipMask is required.`);
  const mask = raw['ipMask'];
  // A mask with host bits set is still CIDR notation; the service keeps what it is sent.
  const parsed = readCidr(mask, { hostBits: 'mask' });
  if (isCidrProblem(parsed)) throw badRequest(MASK_NOT_CIDR);
  return { ipMask: mask, action: enumValue(raw['action'], ['Allow'], 'Allow', `ipRules[${index}].action`), key: formatCidr(parsed) };
}

function vnetRule(raw: unknown, index: number): { subnet: { id: string }; ignoreMissingVnetServiceEndpoint: boolean } {
  const id = isRecord(raw) && isRecord(raw['subnet']) ? raw['subnet']['id'] : undefined;
  if (typeof id !== 'string' || !SUBNET_ID.test(id)) throw badRequest(`virtualNetworkRules[${index}].subnet.id must be a subnet resource ID.`);
  const ignore = (raw as Record<string, unknown>)['ignoreMissingVnetServiceEndpoint'];
  if (ignore !== undefined && ignore !== null && typeof ignore !== 'boolean') throw badRequest(`virtualNetworkRules[${index}].ignoreMissingVnetServiceEndpoint must be true or false.`);
  return { subnet: { id }, ignoreMissingVnetServiceEndpoint: ignore === true };
}

/**
 * The service's checks on a rule set's properties, on the whole of what a PUT sends: absent
 * fields take the service's defaults (a PUT replaces, it does not merge), and the first bad
 * value refuses the whole write.
 */
function ruleSetProperties(service: NamespaceService, raw: unknown, sku: string): Record<string, unknown> {
  const props = raw ?? {};
  if (!isRecord(props)) throw badRequest('properties must be an object.');
  const ipRaw = props['ipRules'] ?? [];
  const vnetRaw = props['virtualNetworkRules'] ?? [];
  if (!Array.isArray(ipRaw)) throw badRequest('ipRules must be an array.');
  if (!Array.isArray(vnetRaw)) throw badRequest('virtualNetworkRules must be an array.');
  const ipRules = ipRaw.map(ipRule);
  const vnetRules = vnetRaw.map(vnetRule);
  const seen = new Map<string, number>();
  ipRules.forEach((r, i) => {
    const first = seen.get(r.key);
    if (first !== undefined) throw badRequest(`ipRules[${i}].ipMask ${r.ipMask} duplicates ipRules[${first}].ipMask ${ipRules[first]!.ipMask}.`);
    seen.set(r.key, i);
  });
  const counted = service.sharedLimit ? ipRules.length + vnetRules.length : ipRules.length;
  if (counted > service.maxIpRules) {
    const what = service.sharedLimit ? `${ipRules.length} IP rules and ${vnetRules.length} virtual network rules` : `${ipRules.length} IP rules`;
    throw badRequest(`${what} exceed the maximum of ${service.maxIpRules}${service.sharedLimit ? ' IP and virtual network rules' : ' IP rules'} per namespace.`);
  }
  if (!service.sharedLimit && vnetRules.length > service.maxVnetRules) {
    throw badRequest(`${vnetRules.length} virtual network rules exceed the maximum of ${service.maxVnetRules} virtual network rules per namespace.`);
  }
  const tier = sku.toLowerCase();
  if (ipRules.length > 0 && !service.ipRuleTiers.includes(tier)) throw badRequest(`IP rules are not supported for a ${service.title} namespace in the ${sku} tier.`);
  if (vnetRules.length > 0 && !service.vnetRuleTiers.includes(tier)) throw badRequest(`Virtual network rules are not supported for a ${service.title} namespace in the ${sku} tier.`);
  const trusted = props['trustedServiceAccessEnabled'];
  if (trusted !== undefined && trusted !== null && typeof trusted !== 'boolean') throw badRequest('trustedServiceAccessEnabled must be true or false.');
  return {
    publicNetworkAccess: enumValue(props['publicNetworkAccess'], ['Enabled', 'Disabled', 'SecuredByPerimeter'], 'Enabled', 'publicNetworkAccess'),
    defaultAction: enumValue(props['defaultAction'], ['Allow', 'Deny'], 'Allow', 'defaultAction'),
    virtualNetworkRules: vnetRules,
    ipRules: ipRules.map(({ ipMask, action }) => ({ ipMask, action })),
    trustedServiceAccessEnabled: trusted === true,
  };
}

function ruleSetResource(service: NamespaceService, namespace: Record<string, unknown>, properties: Record<string, unknown>): Record<string, unknown> {
  return { id: `${String(namespace['id'])}/networkRuleSets/default`, name: 'default', type: `${service.armType}/NetworkRuleSets`, location: namespace['location'], properties };
}

function skuName(namespace: Record<string, unknown>): string {
  const sku = namespace['sku'];
  return isRecord(sku) && typeof sku['name'] === 'string' ? sku['name'] : 'Standard';
}

function withRuleSet(service: NamespaceService, stored: StoredResource, properties: Record<string, unknown>): StoredResource {
  const json = { ...stored.json };
  // ARM keeps the namespace's copy of publicNetworkAccess in step with the rule set's.
  json['properties'] = { ...(isRecord(json['properties']) ? json['properties'] : {}), publicNetworkAccess: properties['publicNetworkAccess'] };
  json['networkRuleSet'] = ruleSetResource(service, json, properties);
  return { id: stored.id, json };
}

function namespaceOnly(json: Record<string, unknown>): Record<string, unknown> {
  const { networkRuleSet: _child, ...namespace } = json;
  return namespace;
}

function handle(service: NamespaceService, request: ResourceRequest): ArmReply {
  const stored = request.store.get(request.id);
  const sub = request.subPath.toLowerCase();
  if (sub === '') {
    if (request.method !== 'GET') throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves ${service.title} namespaces read-only; ${request.method} is not allowed here.`);
    if (stored === undefined) throw resourceNotFound(request.id);
    return { status: 200, body: namespaceOnly(stored.json) };
  }
  if (sub !== RULE_SET_PATH && sub !== '/networkrulesets') throw new ArmFailure(404, 'NotFound', `The emulator serves only networkRuleSets/default under a ${service.title} namespace, not ${request.subPath}.`);
  if (stored === undefined) throw resourceNotFound(request.id);
  if (sub === '/networkrulesets') {
    if (request.method !== 'GET') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
    return { status: 200, body: { value: [stored.json['networkRuleSet']] } };
  }
  if (request.method === 'GET') return { status: 200, body: stored.json['networkRuleSet'] };
  if (request.method !== 'PUT') throw new ArmFailure(405, 'MethodNotAllowed', `The requested method ${request.method} is not allowed for this resource.`);
  if (!isRecord(request.body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
  const next = withRuleSet(service, stored, ruleSetProperties(service, request.body['properties'], skuName(stored.json)));
  request.store.set(next);
  return { status: 200, body: next.json['networkRuleSet'] };
}

function seedNamespace(service: NamespaceService, seed: { readonly id: string } & Record<string, unknown>): StoredResource {
  const ref = parseResourceId(seed.id);
  const { networkRuleSet, sku, properties, location, tags, id: _id, ...rest } = seed;
  if (Object.keys(rest).length > 0) throw seedError(`${seed.id}: unknown field${Object.keys(rest).length === 1 ? '' : 's'} ${Object.keys(rest).join(', ')}`);
  if (sku !== undefined && !(isRecord(sku) && typeof sku['name'] === 'string')) throw seedError(`${seed.id}: sku must be {name: "Basic" | "Standard" | "Premium", capacity?}`);
  const name = SKUS.find((s) => s.toLowerCase() === String((sku as Record<string, unknown> | undefined)?.['name'] ?? 'Standard').toLowerCase());
  if (name === undefined) throw seedError(`${seed.id}: sku.name must be one of ${SKUS.join(', ')}`);
  if (properties !== undefined && !isRecord(properties)) throw seedError(`${seed.id}: properties must be an object`);
  const id = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${service.resourceType}/${ref.name}`;
  const json: Record<string, unknown> = {
    id,
    name: ref.name,
    type: service.armType,
    location: typeof location === 'string' ? location : 'westeurope',
    tags: isRecord(tags) ? tags : {},
    sku: { name, tier: name, capacity: isRecord(sku) && typeof sku['capacity'] === 'number' ? sku['capacity'] : 1 },
    properties: { provisioningState: 'Succeeded', status: 'Active', ...service.namespaceDefaults(ref.name), ...properties },
  };
  // A seed may set publicNetworkAccess on the namespace alone; the rule set then takes it.
  const namespaceAccess = isRecord(properties) ? properties['publicNetworkAccess'] : undefined;
  const given = networkRuleSet ?? {};
  const ruleSet = isRecord(given) && given['publicNetworkAccess'] === undefined && namespaceAccess !== undefined ? { ...given, publicNetworkAccess: namespaceAccess } : given;
  try {
    return withRuleSet(service, { id, json }, ruleSetProperties(service, ruleSet, name));
  } catch (e) {
    throw seedError(`${seed.id}: networkRuleSet: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function namespaceModel(service: NamespaceService): ResourceModel {
  return {
    resourceType: service.resourceType,
    apiVersions: service.apiVersions,
    handle: (request) => handle(service, request),
    seed: (resource) => seedNamespace(service, resource),
  };
}
