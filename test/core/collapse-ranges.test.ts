import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collapse, minimumRules } from '../../src/core/collapse.js';
import { collapseRanges, formatRange, minimumRangeRules, type RangeCollapseOptions, type RangeCollapseResult } from '../../src/core/collapse-ranges.js';
import { isTagwallError } from '../../src/core/errors.js';
import type { AddressRange } from '../../src/core/ipv4.js';
import { FORBIDDEN_SPANS, intersect, ip, minus, size, tile, union, type Span } from './reference.js';

// The range optimum checked against searches of its own: every subset of a small universe as
// the allowed set, every subset of gaps at real addresses, and the CIDR DP on the same source.
// Coverage, blocked space and excess are checked with the reference set algebra, never with
// src/core's range math.

const TOP = 2 ** 32 - 1;

const r = (a: string, b = a): AddressRange => ({ start: ip(a), end: ip(b) });
const show = (rules: readonly AddressRange[]) => rules.map(formatRange);

function failure(run: () => unknown): { code: string; values: Record<string, unknown>; message: string } {
  try {
    run();
  } catch (e) {
    if (isTagwallError(e)) return { code: e.code, values: e.values, message: e.message };
    throw e;
  }
  throw new Error('expected a TagwallError');
}

/** What every cover must satisfy, by the reference: source covered, no new range in blocked space, within budget, excess from the union. */
function audit(result: RangeCollapseResult, wanted: readonly Span[], blocked: readonly Span[], maxRules: number, kept: readonly Span[] = []): string[] {
  const problems: string[] = [];
  const isKept = (x: AddressRange) => kept.some((k) => k.start === x.start && k.end === x.end);
  const fresh = result.rules.filter((x) => !isKept(x));
  if (fresh.length !== result.newRules) problems.push(`${fresh.length} new ranges listed, newRules says ${result.newRules}`);
  if (fresh.length > maxRules) problems.push(`${fresh.length} new ranges exceed ${maxRules}`);
  for (let i = 1; i < result.rules.length; i++) {
    const [a, b] = [result.rules[i - 1]!, result.rules[i]!];
    if (a.start > b.start || (a.start === b.start && a.end > b.end)) problems.push('rules are not sorted');
  }
  for (const x of result.rules) if (!(Number.isInteger(x.start) && x.start >= 0 && x.start <= x.end && x.end <= TOP)) problems.push(`bad range ${x.start}-${x.end}`);
  const all = union(result.rules.map((x) => ({ ...x })));
  if (size(minus(wanted, all)) !== 0) problems.push(`${size(minus(wanted, all))} wanted addresses not allowed`);
  const touched = intersect(fresh.map((x) => ({ ...x })), blocked);
  if (touched.length > 0) problems.push(`${size(touched)} blocked addresses in new ranges`);
  if (result.allowedAddresses !== size(all)) problems.push(`allowed ${result.allowedAddresses} != ${size(all)}`);
  if (result.sourceAddresses !== size(wanted)) problems.push(`source ${result.sourceAddresses} != ${size(wanted)}`);
  if (result.excessAddresses !== size(all) - size(wanted)) problems.push(`excess ${result.excessAddresses} != ${size(all) - size(wanted)}`);
  return problems;
}

