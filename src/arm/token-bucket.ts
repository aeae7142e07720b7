/**
 * A token bucket with time passed in, the shape Azure Resource Manager uses to throttle each
 * principal per subscription ("Understand how Azure Resource Manager throttles requests",
 * https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
 * It holds no clock, so the same math drives the live pacer and property tests alike.
 */

export interface BucketRate {
  /** Tokens a full bucket holds: the most calls that may go out at once. */
  readonly burst: number;
  /** Tokens added back each second, up to `burst`. */
  readonly perSecond: number;
}

/**
 * Floating-point refill can leave a bucket a hair under one token at the instant the wait
 * math said it would be full; without this slack the caller would sleep again for ~0 ms.
 */
const SLACK = 1e-9;

export class TokenBucket {
  private tokens: number;
  private at: number;
  private blockedTill = Number.NEGATIVE_INFINITY;

  constructor(
    readonly rate: BucketRate,
    nowMs: number,
  ) {
    if (!(rate.burst >= 1) || !Number.isFinite(rate.burst)) throw new RangeError(`a bucket needs a burst of at least 1 token, not ${rate.burst}`);
    if (!(rate.perSecond > 0) || !Number.isFinite(rate.perSecond)) throw new RangeError(`a bucket needs a positive refill rate, not ${rate.perSecond}`);
    this.tokens = rate.burst;
    this.at = nowMs;
  }

  /** Tokens held at `nowMs`; a time before the last one seen counts as that one, so time never runs back. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** Milliseconds from `nowMs` until one token can be taken: 0 when it can be now. */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    const now = Math.max(nowMs, this.at);
    const blocked = Math.max(0, this.blockedTill - now);
    const short = 1 - this.tokens;
    const refill = short <= SLACK ? 0 : (short * 1000) / this.rate.perSecond;
    // A block adds no tokens of its own, but the bucket keeps refilling under it.
    return Math.max(blocked, refill);
  }

  /** Takes one token when one is there (and the bucket is not blocked); says whether it did. */
  tryTake(nowMs: number): boolean {
    if (this.waitMs(nowMs) > 0) return false;
    this.tokens = Math.max(0, this.tokens - 1);
    return true;
  }

  /**
   * Follows the server's count down, never up: ARM's count also spends other callers' calls
   * (the same principal elsewhere), which this bucket cannot see, while a higher count may be
   * an ARM instance other than the one the next call reaches.
   */
  drainTo(remaining: number, nowMs: number): void {
    if (!Number.isFinite(remaining)) return;
    this.refill(nowMs);
    this.tokens = Math.min(this.tokens, Math.max(0, remaining));
  }

  /** No token is handed out before `untilMs`; an earlier block than one already set changes nothing. */
  blockUntil(untilMs: number): void {
    if (untilMs > this.blockedTill) this.blockedTill = untilMs;
  }

  /** The end of the current block, or undefined when there is none at `nowMs`. */
  blockedUntil(nowMs: number): number | undefined {
    return this.blockedTill > nowMs ? this.blockedTill : undefined;
  }

  private refill(nowMs: number): void {
    if (nowMs <= this.at) return;
    this.tokens = Math.min(this.rate.burst, this.tokens + ((nowMs - this.at) * this.rate.perSecond) / 1000);
    this.at = nowMs;
  }
}
