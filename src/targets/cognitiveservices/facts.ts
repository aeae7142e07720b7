import type { FirewallFacts } from '../kind.js';

/**
 * The firewall of an Azure AI services (Cognitive Services) account, from Microsoft's
 * "Configure Azure AI services virtual networks" page (see docs/TARGETS.md for the citations):
 * at most 100 IP rules, IPv4 and public addresses only, and "small address ranges that use
 * /31 or /32 prefix sizes aren't supported", so single addresses go bare and a /31 as its
 * two addresses.
 */
export const COGNITIVE_SERVICES: FirewallFacts = {
  kind: 'cognitiveservices',
  title: 'AI services account',
  resourceType: 'Microsoft.CognitiveServices/accounts',
  apiVersion: '2025-09-01',
  rulesAt: 'properties.networkAcls.ipRules[].value',
  maxRules: 100,
  singleAddress: 'bare',
  allows31: false,
  special: [],
  // The SDK runs the PATCH as a long-running operation; the service usually answers it at once.
  longRunning: true,
  posture: {
    defaultAction: 'properties.networkAcls.defaultAction: Allow (or no networkAcls) means every network gets in and IP rules do nothing',
    bypass: 'properties.networkAcls.bypass: AzureServices lets trusted Azure services (AI Search, Machine Learning) reach Azure OpenAI',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means only private endpoints get in',
  },
  graph: 'rules',
  graphPaths: { rules: 'properties.networkAcls.ipRules', ruleValue: 'value', defaultAction: 'properties.networkAcls.defaultAction', bypass: 'properties.networkAcls.bypass', publicNetworkAccess: 'properties.publicNetworkAccess' },
  iac: {
    terraform: 'azurerm_cognitive_account.network_acls.ip_rules',
    armRule: { property: 'value' },
    az: {
      add: ['az', 'cognitiveservices', 'account', 'network-rule', 'add', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
      remove: ['az', 'cognitiveservices', 'account', 'network-rule', 'remove', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
    },
  },
  sdk: '@azure/arm-cognitiveservices',
  load: async () => (await import('./adapter.js')).createCognitiveServicesFirewalls,
};
