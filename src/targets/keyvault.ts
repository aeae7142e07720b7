import { KeyVaultManagementClient, type NetworkRuleSet, type Vault } from '@azure/arm-keyvault';
import type { VaultRef } from '../core/vault-id.js';
import { armConnection, type ArmClientOptions } from './arm-client-options.js';
import type { FirewallChange, FirewallTarget, NetworkAcls, VaultFirewall, VirtualNetworkRule } from './firewall.js';
import { vaultError } from './keyvault-errors.js';

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

function toFirewall(vault: VaultRef, resource: Vault): VaultFirewall {
  return {
    vault,
    networkAcls: toNetworkAcls(resource.properties?.networkAcls),
    publicNetworkAccess: resource.properties?.publicNetworkAccess,
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
  // A client is bound to one subscription; vaults in the same one share it (and its connections).
  const clients = new Map<string, KeyVaultManagementClient>();

  function clientFor(subscriptionId: string): KeyVaultManagementClient {
    const key = subscriptionId.toLowerCase();
    let client = clients.get(key);
    if (client === undefined) {
      client = new KeyVaultManagementClient(options.credential, subscriptionId, {
        endpoint: connection.endpoint,
        credentials: { scopes: [connection.scope] },
        ...(options.apiVersion === undefined ? {} : { apiVersion: options.apiVersion }),
        ...connection.pipeline,
      });
      clients.set(key, client);
    }
    return client;
  }

  return {
    async read(vault: VaultRef): Promise<VaultFirewall> {
      try {
        return toFirewall(vault, await clientFor(vault.subscriptionId).vaults.get(vault.resourceGroup, vault.name, requestOptions));
      } catch (e) {
        throw vaultError(e, vault, 'read');
      }
    },

    async write(current: VaultFirewall, change: FirewallChange): Promise<VaultFirewall> {
      const { vault } = current;
      const body = { properties: { networkAcls: patchedNetworkAcls(current.networkAcls, change) } };
      try {
        return toFirewall(vault, await clientFor(vault.subscriptionId).vaults.update(vault.resourceGroup, vault.name, body, requestOptions));
      } catch (e) {
        throw vaultError(e, vault, 'write');
      }
    },
  };
}
