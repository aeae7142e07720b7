import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { zodProblems } from '../sources/schema.js';

/**
 * The emulator's wire formats: the seed that describes vaults, the faults tests inject,
 * the request log, and the ARM `Vault` resource as the emulator returns it. Schemas sit
 * beside the types so that a seed file and a control request are checked the same way.
 */

/** Where the control API lives on the emulator's HTTPS port. */
export const CONTROL_PREFIX = '/_emulator/';

/** api-versions the emulator answers; anything else gets ARM's InvalidApiVersionParameter. */
export const SUPPORTED_API_VERSIONS = ['2026-02-01', '2025-05-01'] as const;

const ipRuleSchema = z.strictObject({ value: z.string() });
const virtualNetworkRuleSchema = z.strictObject({ id: z.string().min(1), ignoreMissingVnetServiceEndpoint: z.boolean().optional() });

const seedNetworkAclsSchema = z.strictObject({
  bypass: z.string().optional(),
  defaultAction: z.string().optional(),
  ipRules: z.array(ipRuleSchema).optional(),
  virtualNetworkRules: z.array(virtualNetworkRuleSchema).optional(),
});

const seedVaultSchema = z.strictObject({
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

export const emulatorSeedSchema = z.strictObject({ vaults: z.array(seedVaultSchema) });

export type SeedNetworkAcls = z.infer<typeof seedNetworkAclsSchema>;
export type SeedVault = z.infer<typeof seedVaultSchema>;
export type EmulatorSeed = z.infer<typeof emulatorSeedSchema>;

const faultMethodSchema = z.enum(['GET', 'PATCH', 'PUT']);
const timesSchema = z.union([z.number().int().positive(), z.literal('always')]);
/** A vault name, or its full resource ID; matched case-insensitively. */
const vaultSelectorSchema = z.string().min(1);

const respondFaultSchema = z.strictObject({
  kind: z.literal('respond'),
  method: faultMethodSchema.optional(),
  vault: vaultSelectorSchema.optional(),
  status: z.number().int().min(400).max(599),
  code: z.string().min(1).optional(),
  message: z.string().optional(),
  /** Sent as the `Retry-After` header: seconds, or an HTTP date. */
  retryAfter: z.union([z.number().int().nonnegative(), z.string().min(1)]).optional(),
  /** Sent as the `retry-after-ms` header. */
  retryAfterMs: z.number().int().nonnegative().optional(),
  delayMs: z.number().int().nonnegative().optional(),
  times: timesSchema.optional(),
});

const delayFaultSchema = z.strictObject({
  kind: z.literal('delay'),
  method: faultMethodSchema.optional(),
  vault: vaultSelectorSchema.optional(),
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

export const faultSpecSchema = z.discriminatedUnion('kind', [respondFaultSchema, delayFaultSchema, editFaultSchema]);

export type RespondFault = z.infer<typeof respondFaultSchema>;
export type DelayFault = z.infer<typeof delayFaultSchema>;
export type EditFault = z.infer<typeof editFaultSchema>;
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultMethod = z.infer<typeof faultMethodSchema>;

/** A fault as the emulator holds it: how many more requests it will hit. */
export type ActiveFault = FaultSpec & { readonly id: string; readonly remaining: number | 'always' };

export const settingsPatchSchema = z.strictObject({
  latencyMs: z.number().int().nonnegative().optional(),
  oldApi: z.boolean().optional(),
});

export interface EmulatorSettings {
  /** Added to every ARM request before it is handled. */
  readonly latencyMs: number;
  /** Old-API behaviour for every vault (a vault's own `oldApi` also turns it on). */
  readonly oldApi: boolean;
}

export interface RequestLogEntry {
  readonly seq: number;
  /** ISO time the request arrived. */
  readonly time: string;
  readonly kind: 'arm' | 'identity';
  readonly method: string;
  readonly path: string;
  /** The vault name as the request path spelled it. */
  readonly vault?: string;
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
    publicNetworkAccess: 'Enabled' | 'Disabled';
  };
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
