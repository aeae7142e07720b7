import { hostname } from 'node:os';
import { webhookBody } from '../alerts/format.js';
import { createAlert } from '../alerts/fingerprint.js';
import { RUN_SCOPE, type Notification } from '../alerts/types.js';
import { describeWebhookUrl, postWebhook, resolveWebhookConfig, webhookSettings, WEBHOOK_URL_SETTING, type WebhookConfig } from '../alerts/webhook.js';
import { loadConfig } from '../config/load.js';
import { TagwallError } from '../core/errors.js';
import { writeLine, type CliIO } from './io.js';

/**
 * `tagwall alerts test`: one test notification through each configured channel, each answer
 * reported. It opens no state store: a test is not a problem, so it must never resolve, repeat
 * or suppress a real alert, and nothing of it is remembered. One attempt per channel: the
 * question is whether the channel works now, and a retry would hide a flaky receiver.
 */

export interface AlertsTestOptions {
  readonly config?: string;
  readonly json: boolean;
}

export interface ChannelResult {
  readonly channel: 'webhook';
  /** Scheme and host: the rest of a webhook URL may be its secret. */
  readonly target: string;
  readonly format: string;
  readonly outcome: 'sent' | 'failed';
  readonly status?: number;
  readonly error?: string;
}

/** The configured channels; the log sink, which every alert reaches, needs no test. */
function channelsOf(webhook: WebhookConfig | undefined): WebhookConfig[] {
  return webhook === undefined ? [] : [webhook];
}

export function testNotification(now: Date): Notification {
  const alert = createAlert({
    vault: RUN_SCOPE,
    kind: 'test',
    subject: now.toISOString(),
    severity: 'info',
    title: 'tagwall test notification: this channel receives tagwall\'s alerts',
    details: [`sent by \`tagwall alerts test\` on ${hostname()} at ${now.toISOString()}`],
    action: 'Nothing: this is a test. No problem was found, and nothing about it is remembered.',
  });
  return { alert, state: 'firing' };
}

export async function runAlertsTest(options: AlertsTestOptions, io: CliIO, now = new Date()): Promise<number> {
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: io.env, cwd: io.cwd });
  const channels = channelsOf(resolveWebhookConfig(config.alerts.webhook, io.env));
  if (channels.length === 0) {
    throw new TagwallError(
      'ALERT_CHANNEL_MISSING',
      `no alert channel to test: set alerts.webhook.url in the configuration or ${WEBHOOK_URL_SETTING}; without one, alerts reach the log alone (docs/ALERTING.md)`,
    );
  }
  const notification = testNotification(now);
  const results: ChannelResult[] = [];
  for (const channel of channels) {
    const settings = webhookSettings({ ...channel, attempts: 1 });
    const outcome = await postWebhook(settings, webhookBody(settings.format, notification, now));
    results.push({
      channel: 'webhook',
      target: describeWebhookUrl(settings.url),
      format: settings.format,
      outcome: outcome.ok ? 'sent' : 'failed',
      ...(outcome.status === undefined ? {} : { status: outcome.status }),
      ...(outcome.ok || outcome.error === undefined ? {} : { error: outcome.error }),
    });
  }
  const failed = results.filter((r) => r.outcome === 'failed').length;
  if (options.json) writeLine(io.stdout, JSON.stringify({ channels: results }));
  else {
    for (const r of results) {
      const answer = r.status === undefined ? (r.error ?? 'no answer') : `HTTP ${r.status}`;
      writeLine(io.stdout, `${r.channel} ${r.target} (${r.format}): ${r.outcome}, ${answer}`);
    }
    writeLine(io.stdout, failed === 0 ? `${results.length} of ${results.length} channel(s) received the test notification` : `${failed} of ${results.length} channel(s) failed`);
  }
  return failed === 0 ? 0 : 1;
}
