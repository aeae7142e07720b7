import { z } from 'zod';
import { ARM_SUBSCRIPTION_LIMITS, DEFAULT_PACING_MARGIN } from './pacing.js';

/**
 * ARM's buckets per principal and subscription ("Understand how Azure Resource Manager
 * throttles requests", learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling):
 * reads 250 burst refilled at 25/s, writes and deletes 200 at 10/s. Lower them for a principal
 * that other tools share; `margin` scales all of them (default 0.9).
 */
const bucketSchema = z.strictObject({ burst: z.number().int().min(1).max(100_000), perSecond: z.number().positive().max(10_000) });
export const pacingSchema = z.strictObject({
  reads: bucketSchema.default({ ...ARM_SUBSCRIPTION_LIMITS.read }),
  writes: bucketSchema.default({ ...ARM_SUBSCRIPTION_LIMITS.write }),
  deletes: bucketSchema.default({ ...ARM_SUBSCRIPTION_LIMITS.delete }),
  margin: z.number().gt(0).max(1).default(DEFAULT_PACING_MARGIN),
});
export const PACING_DEFAULTS = { reads: { ...ARM_SUBSCRIPTION_LIMITS.read }, writes: { ...ARM_SUBSCRIPTION_LIMITS.write }, deletes: { ...ARM_SUBSCRIPTION_LIMITS.delete }, margin: DEFAULT_PACING_MARGIN };
