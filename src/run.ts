import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { alertsForVault, discoveryAlerts, evaluatedScopes, serviceTagAlerts } from './alerts/policy.js';
import { dispatchAlerts, type DispatchResult } from './alerts/dispatch.js';
import { createAlert } from './alerts/fingerprint.js';
import { logNotification } from './alerts/log.js';
import { RUN_SCOPE } from './alerts/types.js';
import type { Alert, AlertLogger } from './alerts/types.js';
import { resolveWebhookConfig, type WebhookConfig } from './alerts/webhook.js';
import type { TagwallConfig, TargetConfig } from './config.js';
import { describeError, isTagwallError, TagwallError, type ErrorCode } from './core/errors.js';
import type { ServiceTagDocument } from './core/service-tags.js';
import { checkProfileSelectors, reconcile, selectTargets, type ReconcileOptions, type VaultReport } from './reconcile.js';
import { discoverFleet, explicitFleet, shrinkGuard, unprotectedReport, type Fleet, type RunFinding } from './fleet/discovery.js';
import { createGraphReader, type GraphPageStats, type GraphReader } from './fleet/graph-client.js';
import type { FleetGraph } from './fleet/model.js';
import { loadDocument } from './fleet/documents.js';
import { resolveServiceTags, type ResolvedServiceTags } from './sources/resolve.js';
import { storesFor } from './state/stores.js';
import { AlertStateRepository, BacklogRepository, DiscoveryCountRepository, VaultStateRepository, type DiscoveryCount, type Loaded } from './state/records.js';
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

export interface RunError {
  readonly code: string;
  readonly message: string;
}

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
      await sendAlerts(config, runtime, stores.state, webhook, serviceTagAlerts({ failure: describeError(e) }), evaluatedScopes([]), options.alerts);
      throw e;
    }
    // One pacer for the run: ARM counts a principal's calls per subscription, whichever client makes them.
    const pacer = runtime.pacer ?? new ArmPacer(config.arm.pacing);
    const arm = {
      endpoint: config.arm.endpoint,
      credential,
      ...(runtime.armCa === undefined ? {} : { tls: { ca: runtime.armCa } }),
      ...(runtime.armRetry === undefined ? {} : { retry: runtime.armRetry }),
      pacer,
    };
    const firewalls = injected.firewalls ?? createFirewalls({ ...arm, ...(runtime.armOperations === undefined ? {} : { operations: runtime.armOperations }) });
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

/** The fleet of a run: the explicit targets, and with discovery the tagged firewalls in scope. */
export async function fleetOf(session: RunSession): Promise<{ fleet: Fleet; errors: RunError[]; guard?: RunFinding; lastCount?: Loaded<DiscoveryCount> }> {
  const { config, options } = session;
  checkProfileSelectors(session.doc, config);
  if (config.discover === undefined || session.graph === undefined || session.credentialError !== undefined) {
    return { fleet: explicitFleet(config), errors: [] };
  }
  const narrowed = (options.vaults?.length ?? 0) > 0 || (options.subscriptions?.length ?? 0) > 0;
  const counts = new DiscoveryCountRepository(session.state);
  const lastCount = narrowed ? undefined : await counts.load().catch(() => undefined);
  let fleet: Fleet;
  const errors: RunError[] = [];
  try {
    fleet = await discoverFleet(config, session.graph, options.subscriptions === undefined ? {} : { subscriptions: options.subscriptions });
  } catch (e) {
    // Without its fleet the run still keeps the explicit targets in step, adding only.
    errors.push({ code: isTagwallError(e) ? e.code : 'GRAPH_FAILED', message: `discovery failed, so only explicit targets were reconciled, and nothing was removed: ${describeError(e)}` });
    fleet = explicitFleet(config);
    const guard: RunFinding = { code: 'DISCOVERY_SHRANK', severity: 'critical', message: errors[0]!.message, discovered: 0 };
    return { fleet: { ...fleet, findings: [guard] }, errors, guard, ...(lastCount === undefined ? {} : { lastCount }) };
  }
  const guard = narrowed ? undefined : shrinkGuard(fleet.counts.discovered, lastCount?.value.discovered, config.guards.minDiscovered);
  return { fleet: guard === undefined ? fleet : { ...fleet, findings: [...fleet.findings, guard] }, errors, ...(guard === undefined ? {} : { guard }), ...(lastCount === undefined ? {} : { lastCount }) };
}

