import { KeyVaultManagementClient, type NetworkRuleSet, type Vault } from '@azure/arm-keyvault';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget, NetworkAcls, VirtualNetworkRule } from '../firewall.js';
import { vaultError } from './errors.js';

/** `apiVersion` defaults to the SDK's own (2026-02-01 for @azure/arm-keyvault 5.0.0). */
export type KeyVaultFirewallOptions = ArmClientOptions;

function toNetworkAcls(acls: NetworkRuleSet | undefined): NetworkAcls | undefined {
  if (acls === undefined || acls === null) return undefined;
  return {
    ...(acls.bypass === undefined ? {} : { bypass: acls.bypass }),
    ...(acls.defaultAction === undefined ? {} : { defaultAction: acls.defaultAction }),
    ipRules: (acls.ipRules ?? []).map((r) => ({ value: r.value })),
    virtualNetworkRules: (acls.virtualNetworkRules ?? []).map(
      (r): VirtualNetworkRule => ({
        id: r.id,
        ...(r.ignoreMissingVnetServiceEndpoint === undefined ? {} : { ignoreMissingVnetServiceEndpoint: r.ignoreMissingVnetServiceEndpoint }),
      }),
    ),
  };
}

/** What the next PATCH must send back exactly as it was read. */
interface KeyVaultOpaque {
  /** Undefined when the vault has never had networkAcls set. */
  readonly networkAcls: NetworkAcls | undefined;
}

function toFirewall(resource: ResourceRef, vault: Vault): FirewallState {
  const networkAcls = toNetworkAcls(vault.properties?.networkAcls);
  const publicNetworkAccess = vault.properties?.publicNetworkAccess;
  return {
    resource,
    ipRules: (networkAcls?.ipRules ?? []).map((r) => r.value),
    virtualNetworkRuleCount: networkAcls?.virtualNetworkRules.length ?? 0,
    posture: {
      ...(networkAcls?.defaultAction === undefined ? {} : { defaultAction: networkAcls.defaultAction }),
      ...(networkAcls?.bypass === undefined ? {} : { bypass: networkAcls.bypass }),
      ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }),
    },
    opaque: { networkAcls } satisfies KeyVaultOpaque,
  };
}

/**
 * The networkAcls to PATCH: everything as read, with the new IP rules (and Deny when
 * asked). PATCH replaces arrays whole, so the virtual-network rules must go back too,
 * or they would be wiped.
 */
export function patchedNetworkAcls(read: NetworkAcls | undefined, change: FirewallChange): NetworkRuleSet {
  const acls: NetworkRuleSet = {
    ipRules: change.ipRules.map((value) => ({ value })),
  };
  if (read?.bypass !== undefined) acls.bypass = read.bypass;
  const defaultAction = change.defaultAction ?? read?.defaultAction;
  if (defaultAction !== undefined) acls.defaultAction = defaultAction;
  if (read !== undefined) {
    acls.virtualNetworkRules = read.virtualNetworkRules.map((r) => ({
      id: r.id,
      ...(r.ignoreMissingVnetServiceEndpoint === undefined ? {} : { ignoreMissingVnetServiceEndpoint: r.ignoreMissingVnetServiceEndpoint }),
    }));
  }
  return acls;
}

/** Key Vault firewalls through the real ARM SDK: one GET to read, one PATCH to write. */
export function createKeyVaultFirewalls(options: KeyVaultFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  // One client per subscription: resources in the same one share it (and its connections).
  const clientFor = perSubscription((subscriptionId): KeyVaultManagementClient =>
    new KeyVaultManagementClient(options.credential, subscriptionId, {
      endpoint: connection.endpoint,
      credentials: { scopes: [connection.scope] },
      ...(options.apiVersion === undefined ? {} : { apiVersion: options.apiVersion }),
      ...connection.pipeline,
    }),
  );

  return {
    async read(vault: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(vault, await clientFor(vault.subscriptionId).vaults.get(vault.resourceGroup, vault.name, requestOptions));
      } catch (e) {
        throw vaultError(e, vault, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const vault = current.resource;
      const body = { properties: { networkAcls: patchedNetworkAcls((current.opaque as KeyVaultOpaque).networkAcls, change) } };
      try {
        return toFirewall(vault, await clientFor(vault.subscriptionId).vaults.update(vault.resourceGroup, vault.name, body, requestOptions));
      } catch (e) {
        throw vaultError(e, vault, 'write');
      }
    },
  };
}
