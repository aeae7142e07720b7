import { describe, expect, it } from 'vitest';
import type { CidrAllowlist as Allowlist } from '../../src/core/allowlist.js';
import { collapse, infeasible } from '../../src/core/collapse.js';
import { FORBIDDEN_RANGES } from '../../src/core/forbidden.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { mergeCidrs, mergeRanges, type AddressRange, type Cidr } from '../../src/core/ipv4.js';
import { planTarget, type AppliedRecord, type ObservedFirewall, type TargetSettings, type TargetPlanInput } from '../../src/core/target-plan.js';
import { ip } from './reference.js';

// Round-by-round tests of the pure vault plan, with made-up allowlists (no I/O).

const settings: TargetSettings = { maxRules: 1000, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare', special: [] };
const guards = { maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 16_777_216, maxWidenedPrefix: 0, warnWidenedPrefix: 0 };

function allowlist(rules: string[], extra: Partial<Allowlist['stats']> = {}): Allowlist {
  const cidrs = rules.map((r) => parseCidr(r));
  const size = cidrs.reduce((n, c) => n + 2 ** (32 - c.length), 0);
  return {
    selected: ['Test'],
    rules: cidrs,
    newRules: cidrs.length,
    source: [],
    warnings: [],
    stats: { selectedPrefixes: rules.length, ipv6Dropped: 0, forbiddenAddressesRemoved: 0, excludedAddressesRemoved: 0, mergedPrefixes: rules.length, rules: rules.length, sourceAddresses: size, allowedAddresses: size, excessAddresses: 0, ...extra },
  };
}

function firewall(ipRules: string[], posture: ObservedFirewall['posture'] = { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' }, vnets = 0): ObservedFirewall {
  return { ipRules, virtualNetworkRuleCount: vnets, posture };
}

function record(owned: string[], observed: string[], extra: Partial<AppliedRecord> = {}): AppliedRecord {
  return { ownedRules: owned, observedRules: observed, posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' }, changeNumber: 1, sourceAddresses: 0, appliedAt: '2025-10-13T00:00:00Z', ...extra };
}

/** The real collapse of `sources`, with blocked space beside the forbidden ranges, as the reconciler would call it. */
function collapsed(sources: string[], blocked: AddressRange[] = []) {
  const merged = mergeCidrs(sources.map((c) => parseCidr(c)));
  const size = merged.reduce((n, c) => n + 2 ** (32 - c.length), 0);
  return (budget: number, kept: readonly Cidr[]): Allowlist => {
    const r = collapse(merged, { maxRules: budget, split31: false, blocked: mergeRanges([...FORBIDDEN_RANGES, ...blocked]), kept });
    return { ...allowlist([]), rules: r.rules, newRules: r.newRules, stats: { ...allowlist([]).stats, sourceAddresses: size, rules: r.rules.length, allowedAddresses: r.allowedAddresses, excessAddresses: r.excessAddresses } };
  };
}

function plan(over: Partial<TargetPlanInput> & { desired: string[] | ((budget: number, kept: readonly Cidr[]) => Allowlist) }) {
  const budgets: number[] = [];
  const kepts: string[][] = [];
  const desired = over.desired;
  const input: TargetPlanInput = {
    firewall: firewall([]),
    record: undefined,
    settings,
    guards,
    force: false,
    ...over,
    desiredFor: (budget, kept) => {
      budgets.push(budget);
      kepts.push(kept.map((c) => `${[24, 16, 8, 0].map((s) => (c.base >>> s) & 255).join('.')}/${c.length}`));
      return typeof desired === 'function' ? desired(budget, kept) : allowlist(desired);
    },
  };
  return { result: planTarget(input), budgets, kepts };
}

describe('first round', () => {
  it('adds the desired rules and keeps a hand-made rule as unmanaged', () => {
    const { result } = plan({ firewall: firewall(['203.0.114.7']), desired: ['20.0.0.0/24', '20.0.1.5'] });
    expect(result.add).toEqual(['20.0.0.0/24', '20.0.1.5/32']);
    expect(result.remove).toEqual([]);
    expect(result.unmanaged).toEqual(['203.0.114.7/32']);
    expect(result.nextRules).toEqual(['20.0.0.0/24', '20.0.1.5', '203.0.114.7']);
    expect([...result.nextOwned].sort()).toEqual(['20.0.0.0/24', '20.0.1.5/32']);
    expect(result.changes).toBe(true);
  });

  it('adopts a rule that is already there, matching a bare address to its /32', () => {
    const { result } = plan({ firewall: firewall(['20.0.1.5', '20.0.0.0/24']), desired: ['20.0.0.0/24', '20.0.1.5/32'] });
    expect(result.add).toEqual([]);
    expect([...result.adopted].sort()).toEqual(['20.0.0.0/24', '20.0.1.5/32']);
    expect(result.changes).toBe(false);
  });

  it('keeps a /31 as written rather than treating it as two addresses', () => {
    const { result } = plan({ firewall: firewall(['52.1.2.4/31']), desired: ['52.1.2.4/31'] });
    expect(result.changes).toBe(false);
    expect(result.nextRules).toEqual(['52.1.2.4/31']);
  });
});

describe('later rounds', () => {
  it('changes nothing when the vault already matches', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      record: record(['20.0.0.0/24', '20.0.1.5/32'], ['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      desired: ['20.0.0.0/24', '20.0.1.5'],
    });
    expect(result.changes).toBe(false);
    expect(result.drift).toEqual([]);
    expect(result.unmanaged).toEqual(['203.0.114.7/32']);
  });

  it('removes owned rules that are no longer desired, and only those', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      record: record(['20.0.0.0/24', '20.0.1.5/32'], ['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      desired: ['20.0.0.0/24', '40.1.0.0/16'],
    });
    expect(result.add).toEqual(['40.1.0.0/16']);
    expect(result.remove).toEqual(['20.0.1.5/32']);
    expect(result.nextRules).toEqual(['20.0.0.0/24', '40.1.0.0/16', '203.0.114.7']);
  });

  it('authoritative mode removes strangers too', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '203.0.114.7/32']),
      settings: { ...settings, mode: 'authoritative' },
      desired: ['20.0.0.0/24'],
    });
    expect(result.remove).toEqual(['203.0.114.7/32']);
    expect(result.unmanaged).toEqual([]);
    expect(result.nextRules).toEqual(['20.0.0.0/24']);
  });

  it('does not own a rule that had already left the vault when the record was written', () => {
    // A concurrent edit removed 20.0.0.0/32 right after tagwall wrote it (the verify failed, the record
    // still lists it as owned); a person has since put it back.
    const { result } = plan({
      firewall: firewall(['20.0.0.0/32', '20.0.5.0/24']),
      record: record(['20.0.0.0/32', '20.0.5.0/24'], ['20.0.5.0/24']),
      desired: ['20.0.0.8/32'],
      guards: { ...guards, maxRemovedFraction: 1 },
    });
    expect(result.remove).toEqual(['20.0.5.0/24']);
    expect(result.unmanaged).toEqual(['20.0.0.0/32']);
    expect(result.nextOwned).toEqual(['20.0.0.8/32']);
  });

  it('does not remove an owned rule that someone added again in another spelling', () => {
    // tagwall wrote 20.0.1.5 once; the second entry for the same address is someone else's.
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.1.5', '20.0.1.5/32']),
      record: record(['20.0.0.0/24', '20.0.1.5/32'], ['20.0.0.0/24', '20.0.1.5/32']),
      desired: ['20.0.0.0/24'],
    });
    expect(result.remove).toEqual([]);
    expect(result.unmanaged).toEqual(['20.0.1.5/32']);
    expect(result.nextOwned).toEqual(['20.0.0.0/24']);
  });

  it('add-only never removes, and keeps stale owned rules owned', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      record: record(['20.0.0.0/24', '20.0.1.5/32'], ['20.0.0.0/24', '20.0.1.5/32', '203.0.114.7/32']),
      settings: { ...settings, policy: 'add-only' },
      desired: ['40.1.0.0/16'],
    });
    expect(result.remove).toEqual([]);
    expect(result.add).toEqual(['40.1.0.0/16']);
    expect([...result.nextOwned].sort()).toEqual(['20.0.0.0/24', '20.0.1.5/32', '40.1.0.0/16']);
  });
});

