import { describeError } from '../core/errors.js';
import { decideAlerts, sameAlertState, scopesToConsider, settleScope } from './dedupe.js';
import { scopeOf } from './fingerprint.js';
import { webhookBody } from './format.js';
import { groupNotifications, type Outgoing } from './group.js';
import { logNotification } from './log.js';
import { inPool } from '../core/pool.js';
import type { Alert, AlertLogger, AlertState, AlertStateAccess, LoadedAlertState, Notification } from './types.js';
import { describeWebhookUrl, postWebhook, webhookSettings, type WebhookConfig } from './webhook.js';

/**
 * One run's alerting: load what was remembered for the scopes this run touched, decide
 * what to send, log every notification, POST them to the webhook if one is configured,
 * and remember the outcome. Alerting reports its own failures in the result and the log;
 * it never throws because a receiver or the state store misbehaved.
 */

export interface DispatchInput {
  readonly alerts: readonly Alert[];
  /** Scopes (vault resource IDs, '_run') this run actually looked at; only these may resolve. */
  readonly evaluatedScopes: readonly string[];
  /** Of those, where a run that may write wrote or found nothing to write; only these resolve alerts about a write. */
  readonly writeScopes?: readonly string[];
  readonly now: Date;
  readonly repeatAfterHours: number;
  readonly state: AlertStateAccess;
  readonly webhook?: WebhookConfig;
  readonly logger: AlertLogger;
  /** Decide and log what would be sent, without POSTing or saving state. */
  readonly dryRun?: boolean;
}

export interface DispatchResult {
  /** What was told, after alerts of one root cause were grouped into one notification. */
  readonly notifications: Notification[];
  readonly webhook: { sent: number; failed: number; errors: string[] };
  /** Scopes whose state was written, and what went wrong loading or saving state. */
  readonly state: { saved: string[]; errors: string[] };
}

export async function dispatchAlerts(input: DispatchInput): Promise<DispatchResult> {
  const { logger, now } = input;
  const stateErrors: string[] = [];
  const scopes = scopesToConsider(input.alerts, input.evaluatedScopes);

  const loaded = new Map<string, { state: AlertState; etag: string } | undefined>();
  const unreadable = new Set<string>();
  const outcomes = await loadAll(input.state, scopes);
  for (const scope of scopes) {
    const outcome = outcomes.get(scope) ?? { ok: false, error: new Error('not loaded') };
    if (outcome.ok) {
      loaded.set(scope, outcome.value);
      continue;
    }
    // Better to alert twice than to stay silent: decide as if nothing were remembered,
    // but resolve nothing and save nothing for this scope.
    unreadable.add(scope);
    const message = `alert state for ${scope} could not be read: ${describeError(outcome.error)}`;
    stateErrors.push(message);
    logger.error(message);
  }

  const decision = decideAlerts({
    alerts: input.alerts,
    evaluatedScopes: input.evaluatedScopes.filter((s) => !unreadable.has(scopeOf(s))),
    writeScopes: (input.writeScopes ?? []).filter((s) => !unreadable.has(scopeOf(s))),
    previous: new Map([...loaded].map(([scope, record]) => [scope, record?.state])),
    now,
    repeatAfterHours: input.repeatAfterHours,
  });

  // Both sinks tell the grouped notification: a log alert rule pages on log lines too.
  const outgoing = groupNotifications(decision.scopes);
  const notifications = outgoing.map((o) => o.notification);
  for (const n of notifications) logNotification(logger, n, now, input.dryRun);

  const webhook = { sent: 0, failed: 0, errors: [] as string[] };
  if (input.dryRun) return { notifications, webhook, state: { saved: [], errors: stateErrors } };

  const held = input.webhook === undefined ? new Map<string, Set<string>>() : await deliver(input.webhook, outgoing, now, webhook, logger);

  const writes = decision.scopes.flatMap((d) => {
    if (unreadable.has(d.scope)) return [];
    const next = settleScope(d, held.get(d.scope) ?? new Set());
    return sameAlertState(d.previous, next) ? [] : [{ scope: d.scope, next }];
  });
  // Each save is conditional on the ETag its scope was read with, so they need no order among them.
  const written = await inPool(writes.length, STATE_REQUESTS_IN_FLIGHT, async (i) => {
    const { scope, next } = writes[i]!;
    try {
      await input.state.save(scope, next, loaded.get(scope)?.etag);
      return undefined;
    } catch (e) {
      return e;
    }
  });
  const saved: string[] = [];
  writes.forEach(({ scope }, i) => {
    if (written[i] === undefined) return void saved.push(scope);
    // Most likely an overlapping run saved first; the next run decides again from its record.
    const message = `alert state for ${scope} could not be saved: ${describeError(written[i])}`;
    stateErrors.push(message);
    logger.error(message);
  });
  return { notifications, webhook, state: { saved, errors: stateErrors } };
}

