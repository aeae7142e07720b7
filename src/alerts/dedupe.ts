import { TagwallError } from '../core/errors.js';
import { scopeOf } from './fingerprint.js';
import { ALERT_SEVERITIES, type Alert, type AlertKind, type AlertSeverity, type AlertState, type AlertStateEntry, type Notification } from './types.js';

/**
 * Deciding what to send, as pure functions over the remembered state: a problem alerts
 * when first seen, again only once `repeatAfterHours` have passed while it persists, and
 * once more as "resolved" when a run that looked at its scope no longer finds it. A
 * notification that was due and not delivered stays due until it is, even when its problem
 * has cleared since: a never-delivered "firing" then goes out as one "resolved" that tells
 * the whole story (what was found, when, and when it was gone).
 */

export interface ScopeDecision {
  readonly scope: string;
  /** Whether this run looked at the scope; only then may its alerts resolve. */
  readonly evaluated: boolean;
  readonly previous: AlertState | undefined;
  /** The state to remember if every notification below is delivered. */
  readonly next: AlertState;
  readonly notifications: readonly Notification[];
  /** By fingerprint, what to remember instead when that notification is not delivered, so it stays due. */
  readonly undelivered: ReadonlyMap<string, AlertStateEntry>;
}

export interface DecideInput {
  readonly alerts: readonly Alert[];
  readonly evaluatedScopes: readonly string[];
  /**
   * Scopes where this run wrote, or found nothing to write, in a run that may write: only there can
   * an alert about a write (`write: true`) be seen cleared. A dry run lists none.
   */
  readonly writeScopes?: readonly string[];
  /** Remembered state by scope (as `scopeOf` gives it); missing means nothing remembered. */
  readonly previous: ReadonlyMap<string, AlertState | undefined>;
  readonly now: Date;
  readonly repeatAfterHours: number;
}

export const RESOLVED_ACTION = 'Nothing: the condition is no longer present.';
export const PENDING_FIRING = 'firing';
export const PENDING_RESOLVED = 'resolved';

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
  const written = new Set((input.writeScopes ?? []).map(scopeOf));
  // Grouped once: filtering every alert for every scope was quadratic, a minute at 10,000 firewalls.
  const byScope = new Map<string, Alert[]>();
  for (const a of input.alerts) {
    const scope = scopeOf(a.vault);
    const group = byScope.get(scope);
    if (group === undefined) byScope.set(scope, [a]);
    else group.push(a);
  }
  const scopes = scopesToConsider(input.alerts, input.evaluatedScopes).map((scope) =>
    decideScope({
      scope,
      evaluated: evaluated.has(scope),
      writeEvaluated: written.has(scope),
      previous: input.previous.get(scope),
      alerts: byScope.get(scope) ?? [],
      now: input.now,
      repeatAfterMs,
    }),
  );
  return { notifications: scopes.flatMap((s) => s.notifications), scopes };
}

