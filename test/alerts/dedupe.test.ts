import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideAlerts, RESOLVED_ACTION, settleScope } from '../../src/alerts/dedupe.js';
import { fingerprintOf, scopeOf } from '../../src/alerts/fingerprint.js';
import { isTagwallError } from '../../src/core/errors.js';
import type { Alert, AlertState, Notification } from '../../src/alerts/types.js';
import { VAULT_A, VAULT_B, driftAlert, simpleAlert } from './support.js';

const HOUR = 3_600_000;
const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

/** Runs the pure decision the way successive runs would, carrying state from one to the next. */
function runs() {
  let states = new Map<string, AlertState | undefined>();
  return {
    run(alerts: readonly Alert[], evaluatedScopes: readonly string[], now: Date, repeatAfterHours = 24): Notification[] {
      const d = decideAlerts({ alerts, evaluatedScopes, previous: states, now, repeatAfterHours });
      const next = new Map(states);
      for (const s of d.scopes) next.set(s.scope, s.next);
      states = next;
      return d.notifications;
    },
    state(scope: string) {
      return states.get(scopeOf(scope));
    },
  };
}

const summary = (ns: Notification[]) => ns.map((n) => `${n.state}:${n.alert.kind}:${n.alert.vault}`);

describe('de-duplication', () => {
  it('fires a problem the first time it is seen', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.1.0/24']);
    const ns = r.run([drift], [VAULT_A], at(0));
    expect(ns).toEqual([{ alert: drift, state: 'firing' }]);
    expect(r.state(VAULT_A)?.alerts).toEqual([
      { fingerprint: drift.fingerprint, kind: 'drift', severity: 'warning', vault: VAULT_A, firstSeen: at(0).toISOString(), lastSent: at(0).toISOString(), summary: drift.title },
    ]);
  });

  it('stays silent when the same problem is still there on the next run', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    r.run([drift], [VAULT_A], at(0));
    expect(r.run([drift], [VAULT_A], at(0.25))).toEqual([]);
    expect(r.run([drift], [VAULT_A], at(23.9))).toEqual([]);
  });

  it('repeats once repeatAfterHours have passed, then waits another interval', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    r.run([drift], [VAULT_A], at(0), 6);
    expect(r.run([drift], [VAULT_A], at(5.99), 6)).toEqual([]);
    expect(summary(r.run([drift], [VAULT_A], at(6), 6))).toEqual([`repeat:drift:${VAULT_A}`]);
    expect(r.state(VAULT_A)?.alerts[0]?.firstSeen).toBe(at(0).toISOString());
    expect(r.state(VAULT_A)?.alerts[0]?.lastSent).toBe(at(6).toISOString());
    expect(r.run([drift], [VAULT_A], at(11), 6)).toEqual([]);
    expect(summary(r.run([drift], [VAULT_A], at(12.5), 6))).toEqual([`repeat:drift:${VAULT_A}`]);
  });

  it('sends one "resolved" when the problem clears, then forgets it', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    r.run([drift], [VAULT_A], at(0));
    const ns = r.run([], [VAULT_A], at(1));
    expect(ns).toHaveLength(1);
    expect(ns[0]?.state).toBe('resolved');
    expect(ns[0]?.alert).toMatchObject({ vault: VAULT_A, kind: 'drift', fingerprint: drift.fingerprint, title: drift.title, severity: 'warning' });
    expect(r.state(VAULT_A)?.alerts).toEqual([]);
    expect(r.run([], [VAULT_A], at(2))).toEqual([]);
    expect(r.run([], [VAULT_A], at(50))).toEqual([]);
    // Coming back is a new problem again.
    expect(summary(r.run([drift], [VAULT_A], at(51)))).toEqual([`firing:drift:${VAULT_A}`]);
  });

  it('never resolves alerts of a scope that was not evaluated', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    r.run([drift], [VAULT_A, VAULT_B], at(0));
    // VAULT_A could not be read: it alerts as failed, and its drift is neither resolved nor forgotten.
    const failed = simpleAlert(VAULT_A, 'vault-failed');
    expect(summary(r.run([failed], [VAULT_B], at(1)))).toEqual([`firing:vault-failed:${VAULT_A}`]);
    expect(r.state(VAULT_A)?.alerts.map((a) => a.kind).sort()).toEqual(['drift', 'vault-failed']);
    // Not even mentioned this run: still nothing resolves.
    expect(r.run([], [VAULT_B], at(2))).toEqual([]);
    expect(r.state(VAULT_A)?.alerts).toHaveLength(2);
    // Read again, drift fixed: both resolve.
    expect(summary(r.run([], [VAULT_A], at(3))).sort()).toEqual([`resolved:drift:${VAULT_A}`, `resolved:vault-failed:${VAULT_A}`]);
  });

  it('treats a different set of removed rules as a new problem', () => {
    const r = runs();
    const first = driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.1.0/24']);
    const second = driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.2.0/24']);
    expect(first.fingerprint).not.toBe(second.fingerprint);
    r.run([first], [VAULT_A], at(0));
    const ns = r.run([second], [VAULT_A], at(1));
    expect(ns.map((n) => [n.state, n.alert.fingerprint])).toEqual([
      ['firing', second.fingerprint],
      ['resolved', first.fingerprint],
    ]);
  });

  it('pages again at once when a problem gets worse', () => {
    const r = runs();
    r.run([driftAlert(VAULT_A, ['10.0.0.0/24'], 'warning')], [VAULT_A], at(0));
    expect(summary(r.run([driftAlert(VAULT_A, ['10.0.0.0/24'], 'critical')], [VAULT_A], at(1)))).toEqual([`firing:drift:${VAULT_A}`]);
    expect(r.run([driftAlert(VAULT_A, ['10.0.0.0/24'], 'warning')], [VAULT_A], at(2))).toEqual([]);
  });

  it('counts a problem reported twice in one run once', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    expect(r.run([drift, { ...drift, title: 'again' }], [VAULT_A], at(0))).toHaveLength(1);
    expect(r.state(VAULT_A)?.alerts).toHaveLength(1);
  });

  it('keeps run-wide alerts under _run, whether the vault is given as "" or "_run"', () => {
    const r = runs();
    const stale = simpleAlert('', 'service-tags-stale', 'warning');
    expect(summary(r.run([stale], ['_run'], at(0)))).toEqual(['firing:service-tags-stale:']);
    expect(r.run([{ ...stale, vault: '_run' }], [''], at(1))).toEqual([]);
    const resolved = r.run([], ['_run'], at(2));
    expect(resolved.map((n) => [n.state, n.alert.fingerprint, scopeOf(n.alert.vault)])).toEqual([['resolved', stale.fingerprint, '_run']]);
  });

  it('matches vault scopes whatever their case or trailing slash', () => {
    const r = runs();
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    r.run([drift], [VAULT_A], at(0));
    expect(r.run([driftAlert(VAULT_A.toUpperCase() + '/', ['10.0.0.0/24'])], [VAULT_A.toLowerCase()], at(1))).toEqual([]);
  });

  it('rejects a negative or missing repeat interval', () => {
    expect(() => decideAlerts({ alerts: [], evaluatedScopes: [], previous: new Map(), now: T0, repeatAfterHours: -1 })).toThrow(/repeatAfterHours/);
    try {
      decideAlerts({ alerts: [], evaluatedScopes: [], previous: new Map(), now: T0, repeatAfterHours: Number.NaN });
      expect.unreachable();
    } catch (e) {
      expect(isTagwallError(e, 'ALERT_CONFIG_INVALID')).toBe(true);
    }
  });

  it('repeats an alert whose lastSent cannot be read rather than silencing it', () => {
    const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
    const previous = new Map([[scopeOf(VAULT_A), { version: 1 as const, alerts: [{ fingerprint: drift.fingerprint, kind: 'drift', severity: 'warning', vault: VAULT_A, firstSeen: 'garbage', lastSent: 'garbage', summary: 's' }] }]]);
    const d = decideAlerts({ alerts: [drift], evaluatedScopes: [VAULT_A], previous, now: T0, repeatAfterHours: 24 });
    expect(summary(d.notifications)).toEqual([`repeat:drift:${VAULT_A}`]);
  });
});

