import { fingerprintOf } from './fingerprint.js';
import { vaultDisplayName } from './format.js';
import { ALERT_SEVERITIES, RUN_SCOPE, type Alert, type Notification } from './types.js';

/**
 * One root cause pages once. A missing role gives every firewall it guards the same 403: N
 * alerts, each remembered and resolved in its own firewall's scope (so each resolves exactly
 * when its own firewall is written again), but told as one notification per run naming the
 * cause, the count and the firewalls. Alerts of one state, kind and `cause` are grouped; an
 * unreported resolution tells its own story and goes alone.
 */

export interface Outgoing {
  readonly notification: Notification;
  /** The remembered alerts it speaks for: when it is not delivered, each stays due in its own scope. */
  readonly members: readonly { readonly scope: string; readonly fingerprint: string }[];
}

/** How many firewalls a grouped title names before "and N more" (the details list them all, capped by the sinks). */
const NAMED = 5;

export function groupNotifications(scopes: readonly { readonly scope: string; readonly notifications: readonly Notification[] }[]): Outgoing[] {
  const groups = new Map<string, { scope: string; notification: Notification }[]>();
  const order: (string | { scope: string; notification: Notification })[] = [];
  for (const { scope, notifications } of scopes) {
    for (const notification of notifications) {
      const cause = notification.alert.cause;
      if (cause === undefined || notification.unreported === true) {
        order.push({ scope, notification });
        continue;
      }
      const key = JSON.stringify([notification.state, notification.alert.kind, cause]);
      const group = groups.get(key);
      if (group === undefined) {
        groups.set(key, [{ scope, notification }]);
        order.push(key);
      } else {
        group.push({ scope, notification });
      }
    }
  }
  return order.map((item) => {
    if (typeof item !== 'string') return { notification: item.notification, members: [{ scope: item.scope, fingerprint: item.notification.alert.fingerprint }] };
    const group = groups.get(item)!;
    const members = group.map((g) => ({ scope: g.scope, fingerprint: g.notification.alert.fingerprint }));
    return { notification: group.length === 1 ? group[0]!.notification : combined(group.map((g) => g.notification)), members };
  });
}

function combined(notifications: readonly Notification[]): Notification {
  const first = notifications[0]!;
  const { kind, cause, action } = first.alert;
  const n = notifications.length;
  const names = notifications.map((x) => vaultDisplayName(x.alert.vault));
  const shown = `${names.slice(0, NAMED).join(', ')}${n > NAMED ? ` and ${n - NAMED} more` : ''}`;
  const severity = ALERT_SEVERITIES.find((s) => notifications.some((x) => x.alert.severity === s)) ?? first.alert.severity;
  const alert: Alert = {
    vault: RUN_SCOPE,
    kind,
    severity,
    title: `${cause} on ${n} targets: ${shown}`,
    // A resolution carries no details of its own: its title said what it was.
    details: notifications.map((x) => `${x.alert.vault}: ${x.alert.details[0] ?? x.alert.title}`),
    // One cause, one action: the per-code table gives every member the same (a resolution's is the same too).
    action,
    // The cause and kind identify the page, so a receiver that de-duplicates by fingerprint keeps one incident.
    fingerprint: fingerprintOf({ vault: RUN_SCOPE, kind, subject: `cause:${cause ?? ''}` }),
    ...(cause === undefined ? {} : { cause }),
  };
  const firstSeen = earliest(notifications.map((x) => x.firstSeen));
  const clearedAt = latest(notifications.map((x) => x.clearedAt));
  return { alert, state: first.state, ...(firstSeen === undefined ? {} : { firstSeen }), ...(clearedAt === undefined ? {} : { clearedAt }) };
}

function earliest(times: readonly (string | undefined)[]): string | undefined {
  return times.filter((t): t is string => t !== undefined).sort()[0];
}

function latest(times: readonly (string | undefined)[]): string | undefined {
  return times.filter((t): t is string => t !== undefined).sort().at(-1);
}
