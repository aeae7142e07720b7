import { TagwallError } from '../core/errors.js';
import { parseCidr } from '../core/ip-text.js';
import { cidrRange, formatAddress } from '../core/ipv4.js';
import type { FleetSeedRequest, FleetSeedResult } from './fleet-model.js';
import type { SeedVault } from './model.js';
import { seedResources } from './resources.js';
import type { EmulatorState } from './state.js';

/**
 * A whole fleet in one call: M subscriptions, N firewalls of one kind (or of several taken in
 * turn, `kinds`) spread over them round-robin, the
 * opt-in tag's values round-robin over the tagged ones, and rules drawn from a seeded PRNG, so
 * the same request always builds the same fleet. Every resource goes through its store's own
 * checks, as any seed does. Rules are public IPv4 only, one per distinct /24, so no two overlap
 * and no kind refuses them; each resource takes a run of them from one shared pool.
 */

interface FleetKind {
  readonly provider: string;
  readonly prefix: string;
  readonly maxRules: number;
  /** The seed body of one resource (beyond `id` and `tags`). */
  body(rules: readonly string[], defaultAction: 'Allow' | 'Deny'): Record<string, unknown>;
}

/** A pool rule (a CIDR block, or a single address bare) as its first and last address. */
function startEnd(rule: string): { startIpAddress: string; endIpAddress: string } {
  const r = cidrRange(parseCidr(rule));
  return { startIpAddress: formatAddress(r.start), endIpAddress: formatAddress(r.end) };
}

const cidrForm = (rule: string) => (rule.includes('/') ? rule : `${rule}/32`);

/** A start/end kind whose rules are {startIpAddress, endIpAddress} children, with its 0.0.0.0 entry under Azure's name. */
function namedRangeKind(provider: string, prefix: string, maxRules: number, azureServices: string): FleetKind {
  return {
    provider,
    prefix,
    maxRules,
    body: (rules) => ({
      firewallRules: [{ name: azureServices, startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }, ...rules.map((r, j) => ({ name: `rule-${j + 1}`, ...startEnd(r) }))],
    }),
  };
}

const KINDS: Readonly<Record<string, FleetKind>> = {
  keyvault: {
    provider: 'Microsoft.KeyVault/vaults',
    prefix: 'kv',
    maxRules: 1000,
    body: (rules, defaultAction) => ({ networkAcls: { defaultAction, bypass: 'AzureServices', ipRules: rules.map((value) => ({ value })) } }),
  },
  storage: {
    provider: 'Microsoft.Storage/storageAccounts',
    prefix: 'st',
    maxRules: 400,
    body: (rules, defaultAction) => ({ properties: { networkAcls: { defaultAction, bypass: 'AzureServices', ipRules: rules.map((value) => ({ value, action: 'Allow' })) } } }),
  },
  cognitiveservices: {
    provider: 'Microsoft.CognitiveServices/accounts',
    prefix: 'ai',
    maxRules: 100,
    body: (rules, defaultAction) => ({ properties: { networkAcls: { defaultAction, ipRules: rules.map((value) => ({ value })) } } }),
  },
  search: {
    provider: 'Microsoft.Search/searchServices',
    prefix: 'srch',
    maxRules: 100,
    body: (rules) => ({ properties: { networkRuleSet: { ipRules: rules.map((value) => ({ value })) } } }),
  },
  cosmosdb: {
    provider: 'Microsoft.DocumentDB/databaseAccounts',
    prefix: 'cosmos',
    maxRules: 1000,
    body: (rules) => ({ properties: { ipRules: rules.map((ipAddressOrRange) => ({ ipAddressOrRange })) } }),
  },
  // Start/end rules in a child Resource Graph does not describe (the kind's graph: 'tags'); every
  // server also has the "Allow Azure services" entry, as most do. Up to 128 rules besides it.
  sql: {
    provider: 'Microsoft.Sql/servers',
    prefix: 'sql',
    maxRules: 127,
    body: (rules) => ({
      firewallRules: [{ name: 'AllowAllWindowsAzureIps', startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }, ...rules.map((r, j) => ({ name: `rule-${j + 1}`, ...startEnd(r) }))],
    }),
  },
  // The start/end kinds written one rule at a time (graph: 'tags' too). The servers and the
  // workspace have their "Allow Azure services" entry (named as the portal names it), as most do.
  'postgresql-flexible': namedRangeKind('Microsoft.DBforPostgreSQL/flexibleServers', 'pg', 127, 'AllowAllAzureServicesAndResourcesWithinAzureIps'),
  'mysql-flexible': namedRangeKind('Microsoft.DBforMySQL/flexibleServers', 'mysql', 127, 'AllowAllAzureServicesAndResourcesWithinAzureIps'),
  synapse: namedRangeKind('Microsoft.Synapse/workspaces', 'syn', 127, 'AllowAllWindowsAzureIps'),
  // A cache's rules are {startIP, endIP}, named with letters, digits and underscores; it has no
  // Azure-services entry, and rules (it has some whenever `rules` > 0) close it to everyone else.
  redis: {
    provider: 'Microsoft.Cache/redis',
    prefix: 'redis',
    maxRules: 100,
    body: (rules) => ({ firewallRules: rules.map((r, j) => ({ name: `rule_${j + 1}`, startIP: startEnd(r).startIpAddress, endIP: startEnd(r).endIpAddress })) }),
  },
  // The list is the switch: an empty list leaves the API server open, whatever defaultAction asks.
  aks: {
    provider: 'Microsoft.ContainerService/managedClusters',
    prefix: 'aks',
    maxRules: 200,
    body: (rules) => ({ properties: { apiServerAccessProfile: { authorizedIPRanges: rules.map(cidrForm) } } }),
  },
  containerapp: {
    provider: 'Microsoft.App/containerApps',
    prefix: 'ca',
    maxRules: 100,
    body: (rules) => ({
      properties: {
        configuration: {
          ingress: { external: true, targetPort: 8080, ipSecurityRestrictions: rules.map((r, j) => ({ name: `rule-${j + 1}`, ipAddressRange: cidrForm(r), action: 'Allow' })) },
        },
      },
    }),
  },
};

