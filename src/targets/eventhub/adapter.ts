import { EventHubManagementClient } from '@azure/arm-eventhub';
import type { ArmClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import { createNamespaceFirewalls } from '../namespace-firewall.js';
import { EVENT_HUBS } from './facts.js';

/** `apiVersion` defaults to the SDK's own (2024-01-01 for @azure/arm-eventhub 5.2.0). */
export function createEventHubFirewalls(options: ArmClientOptions): FirewallTarget {
  return createNamespaceFirewalls(options, EVENT_HUBS, (subscriptionId, clientOptions) => {
    const client = new EventHubManagementClient(options.credential, subscriptionId, clientOptions);
    return {
      getNamespace: (group, name, o) => client.namespaces.get(group, name, o),
      getRuleSet: (group, name, o) => client.namespaces.getNetworkRuleSet(group, name, o),
      putRuleSet: (group, name, ruleSet, o) => client.namespaces.createOrUpdateNetworkRuleSet(group, name, ruleSet, o),
    };
  });
}
