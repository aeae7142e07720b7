import { ContainerRegistryManagementClient, type NetworkRuleSet, type Registry } from '@azure/arm-containerregistry';
import type { ResourceRef } from '../../core/resource-id.js';
import { armConnection, perSubscription, type ArmClientOptions, classicClientOptions } from '../../arm/client-options.js';
import type { FirewallChange, FirewallState, FirewallTarget, KindFinding } from '../firewall.js';
import { registryError } from './errors.js';
import { runOperation, watchOperation } from '../long-running.js';

/**
 * @azure/arm-containerregistry 11.0.0 fixes api-version 2025-11-01 in its operation specs,
 * so `apiVersion` has no effect on this kind.
 */
export type RegistryFirewallOptions = ArmClientOptions;

/** What the next PATCH must send back exactly as it was read. */
interface RegistryOpaque {
  readonly networkRuleSet: NetworkRuleSet | undefined;
}

const PREMIUM = 'premium';

/** Below Premium a registry has no IP rules at all: a finding and no write, not a failed write. */
function skuVerdict(sku: string): { unsupported: NonNullable<FirewallState['unsupported']>; finding: KindFinding } {
  const message = `the registry is ${sku}: IP rules need the Premium SKU, so tagwall writes none and the registry accepts connections from any network; move it to Premium to restrict access`;
  return {
    unsupported: { code: 'SKU_UNSUPPORTED', message },
    finding: { severity: 'warning', code: 'SKU_UNSUPPORTED', message, sku, required: 'Premium' },
  };
}

function toFirewall(resource: ResourceRef, registry: Registry): FirewallState {
  const rules = registry.networkRuleSet;
  const sku = registry.sku?.name ?? 'unknown';
  const verdict = sku.toLowerCase() === PREMIUM ? undefined : skuVerdict(sku);
  return {
    resource,
    ipRules: (rules?.ipRules ?? []).map((r) => r.iPAddressOrRange),
    // Service-endpoint rules left the registry API in 2021-09-01; 2025-11-01 has none to keep.
    virtualNetworkRuleCount: 0,
    posture: {
      ...(rules?.defaultAction === undefined ? {} : { defaultAction: rules.defaultAction }),
      ...(registry.networkRuleBypassOptions === undefined ? {} : { bypass: registry.networkRuleBypassOptions }),
      ...(registry.publicNetworkAccess === undefined ? {} : { publicNetworkAccess: registry.publicNetworkAccess }),
    },
    ...(verdict === undefined ? {} : { findings: [verdict.finding], unsupported: verdict.unsupported }),
    opaque: { networkRuleSet: rules === undefined ? undefined : structuredClone(rules) } satisfies RegistryOpaque,
  };
}

/** The networkRuleSet to PATCH: as read, with the new IP rules (and Deny when asked). */
export function patchedNetworkRuleSet(read: NetworkRuleSet | undefined, change: FirewallChange): NetworkRuleSet {
  return {
    ...read,
    ipRules: change.ipRules.map((value) => ({ action: 'Allow', iPAddressOrRange: value })),
    defaultAction: change.defaultAction ?? read?.defaultAction ?? 'Allow',
  };
}

/**
 * Container registry firewalls through the real ARM SDK: one GET to read; the write is a
 * long-running PATCH whose Azure-AsyncOperation is polled to its end within the operation bound
 * (long-running.ts: the SDK's own beginUpdateAndWait would wait forever), so what it returns is
 * the registry once the update has finished.
 */
export function createRegistryFirewalls(options: RegistryFirewallOptions): FirewallTarget {
  const connection = armConnection(options);
  const requestOptions = connection.operationOptions;
  const clientFor = perSubscription(
    (subscriptionId) =>
      new ContainerRegistryManagementClient(options.credential, subscriptionId, classicClientOptions(connection)),
  );

  return {
    async read(registry: ResourceRef): Promise<FirewallState> {
      try {
        return toFirewall(registry, await clientFor(registry.subscriptionId).registries.get(registry.resourceGroup, registry.name, requestOptions));
      } catch (e) {
        throw registryError(e, registry, 'read');
      }
    },

    async write(current: FirewallState, change: FirewallChange): Promise<FirewallState> {
      const registry = current.resource;
      const networkRuleSet = patchedNetworkRuleSet((current.opaque as RegistryOpaque).networkRuleSet, change);
      const watch = watchOperation();
      const begin = () =>
        clientFor(registry.subscriptionId).registries.beginUpdate(registry.resourceGroup, registry.name, { networkRuleSet }, {
          ...requestOptions,
          onResponse: watch.onResponse,
          ...(options.operations?.pollIntervalMs === undefined ? {} : { updateIntervalInMs: options.operations.pollIntervalMs }),
        });
      try {
        return toFirewall(registry, await runOperation(begin, registry, 'container registry', watch, options.operations));
      } catch (e) {
        throw registryError(e, registry, 'write');
      }
    },
  };
}
