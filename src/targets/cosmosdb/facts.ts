import type { FirewallFacts } from '../kind.js';

/**
 * The entries a Cosmos DB account's IP list holds for Azure itself, from Microsoft's "Configure
 * IP firewall for Azure Cosmos DB" page (2025-09): `0.0.0.0` ("Accept connections from within
 * Azure datacenters") and the Azure portal's middleware addresses, current and legacy, for the
 * public cloud, Azure operated by 21Vianet and US Government, for every API and the MongoDB-
 * and Cassandra-only ones. They are the portal's, never a person's or tagwall's, whatever
 * cloud the account is in, so the list is one for all clouds.
 */
const AZURE_DATACENTERS = '0.0.0.0';

const PORTAL_MIDDLEWARE = [
  // Azure Public: all APIs, MongoDB only, Apache Cassandra only.
  '13.91.105.215', '4.210.172.107', '13.88.56.148', '40.91.218.243',
  '20.245.81.54', '40.118.23.126', '40.80.152.199', '13.95.130.121',
  '40.113.96.14', '104.42.11.145', '137.117.230.240', '168.61.72.237',
  // Azure operated by 21Vianet.
  '163.228.137.6', '143.64.170.142', '52.131.240.99', '143.64.61.130', '40.73.99.146', '143.64.62.47',
  // Azure US Government.
  '52.247.163.6', '52.244.134.181', '52.244.176.112', '52.247.148.42', '52.244.50.101', '52.227.165.24',
];

/** Addresses the page calls legacy; accounts set up before the 2024 move may still hold them. */
const PORTAL_LEGACY = ['104.42.195.92', '40.76.54.131', '52.176.6.30', '52.169.50.45', '52.187.184.26', '139.217.8.252', '52.244.48.71'];

export const COSMOS_SPECIAL_ENTRIES: readonly string[] = [AZURE_DATACENTERS, ...PORTAL_MIDDLEWARE, ...PORTAL_LEGACY].map((a) => `${a}/32`);

/**
 * Cosmos DB's IP firewall, from the page above and the DocumentDB management spec (see
 * docs/TARGETS.md for the citations). Microsoft documents no limit on IP rules; 1000 is
 * tagwall's conservative figure, the largest any sibling firewall documents.
 */
export const COSMOS_DB: FirewallFacts = {
  kind: 'cosmosdb',
  title: 'Cosmos DB account',
  resourceType: 'Microsoft.DocumentDB/databaseAccounts',
  apiVersion: '2025-10-15',
  rulesAt: 'properties.ipRules[].ipAddressOrRange',
  maxRules: 1000,
  // The page and the portal write single addresses bare, and the account echoes them as written.
  singleAddress: 'bare',
  // CIDR ranges are documented without an exception for /31, but nothing says one is taken:
  // written as its two addresses, a /31 costs one rule and is accepted for certain.
  allows31: false,
  special: COSMOS_SPECIAL_ENTRIES,
  ipListIsSwitch: true,
  longRunning: true,
  posture: {
    defaultAction:
      'none in the API: the firewall is on when properties.ipRules is not empty or isVirtualNetworkFilterEnabled is true (read as Deny), and off when neither (read as Allow); tagwall writes a first rule only with enforceDeny, and never removes the last',
    bypass: 'properties.networkAclBypass: AzureServices lets trusted Azure services (Synapse, ...) through',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means only private endpoints get in; SecuredByPerimeter means a perimeter decides',
  },
  graph: 'rules',
  // No defaultAction in the API: the adapter's Deny/Allow is derived from the rules, which are compared by count.
  graphPaths: { rules: 'properties.ipRules', ruleValue: 'ipAddressOrRange', bypass: 'properties.networkAclBypass', publicNetworkAccess: 'properties.publicNetworkAccess' },
  // az cosmosdb only sets the whole list (--ip-range-filter), which would drop everyone else's entries: no az export.
  iac: { terraform: 'azurerm_cosmosdb_account.ip_range_filter', armRule: { property: 'ipAddressOrRange' } },
  sdk: '@azure/arm-cosmosdb',
  load: async () => (await import('./adapter.js')).createCosmosDbFirewalls,
};
