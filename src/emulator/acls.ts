import { forbiddenOverlap } from '../core/forbidden.js';
import { isCidrProblem, parseCidr, readCidr } from '../core/ip-text.js';
import { cidrEnd, formatAddress, formatCidr } from '../core/ipv4.js';
import { ArmFailure, isRecord } from './http.js';
import type { NetworkAclsJson, VirtualNetworkRuleJson } from './model.js';

/**
 * Key Vault's checks on `properties.networkAcls`, applied to the merged result of a PUT
 * or PATCH the way the resource provider does: the whole write is refused on the first
 * bad value, and nothing is stored.
 */

export const MAX_IP_RULES = 1000;
export const MAX_VIRTUAL_NETWORK_RULES = 200;

/**
 * How the resource provider names each forbidden block in its error text. Azure's own
 * wording is known for RFC 1918 ("private IP addresses"); the rest follow that pattern.
 */
const FORBIDDEN_LABELS: Readonly<Record<string, string>> = {
  '0.0.0.0/8': 'current network addresses',
  '10.0.0.0/8': 'private IP addresses',
  '100.64.0.0/10': 'shared address space',
  '127.0.0.0/8': 'loopback addresses',
  '169.254.0.0/16': 'link-local addresses',
  '172.16.0.0/12': 'private IP addresses',
  '192.0.0.0/24': 'IETF protocol assignments',
  '192.0.2.0/24': 'documentation addresses',
  '192.88.99.0/24': '6to4 relay anycast addresses',
  '192.168.0.0/16': 'private IP addresses',
  '198.18.0.0/15': 'benchmarking addresses',
  '198.51.100.0/24': 'documentation addresses',
  '203.0.113.0/24': 'documentation addresses',
  '224.0.0.0/4': 'multicast addresses',
  '240.0.0.0/4': 'reserved addresses',
};

const SUBNET_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;

function badRequest(message: string): ArmFailure {
  return new ArmFailure(400, 'BadRequest', message);
}

function invalidAt(path: string, detail: string): ArmFailure {
  return badRequest(`Invalid value found at ${path}: ${detail}`);
}

/** Matches ARM's case-insensitive enums and returns the canonical spelling. */
function enumValue<T extends string>(raw: unknown, allowed: readonly T[], fallback: T, path: string): T {
  if (raw === undefined || raw === null) return fallback;
  const found = typeof raw === 'string' ? allowed.find((a) => a.toLowerCase() === raw.toLowerCase()) : undefined;
  if (found === undefined) throw invalidAt(path, `${JSON.stringify(raw)} is not one of ${allowed.join(', ')}`);
  return found;
}

/**
 * Checks one rule and returns it as the service stores it: a bare address becomes `/32`,
 * except in old-API mode, where /31 and /32 CIDRs are refused and single addresses
 * stay bare.
 */
export function normaliseIpRule(raw: string, index: number, oldApi: boolean): string {
  const key = `${oldApi ? 'o' : 'n'}${raw}`;
  const known = accepted.get(key);
  if (known !== undefined) return known;
  const value = checkIpRule(raw, index, oldApi);
  if (accepted.size >= ACCEPTED_LIMIT) accepted.clear();
  accepted.set(key, value);
  return value;
}

/**
 * Rules already accepted, and how they were stored: a fleet of 10,000 vaults repeats the same
 * few thousand rules, and checking each again would make seeding it take most of a minute.
 * Only accepted rules are kept; a refused one is checked again and refused with its own index.
 */
const accepted = new Map<string, string>();
const ACCEPTED_LIMIT = 100_000;

