import type { ErrorCode } from '../core/errors.js';
import type { ReasonCode } from '../core/plan/model.js';

/**
 * What happens next, by code: the one table the text report's `do:` lines and the alerts'
 * `action` both read, so a failure is never told "retries" in one place and "fix it" in the
 * other. `retries` is true only where the next run can succeed without anyone doing anything
 * (a timeout, a throttle, a busy firewall); every other code says what a person must do, because
 * the next run would fail the same way.
 */

export interface CodeAction {
  /** The next run may succeed on its own: the failure is transient. */
  readonly retries: boolean;
  /** One sentence for people. Starts with "Retries on the next run" exactly when `retries`. */
  readonly action: string;
}

export const RETRIES = 'Retries on the next run';

function retry(more = ''): CodeAction {
  return { retries: true, action: `${RETRIES}${more === '' ? '' : `; ${more}`}.` };
}

function person(action: string): CodeAction {
  return { retries: false, action };
}

const CONFIG = person('Fix the configuration the message names (the file, app settings or command line); nothing is retried until then.');
const CONFIG_SERVICE_TAGS = person('Fix serviceTags in the configuration (the message names the setting); no firewall is read until then.');
const FORBIDDEN = person('Grant the identity the role the message names (for a vault: Microsoft.KeyVault/vaults/read and /write, e.g. Key Vault Contributor) on the firewall, its resource group or subscription; the next run after that writes it.');
const UNAUTHORIZED = person("Check the identity's tenant and the ARM endpoint: Azure did not accept its token. Fix the credential or arm.endpoint; it is not retried on its own.");
const NOT_FOUND = person('The firewall no longer exists where the configuration says (deleted, moved or renamed): remove or correct the target, or its tag; it fails on every run until then.');
const BAD_REQUEST = person('Azure refused the request as invalid: read Azure\'s message and azureCode in the details (a limit, a policy, an unsupported setting) and fix the firewall or the target; it fails the same way until then.');
const REQUEST_FAILED = person("Azure answered with a status tagwall does not expect: read Azure's message in the details; if it persists, open an issue with the x-ms-request-id.");
const TLS = person("The ARM endpoint's TLS certificate is not trusted: fix arm.endpoint, or trust the CA (NODE_EXTRA_CA_CERTS) for a local emulator; it is not retried on its own.");
const CREDENTIAL = person('No Azure credential could get a token: give the Function App a managed identity (or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, or az login for the CLI); no firewall is read until then.');
const AUTHENTICATION = person('The token service refused the identity: check its client ID, secret or federated credential and the tenant; if the message names a 5xx or 429 from the token service, the next run tries again.');
const STATE_FIX = person('The state store refuses tagwall: the message names the store and the fix (the account, the role Storage Blob Data Contributor, the container); no firewall is written until it is fixed.');
const STATE_CORRUPT = person('A state record is damaged: look at the file or blob the message names, restore it from a backup or delete it (tagwall then treats the firewall\'s existing rules as a person\'s); the firewall is left as it is until then.');
const EMULATOR = person('A problem of the local emulator, not of Azure: the message says what to fix (its seed file, its port, its host).');
const USAGE_YES = person('Nothing was changed: confirm on a terminal, or pass --yes in a pipeline (after a --dry-run, where the command has one).');
const INTERNAL = person('An unexpected error in tagwall: the message and the log have the stack; please open an issue. The next run tries again, but will most likely fail the same way.');

