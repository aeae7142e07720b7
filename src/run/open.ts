import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { evaluatedScopes, serviceTagAlerts } from '../alerts/policy.js';
import { actionFor } from '../alerts/actions.js';
import { dispatchAlerts, type DispatchResult } from '../alerts/dispatch.js';
import { createAlert } from '../alerts/fingerprint.js';
import { logNotification } from '../alerts/log.js';
import { RUN_SCOPE } from '../alerts/types.js';
import type { Alert, AlertLogger } from '../alerts/types.js';
import { resolveWebhookConfig, type WebhookConfig } from '../alerts/webhook.js';
import type { TagwallConfig } from '../config/config.js';
import { describeError, isTagwallError, TagwallError, type ErrorCode } from '../core/errors.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { createGraphReader, type GraphReader } from '../fleet/graph-client.js';
import { loadDocument } from '../fleet/documents.js';
import { resolveServiceTags, type ResolvedServiceTags } from '../sources/resolve.js';
import { storesFor } from '../state/stores.js';
import { defaultOwnerId } from '../state/owner-id.js';
import { AlertStateRepository } from '../state/records.js';
import type { KeyValueStore } from '../state/store.js';
import type { OperationPolling } from '../arm/client-options.js';
import { processPacer, type ArmPacer } from '../arm/pacing.js';
import { createFirewalls } from '../targets/kinds.js';
import { createPerimeterLookup } from '../targets/perimeter.js';
import type { FirewallTarget, PerimeterLookup } from '../targets/firewall.js';

import type { TargetReport } from '../core/report.js';
import type { RunReport } from './report.js';
import type { ReviewedPlan } from './context.js';

/**
 * What one run holds open, and how it is opened: the state store, the service-tags document,
 * the ARM clients (firewalls, perimeters, Resource Graph) sharing one pacer, and the
 * credential checked once. The CLI, the timers, the HTTP triggers and the queue worker all
 * open their runs here.
 */

export interface RunOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly vaults?: readonly string[];
  /** Only firewalls in these subscriptions (explicit and discovered). */
  readonly subscriptions?: readonly string[];
  /** `send`: page (log + webhook, remembered); `preview`: log what would be sent; `off`. */
  readonly alerts: 'send' | 'preview' | 'off';
  /** No vault is started at or after this time (see ReconcileOptions.deadline). */
  readonly deadline?: Date;
  /** `sync --dry-run --out`: pending targets carry what a reviewed plan needs, and the report the document's sha256. */
  readonly reviewable?: boolean;
  /** `apply`: write only what this reviewed plan says (ReconcileOptions.reviewed). */
  readonly reviewed?: ReviewedPlan;
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
  /** Paces ARM calls per subscription; defaults to the process's pacer for the endpoint and identity, at `arm.pacing`'s rates. */
  readonly pacer?: ArmPacer;
  readonly onProgress?: (received: number, total?: number) => void;
  readonly onTargetDone?: (report: TargetReport, done: number, total: number) => void;
  /** A queue shard's run report, once its targets are done (the Functions app records it in telemetry). */
  readonly onShardReport?: (report: RunReport) => void;
}

export interface RunResult {
  readonly report: RunReport;
  readonly alerts?: DispatchResult;
}

/**
 * Who ARM counts a run's calls against, as far as the process can tell: a credential handed in is
 * its own principal (by object); otherwise DefaultAzureCredential with the configured client ID,
 * the same principal for every run that names the same one.
 */
function identityOf(config: TagwallConfig, runtime: Runtime): string {
  if (runtime.credential === undefined) return `default:${config.identity.clientId ?? ''}`;
  let id = credentialIds.get(runtime.credential);
  if (id === undefined) credentialIds.set(runtime.credential, (id = `credential:${++credentialCount}`));
  return id;
}

const credentialIds = new WeakMap<TokenCredential, string>();
let credentialCount = 0;

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
        title: 'tagwall cannot use its state store; no target was read or written',
        details: [describeError(e)],
        action: `${actionFor(isTagwallError(e) ? e.code : 'INTERNAL').action} Vaults keep their current rules, and drift is not checked until the store is back.`,
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

export function serviceTagsSummary(doc: ServiceTagDocument, resolved: ResolvedServiceTags): RunReport['serviceTags'] {
  return {
    cloud: doc.cloud,
    changeNumber: doc.changeNumber,
    ...(resolved.path === undefined ? {} : { path: resolved.path }),
    ...(resolved.url === undefined ? {} : { url: resolved.url }),
    cacheUsed: resolved.cacheUsed,
    warnings: resolved.warnings,
  };
}

