import type { TagwallError } from '../../core/errors.js';
import type { ResourceRef } from '../../core/resource-id.js';
import { firewallError } from '../../arm/errors.js';

/** What the Cognitive Services SDK throws, as TARGET_* codes. */
export function cognitiveError(error: unknown, account: ResourceRef, action: 'read' | 'write'): TagwallError {
  return firewallError(error, account, action, { title: 'AI services account', permissions: 'Microsoft.CognitiveServices/accounts/read and /write', codes: 'TARGET' });
}