export const ACTIONS = {
  CONFIG_INVALID: CONFIG,
  UNKNOWN_PROFILE: person('Nothing is written to the firewall until its tag names a profile in the configuration (or off): fix the tag or add the profile.'),
  PROFILE_UNSUITABLE: person('Nothing is written to the firewall until its profile can apply to its kind (a maxRules within its limit, say): fix the profile or the tag.'),
  PROFILE_OUT_OF_SCOPE: person("Nothing is written to the firewall while its tag names a profile whose scope does not include its subscription or resource group: fix the tag, or widen the profile's scope if the tag is meant."),
  TARGET_NOT_IN_FLEET: person('Nothing was written: the queue message named a firewall that is no longer tagged with that profile (or is outside discover.scope); if it should be, tag it, and the next run takes it.'),
  GRAPH_QUERY_INVALID: person('Resource Graph refused the discovery query: check discover.scope (subscription and management group IDs); please open an issue if it is right.'),
  GRAPH_THROTTLED: retry('Resource Graph throttled discovery, and no rule was removed anywhere this run'),
  GRAPH_FORBIDDEN: person('Grant the identity Reader on every subscription or management group in discover.scope; no firewall is discovered until then.'),
  GRAPH_FAILED: retry('Resource Graph could not be queried, and no rule was removed anywhere this run'),
  DOCUMENT_MISSING: retry('the shard\'s service-tags document is gone or was altered, so the next sync sends new shards'),
  CONFIG_MISSING: CONFIG,
  CONFIG_UNREADABLE: CONFIG,
  CONFIG_SERVICE_TAGS: CONFIG_SERVICE_TAGS,
  CONFIG_ARM_ENDPOINT: CONFIG,
  CONFIG_ALLOWED_HOST: CONFIG,
  USAGE: person('Fix the command line: tagwall --help lists the options.'),
  BAD_REQUEST: person('Fix the request: the message says which field is wrong.'),
  CIDR_INVALID: CONFIG,
  CIDR_HOST_BITS: CONFIG,
  CIDR_IPV6: CONFIG,
  UNKNOWN_SELECTOR: CONFIG,
  SELECTOR_EMPTY: CONFIG,
  ARM_ENDPOINT_INVALID: CONFIG,
  COLLAPSE_INPUT: INTERNAL,
  COLLAPSE_INFEASIBLE: person('Nothing fits the limit: raise maxRules (the message gives the smallest that works), select fewer tags, or lower guards.maxWidenedPrefix; the firewall is left as it is until then.'),
  COLLAPSE_INTERNAL: INTERNAL,
  BUDGET_EXHAUSTED: person('The rules tagwall must keep (a person\'s, or every rule in add-only) already fill the limit: remove some by hand or raise maxRules / lower reserveRules; the firewall is left as it is until then.'),
  SERVICE_TAGS_UNAVAILABLE: retry('firewalls keep their current rules meanwhile'),
  SERVICE_TAGS_UNREADABLE: person('The service-tags file cannot be read: check serviceTags.path and its permissions; no firewall is read until then.'),
  SERVICE_TAGS_NOT_JSON: person('The service-tags file is not JSON: replace it with a file from the download centre; no firewall is read until then.'),
  SERVICE_TAGS_SCHEMA: person('The service-tags file does not have the download centre\'s shape: replace it; no firewall is read until then.'),
  SERVICE_TAGS_EMPTY: person('The service-tags file holds no tags: replace it; no firewall is read until then.'),
  SERVICE_TAGS_TOO_LARGE: person('The service-tags file is larger than any real one: check what serviceTags points at.'),
  SERVICE_TAGS_WRONG_CLOUD: CONFIG_SERVICE_TAGS,
  SERVICE_TAGS_LINK_NOT_FOUND: retry('the download page named no file; set serviceTags.url if it keeps failing'),
  ARM_AUTH: CREDENTIAL,
  ARM_SERVICE_TAGS_PAGING: person('The ARM service-tags API paged in a way tagwall does not follow: use the download source (serviceTags.source "download") and open an issue.'),
  DOWNLOAD_BAD_URL: CONFIG_SERVICE_TAGS,
  DOWNLOAD_HOST_NOT_ALLOWED: CONFIG_SERVICE_TAGS,
  DOWNLOAD_HTTP_STATUS: retry('the download centre answered with an error'),
  DOWNLOAD_NETWORK: retry('the download centre could not be reached'),
  DOWNLOAD_NOT_HTTPS: CONFIG_SERVICE_TAGS,
  DOWNLOAD_TIMEOUT: retry('the download centre did not answer in time'),
  DOWNLOAD_TLS: person('The download centre\'s TLS certificate is not trusted here: check for a proxy that intercepts TLS, or trust its CA; it is not retried on its own.'),
  DOWNLOAD_TOO_MANY_REDIRECTS: CONFIG_SERVICE_TAGS,
  VAULT_ID_INVALID: CONFIG,
  RESOURCE_ID_INVALID: CONFIG,
  RESOURCE_TYPE_UNSUPPORTED: CONFIG,
  VAULT_NOT_CONFIGURED: CONFIG,
  SUBSCRIPTION_NOT_CONFIGURED: CONFIG,
  VAULT_NOT_FOUND: NOT_FOUND,
  VAULT_FORBIDDEN: FORBIDDEN,
  VAULT_UNAUTHORIZED: UNAUTHORIZED,
  VAULT_BAD_REQUEST: BAD_REQUEST,
  VAULT_CONFLICT: retry('another operation on the firewall was in progress'),
  VAULT_TIMEOUT: retry('Azure did not answer in time'),
  VAULT_THROTTLED: retry('Azure throttled the requests'),
  VAULT_SERVER_ERROR: retry('Azure failed with a 5xx'),
  VAULT_REQUEST_FAILED: REQUEST_FAILED,
  VAULT_NETWORK: retry('Azure could not be reached'),
  VAULT_TLS: TLS,
  VAULT_CREDENTIAL_UNAVAILABLE: CREDENTIAL,
  VAULT_AUTHENTICATION_FAILED: AUTHENTICATION,
  VERIFY_MISMATCH: retry('the firewall read back differed from what was written (most likely a person or another tool edited it at the same time): the next run reads it afresh and reports the edit as drift'),
  CONCURRENT_CHANGE: person("Someone changed the firewall's other settings (public access, trusted services, virtual-network rules) while tagwall wrote its IP rules: the read after the write shows their change, which tagwall left as it is. Check the fields the message names are as that person meant (an edit that landed just before the write, which resends them as read, would have been undone)."),
  TARGET_NOT_FOUND: NOT_FOUND,
  TARGET_FORBIDDEN: FORBIDDEN,
  TARGET_UNAUTHORIZED: UNAUTHORIZED,
  TARGET_BAD_REQUEST: BAD_REQUEST,
  TARGET_CONFLICT: retry('another operation on the firewall was in progress'),
  TARGET_TIMEOUT: retry('Azure did not answer in time'),
  TARGET_THROTTLED: retry('Azure throttled the requests'),
  TARGET_SERVER_ERROR: retry('Azure failed with a 5xx'),
  TARGET_REQUEST_FAILED: REQUEST_FAILED,
  TARGET_NETWORK: retry('Azure could not be reached'),
  TARGET_TLS: TLS,
  TARGET_CREDENTIAL_UNAVAILABLE: CREDENTIAL,
  TARGET_AUTHENTICATION_FAILED: AUTHENTICATION,
  TARGET_OPERATION_TIMEOUT: retry('Azure may still finish the update, and the next run reads whatever it left'),
  DENY_ASSIGNMENT: person("A deny assignment covers the firewall (a deployment stack's deny settings, say), and a role cannot lift it: exclude tagwall's identity from it (the stack's excludedPrincipals, or its denySettingsMode) or take the firewall out of the stack; docs/IAC.md. It fails the same way until then."),
  REQUEST_DISALLOWED_BY_POLICY: person("An Azure Policy assignment denies the write: read the policy Azure names in the details, then exempt the firewall or change the assignment (or the target's settings if the policy is right); it fails the same way until then."),
  TARGET_FOREIGN_RULES: person("The perimeter profile holds an entry tagwall cannot place in any rule: look at the profile's access rules the message names and fix or remove that entry by hand."),
  TARGET_OPERATION_FAILED: person("Azure's operation ended failed or cancelled: read Azure's azureCode in the details; a person must look at the firewall before the next run tries again."),
  TARGET_WOULD_ENABLE_FIREWALL: person('The firewall is off (no IP rules), and its first rule would shut out every other network: set enforceDeny on the target to let tagwall turn it on, or add a first rule by hand; nothing is written until then.'),
  TARGET_WOULD_DISABLE_FIREWALL: person('Removing the last IP rule would open the firewall to every network, which tagwall never does: add the rule you want kept by hand, or turn the firewall off yourself if that is meant.'),
  STATE_CONFIG_INVALID: CONFIG,
  STATE_UNAVAILABLE: retry('the state store could not be reached, and the firewall is left as it is meanwhile'),
  STATE_UNREADABLE: STATE_FIX,
  STATE_CORRUPT: STATE_CORRUPT,
  STATE_CONFLICT: retry('another run changed the record at the same time'),
  STATE_UNWRITABLE: STATE_FIX,
  STATE_AUTH_FAILED: STATE_FIX,
  STATE_REQUEST_FAILED: STATE_FIX,
  STATE_RECORD_INVALID: STATE_CORRUPT,
  STATE_KEY_INVALID: INTERNAL,
  STATE_CONTAINER_MISSING: STATE_FIX,
  STATE_LOCKED: retry('another tagwall process holds the state file\'s lock'),
  ALERT_INVALID: INTERNAL,
  ALERT_CONFIG_INVALID: CONFIG,
  ALERT_WEBHOOK_INVALID: CONFIG,
  ALERT_CHANNEL_MISSING: CONFIG,
  SYNC_FAILED: person('Some firewalls failed or were refused: each one\'s own code says what to do.'),
  DRIFT_CHECK_FAILED: person('Some firewalls could not be read: each one\'s own code says what to do.'),
  SHARD_MESSAGE_INVALID: person('A queue message is not a tagwall shard: find what else writes to the queue; the message is dropped.'),
  SHARD_MESSAGE_TOO_LARGE: INTERNAL,
  SHARD_FAILED: retry('the next sync finds these firewalls again; the logs of the shard\'s failed deliveries say why it failed'),
  SHARD_NOT_SENT: retry('the queue refused the shard\'s message, so no worker took these firewalls: the next sync finds them again; if the run error names a 401, 403 or 404, fix AzureWebJobsStorage'),
  QUEUE_CONFIG_INVALID: CONFIG,
  QUEUE_UNAVAILABLE: retry('the queue could not be reached; if the message names a 401, 403 or 404, fix AzureWebJobsStorage instead'),
  RUN_ID_INVALID: person('Use the run ID a sync reported (a UUID).'),
  RUN_NOT_FOUND: person('No such run in this state store: check the run ID and the store.'),
  EMULATOR_SEED_INVALID: EMULATOR,
  EMULATOR_SEED_UNREADABLE: EMULATOR,
  EMULATOR_VAULT_AMBIGUOUS: EMULATOR,
  EMULATOR_LISTEN_FAILED: EMULATOR,
  EMULATOR_HOST: EMULATOR,
  EMULATOR_CONTROL_FAILED: EMULATOR,
  INTERNAL,
  // Why a plan was not written (reasons); the guards are the ones --force lifts.
  EMPTY_SOURCE_GUARD: person('The allowlist came out empty: check the selection and the service-tags file; if an empty list is really meant, run sync once with --force.'),
  SOURCE_SHRINK_GUARD: person('The source shrank more than guards.maxSourceShrinkFraction since the last apply: check the selection and the service-tags file, then run sync once with --force if the shrink is real.'),
  REMOVAL_GUARD: person('The plan removes more than guards.maxRemovedFraction of the rules: look at the plan (tagwall plan), then run sync once with --force if it is right.'),
  EXCESS_GUARD: person('The collapse admits more than guards.maxExcessAddresses: raise maxRules, select fewer tags, raise the guard, or run sync once with --force.'),
  PUBLIC_ACCESS_DISABLED: person('Nothing to do: public network access is disabled, so IP rules have no effect.'),
  PERIMETER_ENFORCED: person('Nothing to do here: a perimeter decides access; allow the service tags in the perimeter profile instead.'),
  TARGET_UNSUPPORTED: person('Nothing to do until the firewall can take IP rules (a registry on Premium, say).'),
  PLAN_STALE: person('Nothing was written to this firewall: it (or what tagwall would write there) changed since the plan was reviewed. Make a new plan, review it, and apply that.'),
  PLAN_SOURCE_MISMATCH: person('Nothing was written: the plan was made from another service-tags file than this run read. Apply with the same serviceTags source, or make and review a new plan.'),
  PLAN_EXPIRED: person('Nothing was written: the plan is older than --max-age. Make a new plan and review it (or pass a longer --max-age if the review took longer on purpose).'),
  GRANT_NO_ROOM: person('Nothing was written and nothing granted: the address fits the target only by widening its other rules. Free a rule (raise maxRules or lower reserveRules, or let another grant expire) and ask again.'),
  GRANT_NOT_APPLIED: person('Nothing was granted: the target\'s write was refused, skipped or failed; the report\'s reasons or error say why. Fix that and ask again.'),
  PLAN_INVALID: person('Nothing was written: the file is not a plan that `tagwall sync --dry-run --out` made (or was edited). Make a new plan.'),
  PLAN_ID_INVALID: person('Nothing was written: use the planId GET /api/plan answered (a UUID).'),
  PLAN_NOT_FOUND: person('Nothing was written: no stored plan has that id (plans are deleted after their max age). Make a new plan (GET /api/plan) and review it.'),
  PLAN_APPLIED: person('Nothing was written by this request: the plan was applied already (a plan is applied once). Make a new plan for what is left, review it, and apply that.'),
  TARGET_UNKNOWN: person('Nothing was read or written: give the resource ID (or the name) of a configured target, or the full resource ID of a firewall tagwall has a record of.'),
  STATE_INTENT_PENDING: person("Nothing was changed: a run announced a write to this firewall and has not confirmed it. Let the next sync settle it (or wait for the intent to expire), then try again; `state forget --force` drops the record anyway."),
  CONFIRMATION_REQUIRED: USAGE_YES,
  ADOPT_NAME_OWNED: person("Nothing was adopted: on this kind tagwall's rules are the ones named for its owner (tagwall-<owner>-<n>; Redis tagwall_<owner>_<n>), whatever the record says. To hand a rule to tagwall, remove it and let sync add it under its own name."),
  OFFBOARD_TARGET_CONFIGURED: person('Nothing was removed: remove the target from the configuration (or its tag) first, or the next run adds every rule back; `offboard --force` removes them anyway.'),
  OFFBOARD_WOULD_OPEN_FIREWALL: person("Nothing was removed: tagwall's rules are the only ones, and on this kind an empty IP list lets every network in. Add the rules you want kept first, or pass `offboard --allow-open` if opening the firewall is meant."),
  VAULT_BUSY: retry('another run is writing the firewall now'),
  DEADLINE: retry('the run reached its deadline first, and the next one takes this firewall first'),
} as const satisfies Record<ErrorCode | ReasonCode, CodeAction>;

/** What to do about a code; a code this table does not know (another version's) is looked at by a person. */
export function actionFor(code: string): CodeAction {
  return (ACTIONS as Record<string, CodeAction>)[code] ?? person(`Look at the message: tagwall has no advice for ${code}.`);
}
