import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collapse, type CollapseOptions } from '../../src/core/collapse.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { formatCidr, type Cidr } from '../../src/core/ipv4.js';
import { auditRules, blockSpan, ip, tile, union, type Span } from './reference.js';

const TOP = 2 ** 32 - 1;

/**
 * Least churn against an exhaustive search of its own: every set of disjoint blocks that covers a
 * small world's sources, clear of blocked space, within the budget. The chosen cover must have the
 * least (weighted) excess, and among those the fewest changes against `prefer` (rules added that
 * were neither kept nor preferred, plus preferred rules left out).
 */
interface World {
  lo: number;
  hi: number;
  source: number[];
  blocked: Span[];
  split31: boolean;
  maxRules: number;
  input: Cidr[];
  kept: Span[];
  prefer: Span[];
  bound: number;
  inside?: Span[];
  weight?: number;
}

const sizeOf = (s: Span) => s.end - s.start + 1;
const lengthOf = (s: Span) => 32 - Math.log2(sizeOf(s));
const asCidr = (s: Span): Cidr => ({ base: s.start, length: lengthOf(s) });
const same = (a: Span, b: Span) => a.start === b.start && a.end === b.end;
const isBlocked = (blocked: readonly Span[], a: number) => blocked.some((b) => b.start <= a && a <= b.end);

function clear(w: Pick<World, 'blocked'>, b: Span): boolean {
  for (let x = b.start; x <= b.end; x++) if (isBlocked(w.blocked, x)) return false;
  return true;
}

/** A block around address `a` of 2^up addresses, inside the universe. */
function around(w: Pick<World, 'lo' | 'hi'>, a: number, up: number): Span | undefined {
  const size = 2 ** up;
  const start = a - (a % size);
  const b = { start, end: start + size - 1 };
  return b.start < w.lo || b.end > w.hi ? undefined : b;
}

