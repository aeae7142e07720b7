import { StorageManagementClient, type NetworkRuleSet, type StorageAccount } from '@azure/arm-storage';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions, classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from '../firewall.js';
import { storageError } from './errors.js';

/** `apiVersion` defaults to the SDK's own (2025-06-01 for @azure/arm-storage 19.1.0). */
export type StorageFirewallOptions = ArmClientOptions;

/** What the next PATCH must send back exactly as it was read. */
interface StorageOpaque {
  /** As the SDK read it: bypass, resourceAccessRules, virtualNetworkRules, ipv6Rules and the rest. */
  readonly networkAcls: NetworkRuleSet | undefined;
}

/**
 * Microsoft's Storage firewall limits page: IP rules have no effect on requests from the
 * account's own region, because services there reach it from private Azure addresses. So a
 * service tag allowed here does not let that service in from the same region; this is said
 * on every read, since nothing in the account shows it.
 */
function sameRegionFinding(location: string): KindFinding {
  return {
    severity: 'info',
    code: 'SAME_REGION_BYPASS',
    message: `IP rules have no effect on requests from the account's own region (${location}): Azure services there reach it from private addresses, so allowing their service tags does not let them in; use virtual-network rules, resource-instance rules or the trusted-services exception for same-region clients`,
    location,
  };
}

function toFirewall(resource: ResourceRef, account: StorageAccount): FirewallState {
  const acls = account.networkRuleSet;
  const publicNetworkAccess = account.publicNetworkAccess;
  return {
    resource,
    ipRules: (acls?.ipRules ?? []).map((r) => r.iPAddressOrRange),
    virtualNetworkRuleCount: acls?.virtualNetworkRules?.length ?? 0,
    posture: {
      ...(acls?.defaultAction === undefined ? {} : { defaultAction: acls.defaultAction }),
      ...(acls?.bypass === undefined ? {} : { bypass: acls.bypass }),
      ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }),
    },
    findings: [sameRegionFinding(account.location)],
    opaque: { networkAcls: acls === undefined ? undefined : structuredClone(acls) } satisfies StorageOpaque,
  };
}

/**
 * The networkAcls to PATCH: everything as read, with the new IP rules (and Deny when asked).
 * PATCH replaces arrays whole, so the virtual-network, resource-access and IPv6 rules go back
 * as they were, or they would be wiped.
 */
export function patchedNetworkAcls(read: NetworkRuleSet | undefined, change: FirewallChange): NetworkRuleSet {
  return {
    ...read,
    ipRules: change.ipRules.map((value) => ({ iPAddressOrRange: value, action: 'Allow' as const })),
    // An account always reports a defaultAction; Allow is the service's own default.
    defaultAction: change.defaultAction ?? read?.defaultAction ?? 'Allow',
  };
}

/** Storage account firewalls through the real ARM SDK: one GET to read, one PATCH to write. */
export function createStorageFirewalls(options: StorageFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const clientFor = perSubscription(
    (subscriptionId) =>
      new StorageManagementClient(options.credential, subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(account: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(account, await clientFor(account.subscriptionId).storageAccounts.getProperties(account.resourceGroup, account.name, requestOptions));
      } catch (e) {
        throw storageError(e, account, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const account = current.resource;
      const networkRuleSet = patchedNetworkAcls((current.opaque as StorageOpaque).networkAcls, change);
      try {
        return toFirewall(account, await clientFor(account.subscriptionId).storageAccounts.update(account.resourceGroup, account.name, { networkRuleSet }, requestOptions));
      } catch (e) {
        throw storageError(e, account, 'write');
      }
    },
  };
}
