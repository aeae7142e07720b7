import type { FirewallFacts } from '../kind.js';

/**
 * Key Vault's firewall, as Microsoft's Key Vault network-security page and the management API
 * describe it (see docs/TARGETS.md for the citations).
 */
export const KEY_VAULT: FirewallFacts = {
  kind: 'keyvault',
  title: 'Key Vault',
  resourceType: 'Microsoft.KeyVault/vaults',
  apiVersion: '2026-02-01',
  rulesAt: 'properties.networkAcls.ipRules[].value',
  maxRules: 1000,
  maxVirtualNetworkRules: 200,
  // A bare address is stored and read back as /32; both spellings are accepted.
  singleAddress: 'bare',
  allows31: true,
  special: [],
  longRunning: false,
  posture: {
    defaultAction: 'properties.networkAcls.defaultAction: Allow means the firewall is off',
    bypass: 'properties.networkAcls.bypass: AzureServices lets trusted Microsoft services through',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means only private endpoints get in; SecuredByPerimeter means a perimeter decides',
  },
  errorCodes: 'VAULT',
  graph: 'rules',
  graphPaths: { rules: 'properties.networkAcls.ipRules', ruleValue: 'value', defaultAction: 'properties.networkAcls.defaultAction', bypass: 'properties.networkAcls.bypass', publicNetworkAccess: 'properties.publicNetworkAccess' },
  iac: {
    terraform: 'azurerm_key_vault.network_acls.ip_rules',
    armRule: { property: 'value' },
    az: {
      add: ['az', 'keyvault', 'network-rule', 'add', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
      remove: ['az', 'keyvault', 'network-rule', 'remove', '--resource-group', '{group}', '--name', '{name}', '--ip-address', '{rule}'],
    },
  },
  sdk: '@azure/arm-keyvault',
  load: async () => (await import('./adapter.js')).createKeyVaultFirewalls,
};
