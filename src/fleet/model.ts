/**
 * The fleet's data: what Resource Graph says of each tagged firewall, the shards the timer
 * enqueues, and what each shard reports. Plain data, so it serialises as it is.
 */

/** One tagged firewall as Resource Graph reports it (see graph-query.ts for the columns). */
export interface GraphRow {
  readonly id: string;
  /** As Resource Graph spells it (lowercase). */
  readonly type: string;
  readonly subscriptionId: string;
  /** The opt-in tag's value: a profile's name, `off`, or anything else (an unknown profile). */
  readonly profile: string;
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
  readonly ruleCount?: number;
  /** hash_sha256 of the rules, when the query asked for digests. */
  readonly digest?: string;
  /** The rule values, when the query asked for rules (the fallback). */
  readonly rules?: readonly string[];
  /**
   * Everything above that describes the firewall's state, as one string: equal fingerprints
   * mean Resource Graph saw no change to rules or posture. Computed on this side from the row.
   */
  readonly fingerprint: string;
}

/** One queue message: a shard of vaults that need work. Never rules: a message is at most 64 KB. */
export interface ShardMessage {
  readonly version: 1;
  readonly runId: string;
  /** The service-tags document the run resolved, by the sha256 of its stored text. */
  readonly document: string;
  /** 0-based; the run's manifest says how many there are. */
  readonly shard: number;
  /**
   * Resource IDs, each with the profile discovery gave it (absent for an explicit target) and
   * what Resource Graph showed of it (its fingerprint), so the worker can confirm a direct read.
   */
  readonly targets: readonly { readonly id: string; readonly profile?: string; readonly fingerprint?: string }[];
  /**
   * Whether the run was started with --force (a manual apply). Informative only: a worker takes
   * force from the run's manifest, never from a message (anyone who can send to the queue could set it).
   */
  readonly force?: boolean;
}

/** Where the timer sends shards: the Storage queue in the Functions app. */
export interface ShardSink {
  /** Sends every message, or throws; each is one queue message. */
  send(messages: readonly ShardMessage[]): Promise<void>;
}

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

/** What a run knows from Resource Graph, for judging firewalls without reading them. */
export interface FleetGraph {
  /** By resourceKey (lowercased ID). */
  readonly rows: ReadonlyMap<string, GraphRow>;
  /** A firewall not read directly for this long is read again, whatever Resource Graph says. */
  readonly recheckMs: number;
  /** A firewall written less than this ago is never judged from Resource Graph. */
  readonly lagMs: number;
}
