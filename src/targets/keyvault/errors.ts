import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

/** What the Key Vault SDK throws, as tagwall's VAULT_* codes. */
export function vaultError(error: unknown, vault: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, vault, action, { title: 'Key Vault', permissions: 'Microsoft.KeyVault/vaults/read and /write', codes: 'VAULT' });
}
