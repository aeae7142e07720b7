import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { seedAccessRuleSchema, type AccessRuleResourceJson } from './access-rules.js';
import { fleetSettingsFields, type GraphQuotaSettingsJson, type ThrottleSettingsJson } from './fleet-model.js';
import { zodProblems } from '../core/problems.js';

/**
 * The emulator's wire formats: the seed that describes vaults, the faults tests inject,
 * the request log, and the ARM `Vault` resource as the emulator returns it. Schemas sit
 * beside the types so that a seed file and a control request are checked the same way.
 */

/** Where the control API lives on the emulator's HTTPS port. */
export const CONTROL_PREFIX = '/_emulator/';

/** api-versions the emulator answers; anything else gets ARM's InvalidApiVersionParameter. */
export const SUPPORTED_API_VERSIONS = ['2026-02-01', '2025-05-01'] as const;

/**
 * api-versions of the perimeter routes: what @azure/arm-network 36.0.0 sends (2025-05-01) and
 * the perimeter API's first stable one (2024-07-01); the REST shapes are the same in both
 * (azure-rest-api-specs, specification/network/resource-manager/Microsoft.Network/stable/
 * {2024-07-01,2025-05-01}/networkSecurityPerimeter.json).
 */
export const PERIMETER_API_VERSIONS = ['2025-05-01', '2024-07-01'] as const;

const ipRuleSchema = z.strictObject({ value: z.string() });
const virtualNetworkRuleSchema = z.strictObject({ id: z.string().min(1), ignoreMissingVnetServiceEndpoint: z.boolean().optional() });

const seedNetworkAclsSchema = z.strictObject({
  bypass: z.string().optional(),
  defaultAction: z.string().optional(),
  ipRules: z.array(ipRuleSchema).optional(),
  virtualNetworkRules: z.array(virtualNetworkRuleSchema).optional(),
});

const flatSeedVaultSchema = z.strictObject({
  /** ARM resource ID: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}. */
  id: z.string().min(1),
  location: z.string().min(1).optional(),
  tenantId: z.string().min(1).optional(),
  sku: z.enum(['standard', 'premium']).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  publicNetworkAccess: z.string().optional(),
  /** Absent: the vault has never had a firewall configured (GET returns no networkAcls). */
  networkAcls: seedNetworkAclsSchema.optional(),
  /** Behave like the older API for this vault: refuse /31 and explicit /32 rules. */
  oldApi: z.boolean().optional(),
});

/**
 * A seed vault is either the flat form above or the very shape the emulator (and ARM) returns
 * for a vault, `{id, name, type, location, properties: {networkAcls, publicNetworkAccess, ...}}`,
 * so `GET /_emulator/vaults` output can be fed back as a seed.
 */
const seedVaultSchema = z.preprocess((v) => {
  if (typeof v !== 'object' || v === null || !('properties' in v)) return v;
  // systemData is metadata ARM adds to every answer (who changed the vault, when); it is not the emulator's to keep.
  const { properties, name: _name, type: _type, systemData: _systemData, ...rest } = v as { properties: unknown; name?: unknown; type?: unknown; systemData?: unknown } & Record<string, unknown>;
  if (typeof properties !== 'object' || properties === null) return v;
  const p = properties as { networkAcls?: unknown; publicNetworkAccess?: unknown; tenantId?: unknown; sku?: { name?: unknown } };
  return {
    ...rest,
    ...(p.tenantId === undefined ? {} : { tenantId: p.tenantId }),
    ...(p.sku?.name === undefined ? {} : { sku: p.sku.name }),
    ...(p.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: p.publicNetworkAccess }),
    ...(p.networkAcls === undefined || p.networkAcls === null ? {} : { networkAcls: p.networkAcls }),
  };
}, flatSeedVaultSchema);

/** `Learning` is what the portal now calls Transition mode; ARM still spells it Learning. */
export const accessModeSchema = z.enum(['Enforced', 'Learning', 'Audit']);

const seedAssociationFields = {
  /** Unique within the perimeter; defaults to the associated resource's name. */
  name: z.string().min(1).optional(),
  /** The associated resource's ARM ID (a vault, or any other onboarded kind). */
  privateLinkResourceId: z.string().min(1),
  /** A profile name of the perimeter; defaults to its first profile. */
  profile: z.string().min(1).optional(),
  accessMode: accessModeSchema,
};

const seedAssociationSchema = z.strictObject(seedAssociationFields);

const seedPerimeterSchema = z.strictObject({
  /** /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityPerimeters/{name}. */
  id: z.string().min(1),
  location: z.string().min(1).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  /** Profile names; default one profile, `defaultProfile`, as the portal makes. */
  profiles: z.array(z.string().min(1)).min(1).optional(),
  associations: z.array(seedAssociationSchema).optional(),
  /** Each profile's access rules, as ARM's NspAccessRule properties (see access-rules.ts). */
  accessRules: z.array(seedAccessRuleSchema).optional(),
});

