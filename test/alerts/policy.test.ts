import { describe, expect, it } from 'vitest';
import { alertsForVault } from '../../src/alerts/policy.js';
import type { Reason } from '../../src/core/target-plan.js';
import { VAULT_A } from './support.js';
import type { TargetReport } from '../../src/core/report.js';

// What a vault's run report pages about, and that the same problem keeps one fingerprint.

function report(extra: Partial<TargetReport>): TargetReport {
  return {
    vault: VAULT_A,
    outcome: 'in-sync',
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 1, unmanaged: 0, shared: 0, limit: 1000 },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: 'merge',
    ...extra,
  };
}

const missing = (...rules: string[]) => rules.map((rule) => ({ kind: 'missing' as const, code: 'RULE_MISSING' as const, rule, detail: `owned rule ${rule} was removed outside tagwall` }));

describe('drift alerts', () => {
  it('promises to restore only the missing rules the plan adds back', () => {
    const restored = alertsForVault(report({ outcome: 'applied', add: ['20.0.1.0/24'], drift: missing('20.0.1.0/24') }), false);
    expect(restored[0]!.action).toBe('tagwall restores them on this run.');
    // The allowlist no longer has 20.0.2.0/24: tagwall leaves it out, and must not say otherwise.
    const gone = alertsForVault(report({ outcome: 'in-sync', drift: missing('20.0.2.0/24') }), false);
    expect(gone[0]!.action).not.toMatch(/restores/);
    const some = alertsForVault(report({ outcome: 'applied', add: ['20.0.1.0/24', '20.0.9.0/24'], drift: missing('20.0.1.0/24', '20.0.2.0/24') }), false);
    expect(some[0]!.action).toMatch(/restores 20\.0\.1\.0\/24 on this run/);
    expect(some[0]!.action).toMatch(/20\.0\.2\.0\/24 .*no longer/);
  });
});

describe('fingerprints', () => {
  const refused = (...reasons: Reason[]) => alertsForVault(report({ outcome: 'refused', reasons }), false).find((a) => a.kind === 'plan-refused')!.fingerprint;
  const removal = (removed: number, current: number, message = `the plan removes ${removed} of ${current} rules`): Reason => ({ code: 'REMOVAL_GUARD', message, removed, current, limitFraction: 0.5 });

  it('a refusal keeps its fingerprint when its figures or its wording change', () => {
    const infeasible = (neededRules: number, budget: number): Reason => ({ code: 'COLLAPSE_INFEASIBLE', message: `no cover fits in ${budget} rules; ${neededRules} works`, neededRules, budget, keptRules: 0 });
    expect(refused(infeasible(9, 2))).toBe(refused(infeasible(12, 5)));
    expect(refused(removal(3, 4))).toBe(refused(removal(30, 40)));
    expect(refused(removal(3, 4))).toBe(refused(removal(3, 4, 'reworded in a later release')));
  });

  it('a different refusal, or one more, is a different problem', () => {
    const empty: Reason = { code: 'EMPTY_SOURCE_GUARD', message: 'the desired allowlist is empty; refusing to strip the vault' };
    expect(refused(removal(3, 4))).not.toBe(refused(empty));
    expect(refused(removal(3, 4))).not.toBe(refused(removal(3, 4), empty));
  });

  it('posture drift is identified by the field that changed, not by the sentence', () => {
    const posture = (field: 'bypass' | 'defaultAction', detail: string) =>
      alertsForVault(report({ drift: [{ kind: 'posture', code: 'POSTURE_CHANGED', field, before: 'x', after: 'y', detail }] }), false)[0]!.fingerprint;
    expect(posture('bypass', 'bypass changed from x to y')).toBe(posture('bypass', 'reworded'));
    expect(posture('bypass', 'same words')).not.toBe(posture('defaultAction', 'same words'));
  });
});

describe('perimeter alerts', () => {
  it('an enforced perimeter raises a warning that says whether the write went ahead', () => {
    const finding = { severity: 'warning' as const, code: 'PERIMETER_ENFORCED' as const, message: 'perimeter decides', perimeter: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityPerimeters/nsp' };
    const [written] = alertsForVault(report({ outcome: 'applied', findings: [finding] }), false);
    expect(written).toMatchObject({ kind: 'perimeter-enforced', severity: 'warning', action: expect.stringMatching(/keeps writing/) });
    const [skipped] = alertsForVault(report({ outcome: 'skipped', findings: [finding], reasons: [{ code: 'PERIMETER_ENFORCED', message: 'skipped' }] }), false);
    expect(skipped!.action).toMatch(/skipped/);
    expect(skipped!.fingerprint).toBe(written!.fingerprint);
  });
});

describe('info findings page nobody', () => {
  it('CHURN_TOLERANCE_USED (the tolerance kept rules at a price within it) raises no alert', () => {
    const finding = { severity: 'info' as const, code: 'CHURN_TOLERANCE_USED', message: 'kept 1 rule of the firewall\'s (2 changes fewer) by admitting 256 addresses more than the least', rules: ['20.0.0.0/23'], count: 1, changesAvoided: 2, excessAddresses: 256, leastExcessAddresses: 0, churnTolerance: 256 };
    for (const outcome of ['in-sync', 'applied', 'pending'] as const) {
      expect(alertsForVault(report({ outcome, findings: [finding] }), outcome === 'pending')).toEqual([]);
    }
  });
});
