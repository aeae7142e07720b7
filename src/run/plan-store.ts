import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AlertLogger } from '../alerts/types.js';
import { parseDuration } from '../core/duration.js';
import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import type { KeyValueStore } from '../state/store.js';
import { planFileSchema, type PlanFile } from './plan-file.js';

/**
 * Reviewed plans kept in the state store, for the Functions app: `GET /api/plan` stores the plan
 * it shows under `plans/<planId>.json`, and `POST /api/sync {"apply": true, "planId"}` applies
 * exactly that one. The plan itself is the file `sync --dry-run --out` writes (plan-file.ts);
 * around it, its id and whether it was applied.
 *
 * A plan is applied at most once. An approval gate approves one application: a pipeline step
 * retried after a lost answer must not run again and report every target "stale", so the apply
 * claims the plan (a conditional write on the ETag it read) before any request, and a second
 * apply, or a concurrent one, is refused PLAN_APPLIED, naming the run that applied it. The base
 * check (PLAN_STALE) still guards every target as in `tagwall apply`.
 *
 * Retention: each store deletes the plans older than the max age (they can only be refused
 * PLAN_EXPIRED). A plan id is a UUIDv7: 74 random bits (unguessable) after the time it was made
 * in milliseconds, so one listing of `plans/` tells which are old, without reading any.
 */

export const PLAN_PREFIX = 'plans/';
export const DEFAULT_PLAN_MAX_AGE_MS = 24 * 3_600_000;
/** The app setting that sets the max age, as `tagwall apply --max-age` does for the CLI. */
export const PLAN_MAX_AGE_SETTING = 'TAGWALL_PLAN_MAX_AGE';

