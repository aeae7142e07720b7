import { capLines, timesOf, vaultDisplayName } from './format.js';
import type { AlertLogger, Notification } from './types.js';

/**
 * The log sink, which always runs. Each notification is one log line that starts with
 * `tagwall.alert ` and continues with the event as JSON, so a log query can find and
 * parse it whatever the logger does with structured properties; the same event is also
 * passed as properties for loggers that keep them.
 */

export const ALERT_EVENT = 'tagwall.alert';
/**
 * Dry runs log under a different name that does not contain `tagwall.alert`, so that
 * previewing alerts can never trip a log alert rule.
 */
export const DRY_RUN_EVENT = 'tagwall.would-alert';

export interface AlertLogEvent {
  readonly event: typeof ALERT_EVENT | typeof DRY_RUN_EVENT;
  readonly vault: string;
  readonly vaultName: string;
  readonly kind: string;
  readonly severity: string;
  readonly fingerprint: string;
  readonly state: Notification['state'];
  readonly title: string;
  readonly details: string[];
  readonly rules?: string[];
  readonly ruleCount?: number;
  readonly action: string;
  readonly at: string;
  readonly firstSeen?: string;
  readonly clearedAt?: string;
  readonly unreported?: true;
}

export function alertLogEvent(notification: Notification, now: Date, dryRun = false): AlertLogEvent {
  const { alert, state } = notification;
  return {
    event: dryRun ? DRY_RUN_EVENT : ALERT_EVENT,
    vault: alert.vault,
    vaultName: vaultDisplayName(alert.vault),
    kind: alert.kind,
    severity: alert.severity,
    fingerprint: alert.fingerprint,
    state,
    title: alert.title,
    details: capLines(alert.details),
    ...(alert.rules === undefined ? {} : { rules: capLines(alert.rules), ruleCount: alert.rules.length }),
    action: alert.action,
    at: now.toISOString(),
    ...timesOf(notification),
  };
}

export function alertLogLine(event: AlertLogEvent): string {
  return `${event.event} ${JSON.stringify(event)}`;
}

/** Critical alerts log as errors and warnings as warnings, so level-based filters work too. */
export function logNotification(logger: AlertLogger, notification: Notification, now: Date, dryRun = false): AlertLogEvent {
  const event = alertLogEvent(notification, now, dryRun);
  const line = alertLogLine(event);
  const props = event as unknown as Record<string, unknown>;
  if (dryRun || notification.state === 'resolved' || notification.alert.severity === 'info') logger.info(line, props);
  else if (notification.alert.severity === 'critical') logger.error(line, props);
  else logger.warn(line, props);
  return event;
}
