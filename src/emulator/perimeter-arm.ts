import { ArmFailure } from './http.js';
import { EMULATOR_IDENTITY_CLIENT_ID } from './identity.js';
import type { PerimeterAddress, PerimeterStore } from './perimeters.js';

/**
 * The read side of the perimeter API, as tagwall's SDK calls it: perimeters by subscription
 * or resource group, one perimeter, and a perimeter's resource associations, each list paged
 * with `nextLink`. Paths and shapes follow azure-rest-api-specs, specification/network/
 * resource-manager/Microsoft.Network/stable/2025-05-01/networkSecurityPerimeter.json.
 */

export type PerimeterRoute =
  | { readonly kind: 'bySubscription'; readonly subscriptionId: string }
  | { readonly kind: 'byResourceGroup'; readonly subscriptionId: string; readonly resourceGroup: string }
  | { readonly kind: 'perimeter'; readonly address: PerimeterAddress }
  | { readonly kind: 'associations'; readonly address: PerimeterAddress }
  /** Under a perimeter, but nothing tagwall reads (profiles, access rules, links, ...). */
  | { readonly kind: 'unsupported' };

const PROVIDER = 'providers\\/Microsoft\\.Network\\/networkSecurityPerimeters';
const BY_SUBSCRIPTION = new RegExp(`^\\/subscriptions\\/([^/]+)\\/${PROVIDER}\\/?$`, 'i');
const BY_GROUP = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/?$`, 'i');
const ONE = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/?$`, 'i');
const ASSOCIATIONS = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/resourceAssociations\\/?$`, 'i');
const ANY = new RegExp(`\\/${PROVIDER}(\\/|$)`, 'i');

/** The spec caps `$top` at 20 (ListTopParameter); without one the emulator pages at that size too. */
export const PERIMETER_PAGE_SIZE = 20;

const READ_PERIMETERS = 'Microsoft.Network/networkSecurityPerimeters/read';
const READ_ASSOCIATIONS = 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/read';

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function matchPerimeterRoute(pathname: string): PerimeterRoute | undefined {
  if (!ANY.test(pathname)) return undefined;
  const parts = (re: RegExp): string[] | undefined => re.exec(pathname)?.slice(1).map(decode);
  const sub = parts(BY_SUBSCRIPTION);
  if (sub !== undefined) return { kind: 'bySubscription', subscriptionId: sub[0]! };
  const group = parts(BY_GROUP);
  if (group !== undefined) return { kind: 'byResourceGroup', subscriptionId: group[0]!, resourceGroup: group[1]! };
  const address = (p: string[]): PerimeterAddress => ({ subscriptionId: p[0]!, resourceGroup: p[1]!, name: p[2]! });
  const one = parts(ONE);
  if (one !== undefined) return { kind: 'perimeter', address: address(one) };
  const associations = parts(ASSOCIATIONS);
  if (associations !== undefined) return { kind: 'associations', address: address(associations) };
  return { kind: 'unsupported' };
}

export function perimeterAddressOf(route: PerimeterRoute): PerimeterAddress | undefined {
  return route.kind === 'perimeter' || route.kind === 'associations' ? route.address : undefined;
}

function forbidden(action: string, scope: string): ArmFailure {
  return new ArmFailure(
    403,
    'AuthorizationFailed',
    `The client '${EMULATOR_IDENTITY_CLIENT_ID}' with object id '${EMULATOR_IDENTITY_CLIENT_ID}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

function notFound(a: PerimeterAddress): ArmFailure {
  return new ArmFailure(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.Network/networkSecurityPerimeters/${a.name}' under resource group '${a.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

function integerParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ArmFailure(400, 'InvalidParameter', `The value '${raw}' of query parameter '${name}' is invalid; it must be an integer from ${min} to ${max}.`);
  }
  return n;
}

/**
 * One page, and a `nextLink` while more remain. The link is absolute and carries the
 * api-version, because the SDK requests it as it is and adds no query parameters of its own.
 */
function page<T>(items: readonly T[], url: URL, origin: string, apiVersion: string): { value: T[]; nextLink?: string } {
  const top = integerParam(url, '$top', 1, PERIMETER_PAGE_SIZE);
  const skip = integerParam(url, '$skipToken', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const end = skip + (top ?? PERIMETER_PAGE_SIZE);
  const value = items.slice(skip, end);
  if (end >= items.length) return { value };
  const query = new URLSearchParams({ 'api-version': apiVersion, ...(top === undefined ? {} : { $top: String(top) }), $skipToken: String(end) });
  return { value, nextLink: `${origin}${url.pathname}?${query.toString().replace(/%24/g, '$')}` };
}

/** The response body for a GET on a perimeter route; ARM's checks come first: authorization, then the resource. */
export function readPerimeters(route: PerimeterRoute, store: PerimeterStore, url: URL, origin: string, apiVersion: string): unknown {
  if (route.kind === 'unsupported') {
    throw new ArmFailure(404, 'NotFound', `The emulator serves perimeters and their resource associations only; ${url.pathname} is not one of them.`);
  }
  const subscriptionId = route.kind === 'bySubscription' || route.kind === 'byResourceGroup' ? route.subscriptionId : route.address.subscriptionId;
  if (store.readsForbidden(subscriptionId)) {
    const scope =
      route.kind === 'bySubscription'
        ? `/subscriptions/${subscriptionId}`
        : route.kind === 'byResourceGroup'
          ? `/subscriptions/${subscriptionId}/resourceGroups/${route.resourceGroup}`
          : url.pathname.replace(/\/+$/, '');
    throw forbidden(route.kind === 'associations' ? READ_ASSOCIATIONS : READ_PERIMETERS, scope);
  }
  switch (route.kind) {
    case 'bySubscription':
      return page(store.bySubscription(subscriptionId), url, origin, apiVersion);
    case 'byResourceGroup':
      return page(store.byResourceGroup(subscriptionId, route.resourceGroup), url, origin, apiVersion);
    case 'perimeter': {
      const found = store.get(route.address);
      if (found === undefined) throw notFound(route.address);
      return found;
    }
    case 'associations': {
      const found = store.associations(route.address);
      if (found === undefined) throw notFound(route.address);
      return page(found, url, origin, apiVersion);
    }
  }
}
