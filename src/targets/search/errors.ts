import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

/** What the Search SDK throws, as TARGET_* codes. */
export function searchError(error: unknown, service: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, service, action, { title: 'AI Search service', permissions: 'Microsoft.Search/searchServices/read and /write', codes: 'TARGET' });
}