function world(): fc.Arbitrary<World> {
  return fc
    .record({
      bits: fc.integer({ min: 4, max: 5 }),
      slot: fc.integer({ min: 0, max: 1000 }),
      shift: fc.integer({ min: 0, max: 31 }),
      offsets: fc.oneof(
        fc.uniqueArray(fc.nat(31), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(31), fc.nat(9)), { minLength: 1, maxLength: 3 }).map((r) => r.flatMap(([a, n]) => Array.from({ length: n + 1 }, (_, i) => a + i))),
      ),
      holes: fc.array(fc.tuple(fc.nat(31), fc.nat(2)), { maxLength: 2 }),
      split31: fc.boolean(),
      maxRules: fc.integer({ min: 0, max: 5 }),
      keptPicks: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 })), { maxLength: 3 }),
      preferPicks: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 7 }),
      // Last week: the source with a few addresses toggled, and a budget near this week's.
      lastWeek: fc.option(fc.tuple(fc.uniqueArray(fc.nat(31), { maxLength: 3 }), fc.integer({ min: 1, max: 5 })), { freq: 3, nil: undefined }),
      bound: fc.oneof(fc.constant(0), fc.integer({ min: 28, max: 31 })),
      inside: fc.option(fc.tuple(fc.nat(31), fc.nat(15)), { freq: 3 }),
      weight: fc.integer({ min: 2, max: 9 }),
    })
    .map((r) => {
      const U = 2 ** r.bits;
      // Aligned universes and ones straddling an alignment boundary, in public space.
      const lo = ip('20.0.0.0') + r.slot * 64 + (r.shift % 2 === 0 ? 0 : r.shift);
      const hi = lo + U - 1;
      const blocked = union([
        { start: 0, end: lo - 1 },
        { start: hi + 1, end: TOP },
        ...r.holes.map(([o, n]) => ({ start: lo + (o % U), end: Math.min(hi, lo + (o % U) + n) })),
      ]);
      const source = [...new Set(r.offsets.map((o) => lo + (o % U)))].filter((a) => !isBlocked(blocked, a)).sort((a, b) => a - b);
      const w = { lo, hi, blocked };
      const pick = ([n, up]: [number, number]): Span | undefined => {
        // Mostly blocks around a source address (so they can matter), sometimes anywhere.
        const a = source.length > 0 && n % 4 !== 0 ? source[n % source.length]! : lo + (n % U);
        return around(w, a, up);
      };
      const kept: Span[] = [];
      for (const p of r.keptPicks) {
        const b = pick(p);
        if (b !== undefined && clear(w, b) && !(r.split31 && sizeOf(b) === 2) && !kept.some((k) => same(k, b))) kept.push(b);
      }
      // Preferred rules may lie across blocked space now (an exclusion added since they were written).
      const prefer: Span[] = [];
      for (const p of r.preferPicks) {
        const b = pick(p);
        if (b !== undefined && !(r.split31 && sizeOf(b) === 2) && !prefer.some((k) => same(k, b))) prefer.push(b);
      }
      if (r.lastWeek !== undefined) {
        // What last week's cover would have been: a plausible set of rules the firewall owns now.
        const [toggled, budget] = r.lastWeek;
        const before = new Set(source);
        for (const o of toggled) {
          const a = lo + (o % U);
          if (before.has(a)) before.delete(a);
          else before.add(a);
        }
        const outside = union([{ start: 0, end: lo - 1 }, { start: hi + 1, end: TOP }]);
        const old = [...before].sort((a, b) => a - b);
        try {
          const rules = old.length === 0 ? [] : collapse(tile(old.map((a) => ({ start: a, end: a }))), { maxRules: budget, split31: r.split31, blocked: outside }).rules;
          // Half the time with the random picks beside it (rules from weeks before, or a person's).
          if (toggled.length % 2 === 0) prefer.length = 0;
          for (const c of rules) if (!prefer.some((p) => same(p, blockSpan(c)))) prefer.push(blockSpan(c));
        } catch {
          // No cover of last week's source in that budget: keep the random picks.
        }
      }
      // Now and then a preferred rule that is also kept: it must count as kept.
      if (kept.length > 0 && r.slot % 5 === 0) prefer.push(kept[0]!);
      return {
        lo,
        hi,
        source,
        blocked,
        split31: r.split31,
        maxRules: r.maxRules,
        input: tile(source.map((a) => ({ start: a, end: a }))),
        kept,
        prefer,
        bound: r.bound,
        ...(r.inside === null ? {} : { inside: [{ start: lo + r.inside[0], end: Math.min(hi, lo + r.inside[0] + r.inside[1]) }], weight: r.weight }),
      };
    });
}

/** Every allowed block holding address `a`, widest last. */
function blocksHolding(w: World, a: number): Span[] {
  const out: Span[] = [];
  for (let up = 0; up <= 5; up++) {
    const b = around(w, a, up);
    if (b === undefined || !clear(w, b)) continue;
    if (w.split31 && up === 1) continue;
    out.push(b);
  }
  return out;
}

function excessOf(w: World, cover: readonly Span[]): number {
  const sources = new Set(w.source);
  let cost = 0;
  for (const b of cover) {
    for (let x = b.start; x <= b.end; x++) {
      if (sources.has(x)) continue;
      cost += w.inside === undefined || w.inside.some((s) => s.start <= x && x <= s.end) ? 1 : w.weight!;
    }
  }
  return cost;
}

/** The test's own count: rules added that were neither kept nor preferred, plus preferred (not kept) rules left out. */
function changesOf(w: World, cover: readonly Span[]): number {
  const isKept = (b: Span) => w.kept.some((k) => same(k, b));
  const prefer = w.prefer.filter((p) => !isKept(p));
  const added = cover.filter((b) => !isKept(b) && !prefer.some((p) => same(p, b))).length;
  const dropped = prefer.filter((p) => !cover.some((b) => same(b, p))).length;
  return added + dropped;
}

