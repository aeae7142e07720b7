import type { ResourceRef } from '../core/resource-id.js';

/** A virtual-network rule, passed back exactly as read. */
export interface VirtualNetworkRule {
  readonly id: string;
  readonly ignoreMissingVnetServiceEndpoint?: boolean;
}

/** `properties.networkAcls` as read from ARM; fields tagwall does not change go back as they were. */
export interface NetworkAcls {
  readonly bypass?: string;
  readonly defaultAction?: string;
  readonly ipRules: readonly { readonly value: string }[];
  readonly virtualNetworkRules: readonly VirtualNetworkRule[];
}

/** The posture fields the plan judges; a kind maps its own fields onto these (see its facts). */
export interface FirewallPosture {
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
}

/** A fact about one resource that only its kind knows (a tier without IP rules, same-region bypass). */
export interface KindFinding {
  readonly severity: 'critical' | 'warning' | 'info';
  readonly code: string;
  readonly message: string;
  readonly [value: string]: string | number | boolean | readonly string[];
}

/** What tagwall reads of one firewall, whatever its kind. */
export interface FirewallState {
  readonly resource: ResourceRef;
  /** The IP rules as the resource holds them, in its own spelling. */
  readonly ipRules: readonly string[];
  readonly virtualNetworkRuleCount: number;
  readonly posture: FirewallPosture;
  readonly findings?: readonly KindFinding[];
  /** Set when the resource cannot take IP rules as it is (a registry below Premium, say): no write. */
  readonly unsupported?: { readonly code: string; readonly message: string };
  /**
   * Rules the resource itself marks as this installation's (a perimeter's access rules named
   * tagwall-<owner>-<n> with this installation's owner ID; another installation's are someone
   * else's). When set, it decides which present rules are tagwall's instead of the record, and
   * nothing is ever adopted; the record still says what was tagwall's, so a rule removed outside
   * tagwall is drift as for every kind.
   */
  readonly ownedByName?: readonly string[];
  /**
   * Set when the resource needs a write even though its rules are what the plan wants (a
   * perimeter's legacy tagwall-<n> rules to rename): the plan then has changes.
   */
  readonly rewrite?: boolean;
  /**
   * Entries that are not IP rules but count against the kind's limit (a perimeter profile's
   * subscription and FQDN elements): always someone else's, never written.
   */
  readonly otherEntries?: number;
  /** Everything else as read, for write() to send back exactly as it was. */
  readonly opaque: unknown;
}

export interface FirewallChange {
  /** The complete new list of IP rules (PATCH replaces the array whole). */
  readonly ipRules: readonly string[];
  /** Set only when the target asks tagwall to turn the firewall on (`enforceDeny`). */
  readonly defaultAction?: 'Deny';
  /**
   * Set only by `tagwall offboard --allow-open`: where the IP list is the switch, removing the last
   * rule opens the firewall to every network, which a write otherwise never does.
   */
  readonly allowOpen?: true;
}

/** The one seam between the reconciler and Azure: one read, one write, for any firewall kind. */
export interface FirewallTarget {
  read(resource: ResourceRef): Promise<FirewallState>;
  /**
   * One write carrying everything that was read, with only the IP rules (and, when asked,
   * `defaultAction`) changed. Returns the resource as the write's answer describes it.
   */
  write(current: FirewallState, change: FirewallChange): Promise<FirewallState>;
}

/**
 * A vault's Network Security Perimeter association, as far as tagwall could read it. Under an
 * Enforced association (or `publicNetworkAccess: SecuredByPerimeter`) the perimeter's access
 * rules decide who gets in and the vault's own IP rules do nothing; under Learning (or Audit)
 * the vault's own firewall still applies.
 */
export interface PerimeterAssociation {
  /** The perimeter's resource ID. */
  readonly perimeter: string;
  /** The profile's resource ID, when the association names one. */
  readonly profile?: string;
  /** As ARM spells it: `Enforced`, `Learning` or `Audit`. */
  readonly accessMode: string;
}

export type PerimeterView =
  | { readonly state: 'none' }
  | { readonly state: 'associated'; readonly association: PerimeterAssociation }
  /** The identity could not read the association (403, an outage): reported, never fatal. */
  | {
      readonly state: 'unknown';
      readonly reason: string;
      /**
       * Stable, to branch on: PERIMETER_FORBIDDEN (403), PERIMETER_UNAUTHORIZED (401),
       * PERIMETER_CREDENTIAL (no token), PERIMETER_READ_FAILED (anything else, after the
       * SDK's retries), PERIMETER_MODE_MISSING (an association without an accessMode).
       */
      readonly code?: string;
    };

/** Finds the perimeter association of a vault; one per run, shared by the vaults it reads. */
export interface PerimeterLookup {
  perimeterOf(resource: ResourceRef): Promise<PerimeterView>;
}
