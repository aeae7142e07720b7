import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collapse, minimumRules, type CollapseOptions } from '../../src/core/collapse.js';
import { isTagwallError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { formatRule, type AddressRange, type Cidr } from '../../src/core/ipv4.js';
import { auditRules, blockSpan, FORBIDDEN_SPANS, ip, tile, union, type Span } from './reference.js';

const TOP = 2 ** 32 - 1;

/**
 * A small world for exhaustive search: a universe of 16–64 addresses, everything outside
 * it blocked, so every useful rule lies inside it and a brute force can try them all.
 */
interface World {
  lo: number;
  hi: number;
  /** Sorted source addresses (blocked ones already removed). */
  source: number[];
  blocked: Span[];
  maxRules: number;
  split31: boolean;
  input: Cidr[];
  /** Rules the firewall keeps anyway: a cover block equal to one costs no rule. */
  kept?: Span[];
  /** No new block with excess wider than this prefix length (0: none). */
  bound?: number;
  /** Weighted excess: an excess address outside `inside` costs `weight`. */
  inside?: Span[];
  weight?: number;
}

const cidrs = (...texts: string[]) => texts.map((t) => parseCidr(t));
const options = (maxRules: number, extra: Partial<CollapseOptions> = {}): CollapseOptions => ({ maxRules, split31: false, blocked: FORBIDDEN_SPANS, ...extra });

function isBlocked(blocked: readonly Span[], a: number): boolean {
  return blocked.some((b) => b.start <= a && a <= b.end);
}

/** Every block a rule could be that holds address `a` and stays clear of blocked space. */
function candidateBlocks(w: World, a: number): Span[] {
  const out: Span[] = [];
  for (let length = 32; length >= 0; length--) {
    if (w.split31 && length === 31) continue;
    const size = 2 ** (32 - length);
    const start = a - (a % size);
    const end = start + size - 1;
    if (start < w.lo || end > w.hi) continue;
    let clear = true;
    for (let x = start; x <= end && clear; x++) if (isBlocked(w.blocked, x)) clear = false;
    if (clear) out.push({ start, end });
  }
  return out;
}

/** Whether a block may be a new rule under the world's widening bound. */
function withinBound(w: World, b: Span): boolean {
  const length = 32 - Math.log2(b.end - b.start + 1);
  if (!w.bound || length >= w.bound) return true;
  return w.source.filter((a) => b.start <= a && a <= b.end).length === b.end - b.start + 1;
}

/** The weighted excess of a union of addresses: plain excess when the world has no weights. */
function costOfUnion(w: World, covered: Uint16Array): number {
  let cost = 0;
  const sources = new Set(w.source);
  for (let i = 0; i < covered.length; i++) {
    if (covered[i] === 0 || sources.has(w.lo + i)) continue;
    const a = w.lo + i;
    cost += w.inside === undefined || w.inside.some((s) => s.start <= a && a <= s.end) ? 1 : w.weight!;
  }
  return cost;
}

/**
 * Least excess over every way of choosing at most `maxRules` blocks that cover the source,
 * and the fewest rules that reach it. The search always extends the cover at the lowest
 * uncovered source address, trying every allowed block that holds it, which reaches every
 * cover (in some order). Undefined when nothing fits.
 */
function isKept(w: World, b: Span): boolean {
  return (w.kept ?? []).some((k) => k.start === b.start && k.end === b.end);
}

function bestCover(w: World): { excess: number; rules: number } | undefined {
  const count = new Uint16Array(w.hi - w.lo + 1);
  let unionSize = 0;
  let best: { excess: number; rules: number } | undefined;
  const candidates = new Map<number, Span[]>();
  const blocksFor = (a: number) => {
    let c = candidates.get(a);
    if (c === undefined) candidates.set(a, (c = candidateBlocks(w, a)));
    return c;
  };
  const add = (b: Span, d: 1 | -1) => {
    for (let x = b.start; x <= b.end; x++) {
      const i = x - w.lo;
      if (d === 1 && count[i]++ === 0) unionSize++;
      if (d === -1 && --count[i]! === 0) unionSize--;
    }
  };
  const search = (budget: number, used: number) => {
    let i = 0;
    while (i < w.source.length && count[w.source[i]! - w.lo]! > 0) i++;
    if (i === w.source.length) {
      const excess = w.inside === undefined ? unionSize - w.source.length : costOfUnion(w, count);
      if (best === undefined || excess < best.excess || (excess === best.excess && used < best.rules)) best = { excess, rules: used };
      return;
    }
    for (const b of blocksFor(w.source[i]!)) {
      const cost = isKept(w, b) ? 0 : 1;
      if (cost === 1 && !withinBound(w, b)) continue;
      if (cost > budget) continue;
      add(b, 1);
      search(budget - cost, used + cost);
      add(b, -1);
    }
  };
  search(w.maxRules, 0);
  return best;
}

/**
 * Fewest rules that cover the source at all. Covering in address order, after a block
 * that holds the lowest uncovered address every source up to the block's end is covered,
 * so the state is just "how many sources are done".
 */
function fewestRules(w: World): number {
  const memo = new Map<number, number>();
  const from = (i: number): number => {
    if (i === w.source.length) return 0;
    const known = memo.get(i);
    if (known !== undefined) return known;
    let n = Infinity;
    for (const b of candidateBlocks(w, w.source[i]!)) {
      const kept = isKept(w, b);
      if (!kept && !withinBound(w, b)) continue;
      let j = i;
      while (j < w.source.length && w.source[j]! <= b.end) j++;
      n = Math.min(n, (kept ? 0 : 1) + from(j));
    }
    memo.set(i, n);
    return n;
  };
  return from(0);
}

/** Forbidden edges where a universe can straddle public and forbidden space. */
const EDGES = [
  '1.0.0.0',
  '10.0.0.0',
  '11.0.0.0',
  '100.64.0.0',
  '100.128.0.0',
  '169.254.0.0',
  '172.16.0.0',
  '172.32.0.0',
  '192.0.1.0',
  '192.0.2.0',
  '192.88.99.0',
  '198.18.0.0',
  '203.0.113.0',
  '224.0.0.0',
].map(ip);

/** `top` bounds the universe, so a world can later be scaled up without leaving the space. */
function world(split31: boolean, top = TOP): fc.Arbitrary<World> {
  return fc.integer({ min: 4, max: 6 }).chain((bits) => {
    const U = 2 ** bits;
    const lo =
      top === TOP
        ? fc.oneof(
            { arbitrary: fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((i) => i * U), weight: 2 },
            { arbitrary: fc.tuple(fc.constantFrom(...EDGES), fc.integer({ min: -U, max: 0 })).map(([edge, shift]) => edge + shift), weight: 2 },
          )
        : fc.oneof(fc.integer({ min: 0, max: top - U + 1 }), fc.constantFrom(0, top - U + 1));
    const offsetsFromRanges = fc
      .array(fc.tuple(fc.nat(U - 1), fc.nat(U - 1)), { minLength: 1, maxLength: 4 })
      .map((pairs) => pairs.flatMap(([a, b]) => Array.from({ length: Math.abs(a - b) + 1 }, (_, i) => Math.min(a, b) + i)));
    const scattered = fc.uniqueArray(fc.nat(U - 1), { minLength: 1, maxLength: 10 });
    const dense = fc.array(fc.boolean(), { minLength: U, maxLength: U }).map((bits) => bits.flatMap((on, i) => (on ? [i] : [])));
    const holes = fc.array(fc.tuple(fc.nat(U - 1), fc.nat(3)), { maxLength: 3 });
    return fc
      .record({
        lo,
        offsets: fc.oneof(offsetsFromRanges, scattered, dense),
        holes,
        maxRules: fc.integer({ min: 1, max: 5 }),
        fragment: fc.boolean(),
      })
      .map(({ lo, offsets, holes, maxRules, fragment }) => {
        const hi = lo + U - 1;
        const blocked = union([
          ...(lo > 0 ? [{ start: 0, end: lo - 1 }] : []),
          ...(hi < TOP ? [{ start: hi + 1, end: TOP }] : []),
          ...(top === TOP ? FORBIDDEN_SPANS : []),
          ...holes.map(([o, len]) => ({ start: lo + o, end: Math.min(hi, lo + o + len) })),
        ]);
        const source = [...new Set(offsets.map((o) => lo + o))].filter((a) => !isBlocked(blocked, a)).sort((a, b) => a - b);
        let input: Cidr[] = tile(source.map((a) => ({ start: a, end: a })));
        // The contract asks only for sorted, disjoint blocks; halves of a block must work too.
        if (fragment) {
          input = input.flatMap((c) =>
            c.length === 32 ? [c] : [{ base: c.base, length: c.length + 1 }, { base: c.base + 2 ** (31 - c.length), length: c.length + 1 }],
          );
        }
        return { lo, hi, source, blocked, maxRules, split31, input };
      });
  });
}

function collapseWorld(w: World) {
  return collapse(w.input, { maxRules: w.maxRules, split31: w.split31, blocked: w.blocked });
}

function infeasibleBudget(run: () => unknown): number | undefined {
  try {
    run();
  } catch (e) {
    if (!isTagwallError(e, 'COLLAPSE_INFEASIBLE')) throw e;
    // The figure is a field; the message says it too, for people.
    expect(e.message).toContain(`the smallest budget that works is ${e.values.neededRules}`);
    return Number(e.values.neededRules);
  }
  return undefined;
}

describe.each([false, true])('collapse against exhaustive search (split31: %s)', (split31) => {
  it('finds the optimum, or names exactly the smallest budget that works', () => {
    fc.assert(
      fc.property(world(split31), (w) => {
        const needed = fewestRules(w);
        const best = bestCover(w);
        // The two searches must agree on feasibility, or the reference itself is wrong.
        expect(best === undefined).toBe(needed > w.maxRules);
        expect(minimumRules(w.input, { split31, blocked: w.blocked })).toBe(needed);

        if (needed > w.maxRules) {
          expect(infeasibleBudget(() => collapseWorld(w))).toBe(needed);
          return;
        }
        const result = collapseWorld(w);
        const wanted = union(w.source.map((a) => ({ start: a, end: a })));
        const audit = auditRules(result.rules, wanted, w.blocked, w.maxRules);
        expect(audit.problems).toEqual([]);
        expect(result.excessAddresses).toBe(best!.excess);
        expect(audit.excess).toBe(best!.excess);
        expect(result.allowedAddresses).toBe(audit.allowed);
        expect(result.sourceAddresses).toBe(w.source.length);
        // Among optimal covers, the one with the fewest rules.
        expect(result.rules.length).toBe(best!.rules);
        if (split31) expect(result.rules.filter((r) => r.length === 31)).toEqual([]);
        // Same input, same rules, even from a fresh copy.
        expect(collapse(structuredClone(w.input), { maxRules: w.maxRules, split31, blocked: structuredClone(w.blocked) })).toEqual(result);
      }),
      { numRuns: 500 },
    );
  });
});

/** A world plus kept rules: most are candidate blocks of its sources (so they can matter), some are sub-blocks of them. */
function worldWithKept(split31: boolean): fc.Arbitrary<World> {
  return world(split31).chain((w) =>
    fc.tuple(fc.array(fc.tuple(fc.nat(w.hi - w.lo), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 6 }), fc.option(fc.nat(), { freq: 2 })).map(([picks, tiled]) => {
      const kept: Span[] = [];
      // The halves of one source block: kept rules that tile it, so it costs nothing.
      const block = tiled === null ? undefined : w.input[tiled % w.input.length];
      if (block !== undefined && block.length < 32 && !(split31 && block.length === 30)) {
        const half = 2 ** (31 - block.length);
        kept.push({ start: block.base, end: block.base + half - 1 }, { start: block.base + half, end: block.base + 2 * half - 1 });
      }
      for (const [offset, up] of picks) {
        const a = w.source.length > 0 && offset % 3 !== 0 ? w.source[offset % w.source.length]! : w.lo + offset;
        const size = 2 ** up;
        const start = a - (a % size);
        const b = { start, end: start + size - 1 };
        if (b.start < w.lo || b.end > w.hi || (split31 && up === 1)) continue;
        let clear = true;
        for (let x = b.start; x <= b.end && clear; x++) if (isBlocked(w.blocked, x)) clear = false;
        if (clear && !kept.some((k) => k.start === b.start && k.end === b.end)) kept.push(b);
      }
      return { ...w, kept };
    }),
  );
}

const asCidr = (s: Span): Cidr => ({ base: s.start, length: 32 - Math.log2(s.end - s.start + 1) });

describe.each([false, true])('collapse beside kept rules against exhaustive search (split31: %s)', (split31) => {
  it('a kept block costs no rule: the optimum, its rule count, and the smallest budget that works', () => {
    fc.assert(
      fc.property(worldWithKept(split31), fc.integer({ min: 0, max: 5 }), (w0, maxRules) => {
        const w = { ...w0, maxRules };
        const kept = w.kept!.map(asCidr);
        const options = { maxRules, split31, blocked: w.blocked, kept };
        const needed = fewestRules(w);
        const best = bestCover(w);
        expect(best === undefined).toBe(needed > maxRules);
        expect(minimumRules(w.input, { split31, blocked: w.blocked, kept })).toBe(needed);
        if (needed > maxRules) {
          expect(infeasibleBudget(() => collapse(w.input, options))).toBe(needed);
          return;
        }
        const result = collapse(w.input, options);
        const wanted = union(w.source.map((a) => ({ start: a, end: a })));
        const audit = auditRules(result.rules, wanted, w.blocked, Infinity);
        expect(audit.problems).toEqual([]);
        expect(result.excessAddresses).toBe(best!.excess);
        expect(audit.excess).toBe(best!.excess);
        const fresh = result.rules.filter((r) => !w.kept!.some((k) => k.start === r.base && asCidr(k).length === r.length));
        expect(fresh.length).toBe(result.newRules);
        expect(result.newRules).toBe(best!.rules);
        expect(result.newRules).toBeLessThanOrEqual(maxRules);
      }),
      { numRuns: 500 },
    );
  });
});

/** A world with kept rules, a widening bound, and "Azure" ranges with a weight for excess outside them. */
function worldWithBounds(split31: boolean): fc.Arbitrary<World> {
  return worldWithKept(split31).chain((w) =>
    fc
      .record({
        keepKept: fc.boolean(),
        bound: fc.oneof(fc.constant(0), fc.integer({ min: 26, max: 32 })),
        inside: fc.option(fc.array(fc.tuple(fc.nat(w.hi - w.lo), fc.nat(12)), { maxLength: 4 }), { freq: 2 }),
        weight: fc.integer({ min: 1, max: 20 }),
      })
      .map(({ keepKept, bound, inside, weight }) => ({
        ...w,
        kept: keepKept ? w.kept : [],
        bound,
        ...(inside === null ? {} : { inside: union(inside.map(([o, len]) => ({ start: w.lo + o, end: Math.min(w.hi, w.lo + o + len) }))), weight }),
      })),
  );
}

describe.each([false, true])('collapse under a widening bound and weights, against exhaustive search (split31: %s)', (split31) => {
  it('the least (weighted) excess with no new widened rule wider than the bound, or the smallest budget that works under it', () => {
    fc.assert(
      fc.property(worldWithBounds(split31), fc.integer({ min: 0, max: 5 }), (w0, maxRules) => {
        const w = { ...w0, maxRules };
        const kept = w.kept!.map(asCidr);
        const options: CollapseOptions = {
          maxRules,
          split31,
          blocked: w.blocked,
          kept,
          maxWidenedPrefix: w.bound ?? 0,
          ...(w.inside === undefined ? {} : { weights: { inside: w.inside, outsideWeight: w.weight! } }),
        };
        const needed = fewestRules(w);
        const best = bestCover(w);
        expect(best === undefined).toBe(needed > maxRules);
        if (needed > maxRules) {
          expect(infeasibleBudget(() => collapse(w.input, options))).toBe(needed);
          return;
        }
        const result = collapse(w.input, options);
        const wanted = union(w.source.map((a) => ({ start: a, end: a })));
        const audit = auditRules(result.rules, wanted, w.blocked, Infinity);
        expect(audit.problems).toEqual([]);
        expect(result.weightedExcess).toBe(best!.excess);
        expect(result.excessAddresses).toBe(audit.excess);
        if (w.inside === undefined) expect(result.excessAddresses).toBe(best!.excess);
        for (const r of result.rules) {
          const span = blockSpan(r);
          if (!isKept(w, span)) expect(withinBound(w, span), `${formatRule(r)} is wider than /${w.bound} and widens`).toBe(true);
        }
      }),
      { numRuns: 600 },
    );
  });
});

/**
 * The same search, with every address standing for an aligned block of 2^s addresses: the
 * optimum keeps its rule count and its excess grows by 2^s. This reaches the short prefixes
 * (down to /0) that a 64-address universe never does. Without split-31 only: there a
 * 2-address unit is a /31, which has no counterpart in the small world.
 */
describe('collapse against exhaustive search, scaled up', () => {
  it('keeps the optimum and the smallest budget when every address becomes a block', () => {
    const scaled = fc.integer({ min: 1, max: 26 }).chain((shift) => world(false, 2 ** (32 - shift) - 1).map((w) => ({ shift, w })));
    fc.assert(
      fc.property(scaled, ({ shift, w }) => {
        const unit = 2 ** shift;
        const grow = (s: Span): Span => ({ start: s.start * unit, end: Math.min(TOP, (s.end + 1) * unit - 1) });
        const input = w.input.map((c) => ({ base: c.base * unit, length: c.length - shift }));
        const blocked = union(w.blocked.map(grow));
        const run = () => collapse(input, { maxRules: w.maxRules, split31: false, blocked });
        const needed = fewestRules(w);
        if (needed > w.maxRules) {
          expect(infeasibleBudget(run)).toBe(needed);
          return;
        }
        const best = bestCover(w)!;
        const result = run();
        const wanted = union(w.source.map((a) => grow({ start: a, end: a })));
        const audit = auditRules(result.rules, wanted, blocked, w.maxRules);
        expect(audit.problems).toEqual([]);
        expect(result.excessAddresses).toBe(best.excess * unit);
        expect(audit.excess).toBe(best.excess * unit);
        expect(result.rules.length).toBe(best.rules);
      }),
      { numRuns: 500 },
    );
  });
});

describe('collapse, worked examples', () => {
  it.each<[string, string[], number, boolean, string[], number]>([
    ['two /32s under one budget widen to their /30', ['20.0.0.0', '20.0.0.3'], 1, false, ['20.0.0.0/30'], 2],
    ['two /32s with two rules stay exact', ['20.0.0.0', '20.0.0.3'], 2, false, ['20.0.0.0', '20.0.0.3'], 0],
    ['a budget larger than needed adds nothing', ['20.0.0.0', '20.0.0.3'], 1000, false, ['20.0.0.0', '20.0.0.3'], 0],
    ['a /31 may stand as a rule', ['20.0.0.2/31'], 1, false, ['20.0.0.2/31'], 0],
    ['split-31 widens a lone /31 to its /30', ['20.0.0.2/31'], 1, true, ['20.0.0.0/30'], 2],
    ['split-31 writes a /31 as two addresses when it can', ['20.0.0.2/31'], 2, true, ['20.0.0.2', '20.0.0.3'], 0],
    ['split-31 never joins two /32s into a /31', ['20.0.0.4', '20.0.0.5', '20.0.0.7'], 2, true, ['20.0.0.4/30'], 1],
    ['without split-31 the same input takes a /31', ['20.0.0.4/31', '20.0.0.7'], 2, false, ['20.0.0.4/31', '20.0.0.7'], 0],
    ['the cheaper of two merges wins', ['20.0.0.0', '20.0.0.2', '20.0.0.8', '20.0.0.15'], 3, false, ['20.0.0.0/30', '20.0.0.8', '20.0.0.15'], 2],
    ['172.16/12 stays out of a cover of its neighbours', ['172.15.255.255', '172.32.0.0'], 2, false, ['172.15.255.255', '172.32.0.0'], 0],
    ['a /0 source is its own cover', ['0.0.0.0/0'], 1, false, ['0.0.0.0/0'], 0],
  ])('%s', (_, source, maxRules, split31, expected, excess) => {
    const blocked = source[0] === '0.0.0.0/0' ? [] : FORBIDDEN_SPANS;
    const result = collapse(cidrs(...source), { maxRules, split31, blocked });
    expect(result.rules.map(formatRule)).toEqual(expected);
    expect(result.excessAddresses).toBe(excess);
  });

  it('an empty source needs no rules, even with a zero budget', () => {
    expect(collapse([], options(0))).toEqual({ rules: [], newRules: 0, sourceAddresses: 0, allowedAddresses: 0, excessAddresses: 0, weightedExcess: 0 });
  });

  it.each<[string, string[], number, boolean, AddressRange[], number]>([
    ['neighbours of 10/8 cannot share a rule', ['9.255.255.255', '11.0.0.0'], 1, false, [], 2],
    ['a zero budget cannot hold one address', ['20.0.0.1'], 0, false, [], 1],
    ['a /31 under split-31 with its /30 blocked needs two rules', ['20.0.0.2/31'], 1, true, [{ start: ip('20.0.0.1'), end: ip('20.0.0.1') }], 2],
    ['three islands between excluded addresses', ['20.0.0.0', '20.0.0.2', '20.0.0.4'], 2, false, [{ start: ip('20.0.0.1'), end: ip('20.0.0.1') }, { start: ip('20.0.0.3'), end: ip('20.0.0.3') }], 3],
  ])('%s: COLLAPSE_INFEASIBLE names %#', (_, source, maxRules, split31, extraBlocked, needed) => {
    const blocked = union([...FORBIDDEN_SPANS, ...extraBlocked]);
    expect(infeasibleBudget(() => collapse(cidrs(...source), { maxRules, split31, blocked }))).toBe(needed);
    expect(minimumRules(cidrs(...source), { split31, blocked })).toBe(needed);
  });

  it.each([
    ['unsorted', cidrs('20.0.0.8', '20.0.0.0')],
    ['overlapping', cidrs('20.0.0.0/24', '20.0.0.5')],
    ['duplicated', cidrs('20.0.0.0', '20.0.0.0')],
    ['with host bits', [{ base: ip('20.0.0.1'), length: 24 }]],
    ['touching blocked space', cidrs('10.0.0.0/31')],
    ['touching blocked space, a /31 under split-31', [{ base: ip('9.255.255.254'), length: 31 }]],
  ])('refuses a source %s with COLLAPSE_INPUT', (name, source) => {
    const blocked = name.includes('under split-31') ? [{ start: ip('9.255.255.255'), end: ip('9.255.255.255') }] : FORBIDDEN_SPANS;
    expect(() => collapse(source, { maxRules: 5, split31: name.includes('split-31'), blocked })).toThrow(
      expect.objectContaining({ code: 'COLLAPSE_INPUT' }),
    );
  });

  it('names a source block in blocked space the way people write it', () => {
    expect(() => collapse(cidrs('10.0.0.0/31'), options(5))).toThrow('source block 10.0.0.0/31 touches blocked space');
  });

  it.each([-1, 1.5, Number.NaN, Infinity])('refuses a rule budget of %d', (maxRules) => {
    expect(() => collapse(cidrs('20.0.0.0'), options(maxRules))).toThrow(expect.objectContaining({ code: 'COLLAPSE_INPUT' }));
  });
});
