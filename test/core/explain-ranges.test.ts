import { describe, expect, it } from 'vitest';
import { collapseRanges } from '../../src/core/collapse-ranges.js';
import { explainRangeWidening, widenedRanges } from '../../src/core/explain-ranges.js';
import { tinyDocument } from './documents.js';
import { FORBIDDEN_SPANS, ip, minus, size, span, union, wantedSpans, type Span } from './reference.js';

// Each figure is worked out by hand or with the reference set algebra, never with src/core.

const doc = tinyDocument([
  { name: 'A', prefixes: ['20.0.0.0/30', '20.0.0.16/30'] },
  { name: 'B', prefixes: ['20.0.0.40/32', '2001:db8::/64'] },
  // Another customer's Azure space, not selected: it lies inside the gap between A's blocks.
  { name: 'Other', prefixes: ['20.0.0.8/30'] },
]);

function explainAt(maxRules: number, kept: Span[] = []) {
  const source = wantedSpans(['20.0.0.0/30', '20.0.0.16/30', '20.0.0.40/32']);
  const result = collapseRanges(source, { maxRules, blocked: FORBIDDEN_SPANS, kept });
  return { result, report: explainRangeWidening({ selected: ['A', 'B'], source, rules: result.rules }, doc) };
}

describe('explain for ranges', () => {
  it('with room for every interval nothing is widened', () => {
    const { report } = explainAt(3);
    expect(report.rules).toEqual([]);
    expect(report.totals).toEqual({ widenedRules: 0, excessAddresses: 0, excessInAzure: 0, excessOutsideAzure: 0 });
  });

  it('one widened range: its source, its excess, and how much of the excess is Azure\'s', () => {
    // Gaps: 20.0.0.4-15 (12 addresses, 4 of them Other's) and 20.0.0.20-39 (20). Two rules bridge the first.
    const { result, report } = explainAt(2);
    expect(report.rules).toEqual([{ rule: '20.0.0.0-20.0.0.19', sourceAddresses: 8, excessAddresses: 12, excessInAzure: 4, excessOutsideAzure: 8, tags: ['A'] }]);
    expect(report.totals).toEqual({ widenedRules: 1, excessAddresses: 12, excessInAzure: 4, excessOutsideAzure: 8 });
    expect(report.totals.excessAddresses).toBe(result.excessAddresses);
  });

  it('one range for all: every selected tag inside it', () => {
    const { result, report } = explainAt(1);
    expect(report.rules).toEqual([{ rule: '20.0.0.0-20.0.0.40', sourceAddresses: 9, excessAddresses: 32, excessInAzure: 4, excessOutsideAzure: 28, tags: ['A', 'B'] }]);
    expect(report.totals.excessAddresses).toBe(result.excessAddresses);
  });

  it('overlapping ranges (a new one across a kept one): each range its own figures, the totals once per address', () => {
    const kept = [{ start: ip('20.0.0.2'), end: ip('20.0.0.10') }];
    const { result, report } = explainAt(2, kept);
    const all = union(result.rules.map((x) => ({ ...x })));
    const source = wantedSpans(['20.0.0.0/30', '20.0.0.16/30', '20.0.0.40/32']);
    expect(report.totals.excessAddresses).toBe(size(minus(all, source)));
    expect(report.totals.excessAddresses).toBe(result.excessAddresses);
    const perRange = report.rules.reduce((n, x) => n + x.excessAddresses, 0);
    expect(perRange).toBeGreaterThan(report.totals.excessAddresses);
    for (const x of report.rules) {
      const [a, b] = x.rule.split('-');
      const range = { start: span(a!).start, end: span(b ?? a!).end };
      expect(x.excessAddresses, x.rule).toBe(size(minus([range], source)));
    }
    // Widest first.
    expect(report.rules.map((x) => x.rule)).toEqual(['20.0.0.0-20.0.0.19', '20.0.0.2-20.0.0.10']);
    expect(widenedRanges({ selected: ['A', 'B'], source, rules: result.rules }).length).toBe(2);
  });
});