export function decideScope(input: {
  readonly scope: string;
  readonly evaluated: boolean;
  /** Whether a run that may write evaluated the scope; absent: no. */
  readonly writeEvaluated?: boolean;
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
  const undelivered = new Map<string, AlertStateEntry>();

  for (const alert of current.values()) {
    const known = remembered.get(alert.fingerprint);
    if (known === undefined || known.pending === PENDING_FIRING || severityRank(alert.severity) > severityRank(known.severity)) {
      // New, never delivered, or worse than when it was last sent: page now rather than wait out the repeat interval.
      notifications.push({ alert, state: 'firing' });
      next.push(entryFor(alert, known?.firstSeen ?? now, now));
      undelivered.set(alert.fingerprint, { ...entryFor(alert, known?.firstSeen ?? now, known?.lastSent ?? now), pending: PENDING_FIRING, ...contentOf(alert) });
    } else if (isDue(known.lastSent, input.now, input.repeatAfterMs)) {
      notifications.push({ alert, state: 'repeat' });
      next.push(entryFor(alert, known.firstSeen, now));
      // Left as last sent, it is due again on the next run.
      undelivered.set(alert.fingerprint, entryFor(alert, known.firstSeen, known.lastSent));
    } else {
      // Also where it came back before a pending "resolved" went out: the receiver's last word, firing, is true again.
      next.push(entryFor(alert, known.firstSeen, known.lastSent));
    }
  }

  for (const known of remembered.values()) {
    if (current.has(known.fingerprint)) continue;
    if (!input.evaluated) {
      // Not looked at this run (the vault could not be read): absence proves nothing.
      next.push(known);
      continue;
    }
    if (known.write === true && known.pending !== PENDING_RESOLVED && input.writeEvaluated !== true) {
      // A failed write is seen cleared only by a write (or a plan with nothing to write): a dry
      // run that read the firewall fine says nothing about the permission or limit it failed on.
      // (A resolution already seen and still owed goes out to whoever evaluates the scope.)
      next.push(known);
      continue;
    }
    const clearedAt = known.clearedAt ?? now;
    if (known.pending === PENDING_FIRING) {
      notifications.push({ alert: unreportedAlert(known, clearedAt), state: 'resolved', firstSeen: known.firstSeen, clearedAt, unreported: true });
      undelivered.set(known.fingerprint, { ...known, clearedAt });
    } else {
      notifications.push({ alert: resolvedAlert(known), state: 'resolved', firstSeen: known.firstSeen, clearedAt });
      const { details: _details, rules: _rules, ...entry } = known;
      undelivered.set(known.fingerprint, { ...entry, pending: PENDING_RESOLVED, clearedAt });
    }
  }

  return { scope: input.scope, evaluated: input.evaluated, previous: input.previous, next: { version: 1, alerts: next }, notifications, undelivered };
}

/**
 * The state to save when some notifications could not be delivered but may be next run: each
 * held fingerprint is remembered as still due (a new or worse alert as a pending firing, a
 * repeat as last sent, a resolution as a pending "resolved"), so the next run sends it again.
 */
export function settleScope(decision: Pick<ScopeDecision, 'next' | 'undelivered'>, held: ReadonlySet<string>): AlertState {
  if (held.size === 0) return decision.next;
  const alerts: AlertStateEntry[] = [];
  const placed = new Set<string>();
  for (const entry of decision.next.alerts) {
    placed.add(entry.fingerprint);
    alerts.push((held.has(entry.fingerprint) ? decision.undelivered.get(entry.fingerprint) : undefined) ?? entry);
  }
  for (const [fingerprint, entry] of decision.undelivered) {
    if (held.has(fingerprint) && !placed.has(fingerprint)) alerts.push(entry);
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
  return {
    fingerprint: alert.fingerprint,
    kind: alert.kind,
    severity: alert.severity,
    vault: alert.vault,
    firstSeen,
    lastSent,
    summary: alert.title,
    ...(alert.write === true ? { write: true } : {}),
    ...(alert.cause === undefined ? {} : { cause: alert.cause }),
  };
}

function contentOf(alert: Alert): Pick<AlertStateEntry, 'details' | 'rules'> {
  return { details: [...alert.details], ...(alert.rules === undefined ? {} : { rules: [...alert.rules] }) };
}

/** What a never-delivered firing says once its problem has cleared: its own content, and both times. */
function unreportedAlert(entry: AlertStateEntry, clearedAt: string): Alert {
  return {
    ...resolvedAlert(entry),
    details: [...(entry.details ?? [])],
    ...(entry.rules === undefined ? {} : { rules: [...entry.rules] }),
    action: `Nothing more: it was found at ${entry.firstSeen} and had cleared by ${clearedAt}; it is reported only now because no alert about it could be delivered while it lasted.`,
  };
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
    ...(entry.cause === undefined ? {} : { cause: entry.cause }),
  };
}
