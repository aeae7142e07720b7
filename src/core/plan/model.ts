import type { Allowlist } from '../allowlist.js';
import type { AddressRange, Cidr } from '../ipv4.js';

/**
 * The vocabulary of a firewall plan. Every outcome a person or a machine acts on carries a
 * stable `code` and its figures as fields; `message` is for people and is never parsed, nor
 * part of an alert's identity.
 */

export type OwnershipMode = 'merge' | 'authoritative';
export type ChangePolicy = 'sync' | 'add-only';
/** Whether rules already in a firewall that tagwall wants too become tagwall's on first contact. */
export type AdoptPolicy = 'first-run' | 'never';

export interface TargetSettings {
  readonly maxRules: number;
  readonly reserveRules: number;
  readonly mode: OwnershipMode;
  readonly policy: ChangePolicy;
  readonly adopt: AdoptPolicy;
  readonly split31: boolean;
  readonly enforceDeny: boolean;
  readonly expectBypass?: string;
  readonly skipWhenPerimeterEnforced: boolean;
  /**
   * `least` (absent too): among the covers of least excess, the one that keeps most of the
   * firewall's current rules tagwall may remove. `tie-break`: the collapse's fixed tie-break alone.
   */
  readonly churn?: 'least' | 'tie-break';
  /**
   * With `churn: least`: excess addresses beyond the least that may be admitted to change fewer
   * rules (absent: 0, the excess is never traded). Weighted addresses under `widen.prefer: azure`.
   */
  readonly churnTolerance?: number;
  /**
   * The shape of the firewall's rules (a kind fact): `cidr` blocks (absent: cidr), or `range`,
   * start/end rules (Azure SQL), covered by the range optimum and written `a.b.c.d-e.f.g.h`.
   */
  readonly ruleShape?: 'cidr' | 'range';
  /** How the firewall wants a single address written: `bare` or `cidr` (/32). */
  readonly singleAddress: 'bare' | 'cidr';
  /** Normalised entries that mean something to the firewall itself: kept, never removed, never tagwall's. */
  readonly special: readonly string[];
  /** The firewall's own limit on virtual-network rules; 200 (Key Vault's) when unset. */
  readonly maxVirtualNetworkRules?: number;
  /**
   * The IP list is the firewall's switch (a kind fact): read as `defaultAction: Allow` when it is
   * empty and nothing else filters, and its first rule shuts out every other network.
   */
  readonly ipListIsSwitch?: boolean;
  /** What a write of this kind costs beyond its rules (a kind fact): said on every plan with changes. */
  readonly writeNote?: string;
}

export interface Guards {
  readonly maxRemovedFraction: number;
  readonly maxSourceShrinkFraction: number;
  readonly maxExcessAddresses: number;
  /** No widened rule wider than this prefix length (0: no bound); applied inside the collapse. */
  readonly maxWidenedPrefix: number;
  /** A widened rule wider than this is a WIDE_RULE warning. */
  readonly warnWidenedPrefix: number;
}

export interface Posture {
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
}

/** A write that a run announced before making it, so that other runs leave the firewall alone. */
export interface WriteIntent {
  readonly runId: string;
  /**
   * Who writes, across deliveries: a queue shard's `shard:<runId>#<n>`. A redelivery of that
   * shard finds its own dead delivery's intent here and takes it over; any other run waits.
   */
  readonly writer?: string;
  readonly startedAt: string;
  /** Normalised keys the write adds; tagwall's once they are seen in the firewall. */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /**
   * How long the writer holds the firewall (ms from startedAt), when longer than a run's intent
   * TTL: a long-running write's intent outlives the longest wait for its operation.
   */
  readonly holdMs?: number;
}

