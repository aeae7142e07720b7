import { Agent, request } from 'undici';
import { TagwallError } from '../core/errors.js';
import {
  CONTROL_PREFIX,
  type ActiveFault,
  type AssociationRequest,
  type AssociationResourceJson,
  type DissociationRequest,
  type EmulatorSeed,
  type EmulatorSettings,
  type FaultSpec,
  type PerimeterStateJson,
  type RequestLogEntry,
  type VaultResourceJson,
} from './model.js';
import type { FleetSeedRequest, FleetSeedResult, ManagementGroupRequest, StormRequest } from './fleet-model.js';
import type { RequestStatsJson } from './stats.js';

/**
 * A typed client for the control API. It goes over HTTPS like any other client, so it
 * works the same against an emulator in this process or one started by `tagwall emulator`.
 */
export interface EmulatorControl {
  /** Adds or replaces these vaults. */
  seed(seed: EmulatorSeed): Promise<void>;
  /** Drops every vault, fault and log entry, restores the start-up settings, then seeds. */
  reset(seed?: EmulatorSeed): Promise<void>;
  vaults(): Promise<VaultResourceJson[]>;
  /** A vault's stored state, by name or resource ID; undefined when there is none. */
  vault(nameOrId: string): Promise<VaultResourceJson | undefined>;
  /** Adds one IP rule to a vault, checked like any write (as a person would in the portal). */
  addRule(vault: string, value: string): Promise<VaultResourceJson>;
  /** Removes one IP rule (any spelling of it) from a vault. */
  removeRule(vault: string, value: string): Promise<VaultResourceJson>;
  /** A resource of another firewall kind, as ARM would return it; undefined when there is none. */
  resource(id: string): Promise<Record<string, unknown> | undefined>;
  /** Every perimeter with its profile IDs and associations, ordered by ID. */
  perimeters(): Promise<PerimeterStateJson[]>;
  /** Adds an association to a seeded perimeter, or replaces the one of the same name (or, unnamed, of the same resource). */
  associate(association: AssociationRequest): Promise<AssociationResourceJson>;
  /** Removes the resource's associations (from one perimeter, or all); returns how many went. */
  dissociate(request: DissociationRequest): Promise<number>;
  /** While forbidden, every perimeter read in the subscription answers 403 AuthorizationFailed; `reset` lifts it. */
  forbidPerimeterReads(subscriptionId: string, forbidden?: boolean): Promise<void>;
  /** Returns the fault's id. */
  addFault(fault: FaultSpec): Promise<string>;
  faults(): Promise<ActiveFault[]>;
  clearFaults(): Promise<void>;
  settings(): Promise<EmulatorSettings>;
  updateSettings(patch: Partial<EmulatorSettings>): Promise<EmulatorSettings>;
  setLatency(ms: number): Promise<void>;
  /** The request log, oldest first; `vault` keeps only requests for that vault name. */
  requests(filter?: { vault?: string; target?: string; kind?: RequestLogEntry['kind'] }): Promise<RequestLogEntry[]>;
  clearRequests(): Promise<void>;
  /** Builds a whole fleet (subscriptions, tagged and untagged firewalls, rules) in one call; deterministic. */
  seedFleet(request: FleetSeedRequest): Promise<FleetSeedResult>;
  /** Counters that never fall off (the request log keeps the last 2,000 requests only). */
  stats(): Promise<RequestStatsJson>;
  resetStats(): Promise<void>;
  /** An unreadable subscription is left out of Resource Graph's answers, and ARM answers 403 for it; `reset` makes all readable. */
  setSubscriptionReadable(subscriptionId: string, readable: boolean): Promise<string[]>;
  /** Adds or replaces a management group (readable unless `readable: false`). */
  setManagementGroup(group: ManagementGroupRequest): Promise<void>;
  /** Every ARM request into the subscription answers 429 with this Retry-After until `durationMs` has passed. */
  stormSubscription(storm: StormRequest): Promise<void>;
  /** The next `count` Resource Graph answers are 429 RateLimiting with Retry-After `retryAfterSeconds` (default 1). */
  throttleGraph(count: number, retryAfterSeconds?: number): Promise<void>;
  close(): Promise<void>;
}

