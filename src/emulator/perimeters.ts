import { createHash } from 'node:crypto';
import { TagwallError } from '../core/errors.js';
import { buildProfileRules, profileRules, type AccessRuleRecord, type ProfileRules } from './access-rules.js';
import { ArmFailure } from './http.js';
import type {
  AccessMode,
  AssociationRequest,
  AssociationResourceJson,
  DissociationRequest,
  PerimeterResourceJson,
  PerimeterStateJson,
  SeedAssociation,
  SeedPerimeter,
} from './model.js';

/**
 * The emulator's Network Security Perimeters: each with its profiles, its resource
 * associations and each profile's access rules. Over ARM, perimeters and associations are
 * read-only (seeds and the control API write them, as tagwall only reads them); access rules
 * are written too, since a profile is a firewall tagwall keeps in step (access-rules.ts).
 */

const DEFAULT_LOCATION = 'westeurope';
const DEFAULT_PROFILE = 'defaultProfile';

const PERIMETER_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)\/?$/i;
/** Any ARM resource under a resource group: the associated side may be any onboarded kind. */
const RESOURCE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+(\/[^/]+\/[^/]+)*\/?$/i;
/** The SDK's pattern for perimeter names (parameters.js, networkSecurityPerimeterName); profiles and associations follow it too. */
const NAME = /^(?:[a-zA-Z0-9]+[a-zA-Z0-9_.-]*[a-zA-Z0-9_]+|[a-zA-Z0-9])$/;
const MAX_NAME = 80;

