import { ServiceBusManagementClient } from '@azure/arm-servicebus';
import type { ArmClientOptions } from '../../arm/client-options.js';
import type { FirewallTarget } from '../firewall.js';
import { createNamespaceFirewalls } from '../namespace-firewall.js';
import { SERVICE_BUS } from './facts.js';

/** `apiVersion` defaults to the SDK's own (2021-11-01 for @azure/arm-servicebus 6.1.0). */
export function createServiceBusFirewalls(options: ArmClientOptions): FirewallTarget {
  return createNamespaceFirewalls(options, SERVICE_BUS, (subscriptionId, clientOptions) => {
    const client = new ServiceBusManagementClient(options.credential, subscriptionId, clientOptions);
    return {
      getNamespace: (group, name, o) => client.namespaces.get(group, name, o),
      getRuleSet: (group, name, o) => client.namespaces.getNetworkRuleSet(group, name, o),
      putRuleSet: (group, name, ruleSet, o) => client.namespaces.createOrUpdateNetworkRuleSet(group, name, ruleSet, o),
    };
  });
}