describe('collapseRanges at its edges', () => {
  const none: Span[] = [];

  it('reaches 0.0.0.0 and 255.255.255.255 without overflowing', () => {
    const low = collapseRanges([r('0.0.0.0'), r('0.0.0.5')], { maxRules: 1, blocked: none });
    expect(show(low.rules)).toEqual(['0.0.0.0-0.0.0.5']);
    expect(low.excessAddresses).toBe(4);
    const high = collapseRanges([r('255.255.255.250'), r('255.255.255.255')], { maxRules: 1, blocked: none });
    expect(show(high.rules)).toEqual(['255.255.255.250-255.255.255.255']);
    expect(high.excessAddresses).toBe(4);
    const all = collapseRanges([r('0.0.0.0'), r('255.255.255.255')], { maxRules: 1, blocked: none });
    expect(all.rules).toEqual([{ start: 0, end: TOP }]);
    expect([all.allowedAddresses, all.excessAddresses]).toEqual([2 ** 32, 2 ** 32 - 2]);
  });

  it('joins adjacent and overlapping source ranges losslessly, in any order', () => {
    const result = collapseRanges([r('20.0.0.10', '20.0.0.20'), r('20.0.0.0', '20.0.0.9'), r('20.0.0.15', '20.0.0.30')], { maxRules: 1, blocked: FORBIDDEN_SPANS });
    expect(show(result.rules)).toEqual(['20.0.0.0-20.0.0.30']);
    expect([result.newRules, result.excessAddresses, result.sourceAddresses]).toEqual([1, 0, 31]);
  });

  it('with K at least n, the source itself: no excess', () => {
    const source = [r('20.0.0.0', '20.0.0.3'), r('20.0.1.0'), r('20.0.2.0', '20.0.2.9')];
    for (const maxRules of [3, 4, 128]) {
      const result = collapseRanges(source, { maxRules, blocked: FORBIDDEN_SPANS });
      expect(result.rules).toEqual(source);
      expect(result.excessAddresses).toBe(0);
    }
  });

  it('with K = 1, the hull; in between, the smallest gaps are bridged', () => {
    // Gaps of 10, 3 and 7 addresses.
    const source = [r('20.0.0.0'), r('20.0.0.11'), r('20.0.0.15'), r('20.0.0.23')];
    const at = (maxRules: number) => collapseRanges(source, { maxRules, blocked: FORBIDDEN_SPANS });
    expect(show(at(1).rules)).toEqual(['20.0.0.0-20.0.0.23']);
    expect(at(1).excessAddresses).toBe(20);
    expect(show(at(3).rules)).toEqual(['20.0.0.0', '20.0.0.11-20.0.0.15', '20.0.0.23']);
    expect(at(3).excessAddresses).toBe(3);
    expect(show(at(2).rules)).toEqual(['20.0.0.0', '20.0.0.11-20.0.0.23']);
    expect(at(2).excessAddresses).toBe(10);
  });

  it('equal gaps: the lower address is bridged, every time', () => {
    const source = [r('20.0.0.0'), r('20.0.0.5'), r('20.0.0.10')];
    const result = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS });
    expect(show(result.rules)).toEqual(['20.0.0.0-20.0.0.5', '20.0.0.10']);
    expect(collapseRanges([...source].reverse(), { maxRules: 2, blocked: FORBIDDEN_SPANS })).toEqual(result);
  });

  it('never bridges a gap holding forbidden space: the range is split around it, however cheap', () => {
    // 10.0.0.0/8 lies between the first two; the third gap is 2^24 addresses but public.
    const source = [r('9.255.255.255'), r('11.0.0.0'), r('12.0.0.0')];
    const result = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS });
    expect(show(result.rules)).toEqual(['9.255.255.255', '11.0.0.0-12.0.0.0']);
    expect(result.excessAddresses).toBe(2 ** 24 - 1);
    const refused = failure(() => collapseRanges(source, { maxRules: 1, blocked: FORBIDDEN_SPANS }));
    expect(refused.code).toBe('COLLAPSE_INFEASIBLE');
    expect(refused.values).toEqual({ budget: 1, neededRules: 2 });
    expect(refused.message).toContain('the smallest budget that works is 2');
    expect(minimumRangeRules(source, { blocked: FORBIDDEN_SPANS })).toBe(2);
  });

  it('excluded space blocks a gap like forbidden space', () => {
    const source = [r('20.0.0.0'), r('20.0.0.9'), r('20.0.0.200')];
    const blocked = union([...FORBIDDEN_SPANS, { start: ip('20.0.0.4'), end: ip('20.0.0.4') }]);
    const result = collapseRanges(source, { maxRules: 2, blocked });
    expect(show(result.rules)).toEqual(['20.0.0.0', '20.0.0.9-20.0.0.200']);
  });

  it('refuses a source that touches blocked space, and a bad budget', () => {
    expect(failure(() => collapseRanges([r('9.255.255.255', '10.0.0.0')], { maxRules: 1, blocked: FORBIDDEN_SPANS })).code).toBe('COLLAPSE_INPUT');
    expect(failure(() => collapseRanges([r('20.0.0.0')], { maxRules: -1, blocked: [] })).code).toBe('COLLAPSE_INPUT');
    expect(failure(() => collapseRanges([r('20.0.0.0')], { maxRules: 1.5, blocked: [] })).code).toBe('COLLAPSE_INPUT');
    expect(failure(() => collapseRanges([{ start: 5, end: 4 }], { maxRules: 1, blocked: [] })).code).toBe('COLLAPSE_INPUT');
    expect(failure(() => collapseRanges([{ start: 0, end: 2 ** 32 }], { maxRules: 1, blocked: [] })).code).toBe('COLLAPSE_INPUT');
    expect(failure(() => collapseRanges([r('20.0.0.0')], { maxRules: 1, blocked: [], maxWidenedPrefix: 33 })).code).toBe('COLLAPSE_INPUT');
  });

  it('an empty source needs nothing', () => {
    expect(collapseRanges([], { maxRules: 0, blocked: FORBIDDEN_SPANS })).toEqual({ rules: [], newRules: 0, sourceAddresses: 0, allowedAddresses: 0, excessAddresses: 0, weightedExcess: 0 });
  });
});

