import { RUN_SCOPE, type Alert, type Notification, type NotificationState } from './types.js';

/**
 * What a notification says, and its shape for each webhook flavour. Every flavour carries
 * the same facts: which vault, what changed (capped, so a vault that lost 400 rules still
 * produces a readable message under the receivers' size limits), and what tagwall will do.
 */

export type WebhookFormat = 'generic' | 'teams' | 'slack';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['generic', 'teams', 'slack'];

/** How many detail lines and rules a notification lists before "and N more". */
export const LIST_CAP = 20;

/** The first `cap` items, then "and N more" when there were more. */
export function capLines(items: readonly string[], cap = LIST_CAP): string[] {
  if (items.length <= cap) return [...items];
  return [...items.slice(0, cap), `and ${items.length - cap} more`];
}

/** `kv-prod` for a vault resource ID; the whole value when it is not one. */
export function vaultDisplayName(vault: string): string {
  const v = vault.trim();
  if (v === '' || v === RUN_SCOPE) return 'all vaults (run-wide)';
  // The resource's own name, whatever its kind (a vault, an account, a perimeter profile).
  const m = /\/providers\/.+\/([^/]+)\/?$/i.exec(v);
  return m?.[1] ?? v;
}

export function headline(notification: Notification): string {
  const { alert, state } = notification;
  const severity = alert.severity === 'critical' ? 'CRITICAL' : capitalise(alert.severity);
  // Never announced while it lasted: say how bad it was, and that it is over.
  const prefix = notification.unreported ? `${severity} (already resolved)` : state === 'resolved' ? 'Resolved' : state === 'repeat' ? 'Still present' : severity;
  return `[tagwall] ${prefix}: ${alert.title}`;
}

/** `firstSeen`, `clearedAt` and `unreported`, as a notification has them. */
export function timesOf(notification: Notification): { firstSeen?: string; clearedAt?: string; unreported?: true } {
  return {
    ...(notification.firstSeen === undefined ? {} : { firstSeen: notification.firstSeen }),
    ...(notification.clearedAt === undefined ? {} : { clearedAt: notification.clearedAt }),
    ...(notification.unreported ? { unreported: true as const } : {}),
  };
}

/** The documented JSON body of the `generic` format (schema `tagwall.alert/v1`). */
export interface GenericAlertBody {
  readonly schema: 'tagwall.alert/v1';
  readonly state: NotificationState;
  readonly vault: string;
  readonly vaultName: string;
  readonly kind: string;
  readonly severity: string;
  readonly title: string;
  readonly details: string[];
  readonly rules: string[];
  /** How many rules were left out of `rules` by the cap. */
  readonly rulesOmitted: number;
  readonly action: string;
  readonly fingerprint: string;
  readonly sentAt: string;
  /** On `resolved`: when the problem was first seen, and when a run found it gone. */
  readonly firstSeen?: string;
  readonly clearedAt?: string;
  /** On `resolved`: true when no notification about the problem was delivered while it lasted. */
  readonly unreported?: true;
}

export function genericBody(notification: Notification, now: Date): GenericAlertBody {
  const { alert, state } = notification;
  const rules = alert.rules ?? [];
  return {
    schema: 'tagwall.alert/v1',
    state,
    vault: alert.vault,
    vaultName: vaultDisplayName(alert.vault),
    kind: alert.kind,
    severity: alert.severity,
    title: alert.title,
    details: capLines(alert.details),
    rules: rules.slice(0, LIST_CAP),
    rulesOmitted: Math.max(0, rules.length - LIST_CAP),
    action: alert.action,
    fingerprint: alert.fingerprint,
    sentAt: now.toISOString(),
    ...timesOf(notification),
  };
}

/** First seen and cleared, for the facts of a resolution. */
function timeFacts(notification: Notification): { title: string; value: string }[] {
  return [
    ...(notification.firstSeen === undefined ? [] : [{ title: 'First seen', value: notification.firstSeen }]),
    ...(notification.clearedAt === undefined ? [] : [{ title: 'Cleared', value: notification.clearedAt }]),
  ];
}