export const emulatorSeedSchema = z.strictObject({
  vaults: z.array(seedVaultSchema),
  /** Absent in seeds written before perimeters existed: no perimeters. */
  perimeters: z.array(seedPerimeterSchema).optional(),
  /** Firewalls of the other kinds, each in the shape ARM returns it; their models check them. */
  resources: z.array(z.looseObject({ id: z.string().min(1) })).optional(),
});

/** The control API's association call: one association, added to (or replaced in) a seeded perimeter. */
export const associationRequestSchema = z.strictObject({ perimeter: z.string().min(1), ...seedAssociationFields });

/** Removes the resource's associations: from the one perimeter named, or from every perimeter. */
export const dissociationRequestSchema = z.strictObject({ privateLinkResourceId: z.string().min(1), perimeter: z.string().min(1).optional() });

/** One IP rule, for the control calls that add or remove a single rule. */
export const ruleRequestSchema = z.strictObject({ value: z.string().min(1) });

/** Models an identity that may read vaults but not the perimeters of this subscription. */
export const perimeterReadsRequestSchema = z.strictObject({ subscriptionId: z.string().min(1), forbidden: z.boolean() });

export type SeedNetworkAcls = z.infer<typeof seedNetworkAclsSchema>;
export type SeedVault = z.infer<typeof seedVaultSchema>;
export type SeedPerimeter = z.infer<typeof seedPerimeterSchema>;
export type SeedAssociation = z.infer<typeof seedAssociationSchema>;
export type AccessMode = z.infer<typeof accessModeSchema>;
export type AssociationRequest = z.infer<typeof associationRequestSchema>;
export type DissociationRequest = z.infer<typeof dissociationRequestSchema>;
export type EmulatorSeed = z.infer<typeof emulatorSeedSchema>;

const faultMethodSchema = z.enum(['GET', 'PATCH', 'PUT', 'POST', 'DELETE']);
const timesSchema = z.union([z.number().int().positive(), z.literal('always')]);
/** A vault name, or its full resource ID; matched case-insensitively. */
const vaultSelectorSchema = z.string().min(1);

/**
 * Which ARM requests a fault hits: the vault routes (the default, so faults written before
 * perimeters existed keep their meaning) or the perimeter routes. A perimeter fault names
 * no vault; it may name a perimeter, and then hits only the requests about that one (its
 * GET and its associations), not the listings.
 */
const faultOnSchema = z.enum(['vaults', 'perimeters', 'resources']);
/** A perimeter name, or its full resource ID; matched case-insensitively. */
const perimeterSelectorSchema = z.string().min(1);

const respondFaultSchema = z.strictObject({
  kind: z.literal('respond'),
  on: faultOnSchema.optional(),
  method: faultMethodSchema.optional(),
  vault: vaultSelectorSchema.optional(),
  perimeter: perimeterSelectorSchema.optional(),
  /** With on: "resources", the resource ID the fault hits (any casing); absent: every one. */
  resource: z.string().min(1).optional(),
  status: z.number().int().min(400).max(599),
  code: z.string().min(1).optional(),
  message: z.string().optional(),
  /** Sent as the `Retry-After` header: seconds, or an HTTP date. */
  retryAfter: z.union([z.number().int().nonnegative(), z.string().min(1)]).optional(),
  /** Sent as the `retry-after-ms` header. */
  retryAfterMs: z.number().int().nonnegative().optional(),
  delayMs: z.number().int().nonnegative().optional(),
  times: timesSchema.optional(),
  /** Matching requests let through before the fault hits (a write of several requests failing part-way). */
  skip: z.number().int().nonnegative().optional(),
});

const delayFaultSchema = z.strictObject({
  kind: z.literal('delay'),
  on: faultOnSchema.optional(),
  method: faultMethodSchema.optional(),
  vault: vaultSelectorSchema.optional(),
  perimeter: perimeterSelectorSchema.optional(),
  resource: z.string().min(1).optional(),
  delayMs: z.number().int().nonnegative(),
  times: timesSchema.optional(),
});

const editFaultSchema = z.strictObject({
  kind: z.literal('edit'),
  /** Someone else changes the rules right after this request of ours succeeds. */
  after: z.enum(['GET', 'PATCH']),
  vault: vaultSelectorSchema,
  ipRules: z.array(z.string()),
  times: timesSchema.optional(),
});

const resourceEditFaultSchema = z.strictObject({
  kind: z.literal('resourceEdit'),
  /** Someone else edits the resource right after this request of ours succeeds. */
  after: z.enum(['GET', 'PATCH', 'PUT']),
  /** The resource's ID (any casing). */
  resource: z.string().min(1),
  /** A namespace's rule-set properties to set, the rest kept; checked like any PUT of the rule set. */
  ruleSet: z.record(z.string(), z.unknown()),
  times: timesSchema.optional(),
});

export const faultSpecSchema = z.discriminatedUnion('kind', [respondFaultSchema, delayFaultSchema, editFaultSchema, resourceEditFaultSchema]);

export type RespondFault = z.infer<typeof respondFaultSchema>;
export type DelayFault = z.infer<typeof delayFaultSchema>;
export type EditFault = z.infer<typeof editFaultSchema>;
export type ResourceEditFault = z.infer<typeof resourceEditFaultSchema>;
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultMethod = z.infer<typeof faultMethodSchema>;
export type FaultOn = z.infer<typeof faultOnSchema>;