export const FLEET_KINDS = Object.keys(KINDS);

/** Mulberry32: small, fast and good enough to spread test data; not for anything secret. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * First octets that hold no reserved block: RFC 1918, loopback, link-local, shared, documentation,
 * benchmarking, multicast and reserved space are all in the octets left out, whole.
 */
const PUBLIC_FIRST_OCTETS = Array.from({ length: 223 }, (_, i) => i + 1).filter((o) => ![10, 100, 127, 169, 172, 192, 198, 203].includes(o));

/** Distinct rules the fleet's resources draw from, each a window of consecutive ones (so none repeats within a resource). */
const POOL_SIZE = 8192;

function rulePool(random: () => number): string[] {
  const blocks = new Set<number>();
  const rules: string[] = [];
  while (rules.length < POOL_SIZE) {
    const block = PUBLIC_FIRST_OCTETS[Math.floor(random() * PUBLIC_FIRST_OCTETS.length)]! * 65536 + Math.floor(random() * 65536);
    if (blocks.has(block)) continue;
    blocks.add(block);
    const base = `${block >>> 16}.${(block >>> 8) & 255}.${block & 255}`;
    // /24 to /30, or a single address written bare (as Storage wants it).
    const bits = 24 + Math.floor(random() * 8);
    if (bits > 30) rules.push(`${base}.${1 + Math.floor(random() * 254)}`);
    else rules.push(`${base}.${(Math.floor(random() * 256) >>> (32 - bits)) << (32 - bits)}/${bits}`);
  }
  return rules;
}

function subscriptionIds(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => {
    const first = `${prefix}${(i + 1).toString(16).padStart(8 - prefix.length, '0')}`.slice(-8);
    return `${first.toLowerCase()}-f1ee-4000-8000-${(i + 1).toString(16).padStart(12, '0')}`;
  });
}

export function seedFleet(state: EmulatorState, request: FleetSeedRequest): FleetSeedResult {
  // A mixed fleet takes its kinds in turn, resource by resource.
  const kindNames = (request.kinds ?? [request.kind ?? 'keyvault']).map((k) => k.toLowerCase());
  const unknown = kindNames.filter((k) => KINDS[k] === undefined);
  if (unknown.length > 0) throw new TagwallError('EMULATOR_SEED_INVALID', `fleet: kind ${unknown.join(', ')} is not one of ${FLEET_KINDS.join(', ')}`);
  const random = prng(request.prngSeed ?? 20240601);
  const subscriptions = subscriptionIds(request.subscriptions, request.subscriptionIdPrefix ?? '');
  const group = request.resourceGroup ?? 'rg-fleet';
  const defaultAction = request.defaultAction ?? 'Deny';
  const average = request.rules ?? 0;
  const untagged = request.untagged ?? 0;
  const pool = rulePool(random);
  const seeds: (Record<string, unknown> & { id: string })[] = [];
  const vaultSeeds: (Record<string, unknown> & { id: string })[] = [];
  const resourceSeeds: (Record<string, unknown> & { id: string })[] = [];
  for (let i = 0; i < request.vaults + untagged; i += 1) {
    const kindName = kindNames[i % kindNames.length]!;
    const kind = KINDS[kindName]!;
    const tagged = i < request.vaults && request.tag !== undefined;
    const count = average === 0 ? 0 : Math.min(kind.maxRules, Math.round(average * (0.5 + random())));
    const name = `${kind.prefix}${tagged || request.tag === undefined ? 'f' : 'u'}${String(i).padStart(6, '0')}`;
    const id = `/subscriptions/${subscriptions[i % subscriptions.length]}/resourceGroups/${group}/providers/${kind.provider}/${name}`;
    const tags = tagged ? { [request.tag!.name]: request.tag!.values[i % request.tag!.values.length]! } : {};
    const start = Math.floor(random() * POOL_SIZE);
    const rules = Array.from({ length: count }, (_, j) => pool[(start + j) % POOL_SIZE]!);
    const seed = { id, tags, ...kind.body(rules, defaultAction) };
    seeds.push(seed);
    (kindName === 'keyvault' ? vaultSeeds : resourceSeeds).push(seed);
  }
  if (vaultSeeds.length > 0) state.vaults.seed({ vaults: vaultSeeds as unknown as SeedVault[] }, state.settings.oldApi);
  if (resourceSeeds.length > 0) {
    const { built, problems } = seedResources(resourceSeeds);
    if (problems.length > 0) throw new TagwallError('EMULATOR_SEED_INVALID', 'the fleet seed has invalid resources', { details: problems.slice(0, 20) });
    for (const r of built) state.resources.set(r);
  }
  state.directory.addSubscriptions(subscriptions);
  return { subscriptions, ids: seeds.map((s) => s.id), tagged: request.tag === undefined ? 0 : request.vaults, untagged };
}