describe('collapseRanges beside kept ranges', () => {
  it('a source inside a kept range needs no new range; the kept range is listed and its excess counted', () => {
    const kept = [r('20.0.0.0', '20.0.0.255')];
    const result = collapseRanges([r('20.0.0.10', '20.0.0.19')], { maxRules: 0, blocked: FORBIDDEN_SPANS, kept });
    expect(result.rules).toEqual(kept);
    expect([result.newRules, result.excessAddresses]).toEqual([0, 246]);
  });

  it('a gap a kept range covers costs nothing and is bridged even when the budget would allow more ranges', () => {
    // The kept range fills the gap between the two source ranges exactly.
    const kept = [r('20.0.0.10', '20.0.0.19')];
    const source = [r('20.0.0.0', '20.0.0.9'), r('20.0.0.20', '20.0.0.29')];
    const result = collapseRanges(source, { maxRules: 5, blocked: FORBIDDEN_SPANS, kept });
    // Holding no source address, that kept range takes no part: the gap costs its 10 addresses.
    expect(show(result.rules)).toEqual(['20.0.0.0-20.0.0.9', '20.0.0.20-20.0.0.29']);
    const touching = [r('20.0.0.5', '20.0.0.24')];
    const bridged = collapseRanges(source, { maxRules: 5, blocked: FORBIDDEN_SPANS, kept: touching });
    expect(show(bridged.rules)).toEqual(['20.0.0.0-20.0.0.29', '20.0.0.5-20.0.0.24']);
    expect([bridged.newRules, bridged.excessAddresses]).toEqual([1, 10]);
  });

  it('a kept range across forbidden space never lets a new range across it', () => {
    const kept = [r('9.255.255.255', '11.0.0.0')];
    const source = [r('9.255.255.200'), r('9.255.255.255'), r('11.0.0.0'), r('11.0.0.50')];
    const refused = failure(() => collapseRanges(source, { maxRules: 1, blocked: FORBIDDEN_SPANS, kept }));
    expect(refused.values).toEqual({ budget: 1, neededRules: 2 });
    const result = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS, kept });
    expect(show(result.rules)).toEqual(['9.255.255.200', '9.255.255.255-11.0.0.0', '11.0.0.50']);
    expect(result.newRules).toBe(2);
  });
});

