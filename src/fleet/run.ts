import type { TagwallConfig } from '../config.js';
import { TagwallError } from '../core/errors.js';
import type { RunOptions, RunReport, Runtime } from '../run.js';
import type { RunRepository } from '../state/runs.js';
import type { RunManifest, ShardMessage, ShardResult, ShardSink } from './model.js';

// Placeholder with the agreed signatures, so the handlers compile; the integrator replaces this file.

export async function runShard(_config: TagwallConfig, _message: ShardMessage, _runtime: Runtime): Promise<ShardResult> {
  throw new TagwallError('INTERNAL', 'runShard: not wired yet');
}

export async function startFleetRun(
  _config: TagwallConfig,
  _options: RunOptions & { readonly fanOut: 'queue' | 'auto' },
  _runtime: Runtime,
  _deps: { readonly sink?: ShardSink; readonly runs?: RunRepository },
): Promise<{ readonly runId: string; readonly report: RunReport; readonly manifest: RunManifest; readonly enqueued: { readonly shards: number; readonly vaults: number } }> {
  throw new TagwallError('INTERNAL', 'startFleetRun: not wired yet');
}
