import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/core/ip-text.js';
import {
  countAddresses,
  formatAddress,
  formatCidr,
  formatRule,
  mergeCidrs,
  mergeRanges,
  rangeToCidrs,
  rangesOf,
  subtractRanges,
  touchesRanges,
  type AddressRange,
} from '../../src/core/ipv4.js';
import { dotted, ip, span } from './reference.js';

const TOP = 2 ** 32 - 1;

describe('formatting', () => {
  it.each([
    [{ base: ip('52.1.2.3'), length: 32 }, '52.1.2.3'],
    [{ base: ip('52.1.2.2'), length: 31 }, '52.1.2.2/31'],
    [{ base: 0, length: 0 }, '0.0.0.0/0'],
    [{ base: TOP, length: 32 }, '255.255.255.255'],
    [{ base: ip('128.0.0.0'), length: 1 }, '128.0.0.0/1'],
  ])('formatRule(%j) is %j', (c, text) => {
    expect(formatRule(c)).toBe(text);
  });

  it('formatCidr keeps an explicit /32', () => {
    expect(formatCidr({ base: ip('52.1.2.3'), length: 32 })).toBe('52.1.2.3/32');
  });

  it('formatAddress agrees with the reference on random addresses', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TOP }), (n) => {
        expect(formatAddress(n)).toBe([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
        expect(formatAddress(n)).toBe(dotted(n));
      }),
    );
  });
});

const r = (from: string, to: string): AddressRange => ({ start: ip(from), end: ip(to) });
const cidrs = (...texts: string[]) => texts.map((t) => parseCidr(t));

describe('lossless merge', () => {
  it.each<[string, string[], string[]]>([
    ['nothing', [], []],
    ['/0 swallows everything', ['52.0.0.0/8', '0.0.0.0/0', '255.255.255.255'], ['0.0.0.0/0']],
    ['nested', ['20.0.0.0/8', '20.1.0.0/16', '20.1.2.3'], ['20.0.0.0/8']],
    ['adjacent halves join', ['20.0.0.128/25', '20.0.0.0/25'], ['20.0.0.0/24']],
    ['adjacent, not one block', ['20.0.0.128/25', '20.0.1.0/25'], ['20.0.0.128/25', '20.0.1.0/25']],
    ['duplicates', ['40.1.0.0/16', '40.1.0.0/16', '40.1.0.0/16'], ['40.1.0.0/16']],
    ['unsorted', ['52.0.0.0/8', '13.64.0.0/11', '4.0.0.0/8', '13.96.0.0/13'], ['4.0.0.0/8', '13.64.0.0/11', '13.96.0.0/13', '52.0.0.0/8']],
    ['the top of the space', ['255.255.255.255', '255.255.255.254'], ['255.255.255.254/31']],
    ['the bottom of the space', ['0.0.0.1', '0.0.0.0', '0.0.0.2/31'], ['0.0.0.0/30']],
    ['four quarters', ['20.0.0.192/26', '20.0.0.0/26', '20.0.0.128/26', '20.0.0.64/26'], ['20.0.0.0/24']],
    ['a gap of one address', ['20.0.0.0/32', '20.0.0.2/31'], ['20.0.0.0', '20.0.0.2/31']],
  ])('%s', (_, input, expected) => {
    expect(mergeCidrs(cidrs(...input)).map(formatRule)).toEqual(expected);
  });

  it('mergeRanges joins touching ranges but keeps a one-address gap', () => {
    expect(mergeRanges([r('1.0.0.5', '1.0.0.9'), r('1.0.0.0', '1.0.0.4'), r('1.0.0.11', '1.0.0.12')])).toEqual([
      r('1.0.0.0', '1.0.0.9'),
      r('1.0.0.11', '1.0.0.12'),
    ]);
  });

  it('agrees with an address set on random small inputs', () => {
    const base = ip('52.10.0.0');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 26, max: 32 }), fc.nat(255)), { maxLength: 12 }), (raw) => {
        const input = raw.map(([length, offset]) => {
          const s = 2 ** (32 - length);
          return { base: base + offset - (offset % s), length };
        });
        const want = new Set<number>();
        for (const c of input) for (let a = c.base; a < c.base + 2 ** (32 - c.length); a++) want.add(a);
        const merged = mergeCidrs(input);
        const got = new Set<number>();
        for (const c of merged) for (let a = c.base; a < c.base + 2 ** (32 - c.length); a++) got.add(a);
        expect([...got].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
        // Canonical: sorted, disjoint, and no two neighbours that form one block.
        for (let i = 1; i < merged.length; i++) {
          const prev = merged[i - 1]!;
          const cur = merged[i]!;
          expect(prev.base + 2 ** (32 - prev.length)).toBeLessThanOrEqual(cur.base);
          const joinable =
            prev.length === cur.length &&
            prev.base + 2 ** (32 - prev.length) === cur.base &&
            prev.base % 2 ** (33 - prev.length) === 0;
          expect(joinable).toBe(false);
        }
      }),
    );
  });
});