export function connectEmulatorControl(baseUrl: string, caCert: string): EmulatorControl {
  const dispatcher = new Agent({ connect: { ca: caCert }, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const base = baseUrl.replace(/\/+$/, '');

  async function call<T>(method: string, path: string, body?: unknown, allow404 = false): Promise<T | undefined> {
    const res = await request(`${base}${CONTROL_PREFIX}${path}`, {
      method: method as 'GET',
      dispatcher,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    if (res.statusCode === 404 && allow404) return undefined;
    if (res.statusCode >= 300) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not an error envelope: keep the raw text
      }
      throw new TagwallError('EMULATOR_CONTROL_FAILED', `emulator control ${method} ${path} answered ${res.statusCode}: ${message}`);
    }
    return JSON.parse(text) as T;
  }

  const must = async <T>(p: Promise<T | undefined>): Promise<T> => (await p) as T;

  return {
    seed: async (seed) => void (await call('POST', 'seed', seed)),
    reset: async (seed) => void (await call('POST', 'reset', seed ?? { vaults: [] })),
    vaults: async () => (await must(call<{ vaults: VaultResourceJson[] }>('GET', 'vaults'))).vaults,
    vault: (nameOrId) => call<VaultResourceJson>('GET', `vaults/${encodeURIComponent(nameOrId)}`, undefined, true),
    addRule: (vault, value) => must(call<VaultResourceJson>('POST', `vaults/${encodeURIComponent(vault)}/rules`, { value })),
    removeRule: (vault, value) => must(call<VaultResourceJson>('DELETE', `vaults/${encodeURIComponent(vault)}/rules`, { value })),
    resource: (id) => call<Record<string, unknown>>('GET', `resources/${encodeURIComponent(id)}`, undefined, true),
    perimeters: async () => (await must(call<{ perimeters: PerimeterStateJson[] }>('GET', 'perimeters'))).perimeters,
    associate: (association) => must(call<AssociationResourceJson>('PUT', 'perimeters/associations', association)),
    dissociate: async (request) => (await must(call<{ removed: number }>('DELETE', 'perimeters/associations', request))).removed,
    forbidPerimeterReads: async (subscriptionId, forbidden = true) => void (await call('PUT', 'perimeters/reads', { subscriptionId, forbidden })),
    addFault: async (fault) => (await must(call<{ id: string }>('POST', 'faults', fault))).id,
    faults: async () => (await must(call<{ faults: ActiveFault[] }>('GET', 'faults'))).faults,
    clearFaults: async () => void (await call('DELETE', 'faults')),
    settings: () => must(call<EmulatorSettings>('GET', 'settings')),
    updateSettings: (patch) => must(call<EmulatorSettings>('PATCH', 'settings', patch)),
    setLatency: async (ms) => void (await call('PATCH', 'settings', { latencyMs: ms })),
    requests: async (filter = {}) => {
      const all = (await must(call<{ requests: RequestLogEntry[] }>('GET', 'requests'))).requests;
      return all.filter(
        (r) =>
          (filter.vault === undefined || r.vault?.toLowerCase() === filter.vault.toLowerCase()) &&
          (filter.target === undefined || r.target?.toLowerCase() === filter.target.toLowerCase()) &&
          (filter.kind === undefined || r.kind === filter.kind),
      );
    },
    clearRequests: async () => void (await call('DELETE', 'requests')),
    seedFleet: (request) => must(call<FleetSeedResult>('POST', 'fleet', request)),
    stats: () => must(call<RequestStatsJson>('GET', 'stats')),
    resetStats: async () => void (await call('DELETE', 'stats')),
    setSubscriptionReadable: async (subscriptionId, readable) =>
      (await must(call<{ unreadableSubscriptions: string[] }>('PUT', 'subscriptions/access', { subscriptionId, readable }))).unreadableSubscriptions,
    setManagementGroup: async (group) => void (await call('PUT', 'management-groups', group)),
    stormSubscription: async (storm) => void (await call('POST', 'throttle/storms', storm)),
    throttleGraph: async (count, retryAfterSeconds) => void (await call('POST', 'graph/throttle', { count, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) })),
    close: () => dispatcher.close(),
  };
}