/** A fault as the emulator holds it: how many more requests it will hit. */
export type ActiveFault = FaultSpec & { readonly id: string; readonly remaining: number | 'always' };

export const settingsPatchSchema = z.strictObject({
  latencyMs: z.number().int().nonnegative().optional(),
  oldApi: z.boolean().optional(),
  ...fleetSettingsFields,
});

export interface EmulatorSettings {
  /** Added to every ARM request before it is handled. */
  readonly latencyMs: number;
  /** Old-API behaviour for every vault (a vault's own `oldApi` also turns it on). */
  readonly oldApi: boolean;
  /** Resource Graph answers with each resource as it was this long ago. */
  readonly graphLagMs: number;
  readonly graphQuota: GraphQuotaSettingsJson;
  /** ARM's per-subscription token buckets; false turns them off. */
  readonly throttle: ThrottleSettingsJson;
}

export interface RequestLogEntry {
  readonly seq: number;
  /** ISO time the request arrived. */
  readonly time: string;
  readonly kind: 'arm' | 'identity' | 'graph';
  readonly method: string;
  readonly path: string;
  /** The vault name as the request path spelled it. */
  readonly vault?: string;
  /** The perimeter name, for a request about one perimeter (its associations, say). */
  readonly perimeter?: string;
  /** The resource ID, for a request to a firewall of another kind (resources.ts). */
  readonly target?: string;
  readonly apiVersion?: string;
  readonly status: number;
  readonly durationMs: number;
  /** The JSON body of a PATCH or PUT, as the client sent it. */
  readonly body?: unknown;
  /** The bearer token an ARM request carried. */
  readonly token?: string;
  /** The token the identity endpoint handed out, and for which resource. */
  readonly issuedToken?: string;
  readonly resource?: string;
}

export interface IpRuleJson {
  value: string;
}

export interface VirtualNetworkRuleJson {
  id: string;
  ignoreMissingVnetServiceEndpoint: boolean;
}

export interface NetworkAclsJson {
  bypass: 'AzureServices' | 'None';
  defaultAction: 'Allow' | 'Deny';
  ipRules: IpRuleJson[];
  virtualNetworkRules: VirtualNetworkRuleJson[];
}

/** The `Vault` resource, shaped as ARM returns it. */
export interface VaultResourceJson {
  id: string;
  name: string;
  type: 'Microsoft.KeyVault/vaults';
  location: string;
  tags: Record<string, string>;
  properties: {
    sku: { family: 'A'; name: string };
    tenantId: string;
    networkAcls?: NetworkAclsJson;
    accessPolicies: unknown[];
    enabledForDeployment: boolean;
    enabledForDiskEncryption: boolean;
    enabledForTemplateDeployment: boolean;
    enableSoftDelete: boolean;
    softDeleteRetentionInDays: number;
    enableRbacAuthorization: boolean;
    enablePurgeProtection?: boolean;
    vaultUri: string;
    provisioningState: 'Succeeded';
    publicNetworkAccess: 'Enabled' | 'Disabled' | 'SecuredByPerimeter';
  };
}

/** `NetworkSecurityPerimeter` (a tracked resource), shaped as ARM returns it. */
export interface PerimeterResourceJson {
  id: string;
  name: string;
  type: 'Microsoft.Network/networkSecurityPerimeters';
  location: string;
  tags: Record<string, string>;
  properties: { provisioningState: 'Succeeded'; perimeterGuid: string };
}

/** `NspAssociation` (a proxy resource under the perimeter), shaped as ARM returns it. */
export interface AssociationResourceJson {
  id: string;
  name: string;
  type: 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations';
  properties: {
    provisioningState: 'Succeeded';
    privateLinkResource: { id: string };
    profile: { id: string };
    accessMode: AccessMode;
    hasProvisioningIssues: 'no';
  };
}

/** What the control API shows of a perimeter: the resource, its profile IDs, associations and access rules. */
export interface PerimeterStateJson {
  perimeter: PerimeterResourceJson;
  profiles: string[];
  associations: AssociationResourceJson[];
  /** Every profile's, ordered by ID, each as ARM returns it. */
  accessRules: AccessRuleResourceJson[];
}

/** Checks a seed's shape; vault IDs and rules are checked when the seed is loaded. */
export function parseEmulatorSeed(value: unknown, source: string): EmulatorSeed {
  const parsed = emulatorSeedSchema.safeParse(value);
  if (!parsed.success) {
    throw new TagwallError('EMULATOR_SEED_INVALID', `${source} is not a valid emulator seed`, { details: zodProblems(parsed.error) });
  }
  return parsed.data;
}

export async function readEmulatorSeedFile(path: string): Promise<EmulatorSeed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TagwallError('EMULATOR_SEED_UNREADABLE', `cannot read emulator seed ${path}: ${(e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TagwallError('EMULATOR_SEED_INVALID', `${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseEmulatorSeed(raw, path);
}
