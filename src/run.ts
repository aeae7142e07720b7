import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { alertsForVault, evaluatedScopes, serviceTagAlerts } from './alerts/policy.js';
import { dispatchAlerts, type DispatchResult } from './alerts/dispatch.js';
import { createAlert } from './alerts/fingerprint.js';
import { logNotification } from './alerts/log.js';
import { RUN_SCOPE } from './alerts/types.js';
import type { Alert, AlertLogger } from './alerts/types.js';
import { resolveWebhookConfig, type WebhookConfig } from './alerts/webhook.js';
import type { TagwallConfig, TargetConfig } from './config.js';
import { describeError, isTagwallError, TagwallError, type ErrorCode } from './core/errors.js';
import type { ServiceTagDocument } from './core/service-tags.js';
import { reconcile, selectTargets, type VaultReport } from './reconcile.js';
import { resolveServiceTags, type ResolvedServiceTags } from './sources/resolve.js';
import { storesFor } from './state/stores.js';
import { AlertStateRepository, BacklogRepository, VaultStateRepository } from './state/records.js';
import type { KeyValueStore } from './state/store.js';
import type { OperationPolling } from './targets/arm-client-options.js';
import { ArmPacer } from './fleet/pacing.js';
import { createFirewalls } from './targets/kinds.js';
import { createPerimeterLookup } from './targets/perimeter.js';
import type { FirewallTarget, PerimeterLookup } from './targets/firewall.js';

/**
 * Wires one run together from a configuration: service tags → reconcile every vault →
 * alerts. The CLI, the timers and the HTTP triggers all come through here, so they do
 * exactly the same work.
 */

export interface RunOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly vaults?: readonly string[];
  /** `send`: page (log + webhook, remembered); `preview`: log what would be sent; `off`. */
  readonly alerts: 'send' | 'preview' | 'off';
  /** No vault is started at or after this time (see ReconcileOptions.deadline). */
  readonly deadline?: Date;
}

export interface Runtime {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: AlertLogger;
  readonly now?: () => Date;
  /** Defaults to DefaultAzureCredential (managed identity in Azure, `az login` on a laptop). */
  readonly credential?: TokenCredential;
  /** The CA (PEM) of a local emulator, then the only CA trusted for ARM; without it, NODE_EXTRA_CA_CERTS works as usual. */
  readonly armCa?: string;
  readonly armRetry?: { readonly maxRetries?: number; readonly retryDelayInMs?: number; readonly maxRetryDelayInMs?: number };
  /** How long-running writes (Cosmos DB's) are polled; defaults to the SDK's interval and a 20-minute bound. */
  readonly armOperations?: OperationPolling;
  /** Paces ARM calls per subscription; defaults to one per run at `arm.pacing`'s rates. */
  readonly pacer?: ArmPacer;
  readonly onProgress?: (received: number, total?: number) => void;
  readonly onVaultDone?: (report: VaultReport, done: number, total: number) => void;
}

export interface RunResult {
  readonly report: RunReport;
  readonly alerts?: DispatchResult;
}

export function credentialFor(config: TagwallConfig, runtime: Runtime): TokenCredential {
  if (runtime.credential !== undefined) return runtime.credential;
  return config.identity.clientId === undefined ? new DefaultAzureCredential() : new DefaultAzureCredential({ managedIdentityClientId: config.identity.clientId });
}

/**
 * Without its state store a run can neither tell its own rules from a person's nor remember its
 * alerts, so it stops before any vault. A second CLI on a locked file is a person's mistake; an
 * unreachable store is an outage that someone must hear about, and the only sink left is the log.
 */
async function storesOrAlert(config: TagwallConfig, options: RunOptions, runtime: Runtime, credential: TokenCredential): ReturnType<typeof storesFor> {
  try {
    return await storesFor(config, runtime, credential);
  } catch (e) {
    if (options.alerts !== 'off' && !isTagwallError(e, 'STATE_LOCKED') && !isTagwallError(e, 'STATE_CONFIG_INVALID')) {
      const alert = createAlert({
        vault: RUN_SCOPE,
        kind: 'state-unavailable',
        subject: isTagwallError(e) ? e.code : 'INTERNAL',
        severity: 'critical',
        title: 'tagwall cannot use its state store; no vault was read or written',
        details: [describeError(e)],
        action: 'Retries on the next run; vaults keep their current rules, and drift is not checked until the store is back.',
      });
      logNotification(runtime.logger, { alert, state: 'firing' }, (runtime.now ?? (() => new Date()))(), options.alerts === 'preview');
    }
    throw e;
  }
}