/** Every disjoint cover within the budget, as its (excess, changes). */
function everyCover(w: World): { excess: number; changes: number }[] {
  const all: { excess: number; changes: number }[] = [];
  const chosen: Span[] = [];
  const search = (budget: number) => {
    const next = w.source.find((a) => !chosen.some((b) => b.start <= a && a <= b.end));
    if (next === undefined) {
      all.push({ excess: excessOf(w, chosen), changes: changesOf(w, chosen) });
      return;
    }
    for (const b of blocksHolding(w, next)) {
      // Disjoint: a block holding an uncovered address overlaps a chosen one only by holding it.
      if (chosen.some((c) => b.start <= c.start && c.end <= b.end)) continue;
      const kept = w.kept.some((k) => same(k, b));
      if (!kept && w.bound > 0 && lengthOf(b) < w.bound && w.source.filter((a) => b.start <= a && a <= b.end).length < sizeOf(b)) continue;
      if (!kept && budget === 0) continue;
      chosen.push(b);
      search(budget - (kept ? 0 : 1));
      chosen.pop();
    }
  };
  search(w.maxRules);
  return all;
}

/** Least (excess, changes) over every disjoint cover within the budget; undefined when none fits. */
function bestCover(w: World): { excess: number; changes: number } | undefined {
  let best: { excess: number; changes: number } | undefined;
  for (const c of everyCover(w)) if (best === undefined || c.excess < best.excess || (c.excess === best.excess && c.changes < best.changes)) best = c;
  return best;
}

/** Of the covers within `tolerance` of the least excess, the fewest changes, then the least excess; and that least excess. */
function bestTolerant(w: World, tolerance: number): { excess: number; changes: number; least: number } | undefined {
  const all = everyCover(w);
  if (all.length === 0) return undefined;
  const least = Math.min(...all.map((c) => c.excess));
  let best: { excess: number; changes: number } | undefined;
  for (const c of all) {
    if (c.excess > least + tolerance) continue;
    if (best === undefined || c.changes < best.changes || (c.changes === best.changes && c.excess < best.excess)) best = c;
  }
  return { ...best!, least };
}

function optionsOf(w: World, prefer: boolean, churnTolerance?: number): CollapseOptions {
  return {
    ...(churnTolerance === undefined ? {} : { churnTolerance }),
    maxRules: w.maxRules,
    split31: w.split31,
    blocked: w.blocked,
    kept: w.kept.map(asCidr),
    maxWidenedPrefix: w.bound,
    ...(w.inside === undefined ? {} : { weights: { inside: w.inside, outsideWeight: w.weight! } }),
    ...(prefer ? { prefer: w.prefer.map(asCidr) } : {}),
  };
}

function run<T>(f: () => T): T | 'infeasible' {
  try {
    return f();
  } catch (e) {
    if (isTagwallError(e, 'COLLAPSE_INFEASIBLE')) return 'infeasible';
    throw e;
  }
}

describe('least churn against exhaustive search', () => {
  it('the least (weighted) excess, then the fewest changes against the preferred rules, over every disjoint cover', () => {
    let churnSaved = 0;
    let leafSplits = 0;
    fc.assert(
      fc.property(world(), (w) => {
        const best = bestCover(w);
        const result = run(() => collapse(w.input, optionsOf(w, true)));
        const plain = run(() => collapse(w.input, optionsOf(w, false)));
        if (best === undefined) {
          expect(result).toBe('infeasible');
          expect(plain).toBe('infeasible');
          return;
        }
        if (result === 'infeasible' || plain === 'infeasible') throw new Error('a cover exists, yet the collapse found none');
        const wanted = union(w.source.map((a) => ({ start: a, end: a })));
        expect(auditRules(result.rules, wanted, w.blocked, Infinity).problems).toEqual([]);
        const cover = result.rules.map(blockSpan);
        expect(result.weightedExcess).toBe(best.excess);
        expect(excessOf(w, cover)).toBe(best.excess);
        expect(changesOf(w, cover)).toBe(best.changes);
        expect(result.changes).toBe(best.changes);
        expect(result.newRules).toBeLessThanOrEqual(w.maxRules);
        expect(result.newRules).toBe(cover.filter((b) => !w.kept.some((k) => same(k, b))).length);
        // The excess is never traded: least churn and today's tie-break admit the same.
        expect(plain.weightedExcess).toBe(best.excess);
        if (changesOf(w, plain.rules.map(blockSpan)) > best.changes) churnSaved++;
        if (result.rules.some((r) => w.prefer.some((p) => p.start === r.base && asCidr(p).length === r.length) && !w.input.some((c) => c.base === r.base && c.length === r.length)) && result.rules.length > plain.rules.length) leafSplits++;
        // Same input, same rules.
        expect(collapse(structuredClone(w.input), optionsOf(structuredClone(w), true))).toEqual(result);
      }),
      { numRuns: 3000 },
    );
    // The property must actually meet the case it is about: covers that today's tie-break churns.
    // (About 60 and 50 of the 3,000 runs, as written.)
    expect(churnSaved).toBeGreaterThan(30);
    expect(leafSplits).toBeGreaterThan(25);
  });
});

