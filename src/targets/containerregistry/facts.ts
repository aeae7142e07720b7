import type { FirewallFacts } from '../kind.js';

/**
 * A container registry's firewall, as Microsoft's "Configure public IP network rules" page
 * and the registry API describe it (see docs/TARGETS.md for the citations): IP rules need the
 * Premium SKU, at most 100 of them. A /32 is accepted and stored as the bare address, so
 * tagwall writes it bare and reads back what it wrote. Nothing found says whether a /31 is
 * accepted, so tagwall does not rely on it: a /31 is written as its two addresses.
 */
export const CONTAINER_REGISTRY: FirewallFacts = {
  kind: 'containerregistry',
  title: 'Container registry',
  resourceType: 'Microsoft.ContainerRegistry/registries',
  // What @azure/arm-containerregistry 11.0.0 sends; the SDK fixes it, so `apiVersion` cannot change it.
  apiVersion: '2025-11-01',
  rulesAt: 'properties.networkRuleSet.ipRules[].value',
  maxRules: 100,
  singleAddress: 'bare',
  allows31: false,
  special: [],
  // registries.beginUpdate: 200, or 201 with Azure-AsyncOperation to poll.
  longRunning: true,
  posture: {
    defaultAction: 'properties.networkRuleSet.defaultAction: Allow means the firewall is off',
    bypass: 'properties.networkRuleBypassOptions: AzureServices lets trusted Microsoft services through, None does not',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means only private endpoints get in',
    sku: 'sku.name: IP rules need Premium; a Basic or Standard registry is SKU_UNSUPPORTED and never written',
  },
  graph: 'rules',
  // The ARM body's name for a rule's address is value (the SDK's iPAddressOrRange); bypass sits beside networkRuleSet.
  graphPaths: { rules: 'properties.networkRuleSet.ipRules', ruleValue: 'value', defaultAction: 'properties.networkRuleSet.defaultAction', bypass: 'properties.networkRuleBypassOptions', publicNetworkAccess: 'properties.publicNetworkAccess' },
  iac: {
    // A block per rule in azurerm: `dynamic "ip_rule"` with `action = "Allow"`, `ip_range = ip_rule.value`.
    terraform: 'azurerm_container_registry.network_rule_set.ip_rule[].ip_range',
    armRule: { property: 'value', fixed: { action: 'Allow' } },
    az: {
      add: ['az', 'acr', 'network-rule', 'add', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
      remove: ['az', 'acr', 'network-rule', 'remove', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
    },
  },
  sdk: '@azure/arm-containerregistry',
  load: async () => (await import('./adapter.js')).createRegistryFirewalls,
};