export async function loadServiceTags(config: TagwallConfig, runtime: Runtime, cache: KeyValueStore, credential: TokenCredential): Promise<ResolvedServiceTags> {
  const st = config.serviceTags;
  return resolveServiceTags({
    ...st,
    cloud: st.source === 'download' && st.cloud !== undefined ? st.cloud : config.cloud,
    cache,
    ...(runtime.now === undefined ? {} : { now: runtime.now }),
    ...(runtime.onProgress === undefined ? {} : { onProgress: runtime.onProgress }),
    ...(st.source === 'arm' ? { arm: { endpoint: config.arm.endpoint, credential, subscriptionId: st.subscriptionId, location: st.location } } : {}),
  });
}

function serviceTagsSummary(doc: ServiceTagDocument, resolved: ResolvedServiceTags): RunReport['serviceTags'] {
  return {
    cloud: doc.cloud,
    changeNumber: doc.changeNumber,
    ...(resolved.path === undefined ? {} : { path: resolved.path }),
    ...(resolved.url === undefined ? {} : { url: resolved.url }),
    cacheUsed: resolved.cacheUsed,
    warnings: resolved.warnings,
  };
}

async function sendAlerts(
  config: TagwallConfig,
  runtime: Runtime,
  store: KeyValueStore,
  webhook: WebhookConfig | undefined,
  alerts: Alert[],
  scopes: string[],
  mode: RunOptions['alerts'],
): Promise<DispatchResult | undefined> {
  if (mode === 'off') return undefined;
  return dispatchAlerts({
    alerts,
    evaluatedScopes: scopes,
    now: (runtime.now ?? (() => new Date()))(),
    repeatAfterHours: config.alerts.repeatAfterHours,
    state: new AlertStateRepository(store),
    ...(webhook === undefined ? {} : { webhook }),
    logger: runtime.logger,
    dryRun: mode === 'preview',
  });
}

/**
 * One token request before any vault: without a credential every vault would fail the same
 * way, each printing the whole credential chain. This says it once, for the run.
 */
async function credentialProblem(config: TagwallConfig, credential: TokenCredential): Promise<{ code: ErrorCode; message: string } | undefined> {
  try {
    await credential.getToken(`${config.arm.endpoint}/.default`);
    return undefined;
  } catch (e) {
    // A credential that answered and was refused, or none that could answer at all.
    const name = (e as { name?: string } | null)?.name;
    const code: ErrorCode = name === 'AuthenticationError' || name === 'AuthenticationRequiredError' ? 'VAULT_AUTHENTICATION_FAILED' : 'VAULT_CREDENTIAL_UNAVAILABLE';
    const hint =
      'tagwall uses DefaultAzureCredential: managed identity in Azure (set identity.clientId for a user-assigned one), `az login` on a laptop, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET';
    return { code, message: `${describeError(e)}\nhint: ${hint}` };
  }
}

export async function runSync(config: TagwallConfig, options: RunOptions, runtime: Runtime, injected: { firewalls?: FirewallTarget; perimeters?: PerimeterLookup } = {}): Promise<RunResult> {
  // A bad webhook setting is a bad setting: refuse it before any request, not after the writes.
  const webhook = options.alerts === 'off' ? undefined : resolveWebhookConfig(config.alerts.webhook, runtime.env);
  const credential = credentialFor(config, runtime);
  await using stores = await storesOrAlert(config, options, runtime, credential);
  let resolved: ResolvedServiceTags;
  try {
    resolved = await loadServiceTags(config, runtime, stores.cache, credential);
  } catch (e) {
    // A local file for another cloud is a mistake in the configuration, not an outage: nobody
    // should be paged for it, and it is reported like every other bad setting.
    if (isTagwallError(e, 'SERVICE_TAGS_WRONG_CLOUD') && config.serviceTags.source === 'file') {
      throw new TagwallError('CONFIG_INVALID', `the configuration says cloud ${config.cloud}, but its service-tags file is for another cloud`, {
        details: [`cloud: ${config.cloud}`, `serviceTags.path: ${e.message}`],
        cause: e,
      });
    }
    // No usable file means no vault is touched; say so once, then fail the run.
    await sendAlerts(config, runtime, stores.state, webhook, serviceTagAlerts({ failure: describeError(e) }), evaluatedScopes([]), options.alerts);
    throw e;
  }
  const doc = resolved.document;
  // One pacer for the run: ARM counts a principal's calls per subscription, whichever client makes them.
  const pacer = runtime.pacer ?? new ArmPacer(config.arm.pacing);
  const firewalls =
    injected.firewalls ??
    createFirewalls({
      endpoint: config.arm.endpoint,
      credential,
      ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
      ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
      ...(runtime.armOperations === undefined ? {} : { operations: runtime.armOperations }),
      pacer,
    });
  // One lookup per run: it lists each subscription's perimeters once, for all its vaults.
  const perimeters =
    injected.perimeters ??
    (injected.firewalls === undefined
      ? createPerimeterLookup({
          endpoint: config.arm.endpoint,
          credential,
          ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
          ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
          pacer,
        })
      : undefined);
  const vaultState = new VaultStateRepository(stores.state);
  const backlog = new BacklogRepository(stores.state);
  const now = runtime.now ?? (() => new Date());
  const runId = randomUUID();
  const credentialError = injected.firewalls === undefined ? await credentialProblem(config, credential) : undefined;
  const first = await backlog.load().catch(() => undefined);
  const vaults: VaultReport[] =
    credentialError !== undefined
      ? selectTargets(config, options.vaults).map((t) => failedWithoutToken(t, credentialError.code))
      : await reconcile(
          config,
          doc,
          {
            firewalls,
            ...(perimeters === undefined ? {} : { perimeters }),
            state: vaultState.access(),
            now,
            ...(runtime.onVaultDone === undefined ? {} : { onVaultDone: runtime.onVaultDone }),
            throttled: (subscriptionId) => pacer.isBlocked(subscriptionId),
          },
          {
            dryRun: options.dryRun,
            force: options.force,
            runId,
            ...(options.vaults === undefined ? {} : { vaults: options.vaults }),
            ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
            ...(first === undefined ? {} : { first: new Set(first.value.vaults.map((v) => v.toLowerCase())) }),
          },
        );
  if (!options.dryRun) await rememberCutOff(backlog, first, vaults, runtime.logger);
  const report: RunReport = {
    dryRun: options.dryRun,
    serviceTags: serviceTagsSummary(doc, resolved),
    ...(credentialError === undefined ? {} : { errors: [credentialError] }),
    vaults,
  };
  const alerts = [...vaults.flatMap((v) => alertsForVault(v, options.dryRun)), ...serviceTagAlerts({ stale: resolved.cacheUsed ? resolved.warnings : [] })];
  const dispatched = await sendAlerts(config, runtime, stores.state, webhook, alerts, evaluatedScopes(vaults), options.alerts);
  return {
    report: dispatched === undefined ? report : { ...report, alerts: { notifications: dispatched.notifications.length, webhookSent: dispatched.webhook.sent, webhookFailed: dispatched.webhook.failed } },
    ...(dispatched === undefined ? {} : { alerts: dispatched }),
  };
}