describe('subtractRanges', () => {
  it('a block containing 10/8 loses exactly 10/8', () => {
    const out = subtractRanges(rangesOf(cidrs('8.0.0.0/6')), [span('10.0.0.0/8')]);
    expect(out).toEqual([r('8.0.0.0', '9.255.255.255'), r('11.0.0.0', '11.255.255.255')]);
    expect(countAddresses(out)).toBe(3 * 2 ** 24);
    expect(countAddresses(subtractRanges(rangesOf(cidrs('10.0.0.0/7')), [span('10.0.0.0/8')]))).toBe(2 ** 24);
  });

  it('172/8 loses only 172.16/12, keeping 172.199/16 and 172.192.128/17', () => {
    const out = subtractRanges(rangesOf(cidrs('172.0.0.0/8')), [span('172.16.0.0/12')]);
    expect(countAddresses(out)).toBe(2 ** 24 - 2 ** 20);
    expect(out).toEqual([r('172.0.0.0', '172.15.255.255'), r('172.32.0.0', '172.255.255.255')]);
  });

  it.each<[string, AddressRange[], AddressRange[], AddressRange[]]>([
    ['nothing to cut', [r('1.0.0.0', '1.0.0.9')], [], [r('1.0.0.0', '1.0.0.9')]],
    ['cut everything', [r('1.0.0.0', '1.0.0.9')], [r('0.0.0.0', '255.255.255.255')], []],
    ['exact cut', [r('1.0.0.0', '1.0.0.9')], [r('1.0.0.0', '1.0.0.9')], []],
    ['cut the first address', [r('1.0.0.0', '1.0.0.9')], [r('0.0.0.0', '1.0.0.0')], [r('1.0.0.1', '1.0.0.9')]],
    ['cut the last address', [r('1.0.0.0', '1.0.0.9')], [r('1.0.0.9', '2.0.0.0')], [r('1.0.0.0', '1.0.0.8')]],
    [
      'one cut spans two ranges',
      [r('1.0.0.0', '1.0.0.9'), r('1.0.0.20', '1.0.0.29')],
      [r('1.0.0.5', '1.0.0.24')],
      [r('1.0.0.0', '1.0.0.4'), r('1.0.0.25', '1.0.0.29')],
    ],
    [
      'many cuts in one range',
      [r('1.0.0.0', '1.0.0.20')],
      [r('1.0.0.1', '1.0.0.1'), r('1.0.0.5', '1.0.0.6'), r('1.0.0.20', '1.0.0.30')],
      [r('1.0.0.0', '1.0.0.0'), r('1.0.0.2', '1.0.0.4'), r('1.0.0.7', '1.0.0.19')],
    ],
    ['the whole space minus its ends', [r('0.0.0.0', '255.255.255.255')], [r('0.0.0.0', '0.0.0.0'), r('255.255.255.255', '255.255.255.255')], [r('0.0.0.1', '255.255.255.254')]],
  ])('%s', (_, a, b, expected) => {
    expect(subtractRanges(a, b)).toEqual(expected);
  });

  it('agrees with an address set on random small inputs', () => {
    const rangeList = fc
      .array(fc.tuple(fc.nat(127), fc.nat(20)), { maxLength: 8 })
      .map((xs) => mergeRanges(xs.map(([s, len]) => ({ start: 1000 + s, end: 1000 + s + len }))));
    fc.assert(
      fc.property(rangeList, rangeList, (a, b) => {
        const inB = (x: number) => b.some((q) => q.start <= x && x <= q.end);
        const want: number[] = [];
        for (const q of a) for (let x = q.start; x <= q.end; x++) if (!inB(x)) want.push(x);
        const out = subtractRanges(a, b);
        const got: number[] = [];
        for (const q of out) for (let x = q.start; x <= q.end; x++) got.push(x);
        expect(got).toEqual(want);
        // Output stays merged-compatible: sorted and disjoint.
        for (let i = 1; i < out.length; i++) expect(out[i]!.start).toBeGreaterThan(out[i - 1]!.end);
      }),
    );
  });
});