export interface PerimeterAddress {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

interface AssociationRecord {
  name: string;
  privateLinkResourceId: string;
  profile: string;
  accessMode: AccessMode;
}

interface PerimeterRecord {
  readonly address: PerimeterAddress;
  readonly resource: PerimeterResourceJson;
  readonly profiles: readonly string[];
  associations: AssociationRecord[];
  /** By the profile's name as `profiles` spells it. */
  readonly accessRules: Record<string, AccessRuleRecord[]>;
}

const lower = (s: string): string => s.toLowerCase();
const sameId = (a: string, b: string): boolean => lower(a).replace(/\/+$/, '') === lower(b).replace(/\/+$/, '');

function keyOf(a: PerimeterAddress): string {
  return lower(canonicalPerimeterId(a));
}

export function canonicalPerimeterId(a: PerimeterAddress): string {
  return `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.Network/networkSecurityPerimeters/${a.name}`;
}

export function parsePerimeterId(id: string): PerimeterAddress {
  const m = PERIMETER_ID.exec(id.trim());
  if (m === null) throw new Error(`${JSON.stringify(id)} is not a perimeter resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/networkSecurityPerimeters/<name>)`);
  const [, subscriptionId, resourceGroup, name] = m as unknown as [string, string, string, string];
  checkName(name, 'perimeter');
  return { subscriptionId, resourceGroup, name };
}

export function checkName(name: string, what: string): void {
  if (name.length > MAX_NAME || !NAME.test(name)) {
    throw new Error(`${JSON.stringify(name)} is not a valid ${what} name (1-${MAX_NAME} letters, digits, '_', '.', '-'; starting with a letter or digit)`);
  }
}

/** Stable across restarts, so a seeded perimeter keeps its GUID. */
function perimeterGuid(id: string): string {
  const h = createHash('sha256').update(lower(id)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function buildAssociation(raw: SeedAssociation, profiles: readonly string[], others: readonly AssociationRecord[]): AssociationRecord {
  if (!RESOURCE_ID.test(raw.privateLinkResourceId)) {
    throw new Error(`privateLinkResourceId ${JSON.stringify(raw.privateLinkResourceId)} is not an ARM resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>)`);
  }
  const name = raw.name ?? raw.privateLinkResourceId.replace(/\/+$/, '').split('/').at(-1)!;
  checkName(name, 'association');
  const profile = raw.profile === undefined ? profiles[0]! : profiles.find((p) => lower(p) === lower(raw.profile!));
  if (profile === undefined) throw new Error(`profile ${JSON.stringify(raw.profile)} is not one of the perimeter's profiles (${profiles.join(', ')})`);
  if (others.some((o) => lower(o.name) === lower(name))) throw new Error(`the perimeter already has an association named ${name}; give each a distinct name`);
  // Azure refuses a second association of one resource with the same perimeter.
  if (others.some((o) => sameId(o.privateLinkResourceId, raw.privateLinkResourceId))) {
    throw new Error(`${raw.privateLinkResourceId} is already associated with this perimeter`);
  }
  return { name, privateLinkResourceId: raw.privateLinkResourceId, profile, accessMode: raw.accessMode };
}

function buildPerimeter(seed: SeedPerimeter): PerimeterRecord {
  const address = parsePerimeterId(seed.id);
  const profiles = seed.profiles ?? [DEFAULT_PROFILE];
  profiles.forEach((p, i) => {
    checkName(p, 'profile');
    if (profiles.slice(0, i).some((q) => lower(q) === lower(p))) throw new Error(`profile ${p} is listed twice`);
  });
  const id = canonicalPerimeterId(address);
  const associations: AssociationRecord[] = [];
  (seed.associations ?? []).forEach((a, i) => {
    try {
      associations.push(buildAssociation(a, profiles, associations));
    } catch (e) {
      throw new Error(`associations[${i}]: ${(e as Error).message}`);
    }
  });
  const accessRules = buildProfileRules(id, profiles, seed.accessRules ?? [], checkName);
  return {
    address,
    resource: {
      id,
      name: address.name,
      type: 'Microsoft.Network/networkSecurityPerimeters',
      location: seed.location ?? DEFAULT_LOCATION,
      tags: { ...(seed.tags ?? {}) },
      properties: { provisioningState: 'Succeeded', perimeterGuid: perimeterGuid(id) },
    },
    profiles,
    associations,
    accessRules,
  };
}

/** Checks seeded perimeters without storing them; every problem is named by its index. */
export function buildPerimeters(seeds: readonly SeedPerimeter[]): { built: PerimeterRecord[]; problems: string[] } {
  const built: PerimeterRecord[] = [];
  const problems: string[] = [];
  seeds.forEach((p, i) => {
    try {
      const record = buildPerimeter(p);
      if (built.some((b) => keyOf(b.address) === keyOf(record.address))) throw new Error('this perimeter is seeded twice');
      built.push(record);
    } catch (e) {
      problems.push(`perimeters[${i}] (${p.id}): ${(e as Error).message}`);
    }
  });
  return { built, problems };
}

function profileId(perimeterId: string, profile: string): string {
  return `${perimeterId}/profiles/${profile}`;
}

function associationJson(p: PerimeterRecord, a: AssociationRecord): AssociationResourceJson {
  return {
    id: `${p.resource.id}/resourceAssociations/${a.name}`,
    name: a.name,
    type: 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations',
    properties: {
      provisioningState: 'Succeeded',
      privateLinkResource: { id: a.privateLinkResourceId },
      profile: { id: profileId(p.resource.id, a.profile) },
      accessMode: a.accessMode,
      hasProvisioningIssues: 'no',
    },
  };
}

const byId = <T extends { id: string }>(a: T, b: T): number => (lower(a.id) < lower(b.id) ? -1 : lower(a.id) > lower(b.id) ? 1 : 0);

export class PerimeterStore {
  readonly #perimeters = new Map<string, PerimeterRecord>();
  /** Lower-cased subscription IDs whose perimeter reads answer 403. */
  readonly #forbidden = new Set<string>();

  /** Adds or replaces perimeters built by `buildPerimeters`. */
  apply(built: readonly PerimeterRecord[]): void {
    for (const p of built) this.#perimeters.set(keyOf(p.address), structuredClone(p));
  }

  /** Drops every perimeter and lets every subscription read perimeters again. */
  clear(): void {
    this.#perimeters.clear();
    this.#forbidden.clear();
  }

  get size(): number {
    return this.#perimeters.size;
  }

  bySubscription(subscriptionId: string): PerimeterResourceJson[] {
    return this.#select((p) => lower(p.address.subscriptionId) === lower(subscriptionId));
  }

  byResourceGroup(subscriptionId: string, resourceGroup: string): PerimeterResourceJson[] {
    return this.#select((p) => lower(p.address.subscriptionId) === lower(subscriptionId) && lower(p.address.resourceGroup) === lower(resourceGroup));
  }

  get(address: PerimeterAddress): PerimeterResourceJson | undefined {
    const p = this.#perimeters.get(keyOf(address));
    return p === undefined ? undefined : structuredClone(p.resource);
  }

  /** Undefined when there is no such perimeter. */
  associations(address: PerimeterAddress): AssociationResourceJson[] | undefined {
    const p = this.#perimeters.get(keyOf(address));
    return p?.associations.map((a) => associationJson(p, a)).sort(byId);
  }

  snapshot(): PerimeterStateJson[] {
    return [...this.#perimeters.values()]
      .map((p) => ({
        perimeter: structuredClone(p.resource),
        profiles: p.profiles.map((name) => profileId(p.resource.id, name)),
        associations: p.associations.map((a) => associationJson(p, a)).sort(byId),
        accessRules: p.profiles.flatMap((name) => this.#rules(p, name).list()).sort(byId),
      }))
      .sort((a, b) => byId(a.perimeter, b.perimeter));
  }

  /**
   * Adds an association, or replaces the one of the same name, or (when no name is given)
   * the one of the same resource: that is how a test moves a vault from Learning to Enforced.
   */
  associate(request: AssociationRequest): { created: boolean; association: AssociationResourceJson } {
    const p = this.#require(request.perimeter);
    const { perimeter: _, ...raw } = request;
    const replaced =
      raw.name === undefined
        ? p.associations.find((a) => sameId(a.privateLinkResourceId, raw.privateLinkResourceId))
        : p.associations.find((a) => lower(a.name) === lower(raw.name!));
    const others = p.associations.filter((a) => a !== replaced);
    let record: AssociationRecord;
    try {
      record = buildAssociation({ ...raw, ...(raw.name === undefined && replaced !== undefined ? { name: replaced.name } : {}) }, p.profiles, others);
    } catch (e) {
      throw new ArmFailure(400, 'InvalidControlRequest', `association: ${(e as Error).message}`);
    }
    p.associations = [...others, record];
    return { created: replaced === undefined, association: associationJson(p, record) };
  }

  /** Returns how many associations were removed; 404 when there were none. */
  dissociate(request: DissociationRequest): number {
    const targets = request.perimeter === undefined ? [...this.#perimeters.values()] : [this.#require(request.perimeter)];
    let removed = 0;
    for (const p of targets) {
      const kept = p.associations.filter((a) => !sameId(a.privateLinkResourceId, request.privateLinkResourceId));
      removed += p.associations.length - kept.length;
      p.associations = kept;
    }
    if (removed === 0) throw new ArmFailure(404, 'ResourceNotFound', `${request.privateLinkResourceId} is not associated with ${request.perimeter ?? 'any emulated perimeter'}`);
    return removed;
  }

  /** A profile's access rules, or which of the perimeter and the profile is missing. */
  profile(address: PerimeterAddress, profile: string): ProfileRules | 'no-perimeter' | 'no-profile' {
    const p = this.#perimeters.get(keyOf(address));
    if (p === undefined) return 'no-perimeter';
    const name = p.profiles.find((n) => lower(n) === lower(profile));
    return name === undefined ? 'no-profile' : this.#rules(p, name);
  }

  setReadsForbidden(subscriptionId: string, forbidden: boolean): string[] {
    if (forbidden) this.#forbidden.add(lower(subscriptionId));
    else this.#forbidden.delete(lower(subscriptionId));
    return this.forbiddenSubscriptions();
  }

  readsForbidden(subscriptionId: string): boolean {
    return this.#forbidden.has(lower(subscriptionId));
  }

  forbiddenSubscriptions(): string[] {
    return [...this.#forbidden].sort();
  }

  #rules(p: PerimeterRecord, profile: string): ProfileRules {
    return profileRules(profileId(p.resource.id, profile), () => p.accessRules[profile] ?? [], (rules) => (p.accessRules[profile] = rules));
  }

  #select(keep: (p: PerimeterRecord) => boolean): PerimeterResourceJson[] {
    return [...this.#perimeters.values()]
      .filter(keep)
      .map((p) => structuredClone(p.resource))
      .sort(byId);
  }

  #require(id: string): PerimeterRecord {
    let address: PerimeterAddress;
    try {
      address = parsePerimeterId(id);
    } catch (e) {
      throw new ArmFailure(400, 'InvalidControlRequest', (e as Error).message);
    }
    const p = this.#perimeters.get(keyOf(address));
    if (p === undefined) throw new ArmFailure(404, 'ResourceNotFound', `no emulated perimeter ${id}`);
    return p;
  }
}

/** Seed problems, vault and perimeter alike, reported as one error the way vault seeds are. */
export function seedProblemsError(vaultProblems: readonly string[], perimeterProblems: readonly string[]): TagwallError {
  const what = [vaultProblems.length > 0 ? 'vaults' : '', perimeterProblems.length > 0 ? 'perimeters' : ''].filter((w) => w !== '').join(' and ');
  return new TagwallError('EMULATOR_SEED_INVALID', `the emulator seed has invalid ${what}`, { details: [...vaultProblems, ...perimeterProblems] });
}
