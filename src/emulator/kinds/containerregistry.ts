import { randomUUID } from 'node:crypto';
import { ArmFailure, isRecord } from '../http.js';
import { resourceNotFound, type ArmReply, type ResourceModel, type ResourceRequest, type StoredResource } from '../resources.js';
import { mergePatch } from '../vaults.js';
import { checkIpRule } from './ip-rules.js';
import { arrayOr, oneOf, seeded, writableProperties } from './resource-json.js';

/**
 * Container registries (`Microsoft.ContainerRegistry/registries`): GET, and the long-running
 * PATCH that @azure/arm-containerregistry 11.0.0 polls, shaped as the 2025-11-01 spec returns
 * them (azure-rest-api-specs, specification/containerregistry/resource-manager/
 * Microsoft.ContainerRegistry/Registry/stable/2025-11-01, examples RegistryGet.json and
 * RegistryUpdate.json: 200, or 201 with an Azure-AsyncOperation header).
 *
 * The firewall's checks:
 * - IP rules need the Premium SKU ("Configure public IP network rules", Microsoft's ACR docs);
 * - at most 100 IP rules (the same page);
 * - a /32 is accepted and stored as the bare address (terraform-provider-azurerm, whose
 *   container registry resource re-adds the /32 Azure drops);
 * - a /31 is accepted: nothing found says Azure refuses it;
 * - publicNetworkAccess Disabled needs Premium too.
 *
 * Only the last refusal's text is Azure's own (`DisablingPublicNetworkAccessNotSupported`, as
 * quoted in terraform-provider-azurerm #26054). Azure's code and wording for network rules on a
 * lower SKU, for too many rules and for a bad rule were not found: the SKU refusal follows the
 * pattern of the public-access one, and the rest use ARM's generic `BadRequest`. Private and
 * reserved ranges are refused as by Key Vault and Storage; that ACR does the same is assumed.
 */

const TYPE = 'Microsoft.ContainerRegistry/registries';
export const REGISTRY_API_VERSIONS = ['2025-11-01'] as const;
export const REGISTRY_MAX_IP_RULES = 100;

const SKUS = ['Basic', 'Standard', 'Premium'] as const;
type Sku = (typeof SKUS)[number];

/** Properties a client may write; the rest (loginServer, provisioningState, ...) are the service's. */
const WRITABLE = new Set(['adminUserEnabled', 'networkRuleSet', 'policies', 'encryption', 'dataEndpointEnabled', 'publicNetworkAccess', 'networkRuleBypassOptions', 'networkRuleBypassAllowedForTasks', 'anonymousPullEnabled', 'roleAssignmentMode']);

function badRequest(path: string, detail: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', `Invalid value found at ${path}: ${detail}`);
}

function skuRefusal(sku: Sku): ArmFailure {
  return new ArmFailure(400, 'NetworkRuleSetNotSupported', `Network rules are not supported for the SKU ${sku}; IP rules need a Premium registry.`);
}

function ipRules(raw: unknown): { action: 'Allow'; value: string }[] {
  const path = 'properties.networkRuleSet.ipRules';
  const rules = arrayOr(raw);
  if (rules === undefined) throw badRequest(path, 'must be an array');
  if (rules.length > REGISTRY_MAX_IP_RULES) throw badRequest(path, `${rules.length} IP rules exceed the maximum of ${REGISTRY_MAX_IP_RULES} IP rules per registry`);
  const seen = new Set<string>();
  return rules.map((r, i) => {
    const at = `${path}[${i}].value`;
    if (!isRecord(r) || typeof r['value'] !== 'string') throw badRequest(at, 'a string value is required');
    if (r['action'] !== undefined && r['action'] !== null && oneOf(r['action'], ['Allow'] as const) === undefined) throw badRequest(`${path}[${i}].action`, 'only Allow is supported');
    const check = checkIpRule(r['value']);
    if (!check.ok) throw badRequest(at, check.why === 'forbidden' ? `${check.detail}; only public IPv4 addresses are allowed` : check.detail);
    if (seen.has(check.key)) throw badRequest(at, `${check.text} is already in the list`);
    seen.add(check.key);
    // Azure drops the /32 of a single address.
    return { action: 'Allow', value: check.cidr.length === 32 ? check.key.slice(0, -3) : check.text };
  });
}

function networkRuleSet(raw: unknown, sku: Sku): { defaultAction: 'Allow' | 'Deny'; ipRules: { action: 'Allow'; value: string }[] } {
  if (!isRecord(raw)) throw badRequest('properties.networkRuleSet', 'must be an object');
  const defaultAction = raw['defaultAction'] === undefined ? 'Allow' : oneOf(raw['defaultAction'], ['Allow', 'Deny'] as const);
  if (defaultAction === undefined) throw badRequest('properties.networkRuleSet.defaultAction', `${JSON.stringify(raw['defaultAction'])} is not one of Allow, Deny`);
  const rules = arrayOr(raw['ipRules']);
  // Every registry reports a rule set; below Premium it can only be the open one.
  if (sku !== 'Premium' && (defaultAction === 'Deny' || (rules !== undefined && rules.length > 0))) throw skuRefusal(sku);
  return { defaultAction, ipRules: ipRules(raw['ipRules']) };
}

function writable(properties: unknown): Record<string, unknown> {
  return writableProperties(properties, WRITABLE);
}

function skuOf(raw: unknown): Sku {
  const sku = isRecord(raw) ? oneOf(raw['name'], SKUS) : undefined;
  if (sku === undefined) throw badRequest('sku.name', `${JSON.stringify(isRecord(raw) ? raw['name'] : raw)} is not one of ${SKUS.join(', ')}`);
  return sku;
}

