import { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

const CONTEXT = { title: 'AKS cluster', permissions: 'Microsoft.ContainerService/managedClusters/read and /write', codes: 'TARGET' } as const;

/**
 * What the ContainerService SDK throws, as TARGET_* codes. The write is a PUT of the whole
 * cluster with If-Match on the eTag it was read with: a 412 means someone changed the cluster
 * since, so the write was not made and the next run reads it again, as for any conflict.
 */
export function aksError(error: unknown, cluster: ResourceRef, action: 'read' | 'write'): TagwallError {
  const mapped = firewallError(error, cluster, action, CONTEXT);
  if (mapped.values['status'] === 412) {
    return new TagwallError('TARGET_CONFLICT', `AKS cluster ${cluster.name} changed after tagwall read it, so its update was not made (If-Match): ${(error as Error).message}`, {
      transient: true,
      details: mapped.details,
      cause: error,
      values: mapped.values,
    });
  }
  return mapped;
}
