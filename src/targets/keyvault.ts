import { Agent as HttpsAgent } from 'node:https';
import * as tls from 'node:tls';
import { KeyVaultManagementClient, type NetworkRuleSet, type Vault } from '@azure/arm-keyvault';
import type { TokenCredential } from '@azure/identity';
import { TagwallError } from '../core/errors.js';
import type { VaultRef } from '../core/vault-id.js';
import type { FirewallChange, FirewallTarget, NetworkAcls, VaultFirewall, VirtualNetworkRule } from './firewall.js';
import { vaultError } from './keyvault-errors.js';

export interface KeyVaultFirewallOptions {
  /** ARM endpoint, e.g. https://management.azure.com or the emulator's URL. */
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** Defaults to the SDK's own (2026-02-01 for @azure/arm-keyvault 5.0.0). */
  readonly apiVersion?: string;
  /** The SDK's retry policy; unset fields keep its defaults (3 retries, 1 s, 64 s). */
  readonly retry?: { readonly maxRetries?: number; readonly retryDelayInMs?: number; readonly maxRetryDelayInMs?: number };
  /** The CA of a local emulator's certificate; when given, it is the only CA trusted. */
  readonly tls?: { readonly ca?: string };
  readonly userAgentPrefix?: string;
  /** Per attempt; the SDK itself has no timeout. Default 60 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * An agent that trusts exactly the given CA. It is for a local emulator, which is then the
 * only endpoint this adapter talks to. Adding Node's roots as well would let an older local
 * CA of the same name (say, one in NODE_EXTRA_CA_CERTS) shadow this one, and a `ca` list in
 * connection options is parsed again on every new connection; one secure context avoids both.
 */
function agentTrusting(ca: string): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, secureContext: tls.createSecureContext({ ca }) });
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TagwallError('ARM_ENDPOINT_INVALID', `${JSON.stringify(endpoint)} is not a URL; the ARM endpoint looks like https://management.azure.com`);
  }
  // The SDK's bearer-token policy refuses plain HTTP with a less helpful message.
  if (url.protocol !== 'https:') throw new TagwallError('ARM_ENDPOINT_INVALID', `the ARM endpoint must be https (bearer tokens are only sent over TLS), not ${endpoint}`);
  return endpoint.replace(/\/+$/, '');
}

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
  const endpoint = checkEndpoint(options.endpoint);
  const agent = options.tls?.ca === undefined ? undefined : agentTrusting(options.tls.ca);
  const requestOptions = { requestOptions: { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS } };
  // A client is bound to one subscription; vaults in the same one share it (and its connections).
  const clients = new Map<string, KeyVaultManagementClient>();

  function clientFor(subscriptionId: string): KeyVaultManagementClient {
    const key = subscriptionId.toLowerCase();
    let client = clients.get(key);
    if (client === undefined) {
      client = new KeyVaultManagementClient(options.credential, subscriptionId, {
        endpoint,
        // The SDK's cloud setting would build the scope with a double slash.
        credentials: { scopes: [`${endpoint}/.default`] },
        ...(options.apiVersion === undefined ? {} : { apiVersion: options.apiVersion }),
        ...(options.retry === undefined ? {} : { retryOptions: { ...options.retry } }),
        ...(agent === undefined ? {} : { agent }),
        ...(options.userAgentPrefix === undefined ? {} : { userAgentOptions: { userAgentPrefix: options.userAgentPrefix } }),
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
