import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

/** What the Container Registry SDK throws, as tagwall's TARGET_* codes. */
export function registryError(error: unknown, registry: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, registry, action, {
    title: 'Container registry',
    permissions: 'Microsoft.ContainerRegistry/registries/read and /write',
    codes: 'TARGET',
  });
}