describe('fingerprints', () => {
  it('ignore rule order, duplicates and vault spelling, and tell vault, kind and subject apart', () => {
    const base = fingerprintOf({ vault: VAULT_A, kind: 'drift', subject: 'removed', rules: ['10.0.0.0/24', '10.0.1.0/24'] });
    expect(fingerprintOf({ vault: VAULT_A.toLowerCase(), kind: 'drift', subject: 'removed', rules: ['10.0.1.0/24', '10.0.0.0/24', '10.0.1.0/24'] })).toBe(base);
    expect(fingerprintOf({ vault: VAULT_B, kind: 'drift', subject: 'removed', rules: ['10.0.0.0/24', '10.0.1.0/24'] })).not.toBe(base);
    expect(fingerprintOf({ vault: VAULT_A, kind: 'drift', subject: 'added', rules: ['10.0.0.0/24', '10.0.1.0/24'] })).not.toBe(base);
    expect(fingerprintOf({ vault: VAULT_A, kind: 'plan-refused', subject: 'removed', rules: ['10.0.0.0/24', '10.0.1.0/24'] })).not.toBe(base);
    expect(base).toMatch(/^drift:[0-9a-f]{20}$/);
  });

  it('are the same for any permutation of the rules (property)', () => {
    const rule = fc.tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 8, max: 32 })).map(([a, b, n]) => `10.${a}.${b}.0/${n}`);
    fc.assert(
      fc.property(
        fc.uniqueArray(rule, { minLength: 1, maxLength: 30 }).chain((rules) => fc.tuple(fc.constant(rules), fc.shuffledSubarray(rules, { minLength: rules.length, maxLength: rules.length }))),
        ([rules, shuffled]) => {
        expect(fingerprintOf({ vault: VAULT_A, kind: 'drift', rules: shuffled })).toBe(fingerprintOf({ vault: VAULT_A, kind: 'drift', rules }));
        },
      ),
    );
  });
});