describe('collapseRanges under the widening bound and weights', () => {
  it('no new range admits 2^(32−N) excess addresses; the refusal names both budgets', () => {
    // Gaps of 3 and 4 addresses; under /30 a range may admit at most 3.
    const source = [r('20.0.0.0'), r('20.0.0.4'), r('20.0.0.9')];
    const result = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS, maxWidenedPrefix: 30 });
    expect(show(result.rules)).toEqual(['20.0.0.0-20.0.0.4', '20.0.0.9']);
    const refused = failure(() => collapseRanges(source, { maxRules: 1, blocked: FORBIDDEN_SPANS, maxWidenedPrefix: 30 }));
    expect(refused.values).toEqual({ budget: 1, neededRules: 2, maxWidenedPrefix: 30, neededRulesWithoutBound: 1 });
    // /32 allows no widening at all.
    expect(minimumRangeRules(source, { blocked: FORBIDDEN_SPANS, maxWidenedPrefix: 32 })).toBe(3);
  });

  it('under the bound the cheapest gaps are not always the answer: two cheap neighbours may not share a range', () => {
    // Gaps of 2, 2 and 3 addresses; under /30 (at most 3 excess per range) the two 2s cannot join.
    const source = [r('20.0.0.0'), r('20.0.0.3'), r('20.0.0.6'), r('20.0.0.10')];
    const result = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS, maxWidenedPrefix: 30 });
    expect(show(result.rules)).toEqual(['20.0.0.0-20.0.0.3', '20.0.0.6-20.0.0.10']);
    expect(result.excessAddresses).toBe(5);
    expect(collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS }).excessAddresses).toBe(4);
  });

  it('the bound is on excess, not span: a wide source range under it stays one rule', () => {
    const source = [r('20.0.0.0', '20.15.255.255'), r('20.16.0.1')];
    const result = collapseRanges(source, { maxRules: 1, blocked: FORBIDDEN_SPANS, maxWidenedPrefix: 31 });
    expect(show(result.rules)).toEqual(['20.0.0.0-20.16.0.1']);
    expect(result.excessAddresses).toBe(1);
  });

  it('weights: a larger gap inside Azure is bridged rather than a smaller one outside it', () => {
    const source = [r('20.0.0.0'), r('20.0.0.4'), r('20.0.0.15')];
    const inside = [r('20.0.0.5', '20.0.0.14')];
    const plain = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS });
    expect(show(plain.rules)).toEqual(['20.0.0.0-20.0.0.4', '20.0.0.15']);
    const weighted = collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS, weights: { inside, outsideWeight: 4 } });
    expect(show(weighted.rules)).toEqual(['20.0.0.0', '20.0.0.4-20.0.0.15']);
    expect([weighted.excessAddresses, weighted.weightedExcess]).toEqual([10, 10]);
    expect(collapseRanges(source, { maxRules: 2, blocked: FORBIDDEN_SPANS, weights: { inside, outsideWeight: 2 } }).weightedExcess).toBe(6);
  });
});

/**
 * A small world: a universe of U addresses at `lo`, everything outside it blocked. `mark[x]` is
 * 's' (source), 'b' (blocked) or '.' for each offset.
 */
interface World {
  lo: number;
  mark: string[];
  extraBlocked: Span[];
  maxRules: number;
  kept: Span[];
  /** maxWidenedPrefix, 0 for none. */
  bound: number;
  inside?: boolean[];
  weight: number;
}

function blockedOf(w: World): Span[] {
  const hi = w.lo + w.mark.length - 1;
  return union([
    ...(w.lo > 0 ? [{ start: 0, end: w.lo - 1 }] : []),
    ...(hi < TOP ? [{ start: hi + 1, end: TOP }] : []),
    ...w.extraBlocked,
    ...w.mark.flatMap((m, i) => (m === 'b' ? [{ start: w.lo + i, end: w.lo + i }] : [])),
  ]);
}

function sourceOf(w: World): Span[] {
  return union(w.mark.flatMap((m, i) => (m === 's' ? [{ start: w.lo + i, end: w.lo + i }] : [])));
}