describe('budget', () => {
  it('gives the collapse maxRules - reserveRules - kept rules, and tells it which rules are kept', () => {
    const { budgets, kepts } = plan({
      firewall: firewall(['203.0.114.7', '203.0.114.9']),
      settings: { ...settings, maxRules: 10, reserveRules: 3 },
      desired: ['20.0.0.0/24'],
    });
    expect(budgets).toEqual([5]);
    expect(kepts).toEqual([['203.0.114.7/32', '203.0.114.9/32']]);
  });

  it('uses a hand-made rule that the cover contains for free, so the budget beside kept rules is exact', () => {
    // Three blocks and eight far-apart addresses; a person made 20.0.0.0/23 and 81.2.69.142. Eleven
    // rules in all: two are kept, so nine new ones. One /22 over the three blocks would do it with
    // 384 extra addresses; the kept /23 plus a new /24 does it with 128 (20.0.1.0/25), and the /23
    // counts once.
    const far = ['40.1.0.1', '45.9.3.3', '52.3.2.1', '60.7.7.7', '70.1.2.3', '88.8.8.8', '99.9.9.9', '120.3.4.5'];
    const sources = ['20.0.0.0/24', '20.0.1.128/25', '20.0.2.0/24', ...far.map((a) => `${a}/32`)];
    const { result, budgets } = plan({
      firewall: firewall(['20.0.0.0/23', '81.2.69.142']),
      record: record([], ['20.0.0.0/23', '81.2.69.142/32']),
      settings: { ...settings, maxRules: 11 },
      desired: collapsed(sources),
    });
    expect(budgets).toEqual([9]);
    expect(result.refusals).toEqual([]);
    expect(result.desired!.stats.excessAddresses).toBe(128);
    expect(result.shared).toEqual(['20.0.0.0/23']);
    expect(result.unmanaged).toEqual(['81.2.69.142/32']);
    expect(result.add).toEqual(['20.0.2.0/24', ...far.map((a) => `${a}/32`)].sort((a, b) => ip(a.split('/')[0]!) - ip(b.split('/')[0]!)));
    expect(result.nextRules).toHaveLength(11);
    expect(result.nextOwned).not.toContain('20.0.0.0/23');
    expect(result.rules).toEqual({ managed: 9, unmanaged: 1, shared: 1, limit: 11 });
  });

  it('adopts desired hand-made rules on first contact even when only one new rule fits beside them', () => {
    // Four blocks that no one rule may join (the space between them is excluded); three are already there.
    const four = ['20.0.0.0/24', '20.0.2.0/24', '20.0.4.0/24', '20.0.6.0/24'];
    const gaps = [1, 3, 5].map((i) => ({ start: ip(`20.0.${i}.0`), end: ip(`20.0.${i}.255`) }));
    const { result, budgets } = plan({ firewall: firewall(four.slice(0, 3)), settings: { ...settings, maxRules: 4 }, desired: collapsed(four, gaps) });
    expect(budgets).toEqual([1]);
    expect(result.refusals).toEqual([]);
    expect(result.adopted).toEqual(four.slice(0, 3));
    expect(result.findings.find((f) => f.code === 'ADOPTED_RULES')).toMatchObject({ severity: 'info', rules: four.slice(0, 3), count: 3 });
    expect(result.add).toEqual(['20.0.6.0/24']);
    expect(result.nextRules).toEqual(four);
    expect([...result.nextOwned].sort()).toEqual(four);
  });

  it('adopts a full vault of hand-made rules that are exactly the allowlist, with no room left', () => {
    const rules = ['20.0.0.0/24', '20.0.2.0/24', '20.0.4.0/24'];
    const { result, budgets } = plan({ firewall: firewall(rules), settings: { ...settings, maxRules: 3 }, desired: collapsed(rules) });
    expect(budgets).toEqual([0]);
    expect(result.refusals).toEqual([]);
    expect(result.adopted).toEqual(rules);
    expect(result.changes).toBe(false);
    expect([...result.nextOwned].sort()).toEqual(rules);
  });

  it('with adopt: never, a hand-made rule the allowlist wants is shared on first contact, not taken over', () => {
    const { result } = plan({ firewall: firewall(['20.0.0.0/24']), settings: { ...settings, adopt: 'never' }, desired: ['20.0.0.0/24', '20.0.9.0/24'] });
    expect(result.adopted).toEqual([]);
    expect(result.shared).toEqual(['20.0.0.0/24']);
    expect(result.nextOwned).toEqual(['20.0.9.0/24']);
    expect(result.findings.map((f) => f.code)).not.toContain('ADOPTED_RULES');
  });

  it('refuses when kept rules alone exceed the limit', () => {
    const { result } = plan({ firewall: firewall(['203.0.114.7', '203.0.114.9']), settings: { ...settings, maxRules: 1 }, desired: ['20.0.0.0/24'] });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'BUDGET_EXHAUSTED', keptRules: 2, limit: 1 })]);
  });

  it('refuses when no cover fits beside the kept rules, naming the maxRules that works', () => {
    const { result } = plan({ firewall: firewall(['203.0.114.7', '203.0.114.9']), settings: { ...settings, maxRules: 2 }, desired: collapsed(['20.0.0.0/24']) });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'COLLAPSE_INFEASIBLE', neededRules: 3, budget: 0, keptRules: 2 })]);
  });

  it('reads the smallest budget from the collapse error, never from its message', () => {
    const { result } = plan({
      firewall: firewall(['203.0.114.7']),
      settings: { ...settings, reserveRules: 2 },
      desired: () => {
        throw infeasible(997, 7);
      },
    });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'COLLAPSE_INFEASIBLE', neededRules: 10 })]);
  });
});

