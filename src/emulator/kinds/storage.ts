import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { mergePatch } from '../vaults.js';
import { checkIpRule } from './ip-rules.js';
import { arrayOr, oneOf, seeded, writableProperties } from './resource-json.js';

/**
 * Storage accounts (`Microsoft.Storage/storageAccounts`): GET and PATCH of the account at the
 * api-version @azure/arm-storage 19.1.0 sends, shaped as the 2025-06-01 spec returns it
 * (azure-rest-api-specs, specification/storage/resource-manager/Microsoft.Storage/stable/
 * 2025-06-01/storage.json). The firewall's checks follow Microsoft's Storage firewall limits
 * page and what the resource provider answers:
 *
 * - at most 400 IP rules (the Storage firewall pages; older pages said 200, then 100);
 * - no /31 or /32 prefix: a single address is written bare and stays bare;
 * - public IPv4 only: private (RFC 1918) space is refused, and so is the rest of the
 *   reserved space tagwall never writes (the page names RFC 1918 only).
 *
 * Azure refuses a bad rule with HTTP 400 `InvalidValuesForRequestParameters`, naming the
 * field but not the rule; the texts below are the ones users quote (azure-cli #7417 and
 * #13828 for a private range, Azure/azure-service-operator #3647 for a CIDR, azure-docs
 * #60412 for too many rules, azure-powershell #23640 for a resource-access rule). Azure's own
 * text for a bad bypass, default action, duplicate or virtual-network rule was not found: those
 * follow the same pattern. (`NetworkAclsValidationFailure` is what Azure answers for a subnet
 * without the Microsoft.Storage service endpoint, a check the emulator does not make.)
 */

const TYPE = 'Microsoft.Storage/storageAccounts';
export const STORAGE_API_VERSIONS = ['2025-06-01'] as const;
export const STORAGE_MAX_IP_RULES = 400;
/** Microsoft's Storage network-security training module gives 400 virtual-network rules as well. */
export const STORAGE_MAX_VIRTUAL_NETWORK_RULES = 400;

const BYPASS = ['None', 'Logging', 'Metrics', 'AzureServices'] as const;
const SUBNET_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;

/** Properties a client may write; the rest (endpoints, provisioningState, ...) are the service's. */
const WRITABLE = new Set(['networkAcls', 'publicNetworkAccess', 'supportsHttpsTrafficOnly', 'minimumTlsVersion', 'allowBlobPublicAccess', 'allowSharedKeyAccess', 'accessTier']);

function invalid(field: string): ArmFailure {
  return new ArmFailure(400, 'InvalidValuesForRequestParameters', `Values for request parameters are invalid: ${field}. For more information, see - https://aka.ms/storagenetworkruleset`);
}

function ipRules(raw: unknown): { value: string; action: 'Allow' }[] {
  const rules = arrayOr(raw);
  if (rules === undefined) throw invalid('networkAcls.ipRules');
  if (rules.length > STORAGE_MAX_IP_RULES) throw invalid('networkAcls.ipRules[]');
  const seen = new Set<string>();
  return rules.map((r) => {
    if (!isRecord(r) || typeof r['value'] !== 'string') throw invalid('networkAcls.ipRule[*].value');
    if (r['action'] !== undefined && r['action'] !== null && oneOf(r['action'], ['Allow'] as const) === undefined) throw invalid('networkAcls.ipRule[*].action');
    const check = checkIpRule(r['value']);
    // "Small address ranges that use /31 or /32 prefix sizes aren't supported."
    if (!check.ok || (check.explicitPrefix && check.cidr.length > 30) || seen.has(check.key)) throw invalid('networkAcls.ipRule[*].value');
    seen.add(check.key);
    return { value: check.text, action: 'Allow' };
  });
}

function virtualNetworkRules(raw: unknown): { id: string; action: 'Allow'; state: string }[] {
  const rules = arrayOr(raw);
  if (rules === undefined || rules.length > STORAGE_MAX_VIRTUAL_NETWORK_RULES) throw invalid('networkAcls.virtualNetworkRules[]');
  return rules.map((r) => {
    if (!isRecord(r) || typeof r['id'] !== 'string' || !SUBNET_ID.test(r['id'])) throw invalid('networkAcls.virtualNetworkRules[*].id');
    return { id: r['id'], action: 'Allow', state: typeof r['state'] === 'string' ? r['state'] : 'Succeeded' };
  });
}

function resourceAccessRules(raw: unknown): { tenantId: string; resourceId: string }[] {
  const rules = arrayOr(raw);
  if (rules === undefined) throw invalid('networkAcls.resourceAccessRules');
  return rules.map((r) => {
    if (!isRecord(r) || typeof r['tenantId'] !== 'string' || typeof r['resourceId'] !== 'string' || !r['resourceId'].startsWith('/')) {
      throw invalid('networkAcls.resourceAccessRules[*].resourceId');
    }
    return { tenantId: r['tenantId'], resourceId: r['resourceId'] };
  });
}

/** "Any combination of Logging|Metrics|AzureServices (for example "Logging, Metrics"), or None." */
function bypass(raw: unknown): string {
  if (raw === undefined || raw === null) return 'AzureServices';
  const parts = typeof raw === 'string' ? raw.split(',').map((p) => oneOf(p.trim(), BYPASS)) : [undefined];
  if (parts.some((p) => p === undefined)) throw invalid('networkAcls.bypass');
  return parts.join(', ');
}

