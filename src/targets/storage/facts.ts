import type { FirewallFacts } from '../kind.js';

/**
 * A Storage account's firewall, as Microsoft's Storage firewall pages describe it and the
 * resource provider answers (see docs/TARGETS.md for the citations): at most 400 IP rules;
 * /31 and /32 prefixes are refused, so a single address is written bare and a /31 as its
 * two addresses.
 */
export const STORAGE_ACCOUNT: FirewallFacts = {
  kind: 'storage',
  title: 'Storage account',
  resourceType: 'Microsoft.Storage/storageAccounts',
  // What @azure/arm-storage 19.1.0 sends.
  apiVersion: '2025-06-01',
  rulesAt: 'properties.networkAcls.ipRules[].value',
  maxRules: 400,
  // "Each storage account supports up to 400 virtual network rules."
  maxVirtualNetworkRules: 400,
  singleAddress: 'bare',
  allows31: false,
  special: [],
  longRunning: false,
  posture: {
    defaultAction: 'properties.networkAcls.defaultAction: Allow means the firewall is off',
    bypass: 'properties.networkAcls.bypass: a comma list of AzureServices, Logging, Metrics (or None), passed back as read',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means only private endpoints get in; SecuredByPerimeter means a perimeter decides',
  },
  graph: 'rules',
  // The ARM body's names: the SDK calls networkAcls networkRuleSet and a rule's value iPAddressOrRange.
  graphPaths: { rules: 'properties.networkAcls.ipRules', ruleValue: 'value', defaultAction: 'properties.networkAcls.defaultAction', bypass: 'properties.networkAcls.bypass', publicNetworkAccess: 'properties.publicNetworkAccess' },
  iac: {
    terraform: 'azurerm_storage_account.network_rules.ip_rules',
    armRule: { property: 'value', fixed: { action: 'Allow' } },
    az: {
      add: ['az', 'storage', 'account', 'network-rule', 'add', '--resource-group', '{group}', '--account-name', '{name}', '--ip-address', '{rule}'],
      remove: ['az', 'storage', 'account', 'network-rule', 'remove', '--resource-group', '{group}', '--account-name', '{name}', '--ip-address', '{rule}'],
    },
  },
  sdk: '@azure/arm-storage',
  load: async () => (await import('./adapter.js')).createStorageFirewalls,
};
