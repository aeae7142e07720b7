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
