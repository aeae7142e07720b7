import type { ErrorCode } from './errors.js';
import type { WideningReport } from './explain.js';
import type { Drift, Finding, OwnershipMode, Posture, Reason, RuleCounts } from './plan/model.js';

/**
 * What a run says of one target, whatever its kind: the plan's figures, the outcome and why.
 * Plain data, so it serialises as it is (`sync --json`, the HTTP dry run, shard results); here,
 * below everything that reads it (alerts, the fleet's reports, the run, the CLI, the handlers).
 */

export type TargetOutcome = 'in-sync' | 'applied' | 'pending' | 'refused' | 'skipped' | 'failed';

export interface TargetReport {
  /** The target's resource ID (named `vault` since the first kind; any kind's ID). */
  readonly vault: string;
  /** The firewall kind, e.g. `keyvault`, `storage`, `nsp-profile` (docs/TARGETS.md). */
  readonly kind?: string;
  readonly outcome: TargetOutcome;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  readonly unmanaged: readonly string[];
  readonly shared: readonly string[];
  readonly adopted: readonly string[];
  readonly rules: RuleCounts;
  readonly excessAddresses: number;
  readonly drift: readonly Drift[];
  readonly findings: readonly Finding[];
  /** Why a write was refused or skipped. */
  readonly reasons: readonly Reason[];
  /** Guards that --force overrode. */
  readonly forced?: readonly Reason[];
  readonly mode: OwnershipMode;
  /** With `widen.prefer: "azure"`: the weighted excess the collapse minimised, beside the plain excessAddresses. */
  readonly weightedExcess?: number;
  /** Every rule that admits addresses beyond the source, and into whose space (see core/explain.ts). */
  readonly widening?: WideningReport;
  /** `resource-graph` when Resource Graph showed the firewall unchanged since its last direct read, so it was not read. */
  readonly checkedBy?: 'resource-graph';
  /** The profile a discovered firewall's tag named; absent for an explicit target. */
  readonly profile?: string;
  /**
   * With `sync --dry-run --out`: what a reviewed plan needs of a target with changes pending, the
   * firewall as read (its rules as normalised keys, sorted) and exactly what would be written.
   */
  readonly reviewable?: ReviewableTarget;
  /** Why the target failed; `azureCode` and `status` when Azure itself refused (e.g. a validation error). */
  readonly error?: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly azureCode?: string;
    readonly status?: number;
    /** `write` when the write failed (the firewall was read): only a run that writes can see that cleared. */
    readonly during?: 'read' | 'write';
  };
}

/** One target of a reviewed plan: the base it was planned from and the write it stands for. */
export interface ReviewableTarget {
  readonly base: { readonly rules: readonly string[]; readonly posture: Posture };
  readonly nextRules: readonly string[];
  readonly setDefaultActionDeny: boolean;
}
