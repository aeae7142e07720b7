import { TagwallError } from './errors.js';

/**
 * An Azure resource as named by its ARM resource ID: a Key Vault, a Storage account, a perimeter
 * profile (a child resource), ... ARM IDs are case-insensitive, so identity is the lowercased form.
 */
export interface ResourceRef {
  /** The resource ID as configured, without a trailing slash. */
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** `Microsoft.KeyVault/vaults`, `Microsoft.Network/networkSecurityPerimeters/profiles`, as written in the ID. */
  readonly type: string;
  /** The resource's own name (the last segment). */
  readonly name: string;
  /** Names of the parents of a child resource, outermost first (a perimeter profile: the perimeter). */
  readonly parents: readonly string[];
}

const RESOURCE_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/(.+?)\/?$/i;

export function parseResourceId(id: string): ResourceRef {
  const trimmed = id.trim();
  const m = RESOURCE_ID.exec(trimmed);
  const segments = m === null ? [] : m[4]!.split('/');
  if (m === null || segments.length % 2 !== 0 || segments.some((s) => s === '')) {
    throw new TagwallError(
      'RESOURCE_ID_INVALID',
      `${JSON.stringify(id)} is not an Azure resource ID (expected /subscriptions/<id>/resourceGroups/<group>/providers/<Namespace>/<type>/<name>)`,
    );
  }
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < segments.length; i += 2) {
    types.push(segments[i]!);
    names.push(segments[i + 1]!);
  }
  return {
    id: trimmed.replace(/\/$/, ''),
    subscriptionId: m[1]!,
    resourceGroup: m[2]!,
    type: `${m[3]}/${types.join('/')}`,
    name: names[names.length - 1]!,
    parents: names.slice(0, -1),
  };
}

/** Case-insensitive identity of a resource. */
export function resourceKey(ref: Pick<ResourceRef, 'id'>): string {
  return ref.id.replace(/\/+$/, '').toLowerCase();
}
