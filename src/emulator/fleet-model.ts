import { z } from 'zod';

/**
 * Wire formats of the fleet-scale control calls: Resource Graph and throttling settings, the
 * directory (readable subscriptions, management groups), 429 storms and fleet seeding.
 */

const bucketSchema = z.strictObject({ burst: z.number().int().positive(), perSecond: z.number().nonnegative() });

export const throttleSettingsSchema = z.union([
  z.literal(false),
  z.strictObject({ reads: bucketSchema, writes: bucketSchema, deletes: bucketSchema.optional() }),
]);

export const graphQuotaSettingsSchema = z.strictObject({ queries: z.number().int().positive(), windowMs: z.number().int().positive() });

/** The settings fields the fleet adds; model.ts folds them into the settings patch. */
export const fleetSettingsFields = {
  /** Resource Graph shows each resource as it was this long ago. */
  graphLagMs: z.number().int().nonnegative().optional(),
  graphQuota: graphQuotaSettingsSchema.optional(),
  throttle: throttleSettingsSchema.optional(),
};

export const subscriptionAccessRequestSchema = z.strictObject({ subscriptionId: z.string().min(1), readable: z.boolean() });

export const managementGroupRequestSchema = z.strictObject({
  name: z.string().min(1),
  subscriptions: z.array(z.string().min(1)),
  readable: z.boolean().optional(),
});

export const stormRequestSchema = z.strictObject({
  subscriptionId: z.string().min(1),
  retryAfterSeconds: z.number().int().positive(),
  durationMs: z.number().int().positive(),
});

export const graphThrottleRequestSchema = z.strictObject({
  count: z.number().int().positive(),
  retryAfterSeconds: z.number().int().positive().optional(),
});

export const fleetSeedRequestSchema = z.strictObject({
  subscriptions: z.number().int().positive().max(10_000),
  vaults: z.number().int().nonnegative().max(100_000),
  /** `keyvault`, or a kind the emulator models by its short name (`storage`, ...). */
  kind: z.string().min(1).optional(),
  /** A mixed fleet: the resources take these kinds in turn (instead of `kind`). */
  kinds: z.array(z.string().min(1)).min(1).max(32).optional(),
  tag: z.strictObject({ name: z.string().min(1), values: z.array(z.string()).min(1) }).optional(),
  /** Extra resources that carry no tag at all. */
  untagged: z.number().int().nonnegative().max(100_000).optional(),
  /** The average number of IP rules per resource. */
  rules: z.number().int().nonnegative().max(1_000).optional(),
  defaultAction: z.enum(['Allow', 'Deny']).optional(),
  /** At most 8 hex digits: the start of every subscription ID. */
  subscriptionIdPrefix: z.string().regex(/^[0-9a-f]{0,8}$/i).optional(),
  resourceGroup: z.string().min(1).optional(),
  /** Another seed, another fleet; the same seed, the same fleet. */
  prngSeed: z.number().int().optional(),
});

export type ThrottleSettingsJson = z.infer<typeof throttleSettingsSchema>;
export type GraphQuotaSettingsJson = z.infer<typeof graphQuotaSettingsSchema>;
export type ManagementGroupRequest = z.infer<typeof managementGroupRequestSchema>;
export type StormRequest = z.infer<typeof stormRequestSchema>;
export type FleetSeedRequest = z.infer<typeof fleetSeedRequestSchema>;

export interface FleetSeedResult {
  readonly subscriptions: string[];
  /** The tagged resources first, then the untagged, each in creation order. */
  readonly ids: string[];
  readonly tagged: number;
  readonly untagged: number;
}
