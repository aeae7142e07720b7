import type { PipelinePolicy, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { TagwallError } from '../core/errors.js';
import { retryAfterMs } from '../core/retry-after.js';
import { TokenBucket, type BucketRate } from './token-bucket.js';

/**
 * Paces tagwall's own ARM calls per subscription, so a fleet run stays under ARM's throttling
 * instead of learning of it from 429s. Facts from "Understand how Azure Resource Manager
 * throttles requests" (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling):
 * ARM keeps a token bucket per principal and subscription (and per regional instance) for
 * reads, writes and deletes; each answer carries the bucket's remaining count in
 * x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}, and a 429 says in Retry-After
 * when to come back.
 */

export type ArmOperation = 'read' | 'write' | 'delete';

/** ARM's subscription buckets (the page above): what a principal gets before its calls are refused. */
export const ARM_SUBSCRIPTION_LIMITS: Readonly<Record<ArmOperation, BucketRate>> = {
  read: { burst: 250, perSecond: 25 },
  write: { burst: 200, perSecond: 10 },
  delete: { burst: 200, perSecond: 10 },
};

/**
 * The share of ARM's buckets tagwall allows itself: the same principal may be calling ARM
 * from elsewhere (a deployment, a second run), and ARM counts those calls in the same bucket.
 */
export const DEFAULT_PACING_MARGIN = 0.9;

export interface PacingSettings {
  readonly reads?: BucketRate;
  readonly writes?: BucketRate;
  readonly deletes?: BucketRate;
  /** Both burst and refill are scaled by it; 1 paces at ARM's full limits. */
  readonly margin?: number;
}

export interface ArmPacerOptions extends PacingSettings {
  /** Milliseconds since the epoch; Date.now by default. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SubscriptionPacing {
  readonly subscriptionId: string;
  /** Calls let through (every attempt, the SDK's retries included). */
  readonly requests: number;
  /** Calls that had to wait for a token or a block, and for how long in all. */
  readonly waits: number;
  readonly waitedMs: number;
  /** 429s ARM answered for this subscription. */
  readonly throttled: number;
}

const REMAINING_HEADER: Readonly<Record<ArmOperation, string>> = {
  read: 'x-ms-ratelimit-remaining-subscription-reads',
  write: 'x-ms-ratelimit-remaining-subscription-writes',
  delete: 'x-ms-ratelimit-remaining-subscription-deletes',
};

const SUBSCRIPTION_IN_PATH = /^\/subscriptions\/([^/?#]+)/i;

/** The subscription a call is counted against, or undefined for a tenant-level one (Resource Graph, say). */
export function subscriptionOfUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const m = SUBSCRIPTION_IN_PATH.exec(path);
  return m === null ? undefined : decodeURIComponent(m[1]!).toLowerCase();
}

/** Which of ARM's buckets a method spends: GET and HEAD read, DELETE deletes, the rest write. */
export function operationOf(method: string): ArmOperation {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return 'read';
  return m === 'DELETE' ? 'delete' : 'write';
}

/** When a 429's Retry-After ends, in epoch milliseconds (read as every retry in tagwall reads it); undefined when unusable. */
export function retryAfterEnd(headers: { get(name: string): string | undefined }, nowMs: number): number | undefined {
  const wait = retryAfterMs(headers, nowMs);
  return wait === undefined ? undefined : nowMs + wait;
}

/** What both SDK generations hand a request as its abort signal. */
export interface PacingAbortSignal {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** One bucket of one subscription, with the calls queued on it in arrival order. */
interface Lane {
  readonly bucket: TokenBucket;
  readonly queue: Waiter[];
  pumping: boolean;
}

interface Tally {
  requests: number;
  waits: number;
  waitedMs: number;
  throttled: number;
}

function scaled(rate: BucketRate, margin: number): BucketRate {
  return { burst: Math.max(1, Math.floor(rate.burst * margin)), perSecond: rate.perSecond * margin };
}

export class ArmPacer {
  private readonly rates: Readonly<Record<ArmOperation, BucketRate>>;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly lanes: Map<string, Lane>;
  private readonly tallies = new Map<string, Tally>();

  /** `shared`: the buckets of the pacer this one is a view of (see forRun). */
  constructor(
    private readonly options: ArmPacerOptions = {},
    shared?: Map<string, Lane>,
  ) {
    this.lanes = shared ?? new Map();
    const margin = options.margin ?? DEFAULT_PACING_MARGIN;
    if (!(margin > 0 && margin <= 1)) throw new TagwallError('CONFIG_INVALID', `the pacing margin is a share of ARM's limits, above 0 and at most 1, not ${margin}`);
    this.rates = {
      read: scaled(options.reads ?? ARM_SUBSCRIPTION_LIMITS.read, margin),
      write: scaled(options.writes ?? ARM_SUBSCRIPTION_LIMITS.write, margin),
      delete: scaled(options.deletes ?? ARM_SUBSCRIPTION_LIMITS.delete, margin),
    };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * A pacer over the same buckets, blocks and queues, that counts only its own calls: one run's
   * view of the process's pacing, so the run's report says what that run cost.
   */
  forRun(): ArmPacer {
    return new ArmPacer(this.options, this.lanes);
  }

  /** Resolves when the subscription's bucket for `op` has given this call a token; calls queue in arrival order. */
  async acquire(subscriptionId: string, op: ArmOperation, signal?: PacingAbortSignal): Promise<void> {
    const key = subscriptionId.toLowerCase();
    const lane = this.lane(key, op);
    const tally = this.tally(key);
    const start = this.now();
    if (lane.queue.length === 0 && lane.bucket.tryTake(start)) {
      tally.requests++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = lane.queue.indexOf(waiter);
        if (at >= 0) lane.queue.splice(at, 1);
        reject(signal?.reason ?? new Error('the request was aborted while it waited for ARM pacing'));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      if (signal?.aborted === true) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.queue.push(waiter);
      void this.pump(lane);
    });
    tally.requests++;
    tally.waits++;
    tally.waitedMs += Math.max(0, this.now() - start);
  }

  /** Learns from an answer: the server's remaining count, and on 429 a block of that bucket until Retry-After. */
  observe(subscriptionId: string, op: ArmOperation, status: number, headers: { get(name: string): string | undefined }): void {
    const key = subscriptionId.toLowerCase();
    const lane = this.lane(key, op);
    const now = this.now();
    const remaining = headers.get(REMAINING_HEADER[op]);
    if (remaining !== undefined && remaining.trim() !== '') lane.bucket.drainTo(Number(remaining), now);
    if (status !== 429) return;
    this.tally(key).throttled++;
    // ARM has said there is nothing left; whatever this bucket believed, it refills from empty.
    lane.bucket.drainTo(0, now);
    const end = retryAfterEnd(headers, now);
    if (end !== undefined) {
      lane.bucket.blockUntil(end);
      // A block may have arrived while the lane slept towards an earlier token; it re-checks on waking.
    }
  }

  /** The latest end of a block on any of the subscription's buckets, or undefined when none is blocked now. */
  blockedUntil(subscriptionId: string): number | undefined {
    const key = subscriptionId.toLowerCase();
    const now = this.now();
    let latest: number | undefined;
    for (const op of ['read', 'write', 'delete'] as const) {
      const end = this.lanes.get(`${key}|${op}`)?.bucket.blockedUntil(now);
      if (end !== undefined && (latest === undefined || end > latest)) latest = end;
    }
    return latest;
  }

  isBlocked(subscriptionId: string): boolean {
    return this.blockedUntil(subscriptionId) !== undefined;
  }

  /** Per subscription, in the order of their IDs. */
  stats(): SubscriptionPacing[] {
    return [...this.tallies.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([subscriptionId, t]) => ({ subscriptionId, ...t }));
  }

  private lane(key: string, op: ArmOperation): Lane {
    const id = `${key}|${op}`;
    let lane = this.lanes.get(id);
    if (lane === undefined) {
      lane = { bucket: new TokenBucket(this.rates[op], this.now()), queue: [], pumping: false };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  private tally(key: string): Tally {
    let t = this.tallies.get(key);
    if (t === undefined) {
      t = { requests: 0, waits: 0, waitedMs: 0, throttled: 0 };
      this.tallies.set(key, t);
    }
    return t;
  }

  /** One sleeper per lane hands tokens out in queue order, so a burst of calls costs one timer, not one each. */
  private async pump(lane: Lane): Promise<void> {
    if (lane.pumping) return;
    lane.pumping = true;
    try {
      while (lane.queue.length > 0) {
        const now = this.now();
        if (lane.bucket.tryTake(now)) {
          lane.queue.shift()!.resolve();
          continue;
        }
        await this.sleep(Math.max(1, Math.ceil(lane.bucket.waitMs(now))));
      }
    } catch (e) {
      for (const w of lane.queue.splice(0)) w.reject(e);
    } finally {
      lane.pumping = false;
    }
  }
}

/**
 * The process's pacer for one ARM endpoint, identity and set of rates. ARM keeps its buckets per
 * principal and subscription, so every run of the process that calls as that principal (the
 * queue worker's concurrent shards, a timer beside an HTTP run) must draw on the same buckets;
 * a pacer per run let two runs together send twice what ARM allows. Take `forRun()` of it.
 */
export function processPacer(endpoint: string, identity: string, settings: PacingSettings): ArmPacer {
  const key = JSON.stringify([endpoint.replace(/\/+$/, '').toLowerCase(), identity, settings.reads, settings.writes, settings.deletes, settings.margin]);
  let pacer = processPacers.get(key);
  if (pacer === undefined) {
    pacer = new ArmPacer(settings);
    processPacers.set(key, pacer);
  }
  return pacer;
}

const processPacers = new Map<string, ArmPacer>();

/**
 * Every attempt of a call into a subscription takes a token first, and every answer is
 * observed. Added at position `perRetry`, so the SDK's own retries are paced and each 429 is
 * seen, while the SDK's throttling retry still honours Retry-After for the retried call; the
 * pacer's block is what makes the subscription's other calls wait too.
 */
export function armPacingPolicy(pacer: ArmPacer): PipelinePolicy {
  return {
    name: 'tagwallArmPacing',
    async sendRequest(request: PipelineRequest, next: (request: PipelineRequest) => Promise<PipelineResponse>): Promise<PipelineResponse> {
      const subscriptionId = subscriptionOfUrl(request.url);
      if (subscriptionId === undefined) return next(request);
      const op = operationOf(request.method);
      await pacer.acquire(subscriptionId, op, request.abortSignal);
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (e) {
        // Some SDK generations throw for an answer they deem an error; its headers still count.
        const answered = (e as { response?: PipelineResponse } | null)?.response;
        if (answered !== undefined) pacer.observe(subscriptionId, op, answered.status, answered.headers);
        throw e;
      }
      pacer.observe(subscriptionId, op, response.status, response.headers);
      return response;
    },
  };
}