/** What the state store remembers of a firewall. */
export interface AppliedRecord {
  readonly ownedRules: readonly string[];
  /**
   * Of the owned rules, those tagwall took over rather than wrote: on first contact (`adopt:
   * "first-run"`) or with `tagwall state adopt`. For `tagwall state show`; absent in records older
   * than it, which cannot tell the two apart.
   */
  readonly adoptedRules?: readonly string[];
  readonly observedRules: readonly string[];
  readonly posture: Posture;
  readonly changeNumber: number;
  readonly sourceAddresses: number;
  /** Absent while the only write ever announced has not been confirmed. */
  readonly appliedAt?: string;
  readonly intent?: WriteIntent;
  /** When tagwall last wrote the firewall (not when it last found it in step). */
  readonly writtenAt?: string;
  /**
   * What Resource Graph reported of the firewall when a direct read last agreed with this record:
   * while Resource Graph reports the same, the firewall is still as recorded (see src/fleet/).
   */
  readonly graph?: { readonly fingerprint: string; readonly confirmedAt: string };
  /** What the last direct read saw besides the rules, so a run that trusts Resource Graph reports the same findings. */
  readonly seen?: { readonly virtualNetworkRuleCount: number; readonly findings?: readonly Finding[]; readonly perimeter?: PerimeterPosture };
  /**
   * The outcome of the last plan that found nothing to do, and the key of what it depended on
   * (the file and the target's settings): see src/fleet/settled.ts.
   */
  readonly settled?: {
    readonly key: string;
    readonly rules: RuleCounts;
    readonly excessAddresses: number;
    readonly weightedExcess?: number;
    readonly findings: readonly Finding[];
    readonly unmanaged: readonly string[];
    readonly shared: readonly string[];
  };
}

export type PerimeterPosture =
  | { readonly state: 'none' }
  | { readonly state: 'associated'; readonly perimeter: string; readonly profile?: string; readonly accessMode: string }
  | { readonly state: 'unknown'; readonly reason: string; readonly code?: string };

export interface ObservedFirewall {
  readonly ipRules: readonly string[];
  readonly virtualNetworkRuleCount: number;
  readonly posture: Posture;
  /** Absent when nobody looked (a dry run over an injected target, say). */
  readonly perimeter?: PerimeterPosture;
  /** What only the firewall's kind can tell (a tier without IP rules, same-region bypass). */
  readonly kindFindings?: readonly Finding[];
  /** Set when the firewall cannot take IP rules as it is: the write is skipped. */
  readonly unsupported?: { readonly code: string; readonly message: string };
  /** Rules the firewall itself marks as tagwall's; when set, it decides ownership instead of the record. */
  readonly ownedByName?: readonly string[];
  /** The firewall needs a write whatever the rules (its kind's own housekeeping, e.g. a rename). */
  readonly rewrite?: boolean;
  /** Entries that are not IP rules but count against maxRules all the same (a perimeter profile's subscriptions). */
  readonly otherEntries?: number;
}

export type Severity = 'critical' | 'warning' | 'info';

export type FindingCode =
  | 'FIREWALL_DISABLED'
  | 'PUBLIC_ACCESS_DISABLED'
  | 'BYPASS_MISMATCH'
  | 'VNET_RULES'
  | 'ADOPTED_RULES'
  | 'WIDE_RULE'
  | 'SPECIAL_ENTRY_WANTED'
  | 'PERIMETER_ENFORCED'
  | 'PERIMETER_LEARNING'
  | 'PERIMETER_UNKNOWN'
  | 'UNKNOWN_PROFILE'
  | 'PROFILE_UNSUITABLE'
  | 'PROFILE_OUT_OF_SCOPE'
  | 'EXPLICIT_TARGET'
  /** A temporary entry (a dated `extra`, or a grant of `tagwall allow`) expired; reported once (core/temporary.ts). */
  | 'TEMPORARY_ENTRY_EXPIRED'
  /** A dated `extra` of the configuration that expires within a week: info, so a reviewer sees it coming. */
  | 'TEMPORARY_ENTRY_EXPIRING'
  /** A temporary entry that would fit only by widening other rules, left out. */
  | 'TEMPORARY_ENTRY_NO_ROOM'
  /** `churnTolerance` took a cover admitting more than the least excess to change fewer rules (core/plan/churn.ts). */
  | 'CHURN_TOLERANCE_USED';

export type FindingValue = string | number | boolean | readonly string[];

export interface Finding {
  readonly severity: Severity;
  /** One of FindingCode, or a code a firewall kind defines for itself (docs/TARGETS.md). */
  readonly code: FindingCode | (string & {});
  readonly message: string;
  readonly [value: string]: FindingValue;
}

export type DriftCode = 'RULE_MISSING' | 'RULE_ADDED' | 'POSTURE_CHANGED';