describe('de-duplication properties', () => {
  it('any set of alerts, reported again on the next run, sends nothing', () => {
    const alertArb = fc.record({
      vault: fc.constantFrom(VAULT_A, VAULT_B, ''),
      kind: fc.constantFrom('drift' as const, 'firewall-disabled' as const, 'vault-failed' as const),
      subject: fc.constantFrom('removed', 'added', 'defaultAction'),
    });
    fc.assert(
      fc.property(fc.array(alertArb, { maxLength: 12 }), fc.integer({ min: 0, max: 23 }), (specs, later) => {
        const alerts = specs.map((s) => simpleAlert(s.vault, s.kind, 'warning', s.subject));
        const r = runs();
        const scopes = [VAULT_A, VAULT_B, '_run'];
        const first = r.run(alerts, scopes, at(0));
        expect(first.every((n) => n.state === 'firing')).toBe(true);
        expect(new Set(first.map((n) => n.alert.fingerprint)).size).toBe(new Set(alerts.map((a) => a.fingerprint)).size);
        expect(r.run(alerts, scopes, at(later))).toEqual([]);
        const cleared = r.run([], scopes, at(later + 1));
        expect(cleared.every((n) => n.state === 'resolved')).toBe(true);
        expect(cleared).toHaveLength(first.length);
        expect(r.run([], scopes, at(later + 2))).toEqual([]);
      }),
    );
  });
});

