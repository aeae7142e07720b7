import { TagwallError } from '../core/errors.js';
import { parseVaultId } from '../core/vault-id.js';
import { normaliseNetworkAcls, normalisePublicNetworkAccess } from './acls.js';
import { ArmFailure, isRecord } from './http.js';
import type { EmulatorSeed, NetworkAclsJson, VaultResourceJson } from './model.js';

/**
 * The emulator's vaults. Each is kept as the JSON ARM would return, so GET, PATCH and
 * the control API all see one representation and nothing drifts between them.
 */

export const DEFAULT_TENANT_ID = '00000000-0000-0000-0000-000000000000';
const DEFAULT_LOCATION = 'westeurope';

/** Properties a client may write; the rest (vaultUri, provisioningState, ...) are the service's. */
const WRITABLE_PROPERTIES = new Set([
  'tenantId',
  'sku',
  'accessPolicies',
  'enabledForDeployment',
  'enabledForDiskEncryption',
  'enabledForTemplateDeployment',
  'enableSoftDelete',
  'softDeleteRetentionInDays',
  'enableRbacAuthorization',
  'enablePurgeProtection',
  'networkAcls',
  'publicNetworkAccess',
]);

interface VaultRecord {
  resource: VaultResourceJson;
  oldApi: boolean;
}