interface Base {
  readonly location: string;
  readonly tags: unknown;
  readonly created: string;
}

/** The registry as GET returns it, from what a client wrote; the service's own fields are filled in. */
function build(id: string, base: Base, sku: Sku, props: Record<string, unknown>): Record<string, unknown> {
  const name = id.slice(id.lastIndexOf('/') + 1);
  const publicNetworkAccess = props['publicNetworkAccess'] === undefined ? 'Enabled' : oneOf(props['publicNetworkAccess'], ['Enabled', 'Disabled'] as const);
  if (publicNetworkAccess === undefined) throw badRequest('properties.publicNetworkAccess', `${JSON.stringify(props['publicNetworkAccess'])} is not one of Enabled, Disabled`);
  if (publicNetworkAccess === 'Disabled' && sku !== 'Premium') {
    throw new ArmFailure(400, 'DisablingPublicNetworkAccessNotSupported', `Disabling public network access is not supported for the SKU ${sku}. For more information, please visit https://aka.ms/acr/private-link.`);
  }
  const bypass = props['networkRuleBypassOptions'] === undefined ? 'AzureServices' : oneOf(props['networkRuleBypassOptions'], ['AzureServices', 'None'] as const);
  if (bypass === undefined) throw badRequest('properties.networkRuleBypassOptions', `${JSON.stringify(props['networkRuleBypassOptions'])} is not one of AzureServices, None`);
  const flag = (k: string, fallback: boolean): boolean => (typeof props[k] === 'boolean' ? (props[k] as boolean) : fallback);
  return {
    id,
    name,
    type: TYPE,
    location: base.location,
    tags: isRecord(base.tags) ? base.tags : {},
    sku: { name: sku, tier: sku },
    properties: {
      loginServer: `${name.toLowerCase()}.azurecr.io`,
      creationDate: base.created,
      provisioningState: 'Succeeded',
      adminUserEnabled: flag('adminUserEnabled', false),
      networkRuleSet: networkRuleSet(props['networkRuleSet'] ?? {}, sku),
      ...(isRecord(props['policies']) ? { policies: structuredClone(props['policies']) } : {}),
      encryption: isRecord(props['encryption']) ? structuredClone(props['encryption']) : { status: 'disabled' },
      dataEndpointEnabled: flag('dataEndpointEnabled', false),
      dataEndpointHostNames: [],
      privateEndpointConnections: [],
      publicNetworkAccess,
      networkRuleBypassOptions: bypass,
      networkRuleBypassAllowedForTasks: flag('networkRuleBypassAllowedForTasks', false),
      zoneRedundancy: 'Disabled',
      anonymousPullEnabled: flag('anonymousPullEnabled', false),
      roleAssignmentMode: typeof props['roleAssignmentMode'] === 'string' ? props['roleAssignmentMode'] : 'LegacyRegistryPermissions',
    },
  };
}

function baseOf(json: Record<string, unknown>): Base {
  const props = isRecord(json['properties']) ? json['properties'] : {};
  return {
    location: typeof json['location'] === 'string' ? json['location'] : 'westeurope',
    tags: json['tags'],
    created: typeof props['creationDate'] === 'string' ? props['creationDate'] : new Date().toISOString(),
  };
}

const OPERATION = /^\/operationStatuses\/(registries-[0-9a-f-]{36})$/i;

/**
 * The update is applied when the PATCH is accepted, so each of its operations has succeeded by
 * the time the client polls; the answer is 201 with Azure-AsyncOperation, as Azure's example
 * shows, so that the client really polls and then reads the registry.
 */
function update(request: ResourceRequest, found: StoredResource): ArmReply {
  const body = request.body;
  if (!isRecord(body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: the body must be a JSON object.');
  const sku = body['sku'] === undefined ? skuOf(found.json['sku']) : skuOf(body['sku']);
  const props = mergePatch(writable(found.json['properties']), writable(body['properties'])) as Record<string, unknown>;
  const base = baseOf(found.json);
  const json = build(found.id, { ...base, ...(body['tags'] === undefined ? {} : { tags: body['tags'] }) }, sku, props);
  request.store.set({ id: found.id, json });
  const operation = `${request.origin}${found.id}/operationStatuses/registries-${randomUUID()}?api-version=${request.apiVersion}`;
  const accepted = { ...json, properties: { ...(json['properties'] as Record<string, unknown>), provisioningState: 'Updating' } };
  return { status: 201, body: accepted, headers: { 'azure-asyncoperation': operation } };
}

function handle(request: ResourceRequest): ArmReply {
  const found = request.store.get(request.id);
  const operation = OPERATION.exec(request.subPath);
  if (request.subPath !== '' && (operation === null || request.method !== 'GET')) {
    throw new ArmFailure(404, 'NotFound', `The emulator models registries and their update operations, not ${request.subPath}.`);
  }
  if (found === undefined) throw resourceNotFound(request.id);
  if (operation !== null) return { status: 200, body: { id: `${found.id}${request.subPath}`, name: operation[1], status: 'Succeeded' } };
  if (request.method === 'GET') return { status: 200, body: found.json };
  if (request.method === 'PATCH') return update(request, found);
  throw new ArmFailure(405, 'MethodNotAllowed', `The emulator serves GET and PATCH of registries; ${request.method} is not modelled.`);
}

function seed(resource: { readonly id: string } & Record<string, unknown>): StoredResource {
  return seeded(resource, (id) => build(id, baseOf(resource), skuOf(resource['sku']), writable(resource['properties'])));
}

export const CONTAINER_REGISTRY_MODEL: ResourceModel = { resourceType: TYPE, apiVersions: REGISTRY_API_VERSIONS, handle, seed };