describe('settling after failed deliveries', () => {
  const drift = driftAlert(VAULT_A, ['10.0.0.0/24']);
  const gone = driftAlert(VAULT_A, ['10.9.9.0/24']);
  const old = (a: Alert, lastSent: Date) => ({ fingerprint: a.fingerprint, kind: a.kind, severity: a.severity, vault: a.vault, firstSeen: T0.toISOString(), lastSent: lastSent.toISOString(), summary: a.title });

  it('remembers each held notification as still due: a repeat as last sent, a new alert and a resolution as pending', () => {
    const previous: AlertState = { version: 1, alerts: [old(drift, at(0)), old(gone, at(0))] };
    const fresh = simpleAlert(VAULT_A, 'firewall-disabled');
    const d = decideAlerts({ alerts: [drift, fresh], evaluatedScopes: [VAULT_A], previous: new Map([[scopeOf(VAULT_A), previous]]), now: at(30), repeatAfterHours: 24 });
    expect(summary(d.notifications)).toEqual([`repeat:drift:${VAULT_A}`, `firing:firewall-disabled:${VAULT_A}`, `resolved:drift:${VAULT_A}`]);
    const scope = d.scopes[0]!;
    const all = new Set([drift.fingerprint, fresh.fingerprint, gone.fingerprint]);
    const settled = settleScope(scope, all);
    expect(settled.alerts).toEqual([
      old(drift, at(0)),
      { ...old(fresh, at(30)), firstSeen: at(30).toISOString(), pending: 'firing', details: fresh.details },
      { ...old(gone, at(0)), pending: 'resolved', clearedAt: at(30).toISOString() },
    ]);
    expect(settleScope(scope, new Set())).toBe(scope.next);
  });

  it('keeps a pending firing in a scope this run did not evaluate: neither sent nor forgotten', () => {
    const pending = { ...old(drift, at(0)), pending: 'firing', details: drift.details, rules: drift.rules };
    const failed = simpleAlert(VAULT_A, 'vault-failed');
    const d = decideAlerts({ alerts: [failed], evaluatedScopes: [], previous: new Map([[scopeOf(VAULT_A), { version: 1 as const, alerts: [pending] }]]), now: at(1), repeatAfterHours: 24 });
    expect(summary(d.notifications)).toEqual([`firing:vault-failed:${VAULT_A}`]);
    expect(d.scopes[0]!.next.alerts).toContainEqual(pending);
  });

  it('keeps an escalation that was not delivered due at its new severity, and tells it once the problem clears', () => {
    const warned = old(driftAlert(VAULT_A, ['10.0.0.0/24'], 'warning'), at(0));
    const worse = driftAlert(VAULT_A, ['10.0.0.0/24'], 'critical');
    const d = decideAlerts({ alerts: [worse], evaluatedScopes: [VAULT_A], previous: new Map([[scopeOf(VAULT_A), { version: 1 as const, alerts: [warned] }]]), now: at(1), repeatAfterHours: 24 });
    expect(summary(d.notifications)).toEqual([`firing:drift:${VAULT_A}`]);
    const settled = settleScope(d.scopes[0]!, new Set([worse.fingerprint]));
    // Still the time it was last sent (at its old severity); pending at the new one.
    expect(settled.alerts).toEqual([{ ...warned, severity: 'critical', pending: 'firing', details: worse.details, rules: worse.rules }]);
    const cleared = decideAlerts({ alerts: [], evaluatedScopes: [VAULT_A], previous: new Map([[scopeOf(VAULT_A), settled]]), now: at(2), repeatAfterHours: 24 });
    expect(cleared.notifications).toHaveLength(1);
    expect(cleared.notifications[0]).toMatchObject({ state: 'resolved', unreported: true, firstSeen: T0.toISOString(), clearedAt: at(2).toISOString(), alert: { severity: 'critical', rules: ['10.0.0.0/24'] } });
    expect(cleared.scopes[0]!.next.alerts).toEqual([]);
  });

  it('gives every resolution the time the problem was first seen and the time it was found gone', () => {
    const r = runs();
    r.run([drift], [VAULT_A], at(0));
    const [resolved] = r.run([], [VAULT_A], at(5));
    expect(resolved).toMatchObject({ state: 'resolved', firstSeen: at(0).toISOString(), clearedAt: at(5).toISOString() });
    expect(resolved!.unreported).toBeUndefined();
    expect(resolved!.alert.action).toBe(RESOLVED_ACTION);
  });
});