function optionsOf(w: World): RangeCollapseOptions {
  return {
    maxRules: w.maxRules,
    blocked: blockedOf(w),
    kept: w.kept,
    maxWidenedPrefix: w.bound,
    ...(w.inside === undefined ? {} : { weights: { inside: union(w.inside.flatMap((on, i) => (on ? [{ start: w.lo + i, end: w.lo + i }] : []))), outsideWeight: w.weight } }),
  };
}

/**
 * The optimum by brute force: every set N of addresses the new ranges could allow (each subset
 * of the universe that holds every source address no kept range holds, and no blocked one).
 * What N costs is its weighted excess beside the kept ranges that hold a source address; how
 * many ranges it takes is, per maximal run of N, the fewest sub-ranges covering the run that
 * each admit at most `cap` excess addresses (ranges may touch: the search allows it). Returns
 * the least cost and, at that cost, the fewest ranges; and the fewest ranges over every N.
 */
function bruteForce(w: World): { best?: { cost: number; ranges: number }; fewest: number } {
  const U = w.mark.length;
  const blocked = blockedOf(w);
  const isBlocked = (a: number) => blocked.some((b) => b.start <= a && a <= b.end);
  const inS = w.mark.map((m) => m === 's');
  const relevant = w.kept.filter((k) => inS.some((s, i) => s && k.start <= w.lo + i && w.lo + i <= k.end));
  const inF = w.mark.map((_, i) => relevant.some((k) => k.start <= w.lo + i && w.lo + i <= k.end));
  const weightOf = (i: number) => (w.inside === undefined || w.inside[i] ? 1 : w.weight);
  const cap = w.bound === 0 ? Infinity : 2 ** (32 - w.bound) - 1;
  let fixed = 0;
  for (let i = 0; i < U; i++) if (inF[i] && !inS[i]) fixed += weightOf(i);
  // Kept ranges reach no further than the universe here.
  let required = 0;
  let free = 0;
  for (let i = 0; i < U; i++) {
    if (inS[i] && !inF[i]) required |= 1 << i;
    else if (!isBlocked(w.lo + i)) free |= 1 << i;
  }
  let best: { cost: number; ranges: number } | undefined;
  let fewest = Infinity;
  for (let sub = free; ; sub = (sub - 1) & free) {
    const n = required | sub;
    let cost = fixed;
    let ranges = 0;
    let i = 0;
    while (i < U) {
      if (!(n & (1 << i))) {
        i++;
        continue;
      }
      // A run from i: cover it greedily with sub-ranges of at most `cap` excess each.
      let j = i;
      while (j < U && n & (1 << j)) j++;
      let at = i;
      while (at < j && ranges !== Infinity) {
        let excess = 0;
        let end = at;
        while (end < j) {
          const e = !inS[end] && !inF[end] ? 1 : 0;
          if (excess + e > cap) break;
          excess += e;
          end++;
        }
        if (end === at) ranges = Infinity;
        else {
          ranges++;
          at = end;
        }
      }
      for (let x = i; x < j; x++) if (!inS[x] && !inF[x]) cost += weightOf(x);
      i = j;
    }
    if (ranges < fewest) fewest = ranges;
    if (ranges <= w.maxRules && (best === undefined || cost < best.cost || (cost === best.cost && ranges < best.ranges))) best = { cost, ranges };
    if (sub === 0) break;
  }
  return { ...(best === undefined ? {} : { best }), fewest };
}

function checkWorld(w: World): void {
  const { best, fewest } = bruteForce(w);
  const options = optionsOf(w);
  const source = sourceOf(w);
  expect(minimumRangeRules(source, options)).toBe(fewest);
  if (best === undefined) {
    const refused = failure(() => collapseRanges(source, options));
    expect(refused.code).toBe('COLLAPSE_INFEASIBLE');
    expect(refused.values.neededRules).toBe(fewest);
    return;
  }
  const result = collapseRanges(source, options);
  expect(audit(result, source, options.blocked, w.maxRules, w.kept)).toEqual([]);
  expect(result.weightedExcess).toBe(best.cost);
  if (w.inside === undefined) expect(result.excessAddresses).toBe(best.cost);
  expect(result.newRules).toBe(best.ranges);
}

