import { ArmFailure } from './http.js';

/**
 * Azure Resource Manager's throttling, per principal and subscription, as Microsoft's
 * "Understand how Azure Resource Manager throttles requests" page describes it: a token bucket
 * per kind of request, 250 reads refilling at 25 a second, and 200 writes (and 200 deletes)
 * refilling at 10 a second. Every answer tells what is left in
 * x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}; an empty bucket answers 429
 * with Retry-After. A "storm" makes one subscription answer 429 to everything for a while,
 * as a subscription under someone else's load does.
 */

export interface BucketSettings {
  readonly burst: number;
  readonly perSecond: number;
}

export interface ThrottleSettings {
  readonly reads: BucketSettings;
  readonly writes: BucketSettings;
  readonly deletes?: BucketSettings;
}

export const AZURE_THROTTLE: ThrottleSettings = {
  reads: { burst: 250, perSecond: 25 },
  writes: { burst: 200, perSecond: 10 },
  deletes: { burst: 200, perSecond: 10 },
};

export type RequestClass = 'reads' | 'writes' | 'deletes';

export function requestClass(method: string): RequestClass {
  if (method === 'GET' || method === 'HEAD') return 'reads';
  return method === 'DELETE' ? 'deletes' : 'writes';
}

/** Who a bearer token speaks for: its `oid` or `sub` claim when it is a JWT, else one shared principal. */
export function principalOf(token: string | undefined): string {
  const payload = token?.split('.')[1];
  if (payload !== undefined && token!.split('.').length === 3) {
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown; sub?: unknown };
      const subject = claims.oid ?? claims.sub;
      if (typeof subject === 'string' && subject !== '') return subject;
    } catch {
      // not a JWT: the shared principal
    }
  }
  return '*';
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface Storm {
  readonly subscriptionId: string;
  readonly retryAfterSeconds: number;
  readonly until: number;
}

export class ArmThrottle {
  readonly #buckets = new Map<string, Bucket>();
  #storms: Storm[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  storm(subscriptionId: string, retryAfterSeconds: number, durationMs: number): Storm {
    const storm = { subscriptionId: subscriptionId.toLowerCase(), retryAfterSeconds, until: this.now() + durationMs };
    this.#storms = [...this.#storms.filter((s) => s.subscriptionId !== storm.subscriptionId), storm];
    return storm;
  }

  storms(): Storm[] {
    const now = this.now();
    this.#storms = this.#storms.filter((s) => s.until > now);
    return [...this.#storms];
  }

  clear(): void {
    this.#buckets.clear();
    this.#storms = [];
  }

  /**
   * Takes one token for the request, or throws ARM's 429. Returns the header that tells what is
   * left, which the caller puts on whatever it answers.
   */
  take(settings: ThrottleSettings | false, principal: string, subscriptionId: string, method: string): Record<string, string> {
    const now = this.now();
    const storm = this.storms().find((s) => s.subscriptionId === subscriptionId.toLowerCase());
    if (storm !== undefined) {
      throw new ArmFailure(429, 'TooManyRequests', `The subscription '${subscriptionId}' is throttled; retry after ${storm.retryAfterSeconds} seconds.`, { 'retry-after': String(storm.retryAfterSeconds) });
    }
    if (settings === false) return {};
    const kind = requestClass(method);
    const limits = settings[kind] ?? settings.writes;
    const header = `x-ms-ratelimit-remaining-subscription-${kind}`;
    const key = `${principal}\n${subscriptionId.toLowerCase()}\n${kind}`;
    const bucket = this.#buckets.get(key) ?? { tokens: limits.burst, at: now };
    bucket.tokens = Math.min(limits.burst, bucket.tokens + ((now - bucket.at) / 1000) * limits.perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const wait = limits.perSecond > 0 ? Math.max(1, Math.ceil((1 - bucket.tokens) / limits.perSecond)) : 60;
      throw new ArmFailure(429, 'TooManyRequests', `The request is throttled: the subscription's ${kind} limit for this principal is used up; retry after ${wait} seconds.`, {
        'retry-after': String(wait),
        [header]: '0',
      });
    }
    bucket.tokens -= 1;
    return { [header]: String(Math.floor(bucket.tokens)) };
  }
}
