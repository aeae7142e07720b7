import type { NamespaceFacts } from '../namespace-firewall.js';

/**
 * A Service Bus namespace's IP firewall, as Microsoft's Service Bus IP-filtering and quotas pages
 * and the 2021-11-01 management API describe it (docs/TARGETS.md has the citations).
 */
export const SERVICE_BUS: NamespaceFacts = {
  kind: 'servicebus',
  title: 'Service Bus namespace',
  resourceType: 'Microsoft.ServiceBus/namespaces',
  apiVersion: '2021-11-01',
  rulesAt: 'networkRuleSets/default: properties.ipRules[].ipMask',
  // The quotas page, limits common to all tiers: "Number of virtual network and IP filter rules: 128".
  maxRules: 128,
  singleAddress: 'bare',
  allows31: true,
  special: [],
  longRunning: false,
  posture: {
    defaultAction: 'networkRuleSets/default properties.defaultAction: Allow means the firewall is off; Deny without any IP or virtual-network rule is not enforced either',
    bypass: 'networkRuleSets/default properties.trustedServiceAccessEnabled: true is AzureServices (Premium only), false is None',
    publicNetworkAccess: 'networkRuleSets/default properties.publicNetworkAccess: Disabled means only private endpoints get in; SecuredByPerimeter means a perimeter decides',
  },
  // Its rules are in the child networkRuleSets/default, which Resource Graph does not describe.
  graph: 'tags',
  iac: {
    terraform: 'azurerm_servicebus_namespace.network_rule_set.ip_rules',
    armRule: { property: 'ipMask', fixed: { action: 'Allow' } },
    az: {
      add: ['az', 'servicebus', 'namespace', 'network-rule-set', 'ip-rule', 'add', '--resource-group', '{group}', '--namespace-name', '{name}', '--ip-rule', 'ip-address={rule}', 'action=Allow'],
      remove: ['az', 'servicebus', 'namespace', 'network-rule-set', 'ip-rule', 'remove', '--resource-group', '{group}', '--namespace-name', '{name}', '--ip-rule', 'ip-address={rule}'],
    },
  },
  sdk: '@azure/arm-servicebus',
  load: async () => (await import('./adapter.js')).createServiceBusFirewalls,
  // Premium only until mid-2023; the page now says the Standard SKU supports IP filtering.
  ipRuleTiers: ['Standard', 'Premium'],
  // "The Standard SKU supports IP filtering but does not include the Trusted Services option."
  trustedServiceTiers: ['Premium'],
  limitCountsVirtualNetworkRules: true,
  permissions: 'Microsoft.ServiceBus/namespaces/read, Microsoft.ServiceBus/namespaces/networkRuleSets/read and /write',
};
