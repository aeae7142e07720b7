import { z } from 'zod';
import { cidrFamily } from '../core/ip-text.js';
import { ArmFailure, isRecord } from './http.js';

/**
 * A perimeter profile's access rules: the shape ARM returns, the checks a PUT goes through,
 * and the element limit. Shapes follow azure-rest-api-specs, specification/network/
 * resource-manager/Microsoft.Network/stable/2025-05-01/networkSecurityPerimeter.json
 * (NspAccessRule); the limit is Microsoft's perimeter limits page (includes/
 * network-security-perimeter-limits.md in MicrosoftDocs/azure-docs). Where neither says how
 * Azure answers, the emulator is the stricter of the plausible choices; docs/EMULATOR.md
 * lists those.
 */

/** "Number of rule elements per profile: up to 200 for inbound and outbound each, as hard limit." */
export const MAX_RULE_ELEMENTS = 200;

export type Direction = 'Inbound' | 'Outbound';

export interface AccessRuleRecord {
  readonly name: string;
  readonly direction: Direction;
  readonly addressPrefixes: readonly string[];
  /** Subscription IDs in ARM form, `/subscriptions/<guid>`. */
  readonly subscriptions: readonly string[];
  readonly fullyQualifiedDomainNames: readonly string[];
}

/** `NspAccessRule`, shaped as ARM returns it (the spec's NspAccessRulePut example). */
export interface AccessRuleResourceJson {
  id: string;
  name: string;
  type: 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules';
  properties: {
    provisioningState: 'Succeeded';
    direction: Direction;
    addressPrefixes: string[];
    fullyQualifiedDomainNames: string[];
    subscriptions: { id: string }[];
    networkSecurityPerimeters: never[];
    emailAddresses: string[];
    phoneNumbers: string[];
    serviceTags: string[];
  };
}

/** A seeded access rule: the writable properties of NspAccessRule, plus the profile it lives in. */
export const seedAccessRuleSchema = z.strictObject({
  name: z.string().min(1),
  /** One of the perimeter's profiles (any case); default its first. */
  profile: z.string().min(1).optional(),
  direction: z.enum(['Inbound', 'Outbound']),
  addressPrefixes: z.array(z.string()).optional(),
  subscriptions: z.array(z.strictObject({ id: z.string().min(1) })).optional(),
  fullyQualifiedDomainNames: z.array(z.string()).optional(),
});

export type SeedAccessRule = z.infer<typeof seedAccessRuleSchema>;

const SUBSCRIPTION = /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bad(code: string, message: string): ArmFailure {
  return new ArmFailure(400, code, message);
}

function strings(raw: unknown, path: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) throw bad('InvalidRequestContent', `${path} must be an array of strings.`);
  return raw as string[];
}

/** IPv4 or IPv6 with an explicit length: the API calls them prefixes, and every example writes one. */
function checkPrefix(p: string, i: number): string {
  const family = p.includes('/') ? cidrFamily(p) : 'invalid';
  if (family === 'invalid') throw bad('InvalidAddressPrefix', `Invalid value found at properties.addressPrefixes[${i}]: '${p}' is not a valid IPv4 or IPv6 address prefix (a.b.c.d/n or x::/n).`);
  return p;
}

/**
 * Checks a PUT body (`{ properties: {...} }`) and returns the rule as stored. The types the
 * spec marks "currently unavailable for use" (service tags, e-mail addresses, phone numbers)
 * are refused, as are inbound FQDNs, outbound prefixes or subscriptions, and an inbound rule
 * mixing prefixes with subscriptions: every client Microsoft offers writes one source type per
 * rule.
 */
export function checkAccessRule(name: string, body: unknown): AccessRuleRecord {
  const props = isRecord(body) ? body.properties : undefined;
  if (!isRecord(props)) throw bad('InvalidRequestContent', 'The request content must be an access rule: { "properties": { "direction": ..., "addressPrefixes": [...] } }.');
  const rawDirection = props.direction ?? 'Inbound';
  const direction = (['Inbound', 'Outbound'] as const).find((d) => typeof rawDirection === 'string' && d.toLowerCase() === rawDirection.toLowerCase());
  if (direction === undefined) throw bad('InvalidAccessRuleDirection', `Invalid value found at properties.direction: ${JSON.stringify(rawDirection)} is not one of Inbound, Outbound.`);
  for (const field of ['serviceTags', 'emailAddresses', 'phoneNumbers'] as const) {
    if (strings(props[field], `properties.${field}`).length > 0) throw bad('AccessRuleTypeUnavailable', `properties.${field}: this access rule type is currently unavailable for use.`);
  }
  const addressPrefixes = strings(props.addressPrefixes, 'properties.addressPrefixes').map(checkPrefix);
  const fqdns = strings(props.fullyQualifiedDomainNames, 'properties.fullyQualifiedDomainNames');
  const rawSubs = props.subscriptions ?? [];
  if (!Array.isArray(rawSubs) || rawSubs.some((s) => !isRecord(s) || typeof s.id !== 'string' || !SUBSCRIPTION.test(s.id))) {
    throw bad('InvalidRequestContent', 'properties.subscriptions must be [{ "id": "/subscriptions/<guid>" }, ...].');
  }
  const subscriptions = (rawSubs as { id: string }[]).map((s) => s.id);
  if (direction === 'Inbound') {
    if (fqdns.length > 0) throw bad('InvalidAccessRule', `Access rule ${name}: fullyQualifiedDomainNames are for outbound rules only.`);
    if (addressPrefixes.length > 0 && subscriptions.length > 0) throw bad('InvalidAccessRule', `Access rule ${name}: an inbound rule takes either addressPrefixes or subscriptions, not both.`);
    if (addressPrefixes.length === 0 && subscriptions.length === 0) throw bad('InvalidAccessRule', `Access rule ${name}: an inbound rule needs addressPrefixes or subscriptions.`);
  } else {
    if (addressPrefixes.length > 0 || subscriptions.length > 0) throw bad('InvalidAccessRule', `Access rule ${name}: addressPrefixes and subscriptions are for inbound rules only.`);
    if (fqdns.length === 0) throw bad('InvalidAccessRule', `Access rule ${name}: an outbound rule needs fullyQualifiedDomainNames.`);
  }
  return { name, direction, addressPrefixes, subscriptions, fullyQualifiedDomainNames: fqdns };
}