describe('guards', () => {
  const current = ['20.0.0.0/24', '20.0.1.0/24', '20.0.2.0/24', '20.0.3.0/24'];
  const owned = record(current, current, { sourceAddresses: 1024 });

  it('refuses an empty desired set', () => {
    const { result } = plan({ firewall: firewall(current), record: owned, desired: [] });
    expect(result.refusals.map((r) => r.code)).toContain('EMPTY_SOURCE_GUARD');
  });

  it('refuses when the source shrank by more than maxSourceShrinkFraction', () => {
    const { result } = plan({ firewall: firewall(current), record: owned, desired: ['20.0.0.0/24', '20.0.1.0/24', '20.0.2.0/24'] });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'SOURCE_SHRINK_GUARD', before: 1024, after: 768, limitFraction: 0.2, message: expect.stringMatching(/source shrank by 25.0%/) })]);
  });

  it('refuses when more than maxRemovedFraction of the rules would go', () => {
    const { result } = plan({ firewall: firewall(current), record: record(current, current), desired: ['20.0.0.0/24'] });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'REMOVAL_GUARD', removed: 3, current: 4, limitFraction: 0.5 })]);
  });

  it('refuses when the collapse admits too many extra addresses', () => {
    const { result } = plan({ desired: () => allowlist(['20.0.0.0/8'], { excessAddresses: 16_000_000 }), guards: { ...guards, maxExcessAddresses: 1000 } });
    expect(result.refusals).toEqual([expect.objectContaining({ code: 'EXCESS_GUARD', excessAddresses: 16_000_000, limit: 1000 })]);
  });

  it('--force overrides the guards and says so', () => {
    const { result } = plan({ firewall: firewall(current), record: record(current, current), desired: ['20.0.0.0/24'], force: true });
    expect(result.refusals).toEqual([]);
    expect(result.forced.map((r) => r.code)).toEqual(['REMOVAL_GUARD']);
    expect(result.remove).toHaveLength(3);
  });
});

