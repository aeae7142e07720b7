import { describe, expect, it } from 'vitest';
import { alertsForVault } from '../../src/alerting.js';
import type { VaultReport } from '../../src/reconcile.js';
import { VAULT_A } from './support.js';

// What a vault's run report pages about, and that the same problem keeps one fingerprint.

function report(extra: Partial<VaultReport>): VaultReport {
  return {
    vault: VAULT_A,
    outcome: 'in-sync',
    add: [],
    remove: [],
    unmanaged: [],
    rules: { managed: 1, unmanaged: 0, limit: 1000 },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: 'merge',
    ...extra,
  };
}

const missing = (...rules: string[]) => rules.map((rule) => ({ kind: 'missing' as const, rule, detail: `owned rule ${rule} was removed outside tagwall` }));

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
  const refused = (reason: string) => alertsForVault(report({ outcome: 'refused', reasons: [reason] }), false).find((a) => a.kind === 'plan-refused')!.fingerprint;

  it('a refusal keeps its fingerprint when only the numbers in it change', () => {
    const infeasible = (budget: number) =>
      refused(`no cover fits in ${budget} rule${budget === 1 ? '' : 's'} without touching forbidden or excluded space; the smallest budget that works is 9 (budget for this vault: ${budget})`);
    expect(infeasible(2)).toBe(infeasible(5));
    expect(infeasible(1)).toBe(infeasible(2));
    expect(refused('the plan removes 3 of 4 rules (75.0%; limit 50%)')).toBe(refused('the plan removes 30 of 40 rules (75.0%; limit 50%)'));
    expect(refused('the plan removes 3 of 4 rules (75.0%; limit 50%)')).not.toBe(refused('the desired allowlist is empty; refusing to strip the vault'));
  });
});
