import type { NamespaceFacts } from '../namespace-firewall.js';

/**
 * An Event Hubs namespace's IP firewall, as Microsoft's Event Hubs IP-filtering and quotas pages
 * and the 2024-01-01 management API describe it (docs/TARGETS.md has the citations).
 */
export const EVENT_HUBS: NamespaceFacts = {
  kind: 'eventhub',
  title: 'Event Hubs namespace',
  resourceType: 'Microsoft.EventHub/namespaces',
  apiVersion: '2024-01-01',
  rulesAt: 'networkRuleSets/default: properties.ipRules[].ipMask',
  // The quotas page: "Number of IP Config rules: 128" (and 128 virtual networks, counted apart).
  maxRules: 128,
  // Microsoft's own examples write a single address bare (1.1.1.1); the service keeps what it is sent.
  singleAddress: 'bare',
  allows31: true,
  special: [],
  // The PUT answers 200 with the rule set; nothing to poll.
  longRunning: false,
  posture: {
    defaultAction: 'networkRuleSets/default properties.defaultAction: Allow means the firewall is off; Deny without any IP or virtual-network rule is not enforced either',
    bypass: 'networkRuleSets/default properties.trustedServiceAccessEnabled: true is AzureServices (trusted Microsoft services get through), false is None',
    publicNetworkAccess: 'networkRuleSets/default properties.publicNetworkAccess (the namespace carries the same value): Disabled means only private endpoints get in; SecuredByPerimeter means a perimeter decides',
  },
  // Its rules are in the child networkRuleSets/default, which Resource Graph does not describe.
  graph: 'tags',
  iac: {
    // A block per rule in azurerm: `dynamic "ip_rule"` over the list, `ip_mask = ip_rule.value`.
    terraform: 'azurerm_eventhub_namespace.network_rulesets.ip_rule[].ip_mask',
    armRule: { property: 'ipMask', fixed: { action: 'Allow' } },
    az: {
      add: ['az', 'eventhubs', 'namespace', 'network-rule-set', 'ip-rule', 'add', '--resource-group', '{group}', '--namespace-name', '{name}', '--ip-rule', 'ip-address={rule}', 'action=Allow'],
      remove: ['az', 'eventhubs', 'namespace', 'network-rule-set', 'ip-rule', 'remove', '--resource-group', '{group}', '--namespace-name', '{name}', '--ip-rule', 'ip-address={rule}'],
    },
  },
  sdk: '@azure/arm-eventhub',
  load: async () => (await import('./adapter.js')).createEventHubFirewalls,
  // "This feature isn't supported in the basic tier."
  ipRuleTiers: ['Standard', 'Premium'],
  trustedServiceTiers: ['Standard', 'Premium'],
  limitCountsVirtualNetworkRules: false,
  permissions: 'Microsoft.EventHub/namespaces/read, Microsoft.EventHub/namespaces/networkRuleSets/read and /write',
};
