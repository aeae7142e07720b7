import type { FirewallFacts } from '../kind.js';

/**
 * `0.0.0.0/32` in the list means "only the cluster's own outbound IP (its Standard load
 * balancer's)", from Microsoft's "Secure access to the API server using authorized IP address
 * ranges in AKS" page: the cluster's setting, never a rule tagwall may own or remove. Azure takes
 * no other range beside it (InvalidParameter, "Setting apiServerAuthorizedIPRange to 0.0.0.0/32 is
 * not allowed with other IP ranges", quoted in Azure/terraform-azurerm-aks #378), so a cluster
 * holding it is not written at all (the adapter reads it as AKS_EGRESS_ONLY).
 */
export const AKS_EGRESS_ONLY_RANGE = '0.0.0.0/32';

/**
 * The Kubernetes API server's authorized IP ranges of an AKS cluster, from the page above and
 * the ContainerService spec (see docs/TARGETS.md for the citations): at most 200 ranges, each
 * written from its block's first address; not for private clusters. The list is the switch: an
 * empty list means the API server takes every network. The API has no PATCH of the profile (its
 * only PATCH is tags): the write is the whole cluster PUT back as read, a long-running update.
 */
export const AKS_CLUSTER: FirewallFacts = {
  kind: 'aks',
  title: 'AKS cluster',
  resourceType: 'Microsoft.ContainerService/managedClusters',
  // What @azure/arm-containerservice 25.3.0 sends unless told otherwise.
  apiVersion: '2026-04-01',
  rulesAt: 'properties.apiServerAccessProfile.authorizedIPRanges[]',
  // "The upper limit for the number of IP ranges you can specify is 200" (the page above; API
  // Server VNet Integration takes 2,000, which tagwall does not assume).
  maxRules: 200,
  // The API's own description writes CIDR (137.117.106.88/29), and AKS answers a bare address as
  // its /32 (the az output quoted in Azure/AKS #4085): written as /32, it reads back as written.
  singleAddress: 'cidr',
  // Nothing found says whether a /31 is taken: written as its two addresses, it costs one rule.
  allows31: false,
  special: [AKS_EGRESS_ONLY_RANGE],
  ipListIsSwitch: true,
  // managedClusters.beginCreateOrUpdate: 200 or 201 with Azure-AsyncOperation to poll.
  longRunning: true,
  // An estimate (no Microsoft figure found): az aks update is reported to take minutes (about six in
  // Azure/AKS #3911), and the page says the rules take up to two more minutes to reach the API server.
  writeNote:
    'AKS applies authorized IP ranges with a whole-cluster update (a long-running PUT of the cluster as read), which typically takes several minutes (an estimate; no Microsoft figure), and the rules then take up to two minutes to reach the API server; another update of the same cluster waits for it',
  posture: {
    defaultAction:
      'none in the API: the API server takes every network while apiServerAccessProfile.authorizedIPRanges is empty (read as Allow) and only the listed ranges when it is not (read as Deny); tagwall writes a first range only with enforceDeny, and never removes the last',
    publicNetworkAccess: 'properties.publicNetworkAccess: Disabled means the API server has no public endpoint',
    enablePrivateCluster:
      'properties.apiServerAccessProfile.enablePrivateCluster: a private cluster takes no authorized IP ranges, so it is TARGET_UNSUPPORTED (AKS_PRIVATE_CLUSTER) and never written',
    egressOnly: '0.0.0.0/32 alone in the list lets in only the cluster\'s own outbound IP; Azure takes no range beside it, so such a cluster is TARGET_UNSUPPORTED (AKS_EGRESS_ONLY) and never written',
  },
  graph: 'rules',
  // The list holds bare strings: a row's rules are the values themselves (no ruleValue).
  graphPaths: { rules: 'properties.apiServerAccessProfile.authorizedIPRanges', publicNetworkAccess: 'properties.publicNetworkAccess' },
  // az aks update --api-server-authorized-ip-ranges sets the whole list, which would drop everyone else's: no az export.
  iac: { terraform: 'azurerm_kubernetes_cluster.api_server_access_profile.authorized_ip_ranges' },
  sdk: '@azure/arm-containerservice',
  load: async () => (await import('./adapter.js')).createAksFirewalls,
};
