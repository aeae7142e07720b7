/**
 * The vocabulary of alerting: what the reconciler reports, what gets sent, and what is
 * remembered between runs so that a problem pages once rather than every run.
 */

export type AlertKind =
  /** Owned rules removed out of band, rules added out of band (authoritative mode), posture changed. */
  | 'drift'
  /** The vault's firewall lets everything in (`defaultAction: Allow`). */
  | 'firewall-disabled'
  /** A network security perimeter in Enforced mode decides access, so the vault's IP rules do nothing. */
  | 'perimeter-enforced'
  /** A widened rule is wider than guards.warnWidenedPrefix: within the bounds, but a reviewer should know. */
  | 'wide-rule'
  /** A guard refused the planned write, so nothing was applied. */
  | 'plan-refused'
  /** The vault could not be read or written. */
  | 'vault-failed'
  /** The service-tags file in use is older than allowed. */
  | 'service-tags-stale'
  /** The service-tags file could not be downloaded or parsed. */
  | 'service-tags-failed'
  /** The state store could not be opened or read, so no vault was touched (logged only: alert memory lives there). */
  | 'state-unavailable'
  /** A firewall's opt-in tag names no profile (or one that cannot apply to its kind): it is not protected. */
  | 'unknown-profile'
  /** Discovery could not read part of its scope, failed, or found the fleet suddenly smaller. */
  | 'discovery'
  /** The Functions host gave up on a fleet shard (its message reached the poison queue): its vaults were not reconciled. */
  | 'shard-failed'
  /** `tagwall alerts test`: proves a channel delivers; never remembered, never about a problem. */
  | 'test';

export const ALERT_KINDS: readonly AlertKind[] = [
  'drift',
  'firewall-disabled',
  'perimeter-enforced',
  'wide-rule',
  'plan-refused',
  'vault-failed',
  'service-tags-stale',
  'service-tags-failed',
  'state-unavailable',
  'unknown-profile',
  'discovery',
  'shard-failed',
  'test',
];

export type AlertSeverity = 'critical' | 'warning' | 'info';

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['critical', 'warning', 'info'];

/** The scope of alerts that concern the whole run rather than one vault. */
export const RUN_SCOPE = '_run';

export interface Alert {
  /** The vault's resource ID, or '' / '_run' for run-wide problems (service tags). */
  readonly vault: string;
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  /** One line, e.g. "3 owned rules were removed from kv-prod outside tagwall". */
  readonly title: string;
  /** What changed, one item per line (rules, posture fields, the guard that fired). */
  readonly details: readonly string[];
  /** The IP rules concerned, when the alert is about rules. */
  readonly rules?: readonly string[];
  /** What tagwall will do about it, e.g. "The rules will be restored on this run." */
  readonly action: string;
  /** Identity of the problem across runs; see `fingerprintOf`. */
  readonly fingerprint: string;
  /**
   * The failure happened on a write (the firewall was read, the write failed): only a run that may
   * write can see it cleared, so a dry run (checkDrift) never resolves it.
   */
  readonly write?: boolean;
  /**
   * The root cause's code, when many firewalls can share it (a missing role's 403): notifications of
   * one run with the same state, kind and cause go out as one, naming the count (see group.ts).
   */
  readonly cause?: string;
}

export type NotificationState = 'firing' | 'repeat' | 'resolved';

export interface Notification {
  readonly alert: Alert;
  readonly state: NotificationState;
  /** On a "resolved" notification: when the problem was first seen (ISO 8601). */
  readonly firstSeen?: string;
  /** On a "resolved" notification: when a run first found it gone (ISO 8601). */
  readonly clearedAt?: string;
  /**
   * The problem's "firing" notification was never delivered, and it has cleared since: this
   * "resolved" is the first the receiver hears of it, so it carries the firing's content.
   */
  readonly unreported?: boolean;
}

/**
 * One remembered alert. `kind` and `severity` are plain strings here because this is data
 * read back from storage, possibly written by another version of tagwall.
 */
export interface AlertStateEntry {
  readonly fingerprint: string;
  readonly kind: string;
  readonly severity: string;
  readonly vault: string;
  /** ISO 8601: when this problem was first reported. */
  readonly firstSeen: string;
  /** ISO 8601: when a notification for it was last sent; while `pending` is "firing", when one first became due. */
  readonly lastSent: string;
  /** The alert's title, kept so the "resolved" notification can say what cleared. */
  readonly summary: string;
  /**
   * A notification that was due and not delivered, kept due until it is: "firing" (never
   * delivered; stays due even once the problem clears) or "resolved". Absent once delivered.
   */
  readonly pending?: string;
  /** ISO 8601: when a run first found the problem gone, while a notification about it is pending. */
  readonly clearedAt?: string;
  /** The alert's details and rules while its "firing" is pending, so it can be told after it cleared. */
  readonly details?: readonly string[];
  readonly rules?: readonly string[];
  /** The alert was about a write: only a run that may write resolves it (absent in records of older versions: false). */
  readonly write?: boolean;
  /** The alert's root-cause code, so its "resolved" is grouped like its firing. */
  readonly cause?: string;
}

export interface AlertState {
  readonly version: 1;
  readonly alerts: readonly AlertStateEntry[];
}

/**
 * Where alert state lives, one record per scope (a vault resource ID or '_run'). `save`
 * with an etag writes only if the record is unchanged since it was loaded; without one,
 * only if there is no record yet.
 */
export interface AlertStateAccess {
  load(scope: string): Promise<{ state: AlertState; etag: string } | undefined>;
  save(scope: string, state: AlertState, etag?: string): Promise<unknown>;
  /**
   * Many scopes at once (a fleet run's thousands), each loaded as `load` would, or its error.
   * Without it, dispatch calls `load` for each scope, a bounded number at a time.
   */
  loadMany?(scopes: readonly string[]): Promise<ReadonlyMap<string, LoadedAlertState>>;
}

/** One scope's alert state as loadMany found it: remembered, nothing remembered (undefined), or why it could not be read. */
export type LoadedAlertState = { readonly ok: true; readonly value: { state: AlertState; etag: string } | undefined } | { readonly ok: false; readonly error: unknown };

/** The Functions InvocationContext and the CLI both fit this. */
export interface AlertLogger {
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}