export async function sendAlerts(
  config: TagwallConfig,
  runtime: Runtime,
  store: KeyValueStore,
  webhook: WebhookConfig | undefined,
  alerts: Alert[],
  scopes: string[],
  mode: RunOptions['alerts'],
  writeScopes: string[] = [],
): Promise<DispatchResult | undefined> {
  if (mode === 'off') return undefined;
  return dispatchAlerts({
    alerts,
    evaluatedScopes: scopes,
    writeScopes,
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

/** Everything one run holds open: the stores, the document, the clients. Disposing of it closes the stores. */
export interface RunSession extends AsyncDisposable {
  readonly config: TagwallConfig;
  readonly options: RunOptions;
  readonly runtime: Runtime;
  readonly runId: string;
  readonly state: KeyValueStore;
  readonly doc: ServiceTagDocument;
  readonly resolved: ResolvedServiceTags;
  readonly firewalls: FirewallTarget;
  readonly perimeters?: PerimeterLookup;
  readonly graph?: GraphReader;
  readonly credentialError?: { readonly code: ErrorCode; readonly message: string };
  readonly webhook?: WebhookConfig;
  readonly pacer: ArmPacer;
  readonly now: () => Date;
}

export interface Injected {
  readonly firewalls?: FirewallTarget;
  readonly perimeters?: PerimeterLookup;
  readonly graph?: GraphReader;
  /** A document already resolved. */
  readonly document?: ResolvedServiceTags;
  /** The sha256 of a document stored in the state store (a shard uses exactly the one its run resolved). */
  readonly documentId?: string;
}

/** Opens the stores, resolves the service tags (or takes the given document) and builds the clients. */
export async function openRun(config: TagwallConfig, options: RunOptions, runtime: Runtime, injected: Injected = {}): Promise<RunSession> {
  // A bad webhook setting is a bad setting: refuse it before any request, not after the writes.
  const webhook = options.alerts === 'off' ? undefined : resolveWebhookConfig(config.alerts.webhook, runtime.env);
  const credential = credentialFor(config, runtime);
  const stores = await storesOrAlert(config, options, runtime, credential);
  try {
    let resolved: ResolvedServiceTags;
    try {
      if (injected.documentId !== undefined) {
        const document = await loadDocument(stores.state, injected.documentId);
        resolved = { document, changeNumber: document.changeNumber, cacheUsed: false, downloaded: false, warnings: [] };
      } else {
        resolved = injected.document ?? (await loadServiceTags(config, runtime, stores.cache, credential));
      }
    } catch (e) {
      // A local file for another cloud is a mistake in the configuration, not an outage: nobody
      // should be paged for it, and it is reported like every other bad setting.
      if (isTagwallError(e, 'SERVICE_TAGS_WRONG_CLOUD') && config.serviceTags.source === 'file') {
        throw new TagwallError('CONFIG_INVALID', `the configuration says cloud ${config.cloud}, but its service-tags file is for another cloud`, {
          details: [`cloud: ${config.cloud}`, `serviceTags.path: ${e.message}`],
          cause: e,
        });
      }
      // A shard's missing document is the shard's failure (the host retries it), not the service tags'.
      if (injected.documentId !== undefined) throw e;
      // No usable file means no vault is touched; say so once, then fail the run.
      await sendAlerts(config, runtime, stores.state, webhook, serviceTagAlerts({ failure: describeError(e), ...(isTagwallError(e) ? { failureCode: e.code } : {}) }), evaluatedScopes([]), options.alerts);
      throw e;
    }
    // ARM counts a principal's calls per subscription, whichever client and whichever run makes them.
    const pacer = runtime.pacer ?? processPacer(config.arm.endpoint, identityOf(config, runtime), config.arm.pacing).forRun();
    const arm = {
      endpoint: config.arm.endpoint,
      credential,
      ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
      ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
      pacer,
    };
    const ownerId = config.ownerId ?? defaultOwnerId(stores.state);
    const firewalls = injected.firewalls ?? createFirewalls({ ...arm, ownerId, ...(runtime.armOperations === undefined ? {} : { operations: runtime.armOperations }) });
    // One lookup per run: it lists each subscription's perimeters once, for all its vaults.
    const perimeters = injected.perimeters ?? (injected.firewalls === undefined ? createPerimeterLookup(arm) : undefined);
    const graph = injected.graph ?? (config.discover === undefined ? undefined : createGraphReader(arm));
    const needsToken = injected.firewalls === undefined || (config.discover !== undefined && injected.graph === undefined);
    const credentialError = needsToken ? await credentialProblem(config, credential) : undefined;
    return {
      config,
      options,
      runtime,
      runId: randomUUID(),
      state: stores.state,
      doc: resolved.document,
      resolved,
      firewalls,
      ...(perimeters === undefined ? {} : { perimeters }),
      ...(graph === undefined ? {} : { graph }),
      ...(credentialError === undefined ? {} : { credentialError }),
      ...(webhook === undefined ? {} : { webhook }),
      now: runtime.now ?? (() => new Date()),
      pacer,
      [Symbol.asyncDispose]: () => stores[Symbol.asyncDispose](),
    };
  } catch (e) {
    await stores[Symbol.asyncDispose]();
    throw e;
  }
}

