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
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class RequestStats {
  #stats = RequestStats.empty();

  static empty(): { total: number; byRoute: Record<string, number>; bySubscription: Record<string, number>; byStatus: Record<string, number>; graphBytes: number } {
    return { total: 0, byRoute: {}, bySubscription: {}, byStatus: {}, graphBytes: 0 };
  }

  /** `status` undefined: counted before it was answered (control calls), so not by status. */
  count(method: string, kind: RouteKind, status?: number, subscriptions: readonly string[] = []): void {
    this.#stats.total += 1;
    bump(this.#stats.byRoute, `${method} ${kind}`);
    if (status !== undefined) bump(this.#stats.byStatus, String(status));
    for (const s of new Set(subscriptions.map((x) => x.toLowerCase()))) bump(this.#stats.bySubscription, s);
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
