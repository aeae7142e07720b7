import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, formatCidr } from '../../src/core/ipv4.js';
import { namedRules } from '../../src/export/named.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';
import { LEGACY_RULE, OWNER_ID, ownerRule } from '../../src/targets/perimeter-profile/rules.js';
import { redisOwnerRule } from '../../src/targets/redis/names.js';

// The IaC export names every rule of a named kind from its addresses. tagwall sync takes a rule as
// its own by name: tagwall-<owner>-<n> (tagwall-<n> before owner IDs) and, on Redis, tagwall_<owner>_<n>
// with the owner's dashes as underscores. An owner ID may be digits and dashes only (the default is
// 8 hex digits of a hash, all digits one time in ~24), so an exported name must never have any of
// these shapes for ANY valid owner, or sync would take (and later remove) the export's rules.

const NAMED = FIREWALL_KINDS.filter((k) => k.iac.named !== undefined);

/**
 * The owner, if any, under which a name is tagwall sync's own, by the shapes alone (the test's own
 * reading of names.ts and rules.ts, not their regexes): the part between the form's prefix and the
 * last separator before <n> is an owner ID, its separators written as `sep`.
 */
function ownerOf(name: string, sep: '_' | '-'): string | undefined {
  const lower = name.toLowerCase();
  const head = `tagwall${sep}`;
  if (!lower.startsWith(head)) return undefined;
  const rest = lower.slice(head.length);
  const cut = rest.lastIndexOf(sep);
  if (cut <= 0 || !/^[1-9][0-9]*$/.test(rest.slice(cut + 1))) return undefined;
  const owner = rest.slice(0, cut).split(sep).join('-');
  // Underscores never stand for anything in the dash form.
  return /^[a-z0-9-]+$/.test(owner) && OWNER_ID.test(owner) ? owner : undefined;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Rules as the plan writes them: a CIDR block, a bare address, a start-end range (digit-heavy, like real ones). */
const ruleArb = fc.oneof(
  fc.tuple(u32, fc.integer({ min: 0, max: 32 })).map(([a, len]) => {
    const size = 2 ** (32 - len);
    return formatCidr({ base: a - (a % size), length: len });
  }),
  u32.map((a) => formatAddress(a)),
  fc.tuple(u32, u32).map(([a, b]) => `${formatAddress(Math.min(a, b))}-${formatAddress(Math.max(a, b))}`),
  fc.constantFrom('0.0.0.0', '52.1.2.0/24', '52.1.2.0-52.1.2.255', '10.0.0.1-10.0.0.9'),
);
const ownerArb = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{8}$/),
  fc.stringMatching(/^[0-9]{8}$/),
  fc.array(fc.constantFrom(...'0123456789-'.split('')), { minLength: 1, maxLength: 20 }).map((c) => c.join('')),
  fc.array(fc.constantFrom(...'ab19-'.split('')), { minLength: 1, maxLength: 12 }).map((c) => c.join('')),
).filter((o) => OWNER_ID.test(o));

describe('exported rule names are never tagwall sync\'s, for any owner ID', () => {
  it(`over every named kind (${NAMED.map((k) => k.kind).join(', ')}): no owner's pattern takes an exported name`, () => {
    expect(NAMED.map((k) => k.kind)).toEqual(expect.arrayContaining(['sql', 'redis', 'postgresql-flexible', 'mysql-flexible', 'synapse', 'containerapp']));
    // Names whose numbers alone would spell a digits-and-dashes owner and a rule number: the
    // dangerous shape, generated on purpose (a /24's last octet, a range's last one).
    let digitShaped = 0;
    let named = 0;
    fc.assert(
      fc.property(fc.constantFrom(...NAMED.map((k) => k.kind)), ruleArb, ownerArb, (kindName, rule, owner) => {
        const kind = NAMED.find((k) => k.kind === kindName)!;
        let names: string[];
        try {
          names = namedRules(kind, [rule]).map((r) => r.name);
        } catch {
          return; // a rule the kind does not take (CIDR only) is never exported
        }
        for (const name of names) {
          named++;
          if (/^[0-9]+(_[0-9]+)+$/.test(name.replace(/^[A-Za-z]+_/, ''))) digitShaped++;
          expect(ownerOf(name, '_'), name).toBeUndefined();
          expect(ownerOf(name, '-'), name).toBeUndefined();
          expect(LEGACY_RULE.test(name), name).toBe(false);
          // And the adapters' own patterns, for an owner drawn at random (all digits among them).
          expect(redisOwnerRule(owner).test(name), `${owner} ${name}`).toBe(false);
          expect(ownerRule(owner).test(name), `${owner} ${name}`).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
    expect(named).toBeGreaterThan(4000);
    expect(digitShaped).toBeGreaterThan(2000);
  });

  it('the case that was open: owner 52-1-2-0 on Redis and a /24 exported for a cache', () => {
    const redis = NAMED.find((k) => k.kind === 'redis')!;
    const [rule] = namedRules(redis, ['52.1.2.0/24']);
    expect(redisOwnerRule('52-1-2-0').test(rule!.name)).toBe(false);
    expect(redisOwnerRule('52-1-2-0-52-1-2').test(namedRules(redis, ['52.1.2.0-52.1.2.255'])[0]!.name)).toBe(false);
  });
});
