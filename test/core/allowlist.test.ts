import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAllowlist, validateCidrList, type AllowlistRequest } from '../../src/core/allowlist.js';
import { isTagwallError, type TagwallError } from '../../src/core/errors.js';
import { formatRule } from '../../src/core/ipv4.js';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { tinyDocument, type TinyTag } from './documents.js';
import { auditRules, dotted, FORBIDDEN_SPANS, ip, minus, span, union, wantedSpans, type Span } from './reference.js';

function allowlistError(doc: ServiceTagDocument, request: AllowlistRequest): TagwallError {
  try {
    buildAllowlist(doc, request);
  } catch (e) {
    if (isTagwallError(e)) return e;
    throw e;
  }
  throw new Error('the request was accepted');
}

describe('forbidden space in the selection', () => {
  it('removes only the forbidden part of each prefix, counting addresses once', () => {
    const doc = tinyDocument([
      { name: 'Wide', prefixes: ['10.0.0.0/7', '172.0.0.0/8', '100.0.0.0/8', '192.168.1.0/24', '52.0.0.0/8'] },
      // The same private addresses again, through another tag: still removed once.
      { name: 'Again', prefixes: ['10.0.0.0/9', '192.168.1.128/25'] },
    ]);
    const a = buildAllowlist(doc, { select: ['*'], maxRules: 1000 });
    // 10/8 + 172.16/12 + 100.64/10 + a /24 of 192.168/16.
    expect(a.stats.forbiddenAddressesRemoved).toBe(2 ** 24 + 2 ** 20 + 2 ** 22 + 256);
    expect(a.stats.excludedAddressesRemoved).toBe(0);
    expect(a.stats.excessAddresses).toBe(0);
    expect(a.rules.map(formatRule)).toEqual([
      '11.0.0.0/8',
      '52.0.0.0/8',
      '100.0.0.0/10',
      '100.128.0.0/9',
      '172.0.0.0/12',
      '172.32.0.0/11',
      '172.64.0.0/10',
      '172.128.0.0/9',
    ]);
    expect(a.stats.sourceAddresses).toBe(2 * 2 ** 24 + (2 ** 24 - 2 ** 22) + (2 ** 24 - 2 ** 20));
  });

  it('keeps 172.199.0.0/16 and 172.192.128.0/17, which are public', () => {
    const doc = tinyDocument([{ name: 'Azure', prefixes: ['172.199.0.0/16', '172.192.128.0/17'] }]);
    const a = buildAllowlist(doc, { select: ['Azure'], maxRules: 10 });
    expect(a.rules.map(formatRule)).toEqual(['172.192.128.0/17', '172.199.0.0/16']);
    expect(a.stats.forbiddenAddressesRemoved).toBe(0);
  });

  it('a tag that is all forbidden leaves nothing, and says so', () => {
    const doc = tinyDocument([{ name: 'Private', prefixes: ['10.1.0.0/16', '192.168.0.0/24'] }]);
    const a = buildAllowlist(doc, { select: ['Private'], maxRules: 5 });
    expect(a.rules).toEqual([]);
    expect(a.stats.forbiddenAddressesRemoved).toBe(65536 + 256);
    expect(a.warnings.some((w) => w.includes('no IPv4 address'))).toBe(true);
  });

  it('never widens into forbidden space, even when that costs a rule', () => {
    const doc = tinyDocument([{ name: 'Edges', prefixes: ['9.255.255.255/32', '11.0.0.0/32'] }]);
    expect(allowlistError(doc, { select: ['Edges'], maxRules: 1 }).code).toBe('COLLAPSE_INFEASIBLE');
    expect(buildAllowlist(doc, { select: ['Edges'], maxRules: 2 }).rules.map(formatRule)).toEqual(['9.255.255.255', '11.0.0.0']);
  });
});