function failedWithoutToken(target: TargetConfig, code: ErrorCode): VaultReport {
  const failure = code === 'VAULT_AUTHENTICATION_FAILED' ? 'AUTHENTICATION_FAILED' : 'CREDENTIAL_UNAVAILABLE';
  return {
    vault: target.resource.id,
    kind: target.kind.kind,
    outcome: 'failed',
    add: [],
    remove: [],
    unmanaged: [],
    shared: [],
    adopted: [],
    rules: { managed: 0, unmanaged: 0, shared: 0, limit: target.maxRules },
    excessAddresses: 0,
    drift: [],
    findings: [],
    reasons: [],
    mode: target.mode,
    // The same failure in the kind's own codes (Key Vault's VAULT_*, every other kind's TARGET_*).
    error: { code: `${target.kind.errorCodes ?? 'TARGET'}_${failure}`, message: 'no token for Azure Resource Manager; the run\'s error says why (once, for every target)' },
  };
}

/** Vaults a deadline cut off go first next time; the record is written only when it changes. */
async function rememberCutOff(backlog: BacklogRepository, before: Awaited<ReturnType<BacklogRepository['load']>>, vaults: readonly VaultReport[], logger: AlertLogger): Promise<void> {
  const cut = vaults.filter((v) => v.reasons.some((r) => r.code === 'DEADLINE')).map((v) => v.vault);
  if (cut.length === 0 && (before === undefined || before.value.vaults.length === 0)) return;
  try {
    await backlog.save({ version: 1, vaults: cut }, before?.etag);
  } catch (e) {
    // Only the order of the next run depends on it.
    logger.warn(`tagwall could not remember the vaults the deadline cut off: ${describeError(e)}`);
  }
}

/** One run, as `sync --json` prints it and the HTTP dry run returns it. */
export interface RunReport {
  readonly dryRun: boolean;
  readonly serviceTags: {
    readonly cloud: string;
    readonly changeNumber: number;
    readonly path?: string;
    readonly url?: string;
    readonly cacheUsed?: boolean;
    readonly warnings: readonly string[];
  };
  /** Problems of the run as a whole, said once (a missing credential, say). */
  readonly errors?: readonly { readonly code: string; readonly message: string }[];
  readonly vaults: readonly VaultReport[];
  readonly alerts?: { readonly notifications: number; readonly webhookSent: number; readonly webhookFailed: number };
}

export function hasFailures(report: RunReport): boolean {
  return report.vaults.some((v) => v.outcome === 'failed' || v.outcome === 'refused');
}

/** 0 when every vault is fine; 1 when any failed or was refused; with `detailed`, 2 when changes or drift are pending. */
export function exitCodeFor(report: RunReport, detailed: boolean): number {
  if (hasFailures(report)) return 1;
  if (detailed && report.vaults.some((v) => v.outcome === 'pending' || v.drift.length > 0)) return 2;
  return 0;
}