describe('touchesRanges', () => {
  const ranges = [r('10.0.0.0', '10.255.255.255'), r('172.16.0.0', '172.31.255.255')];
  it.each([
    ['9.255.255.255', '9.255.255.255', false],
    ['9.255.255.255', '10.0.0.0', true],
    ['11.0.0.0', '172.15.255.255', false],
    ['172.31.255.255', '172.32.0.0', true],
    ['172.32.0.0', '255.255.255.255', false],
    ['0.0.0.0', '255.255.255.255', true],
  ])('[%s, %s] → %s', (a, b, expected) => {
    expect(touchesRanges(ranges, ip(a), ip(b))).toBe(expected);
  });
  it('is false against no ranges', () => {
    expect(touchesRanges([], 0, TOP)).toBe(false);
  });
});

/** The fewest aligned blocks that tile [start, end] exactly, by trying every tiling. */
function fewestBlocks(start: number, end: number): number {
  const best = new Map<number, number>();
  const from = (at: number): number => {
    if (at > end) return 0;
    const known = best.get(at);
    if (known !== undefined) return known;
    let n = Infinity;
    for (let length = 32; length >= 0; length--) {
      const s = 2 ** (32 - length);
      if (at % s !== 0 || at + s - 1 > end) continue;
      n = Math.min(n, 1 + from(at + s));
    }
    best.set(at, n);
    return n;
  };
  return from(start);
}

describe('rangeToCidrs', () => {
  function checkTiling(start: number, end: number) {
    const blocks = rangeToCidrs({ start, end });
    let at = start;
    for (const b of blocks) {
      expect(b.base).toBe(at);
      expect(b.base % 2 ** (32 - b.length)).toBe(0);
      at += 2 ** (32 - b.length);
    }
    expect(at - 1).toBe(end);
    expect(blocks.length).toBe(fewestBlocks(start, end));
  }

  it('tiles every range inside 0..63 with the fewest blocks', () => {
    for (let start = 0; start < 64; start++) for (let end = start; end < 64; end++) checkTiling(start, end);
  });

  it('tiles random small ranges anywhere in the space, ends included, with the fewest blocks', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: TOP }), fc.integer({ min: TOP - 300, max: TOP }), fc.integer({ min: 0, max: 300 })),
        fc.nat(300),
        (start, len) => checkTiling(start, Math.min(TOP, start + len)),
      ),
    );
  });

  it.each([
    [0, TOP, 1],
    [1, TOP - 1, 62],
    [0, TOP - 1, 32],
    [1, TOP, 32],
    [ip('10.0.0.0'), ip('10.255.255.255'), 1],
    [ip('10.0.0.1'), ip('10.0.0.1'), 1],
  ])('[%d, %d] needs %d blocks', (start, end, n) => {
    expect(rangeToCidrs({ start, end })).toHaveLength(n);
  });
});
