/**
 * What a fleet run and its shards record in the state store (`runs/<runId>/...`), read back by
 * `GET /api/runs/{runId}` (runs.ts). Plain data, so it serialises as it is.
 */

/** Counts of vault outcomes, keyed by outcome (`in-sync`, `applied`, `failed`, ...). */
export type OutcomeCounts = Readonly<Record<string, number>>;

/** What a fleet run wrote when it started: `runs/<runId>/run.json`. */
export interface RunManifest {
  readonly version: 1;
  readonly runId: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  /** Set when a person started the run with force: the shards take it from here, not from their messages. */
  readonly force?: boolean;
  /** sha256 of the stored service-tags document every shard uses. */
  readonly document: string;
  readonly changeNumber: number;
  /** How many shards were enqueued (0 when everything was done inline). */
  readonly shards: number;
  /** Vaults found by discovery, and configured explicitly. */
  readonly discovered: number;
  readonly explicit: number;
  /** Outcomes of what the timer decided itself (in sync by Resource Graph, skipped, inline work). */
  readonly inline: OutcomeCounts;
  /** Run-level findings and errors, by code. */
  readonly findings: readonly { readonly code: string; readonly message: string }[];
}

/** One vault's line in a shard's result: small, so a 50-vault shard stays a few KB. */
export interface ShardVault {
  readonly vault: string;
  readonly outcome: string;
  readonly add: number;
  readonly remove: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly reasons?: readonly string[];
}

/** What one shard wrote when it ended: `runs/<runId>/<shard>.json`. */
export interface ShardResult {
  readonly version: 1;
  readonly runId: string;
  readonly shard: number;
  readonly finishedAt: string;
  /**
   * `done`; `poisoned` when the shard ended on the poison queue (SHARD_FAILED); `not-sent` when the
   * run's queue failed before the shard's message went out (SHARD_NOT_SENT), written by the run itself.
   */
  readonly state: 'done' | 'poisoned' | 'not-sent';
  readonly vaults: readonly ShardVault[];
}
