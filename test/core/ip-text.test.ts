import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import { cidrFamily, isCidrProblem, parseCidr, readCidr, type CidrProblem } from '../../src/core/ip-text.js';
import { formatCidr, formatRule } from '../../src/core/ipv4.js';
import { dotted, ip } from './reference.js';

const TOP = 2 ** 32 - 1;

function problemOf(text: string, options?: Parameters<typeof readCidr>[1]): CidrProblem {
  const r = readCidr(text, options);
  if (!isCidrProblem(r)) throw new Error(`${JSON.stringify(text)} was accepted as ${JSON.stringify(r)}`);
  return r;
}

function thrownBy(text: string): unknown {
  try {
    parseCidr(text);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('accepts', () => {
  it.each([
    ['0.0.0.0/0', 0, 0],
    ['0.0.0.0/32', 0, 32],
    ['0.0.0.0', 0, 32],
    ['255.255.255.255/32', TOP, 32],
    ['255.255.255.255', TOP, 32],
    ['255.255.255.254/31', TOP - 1, 31],
    ['128.0.0.0/1', 2 ** 31, 1],
    ['1.2.3.4', 16909060, 32],
    ['1.2.3.4/32', 16909060, 32],
    ['20.1.2.0/24', ip('20.1.2.0'), 24],
    ['52.0.0.0/8', ip('52.0.0.0'), 8],
    ['10.0.0.0/8', ip('10.0.0.0'), 8],
    ['100.200.0.0/16', ip('100.200.0.0'), 16],
    ['  40.1.0.0/16 ', ip('40.1.0.0'), 16],
    ['\t1.2.3.4\n', 16909060, 32],
  ])('%j as base %d, length %d', (text, base, length) => {
    expect(readCidr(text)).toEqual({ base, length });
    expect(parseCidr(text)).toEqual({ base, length });
    expect(parseCidr(text, { hostBits: 'mask' })).toEqual({ base, length });
    expect(cidrFamily(text)).toBe('ipv4');
  });
});

describe('host bits', () => {
  it.each([
    ['20.1.2.3/24', '20.1.2.0/24'],
    ['1.2.3.4/0', '0.0.0.0/0'],
    ['255.255.255.255/1', '128.0.0.0/1'],
    ['10.1.1.1/31', '10.1.1.0/31'],
  ])('strict refuses %j and suggests %j', (text, suggestion) => {
    const p = problemOf(text);
    expect(p.code).toBe('CIDR_HOST_BITS');
    expect(p.message).toBe(`"${text}" has host bits set; did you mean ${suggestion}?`);
    expect(isTagwallError(thrownBy(text), 'CIDR_HOST_BITS')).toBe(true);
    // Host bits make a valid address with a careless length, not another family.
    expect(cidrFamily(text)).toBe('ipv4');
  });

  it.each([
    ['20.1.2.3/24', '20.1.2.0/24'],
    ['1.2.3.4/0', '0.0.0.0/0'],
    ['10.1.1.1/31', '10.1.1.0/31'],
    ['10.1.1.1/32', '10.1.1.1/32'],
    [' 20.1.2.255/25 ', '20.1.2.128/25'],
  ])('mask clears %j to %j', (text, cleared) => {
    expect(formatCidr(parseCidr(text, { hostBits: 'mask' }))).toBe(cleared);
  });

  it('a text read once with mask is still refused without it, and the other way round', () => {
    expect(formatCidr(parseCidr('52.7.7.7/16', { hostBits: 'mask' }))).toBe('52.7.0.0/16');
    expect(problemOf('52.7.7.7/16').code).toBe('CIDR_HOST_BITS');
    expect(problemOf('52.8.8.8/16').code).toBe('CIDR_HOST_BITS');
    expect(formatCidr(parseCidr('52.8.8.8/16', { hostBits: 'mask' }))).toBe('52.8.0.0/16');
  });
});

describe('IPv6 is told apart and refused', () => {
  it.each([
    ['2001:db8::/32', ''],
    ['2001:db8::1', ''],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', ''],
    ['::1', ''],
    ['::', ''],
    ['::/0', ''],
    ['2603:1000::/128', ''],
    ['FE80::', ''],
    ['1:2:3:4:5:6:1.2.3.4', ''],
    ['::ffff:1.2.3.0/120', ''],
    ['::ffff:1.2.3.4', '; write 1.2.3.4 instead'],
    ['::FFFF:102:304', '; write 1.2.3.4 instead'],
    ['0:0:0:0:0:ffff:52.1.2.3', '; write 52.1.2.3 instead'],
  ])('%j', (text, hint) => {
    const p = problemOf(text);
    expect(p).toEqual({ code: 'CIDR_IPV6', message: `"${text}" is IPv6; Key Vault takes IPv4 only${hint}` });
    expect(cidrFamily(text)).toBe('ipv6');
    expect(isTagwallError(thrownBy(text), 'CIDR_IPV6')).toBe(true);
    // Masking host bits never turns IPv6 into IPv4.
    expect(problemOf(text, { hostBits: 'mask' }).code).toBe('CIDR_IPV6');
  });
});

describe('refuses', () => {
  it.each([
    // What the message says about each kind of mistake.
    ['10.0.0.1/33', '"10.0.0.1/33" is not an IPv4 CIDR: prefix length 33 is over 32'],
    ['1.2.3.0/08', '"1.2.3.0/08" is not an IPv4 CIDR: prefix length "08" has a leading zero'],
    ['1.2.3.0/00', '"1.2.3.0/00" is not an IPv4 CIDR: prefix length "00" has a leading zero'],
    ['1.2.3.4/032', '"1.2.3.4/032" is not an IPv4 CIDR: prefix length "032" has a leading zero'],
    ['1.2.3.4/', '"1.2.3.4/" is not an IPv4 CIDR: the prefix length after "/" is missing'],
    ['1.2.3.4/-1', '"1.2.3.4/-1" is not an IPv4 CIDR: prefix length "-1" is not a whole number'],
    ['1.2.3.4/+8', '"1.2.3.4/+8" is not an IPv4 CIDR: prefix length "+8" is not a whole number'],
    ['1.2.3.4/1.5', '"1.2.3.4/1.5" is not an IPv4 CIDR: prefix length "1.5" is not a whole number'],
    ['1.2.3.4/0x8', '"1.2.3.4/0x8" is not an IPv4 CIDR: prefix length "0x8" is not a whole number'],
    ['1.2.3.4/8/8', '"1.2.3.4/8/8" is not an IPv4 CIDR: it has more than one "/"'],
    ['/24', '"/24" is not an IPv4 CIDR: the address before "/" is missing'],
    ['010.1.2.3', '"010.1.2.3" is not an IPv4 address: "010" has a leading zero, which some software reads as octal'],
    ['01.2.3.4', '"01.2.3.4" is not an IPv4 address: "01" has a leading zero, which some software reads as octal'],
    ['1.2.3.04', '"1.2.3.04" is not an IPv4 address: "04" has a leading zero, which some software reads as octal'],
    ['00.0.0.0', '"00.0.0.0" is not an IPv4 address: "00" has a leading zero, which some software reads as octal'],
    ['052.239.134.0/24', '"052.239.134.0/24" is not an IPv4 CIDR: "052" has a leading zero, which some software reads as octal'],
    ['1.2.3.256', '"1.2.3.256" is not an IPv4 address: 256 is over 255'],
    ['1.2.3.99999999999/8', '"1.2.3.99999999999/8" is not an IPv4 CIDR: 99999999999 is over 255'],
    ['0x7f.1', '"0x7f.1" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['0x7f.0.0.1', '"0x7f.0.0.1" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['0177.0.0.1', '"0177.0.0.1" is not an IPv4 address: "0177" has a leading zero, which some software reads as octal'],
    ['127.1', '"127.1" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['1.2.3', '"1.2.3" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['1.2.3/24', '"1.2.3/24" is not an IPv4 CIDR: write the address as four decimal numbers, a.b.c.d'],
    ['4294967295', '"4294967295" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['', '"" is not an IPv4 address or CIDR range: it is empty'],
    ['   ', '"   " is not an IPv4 address or CIDR range: it is empty'],
    ['nope', '"nope" is not an IPv4 address or CIDR range'],
    ['a.b.c.d', '"a.b.c.d" is not an IPv4 address or CIDR range'],
    ['1.2.3.4.5', '"1.2.3.4.5" is not an IPv4 address or CIDR range'],
    ['1.2.3.4 /24', '"1.2.3.4 /24" is not an IPv4 address or CIDR range'],
    ['1 .2.3.4', '"1 .2.3.4" is not an IPv4 address or CIDR range'],
    ['1e2.1.1.1', '"1e2.1.1.1" is not an IPv4 address or CIDR range'],
    ['\uff11.2.3.4', '"\uff11.2.3.4" is not an IPv4 address or CIDR range'],
    ['1.2.3.4:80', '"1.2.3.4:80" is not an IPv4 or IPv6 address or CIDR range'],
    ['2001:db8:::1', '"2001:db8:::1" is not an IPv4 or IPv6 address or CIDR range'],
    ['1::2::3', '"1::2::3" is not an IPv4 or IPv6 address or CIDR range'],
    ['00000::1', '"00000::1" is not an IPv4 or IPv6 address or CIDR range'],
    ['[::1]', '"[::1]" is not an IPv4 or IPv6 address or CIDR range'],
    ['2001:db8::/129', '"2001:db8::/129" is not an IPv6 CIDR: prefix length 129 is over 128'],
    ['2001:db8::/032', '"2001:db8::/032" is not an IPv6 CIDR: prefix length "032" has a leading zero'],
    ['fe80::1%eth0', '"fe80::1%eth0" is not an IPv6 address: it has a zone index'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64" is not an IPv6 CIDR: it has a zone index'],
    ['::ffff:01.2.3.4', '"::ffff:01.2.3.4" is not an IPv6 address: its IPv4 part must be four decimal numbers, a.b.c.d'],
    ['::ffff:0x7f.0.0.1', '"::ffff:0x7f.0.0.1" is not an IPv6 address: its IPv4 part must be four decimal numbers, a.b.c.d'],
    ['::ffff:1.2.3', '"::ffff:1.2.3" is not an IPv6 address: its IPv4 part must be four decimal numbers, a.b.c.d'],
    ['::ffff:256.1.1.1', '"::ffff:256.1.1.1" is not an IPv4 or IPv6 address or CIDR range'],
  ])('%j', (text, message) => {
    expect(problemOf(text)).toEqual({ code: 'CIDR_INVALID', message });
    expect(problemOf(text, { hostBits: 'mask' }).code).toBe('CIDR_INVALID');
    expect(cidrFamily(text)).toBe('invalid');
    const thrown = thrownBy(text);
    expect(isTagwallError(thrown, 'CIDR_INVALID')).toBe(true);
    expect((thrown as Error).message).toBe(message);
  });
});

describe('against independent oracles', () => {
  /** What must be answered, decided with node:net and plain string checks, not with ipaddr.js. */
  function model(text: string): { base: number; length: number } | 'host bits' | 'refused' {
    const [addr, len, ...rest] = text.trim().split('/');
    if (rest.length > 0 || !isIPv4(addr!) || (len !== undefined && !/^(0|[1-9]\d?)$/.test(len)) || Number(len ?? 32) > 32) return 'refused';
    const length = len === undefined ? 32 : Number(len);
    const value = ip(addr!);
    const base = value - (value % 2 ** (32 - length));
    return base === value ? { base, length } : 'host bits';
  }

  function answer(text: string): ReturnType<typeof model> {
    const r = readCidr(text);
    if (!isCidrProblem(r)) return r;
    return r.code === 'CIDR_HOST_BITS' ? 'host bits' : 'refused';
  }

  const octet = fc.oneof(
    fc.nat(300).map(String),
    fc.nat(99).map((n) => `0${n}`),
    fc.constantFrom('0', '00', '255', '256', '1000', '', 'x', '-1', '0x1', '0xff', ' 1', '1e1'),
  );
  const length = fc.oneof(fc.nat(40).map(String), fc.constantFrom('', '08', '032', '00', '3 ', '+1', '1.5', '0x8'));
  const nearMiss = fc
    .tuple(fc.array(octet, { minLength: 1, maxLength: 5 }), fc.option(length), fc.constantFrom('', ' ', '/', '.'))
    .map(([octets, len, tail]) => `${octets.join('.')}${len === null ? '' : `/${len}`}${tail}`);
  const noise = fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', '/', ' ', ':', 'a', 'x', 'f', '%'), maxLength: 20 });

  it('agrees with node:net on random near-miss addresses and on noise', () => {
    fc.assert(
      fc.property(fc.oneof(nearMiss, noise), (text) => {
        expect(answer(text)).toEqual(model(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('format then parse round-trips every block', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TOP }), fc.integer({ min: 0, max: 32 }), (n, length) => {
        const base = n - (n % 2 ** (32 - length));
        expect(readCidr(formatCidr({ base, length }))).toEqual({ base, length });
        expect(readCidr(formatRule({ base, length }))).toEqual({ base, length });
        expect(readCidr(`${dotted(base)}/${length}`)).toEqual({ base, length });
      }),
      { numRuns: 2000 },
    );
  });

  it('any address with any length is refused for host bits exactly when the block does not start there', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TOP }), fc.integer({ min: 0, max: 32 }), (n, length) => {
        const text = `${dotted(n)}/${length}`;
        const base = n - (n % 2 ** (32 - length));
        expect(answer(text)).toEqual(model(text));
        expect(parseCidr(text, { hostBits: 'mask' })).toEqual({ base, length });
      }),
      { numRuns: 2000 },
    );
  });

  it('every IPv6 address and CIDR is IPv6, and node:net agrees it is one', () => {
    const group = fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.nat(8), fc.option(fc.integer({ min: 0, max: 128 })), (groups, cut, len) => {
        // Half the time, write the longest run from `cut` as `::`.
        const full = groups.join(':');
        const short = cut < 8 ? `${groups.slice(0, cut).join(':')}::${groups.slice(cut + 1).join(':')}` : full;
        for (const addr of [full, short]) {
          expect(isIPv6(addr)).toBe(true);
          const text = len === null ? addr : `${addr}/${len}`;
          expect(cidrFamily(text)).toBe('ipv6');
          expect(problemOf(text).code).toBe('CIDR_IPV6');
        }
      }),
    );
  });
});