/** A seeded rule goes through the same checks as a PUT. */
export function accessRuleFromSeed(seed: SeedAccessRule): AccessRuleRecord {
  const { name, profile: _, ...properties } = seed;
  return checkAccessRule(name, { properties });
}

function elements(r: AccessRuleRecord): number {
  return r.addressPrefixes.length + r.subscriptions.length + r.fullyQualifiedDomainNames.length;
}

/** Refuses a profile whose rules, as they would be, hold more elements in one direction than the limit. */
export function checkElementLimit(profileId: string, rules: readonly AccessRuleRecord[]): void {
  for (const direction of ['Inbound', 'Outbound'] as const) {
    const total = rules.filter((r) => r.direction === direction).reduce((n, r) => n + elements(r), 0);
    if (total > MAX_RULE_ELEMENTS) {
      throw bad(
        'NspRuleElementLimitExceeded',
        `The ${direction.toLowerCase()} access rules of profile ${profileId} would hold ${total} rule elements; a profile takes at most ${MAX_RULE_ELEMENTS} per direction.`,
      );
    }
  }
}

export function accessRuleJson(profileId: string, r: AccessRuleRecord): AccessRuleResourceJson {
  return {
    id: `${profileId}/accessRules/${r.name}`,
    name: r.name,
    type: 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules',
    properties: {
      provisioningState: 'Succeeded',
      direction: r.direction,
      addressPrefixes: [...r.addressPrefixes],
      fullyQualifiedDomainNames: [...r.fullyQualifiedDomainNames],
      subscriptions: r.subscriptions.map((id) => ({ id })),
      networkSecurityPerimeters: [],
      emailAddresses: [],
      phoneNumbers: [],
      serviceTags: [],
    },
  };
}

/** Checks a perimeter's seeded access rules; by canonical profile name, every profile present. */
export function buildProfileRules(perimeterId: string, profiles: readonly string[], seeds: readonly SeedAccessRule[], checkName: (name: string, what: string) => void): Record<string, AccessRuleRecord[]> {
  const byProfile: Record<string, AccessRuleRecord[]> = Object.fromEntries(profiles.map((p) => [p, []]));
  seeds.forEach((seed, i) => {
    try {
      const profile = seed.profile === undefined ? profiles[0]! : profiles.find((p) => p.toLowerCase() === seed.profile!.toLowerCase());
      if (profile === undefined) throw new Error(`profile ${JSON.stringify(seed.profile)} is not one of the perimeter's profiles (${profiles.join(', ')})`);
      checkName(seed.name, 'access rule');
      if (byProfile[profile]!.some((r) => r.name.toLowerCase() === seed.name.toLowerCase())) throw new Error(`profile ${profile} already has an access rule named ${seed.name}`);
      byProfile[profile]!.push(accessRuleFromSeed(seed));
    } catch (e) {
      throw new Error(`accessRules[${i}]: ${(e as Error).message}`);
    }
  });
  for (const p of profiles) checkElementLimit(`${perimeterId}/profiles/${p}`, byProfile[p]!);
  return byProfile;
}

/** One profile's access rules as the ARM routes read and write them. */
export interface ProfileRules {
  /** The profile's resource ID, its name as the perimeter spells it. */
  readonly id: string;
  list(): AccessRuleResourceJson[];
  get(rule: string): AccessRuleResourceJson | undefined;
  /** Adds the rule or replaces the one of that name (any case, keeping its spelling); the limit applies to the result. */
  put(rule: string, body: unknown): { created: boolean; rule: AccessRuleResourceJson };
  /** Whether there was such a rule. */
  remove(rule: string): boolean;
}

export function profileRules(id: string, rules: () => readonly AccessRuleRecord[], replace: (rules: AccessRuleRecord[]) => void): ProfileRules {
  const find = (name: string): AccessRuleRecord | undefined => rules().find((r) => r.name.toLowerCase() === name.toLowerCase());
  const byName = (a: AccessRuleRecord, b: AccessRuleRecord): number => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1);
  return {
    id,
    list: () => [...rules()].sort(byName).map((r) => accessRuleJson(id, r)),
    get: (name) => {
      const r = find(name);
      return r === undefined ? undefined : accessRuleJson(id, r);
    },
    put: (name, body) => {
      const existing = find(name);
      const record = checkAccessRule(existing?.name ?? name, body);
      const next = [...rules().filter((r) => r !== existing), record];
      checkElementLimit(id, next);
      replace(next);
      return { created: existing === undefined, rule: accessRuleJson(id, record) };
    },
    remove: (name) => {
      const existing = find(name);
      if (existing !== undefined) replace(rules().filter((r) => r !== existing));
      return existing !== undefined;
    },
  };
}