describe('drift and posture', () => {
  it('reports owned rules removed, rules added and posture changed outside tagwall', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '198.51.99.1/32'], { defaultAction: 'Allow', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' }),
      record: record(['20.0.0.0/24', '20.0.1.5/32'], ['20.0.0.0/24', '20.0.1.5/32']),
      desired: ['20.0.0.0/24', '20.0.1.5'],
    });
    expect(result.drift).toEqual([
      { kind: 'missing', code: 'RULE_MISSING', rule: '20.0.1.5/32', detail: 'owned rule 20.0.1.5/32 was removed outside tagwall' },
      { kind: 'added', code: 'RULE_ADDED', rule: '198.51.99.1/32', detail: 'rule 198.51.99.1/32 was added outside tagwall' },
      { kind: 'posture', code: 'POSTURE_CHANGED', field: 'defaultAction', before: 'Deny', after: 'Allow', detail: 'defaultAction changed from Deny to Allow' },
    ]);
    expect(result.add).toEqual(['20.0.1.5/32']);
    expect(result.findings.map((f) => [f.severity, f.code])).toContainEqual(['critical', 'FIREWALL_DISABLED']);
    expect(result.setDefaultActionDeny).toBe(false);
  });

  it('reports a posture field that appeared since the last write', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24'], { defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' }),
      record: record(['20.0.0.0/24'], ['20.0.0.0/24'], { posture: { defaultAction: 'Deny', publicNetworkAccess: 'Enabled' } }),
      desired: ['20.0.0.0/24'],
    });
    expect(result.drift).toEqual([{ kind: 'posture', code: 'POSTURE_CHANGED', field: 'bypass', before: null, after: 'None', detail: 'bypass changed from unset to None' }]);
  });

  it('turns the firewall on only with enforceDeny', () => {
    const { result } = plan({ firewall: firewall(['20.0.0.0/24'], { defaultAction: 'Allow' }), settings: { ...settings, enforceDeny: true }, desired: ['20.0.0.0/24'] });
    expect(result.setDefaultActionDeny).toBe(true);
    expect(result.changes).toBe(true);
  });

  it('skips the write when public network access is disabled', () => {
    const { result } = plan({ firewall: firewall([], { defaultAction: 'Deny', publicNetworkAccess: 'Disabled' }), desired: ['20.0.0.0/24'] });
    expect(result.skip).toMatchObject({ code: 'PUBLIC_ACCESS_DISABLED', message: expect.stringMatching(/public network access is disabled/) });
    expect(result.findings.map((f) => f.code)).toContain('PUBLIC_ACCESS_DISABLED');
  });

  it('a firewall that cannot take IP rules is skipped with its kind\'s code, and is not judged as a firewall left off', () => {
    const belowPremium: ObservedFirewall = {
      ...firewall([], { defaultAction: 'Allow', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' }),
      unsupported: { code: 'SKU_UNSUPPORTED', message: 'IP rules need the Premium SKU' },
      kindFindings: [{ severity: 'warning', code: 'SKU_UNSUPPORTED', message: 'IP rules need the Premium SKU', sku: 'Standard' }],
    };
    const { result } = plan({ firewall: belowPremium, settings: { ...settings, enforceDeny: true }, desired: ['20.0.0.0/24'] });
    expect(result.skip).toEqual({ code: 'TARGET_UNSUPPORTED', message: 'IP rules need the Premium SKU', cause: 'SKU_UNSUPPORTED' });
    expect(result.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'SKU_UNSUPPORTED']]);
    expect(result.setDefaultActionDeny).toBe(false);
  });

  it('warns on an unexpected bypass and counts VNet rules', () => {
    const { result } = plan({ firewall: firewall([], { defaultAction: 'Deny', bypass: 'None' }, 3), settings: { ...settings, expectBypass: 'AzureServices' }, desired: ['20.0.0.0/24'] });
    expect(result.findings.map((f) => f.code)).toEqual(['BYPASS_MISMATCH', 'VNET_RULES']);
    expect(result.findings[1]!.message).toMatch(/^3 virtual-network rules preserved/);
  });

  it('an enforced perimeter is a warning; the write still happens unless skipWhenPerimeterEnforced', () => {
    const enforced = { state: 'associated' as const, perimeter: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityPerimeters/nsp', accessMode: 'Enforced' };
    const base = firewall(['20.0.0.0/24']);
    const { result } = plan({ firewall: { ...base, perimeter: enforced }, desired: ['20.0.0.0/24', '20.0.9.0/24'] });
    expect(result.findings.find((f) => f.code === 'PERIMETER_ENFORCED')).toMatchObject({ severity: 'warning', perimeter: enforced.perimeter, accessMode: 'Enforced' });
    expect(result.skip).toBeUndefined();
    expect(result.add).toEqual(['20.0.9.0/24']);
    const skipping = plan({ firewall: { ...base, perimeter: enforced }, settings: { ...settings, skipWhenPerimeterEnforced: true }, desired: ['20.0.0.0/24', '20.0.9.0/24'] }).result;
    expect(skipping.skip?.code).toBe('PERIMETER_ENFORCED');
  });

  it('publicNetworkAccess SecuredByPerimeter means the perimeter decides, as an Enforced association does', () => {
    const { result } = plan({ firewall: firewall([], { defaultAction: 'Deny', publicNetworkAccess: 'SecuredByPerimeter' }), desired: ['20.0.0.0/24'] });
    expect(result.findings.map((f) => [f.severity, f.code])).toEqual([['warning', 'PERIMETER_ENFORCED']]);
  });

  it('learning mode and an unreadable association are info findings only', () => {
    const learning = plan({ firewall: { ...firewall([]), perimeter: { state: 'associated', perimeter: 'nsp-1', accessMode: 'Learning' } }, desired: ['20.0.0.0/24'] }).result;
    expect(learning.findings.map((f) => [f.severity, f.code])).toEqual([['info', 'PERIMETER_LEARNING']]);
    const unknown = plan({ firewall: { ...firewall([]), perimeter: { state: 'unknown', reason: 'HTTP 403' } }, desired: ['20.0.0.0/24'] }).result;
    expect(unknown.findings.map((f) => [f.severity, f.code, f.reason])).toEqual([['info', 'PERIMETER_UNKNOWN', 'HTTP 403']]);
    expect(unknown.add).toEqual(['20.0.0.0/24']);
  });
});

