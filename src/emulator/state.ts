import { FaultBook } from './faults.js';
import type { EmulatorSettings, RequestLogEntry } from './model.js';
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
  readonly faults: FaultBook;
  readonly log: RequestLog;
  settings: EmulatorSettings;
  /** What `reset` returns the settings to. */
  readonly initialSettings: EmulatorSettings;
  readonly identityHeader: string;
}

export function createEmulatorState(settings: EmulatorSettings, identityHeader: string): EmulatorState {
  return {
    vaults: new VaultStore(),
    faults: new FaultBook(),
    log: new RequestLog(),
    settings,
    initialSettings: settings,
    identityHeader,
  };
}
