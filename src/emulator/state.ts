import { isTagwallError } from '../core/errors.js';
import { Directory } from './directory.js';
import { FaultBook } from './faults.js';
import { GraphQuota } from './graph-quota.js';
import { GraphHistory } from './history.js';
import { RequestStats } from './stats.js';
import { ArmThrottle } from './throttle.js';
import type { EmulatorSeed, EmulatorSettings, RequestLogEntry } from './model.js';
import { buildPerimeters, PerimeterStore, seedProblemsError } from './perimeters.js';
import { ResourceStore, seedResources } from './resources.js';
import { VaultStore } from './vaults.js';

/** Enough for any test or demo run; older entries fall off so a long-running emulator stays small. */
const MAX_LOG_ENTRIES = 2_000;

export class RequestLog {
  #entries: RequestLogEntry[] = [];
  #seq = 0;

  add(entry: Omit<RequestLogEntry, 'seq'>): void {
    this.#seq += 1;
    this.#entries.push({ seq: this.#seq, ...entry });
    if (this.#entries.length > MAX_LOG_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_LOG_ENTRIES);
  }

  list(): RequestLogEntry[] {
    return [...this.#entries];
  }

  clear(): void {
    this.#entries = [];
  }
}

/** Everything one emulator instance holds; the ARM, identity and control handlers share it. */
export interface EmulatorState {
  readonly vaults: VaultStore;
  readonly perimeters: PerimeterStore;
  /** Every other firewall kind's resources (see resources.ts). */
  readonly resources: ResourceStore;
  readonly faults: FaultBook;
  readonly log: RequestLog;
  /** Resource Graph's view of vaults and resources, fed by every write to either store. */
  readonly history: GraphHistory;
  readonly directory: Directory;
  readonly throttle: ArmThrottle;
  readonly graphQuota: GraphQuota;
  readonly stats: RequestStats;
  settings: EmulatorSettings;
  /** What `reset` returns the settings to. */
  readonly initialSettings: EmulatorSettings;
  readonly identityHeader: string;
}

export function createEmulatorState(settings: EmulatorSettings, identityHeader: string): EmulatorState {
  const history = new GraphHistory();
  const observe = (id: string, json: Readonly<Record<string, unknown>> | undefined): void => history.record(id, json);
  return {
    vaults: new VaultStore(observe),
    perimeters: new PerimeterStore(),
    resources: new ResourceStore(observe),
    faults: new FaultBook(),
    log: new RequestLog(),
    history,
    directory: new Directory(),
    throttle: new ArmThrottle(),
    graphQuota: new GraphQuota(),
    stats: new RequestStats(),
    settings,
    initialSettings: settings,
    identityHeader,
  };
}

/**
 * Adds (or, with `replace`, swaps in) a seed's vaults and perimeters. The whole seed is
 * checked first, so a bad one leaves everything as it was and names every problem.
 */
export function applySeed(state: EmulatorState, seed: EmulatorSeed, options: { readonly replace: boolean; readonly oldApi: boolean }): void {
  const perimeters = buildPerimeters(seed.perimeters ?? []);
  let vaultProblems: readonly string[] = [];
  try {
    new VaultStore().seed(seed, options.oldApi);
  } catch (e) {
    if (!isTagwallError(e, 'EMULATOR_SEED_INVALID')) throw e;
    vaultProblems = e.details;
  }
  const resources = seedResources(seed.resources ?? []);
  if (vaultProblems.length > 0 || perimeters.problems.length > 0 || resources.problems.length > 0) {
    throw seedProblemsError(vaultProblems, [...perimeters.problems, ...resources.problems]);
  }
  if (options.replace) {
    state.vaults.clear();
    state.perimeters.clear();
    state.resources.clear();
    state.history.clear();
  }
  state.vaults.seed(seed, options.oldApi);
  state.perimeters.apply(perimeters.built);
  for (const r of resources.built) state.resources.set(r);
}