function checkIpRule(raw: string, index: number, oldApi: boolean): string {
  const path = `properties.networkAcls.ipRules[${index}].value`;
  const text = raw.trim();
  const parsed = readCidr(text);
  if (isCidrProblem(parsed)) {
    const why =
      parsed.code === 'CIDR_IPV6'
        ? `${text} is an IPv6 address or range; only IPv4 addresses and ranges are supported`
        : parsed.code === 'CIDR_HOST_BITS'
          ? `${text} is not a valid CIDR range because it has host bits set`
          : `${text} is not a valid IPv4 address or CIDR range`;
    throw invalidAt(path, why);
  }
  const hit = forbiddenOverlap(parsed);
  if (hit !== undefined) {
    const block = parseCidr(hit.cidr);
    const label = FORBIDDEN_LABELS[hit.cidr] ?? hit.why;
    throw invalidAt(path, `${text} belongs to forbidden range ${formatAddress(block.base)}\u2013${formatAddress(cidrEnd(block))} (${label})`);
  }
  const explicitPrefix = text.includes('/');
  if (oldApi && explicitPrefix && parsed.length >= 31) {
    throw invalidAt(path, `${text} is not supported: /31 and /32 CIDR ranges are not allowed; use single IP addresses instead`);
  }
  if (oldApi && !explicitPrefix) return text;
  return formatCidr(parsed);
}

function virtualNetworkRule(raw: unknown, index: number): VirtualNetworkRuleJson {
  const path = `properties.networkAcls.virtualNetworkRules[${index}]`;
  if (!isRecord(raw) || typeof raw['id'] !== 'string') throw invalidAt(`${path}.id`, 'a subnet resource ID is required');
  if (!SUBNET_ID.test(raw['id'])) throw invalidAt(`${path}.id`, `${raw['id']} is not a subnet resource ID`);
  const ignore = raw['ignoreMissingVnetServiceEndpoint'];
  if (ignore !== undefined && ignore !== null && typeof ignore !== 'boolean') throw invalidAt(`${path}.ignoreMissingVnetServiceEndpoint`, 'must be true or false');
  return { id: raw['id'], ignoreMissingVnetServiceEndpoint: ignore === true };
}

/** Validates and normalises a whole `networkAcls`; missing fields get the service's defaults. */
export function normaliseNetworkAcls(raw: unknown, oldApi: boolean): NetworkAclsJson {
  if (!isRecord(raw)) throw invalidAt('properties.networkAcls', 'must be an object');
  const ipRules = raw['ipRules'] ?? [];
  const vnetRules = raw['virtualNetworkRules'] ?? [];
  if (!Array.isArray(ipRules)) throw invalidAt('properties.networkAcls.ipRules', 'must be an array');
  if (!Array.isArray(vnetRules)) throw invalidAt('properties.networkAcls.virtualNetworkRules', 'must be an array');
  if (ipRules.length > MAX_IP_RULES) {
    throw invalidAt('properties.networkAcls.ipRules', `${ipRules.length} IP rules exceed the maximum of ${MAX_IP_RULES} IP rules per vault`);
  }
  if (vnetRules.length > MAX_VIRTUAL_NETWORK_RULES) {
    throw invalidAt(
      'properties.networkAcls.virtualNetworkRules',
      `${vnetRules.length} virtual network rules exceed the maximum of ${MAX_VIRTUAL_NETWORK_RULES} virtual network rules per vault`,
    );
  }
  return {
    bypass: enumValue(raw['bypass'], ['AzureServices', 'None'] as const, 'AzureServices', 'properties.networkAcls.bypass'),
    defaultAction: enumValue(raw['defaultAction'], ['Allow', 'Deny'] as const, 'Allow', 'properties.networkAcls.defaultAction'),
    ipRules: ipRules.map((r: unknown, i) => {
      if (!isRecord(r) || typeof r['value'] !== 'string') throw invalidAt(`properties.networkAcls.ipRules[${i}].value`, 'a string value is required');
      return { value: normaliseIpRule(r['value'], i, oldApi) };
    }),
    virtualNetworkRules: vnetRules.map(virtualNetworkRule),
  };
}

/** `SecuredByPerimeter`: the vault's Network Security Perimeter, not its own firewall, decides. */
export function normalisePublicNetworkAccess(raw: unknown): 'Enabled' | 'Disabled' | 'SecuredByPerimeter' {
  return enumValue(raw, ['Enabled', 'Disabled', 'SecuredByPerimeter'] as const, 'Enabled', 'properties.publicNetworkAccess');
}
