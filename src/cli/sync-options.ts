import { resolveWebhookConfig } from '../alerts/webhook.js';
import type { TagwallConfig } from '../config/config.js';
import type { RunOptions } from '../run/run.js';
import type { RunReport } from '../run/report.js';

/** `--alerts`: send (page: log and webhook, remembered), preview (log what would be sent), none. */
export const ALERTS_MODES = ['send', 'preview', 'none'] as const;
export type AlertsMode = (typeof ALERTS_MODES)[number];

/**
 * What a CLI run does with its alerts. By default a sync sends and a dry run previews, as
 * before; `--alerts send` makes a dry run the timer's drift check (same alerts, same memory),
 * and `--no-alerts` is `--alerts none`.
 */
export function alertMode(given: boolean | AlertsMode | undefined, dryRun: boolean): RunOptions['alerts'] {
  if (given === false || given === 'none') return 'off';
  if (given === 'send' || given === 'preview') return given;
  return dryRun ? 'preview' : 'send';
}

/** The alert webhook's URL: its path may be its secret, so --verbose names its host alone. */
export function secretUrls(config: TagwallConfig, env: NodeJS.ProcessEnv): URL[] {
  try {
    const webhook = resolveWebhookConfig(config.alerts.webhook, env);
    return webhook === undefined ? [] : [new URL(webhook.url.trim())];
  } catch {
    // A bad setting fails the run before any request, with its own message.
    return [];
  }
}

/** With --quiet, the only lines: the run's errors, and each target that failed or was refused, code first. */
export function quietErrors(report: RunReport): string[] {
  const run = (report.errors ?? []).map((e) => `tagwall: ${e.code}: ${e.message}`);
  return [...run, ...report.vaults.flatMap((v) => {
    if (v.outcome === 'failed' && v.error !== undefined) return [`tagwall: ${v.error.code}: ${v.vault}: ${v.error.message}`];
    if (v.outcome === 'refused') return v.reasons.map((r) => `tagwall: ${r.code}: ${v.vault}: ${r.message}`);
    return [];
  })];
}
