import type { FirewallFacts } from '../kind.js';

/**
 * The IP firewall of an AI Search service, from Microsoft's "Configure network access and
 * firewall rules for Azure AI Search" page and the Search management API (see
 * docs/TARGETS.md). Microsoft documents no limit on IP rules and says nothing of /31 or /32:
 * tagwall assumes 100 rules, the limit of the sibling AI services firewall, writes single
 * addresses bare as the API's own example does, and a /31 as its two addresses.
 */
export const AI_SEARCH: FirewallFacts = {
  kind: 'search',
  title: 'AI Search service',
  resourceType: 'Microsoft.Search/searchServices',
  apiVersion: '2025-05-01',
  rulesAt: 'properties.networkRuleSet.ipRules[].value',
  maxRules: 100,
  singleAddress: 'bare',
  allows31: false,
  special: [],
  ipListIsSwitch: true,
  longRunning: false,
  posture: {
    defaultAction:
      'none in the API: with publicNetworkAccess enabled, the firewall is on when networkRuleSet.ipRules is not empty (read as Deny) and off when it is empty (read as Allow); tagwall writes a first rule only with enforceDeny, and never removes the last',
    bypass: 'properties.networkRuleSet.bypass: AzureServices lets trusted services (AI services, Machine Learning) through',
    publicNetworkAccess: 'properties.publicNetworkAccess: disabled means only private endpoints get in; securedByPerimeter means a perimeter decides',
  },
  graph: 'rules',
  // No defaultAction in the API: the adapter's Deny/Allow is derived from the rules, which are compared by count.
  graphPaths: { rules: 'properties.networkRuleSet.ipRules', ruleValue: 'value', bypass: 'properties.networkRuleSet.bypass', publicNetworkAccess: 'properties.publicNetworkAccess' },
  // az search service update only sets the whole list (--ip-rules), which would drop everyone else's: no az export.
  iac: { terraform: 'azurerm_search_service.allowed_ips', armRule: { property: 'value' } },
  sdk: '@azure/arm-search',
  load: async () => (await import('./adapter.js')).createSearchFirewalls,
};