/** The whole networkAcls as the service stores it, or the first refusal. */
function networkAcls(raw: unknown): Record<string, unknown> {
  if (!isRecord(raw)) throw invalid('networkAcls');
  const defaultAction = raw['defaultAction'] === undefined ? 'Allow' : oneOf(raw['defaultAction'], ['Allow', 'Deny'] as const);
  if (defaultAction === undefined) throw invalid('networkAcls.defaultAction');
  return {
    bypass: bypass(raw['bypass']),
    ...(raw['resourceAccessRules'] === undefined ? {} : { resourceAccessRules: resourceAccessRules(raw['resourceAccessRules']) }),
    virtualNetworkRules: virtualNetworkRules(raw['virtualNetworkRules']),
    ipRules: ipRules(raw['ipRules']),
    // IPv6 rules are kept as written: tagwall only ever sends back what it read.
    ...(raw['ipv6Rules'] === undefined ? {} : { ipv6Rules: structuredClone(arrayOr(raw['ipv6Rules']) ?? []) }),
    defaultAction,
  };
}

function writable(properties: unknown): Record<string, unknown> {
  return writableProperties(properties, WRITABLE);
}

/** The account as GET returns it, from what a client wrote; the service's own fields are filled in. */
function build(id: string, base: { location: string; tags: unknown; sku: unknown; kind: unknown; created: string }, props: Record<string, unknown>): Record<string, unknown> {
  const name = id.slice(id.lastIndexOf('/') + 1);
  const skuName = isRecord(base.sku) && typeof base.sku['name'] === 'string' ? base.sku['name'] : 'Standard_LRS';
  const publicNetworkAccess = props['publicNetworkAccess'] === undefined ? undefined : oneOf(props['publicNetworkAccess'], ['Enabled', 'Disabled', 'SecuredByPerimeter'] as const);
  if (props['publicNetworkAccess'] !== undefined && publicNetworkAccess === undefined) throw invalid('publicNetworkAccess');
  const endpoint = (service: string) => `https://${name}.${service}.core.windows.net/`;
  return {
    id,
    name,
    type: TYPE,
    location: base.location,
    tags: isRecord(base.tags) ? base.tags : {},
    sku: { name: skuName, tier: skuName.startsWith('Premium') ? 'Premium' : 'Standard' },
    kind: typeof base.kind === 'string' ? base.kind : 'StorageV2',
    properties: {
      provisioningState: 'Succeeded',
      creationTime: base.created,
      primaryLocation: base.location,
      statusOfPrimary: 'available',
      primaryEndpoints: { blob: endpoint('blob'), queue: endpoint('queue'), table: endpoint('table'), file: endpoint('file'), dfs: endpoint('dfs'), web: endpoint('web') },
      accessTier: typeof props['accessTier'] === 'string' ? props['accessTier'] : 'Hot',
      supportsHttpsTrafficOnly: props['supportsHttpsTrafficOnly'] !== false,
      minimumTlsVersion: typeof props['minimumTlsVersion'] === 'string' ? props['minimumTlsVersion'] : 'TLS1_2',
      allowBlobPublicAccess: props['allowBlobPublicAccess'] === true,
      ...(typeof props['allowSharedKeyAccess'] === 'boolean' ? { allowSharedKeyAccess: props['allowSharedKeyAccess'] } : {}),
      networkAcls: networkAcls(props['networkAcls'] ?? {}),
      ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }),
    },
  };
}

function baseOf(json: Record<string, unknown>): Parameters<typeof build>[1] {
  const props = isRecord(json['properties']) ? json['properties'] : {};
  return {
    location: typeof json['location'] === 'string' ? json['location'] : 'westeurope',
    tags: json['tags'],
    sku: json['sku'],
    kind: json['kind'],
    created: typeof props['creationTime'] === 'string' ? props['creationTime'] : new Date().toISOString(),
  };
}

/** PATCH: merge-patch the writable properties (objects merge, arrays are replaced whole); tags are replaced. */
function patch(current: StoredResource, body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: the body must be a JSON object.');
  const props = mergePatch(writable(current.json['properties']), writable(body['properties'])) as Record<string, unknown>;
  const base = baseOf(current.json);
  return build(current.id, { ...base, ...(body['tags'] === undefined ? {} : { tags: body['tags'] }) }, props);
}

function handle(request: ResourceRequest): ArmReply {
  if (request.subPath !== '') throw new ArmFailure(404, 'NotFound', `The emulator models storage accounts themselves, not ${request.subPath}.`);
  const found = request.store.get(request.id);
  if (request.method === 'GET') {
    if (found === undefined) throw resourceNotFound(request.id);
    return { status: 200, body: found.json };
  }
  if (request.method === 'PATCH') {
    if (found === undefined) throw resourceNotFound(request.id);
    const json = patch(found, request.body);
    request.store.set({ id: found.id, json });
    return { status: 200, body: json };
  }
  throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves GET and PATCH of storage accounts; ${request.method} is not modelled.`);
}

function seed(resource: { readonly id: string } & Record<string, unknown>): StoredResource {
  return seeded(resource, (id) => build(id, baseOf(resource), writable(resource['properties'])));
}

export const STORAGE_MODEL: ResourceModel = { resourceType: TYPE, apiVersions: STORAGE_API_VERSIONS, handle, seed };
