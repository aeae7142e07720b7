import { CognitiveServicesManagementClient, type Account, type NetworkRuleSet } from '@azure/arm-cognitiveservices';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions, classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget } from '../firewall.js';
import { runOperation, watchOperation } from '../long-running.js';
import { cognitiveError } from './errors.js';

/** `apiVersion` defaults to the SDK's own (2025-09-01 for @azure/arm-cognitiveservices 8.1.0). */
export type CognitiveServicesFirewallOptions = ArmClientOptions;

/** A virtual-network rule as read, every field kept, so the PATCH sends it back unchanged. */
interface VnetRuleAsRead {
  readonly id: string;
  readonly state?: string;
  readonly ignoreMissingVnetServiceEndpoint?: boolean;
}

/** `properties.networkAcls` as read; undefined when the account has none (it takes every network). */
interface CognitiveOpaque {
  readonly networkAcls: { readonly defaultAction?: string; readonly bypass?: string; readonly virtualNetworkRules: readonly VnetRuleAsRead[] } | undefined;
}

function toFirewall(resource: ResourceRef, account: Account): FirewallState {
  const acls = account.properties?.networkAcls;
  const publicNetworkAccess = account.properties?.publicNetworkAccess;
  const virtualNetworkRules = (acls?.virtualNetworkRules ?? []).map(
    (r): VnetRuleAsRead => ({
      id: r.id,
      ...(r.state === undefined ? {} : { state: r.state }),
      ...(r.ignoreMissingVnetServiceEndpoint === undefined ? {} : { ignoreMissingVnetServiceEndpoint: r.ignoreMissingVnetServiceEndpoint }),
    }),
  );
  const opaque: CognitiveOpaque = {
    networkAcls:
      acls === undefined || acls === null
        ? undefined
        : { ...(acls.defaultAction === undefined ? {} : { defaultAction: acls.defaultAction }), ...(acls.bypass === undefined ? {} : { bypass: acls.bypass }), virtualNetworkRules },
  };
  return {
    resource,
    ipRules: (acls?.ipRules ?? []).map((r) => r.value),
    virtualNetworkRuleCount: virtualNetworkRules.length,
    posture: {
      // No networkAcls means the account takes every network, as Allow does.
      defaultAction: acls?.defaultAction ?? 'Allow',
      ...(acls?.bypass === undefined ? {} : { bypass: acls.bypass }),
      ...(publicNetworkAccess === undefined ? {} : { publicNetworkAccess }),
    },
    opaque,
  };
}

/**
 * The networkAcls to PATCH: everything as read, with the new IP rules (and Deny when asked).
 * The array of VNet rules is replaced whole by a PATCH, so it goes back too. An account that
 * had no networkAcls gets `Allow` spelled out, which is what it was.
 */
export function patchedNetworkAcls(read: CognitiveOpaque['networkAcls'], change: FirewallChange): NetworkRuleSet {
  return {
    defaultAction: change.defaultAction ?? read?.defaultAction ?? 'Allow',
    ...(read?.bypass === undefined ? {} : { bypass: read.bypass }),
    ipRules: change.ipRules.map((value) => ({ value })),
    virtualNetworkRules: (read?.virtualNetworkRules ?? []).map((r) => ({ ...r })),
  };
}

/** AI services accounts through the real ARM SDK: one GET to read, one PATCH (polled to its end) to write. */
export function createCognitiveServicesFirewalls(options: CognitiveServicesFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  // One client per subscription: resources in the same one share it (and its connections).
  const clientFor = perSubscription((subscriptionId): CognitiveServicesManagementClient =>
    new CognitiveServicesManagementClient(options.credential, subscriptionId, classicClientOptions(connection, options.apiVersion)),
  );

  return {
    async read(account: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(account, await clientFor(account.subscriptionId).accounts.get(account.resourceGroup, account.name, requestOptions));
      } catch (e) {
        throw cognitiveError(e, account, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const account = current.resource;
      const body: Account = { properties: { networkAcls: patchedNetworkAcls((current.opaque as CognitiveOpaque).networkAcls, change) } };
      const watch = watchOperation();
      const begin = () =>
        clientFor(account.subscriptionId).accounts.beginUpdate(account.resourceGroup, account.name, body, {
          ...requestOptions,
          onResponse: watch.onResponse,
          ...(options.operations?.pollIntervalMs === undefined ? {} : { updateIntervalInMs: options.operations.pollIntervalMs }),
        });
      try {
        return toFirewall(account, await runOperation(begin, account, 'AI services account', watch, options.operations));
      } catch (e) {
        throw cognitiveError(e, account, 'write');
      }
    },
  };
}
