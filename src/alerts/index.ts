export * from './types.js';
export { scopeOf, fingerprintOf, createAlert, type FingerprintInput } from './fingerprint.js';
export { decideAlerts, decideScope, settleScope, scopesToConsider, emptyAlertState, RESOLVED_ACTION, type ScopeDecision, type DecideInput } from './dedupe.js';
export { capLines, vaultDisplayName, webhookBody, genericBody, teamsBody, slackBody, LIST_CAP, WEBHOOK_FORMATS, type WebhookFormat, type GenericAlertBody } from './format.js';
export { ALERT_EVENT, DRY_RUN_EVENT, alertLogEvent, alertLogLine, logNotification, type AlertLogEvent } from './log.js';
export {
  validateWebhookUrl,
  resolveWebhookConfig,
  webhookSettings,
  postWebhook,
  describeWebhookUrl,
  WEBHOOK_URL_SETTING,
  WEBHOOK_FORMAT_SETTING,
  type WebhookConfig,
  type WebhookSettings,
  type DeliveryResult,
} from './webhook.js';
export { dispatchAlerts, type DispatchInput, type DispatchResult } from './dispatch.js';
