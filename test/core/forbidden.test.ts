import { describe, expect, it } from 'vitest';
import { FORBIDDEN_BLOCKS, FORBIDDEN_CIDRS, FORBIDDEN_RANGES, forbiddenOverlap } from '../../src/core/forbidden.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { countAddresses, formatCidr, subtractRanges, touchesRanges } from '../../src/core/ipv4.js';
import { FORBIDDEN_SPANS, IANA_FORBIDDEN, ip, size, span } from './reference.js';

describe('the forbidden list', () => {
  it('is exactly the IANA not-globally-reachable blocks plus multicast and 240/4', () => {
    expect(FORBIDDEN_BLOCKS.map((b) => b.cidr)).toEqual([...IANA_FORBIDDEN]);
    expect(FORBIDDEN_CIDRS.map(formatCidr)).toEqual([...IANA_FORBIDDEN]);
  });

  it('merges into the same address set as the reference list', () => {
    expect(FORBIDDEN_RANGES).toEqual(FORBIDDEN_SPANS);
    // 224/4 and 240/4 touch, so they join into one range.
    expect(FORBIDDEN_RANGES).toHaveLength(IANA_FORBIDDEN.length - 1);
    expect(countAddresses(FORBIDDEN_RANGES)).toBe(size(IANA_FORBIDDEN.map(span)));
  });

  it('gives every block a reason', () => {
    for (const b of FORBIDDEN_BLOCKS) expect(b.why.length).toBeGreaterThan(3);
  });
});

describe('forbidden boundaries', () => {
  it.each([
    ['0.0.0.0', true],
    ['0.255.255.255', true],
    ['1.0.0.0', false],
    ['9.255.255.255', false],
    ['10.0.0.0', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['100.63.255.255', false],
    ['100.64.0.0', true],
    ['100.127.255.255', true],
    ['100.128.0.0', false],
    ['126.255.255.255', false],
    ['127.0.0.1', true],
    ['128.0.0.0', false],
    ['169.253.255.255', false],
    ['169.254.0.0', true],
    ['169.254.255.255', true],
    ['169.255.0.0', false],
    ['172.15.255.255', false],
    ['172.16.0.0', true],
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['172.192.128.0', false],
    ['172.199.0.0', false],
    ['172.199.255.255', false],
    ['191.255.255.255', false],
    ['192.0.0.0', true],
    ['192.0.0.255', true],
    ['192.0.1.0', false],
    ['192.0.2.0', true],
    ['192.0.2.255', true],
    ['192.0.3.0', false],
    ['192.88.98.255', false],
    ['192.88.99.0', true],
    ['192.88.100.0', false],
    ['192.167.255.255', false],
    ['192.168.0.0', true],
    ['192.168.255.255', true],
    ['192.169.0.0', false],
    ['198.17.255.255', false],
    ['198.18.0.0', true],
    ['198.19.255.255', true],
    ['198.20.0.0', false],
    ['198.51.99.255', false],
    ['198.51.100.0', true],
    ['198.51.101.0', false],
    ['203.0.112.255', false],
    ['203.0.113.0', true],
    ['203.0.114.0', false],
    ['223.255.255.255', false],
    ['224.0.0.0', true],
    ['239.255.255.255', true],
    ['240.0.0.0', true],
    ['255.255.255.255', true],
  ])('%s forbidden: %s', (addr, forbidden) => {
    const n = ip(addr);
    expect(touchesRanges(FORBIDDEN_RANGES, n, n)).toBe(forbidden);
    expect(forbiddenOverlap({ base: n, length: 32 }) !== undefined).toBe(forbidden);
  });
});

describe('forbiddenOverlap', () => {
  it.each([
    ['172.0.0.0/8', '172.16.0.0/12'],
    ['172.16.0.0/13', '172.16.0.0/12'],
    ['8.0.0.0/6', '10.0.0.0/8'],
    ['100.0.0.0/8', '100.64.0.0/10'],
    ['192.0.0.0/22', '192.0.0.0/24'],
    ['0.0.0.0/0', '0.0.0.0/8'],
    ['224.0.0.0/3', '224.0.0.0/4'],
    ['255.255.255.255/32', '240.0.0.0/4'],
    ['192.0.0.0/2', '192.0.0.0/24'],
  ])('%s overlaps %s first', (cidr, hit) => {
    expect(forbiddenOverlap(parseCidr(cidr))?.cidr).toBe(hit);
  });

  it.each(['172.192.128.0/17', '172.199.0.0/16', '172.32.0.0/11', '11.0.0.0/8', '100.128.0.0/9', '192.0.1.0/24', '208.0.0.0/4', '1.0.0.0/8'])(
    '%s is public',
    (cidr) => {
      expect(forbiddenOverlap(parseCidr(cidr))).toBeUndefined();
    },
  );

  it('agrees with range subtraction on the whole space', () => {
    // Everything outside the forbidden list, in /8 steps: a /8 is public iff nothing was cut.
    for (let first = 0; first < 256; first++) {
      const block = { base: first * 2 ** 24, length: 8 };
      const range = { start: block.base, end: block.base + 2 ** 24 - 1 };
      const cut = 2 ** 24 - countAddresses(subtractRanges([range], FORBIDDEN_RANGES));
      expect(forbiddenOverlap(block) !== undefined, `${first}/8`).toBe(cut > 0);
    }
  });
});
