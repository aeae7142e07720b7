import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAllowlist } from '../../src/core/allowlist.js';
import { azureSpace, explainWidening } from '../../src/core/explain.js';
import { formatCidr } from '../../src/core/ipv4.js';
import { TagIndex } from '../../src/core/selection.js';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { planTarget, type Guards } from '../../src/core/target-plan.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { tinyDocument } from './documents.js';
import { intersect, minus, size, span, union, wantedSpans, type Span } from './reference.js';

// The widening made reviewable, checked against the reference set algebra (string parsing and
// sort-and-sweep in test/core/reference.ts), never against src/core's own range math.

const PUBLIC = fileURLToPath(new URL('../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));

let doc: ServiceTagDocument;
let index: TagIndex;
/** Every IPv4 address the file lists, by the reference. */
let azure: Span[];

beforeAll(async () => {
  doc = await loadServiceTagFile(PUBLIC);
  index = new TagIndex(doc);
  azure = union(doc.tags.flatMap((t) => t.addressPrefixes.filter((p) => !p.includes(':')).map(span)));
});

function wantedOf(select: string[]): Span[] {
  const names = new Set(select);
  return wantedSpans(doc.tags.filter((t) => names.has(t.name)).flatMap((t) => t.addressPrefixes));
}

/** Each rule's excess by the reference: the rule's addresses minus the wanted ones. */
function referenceWidening(rules: readonly string[], wanted: Span[]) {
  return rules
    .map((rule) => {
      const r = span(rule);
      // Only the spans that meet the rule matter; a plain filter keeps the set algebra quick.
      const near = (spans: Span[]) => spans.filter((x) => x.end >= r.start && x.start <= r.end);
      const excess = minus([r], near(wanted));
      return { rule, length: Number(rule.split('/')[1] ?? 32), source: size(intersect([r], near(wanted))), excess: size(excess), inAzure: size(intersect(excess, near(azure))) };
    })
    .filter((w) => w.excess > 0);
}

describe('explain, against the reference', () => {
  it.each<[string[], number]>([
    [['AzureDevOps'], 10],
    [['PowerBI', 'LogicApps'], 300],
    [['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], 1000],
  ])('%j at %d rules: every widened rule, its source, its excess, and how much of it is Azure\'s', (select, maxRules) => {
    const allowlist = buildAllowlist(doc, { select, maxRules }, index);
    const explained = explainWidening(allowlist, doc);
    const want = referenceWidening(allowlist.rules.map(formatCidr), wantedOf(select));
    expect(explained.rules.map((r) => r.rule).sort()).toEqual(want.map((w) => w.rule).sort());
    const byRule = new Map(want.map((w) => [w.rule, w]));
    for (const r of explained.rules) {
      const w = byRule.get(r.rule)!;
      expect([r.sourceAddresses, r.excessAddresses, r.excessInAzure, r.excessOutsideAzure], r.rule).toEqual([w.source, w.excess, w.inAzure, w.excess - w.inAzure]);
      // The tags are the selected ones with a prefix inside the rule.
      const inside = doc.tags
        .filter((t) => select.includes(t.name) && t.addressPrefixes.some((p) => !p.includes(':') && span(p).start >= span(r.rule).start && span(p).end <= span(r.rule).end))
        .map((t) => t.name)
        .sort();
      expect(r.tags, r.rule).toEqual(inside);
    }
    expect(explained.totals.excessAddresses).toBe(allowlist.stats.excessAddresses);
    expect(explained.totals.excessInAzure).toBe(want.reduce((n, w) => n + w.inAzure, 0));
    // Widest first.
    const lengths = explained.rules.map((r) => Number(r.rule.split('/')[1]));
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
  });

  it('Azure\'s own space is every IPv4 prefix of the file, merged', () => {
    expect(azureSpace(doc).reduce((n, r) => n + (r.end - r.start + 1), 0)).toBe(size(azure));
  });
});

describe('the default bounds on the selections in the domain notes (Public 20251013)', () => {
  // Excess figures from the independent Python implementation (shared DOMAIN notes); the widest
  // widened rule of each by the reference above: a /22, a /18 and a /19.
  it.each<[string[], number, number]>([
    [['LogicApps'], 40_982, 22],
    [['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], 868_166, 18],
    [['PowerBI', 'LogicApps'], 270_257, 19],
  ])('%j at 1000 rules keeps its optimum (%d) under maxWidenedPrefix 12, widest /%d, so no WIDE_RULE', (select, excess, widest) => {
    const allowlist = buildAllowlist(doc, { select, maxRules: 1000, maxWidenedPrefix: 12 }, index);
    expect(allowlist.stats.excessAddresses).toBe(excess);
    expect(excess).toBeLessThanOrEqual(1_048_576);
    const ref = referenceWidening(allowlist.rules.map(formatCidr), wantedOf(select));
    expect(Math.min(...ref.map((w) => w.length))).toBe(widest);
    const plan = planTarget({
      firewall: { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' } },
      record: undefined,
      settings: { maxRules: 1000, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare', special: [] },
      guards: { maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 1_048_576, maxWidenedPrefix: 12, warnWidenedPrefix: 16 },
      force: false,
      desiredFor: () => allowlist,
    });
    expect(plan.refusals).toEqual([]);
    expect(plan.findings.map((f) => f.code)).not.toContain('WIDE_RULE');
  });
});

describe('the bounds at their edges', () => {
  // Two addresses at the ends of 20.0.0.0/12: one rule must be that /12, with 1,048,574 extra addresses.
  const ends = tinyDocument([{ name: 'Ends', prefixes: ['20.0.0.0/32', '20.15.255.255/32'] }]);
  const guards = (g: Partial<Guards>): Guards => ({ maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0, warnWidenedPrefix: 0, ...g });

  it('a widened /12 is allowed under maxWidenedPrefix 12 and refused under 13, which names the budget that works', () => {
    const at12 = buildAllowlist(ends, { select: ['Ends'], maxRules: 1, maxWidenedPrefix: 12 });
    expect(at12.rules.map(formatCidr)).toEqual(['20.0.0.0/12']);
    let error: { code?: string; values?: Record<string, unknown> } | undefined;
    try {
      buildAllowlist(ends, { select: ['Ends'], maxRules: 1, maxWidenedPrefix: 13 });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error).toMatchObject({ code: 'COLLAPSE_INFEASIBLE', values: { neededRules: 2, maxWidenedPrefix: 13, neededRulesWithoutBound: 1 } });
  });

  it('a source prefix wider than the bound admits no excess and is never limited', () => {
    const wide = tinyDocument([{ name: 'Wide', prefixes: ['20.64.0.0/10'] }]);
    expect(buildAllowlist(wide, { select: ['Wide'], maxRules: 1, maxWidenedPrefix: 12 }).rules.map(formatCidr)).toEqual(['20.64.0.0/10']);
  });

  it('WIDE_RULE fires for a widened rule wider than warnWidenedPrefix, not for one exactly at it', () => {
    const plan = (rule: string, warn: number) => {
      const doc16 = tinyDocument([{ name: 'Ends', prefixes: [rule.replace(/\/\d+$/, '/32'), `${rule.split('.')[0]}.${rule.split('.')[1]}.255.255/32`] }]);
      const a = buildAllowlist(doc16, { select: ['Ends'], maxRules: 1 });
      return planTarget({
        firewall: { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' } },
        record: undefined,
        settings: { maxRules: 1, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare', special: [] },
        guards: guards({ warnWidenedPrefix: warn }),
        force: false,
        desiredFor: () => a,
      });
    };
    // 20.1.0.0 and 20.1.255.255 need the /16 20.1.0.0/16.
    expect(plan('20.1.0.0/16', 16).findings.map((f) => f.code)).not.toContain('WIDE_RULE');
    expect(plan('20.1.0.0/16', 17).findings.find((f) => f.code === 'WIDE_RULE')).toMatchObject({ severity: 'warning', rules: ['20.1.0.0/16'], warnWidenedPrefix: 17 });
  });

  it('the excess guard refuses at one address over its limit, and not at it', () => {
    const a = buildAllowlist(ends, { select: ['Ends'], maxRules: 1 });
    const run = (limit: number) =>
      planTarget({
        firewall: { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' } },
        record: undefined,
        settings: { maxRules: 1, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare', special: [] },
        guards: guards({ maxExcessAddresses: limit }),
        force: false,
        desiredFor: () => a,
      }).refusals.map((r) => r.code);
    expect(run(1_048_574)).toEqual([]);
    expect(run(1_048_573)).toEqual(['EXCESS_GUARD']);
  });

  it('--force lifts the widening bound for one run and says so', () => {
    const bounded = (budget: number, _kept: unknown, o?: { unbounded?: boolean }) => buildAllowlist(ends, { select: ['Ends'], maxRules: budget, maxWidenedPrefix: o?.unbounded === true ? 0 : 13 });
    const input = {
      firewall: { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' } },
      record: undefined,
      settings: { maxRules: 1, reserveRules: 0, mode: 'merge' as const, policy: 'sync' as const, adopt: 'first-run' as const, split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare' as const, special: [] },
      guards: guards({ maxWidenedPrefix: 13 }),
      desiredFor: bounded,
    };
    expect(planTarget({ ...input, force: false }).refusals).toEqual([expect.objectContaining({ code: 'COLLAPSE_INFEASIBLE', maxWidenedPrefix: 13, neededRules: 2 })]);
    const forced = planTarget({ ...input, force: true });
    expect(forced.refusals).toEqual([]);
    expect(forced.forced).toEqual([expect.objectContaining({ code: 'COLLAPSE_INFEASIBLE', maxWidenedPrefix: 13 })]);
    expect(forced.add).toEqual(['20.0.0.0/12']);
  });
});

describe('preferring Azure\'s own space, on real data', () => {
  it.each<[string[], number]>([
    [['LogicApps'], 1000],
    [['AzureDevOps'], 20],
    [['PowerBI', 'LogicApps'], 300],
  ])('%j at %d rules: less excess outside Azure, at the price of no less excess in all', (select, maxRules) => {
    const plain = buildAllowlist(doc, { select, maxRules }, index);
    const weights = { inside: azureSpace(doc), outsideWeight: 16 };
    const preferred = buildAllowlist(doc, { select, maxRules, weights }, index);
    const outside = (rules: readonly string[]) => referenceWidening(rules, wantedOf(select)).reduce((n, w) => n + w.excess - w.inAzure, 0);
    const plainOutside = outside(plain.rules.map(formatCidr));
    const preferredOutside = outside(preferred.rules.map(formatCidr));
    expect(preferredOutside).toBeLessThanOrEqual(plainOutside);
    expect(preferred.stats.excessAddresses).toBeGreaterThanOrEqual(plain.stats.excessAddresses);
    // Each cover is optimal for its own objective: the plain one's weighted cost is no better.
    const weighted = (rules: readonly string[]) => referenceWidening(rules, wantedOf(select)).reduce((n, w) => n + w.inAzure + 16 * (w.excess - w.inAzure), 0);
    expect(preferred.stats.weightedExcess).toBe(weighted(preferred.rules.map(formatCidr)));
    expect(weighted(preferred.rules.map(formatCidr))).toBeLessThanOrEqual(weighted(plain.rules.map(formatCidr)));
  });
});
