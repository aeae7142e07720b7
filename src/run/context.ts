import type { Allowlist } from '../core/allowlist.js';
import type { AddressRange, Cidr } from '../core/ipv4.js';
import type { ReviewableTarget, TargetReport } from '../core/report.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import type { AppliedRecord } from '../core/target-plan.js';
import type { VaultRef } from '../core/vault-id.js';
import type { TargetConfig } from '../config/config.js';
import type { FleetGraph } from '../fleet/model.js';
import type { FirewallTarget, PerimeterLookup } from '../targets/firewall.js';
import type { Grant, GrantRepository } from '../state/grants.js';

/**
 * What the loop (reconcile.ts) hands each target's pass (pass.ts) and its steps (steps/): the
 * clients, the options, the run's identity and clock. Types only, so every step can name them
 * without importing the loop.
 */

export interface TargetStateAccess {
  load(vault: VaultRef): Promise<Loaded | undefined>;
  /** Returns the new ETag, when the store has one. Throws STATE_CONFLICT when the ETag moved on. */
  save(vault: VaultRef, record: AppliedRecord, etag?: string): Promise<string | void>;
}

/** A target's record as loaded, with the ETag its next save is conditioned on. */
export interface Loaded {
  readonly record: AppliedRecord;
  readonly etag?: string;
}

export interface ReconcileDeps {
  readonly firewalls: FirewallTarget;
  readonly state: TargetStateAccess;
  /** Reads perimeter associations; without it, no perimeter finding is made. */
  readonly perimeters?: PerimeterLookup;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onTargetDone?: (report: TargetReport, done: number, total: number) => void;
  /** Whether ARM has told a subscription to back off (the run's pacer); its targets then start after others'. */
  readonly throttled?: (subscriptionId: string) => boolean;
  /** The targets' temporary grants (`tagwall allow`) and reported expiries (steps/temporary.ts); without it, only the configuration's dated extras. */
  readonly grants?: Pick<GrantRepository, 'load' | 'save'>;
}

export interface ReconcileOptions {
  readonly dryRun: boolean;
  readonly force: boolean;
  /** Only these targets (resource IDs, any case). */
  readonly vaults?: readonly string[];
  /** Identifies this run in intents; one per run. */
  readonly runId?: string;
  /**
   * Identifies the writer across runs that are one piece of work delivered again (a queue
   * shard's `shard:<runId>#<n>`): an intent it left in a delivery that died is its own, not busy.
   */
  readonly writer?: string;
  /** No target is started at or after this time; those left are skipped with DEADLINE. */
  readonly deadline?: Date;
  /** Targets (lowercased resource IDs) to start first, e.g. those a deadline cut off last time. */
  readonly first?: ReadonlySet<string>;
  /** How long another run's intent keeps the target busy. Default 10 minutes (the Functions timeout). */
  readonly intentTtlMs?: number;
  /**
   * The longest tagwall waits for a long-running write (the adapters' operation bound, default
   * 20 minutes): such a write is not started closer to the deadline, and its intent outlives it.
   */
  readonly operationTimeoutMs?: number;
  /** The pause before re-reading a busy target. Default 2 s. */
  readonly busyRetryMs?: number;
  /** What Resource Graph said of the fleet: a firewall it shows unchanged since its last direct read is not read again. */
  readonly graph?: FleetGraph;
  /**
   * Judge from Resource Graph and the records only: a firewall that cannot be judged so is
   * reported `pending` with `needsWork` (the timer sends those to the queue).
   */
  readonly judgeOnly?: boolean;
  /** A dry run for a reviewed plan: pending targets carry `reviewable` (their base and write). */
  readonly reviewable?: boolean;
  /** `apply`: the reviewed plan; a target is written only when its fresh plan is exactly the reviewed one (steps/reviewed.ts). */
  readonly reviewed?: ReviewedPlan;
  /** These targets instead of the configuration's (a discovered fleet, already narrowed). */
  readonly targets?: readonly TargetConfig[];
  /** `tagwall allow`'s check: plan as if this grant were stored for the target (by resourceKey). */
  readonly proposedGrant?: { readonly target: string; readonly grant: Grant };
}

/** What `apply` holds a run to: the service-tags file the plan was made from, and each target's reviewed plan by lowercased ID. */
export interface ReviewedPlan {
  readonly serviceTags: { readonly cloud: string; readonly changeNumber: number; readonly sha256: string };
  readonly targets: ReadonlyMap<string, ReviewableTarget & { readonly add: readonly string[]; readonly remove: readonly string[] }>;
}

export interface RunContext {
  readonly doc: ServiceTagDocument;
  /** `keptRanges`: the kept rules as ranges, for a target whose kind writes start/end rules. */
  readonly desiredFor: (target: TargetConfig, budget: number, kept: readonly Cidr[], unbounded: boolean, keptRanges?: readonly AddressRange[]) => Allowlist;
  readonly deps: ReconcileDeps;
  readonly options: ReconcileOptions;
  readonly runId: string;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * What one target's pass returns: its report, and beside it (as fields, so nothing is lost when a
 * report is copied) the state write to run when the caller likes (see settle in pass.ts), whether
 * a judge-only pass left it for a direct read, and the allowlist it was planned with (for the
 * widening explanation added once the target is settled).
 */
export interface TargetPass {
  readonly report: TargetReport;
  readonly record?: () => Promise<unknown>;
  readonly needsWork?: true;
  readonly desired?: Allowlist;
}

/** A step's answer when the target's record moved under it: the pass pauses and tries once more. */
export const AGAIN = Symbol('again');

/** What one attempt of a pass knows as its steps run: the target, the run, and whether it may still try again. */
export interface Attempt {
  readonly target: TargetConfig;
  readonly ctx: RunContext;
  readonly lastTry: boolean;
}

export const DEFAULT_INTENT_TTL_MS = 10 * 60_000;
export const DEFAULT_BUSY_RETRY_MS = 2_000;
