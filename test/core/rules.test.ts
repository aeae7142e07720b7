import { describe, expect, it } from 'vitest';
import { normaliseRule } from '../../src/core/rules.js';

describe('normaliseRule', () => {
  // Azure stores what it accepted in its own spelling, so a rule read back is never refused:
  // host bits are cleared, and anything that is not an IPv4 rule is kept as foreign text.
  it.each([
    ['1.2.3.4', '1.2.3.4/32', { base: 16909060, length: 32 }],
    ['1.2.3.4/32', '1.2.3.4/32', { base: 16909060, length: 32 }],
    [' 1.2.3.4/32 ', '1.2.3.4/32', { base: 16909060, length: 32 }],
    ['20.1.2.3/24', '20.1.2.0/24', { base: 335610368, length: 24 }],
    ['0.0.0.0/0', '0.0.0.0/0', { base: 0, length: 0 }],
    ['52.1.2.2/31', '52.1.2.2/31', { base: 872481282, length: 31 }],
  ])('%j is the IPv4 rule %s', (value, key, cidr) => {
    expect(normaliseRule(value)).toEqual({ value, key, cidr });
  });

  it.each([
    ['2603:1000::/40', '2603:1000::/40'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    // Not read as 8.1.2.3 (octal) or 10.1.2.3: such a rule is not one tagwall wrote.
    ['010.1.2.3', '010.1.2.3'],
    ['1.2.3.0/08', '1.2.3.0/08'],
    ['127.1', '127.1'],
    [' junk ', 'junk'],
  ])('%j is kept as foreign text %j', (value, key) => {
    expect(normaliseRule(value)).toEqual({ value, key, cidr: undefined });
  });
});

describe('normaliseRule on start/end ranges (a.b.c.d-e.f.g.h)', () => {
  // One key per set of addresses: a range that is exactly one block is keyed as that block, so a
  // start/end rule and a CIDR rule for the same addresses are the same rule. Figures by hand:
  // 1.2.3.0 is 16909056, 1.2.3.255 16909311.
  it.each([
    ['1.2.3.0-1.2.3.255', '1.2.3.0/24', { base: 16909056, length: 24 }, { start: 16909056, end: 16909311 }],
    ['1.2.3.4-1.2.3.4', '1.2.3.4/32', { base: 16909060, length: 32 }, { start: 16909060, end: 16909060 }],
    [' 1.2.3.4 - 1.2.3.5 ', '1.2.3.4/31', { base: 16909060, length: 31 }, { start: 16909060, end: 16909061 }],
    ['1.2.3.4-1.2.3.9', '1.2.3.4-1.2.3.9', undefined, { start: 16909060, end: 16909065 }],
    ['1.2.3.0-1.2.4.0', '1.2.3.0-1.2.4.0', undefined, { start: 16909056, end: 16909312 }],
  ])('%j is the range keyed %s', (value, key, cidr, range) => {
    expect(normaliseRule(value)).toEqual({ value, key, cidr, range });
  });

  it.each([['1.2.3.9-1.2.3.4'], ['1.2.3.0/24-1.2.4.0'], ['1.2.3.4-'], ['010.1.2.3-10.1.2.4'], ['1.2.3.4-2001:db8::1']])('%j is foreign text', (value) => {
    expect(normaliseRule(value)).toEqual({ value, key: value.trim(), cidr: undefined });
  });
});
