import { TagwallError } from './errors.js';
import type { ResourceRef } from './resource-id.js';

/** A Key Vault, as named by its ARM resource ID: a resource whose type is Microsoft.KeyVault/vaults. */
export type VaultRef = ResourceRef;

const VAULT_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i;
/** Key Vault names: 3-24 characters, letters, digits and dashes, starting with a letter. */
const VAULT_NAME = /^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/;

export function parseVaultId(id: string): VaultRef {
  const m = VAULT_ID.exec(id.trim());
  if (m === null) {
    throw new TagwallError(
      'VAULT_ID_INVALID',
      `${JSON.stringify(id)} is not a Key Vault resource ID (expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>)`,
    );
  }
  const [, subscriptionId, resourceGroup, name] = m as unknown as [string, string, string, string];
  if (!VAULT_NAME.test(name)) {
    throw new TagwallError('VAULT_ID_INVALID', `${JSON.stringify(id)}: ${JSON.stringify(name)} is not a valid Key Vault name (3-24 letters, digits and dashes)`);
  }
  return { id: id.trim().replace(/\/$/, ''), subscriptionId, resourceGroup, type: 'Microsoft.KeyVault/vaults', name, parents: [] };
}

/** Case-insensitive identity of a vault (ARM IDs are case-insensitive). */
export function vaultKey(ref: VaultRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.KeyVault/vaults/${ref.name}`.toLowerCase();
}
