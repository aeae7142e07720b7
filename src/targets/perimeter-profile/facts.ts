import type { FirewallFacts } from '../kind.js';

/**
 * A Network Security Perimeter profile, as Microsoft's perimeter limits page and the
 * perimeter REST spec describe it (docs/TARGETS.md has the citations and the reasoning).
 */
export const PERIMETER_PROFILE: FirewallFacts = {
  kind: 'nsp-profile',
  title: 'Network Security Perimeter profile',
  resourceType: 'Microsoft.Network/networkSecurityPerimeters/profiles',
  // What @azure/arm-network 36.0.0 sends; the spec is the same as the first stable 2024-07-01.
  apiVersion: '2025-05-01',
  rulesAt: 'accessRules/tagwall-<owner>-<n>: properties.addressPrefixes[] (inbound)',
  // The limits page's hard limit of 200 inbound rule elements per profile. Microsoft does not
  // say what an element is; counting every address prefix (and every subscription) as one is
  // the reading that can never overshoot, whatever Azure counts.
  maxRules: 200,
  // The API takes prefixes; every example Microsoft and the providers give is written a.b.c.d/n.
  singleAddress: 'cidr',
  // Neither the spec nor the docs restrict the prefix length.
  allows31: true,
  special: [],
  // Every other access rule is someone else's, so "the rules become exactly the desired set" cannot hold.
  mergeOnly: true,
  // Its rules carry their owner in their names: the names, not the record, say which are tagwall's.
  ownedByName: 'tagwall-<owner>-<n>',
  longRunning: false,
  posture: {
    defaultAction:
      'none of its own: a perimeter denies public inbound traffic unless an access rule allows it, so tagwall reads it as Deny and never reports the firewall off',
  },
  // The rules are an access rule's addressPrefixes (plain strings); az has no per-address verb for them.
  iac: { terraform: 'azurerm_network_security_perimeter_access_rule.address_prefixes' },
  sdk: '@azure/arm-network',
  load: async () => (await import('./adapter.js')).createPerimeterProfileFirewalls,
};