describe('collapseRanges against exhaustive search', () => {
  it('every source and blocked pattern of a 7-address universe, at 0.0.0.0, in the middle and at 255.255.255.255, budgets 1-3', () => {
    let cases = 0;
    for (let code = 0; code < 3 ** 7; code++) {
      const mark: string[] = [];
      for (let i = 0, c = code; i < 7; i++, c = Math.floor(c / 3)) mark.push(['.', 's', 'b'][c % 3]!);
      const lo = [0, ip('20.0.0.0'), TOP - 6][code % 3]!;
      for (const maxRules of [1, 2, 3]) {
        checkWorld({ lo, mark, extraBlocked: [], maxRules, kept: [], bound: 0, weight: 1 });
        cases++;
      }
    }
    expect(cases).toBe(6561);
  });

  const worlds: fc.Arbitrary<World> = fc.integer({ min: 6, max: 12 }).chain((U) =>
    fc.record({
      lo: fc.oneof(
        fc.constantFrom(0, TOP - U + 1),
        fc.integer({ min: 0, max: TOP - U + 1 }),
        // Straddling the edges of forbidden space, with the real forbidden list blocked too.
        fc.tuple(fc.constantFrom(ip('10.0.0.0'), ip('11.0.0.0'), ip('100.64.0.0'), ip('224.0.0.0')), fc.integer({ min: -U + 1, max: 0 })).map(([e, s]) => e + s),
      ),
      mark: fc.array(fc.constantFrom('.', '.', 's', 's', 's', 'b'), { minLength: U, maxLength: U }),
      forbidden: fc.boolean(),
      maxRules: fc.integer({ min: 0, max: 4 }),
      keptPicks: fc.array(fc.tuple(fc.nat(U - 1), fc.nat(U - 1)), { maxLength: 3 }),
      bound: fc.oneof(fc.constant(0), fc.integer({ min: 29, max: 32 })),
      inside: fc.option(fc.array(fc.boolean(), { minLength: U, maxLength: U }), { freq: 2 }),
      weight: fc.integer({ min: 1, max: 9 }),
    }).map(({ lo, mark, forbidden, maxRules, keptPicks, bound, inside, weight }): World => {
      const blockedByList = forbidden ? FORBIDDEN_SPANS : [];
      // A source address in forbidden space would break the contract; it becomes blocked instead.
      const m = mark.map((x, i) => (x === 's' && blockedByList.some((b) => b.start <= lo + i && lo + i <= b.end) ? 'b' : x));
      const kept = keptPicks.map(([a, b]) => ({ start: lo + Math.min(a, b), end: lo + Math.max(a, b) }));
      return { lo, mark: m, extraBlocked: [...blockedByList], maxRules, kept, bound, ...(inside === null ? {} : { inside }), weight };
    }),
  );

  it('beside kept ranges, under a widening bound and with weights: the least (weighted) excess, its fewest ranges, or the smallest budget that works', () => {
    let feasible = 0;
    let bounded = 0;
    let withKept = 0;
    fc.assert(
      fc.property(worlds, (w) => {
        checkWorld(w);
        if (bruteForce(w).best !== undefined) feasible++;
        if (w.bound !== 0) bounded++;
        if (w.kept.length > 0) withKept++;
      }),
      { numRuns: 3000 },
    );
    // The generator reaches every kind of case often enough to mean something.
    expect(Math.min(feasible, bounded, withKept)).toBeGreaterThan(300);
  });
});