export interface VaultAddress {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

function keyOf(a: VaultAddress): string {
  return `${a.subscriptionId}/${a.resourceGroup}/${a.name}`.toLowerCase();
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7396 JSON merge patch: objects merge, `null` deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function writable(properties: unknown): Record<string, unknown> {
  if (properties === undefined || properties === null) return {};
  if (!isRecord(properties)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: properties must be an object.');
  return Object.fromEntries(Object.entries(properties).filter(([k]) => WRITABLE_PROPERTIES.has(k)));
}

function stringTags(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
    throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: tags must map names to strings.');
  }
  return raw as Record<string, string>;
}

/** Turns merged, client-written properties into a complete stored vault, or refuses them. */
function buildResource(address: VaultAddress, id: string, location: string, tags: unknown, props: Record<string, unknown>, oldApi: boolean): VaultResourceJson {
  const sku = isRecord(props['sku']) ? props['sku'] : {};
  const skuName = typeof sku['name'] === 'string' ? sku['name'].toLowerCase() : 'standard';
  if (skuName !== 'standard' && skuName !== 'premium') {
    throw new ArmFailure(400, 'BadRequest', `Invalid value found at properties.sku.name: ${String(sku['name'])}`);
  }
  const tenantId = props['tenantId'];
  if (typeof tenantId !== 'string' || tenantId === '') throw new ArmFailure(400, 'BadRequest', 'The property properties.tenantId is required.');
  const networkAcls: NetworkAclsJson | undefined = props['networkAcls'] === undefined ? undefined : normaliseNetworkAcls(props['networkAcls'], oldApi);
  const flag = (k: string, fallback: boolean): boolean => (typeof props[k] === 'boolean' ? (props[k] as boolean) : fallback);
  const retention = props['softDeleteRetentionInDays'];
  return {
    id,
    name: address.name,
    type: 'Microsoft.KeyVault/vaults',
    location,
    tags: stringTags(tags),
    properties: {
      sku: { family: 'A', name: skuName },
      tenantId,
      ...(networkAcls === undefined ? {} : { networkAcls }),
      accessPolicies: Array.isArray(props['accessPolicies']) ? clone(props['accessPolicies']) : [],
      enabledForDeployment: flag('enabledForDeployment', false),
      enabledForDiskEncryption: flag('enabledForDiskEncryption', false),
      enabledForTemplateDeployment: flag('enabledForTemplateDeployment', false),
      enableSoftDelete: flag('enableSoftDelete', true),
      softDeleteRetentionInDays: typeof retention === 'number' ? retention : 90,
      enableRbacAuthorization: flag('enableRbacAuthorization', true),
      ...(typeof props['enablePurgeProtection'] === 'boolean' ? { enablePurgeProtection: props['enablePurgeProtection'] } : {}),
      vaultUri: `https://${address.name.toLowerCase()}.vault.azure.net/`,
      provisioningState: 'Succeeded',
      publicNetworkAccess: normalisePublicNetworkAccess(props['publicNetworkAccess']),
    },
  };
}

/** Told of every vault version a write stores (history.ts keeps them for Resource Graph). */
export type WriteObserver = (id: string, json: Readonly<Record<string, unknown>> | undefined) => void;

export class VaultStore {
  readonly #vaults = new Map<string, VaultRecord>();

  constructor(private readonly observe: WriteObserver = () => undefined) {}

  #store(key: string, record: VaultRecord): void {
    this.#vaults.set(key, record);
    this.observe(record.resource.id, record.resource as unknown as Record<string, unknown>);
  }

  get(address: VaultAddress): VaultResourceJson | undefined {
    const r = this.#vaults.get(keyOf(address));
    return r === undefined ? undefined : clone(r.resource);
  }

  isOldApi(address: VaultAddress): boolean {
    return this.#vaults.get(keyOf(address))?.oldApi ?? false;
  }

  list(): VaultResourceJson[] {
    return [...this.#vaults.values()].map((r) => clone(r.resource));
  }

  /** A vault by full resource ID, or by name when only one vault has it. */
  find(selector: string): VaultResourceJson | undefined {
    if (selector.includes('/')) {
      const ref = parseVaultId(selector);
      return this.get(ref);
    }
    const hits = [...this.#vaults.values()].filter((r) => r.resource.name.toLowerCase() === selector.toLowerCase());
    if (hits.length > 1) throw new TagwallError('EMULATOR_VAULT_AMBIGUOUS', `${hits.length} emulated vaults are named ${selector}; use the resource ID`);
    return hits[0] === undefined ? undefined : clone(hits[0].resource);
  }

  clear(): void {
    this.#vaults.clear();
  }

  /** Adds or replaces the seed's vaults; refuses the whole seed if any vault is invalid. */
  seed(seed: EmulatorSeed, globalOldApi: boolean): void {
    const built: [string, VaultRecord][] = [];
    const problems: string[] = [];
    seed.vaults.forEach((v, i) => {
      try {
        const ref = parseVaultId(v.id);
        const oldApi = v.oldApi ?? false;
        const props = {
          tenantId: v.tenantId ?? DEFAULT_TENANT_ID,
          sku: { family: 'A', name: v.sku ?? 'standard' },
          networkAcls: v.networkAcls,
          publicNetworkAccess: v.publicNetworkAccess,
        };
        const resource = buildResource(ref, canonicalId(ref), v.location ?? DEFAULT_LOCATION, v.tags, props, oldApi || globalOldApi);
        built.push([keyOf(ref), { resource, oldApi }]);
      } catch (e) {
        problems.push(`vaults[${i}] (${v.id}): ${(e as Error).message}`);
      }
    });
    if (problems.length > 0) throw new TagwallError('EMULATOR_SEED_INVALID', 'the emulator seed has invalid vaults', { details: problems });
    for (const [k, r] of built) this.#store(k, r);
  }

  /** PATCH: merge-patch `tags` and the writable properties; arrays are replaced whole. */
  patch(address: VaultAddress, body: unknown, oldApi: boolean): VaultResourceJson {
    const record = this.#vaults.get(keyOf(address));
    if (record === undefined) throw notFound(address);
    if (!isRecord(body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: the body must be a JSON object.');
    const current = record.resource;
    const props = mergePatch(writable(current.properties), writable(body['properties'])) as Record<string, unknown>;
    const tags = body['tags'] === undefined ? current.tags : mergePatch(current.tags, body['tags']);
    record.resource = buildResource(address, current.id, current.location, tags, props, oldApi || record.oldApi);
    this.#store(keyOf(address), record);
    return clone(record.resource);
  }

  /** PUT: create, or replace everything the client may write. */
  put(address: VaultAddress, body: unknown, oldApi: boolean): { created: boolean; vault: VaultResourceJson } {
    if (!isRecord(body)) throw new ArmFailure(400, 'InvalidRequestContent', 'The request content was invalid: the body must be a JSON object.');
    const existing = this.#vaults.get(keyOf(address));
    const location = body['location'];
    if (typeof location !== 'string' || location === '') throw new ArmFailure(400, 'LocationRequired', 'The location property is required for this definition.');
    if (!isRecord(body['properties'])) throw new ArmFailure(400, 'BadRequest', 'The property properties is required.');
    const id = existing?.resource.id ?? canonicalId(address);
    const vaultOldApi = existing?.oldApi ?? false;
    const resource = buildResource(address, id, location, body['tags'], writable(body['properties']), oldApi || vaultOldApi);
    this.#store(keyOf(address), { resource, oldApi: vaultOldApi });
    return { created: existing === undefined, vault: clone(resource) };
  }

  /** What another admin's edit does: replace the IP rules, checked like any write. */
  replaceIpRules(address: VaultAddress, ipRules: readonly string[], oldApi: boolean): void {
    const record = this.#vaults.get(keyOf(address));
    if (record === undefined) return;
    const acls = record.resource.properties.networkAcls ?? {};
    const props = { ...writable(record.resource.properties), networkAcls: { ...acls, ipRules: ipRules.map((value) => ({ value })) } };
    record.resource = buildResource(address, record.resource.id, record.resource.location, record.resource.tags, props, oldApi || record.oldApi);
    this.#store(keyOf(address), record);
  }
}

/** The vault's address as stored, from a name or resource ID (control API calls name vaults either way). */
export function addressOf(vault: VaultResourceJson): VaultAddress {
  const parts = vault.id.split('/');
  return { subscriptionId: parts[2] ?? '', resourceGroup: parts[4] ?? '', name: vault.name };
}

export function canonicalId(a: VaultAddress): string {
  return `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.KeyVault/vaults/${a.name}`;
}

export function notFound(a: VaultAddress): ArmFailure {
  return new ArmFailure(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.KeyVault/vaults/${a.name}' under resource group '${a.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}