export type Drift =
  | { readonly kind: 'missing'; readonly code: 'RULE_MISSING'; readonly rule: string; readonly detail: string }
  | { readonly kind: 'added'; readonly code: 'RULE_ADDED'; readonly rule: string; readonly detail: string }
  | {
      readonly kind: 'posture';
      readonly code: 'POSTURE_CHANGED';
      readonly field: keyof Posture;
      readonly before: string | null;
      readonly after: string | null;
      readonly detail: string;
    };

/** Why a write did not happen: a guard, an impossible budget, or IP rules that have no effect. */
export type ReasonCode =
  | 'EMPTY_SOURCE_GUARD'
  | 'SOURCE_SHRINK_GUARD'
  | 'REMOVAL_GUARD'
  | 'EXCESS_GUARD'
  | 'COLLAPSE_INFEASIBLE'
  | 'BUDGET_EXHAUSTED'
  | 'PUBLIC_ACCESS_DISABLED'
  | 'PERIMETER_ENFORCED'
  | 'TARGET_UNSUPPORTED'
  | 'VAULT_BUSY'
  | 'DEADLINE'
  | 'UNKNOWN_PROFILE'
  | 'PROFILE_UNSUITABLE'
  | 'TARGET_WOULD_ENABLE_FIREWALL'
  | 'PROFILE_OUT_OF_SCOPE'
  | 'TARGET_NOT_IN_FLEET'
  /** `apply`: the firewall's rules or posture, or the plan for it, are no longer what the reviewed plan was made from. */
  | 'PLAN_STALE'
  /** `apply`: the reviewed plan was made from another service-tags file (cloud, changeNumber or content). */
  | 'PLAN_SOURCE_MISMATCH'
  /** `offboard`: the target is still configured, so the next run would add every rule back (`--force` offboards it anyway). */
  | 'OFFBOARD_TARGET_CONFIGURED'
  /** `offboard`: removing tagwall's rules would leave the IP list empty where it is the switch, opening the firewall to every network (`--allow-open` lifts it). */
  | 'OFFBOARD_WOULD_OPEN_FIREWALL';

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
  readonly [value: string]: string | number | boolean;
}

export interface TargetPlanInput {
  readonly firewall: ObservedFirewall;
  /** Undefined on first contact: no record yet. */
  readonly record: AppliedRecord | undefined;
  readonly settings: TargetSettings;
  readonly guards: Guards;
  readonly force: boolean;
  /**
   * The optimal allowlist adding at most `budget` rules beside `kept`, rules the firewall keeps
   * anyway (which cost nothing when the cover uses them). May throw COLLAPSE_INFEASIBLE with
   * `values.neededRules`. Memoised by the caller. `keptRanges` is every kept IPv4 rule as a range,
   * for a range-shaped firewall, whose rules need not be blocks.
   */
  readonly desiredFor: (budget: number, kept: readonly Cidr[], options?: { readonly unbounded?: boolean; readonly keptRanges?: readonly AddressRange[] }) => Allowlist;
}

export interface RuleCounts {
  readonly managed: number;
  readonly unmanaged: number;
  readonly shared: number;
  readonly limit: number;
}

export interface TargetPlan {
  /** Normalised keys (`a.b.c.d/n`). */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** In the firewall, not tagwall's, not wanted: kept and counted. */
  readonly unmanaged: readonly string[];
  /** In the firewall, not tagwall's, and wanted too: kept, counted once, never removed by tagwall. */
  readonly shared: readonly string[];
  /** Taken over on first contact (`adopt: "first-run"`): tagwall's from now on. */
  readonly adopted: readonly string[];
  /** The full rule list to write, in the written form. */
  readonly nextRules: readonly string[];
  /** What tagwall owns once the plan is applied. */
  readonly nextOwned: readonly string[];
  readonly setDefaultActionDeny: boolean;
  readonly changes: boolean;
  /** Why the write must not happen: guards (unless forced) or an impossible budget. */
  readonly refusals: readonly Reason[];
  /** Guards that fired but were overridden by --force. */
  readonly forced: readonly Reason[];
  /** Set when IP rules would have no effect, so there is nothing worth writing. */
  readonly skip?: Reason;
  readonly findings: readonly Finding[];
  readonly drift: readonly Drift[];
  readonly rules: RuleCounts;
  /** New rules the cover was allowed beside the kept ones. */
  readonly budget: number;
  readonly desired: Allowlist | undefined;
}
