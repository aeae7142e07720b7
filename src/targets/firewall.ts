import type { VaultRef } from '../core/vault-id.js';

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

/** What tagwall reads of one vault. */
export interface VaultFirewall {
  readonly vault: VaultRef;
  /** Undefined when the vault has never had networkAcls set. */
  readonly networkAcls: NetworkAcls | undefined;
  readonly publicNetworkAccess: string | undefined;
}

export interface FirewallChange {
  /** The complete new list of IP rules (PATCH replaces the array whole). */
  readonly ipRules: readonly string[];
  /** Set only when the target asks tagwall to turn the firewall on (`enforceDeny`). */
  readonly defaultAction?: 'Deny';
}

/** The one seam between the reconciler and Azure: one read, one write. */
export interface FirewallTarget {
  read(vault: VaultRef): Promise<VaultFirewall>;
  /**
   * One PATCH carrying the `networkAcls` that was read, with only `ipRules` (and, when asked,
   * `defaultAction`) changed. Returns the vault as the PATCH response describes it.
   */
  write(current: VaultFirewall, change: FirewallChange): Promise<VaultFirewall>;
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
  perimeterOf(vault: VaultRef): Promise<PerimeterView>;
}