describe('least churn within a tolerance, against exhaustive search', () => {
  it('the fewest changes among covers within ε of the least (weighted) excess, then the least excess; never past the budget or into blocked space', () => {
    let feasible = 0;
    let traded = 0;
    let ties = 0;
    let widerKept = 0;
    fc.assert(
      fc.property(world(), fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 64 }), fc.constantFrom(0.5, 2.5)), (w, epsilon) => {
        const best = bestTolerant(w, epsilon);
        const result = run(() => collapse(w.input, optionsOf(w, true, epsilon)));
        if (best === undefined) {
          expect(result).toBe('infeasible');
          return;
        }
        if (result === 'infeasible') throw new Error('a cover exists, yet the collapse found none');
        feasible++;
        const wanted = union(w.source.map((a) => ({ start: a, end: a })));
        expect(auditRules(result.rules, wanted, w.blocked, Infinity).problems).toEqual([]);
        const cover = result.rules.map(blockSpan);
        // Disjoint blocks, each holding a source address.
        for (let i = 1; i < cover.length; i++) expect(cover[i]!.start).toBeGreaterThan(cover[i - 1]!.end);
        for (const b of cover) expect(w.source.some((a) => b.start <= a && a <= b.end)).toBe(true);
        // The widening bound holds for every new rule, preferred or not.
        for (const b of cover) {
          if (w.kept.some((k) => same(k, b)) || w.bound === 0 || lengthOf(b) >= w.bound) continue;
          expect(w.source.filter((a) => b.start <= a && a <= b.end).length).toBe(sizeOf(b));
        }
        expect(result.newRules).toBeLessThanOrEqual(w.maxRules);
        expect(result.newRules).toBe(cover.filter((b) => !w.kept.some((k) => same(k, b))).length);
        expect(excessOf(w, cover)).toBe(best.excess);
        expect(result.weightedExcess).toBe(best.excess);
        expect(changesOf(w, cover)).toBe(best.changes);
        expect(result.changes).toBe(best.changes);
        expect(result.leastWeightedExcess).toBe(best.least);
        expect(best.excess).toBeLessThanOrEqual(best.least + epsilon);
        const strict = bestCover(w)!;
        if (best.changes < strict.changes) traded++;
        // A preferred rule kept for its change although it admits excess the strict cover avoids.
        const strictRules = collapse(w.input, optionsOf(w, true)).rules.map(blockSpan);
        if (cover.some((b) => w.prefer.some((p) => same(p, b)) && !strictRules.some((r) => same(r, b)) && excessOf(w, [b]) > 0)) widerKept++;
        if (everyCover(w).filter((c) => c.excess === best.excess && c.changes === best.changes).length > 1) ties++;
        expect(collapse(structuredClone(w.input), optionsOf(structuredClone(w), true, epsilon))).toEqual(result);
      }),
      { numRuns: 2000 },
    );
    // The property must meet the case it is about: ε buying fewer changes than the strict least
    // churn, and covers tied on (excess, changes) that the DP must still resolve one way.
    // (About 1,080 feasible runs of 2,000, 200 traded, 50 ties and 140 wider rules kept, as written.)
    expect(traded / feasible).toBeGreaterThan(0.1);
    expect(ties).toBeGreaterThan(25);
    expect(widerKept).toBeGreaterThan(60);
  });

  it('0 or absent is the strict least churn, and a negative or unknown tolerance is bad input', () => {
    const source = cidrs('20.0.0.0/24');
    const base = { maxRules: 1, split31: false, blocked: [], prefer: cidrs('20.0.0.0/23') };
    expect(collapse(source, { ...base, churnTolerance: 0 })).toEqual(collapse(source, base));
    for (const bad of [-1, Number.NaN, Infinity]) expect(() => collapse(source, { ...base, churnTolerance: bad })).toThrow(/churn tolerance/);
  });

  it('last week’s wider rule stays while the tolerance covers its excess', () => {
    // Last week 20.0.0.0/23; this week only its low /24. Swapping is two changes (add the /24,
    // remove the /23); keeping the /23 is none, for 256 addresses of excess.
    const source = cidrs('20.0.0.0/24');
    const base = { maxRules: 1, split31: false, blocked: [], prefer: cidrs('20.0.0.0/23') };
    expect(texts(collapse(source, base).rules)).toEqual(['20.0.0.0/24']);
    const kept = collapse(source, { ...base, churnTolerance: 256 });
    expect(texts(kept.rules)).toEqual(['20.0.0.0/23']);
    expect([kept.changes, kept.excessAddresses, kept.leastWeightedExcess]).toEqual([0, 256, 0]);
    expect(texts(collapse(source, { ...base, churnTolerance: 255 }).rules)).toEqual(['20.0.0.0/24']);
    // Never into blocked space, however large the tolerance.
    expect(texts(collapse(source, { ...base, churnTolerance: 1e9, blocked: [{ start: ip('20.0.1.255'), end: ip('20.0.1.255') }] }).rules)).toEqual(['20.0.0.0/24']);
    // Nor wider than the widening bound.
    expect(texts(collapse(source, { ...base, churnTolerance: 1e9, maxWidenedPrefix: 24 }).rules)).toEqual(['20.0.0.0/24']);
  });
});

