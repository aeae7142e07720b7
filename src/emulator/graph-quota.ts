import { ArmFailure } from './http.js';

/**
 * Resource Graph's per-user quota, as Microsoft's "Guidance for throttled requests in Azure
 * Resource Graph" describes it: a fixed window (by default 15 queries in 5 seconds) per principal,
 * told on every answer in x-ms-user-quota-remaining and x-ms-user-quota-resets-after (hh:mm:ss).
 * Beyond it, 429 RateLimiting. Tests can also have the next answers be 429 whatever the quota.
 */

export interface GraphQuotaSettings {
  readonly queries: number;
  readonly windowMs: number;
}

export const AZURE_GRAPH_QUOTA: GraphQuotaSettings = { queries: 15, windowMs: 5_000 };

interface Window {
  start: number;
  used: number;
}

function hms(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** The support preamble Resource Graph puts before its messages. */
export function supportPreamble(correlationId: string): string {
  return `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${correlationId}.`;
}

export class GraphQuota {
  readonly #windows = new Map<string, Window>();
  #injected: { remaining: number; retryAfterSeconds: number } = { remaining: 0, retryAfterSeconds: 1 };

  constructor(private readonly now: () => number = Date.now) {}

  inject(count: number, retryAfterSeconds: number): void {
    this.#injected = { remaining: count, retryAfterSeconds };
  }

  clear(): void {
    this.#windows.clear();
    this.#injected = { remaining: 0, retryAfterSeconds: 1 };
  }

  /** Counts one query against the principal's window; returns the quota headers, or throws the 429 carrying them. */
  take(settings: GraphQuotaSettings, principal: string, correlationId: string): Record<string, string> {
    const now = this.now();
    let window = this.#windows.get(principal);
    if (window === undefined || now >= window.start + settings.windowMs) {
      window = { start: now, used: 0 };
      this.#windows.set(principal, window);
    }
    const resetsInMs = window.start + settings.windowMs - now;
    const throttled = (retryAfterSeconds: number, remaining: number): ArmFailure =>
      new ArmFailure(
        429,
        'RateLimiting',
        `${supportPreamble(correlationId)} Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.`,
        { 'x-ms-user-quota-remaining': String(remaining), 'x-ms-user-quota-resets-after': hms(resetsInMs), 'retry-after': String(retryAfterSeconds) },
      );
    if (this.#injected.remaining > 0) {
      this.#injected.remaining -= 1;
      throw throttled(this.#injected.retryAfterSeconds, Math.max(0, settings.queries - window.used));
    }
    if (window.used >= settings.queries) throw throttled(Math.max(1, Math.ceil(resetsInMs / 1000)), 0);
    window.used += 1;
    return { 'x-ms-user-quota-remaining': String(settings.queries - window.used), 'x-ms-user-quota-resets-after': hms(resetsInMs) };
  }
}