describe('ownership across weeks', () => {
  it('a hand-made rule the tag later lists is shared, and stays when the tag drops it again', () => {
    // Week 1: tagwall owns 20.0.0.0/24; a person adds 52.0.0.0/24.
    const week2 = plan({
      firewall: firewall(['20.0.0.0/24', '52.0.0.0/24']),
      record: record(['20.0.0.0/24'], ['20.0.0.0/24']),
      desired: ['20.0.0.0/24', '52.0.0.0/24'],
    }).result;
    expect(week2.shared).toEqual(['52.0.0.0/24']);
    expect(week2.nextOwned).toEqual(['20.0.0.0/24']);
    expect(week2.drift.map((d) => d.code)).toEqual(['RULE_ADDED']);
    // Week 3: the tag drops it; it is the person's, so it stays.
    const week3 = plan({
      firewall: firewall(['20.0.0.0/24', '52.0.0.0/24']),
      record: record(week2.nextOwned as string[], ['20.0.0.0/24', '52.0.0.0/24']),
      desired: ['20.0.0.0/24'],
    }).result;
    expect(week3.remove).toEqual([]);
    expect(week3.unmanaged).toEqual(['52.0.0.0/24']);
  });

  it('owns what an announced, unconfirmed write added when the whole write shows', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.5.0/24', '20.0.6.0/24']),
      record: record(['20.0.0.0/24'], ['20.0.0.0/24'], { intent: { runId: 'dead', startedAt: '2025-10-13T00:00:00Z', add: ['20.0.5.0/24', '20.0.6.0/24'], remove: [] } }),
      desired: ['20.0.0.0/24'],
      guards: { ...guards, maxRemovedFraction: 1 },
    });
    expect(result.remove).toEqual(['20.0.5.0/24', '20.0.6.0/24']);
    // Neither announced add is drift: the dead run's write was tagwall's own.
    expect(result.drift).toEqual([]);
  });

  it('owns none of an announced write that shows only in part: the write is one request, so someone else made the part', () => {
    // The write never landed, and a person then added one of its rules by hand.
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.5.0/24']),
      record: record(['20.0.0.0/24'], ['20.0.0.0/24'], { intent: { runId: 'dead', startedAt: '2025-10-13T00:00:00Z', add: ['20.0.5.0/24', '20.0.6.0/24'], remove: [] } }),
      desired: ['20.0.0.0/24'],
      guards: { ...guards, maxRemovedFraction: 1 },
    });
    expect(result.remove).toEqual([]);
    expect(result.unmanaged).toEqual(['20.0.5.0/24']);
  });
});
