import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

/** What the Storage SDK throws, as tagwall's TARGET_* codes. */
export function storageError(error: unknown, account: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, account, action, {
    title: 'Storage account',
    permissions: 'Microsoft.Storage/storageAccounts/read and /write',
    codes: 'TARGET',
  });
}
