import { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

const CONTEXT = { title: 'Cosmos DB account', permissions: 'Microsoft.DocumentDB/databaseAccounts/read and /write', codes: 'TARGET' } as const;

/**
 * What the Cosmos DB SDK throws, as TARGET_* codes. Cosmos DB answers an update made while
 * another runs with 412 PreconditionFailed ("another user operation in progress which requires
 * an exclusive lock"); that is a conflict worth retrying, not a refused request.
 */
export function cosmosError(error: unknown, account: ResourceRef, action: 'read' | 'write'): TagwallError {
  const mapped = firewallError(error, account, action, CONTEXT);
  if (mapped.values['status'] === 412 && mapped.values['azureCode'] === 'PreconditionFailed') {
    return new TagwallError('TARGET_CONFLICT', `another operation on Cosmos DB account ${account.name} is in progress: ${(error as Error).message}`, {
      transient: true,
      details: mapped.details,
      cause: error,
      values: mapped.values,
    });
  }
  return mapped;
}
