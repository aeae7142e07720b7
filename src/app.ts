import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { dirname, join } from 'node:path';
import { alertsForVault, evaluatedScopes, serviceTagAlerts } from './alerting.js';
import { dispatchAlerts, type DispatchResult } from './alerts/dispatch.js';
import type { Alert, AlertLogger } from './alerts/types.js';
import { resolveWebhookConfig, type WebhookConfig } from './alerts/webhook.js';
import type { TagwallConfig } from './config.js';
import { describeError } from './core/errors.js';
import type { ServiceTagDocument } from './core/service-tags.js';
import { reconcile, type VaultReport } from './reconcile.js';
import type { RunReport } from './report.js';
import { resolveServiceTags, type ResolvedServiceTags } from './sources/resolve.js';
import { createStateStore } from './state/blob-store.js';
import { AlertStateRepository, VaultStateRepository } from './state/records.js';
import { FolderStore, type KeyValueStore } from './state/store.js';
import { createKeyVaultFirewalls } from './targets/keyvault.js';
import type { FirewallTarget } from './targets/firewall.js';

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
 * The state store, opened (the file store's lock taken, the blob container made sure of) so a
 * run that could not record its work fails before touching a vault, and where the last-known-good
 * service-tags file is kept beside it. Disposing of the result closes the store.
 */
export async function storesFor(config: TagwallConfig, runtime: Runtime, credential: TokenCredential): Promise<{ state: KeyValueStore; cache: KeyValueStore } & AsyncDisposable> {
  const state = createStateStore(config.state, runtime.env, credential);
  for (const warning of (await state.open?.()) ?? []) runtime.logger.warn(warning);
  // The run's work is done by then: a lock that cannot be removed is reported, not made the run's failure.
  const close = { [Symbol.asyncDispose]: () => Promise.resolve(state.close?.()).catch((e: unknown) => runtime.logger.warn(`state not closed: ${describeError(e)}`)) };
  if (config.state.store === 'blob') return { state, cache: state, ...close };
  const cacheDir = 'cacheDir' in config.serviceTags && config.serviceTags.cacheDir !== undefined ? config.serviceTags.cacheDir : join(dirname(config.state.path), 'cache');
  return { state, cache: new FolderStore(cacheDir), ...close };
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

export async function runSync(config: TagwallConfig, options: RunOptions, runtime: Runtime, injected: { firewalls?: FirewallTarget } = {}): Promise<RunResult> {
  // A bad webhook setting is a bad setting: refuse it before any request, not after the writes.
  const webhook = options.alerts === 'off' ? undefined : resolveWebhookConfig(config.alerts.webhook, runtime.env);
  const credential = credentialFor(config, runtime);
  await using stores = await storesFor(config, runtime, credential);
  let resolved: ResolvedServiceTags;
  try {
    resolved = await loadServiceTags(config, runtime, stores.cache, credential);
  } catch (e) {
    // No usable file means no vault is touched; say so once, then fail the run.
    await sendAlerts(config, runtime, stores.state, webhook, serviceTagAlerts({ failure: describeError(e) }), evaluatedScopes([]), options.alerts);
    throw e;
  }
  const doc = resolved.document;
  const firewalls =
    injected.firewalls ??
    createKeyVaultFirewalls({
      endpoint: config.arm.endpoint,
      credential,
      ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
      ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
    });
  const vaultState = new VaultStateRepository(stores.state);
  const now = runtime.now ?? (() => new Date());
  const vaults = await reconcile(
    config,
    doc,
    {
      firewalls,
      state: {
        load: (vault) => vaultState.load(vault),
        save: (vault, record, etag) => vaultState.save(vault, { version: 1, vault: vault.id, ...record, ownedRules: [...record.ownedRules], observedRules: [...record.observedRules] }, etag),
      },
      now,
      ...(runtime.onVaultDone === undefined ? {} : { onVaultDone: runtime.onVaultDone }),
    },
    { dryRun: options.dryRun, force: options.force, ...(options.vaults === undefined ? {} : { vaults: options.vaults }) },
  );
  const report: RunReport = { dryRun: options.dryRun, serviceTags: serviceTagsSummary(doc, resolved), vaults };
  const alerts = [...vaults.flatMap((v) => alertsForVault(v, options.dryRun)), ...serviceTagAlerts({ stale: resolved.cacheUsed ? resolved.warnings : [] })];
  const dispatched = await sendAlerts(config, runtime, stores.state, webhook, alerts, evaluatedScopes(vaults), options.alerts);
  return {
    report: dispatched === undefined ? report : { ...report, alerts: { notifications: dispatched.notifications.length, webhookSent: dispatched.webhook.sent, webhookFailed: dispatched.webhook.failed } },
    ...(dispatched === undefined ? {} : { alerts: dispatched }),
  };
}
