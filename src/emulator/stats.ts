import { requestClass } from './throttle.js';

/**
 * Counters of what the emulator answered. The request log keeps the last 2,000 requests; a fleet
 * run makes tens of thousands, so totals live here and never fall off.
 */

export type RouteKind = 'graph' | 'vault' | 'resource' | 'perimeter' | 'control' | 'other';

export interface RequestStatsJson {
  readonly total: number;
  /** `"GET vault"`, `"POST graph"`, ...: requests by method and route kind. */
  readonly byRoute: Record<string, number>;
  /** Lowercased subscription ID: ARM requests into it, and Resource Graph queries that name it in `subscriptions`. */
  readonly bySubscription: Record<string, number>;
  /** `"429"`, ...: ARM and Resource Graph answers by status. */
  readonly byStatus: Record<string, number>;
  /** Bytes of the bodies of Resource Graph answers. */
  readonly graphBytes: number;
  /**
   * Lowercased subscription ID: when each ARM write into it arrived (epoch ms; PATCH, PUT and POST,
   * not DELETE, which has its own bucket), listed as they were answered. A client's write rate per
   * subscription is checked second by second from these; counts alone cannot show it.
   */
  readonly writeTimes: Record<string, number[]>;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class RequestStats {
  #stats = RequestStats.empty();

  static empty(): { total: number; byRoute: Record<string, number>; bySubscription: Record<string, number>; byStatus: Record<string, number>; graphBytes: number; writeTimes: Record<string, number[]> } {
    return { total: 0, byRoute: {}, bySubscription: {}, byStatus: {}, graphBytes: 0, writeTimes: {} };
  }

  /**
   * `status` undefined: counted before it was answered (control calls), so not by status.
   * `arrivedAt`: given for ARM requests, whose writes are then timed per subscription.
   */
  count(method: string, kind: RouteKind, status?: number, subscriptions: readonly string[] = [], arrivedAt?: number): void {
    this.#stats.total += 1;
    bump(this.#stats.byRoute, `${method} ${kind}`);
    if (status !== undefined) bump(this.#stats.byStatus, String(status));
    const subs = new Set(subscriptions.map((x) => x.toLowerCase()));
    for (const s of subs) bump(this.#stats.bySubscription, s);
    // Every write ARM received counts against its write bucket, refused ones too, so all are timed.
    if (arrivedAt !== undefined && requestClass(method) === 'writes') for (const s of subs) (this.#stats.writeTimes[s] ??= []).push(arrivedAt);
  }

  addGraphBytes(bytes: number): void {
    this.#stats.graphBytes += bytes;
  }

  snapshot(): RequestStatsJson {
    return structuredClone(this.#stats);
  }

  reset(): void {
    this.#stats = RequestStats.empty();
  }
}
