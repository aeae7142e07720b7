/**
 * Every error code tagwall reports on purpose, in one place, so a caller (a test, a log query,
 * the README) can rely on the list being complete. Codes are part of the contract: they are
 * never renamed, only added.
 */
export type ErrorCode =
  // Configuration and usage: fixed by editing a setting, never worth retrying.
  | 'CONFIG_INVALID'
  // Fleets: discovery through Resource Graph and the profiles tags name.
  | 'UNKNOWN_PROFILE'
  | 'PROFILE_UNSUITABLE'
  | 'PROFILE_OUT_OF_SCOPE'
  | 'TARGET_NOT_IN_FLEET'
  | 'GRAPH_QUERY_INVALID'
  | 'GRAPH_THROTTLED'
  | 'GRAPH_FORBIDDEN'
  | 'GRAPH_FAILED'
  | 'DOCUMENT_MISSING'
  | 'CONFIG_MISSING'
  | 'CONFIG_UNREADABLE'
  | 'CONFIG_SERVICE_TAGS'
  | 'CONFIG_ARM_ENDPOINT'
  | 'CONFIG_ALLOWED_HOST'
  | 'USAGE'
  | 'BAD_REQUEST'
  | 'CIDR_INVALID'
  | 'CIDR_HOST_BITS'
  | 'CIDR_IPV6'
  | 'UNKNOWN_SELECTOR'
  | 'SELECTOR_EMPTY'
  | 'ARM_ENDPOINT_INVALID'
  // Reviewed plans (`sync --dry-run --out`, `apply`).
  /** The plan file is older than `apply --max-age`: plan again and review it. */
  | 'PLAN_EXPIRED'
  /** The plan file cannot be read as a tagwall plan. */
  | 'PLAN_INVALID'
  /** `POST /api/sync` with a planId that is not one (a UUIDv7 GET /api/plan answered). */
  | 'PLAN_ID_INVALID'
  /** No stored plan of that id (never made, or deleted after its max age). */
  | 'PLAN_NOT_FOUND'
  /** The stored plan was applied already (a plan is applied once). */
  | 'PLAN_APPLIED'
  // State tools and offboarding (`tagwall state show|forget|adopt`, `tagwall offboard`).
  /** The ID names no configured target (by resource ID or name), and tagwall has no record of it. */
  | 'TARGET_UNKNOWN'
  /** `state forget`/`adopt`: the record carries a write intent that is not confirmed yet. */
  | 'STATE_INTENT_PENDING'
  /** A command that changes tagwall's state or a firewall was not confirmed: no TTY to ask on, and no `--yes`. */
  | 'CONFIRMATION_REQUIRED'
  /** `state adopt` on a kind whose rules carry their owner in their names (`tagwall-<owner>-<n>`): the record decides nothing there. */
  | 'ADOPT_NAME_OWNED'
  // Temporary grants (`tagwall allow`).
  /** The grant fits the target's rule budget only by widening its other rules: refused, nothing written. */
  | 'GRANT_NO_ROOM'
  /** The target's pass refused, skipped or failed the write that would allow the grant: the grant is withdrawn. */
  | 'GRANT_NOT_APPLIED'
  // The allowlist engine.
  | 'COLLAPSE_INPUT'
  | 'COLLAPSE_INFEASIBLE'
  | 'COLLAPSE_INTERNAL'
  | 'BUDGET_EXHAUSTED'
  // Service tags: finding, fetching and checking the weekly file.
  | 'SERVICE_TAGS_UNAVAILABLE'
  | 'SERVICE_TAGS_UNREADABLE'
  | 'SERVICE_TAGS_NOT_JSON'
  | 'SERVICE_TAGS_SCHEMA'
  | 'SERVICE_TAGS_EMPTY'
  | 'SERVICE_TAGS_TOO_LARGE'
  | 'SERVICE_TAGS_WRONG_CLOUD'
  | 'SERVICE_TAGS_LINK_NOT_FOUND'
  | 'ARM_AUTH'
  | 'ARM_SERVICE_TAGS_PAGING'
  | 'DOWNLOAD_BAD_URL'
  | 'DOWNLOAD_HOST_NOT_ALLOWED'
  | 'DOWNLOAD_HTTP_STATUS'
  | 'DOWNLOAD_NETWORK'
  | 'DOWNLOAD_NOT_HTTPS'
  | 'DOWNLOAD_TIMEOUT'
  | 'DOWNLOAD_TLS'
  | 'DOWNLOAD_TOO_MANY_REDIRECTS'
  // A vault: reading, writing and verifying it.
  | 'VAULT_ID_INVALID'
  | 'RESOURCE_ID_INVALID'
  | 'RESOURCE_TYPE_UNSUPPORTED'
  | 'VAULT_NOT_CONFIGURED'
  /** `--subscription` names a subscription no configured or discovered target is in. */
  | 'SUBSCRIPTION_NOT_CONFIGURED'
  | 'VAULT_NOT_FOUND'
  | 'VAULT_FORBIDDEN'
  | 'VAULT_UNAUTHORIZED'
  | 'VAULT_BAD_REQUEST'
  | 'VAULT_CONFLICT'
  | 'VAULT_TIMEOUT'
  | 'VAULT_THROTTLED'
  | 'VAULT_SERVER_ERROR'
  | 'VAULT_REQUEST_FAILED'
  | 'VAULT_NETWORK'
  | 'VAULT_TLS'
  | 'VAULT_CREDENTIAL_UNAVAILABLE'
  | 'VAULT_AUTHENTICATION_FAILED'
  | 'VERIFY_MISMATCH'
  | 'CONCURRENT_CHANGE'
  // Any other firewall kind: the same failures, with the kind's name in the message.
  | 'TARGET_NOT_FOUND'
  | 'TARGET_FORBIDDEN'
  | 'TARGET_UNAUTHORIZED'
  | 'TARGET_BAD_REQUEST'
  | 'TARGET_CONFLICT'
  | 'TARGET_TIMEOUT'
  | 'TARGET_THROTTLED'
  | 'TARGET_SERVER_ERROR'
  | 'TARGET_REQUEST_FAILED'
  | 'TARGET_NETWORK'
  | 'TARGET_TLS'
  | 'TARGET_CREDENTIAL_UNAVAILABLE'
  | 'TARGET_AUTHENTICATION_FAILED'
  | 'TARGET_OPERATION_TIMEOUT'
  /** A change that would alter entries the firewall keeps in rules that are not tagwall's (a perimeter's other access rules). */
  | 'TARGET_FOREIGN_RULES'
  // Any kind: Azure governance refused the write, not the identity's role (ARM 403 with its own code).
  /** A deny assignment (a deployment stack's deny settings, a managed application's) covers the firewall: `DenyAssignmentAuthorizationFailed`. */
  | 'DENY_ASSIGNMENT'
  /** An Azure Policy assignment with a deny effect refused the request: `RequestDisallowedByPolicy`. */
  | 'REQUEST_DISALLOWED_BY_POLICY'
  | 'TARGET_OPERATION_FAILED'
  | 'TARGET_WOULD_ENABLE_FIREWALL'
  | 'TARGET_WOULD_DISABLE_FIREWALL'
  // State: ownership records, intents, alert memory, the last-known-good file.
  | 'STATE_CONFIG_INVALID'
  | 'STATE_UNAVAILABLE'
  | 'STATE_UNREADABLE'
  | 'STATE_CORRUPT'
  | 'STATE_CONFLICT'
  | 'STATE_UNWRITABLE'
  | 'STATE_AUTH_FAILED'
  | 'STATE_REQUEST_FAILED'
  | 'STATE_RECORD_INVALID'
  | 'STATE_KEY_INVALID'
  | 'STATE_CONTAINER_MISSING'
  | 'STATE_LOCKED'
  // Alerts.
  | 'ALERT_INVALID'
  | 'ALERT_CONFIG_INVALID'
  | 'ALERT_WEBHOOK_INVALID'
  | 'ALERT_CHANNEL_MISSING'
  // Runs as a whole (what a Functions invocation fails with).
  | 'SYNC_FAILED'
  | 'DRIFT_CHECK_FAILED'
  // The fleet: shards on the Storage queue and the run records they report to.
  | 'SHARD_MESSAGE_INVALID'
  | 'SHARD_MESSAGE_TOO_LARGE'
  /** A shard the host gave up on after maxDequeueCount deliveries (it ended on the poison queue). */
  | 'SHARD_FAILED'
  | 'SHARD_NOT_SENT'
  | 'QUEUE_CONFIG_INVALID'
  | 'QUEUE_UNAVAILABLE'
  | 'RUN_ID_INVALID'
  | 'RUN_NOT_FOUND'
  // The local emulator.
  | 'EMULATOR_SEED_INVALID'
  | 'EMULATOR_SEED_UNREADABLE'
  | 'EMULATOR_VAULT_AMBIGUOUS'
  | 'EMULATOR_LISTEN_FAILED'
  | 'EMULATOR_HOST'
  | 'EMULATOR_CONTROL_FAILED'
  | 'INTERNAL';

/** Structured values beside the message, for callers that must not parse prose. */
export type ErrorValues = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/**
 * One error type for every failure tagwall reports on purpose. Callers branch on
 * `code` (stable, documented) and on `transient` (worth retrying on the next run),
 * and read figures from `values`, never from message text, which is written for people.
 */
export class TagwallError extends Error {
  override readonly name = 'TagwallError';
  readonly code: ErrorCode;
  readonly transient: boolean;
  /** Extra lines a reader needs (every config problem, close tag names, ...). */
  readonly details: readonly string[];
  readonly values: ErrorValues;

  constructor(code: ErrorCode, message: string, options: { transient?: boolean; details?: readonly string[]; cause?: unknown; values?: ErrorValues } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.transient = options.transient ?? false;
    this.details = options.details ?? [];
    this.values = options.values ?? {};
  }
}

export function isTagwallError(e: unknown, code?: ErrorCode): e is TagwallError {
  return e instanceof TagwallError && (code === undefined || e.code === code);
}

/** The message plus its detail lines, the way the CLI and the logs print an error. */
export function describeError(e: unknown): string {
  if (e instanceof TagwallError) {
    return e.details.length === 0 ? e.message : `${e.message}\n${e.details.map((d) => `  - ${d}`).join('\n')}`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