/** The targets a run reconciles: narrowed by --vault and --subscription, add-only everywhere when the shrink guard fired. */
export function targetsOf(session: RunSession, fleet: Fleet, guard: RunFinding | undefined): TargetConfig[] {
  const { options } = session;
  let targets = selectTargets({ ...session.config, targets: fleet.targets }, options.vaults);
  if (options.subscriptions !== undefined && options.subscriptions.length > 0) {
    const subs = new Set(options.subscriptions.map((s) => s.toLowerCase()));
    targets = targets.filter((t) => subs.has(t.resource.subscriptionId.toLowerCase()));
  }
  // --force is a person accepting the smaller fleet for this run.
  if (guard !== undefined && !options.force) targets = targets.map((t) => (t.policy === 'add-only' ? t : { ...t, policy: 'add-only' as const }));
  return targets;
}

export function graphOf(session: RunSession, fleet: Fleet): FleetGraph | undefined {
  const discover = session.config.discover;
  if (discover === undefined || fleet.rows.size === 0) return undefined;
  return { rows: fleet.rows, recheckMs: discover.recheckHours * 3_600_000, lagMs: discover.lagMinutes * 60_000 };
}

/** Reports for what discovery found but cannot protect, and the explicit targets' EXPLICIT_TARGET notes. */
export function withDiscoveryNotes(fleet: Fleet, vaults: readonly VaultReport[], wanted: (id: string) => boolean): VaultReport[] {
  const noted = vaults.map((v) => {
    const note = fleet.notes.get(v.vault.toLowerCase());
    return note === undefined ? v : { ...v, findings: [...v.findings, note] };
  });
  const unprotected = fleet.unprotected.filter((u) => wanted(u.id)).map(unprotectedReport);
  return [...noted, ...unprotected];
}

/** After a full, non-dry run: remember the fleet's size for the next run's shrink guard. */
export async function rememberFleetSize(session: RunSession, fleet: Fleet, guard: RunFinding | undefined, last: Loaded<DiscoveryCount> | undefined): Promise<void> {
  const { options, config } = session;
  if (config.discover === undefined || options.dryRun || (options.vaults?.length ?? 0) > 0 || (options.subscriptions?.length ?? 0) > 0) return;
  if (guard !== undefined && !options.force) return;
  if (last?.value.discovered === fleet.counts.discovered) return;
  try {
    await new DiscoveryCountRepository(session.state).save({ version: 1, discovered: fleet.counts.discovered, at: session.now().toISOString() }, last?.etag);
  } catch (e) {
    session.runtime.logger.warn(`tagwall could not remember the size of the fleet: ${describeError(e)}`);
  }
}

export function fleetSummary(session: RunSession, fleet: Fleet): RunReport['fleet'] {
  if (session.config.discover === undefined) return undefined;
  return { ...fleet.counts, findings: fleet.findings, ...(session.graph === undefined ? {} : { graph: session.graph.stats() }) };
}

export async function runSync(config: TagwallConfig, options: RunOptions, runtime: Runtime, injected: Injected = {}): Promise<RunResult> {
  await using session = await openRun(config, options, runtime, injected);
  const { fleet, errors, guard, lastCount } = await fleetOf(session);
  const targets = targetsOf(session, fleet, guard);
  const vaults = await reconcileTargets(session, targets, graphOf(session, fleet));
  await rememberFleetSize(session, fleet, guard, lastCount);
  const wanted = wantedBy(options);
  return finishRun(session, withDiscoveryNotes(fleet, vaults, wanted), { errors, fleet, scopes: 'run' });
}

/** Whether a discovered ID is within a narrowed run. */
export function wantedBy(options: RunOptions): (id: string) => boolean {
  const vaults = options.vaults === undefined || options.vaults.length === 0 ? undefined : new Set(options.vaults.map((v) => v.trim().replace(/\/$/, '').toLowerCase()));
  const subs = options.subscriptions === undefined || options.subscriptions.length === 0 ? undefined : new Set(options.subscriptions.map((s) => s.toLowerCase()));
  return (id) => (vaults === undefined || vaults.has(id.toLowerCase())) && (subs === undefined || subs.has((id.split('/')[2] ?? '').toLowerCase()));
}

