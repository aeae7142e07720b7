import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig, type TagwallConfig } from '../../src/config/config.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { rangesOf, type AddressRange } from '../../src/core/ipv4.js';
import { runSync, type RunOptions, type RunReport, type Runtime } from '../../src/run/run.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { BUNDLED } from './cli.js';
import { FAST_RETRY, startTestEmulator, type TestEmulator } from './emulator.js';

/**
 * Whole runs (runSync) against the emulator for targets of any kind: the bundled service tags,
 * file state in a fresh temporary folder, and the emulator's CA and fast retries.
 */

const quiet: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface TargetRuns {
  config(targets: RawConfig['targets'], extra?: Partial<RawConfig>): TagwallConfig;
  sync(config: TagwallConfig, options?: Partial<RunOptions>, runtime?: Partial<Runtime>): Promise<RunReport>;
  /** The file state store's path, to read the records the runs left. */
  readonly statePath: string;
}

export async function targetRuns(emu: TestEmulator): Promise<TargetRuns> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tagwall-kind-'));
  return {
    statePath: join(stateDir, 'state.json'),
    config: (targets, extra = {}) =>
      parseConfig(
        { serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emu.emulator.url }, state: { store: 'file', path: join(stateDir, 'state.json') }, targets, ...extra },
        { baseDir: stateDir, source: 'test' },
      ),
    sync: async (config, options = {}, runtime = {}) =>
      (
        await runSync(config, { dryRun: false, force: false, alerts: 'off', ...options }, {
          env: {},
          logger: quiet,
          credential: emu.credential,
          armCa: emu.emulator.caCert,
          armRetry: FAST_RETRY,
          armOperations: { pollIntervalMs: 20 },
          ...runtime,
        })
      ).report,
  };
}

/**
 * One emulator for a whole test file (never reset here: each test seeds what it needs) and fresh
 * TargetRuns, with their own state folder, before every test. `set` receives both before each test,
 * so the file can keep plain `let emu` and `let runs`.
 */
export function useTargetRuns(set: (emu: TestEmulator, runs: TargetRuns) => void): void {
  let emu: TestEmulator | undefined;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu?.close());
  beforeEach(async () => {
    set(emu!, await targetRuns(emu!));
  });
}

/** A tag's IPv4 space in the bundled file, as the reference set algebra sees it. */
export async function bundledTagRanges(tag: string): Promise<AddressRange[]> {
  const doc = await loadServiceTagFile(BUNDLED);
  return rangesOf(doc.tags.find((t) => t.name === tag)!.ipv4);
}

export function rangesOfRules(rules: readonly string[]): AddressRange[] {
  return rangesOf(rules.map((r) => parseCidr(r, { hostBits: 'mask' })));
}
