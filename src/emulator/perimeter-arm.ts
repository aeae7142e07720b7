import { ArmFailure } from './http.js';
import { EMULATOR_IDENTITY_CLIENT_ID } from './identity.js';
import type { ProfileRules } from './access-rules.js';
import type { PerimeterAddress, PerimeterStore } from './perimeters.js';

/**
 * The perimeter API as tagwall's SDK calls it: perimeters by subscription or resource group,
 * one perimeter, a perimeter's resource associations, and a profile's access rules (listed,
 * read, put and deleted), each list paged with `nextLink`. Paths and shapes follow
 * azure-rest-api-specs, specification/network/resource-manager/Microsoft.Network/stable/
 * 2025-05-01/networkSecurityPerimeter.json.
 */

export type PerimeterRoute =
  | { readonly kind: 'bySubscription'; readonly subscriptionId: string }
  | { readonly kind: 'byResourceGroup'; readonly subscriptionId: string; readonly resourceGroup: string }
  | { readonly kind: 'perimeter'; readonly address: PerimeterAddress }
  | { readonly kind: 'associations'; readonly address: PerimeterAddress }
  | { readonly kind: 'accessRules'; readonly address: PerimeterAddress; readonly profile: string }
  | { readonly kind: 'accessRule'; readonly address: PerimeterAddress; readonly profile: string; readonly rule: string }
  /** Under a perimeter, but nothing tagwall uses (profiles themselves, links, ...). */
  | { readonly kind: 'unsupported' };

const PROVIDER = 'providers\\/Microsoft\\.Network\\/networkSecurityPerimeters';
const BY_SUBSCRIPTION = new RegExp(`^\\/subscriptions\\/([^/]+)\\/${PROVIDER}\\/?$`, 'i');
const BY_GROUP = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/?$`, 'i');
const ONE = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/?$`, 'i');
const ASSOCIATIONS = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/resourceAssociations\\/?$`, 'i');
const ACCESS_RULES = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/profiles\\/([^/]+)\\/accessRules\\/?$`, 'i');
const ACCESS_RULE = new RegExp(`^\\/subscriptions\\/([^/]+)\\/resourceGroups\\/([^/]+)\\/${PROVIDER}\\/([^/]+)\\/profiles\\/([^/]+)\\/accessRules\\/([^/]+)\\/?$`, 'i');
const ANY = new RegExp(`\\/${PROVIDER}(\\/|$)`, 'i');

/** The spec caps `$top` at 20 (ListTopParameter); without one the emulator pages at that size too. */
export const PERIMETER_PAGE_SIZE = 20;

const READ_PERIMETERS = 'Microsoft.Network/networkSecurityPerimeters/read';
const READ_ASSOCIATIONS = 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/read';
const READ_ACCESS_RULES = 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/read';

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
  const rules = parts(ACCESS_RULES);
  if (rules !== undefined) return { kind: 'accessRules', address: address(rules), profile: rules[3]! };
  const rule = parts(ACCESS_RULE);
  if (rule !== undefined) return { kind: 'accessRule', address: address(rule), profile: rule[3]!, rule: rule[4]! };
  return { kind: 'unsupported' };
}

export function perimeterAddressOf(route: PerimeterRoute): PerimeterAddress | undefined {
  return route.kind === 'bySubscription' || route.kind === 'byResourceGroup' || route.kind === 'unsupported' ? undefined : route.address;
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

function notFoundUnder(a: PerimeterAddress, path: string): ArmFailure {
  return new ArmFailure(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.Network/networkSecurityPerimeters/${a.name}/${path}' under resource group '${a.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

/** The profile a route names, or ARM's 404 for the perimeter or the profile. */
function profileOf(store: PerimeterStore, route: { readonly address: PerimeterAddress; readonly profile: string }): ProfileRules {
  const found = store.profile(route.address, route.profile);
  if (found === 'no-perimeter') throw notFound(route.address);
  if (found === 'no-profile') throw notFoundUnder(route.address, `profiles/${route.profile}`);
  return found;
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
    throw new ArmFailure(404, 'NotFound', `The emulator serves perimeters, their resource associations and their profiles' access rules only; ${url.pathname} is not one of them.`);
  }
  const subscriptionId = route.kind === 'bySubscription' || route.kind === 'byResourceGroup' ? route.subscriptionId : route.address.subscriptionId;
  if (store.readsForbidden(subscriptionId)) {
    const scope =
      route.kind === 'bySubscription'
        ? `/subscriptions/${subscriptionId}`
        : route.kind === 'byResourceGroup'
          ? `/subscriptions/${subscriptionId}/resourceGroups/${route.resourceGroup}`
          : url.pathname.replace(/\/+$/, '');
    throw forbidden(route.kind === 'associations' ? READ_ASSOCIATIONS : route.kind === 'accessRules' || route.kind === 'accessRule' ? READ_ACCESS_RULES : READ_PERIMETERS, scope);
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
    case 'accessRules':
      return page(profileOf(store, route).list(), url, origin, apiVersion);
    case 'accessRule': {
      const found = profileOf(store, route).get(route.rule);
      if (found === undefined) throw notFoundUnder(route.address, `profiles/${route.profile}/accessRules/${route.rule}`);
      return found;
    }
  }
}

/**
 * A PUT or DELETE of one access rule. Neither is long-running in the spec: PUT answers 201
 * with the new rule or 200 with the replaced one; DELETE answers 200, or 204 when there was no
 * such rule (a missing perimeter or profile is still a 404).
 */
export function writeAccessRule(route: PerimeterRoute, store: PerimeterStore, method: string, body: unknown): { status: number; body: unknown } {
  if (route.kind !== 'accessRule') throw new ArmFailure(405, 'MethodNotAllowed', `The emulator writes access rules only; ${method} is not allowed here.`);
  checkName(route.rule);
  const profile = profileOf(store, route);
  if (method === 'PUT') {
    const put = profile.put(route.rule, body);
    return { status: put.created ? 201 : 200, body: put.rule };
  }
  return { status: profile.remove(route.rule) ? 200 : 204, body: undefined };
}

/** The SDK checks names too (parameters.js, accessRuleName); a raw request may not. */
function checkName(rule: string): void {
  if (rule.length > 80 || !/^(?:[a-zA-Z0-9]+[a-zA-Z0-9_.-]*[a-zA-Z0-9_]+|[a-zA-Z0-9])$/.test(rule)) {
    throw new ArmFailure(400, 'InvalidResourceName', `Resource name ${rule} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`);
  }
}