const cidrs = (...t: string[]) => t.map((x) => parseCidr(x));
const texts = (rules: readonly Cidr[]) => rules.map(formatCidr);

describe('least churn where today’s tie-break churns', () => {
  it('of two covers with equal excess, the one the firewall already has', () => {
    // Four addresses, three rules: either pair can share a /30 (two excess addresses each way).
    const source = cidrs('20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.6/32');
    const base = { maxRules: 3, split31: false, blocked: [] };
    const today = collapse(source, base);
    expect(texts(today.rules)).toEqual(['20.0.0.0/30', '20.0.0.4/32', '20.0.0.6/32']);
    const owned = cidrs('20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30');
    const least = collapse(source, { ...base, prefer: owned });
    expect(texts(least.rules)).toEqual(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
    expect(least.excessAddresses).toBe(today.excessAddresses);
    expect(least.changes).toBe(0);
  });

  it('a source block that grew keeps last week’s rule and adds its new half, when the budget allows', () => {
    // Last week 20.0.0.0/25; this week the /24. One rule would do, but swapping costs two changes.
    const source = cidrs('20.0.0.0/24');
    const base = { maxRules: 2, split31: false, blocked: [] };
    expect(texts(collapse(source, base).rules)).toEqual(['20.0.0.0/24']);
    const least = collapse(source, { ...base, prefer: cidrs('20.0.0.0/25') });
    expect(texts(least.rules)).toEqual(['20.0.0.0/25', '20.0.0.128/25']);
    expect(least.changes).toBe(1);
    // With one rule only, the /24 it must be.
    expect(texts(collapse(source, { ...base, maxRules: 1, prefer: cidrs('20.0.0.0/25') }).rules)).toEqual(['20.0.0.0/24']);
  });
});
