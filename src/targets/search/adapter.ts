import { SearchManagementClient, type SearchService, type SearchServiceUpdate } from '@azure/arm-search';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions, classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget } from '../firewall.js';
import { checkImplicitSwitch } from '../implicit-firewall.js';
import { searchError } from './errors.js';

/** `apiVersion` defaults to the SDK's own (2025-05-01 for @azure/arm-search 3.3.0). */
export type SearchFirewallOptions = ArmClientOptions;

/** `networkRuleSet.bypass` as read, to send back unchanged. */
interface SearchOpaque {
  readonly bypass: string | undefined;
}

/**
 * Search has no defaultAction: with public access enabled, an empty IP list lets every
 * network in and a non-empty one only the listed ranges. That is read as Allow or Deny, so
 * the plan judges a service the way it judges a vault.
 */
function toFirewall(resource: ResourceRef, service: SearchService): FirewallState {
  const set = service.networkRuleSet;
  const ipRules = (set?.ipRules ?? []).map((r) => r.value ?? '').filter((r) => r !== '');
  const free = (service.sku?.name ?? '').toLowerCase() === 'free';
  return {
    resource,
    ipRules,
    virtualNetworkRuleCount: 0,
    posture: {
      defaultAction: ipRules.length > 0 ? 'Deny' : 'Allow',
      ...(set?.bypass === undefined ? {} : { bypass: set.bypass }),
      ...(service.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: service.publicNetworkAccess }),
    },
    ...(free ? { unsupported: { code: 'SEARCH_FREE_TIER', message: 'the Free tier has no networking options: IP rules need Basic or higher' } } : {}),
    opaque: { bypass: set?.bypass } satisfies SearchOpaque,
  };
}

/** AI Search services through the real ARM SDK: one GET to read, one PATCH of `networkRuleSet` to write. */
export function createSearchFirewalls(options: SearchFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  // One client per subscription: resources in the same one share it (and its connections).
  const clientFor = perSubscription((subscriptionId): SearchManagementClient =>
    new SearchManagementClient(options.credential, subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(service: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(service, await clientFor(service.subscriptionId).services.get(service.resourceGroup, service.name, requestOptions));
      } catch (e) {
        throw searchError(e, service, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const service = current.resource;
      checkImplicitSwitch(current, change, false, 'AI Search service');
      const bypass = (current.opaque as SearchOpaque).bypass;
      // The rule set is one object whose array a PATCH replaces; bypass goes back as read.
      const body: SearchServiceUpdate = { networkRuleSet: { ipRules: change.ipRules.map((value) => ({ value })), ...(bypass === undefined ? {} : { bypass }) } };
      try {
        return toFirewall(service, await clientFor(service.subscriptionId).services.update(service.resourceGroup, service.name, body, requestOptions));
      } catch (e) {
        throw searchError(e, service, 'write');
      }
    },
  };
}