/** What changed, as lines for people: the details, or the rules when there are no details. */
export function changeLines(alert: Alert): string[] {
  return capLines(alert.details.length > 0 ? alert.details : (alert.rules ?? []));
}

/** A Teams Workflows ("When a Teams webhook request is received") message with an Adaptive Card. */
export function teamsBody(notification: Notification, now: Date): unknown {
  const { alert, state } = notification;
  const color = state === 'resolved' ? 'Good' : alert.severity === 'critical' ? 'Attention' : alert.severity === 'warning' ? 'Warning' : 'Default';
  const changes = changeLines(alert);
  const body: unknown[] = [
    { type: 'TextBlock', text: clip(headline(notification), 300), weight: 'Bolder', size: 'Medium', color, wrap: true },
    {
      type: 'FactSet',
      facts: [
        { title: 'Vault', value: vaultDisplayName(alert.vault) },
        { title: 'Kind', value: alert.kind },
        { title: 'Severity', value: alert.severity },
        { title: 'State', value: state },
        ...timeFacts(notification),
        { title: 'At', value: now.toISOString() },
      ],
    },
  ];
  if (changes.length > 0) {
    body.push({ type: 'TextBlock', text: 'What changed', weight: 'Bolder', wrap: true, spacing: 'Medium' });
    body.push({ type: 'TextBlock', text: clip(changes.map((l) => `- ${l}`).join('\n'), 6000), wrap: true });
  }
  body.push({ type: 'TextBlock', text: 'What tagwall will do', weight: 'Bolder', wrap: true, spacing: 'Medium' });
  body.push({ type: 'TextBlock', text: clip(alert.action, 2000), wrap: true });
  body.push({ type: 'TextBlock', text: clip(`${alert.vault || 'run-wide'} · ${alert.fingerprint}`, 1000), isSubtle: true, size: 'Small', wrap: true });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body },
      },
    ],
  };
}

/** A Slack incoming-webhook message: `text` is the notification fallback, `blocks` the message. */
export function slackBody(notification: Notification, now: Date): { text: string; blocks: unknown[] } {
  const { alert, state } = notification;
  const changes = changeLines(alert);
  const blocks: unknown[] = [
    // Header blocks take plain text of at most 150 characters.
    { type: 'header', text: { type: 'plain_text', text: clip(headline(notification), 150), emoji: false } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Vault*\n${clip(slackEscape(vaultDisplayName(alert.vault)), 1900)}` },
        { type: 'mrkdwn', text: `*Kind*\n${slackEscape(alert.kind)}` },
        { type: 'mrkdwn', text: `*Severity*\n${alert.severity}` },
        { type: 'mrkdwn', text: `*State*\n${state}` },
        ...timeFacts(notification).map((f) => ({ type: 'mrkdwn', text: `*${f.title}*\n${f.value}` })),
      ],
    },
  ];
  if (changes.length > 0) {
    // Section text is limited to 3000 characters.
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*What changed*\n${changes.map((l) => `• ${slackEscape(l)}`).join('\n')}`, 3000) } });
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*What tagwall will do*\n${slackEscape(alert.action)}`, 3000) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(slackEscape(`${alert.vault || 'run-wide'} · ${alert.fingerprint} · ${now.toISOString()}`), 2000) }] });
  return { text: clip(headline(notification), 3000), blocks };
}

export function webhookBody(format: WebhookFormat, notification: Notification, now: Date): unknown {
  switch (format) {
    case 'generic':
      return genericBody(notification, now);
    case 'teams':
      return teamsBody(notification, now);
    case 'slack':
      return slackBody(notification, now);
  }
}

/** Slack reads &, < and > as markup (links, mentions); vault names and rules are not markup. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