/** A source at real addresses: a few CIDR blocks around a base, so gaps are large and may cross forbidden space. */
const realSources = fc
  .record({
    base: fc.constantFrom(ip('9.255.0.0'), ip('20.0.0.0'), ip('100.63.0.0'), ip('172.15.0.0'), ip('223.255.0.0'), ip('52.0.0.0')),
    blocks: fc.array(fc.tuple(fc.nat(2 ** 18), fc.integer({ min: 20, max: 32 })), { minLength: 1, maxLength: 11 }),
    excluded: fc.array(fc.tuple(fc.nat(2 ** 18), fc.nat(2 ** 12)), { maxLength: 2 }),
    maxRules: fc.integer({ min: 1, max: 12 }),
  })
  .map(({ base, blocks, excluded, maxRules }) => {
    const blocked = union([...FORBIDDEN_SPANS, ...excluded.map(([o, n]) => ({ start: base + o, end: base + o + n }))]);
    const spans = blocks.map(([o, len]) => {
      const size = 2 ** (32 - len);
      const start = base + o - ((base + o) % size);
      return { start, end: start + size - 1 };
    });
    const source = minus(spans, blocked);
    return { source, blocked, maxRules };
  })
  .filter((w) => w.source.length > 0);

describe('collapseRanges at real addresses', () => {
  /** Source ranges with gaps of 1-8 addresses and a budget a few short of them, so a bound of a few addresses binds; some gaps cross excluded space. */
  const tightSources = fc
    .record({
      base: fc.constantFrom(ip('20.0.0.0'), ip('100.63.255.128'), ip('223.255.255.160'), ip('255.255.255.255') - 1200),
      pieces: fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 })), { minLength: 4, maxLength: 11 }),
      excluded: fc.array(fc.nat(1200), { maxLength: 2 }),
      short: fc.integer({ min: 2, max: 5 }),
    })
    .map(({ base, pieces, excluded, short }) => {
      const blocked = union([...FORBIDDEN_SPANS, ...excluded.map((o) => ({ start: base + o, end: base + o }))]);
      let at = base;
      const spans: Span[] = [];
      for (const [length, gap] of pieces) {
        spans.push({ start: at, end: Math.min(TOP, at + length - 1) });
        at = Math.min(TOP, at + length + gap);
      }
      const source = minus(spans, blocked);
      return { source, blocked, maxRules: Math.max(1, source.length - short) };
    })
    .filter((w) => w.source.length > 0 && w.source.length <= 12);

  it('under a widening bound and weights, against every subset of gaps whose bridged runs stay within the bound', () => {
    let binding = 0;
    fc.assert(
      fc.property(tightSources, fc.oneof(fc.integer({ min: 28, max: 30 }), fc.integer({ min: 27, max: 32 })), fc.option(fc.integer({ min: 1, max: 9 })), ({ source, blocked, maxRules }, bound, weight) => {
        const cap = 2 ** (32 - bound) - 1;
        const gaps = source.slice(1).map((s, i) => ({ start: source[i]!.end + 1, end: s.start - 1 }));
        // "Azure" is every other 8-address block.
        const lo = source[0]!.start;
        const inside = union(Array.from({ length: 200 }, (_, i) => ({ start: lo + 16 * i, end: Math.min(TOP, lo + 16 * i + 7) })));
        const sizes = gaps.map((g) => size([g]));
        const costs = gaps.map((g) => (weight === null ? size([g]) : size(intersect([g], inside)) + weight * size(minus([g], inside))));
        const bridgeable = gaps.map((g) => intersect([g], blocked).length === 0);
        let best = Infinity;
        let fewest = Infinity;
        for (let set = 0; set < 2 ** gaps.length; set++) {
          let cost = 0;
          let run = 0;
          let ok = true;
          let bridged = 0;
          for (let t = 0; t < gaps.length && ok; t++) {
            if (!(set & (1 << t))) {
              run = 0;
              continue;
            }
            run += sizes[t]!;
            if (!bridgeable[t] || run > cap) ok = false;
            cost += costs[t]!;
            bridged++;
          }
          if (!ok) continue;
          fewest = Math.min(fewest, source.length - bridged);
          if (source.length - bridged <= maxRules) best = Math.min(best, cost);
        }
        const options: RangeCollapseOptions = { maxRules, blocked, maxWidenedPrefix: bound, ...(weight === null ? {} : { weights: { inside, outsideWeight: weight } }) };
        if (best === Infinity) {
          expect(failure(() => collapseRanges(source, options)).values.neededRules).toBe(fewest);
          return;
        }
        const result = collapseRanges(source, options);
        expect(audit(result, source, blocked, maxRules)).toEqual([]);
        expect(result.weightedExcess).toBe(best);
        for (const x of result.rules) expect(size(minus([{ ...x }], source)), formatRange(x)).toBeLessThanOrEqual(cap);
        const free = collapseRanges(source, { ...options, maxWidenedPrefix: 0 });
        if (free.weightedExcess < best) binding++;
      }),
      { numRuns: 4000 },
    );
    // The bound changed the answer in enough cases to tell a DP from a greedy.
    expect(binding).toBeGreaterThan(100);
  });

  it('against every subset of gaps: the least excess, covering the source, clear of blocked space, within budget', () => {
    fc.assert(
      fc.property(realSources, ({ source, blocked, maxRules }) => {
        const gaps = source.slice(1).map((s, i) => ({ start: source[i]!.end + 1, end: s.start - 1 }));
        const bridgeable = gaps.map((g) => intersect([g], blocked).length === 0);
        let best = Infinity;
        let fewest = Infinity;
        for (let set = 0; set < 2 ** gaps.length; set++) {
          let cost = 0;
          let bridged = 0;
          let ok = true;
          gaps.forEach((g, t) => {
            if (!(set & (1 << t))) return;
            if (!bridgeable[t]) ok = false;
            cost += g.end - g.start + 1;
            bridged++;
          });
          if (!ok) continue;
          fewest = Math.min(fewest, source.length - bridged);
          if (source.length - bridged <= maxRules) best = Math.min(best, cost);
        }
        if (best === Infinity) {
          expect(failure(() => collapseRanges(source, { maxRules, blocked })).values.neededRules).toBe(fewest);
          return;
        }
        const result = collapseRanges(source, { maxRules, blocked });
        expect(audit(result, source, blocked, maxRules)).toEqual([]);
        expect(result.excessAddresses).toBe(best);
        // The same addresses, however given, give the same rules.
        const pieces = source.flatMap((s) => (s.end > s.start ? [{ start: s.start, end: s.start }, { start: s.start + 1, end: s.end }] : [s])).reverse();
        expect(collapseRanges(pieces, { maxRules, blocked })).toEqual(result);
      }),
      { numRuns: 1500 },
    );
  });

  it('the CIDR DP never admits less than the range optimum on the same source (ranges are at least as expressive)', () => {
    let compared = 0;
    fc.assert(
      fc.property(realSources, fc.oneof(fc.constant(0), fc.integer({ min: 8, max: 24 })), fc.option(fc.integer({ min: 1, max: 16 })), (w, bound, weight) => {
        const cidrs = tile(w.source);
        const weights = weight === null ? undefined : { inside: union(w.source.map((s) => ({ start: s.start, end: Math.min(s.end + 4096, TOP) }))), outsideWeight: weight };
        const common = { blocked: w.blocked, maxWidenedPrefix: bound, ...(weights === undefined ? {} : { weights }) };
        expect(minimumRangeRules(w.source, common)).toBeLessThanOrEqual(minimumRules(cidrs, { split31: false, ...common }));
        let cidr;
        try {
          cidr = collapse(cidrs, { maxRules: w.maxRules, split31: false, ...common });
        } catch (e) {
          if (isTagwallError(e, 'COLLAPSE_INFEASIBLE')) return;
          throw e;
        }
        const ranges = collapseRanges(w.source, { maxRules: w.maxRules, ...common });
        expect(ranges.weightedExcess).toBeLessThanOrEqual(cidr.weightedExcess);
        if (weights === undefined) expect(ranges.excessAddresses).toBeLessThanOrEqual(cidr.excessAddresses);
        compared++;
      }),
      { numRuns: 1000 },
    );
    expect(compared).toBeGreaterThan(300);
  });
});