/** Reconciles the given targets with the session's clients; the backlog of cut-off vaults goes first. */
export async function reconcileTargets(
  session: RunSession,
  targets: readonly TargetConfig[],
  graph: FleetGraph | undefined,
  extra: Partial<ReconcileOptions> & { readonly backlog?: boolean } = {},
): Promise<VaultReport[]> {
  const { config, options, runtime } = session;
  if (session.credentialError !== undefined) return targets.map((t) => failedWithoutToken(t, session.credentialError!.code));
  const { backlog: useBacklog = true, ...more } = extra;
  const backlog = new BacklogRepository(session.state);
  // Shards run side by side; the backlog is the timer's, which orders what it sends.
  const first = useBacklog ? await backlog.load().catch(() => undefined) : undefined;
  const vaults = await reconcile(
    config,
    session.doc,
    {
      firewalls: session.firewalls,
      ...(session.perimeters === undefined ? {} : { perimeters: session.perimeters }),
      state: new VaultStateRepository(session.state).access(),
      now: session.now,
      ...(runtime.onVaultDone === undefined ? {} : { onVaultDone: runtime.onVaultDone }),
      throttled: (subscriptionId) => session.pacer.isBlocked(subscriptionId),
    },
    {
      dryRun: options.dryRun,
      force: options.force,
      runId: session.runId,
      targets,
      ...(graph === undefined ? {} : { graph }),
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      ...(first === undefined ? {} : { first: new Set(first.value.vaults.map((v) => v.toLowerCase())) }),
      ...more,
    },
  );
  if (!options.dryRun && useBacklog && more.judgeOnly !== true) await rememberCutOff(backlog, first, vaults, runtime.logger);
  return vaults;
}

/**
 * Alerts and the report. `scopes: 'run'` evaluates the run's own alerts and every vault's; a
 * shard evaluates only its own vaults, so it never resolves what the run as a whole raised.
 */
export async function finishRun(
  session: RunSession,
  vaults: readonly VaultReport[],
  extra: { readonly errors?: readonly RunError[]; readonly fleet?: Fleet; readonly scopes: 'run' | 'vaults' },
): Promise<RunResult> {
  const { config, options, runtime, resolved, doc } = session;
  const errors = [...(session.credentialError === undefined ? [] : [session.credentialError]), ...(extra.errors ?? [])];
  const fleet = extra.fleet === undefined ? undefined : fleetSummary(session, extra.fleet);
  const report: RunReport = {
    dryRun: options.dryRun,
    runId: session.runId,
    serviceTags: serviceTagsSummary(doc, resolved),
    ...(errors.length === 0 ? {} : { errors }),
    ...(fleet === undefined ? {} : { fleet }),
    arm: armSummary(session),
    vaults,
  };
  const runAlerts = extra.scopes === 'run' ? [...serviceTagAlerts({ stale: resolved.cacheUsed ? resolved.warnings : [] }), ...discoveryAlerts(extra.fleet?.findings ?? [])] : [];
  const alerts = [...vaults.flatMap((v) => alertsForVault(v, options.dryRun)), ...runAlerts];
  const scopes = extra.scopes === 'run' ? evaluatedScopes(vaults) : evaluatedScopes(vaults).filter((s) => s !== RUN_SCOPE);
  const dispatched = await sendAlerts(config, runtime, session.state, session.webhook, alerts, scopes, options.alerts);
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

/** What the run's ARM calls cost, over every subscription (the pacer counts every attempt). */
function armSummary(session: RunSession): NonNullable<RunReport['arm']> {
  const all = session.pacer.stats();
  const sum = (f: (s: (typeof all)[number]) => number) => all.reduce((n, s) => n + f(s), 0);
  return { subscriptions: all.length, requests: sum((s) => s.requests), waits: sum((s) => s.waits), waitedMs: Math.round(sum((s) => s.waitedMs)), throttled: sum((s) => s.throttled) };
}

/** One run, as `sync --json` prints it and the HTTP dry run returns it. */
export interface RunReport {
  readonly dryRun: boolean;
  /** Identifies the run in intents, queue messages and `GET /api/runs/{runId}`. */
  readonly runId?: string;
  readonly serviceTags: {
    readonly cloud: string;
    readonly changeNumber: number;
    readonly path?: string;
    readonly url?: string;
    readonly cacheUsed?: boolean;
    readonly warnings: readonly string[];
  };
  /** Problems of the run as a whole, said once (a missing credential, say). */
  readonly errors?: readonly RunError[];
  /** With discovery: what it found, its run-level findings (SCOPE_UNREADABLE, DISCOVERY_SHRANK, ...) and what Resource Graph cost. */
  readonly fleet?: Fleet['counts'] & { readonly findings: readonly RunFinding[]; readonly graph?: GraphPageStats };
  /** ARM calls the run made through its pacer: how many, how many waited for a token, and 429s. */
  readonly arm?: { readonly subscriptions: number; readonly requests: number; readonly waits: number; readonly waitedMs: number; readonly throttled: number };
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
