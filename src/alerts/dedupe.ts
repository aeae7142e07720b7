import { TagwallError } from '../core/errors.js';
import { scopeOf } from './fingerprint.js';
import { ALERT_SEVERITIES, type Alert, type AlertKind, type AlertSeverity, type AlertState, type AlertStateEntry, type Notification } from './types.js';

/**
 * Deciding what to send, as pure functions over the remembered state: a problem alerts
 * when first seen, again only once `repeatAfterHours` have passed while it persists, and
 * once more as "resolved" when a run that looked at its scope no longer finds it.
 */

export interface ScopeDecision {
  readonly scope: string;
  /** Whether this run looked at the scope; only then may its alerts resolve. */
  readonly evaluated: boolean;
  readonly previous: AlertState | undefined;
  /** The state to remember if every notification below is delivered. */
  readonly next: AlertState;
  readonly notifications: readonly Notification[];
}

export interface DecideInput {
  readonly alerts: readonly Alert[];
  readonly evaluatedScopes: readonly string[];
  /** Remembered state by scope (as `scopeOf` gives it); missing means nothing remembered. */
  readonly previous: ReadonlyMap<string, AlertState | undefined>;
  readonly now: Date;
  readonly repeatAfterHours: number;
}

export const RESOLVED_ACTION = 'Nothing: the condition is no longer present.';

export function emptyAlertState(): AlertState {
  return { version: 1, alerts: [] };
}

/**
 * Scopes this run has something to say about: every evaluated scope (its alerts may have
 * cleared) and every scope with an alert (a vault that failed to be read still alerts,
 * although it was not evaluated).
 */
export function scopesToConsider(alerts: readonly Alert[], evaluatedScopes: readonly string[]): string[] {
  return [...new Set([...evaluatedScopes.map(scopeOf), ...alerts.map((a) => scopeOf(a.vault))])];
}

export function decideAlerts(input: DecideInput): { notifications: Notification[]; scopes: ScopeDecision[] } {
  const repeatAfterMs = repeatInterval(input.repeatAfterHours);
  const evaluated = new Set(input.evaluatedScopes.map(scopeOf));
  const scopes = scopesToConsider(input.alerts, input.evaluatedScopes).map((scope) =>
    decideScope({
      scope,
      evaluated: evaluated.has(scope),
      previous: input.previous.get(scope),
      alerts: input.alerts.filter((a) => scopeOf(a.vault) === scope),
      now: input.now,
      repeatAfterMs,
    }),
  );
  return { notifications: scopes.flatMap((s) => s.notifications), scopes };
}

export function decideScope(input: {
  readonly scope: string;
  readonly evaluated: boolean;
  readonly previous: AlertState | undefined;
  readonly alerts: readonly Alert[];
  readonly now: Date;
  readonly repeatAfterMs: number;
}): ScopeDecision {
  const now = input.now.toISOString();
  const remembered = new Map((input.previous?.alerts ?? []).map((e) => [e.fingerprint, e]));
  const current = new Map<string, Alert>();
  for (const alert of input.alerts) {
    if (alert.fingerprint.trim() === '') {
      throw new TagwallError('ALERT_INVALID', `alert "${alert.title}" for ${alert.vault || 'the run'} has no fingerprint`);
    }
    // The same problem reported twice in one run is still one problem.
    if (!current.has(alert.fingerprint)) current.set(alert.fingerprint, alert);
  }

  const notifications: Notification[] = [];
  const next: AlertStateEntry[] = [];

  for (const alert of current.values()) {
    const known = remembered.get(alert.fingerprint);
    if (known === undefined) {
      notifications.push({ alert, state: 'firing' });
      next.push(entryFor(alert, now, now));
    } else if (severityRank(alert.severity) > severityRank(known.severity)) {
      // Worse than when it was last sent: page now rather than wait out the repeat interval.
      notifications.push({ alert, state: 'firing' });
      next.push(entryFor(alert, known.firstSeen, now));
    } else if (isDue(known.lastSent, input.now, input.repeatAfterMs)) {
      notifications.push({ alert, state: 'repeat' });
      next.push(entryFor(alert, known.firstSeen, now));
    } else {
      next.push(entryFor(alert, known.firstSeen, known.lastSent));
    }
  }

  for (const known of remembered.values()) {
    if (current.has(known.fingerprint)) continue;
    if (input.evaluated) {
      notifications.push({ alert: resolvedAlert(known), state: 'resolved' });
    } else {
      // Not looked at this run (the vault could not be read): absence proves nothing.
      next.push(known);
    }
  }

  return { scope: input.scope, evaluated: input.evaluated, previous: input.previous, next: { version: 1, alerts: next }, notifications };
}

/**
 * The state to save when some notifications could not be delivered but may be next run:
 * each held fingerprint keeps the record it had before this run, so the next run decides
 * about it again (a new alert fires again, a repeat stays due, a resolution is retried).
 */
export function settleScope(previous: AlertState | undefined, next: AlertState, held: ReadonlySet<string>): AlertState {
  if (held.size === 0) return next;
  const before = new Map((previous?.alerts ?? []).map((e) => [e.fingerprint, e]));
  const alerts: AlertStateEntry[] = [];
  for (const entry of next.alerts) {
    if (!held.has(entry.fingerprint)) alerts.push(entry);
    else {
      const old = before.get(entry.fingerprint);
      if (old !== undefined) alerts.push(old);
    }
  }
  const kept = new Set(alerts.map((e) => e.fingerprint));
  for (const [fingerprint, old] of before) {
    if (held.has(fingerprint) && !kept.has(fingerprint)) alerts.push(old);
  }
  return { version: 1, alerts };
}

export function sameAlertState(a: AlertState | undefined, b: AlertState): boolean {
  return JSON.stringify(a ?? emptyAlertState()) === JSON.stringify(b);
}

function repeatInterval(hours: number): number {
  if (!Number.isFinite(hours) || hours < 0) {
    throw new TagwallError('ALERT_CONFIG_INVALID', `alerts.repeatAfterHours must be a number of hours, 0 or more (got ${hours})`);
  }
  return hours * 3_600_000;
}

function isDue(lastSent: string, now: Date, repeatAfterMs: number): boolean {
  const sent = Date.parse(lastSent);
  // An unreadable timestamp must not silence an alert forever.
  return Number.isNaN(sent) || now.getTime() - sent >= repeatAfterMs;
}

function severityRank(severity: string): number {
  const i = ALERT_SEVERITIES.indexOf(severity as AlertSeverity);
  return i < 0 ? 0 : ALERT_SEVERITIES.length - i;
}

function entryFor(alert: Alert, firstSeen: string, lastSent: string): AlertStateEntry {
  return { fingerprint: alert.fingerprint, kind: alert.kind, severity: alert.severity, vault: alert.vault, firstSeen, lastSent, summary: alert.title };
}

function resolvedAlert(entry: AlertStateEntry): Alert {
  return {
    vault: entry.vault,
    // Written by tagwall itself; a kind from a newer version is passed through as it was.
    kind: entry.kind as AlertKind,
    severity: ALERT_SEVERITIES.includes(entry.severity as AlertSeverity) ? (entry.severity as AlertSeverity) : 'warning',
    title: entry.summary,
    details: [],
    action: RESOLVED_ACTION,
    fingerprint: entry.fingerprint,
  };
}