/** Alert records read or written at once, when the state access cannot read many in one go itself. */
const STATE_REQUESTS_IN_FLIGHT = 16;

/** Every scope's remembered state, through loadMany when the access has it, else `load` a bounded number at a time. */
async function loadAll(state: AlertStateAccess, scopes: readonly string[]): Promise<ReadonlyMap<string, LoadedAlertState>> {
  if (state.loadMany !== undefined) {
    try {
      return await state.loadMany(scopes);
    } catch (error) {
      return new Map(scopes.map((scope) => [scope, { ok: false, error }]));
    }
  }
  const outcomes = await inPool(scopes.length, STATE_REQUESTS_IN_FLIGHT, async (i): Promise<LoadedAlertState> => {
    try {
      return { ok: true, value: await state.load(scopes[i]!) };
    } catch (error) {
      return { ok: false, error };
    }
  });
  return new Map(scopes.map((scope, i) => [scope, outcomes[i]!]));
}

/**
 * Sends each notification in order. Returns, by scope, the fingerprints whose delivery
 * failed in a way the next run may not repeat, so they are remembered as still due.
 * After one notification has used up its attempts on a transient failure, the rest are
 * not tried: the receiver is down, and waiting out every timeout would stall the run.
 */
async function deliver(
  config: WebhookConfig,
  outgoing: readonly Outgoing[],
  now: Date,
  result: { sent: number; failed: number; errors: string[] },
  logger: AlertLogger,
): Promise<Map<string, Set<string>>> {
  const held = new Map<string, Set<string>>();
  const total = outgoing.length;
  if (total === 0) return held;

  let settings;
  try {
    settings = webhookSettings(config);
  } catch (e) {
    // A configuration mistake will not fix itself by the next run; the log sink has the alerts.
    result.failed = total;
    result.errors.push(describeError(e));
    logger.warn(`alert webhook not used: ${describeError(e)}`, { event: 'tagwall.alert-webhook', failed: total });
    return held;
  }

  let unreachable: string | undefined;
  let skipped = 0;
  for (const { notification: n, members } of outgoing) {
    let transient = true;
    if (unreachable !== undefined) {
      skipped++;
    } else {
      const outcome = await postWebhook(settings, webhookBody(settings.format, n, now));
      if (outcome.ok) {
        result.sent++;
        continue;
      }
      transient = outcome.transient;
      result.errors.push(`${n.alert.fingerprint} (${n.state}): ${outcome.error ?? 'not delivered'}`);
      if (transient) unreachable = outcome.error;
    }
    result.failed++;
    if (!transient) continue;
    // Every alert the notification spoke for stays due in its own scope.
    for (const { scope, fingerprint } of members) {
      const set = held.get(scope) ?? new Set<string>();
      set.add(fingerprint);
      held.set(scope, set);
    }
  }
  if (skipped > 0) result.errors.push(`${skipped} more notification(s) not attempted: ${describeWebhookUrl(settings.url)} was not reachable`);
  if (result.failed > 0) {
    const retried = [...held.values()].reduce((n, s) => n + s.size, 0);
    logger.warn(
      `alert webhook ${describeWebhookUrl(settings.url)}: ${result.failed} of ${total} notification(s) not delivered, ${retried} to be retried next run`,
      { event: 'tagwall.alert-webhook', sent: result.sent, failed: result.failed, errors: result.errors },
    );
  }
  return held;
}
