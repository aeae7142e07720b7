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
