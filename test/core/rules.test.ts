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