/** A UUIDv7 in its canonical form: only these characters, so a plan id never reaches outside `plans/`. */
const PLAN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PLAN_KEY = /^plans\/([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\.json$/;

const storedPlanSchema = z.object({
  version: z.literal(1),
  planId: z.string().regex(PLAN_ID),
  plan: planFileSchema,
  applied: z.object({ at: z.string().datetime({ offset: true }), runId: z.string().optional(), outcomes: z.record(z.string(), z.number()).optional() }).optional(),
});

export type StoredPlan = z.infer<typeof storedPlanSchema>;

/** A new plan id: a UUIDv7 (RFC 9562) for `now`. */
export function newPlanId(now: Date): string {
  const b = randomBytes(16);
  let ms = now.getTime();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The id, lowercased, when it is one tagwall could have made; PLAN_ID_INVALID otherwise (before any storage request). */
export function checkPlanId(planId: string): string {
  const id = planId.toLowerCase();
  if (!PLAN_ID.test(id)) throw new TagwallError('PLAN_ID_INVALID', `${JSON.stringify(planId.slice(0, 100))} is not a plan id (the UUID GET /api/plan answered as "planId")`);
  return id;
}

/** When the plan of this id was made, in milliseconds. */
function timeOf(planId: string): number {
  return Number.parseInt(planId.slice(0, 8) + planId.slice(9, 13), 16);
}

/** TAGWALL_PLAN_MAX_AGE as milliseconds: a duration like `--max-age`'s (`90s`, `30m`, `24h`, or `2d`); CONFIG_INVALID when it is not one. */
export function planMaxAgeMs(env: Readonly<Record<string, string | undefined>>): number {
  const value = env[PLAN_MAX_AGE_SETTING]?.trim();
  if (value === undefined || value === '') return DEFAULT_PLAN_MAX_AGE_MS;
  const ms = parseDuration(value) ?? 0;
  if (!(ms > 0) || ms > 366 * 86_400_000) {
    throw new TagwallError('CONFIG_INVALID', `app setting ${PLAN_MAX_AGE_SETTING}: ${JSON.stringify(value)} is not a duration such as 90m, 24h or 2d (at most a year)`, {
      details: [`${PLAN_MAX_AGE_SETTING}: a duration such as 90m, 24h or 2d, or unset for 24h`],
    });
  }
  return ms;
}

export interface LoadedPlan {
  readonly stored: StoredPlan;
  readonly etag: string;
}

export class PlanRepository {
  constructor(private readonly store: KeyValueStore) {}

  /** Stores a new plan and returns its id; then deletes the plans older than `maxAgeMs` (a failure there is only logged). */
  async save(plan: PlanFile, now: Date, maxAgeMs: number, logger: AlertLogger): Promise<string> {
    const planId = newPlanId(now);
    const stored: StoredPlan = { version: 1, planId, plan };
    await this.store.put(keyOf(planId), `${JSON.stringify(stored, null, 2)}\n`, { ifNoneExists: true });
    try {
      const deleted = await this.prune(now, maxAgeMs);
      if (deleted > 0) logger.info(`tagwall.plan deleted ${deleted} expired plan${deleted === 1 ? '' : 's'} from ${this.store.description}`);
    } catch (e) {
      logger.warn(`tagwall.plan expired plans not deleted (the next stored plan tries again): ${describeError(e)}`);
    }
    return planId;
  }

  /** The stored plan of a checked id, or undefined; PLAN_INVALID when what is stored is not one. */
  async load(planId: string): Promise<LoadedPlan | undefined> {
    const found = await this.store.get(keyOf(planId));
    if (found === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(found.text);
    } catch (e) {
      throw new TagwallError('PLAN_INVALID', `the stored plan ${planId} is not JSON: ${(e as Error).message}`);
    }
    const parsed = storedPlanSchema.safeParse(value);
    if (!parsed.success || parsed.data.planId !== planId) {
      throw new TagwallError('PLAN_INVALID', `the stored plan ${planId} is not a plan GET /api/plan stored (it was edited?): make a new plan`, {
        details: parsed.success ? ['planId: not the id it is stored under'] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
      });
    }
    return { stored: parsed.data, etag: found.etag };
  }

  /** Marks the plan applied, on the ETag it was read with; PLAN_APPLIED when another apply got there first. */
  async claim(loaded: LoadedPlan, at: Date): Promise<LoadedPlan> {
    const stored: StoredPlan = { ...loaded.stored, applied: { at: at.toISOString() } };
    try {
      return { stored, etag: await this.store.put(keyOf(stored.planId), `${JSON.stringify(stored, null, 2)}\n`, { ifMatch: loaded.etag }) };
    } catch (e) {
      if (isTagwallError(e, 'STATE_CONFLICT')) throw new TagwallError('PLAN_APPLIED', `plan ${stored.planId} is being applied by another request; nothing was written by this one`);
      throw e;
    }
  }

  /** Adds the run that applied the plan and its outcomes to the claim. */
  async recordRun(claimed: LoadedPlan, runId: string | undefined, outcomes: Readonly<Record<string, number>>): Promise<void> {
    const applied = { ...claimed.stored.applied!, ...(runId === undefined ? {} : { runId }), outcomes: { ...outcomes } };
    await this.store.put(keyOf(claimed.stored.planId), `${JSON.stringify({ ...claimed.stored, applied }, null, 2)}\n`, { ifMatch: claimed.etag });
  }

  /** Deletes the plans made more than `maxAgeMs` before `now`; anything else under `plans/` is left alone. */
  async prune(now: Date, maxAgeMs: number): Promise<number> {
    if (this.store.list === undefined || this.store.delete === undefined) return 0;
    let deleted = 0;
    for (const key of (await this.store.list(PLAN_PREFIX)).keys()) {
      const id = PLAN_KEY.exec(key)?.[1];
      if (id === undefined || now.getTime() - timeOf(id) <= maxAgeMs) continue;
      await this.store.delete(key);
      deleted++;
    }
    return deleted;
  }
}

/** A plan's message for a second apply: when, and by which run. */
export function appliedMessage(stored: StoredPlan): string {
  const a = stored.applied!;
  return `plan ${stored.planId} was applied at ${a.at}${a.runId === undefined ? '' : ` by run ${a.runId}`}; a plan is applied once: make a new plan (GET /api/plan) for what is left`;
}

function keyOf(planId: string): string {
  return `${PLAN_PREFIX}${checkPlanId(planId)}.json`;
}
