import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OWNER_ID } from '../../src/targets/perimeter-profile/rules.js';
import { REDIS_RULE_NAME, redisOwnerRule, redisRuleName } from '../../src/targets/redis/names.js';

// Redis rule names take letters, digits and underscores (names.ts says where that comes from), so
// tagwall's are tagwall_<owner>_<n>: these check that such names are valid and stay one owner's.

const ownerArb = fc
  .array(fc.constantFrom(...'ab1-'.split('')), { minLength: 1, maxLength: 8 })
  .map((cs) => cs.join(''))
  .filter((s) => OWNER_ID.test(s));

describe('Redis rule names', () => {
  it('spells the owner with underscores and takes letters, digits and underscores only', () => {
    expect(redisRuleName('team-a', 3)).toBe('tagwall_team_a_3');
    expect(REDIS_RULE_NAME.test(redisRuleName('team-a', 3))).toBe(true);
    expect(REDIS_RULE_NAME.test('tagwall-team-a-3')).toBe(false);
    expect(() => redisRuleName('Team_A', 1)).toThrow(RangeError);
  });

  it('a name is one owner\'s only, and that owner reads back its number', () => {
    let prefixPairs = 0;
    fc.assert(
      fc.property(ownerArb, ownerArb, fc.integer({ min: 1, max: 300 }), (a, b, n) => {
        const name = redisRuleName(a, n);
        expect(REDIS_RULE_NAME.test(name)).toBe(true);
        expect(redisOwnerRule(a).exec(name)?.[1]).toBe(String(n));
        // The case that could confuse: one owner's ID begins with the other's (a and a-1).
        if (a !== b && (b.startsWith(`${a}-`) || a.startsWith(`${b}-`))) prefixPairs++;
        if (a !== b) expect(redisOwnerRule(b).test(name)).toBe(false);
      }),
      { numRuns: 3000 },
    );
    expect(prefixPairs).toBeGreaterThan(0);
    // The pair the comment in names.ts names: owner a-1's rule 2 is not owner a's rule "1_2".
    expect(redisOwnerRule('a').test(redisRuleName('a-1', 2))).toBe(false);
  });

  it('matches names in any case, as ARM compares them', () => {
    expect(redisOwnerRule('team-a').exec('TAGWALL_TEAM_A_12')?.[1]).toBe('12');
    expect(redisOwnerRule('team-a').test('tagwall_team_a_0')).toBe(false);
    expect(redisOwnerRule('team-a').test('tagwall-team-a-1')).toBe(false);
  });
});
