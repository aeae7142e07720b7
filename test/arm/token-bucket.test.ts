import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/arm/token-bucket.js';

// The bucket's math, with time passed in: what it grants over any interval, and how long it makes a caller wait.

const rate = fc.record({ burst: fc.integer({ min: 1, max: 300 }), perSecond: fc.integer({ min: 1, max: 50 }) });
/** Gaps between attempts, in ms: many at the same instant, some long enough to refill. */
const gaps = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5_000 })), { minLength: 1, maxLength: 400 });

describe('TokenBucket', () => {
  it('never grants more than burst + rate × elapsed over any interval', () => {
    fc.assert(
      fc.property(rate, gaps, (r, steps) => {
        const bucket = new TokenBucket(r, 0);
        const granted: number[] = [];
        let t = 0;
        for (const gap of steps) {
          t += gap;
          if (bucket.tryTake(t)) granted.push(t);
        }
        // Every window [granted[i], granted[j]] holds j - i + 1 grants.
        for (let i = 0; i < granted.length; i++) {
          for (let j = i; j < granted.length; j++) {
            const bound = r.burst + (r.perSecond * (granted[j]! - granted[i]!)) / 1000;
            if (j - i + 1 > bound + 1e-6) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('makes a caller wait exactly until the next token: none one ms early, one at the wait', () => {
    fc.assert(
      fc.property(rate, gaps, (r, steps) => {
        const bucket = new TokenBucket(r, 0);
        let t = 0;
        for (const gap of steps) {
          t += gap;
          bucket.tryTake(t);
        }
        const wait = bucket.waitMs(t);
        if (wait === 0) return bucket.available(t) >= 1 - 1e-9;
        const early = Math.max(t, t + wait - 1);
        const before = bucket.available(early);
        const ok = before < 1 && bucket.tryTake(t + wait);
        return ok && wait <= (1000 / r.perSecond) + 1e-6;
      }),
      { numRuns: 300 },
    );
  });

  it('a full bucket hands out its burst at once, then one token per 1/rate', () => {
    const bucket = new TokenBucket({ burst: 5, perSecond: 10 }, 1_000);
    let granted = 0;
    while (bucket.tryTake(1_000)) granted++;
    expect(granted).toBe(5);
    expect(bucket.waitMs(1_000)).toBeCloseTo(100, 6);
    expect(bucket.tryTake(1_099)).toBe(false);
    expect(bucket.tryTake(1_100)).toBe(true);
  });

  it('drainTo follows a lower remaining count and ignores a higher one', () => {
    const bucket = new TokenBucket({ burst: 100, perSecond: 10 }, 0);
    bucket.drainTo(3, 0);
    expect(bucket.available(0)).toBe(3);
    bucket.drainTo(50, 0);
    expect(bucket.available(0)).toBe(3);
    // Refill carries on from the drained count.
    expect(bucket.available(500)).toBeCloseTo(8, 9);
    bucket.drainTo(0, 500);
    expect(bucket.waitMs(500)).toBeCloseTo(100, 6);
  });

  it('a block holds every token until it ends, whatever the bucket holds; only a later block extends it', () => {
    const bucket = new TokenBucket({ burst: 10, perSecond: 10 }, 0);
    bucket.blockUntil(2_000);
    bucket.blockUntil(1_000);
    expect(bucket.blockedUntil(0)).toBe(2_000);
    expect(bucket.waitMs(500)).toBe(1_500);
    expect(bucket.tryTake(1_999)).toBe(false);
    expect(bucket.tryTake(2_000)).toBe(true);
    expect(bucket.blockedUntil(2_000)).toBeUndefined();
  });

  it('a block and an empty bucket: the wait is the later of the two', () => {
    fc.assert(
      fc.property(rate, fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (r, block, now) => {
        const bucket = new TokenBucket(r, 0);
        bucket.drainTo(0, 0);
        bucket.blockUntil(block);
        const refill = Math.max(0, 1000 / r.perSecond - now);
        const expected = Math.max(block - now, now >= 1000 / r.perSecond ? 0 : refill, 0);
        return Math.abs(bucket.waitMs(now) - expected) < 1e-6;
      }),
    );
  });

  it('refuses a bucket that could never grant a token', () => {
    expect(() => new TokenBucket({ burst: 0, perSecond: 1 }, 0)).toThrow(RangeError);
    expect(() => new TokenBucket({ burst: 1, perSecond: 0 }, 0)).toThrow(RangeError);
  });
});
