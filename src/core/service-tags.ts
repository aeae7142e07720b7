import type { Cidr } from './ipv4.js';

/** The domain view of one weekly service-tags file, after validation at the edge. */
export interface ServiceTag {
  readonly name: string;
  readonly id: string;
  readonly changeNumber: number;
  /** Lowercase region code (`westeurope`, `centralfrance`), or '' for global tags. */
  readonly region: string;
  readonly regionId: number;
  readonly platform: string;
  readonly systemService: string;
  /** IPv4 and IPv6 prefixes, as published. */
  readonly addressPrefixes: readonly string[];
  readonly networkFeatures: readonly string[] | null;
  /** The IPv4 prefixes, parsed once when the file was read. */
  readonly ipv4: readonly Cidr[];
  /** How many IPv6 prefixes the tag lists (Key Vault cannot use them). */
  readonly ipv6Count: number;
}

export interface ServiceTagDocument {
  readonly changeNumber: number;
  readonly cloud: string;
  /** Where it came from: a path or URL, for messages and reports. */
  readonly source: string;
  readonly tags: readonly ServiceTag[];
}

export const CLOUDS = ['Public', 'AzureGovernment', 'China'] as const;
export type CloudName = (typeof CLOUDS)[number];
