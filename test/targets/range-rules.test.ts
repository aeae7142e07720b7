import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { afterSteps, planRangeSteps, RANGE_RULE_NAME_TAKEN, type RangeRuleKind, type RangeRuleView } from '../../src/targets/range-rules.js';
import { dotted, ip, minus, size, union, type Span } from '../core/reference.js';

// The pure planner of the one-by-one start/end kinds over random rule sets: replaying its steps,
// the rules after every step admit all that both the old and the new rules admit, the end is
// exactly the new list beside everyone else's rules, and a hard capacity is never exceeded.

const KIND: RangeRuleKind = { where: 'a test server', special: ['0.0.0.0/32'], specialName: 'the 0.0.0.0 entry', nameTakenCode: RANGE_RULE_NAME_TAKEN };
const SERVER = parseResourceId('/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg');
const BASE = ip('52.0.0.0');

const spanArb = fc.tuple(fc.nat(200), fc.nat(40)).map(([at, len]) => ({ start: BASE + at * 16, end: BASE + at * 16 + len }));
const text = (s: Span) => (s.start === s.end ? dotted(s.start) : `${dotted(s.start)}-${dotted(s.end)}`);
const view = (name: string, s: Span): RangeRuleView => ({ name, startIpAddress: dotted(s.start), endIpAddress: dotted(s.end) });
const admitted = (rules: readonly RangeRuleView[]) => union(rules.map((r) => ({ start: ip(r.startIpAddress), end: ip(r.endIpAddress) })));

function scenario(oldMine: Span[], foreign: Span[], next: Span[]) {
  const rules = [...oldMine.map((s, i) => view(`tagwall-ops-${i + 1}`, s)), ...foreign.map((s, i) => view(`person-${i}`, s))];
  // The new list always keeps everyone else's rules (the plan never drops them).
  const ipRules = [...foreign, ...next].map(text);
  return { rules, ipRules };
}

describe('planRangeSteps', () => {
  it('puts every new rule before any delete; after every step the rules admit old ∩ new; the end is exactly the new list', () => {
    let withDeletes = 0;
    fc.assert(
      fc.property(fc.array(spanArb, { maxLength: 12 }), fc.array(spanArb, { maxLength: 3 }), fc.array(spanArb, { maxLength: 12 }), (oldMine, foreign, next) => {
        const { rules, ipRules } = scenario(oldMine, foreign, next);
        const steps = planRangeSteps(SERVER, rules, ipRules, 'ops', KIND);
        const ops = steps.map((s) => s.op);
        if (ops.includes('delete') && ops.includes('put')) withDeletes++;
        expect(ops.lastIndexOf('put')).toBeLessThan(ops.includes('delete') ? ops.indexOf('delete') : Infinity);
        const both = (() => {
          const o = admitted(rules);
          const n = union([...foreign, ...next]);
          return minus(o, minus(o, n));
        })();
        for (let i = 0; i <= steps.length; i++) expect(size(minus(both, admitted(afterSteps(rules, steps.slice(0, i)))))).toBe(0);
        const end = afterSteps(rules, steps);
        expect(size(minus(admitted(end), union([...foreign, ...next])))).toBe(0);
        expect(size(minus(union([...foreign, ...next]), admitted(end)))).toBe(0);
        expect(end.filter((r) => r.name.startsWith('person-'))).toEqual(rules.filter((r) => r.name.startsWith('person-')));
      }),
      { numRuns: 300 },
    );
    // The case the order guards: some rules replaced by others in one change.
    expect(withDeletes).toBeGreaterThan(50);
  });

  it('under a hard capacity the count never exceeds it: deletes move before the puts that would not fit', () => {
    let moved = 0;
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 10 }), fc.array(spanArb, { minLength: 1, maxLength: 10 }), (oldMine, next) => {
        const { rules, ipRules } = scenario(oldMine, [], next);
        const capacity = Math.max(rules.length, new Set(ipRules).size);
        const steps = planRangeSteps(SERVER, rules, ipRules, 'ops', KIND, capacity);
        for (let i = 0; i <= steps.length; i++) expect(afterSteps(rules, steps.slice(0, i)).length).toBeLessThanOrEqual(capacity);
        const ops = steps.map((s) => s.op);
        if (ops.includes('delete') && ops.indexOf('delete') < ops.lastIndexOf('put')) moved++;
      }),
      { numRuns: 300 },
    );
    expect(moved).toBeGreaterThan(20);
  });
});