describe('counts', () => {
  it('counts prefixes per tag, IPv6 dropped, and the lossless merge', () => {
    const doc = tinyDocument([
      { name: 'A', prefixes: ['52.0.0.0/25', '52.0.0.128/25', '2603:1000::/40'] },
      { name: 'B', prefixes: ['52.0.0.0/25', '2603:1000::/40', '2603:1001::/40', '52.9.0.0/16'] },
    ]);
    const a = buildAllowlist(doc, { select: ['A', 'B'], maxRules: 1000 });
    expect(a.stats.selectedPrefixes).toBe(7);
    expect(a.stats.ipv6Dropped).toBe(3);
    expect(a.stats.mergedPrefixes).toBe(2);
    expect(a.rules.map(formatRule)).toEqual(['52.0.0.0/24', '52.9.0.0/16']);
    expect(a.selected).toEqual(['A', 'B']);
  });

  it('an IPv6-only selection gives no rules and two warnings', () => {
    const doc = tinyDocument([{ name: 'Six', prefixes: ['2603:1000::/40'] }]);
    const a = buildAllowlist(doc, { select: ['Six'], maxRules: 1000 });
    expect(a.rules).toEqual([]);
    expect(a.warnings).toHaveLength(2);
  });
});

describe('extra and exclude', () => {
  const doc = tinyDocument([{ name: 'Svc', prefixes: ['52.0.0.0/24', '52.0.2.0/24'] }]);

  it('reports every bad extra and exclude together', () => {
    const bad = ['1.2.3', '2001:db8::/32', '10.1.0.0/16', '172.16.5.5', '52.1.2.3/24'];
    const e = allowlistError(doc, { select: ['Svc'], extra: [...bad, '52.7.0.0/16'], exclude: ['nope'], maxRules: 10 });
    expect(e.code).toBe('CIDR_INVALID');
    expect(e.message).toBe('6 bad CIDRs');
    expect(e.details).toHaveLength(6);
    expect(e.details[0]).toContain('"1.2.3"');
    expect(e.details[1]).toContain('IPv6');
    expect(e.details[2]).toContain('10.0.0.0/8');
    expect(e.details[3]).toContain('172.16.0.0/12');
    expect(e.details[4]).toContain('did you mean 52.1.2.0/24');
    expect(e.details[5]).toMatch(/^exclude .*"nope"/);
  });

  it('a single bad value is the message itself', () => {
    const e = allowlistError(doc, { select: ['Svc'], extra: ['192.168.1.0/24'], maxRules: 10 });
    expect(e.message).toContain('192.168.0.0/16');
    expect(e.message).toContain('private');
    expect(e.details).toEqual([]);
  });

  it.each([
    ['extra', '52.9.0.0/08', 'extra "52.9.0.0/08" is not an IPv4 CIDR: prefix length "08" has a leading zero'],
    ['extra', '052.9.0.0/16', 'extra "052.9.0.0/16" is not an IPv4 CIDR: "052" has a leading zero, which some software reads as octal'],
    ['extra', '52.9.1', 'extra "52.9.1" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['extra', '0x34.9.0.1', 'extra "0x34.9.0.1" is not an IPv4 address: write the address as four decimal numbers, a.b.c.d'],
    ['extra', '52.9.0.1/33', 'extra "52.9.0.1/33" is not an IPv4 CIDR: prefix length 33 is over 32'],
    ['extra', '::ffff:52.9.0.1', 'extra "::ffff:52.9.0.1" is IPv6; Key Vault takes IPv4 only; write 52.9.0.1 instead'],
    ['exclude', '52.0.0.0/08', 'exclude "52.0.0.0/08" is not an IPv4 CIDR: prefix length "08" has a leading zero'],
  ])('%s %j is refused with a message naming it', (kind, value, message) => {
    expect(validateCidrList(kind as 'extra' | 'exclude', [value])).toEqual([message]);
    const e = allowlistError(doc, { select: ['Svc'], [kind]: [value], maxRules: 10 });
    expect(e.code).toBe('CIDR_INVALID');
    expect(e.message).toBe(message);
  });

  it('validateCidrList lists the problems without throwing', () => {
    expect(validateCidrList('extra', ['52.0.0.0/8', '10.0.0.0/8', 'x'])).toHaveLength(2);
    // Excludes may name forbidden space: excluding what is never allowed is harmless.
    expect(validateCidrList('exclude', ['10.0.0.0/8'])).toEqual([]);
  });

  it('adds public extras, bare addresses included', () => {
    const a = buildAllowlist(doc, { select: ['Svc'], extra: ['52.9.9.9', '172.199.0.0/16'], maxRules: 10 });
    expect(a.rules.map(formatRule)).toEqual(['52.0.0.0/24', '52.0.2.0/24', '52.9.9.9', '172.199.0.0/16']);
  });

  it('lets an exclusion win over an extra, with a warning', () => {
    const a = buildAllowlist(doc, { select: ['Svc'], extra: ['52.9.9.0/24'], exclude: ['52.9.9.128/25'], maxRules: 10 });
    expect(a.rules.map(formatRule)).toEqual(['52.0.0.0/24', '52.0.2.0/24', '52.9.9.0/25']);
    expect(a.warnings.some((w) => w.includes('52.9.9.128/25') && w.includes('exclusion wins'))).toBe(true);
  });

  it('counts excluded addresses and keeps the cover out of them', () => {
    const request = { select: ['Svc'], exclude: ['52.0.0.64/26', '52.0.1.0/24'], maxRules: 1 };
    // Any one block over 52.0.0.0–52.0.2.255 holds an exclusion; so does any two.
    const e = allowlistError(doc, request);
    expect(e.code).toBe('COLLAPSE_INFEASIBLE');
    expect(e.message).toContain('smallest budget that works is 3');
    const a = buildAllowlist(doc, { ...request, maxRules: 3 });
    expect(a.stats.excludedAddressesRemoved).toBe(64);
    expect(a.rules.map(formatRule)).toEqual(['52.0.0.0/26', '52.0.0.128/25', '52.0.2.0/24']);
  });
});

describe('excludes are never allowed, however far the cover widens', () => {
  it('holds on random tags, excludes and budgets near forbidden space', () => {
    const near = fc.constantFrom(ip('52.0.0.0'), ip('9.255.252.0'), ip('172.31.254.0'), ip('100.63.252.0'), ip('223.255.252.0'));
    const prefix = (base: number) =>
      fc.tuple(fc.integer({ min: 23, max: 32 }), fc.nat(1023)).map(([length, offset]) => {
        const size = 2 ** (32 - length);
        const at = base + offset;
        return `${dotted(at - (at % size))}/${length}`;
      });
    const scenario = near.chain((base) =>
      fc.record({
        tags: fc.array(fc.array(prefix(base), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
        exclude: fc.array(prefix(base), { maxLength: 4 }),
        maxRules: fc.integer({ min: 1, max: 8 }),
        split31: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ tags, exclude, maxRules, split31 }) => {
        const doc = tinyDocument(tags.map((prefixes, i): TinyTag => ({ name: `T${i}`, prefixes })));
        const request = { select: ['*'], exclude, maxRules, split31 };
        const excluded = union(exclude.map(span));
        const wanted = minus(wantedSpans(tags.flat()), excluded);
        let a;
        try {
          a = buildAllowlist(doc, request);
        } catch (e) {
          expect(isTagwallError(e, 'COLLAPSE_INFEASIBLE')).toBe(true);
          return;
        }
        const blocked: Span[] = union([...FORBIDDEN_SPANS, ...excluded]);
        const audit = auditRules(a.rules, wanted, blocked, maxRules);
        expect(audit.problems).toEqual([]);
        expect(a.source).toEqual(wanted);
        expect(a.stats.excessAddresses).toBe(audit.excess);
        const removed = union(wantedSpans(tags.flat()));
        expect(a.stats.excludedAddressesRemoved).toBe(
          removed.reduce((n, s) => n + s.end - s.start + 1, 0) - wanted.reduce((n, s) => n + s.end - s.start + 1, 0),
        );
        if (split31) expect(a.rules.some((r) => r.length === 31)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
