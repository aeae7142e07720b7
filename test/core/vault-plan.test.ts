import { describe, expect, it } from 'vitest';
import type { Allowlist } from '../../src/core/allowlist.js';
import { TagwallError } from '../../src/core/errors.js';
import { collapse } from '../../src/core/collapse.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { formatCidr, mergeCidrs } from '../../src/core/ipv4.js';
import { planVault, type AppliedRecord, type ObservedFirewall, type TargetSettings, type VaultPlanInput } from '../../src/core/vault-plan.js';

// Round-by-round tests of the pure vault plan, with made-up allowlists (no I/O).

const settings: TargetSettings = { maxRules: 1000, reserveRules: 0, mode: 'merge', policy: 'sync', split31: false, enforceDeny: false };
const guards = { maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 16_777_216 };

function allowlist(rules: string[], extra: Partial<Allowlist['stats']> = {}): Allowlist {
  const cidrs = rules.map((r) => parseCidr(r));
  const size = cidrs.reduce((n, c) => n + 2 ** (32 - c.length), 0);
  return {
    selected: ['Test'],
    rules: cidrs,
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

function plan(over: Partial<VaultPlanInput> & { desired: string[] | ((budget: number) => Allowlist) }) {
  const budgets: number[] = [];
  const desired = over.desired;
  const input: VaultPlanInput = {
    firewall: firewall([]),
    record: undefined,
    settings,
    guards,
    force: false,
    ...over,
    desiredFor: (budget) => {
      budgets.push(budget);
      return typeof desired === 'function' ? desired(budget) : allowlist(desired);
    },
  };
  return { result: planVault(input), budgets };
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
  it('gives the collapse maxRules - reserveRules - unmanaged rules kept', () => {
    const { budgets } = plan({
      firewall: firewall(['203.0.114.7', '203.0.114.9']),
      settings: { ...settings, maxRules: 10, reserveRules: 3 },
      desired: ['20.0.0.0/24'],
    });
    expect(budgets[0]).toBe(5);
  });

  it('uses the room freed by adopted rules, without ever exceeding maxRules', () => {
    // Both current rules are desired, so neither is unmanaged: the full budget is usable.
    const wide = (budget: number) => allowlist(budget >= 4 ? ['20.0.0.0/24', '20.0.2.0/24', '20.0.4.0/24', '20.0.6.0/24'] : ['20.0.0.0/21']);
    const { result, budgets } = plan({ firewall: firewall(['20.0.0.0/24', '20.0.2.0/24']), settings: { ...settings, maxRules: 4 }, desired: wide });
    expect(budgets).toEqual([2, 4]);
    expect(result.nextRules.length).toBeLessThanOrEqual(4);
    expect(result.add).toEqual(['20.0.4.0/24', '20.0.6.0/24']);
  });

  it('adopts desired hand-made rules even when the budget beside them has no cover', () => {
    // Four blocks that no one rule may join; three of them are already in the vault by hand.
    const four = ['20.0.0.0/24', '20.0.2.0/24', '20.0.4.0/24', '20.0.6.0/24'];
    const desired = (budget: number) => {
      if (budget < 4) throw new TagwallError('COLLAPSE_INFEASIBLE', `no cover fits in ${budget} rules ...; the smallest budget that works is 4`);
      return allowlist(four);
    };
    const { result } = plan({ firewall: firewall(four.slice(0, 3)), settings: { ...settings, maxRules: 4 }, desired });
    expect(result.refusals).toEqual([]);
    expect(result.adopted).toEqual(four.slice(0, 3));
    expect(result.add).toEqual(['20.0.6.0/24']);
    expect(result.nextRules).toEqual(four);
  });

  it('adopts a full vault of hand-made rules that are exactly the allowlist', () => {
    const rules = ['20.0.0.0/24', '20.0.2.0/24', '20.0.4.0/24'];
    const { result } = plan({ firewall: firewall(rules), settings: { ...settings, maxRules: 3 }, desired: (budget) => allowlist(budget >= 3 ? rules : ['20.0.0.0/21']) });
    expect(result.refusals).toEqual([]);
    expect(result.adopted).toEqual(rules);
    expect(result.changes).toBe(false);
    expect([...result.nextOwned].sort()).toEqual(rules);
  });

  it('walks down past a budget that does not fit to the next one that the adopted rules make room for', () => {
    // Six hand-made rules fill all but one of seven places; one of them is a block the source needs.
    const source = mergeCidrs(['20.0.0.0/32', '20.0.0.6/32', '20.0.0.8/32', '20.0.6.0/24'].map((c) => parseCidr(c)));
    const desired = (budget: number) => allowlist(collapse(source, { maxRules: budget, split31: false, blocked: [] }).rules.map(formatCidr));
    const { result, budgets } = plan({
      firewall: firewall(['20.0.0.0', '20.0.0.1', '20.0.0.11', '20.0.3.0/24', '20.0.0.4/31', '20.0.6.0/24']),
      settings: { ...settings, maxRules: 7 },
      desired,
    });
    // At 7 the four exact rules would adopt two (fits in 3); at 3 only one is adopted (fits in 2).
    expect(budgets).toEqual([1, 7, 3, 2]);
    expect(result.add).toEqual(['20.0.0.0/28']);
    expect(result.adopted).toEqual(['20.0.6.0/24']);
    expect(result.nextRules).toHaveLength(7);
  });

  it('refuses when unmanaged rules leave no room', () => {
    const { result } = plan({ firewall: firewall(['203.0.114.7', '203.0.114.9']), settings: { ...settings, maxRules: 2 }, desired: ['20.0.0.0/24'] });
    expect(result.refusals[0]).toMatch(/no room for managed rules/);
  });

  it('refuses when no cover fits the budget, naming the smallest that works', () => {
    const { result } = plan({
      desired: () => {
        throw new TagwallError('COLLAPSE_INFEASIBLE', 'no cover fits in 3 rules ...; the smallest budget that works is 7');
      },
    });
    expect(result.refusals[0]).toMatch(/smallest budget that works is 7/);
  });
});

describe('guards', () => {
  const current = ['20.0.0.0/24', '20.0.1.0/24', '20.0.2.0/24', '20.0.3.0/24'];
  const owned = record(current, current, { sourceAddresses: 1024 });

  it('refuses an empty desired set', () => {
    const { result } = plan({ firewall: firewall(current), record: owned, desired: [] });
    expect(result.refusals.join('\n')).toMatch(/desired allowlist is empty/);
  });

  it('refuses when the source shrank by more than maxSourceShrinkFraction', () => {
    const { result } = plan({ firewall: firewall(current), record: owned, desired: ['20.0.0.0/24', '20.0.1.0/24', '20.0.2.0/24'] });
    expect(result.refusals.join('\n')).toMatch(/source shrank by 25.0%/);
  });

  it('refuses when more than maxRemovedFraction of the rules would go', () => {
    const { result } = plan({ firewall: firewall(current), record: record(current, current), desired: ['20.0.0.0/24'] });
    expect(result.refusals.join('\n')).toMatch(/removes 3 of 4 rules/);
  });

  it('refuses when the collapse admits too many extra addresses', () => {
    const { result } = plan({ desired: () => allowlist(['20.0.0.0/8'], { excessAddresses: 16_000_000 }), guards: { ...guards, maxExcessAddresses: 1000 } });
    expect(result.refusals.join('\n')).toMatch(/admits 16000000 addresses beyond the source/);
  });

  it('--force overrides the guards and says so', () => {
    const { result } = plan({ firewall: firewall(current), record: record(current, current), desired: ['20.0.0.0/24'], force: true });
    expect(result.refusals).toEqual([]);
    expect(result.forced.join('\n')).toMatch(/removes 3 of 4 rules/);
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
      { kind: 'missing', rule: '20.0.1.5/32', detail: 'owned rule 20.0.1.5/32 was removed outside tagwall' },
      { kind: 'added', rule: '198.51.99.1/32', detail: 'rule 198.51.99.1/32 was added outside tagwall' },
      { kind: 'posture', detail: 'defaultAction changed from Deny to Allow' },
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
    expect(result.drift).toEqual([{ kind: 'posture', detail: 'bypass changed from unset to None' }]);
  });

  it('turns the firewall on only with enforceDeny', () => {
    const { result } = plan({ firewall: firewall(['20.0.0.0/24'], { defaultAction: 'Allow' }), settings: { ...settings, enforceDeny: true }, desired: ['20.0.0.0/24'] });
    expect(result.setDefaultActionDeny).toBe(true);
    expect(result.changes).toBe(true);
  });

  it('skips the write when public network access is disabled', () => {
    const { result } = plan({ firewall: firewall([], { defaultAction: 'Deny', publicNetworkAccess: 'Disabled' }), desired: ['20.0.0.0/24'] });
    expect(result.skipReason).toMatch(/public network access is disabled/);
    expect(result.findings.map((f) => f.code)).toContain('PUBLIC_ACCESS_DISABLED');
  });

  it('warns on an unexpected bypass and counts VNet rules', () => {
    const { result } = plan({ firewall: firewall([], { defaultAction: 'Deny', bypass: 'None' }, 3), settings: { ...settings, expectBypass: 'AzureServices' }, desired: ['20.0.0.0/24'] });
    expect(result.findings.map((f) => f.code)).toEqual(['BYPASS_MISMATCH', 'VNET_RULES']);
    expect(result.findings[1]!.message).toMatch(/^3 virtual-network rules preserved/);
  });

  it('with an unreadable record, treats every rule as unmanaged and removes nothing', () => {
    const { result } = plan({ firewall: firewall(['20.0.0.0/24', '20.0.9.0/24']), recordProblem: 'state for kv-a is corrupt', desired: ['20.0.0.0/24'] });
    expect(result.remove).toEqual([]);
    expect(result.unmanaged).toEqual(['20.0.9.0/24']);
    expect(result.findings.map((f) => f.code)).toContain('STATE_UNREADABLE');
  });

  it('with an unreadable record, removes nothing in authoritative mode either', () => {
    const { result } = plan({
      firewall: firewall(['20.0.0.0/24', '20.0.9.0/24']),
      recordProblem: 'state for kv-a is corrupt',
      settings: { ...settings, mode: 'authoritative' },
      desired: ['20.0.0.0/24', '20.0.1.0/24'],
    });
    expect(result.remove).toEqual([]);
    expect(result.add).toEqual(['20.0.1.0/24']);
    expect(result.unmanaged).toEqual(['20.0.9.0/24']);
    expect(result.nextRules).toEqual(['20.0.0.0/24', '20.0.1.0/24', '20.0.9.0/24']);
  });
});
