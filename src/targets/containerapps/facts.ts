import type { FirewallFacts } from '../kind.js';

/**
 * A container app's ingress IP restrictions, from Microsoft's "Set up IP ingress restrictions in
 * Azure Container Apps" page and the Microsoft.App spec (docs/TARGETS.md has the citations):
 * named `{name, description, ipAddressRange, action}` rules, all Allow or all Deny, in CIDR
 * notation (the page's single address is `10.200.10.2/32`), and no rules means every client gets
 * in. Microsoft documents no limit on the number of rules: 100 is tagwall's conservative figure
 * (see TARGETS.md), and `maxRules` may lower it. tagwall writes Allow rules named
 * tagwall-<owner>-<n>; an app holding Deny rules is never written.
 */
export const CONTAINER_APP: FirewallFacts = {
  kind: 'containerapp',
  title: 'Container app',
  resourceType: 'Microsoft.App/containerApps',
  // What @azure/arm-appcontainers 3.0.0 sends by default.
  apiVersion: '2025-07-01',
  rulesAt: 'properties.configuration.ingress.ipSecurityRestrictions[] {name: tagwall-<owner>-<n>, ipAddressRange, action: Allow}',
  maxRules: 100,
  // "CIDR notation"; the page writes a single address as a.b.c.d/32.
  singleAddress: 'cidr',
  // Any CIDR block is taken (the spec's example even holds 192.168.1.1/8); nothing singles out /31.
  allows31: true,
  special: [],
  // "When you define no IP restriction rules, all inbound traffic is allowed": the first rule is the switch.
  ipListIsSwitch: true,
  ownedByName: 'tagwall-<owner>-<n>',
  // containerApps.beginUpdate: 200, or 202 with Azure-AsyncOperation to poll.
  longRunning: true,
  posture: {
    defaultAction:
      'none in the API: an app with no ipSecurityRestrictions lets every client in (read as Allow) and one with Allow rules only the listed ranges (read as Deny); tagwall writes a first rule only with enforceDeny, and never removes the last',
    deny: 'rules with action Deny: Azure takes one action for the whole list, and tagwall writes Allow rules, so such an app is TARGET_UNSUPPORTED (cause CONTAINERAPP_DENY_RULES) and never written',
    ingress: 'properties.configuration.ingress absent: nothing to restrict (TARGET_UNSUPPORTED, cause CONTAINERAPP_NO_INGRESS)',
  },
  graph: 'rules',
  // No defaultAction, bypass or publicNetworkAccess on the app: the rules are compared by count (or themselves).
  graphPaths: { rules: 'properties.configuration.ingress.ipSecurityRestrictions', ruleValue: 'ipAddressRange' },
  // Every rule needs a name (IpSecurityRestrictionRule requires name, ipAddressRange and action; so
  // does Terraform's ip_security_restriction block), so the exports name each one. az's
  // access-restriction set/remove work by rule name, and the names tagwall's own rules carry in
  // Azure (tagwall-<owner>-<n>) are not in a plan: no az export.
  iac: {
    terraform: 'azurerm_container_app.ingress.ip_security_restriction[] (name, ip_address_range, action)',
    named: {
      arm: { address: 'ipAddressRange', fixed: { action: 'Allow' } },
      terraform: { address: 'ip_address_range', fixed: { action: 'Allow' } },
    },
  },
  sdk: '@azure/arm-appcontainers',
  load: async () => (await import('./adapter.js')).createContainerAppFirewalls,
};
