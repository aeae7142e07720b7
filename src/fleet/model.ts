/**
 * The fleet's data: what Resource Graph says of each tagged firewall and the shards the timer
 * enqueues (what a run and its shards record is in state/run-records.ts). Plain data, so it
 * serialises as it is.
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

/** What a run knows from Resource Graph, for judging firewalls without reading them. */
export interface FleetGraph {
  /** By resourceKey (lowercased ID). */
  readonly rows: ReadonlyMap<string, GraphRow>;
  /** A firewall not read directly for this long is read again, whatever Resource Graph says. */
  readonly recheckMs: number;
  /** A firewall written less than this ago is never judged from Resource Graph. */
  readonly lagMs: number;
}
