import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { validateCidrList } from '../core/allowlist.js';
import { TagwallError } from '../core/errors.js';
import { parseResourceId, resourceKey, type ResourceRef } from '../core/resource-id.js';
import { parseVaultId } from '../core/vault-id.js';
import { FIREWALL_KINDS, kindOf } from '../targets/kinds.js';
import type { FirewallFacts } from '../targets/kind.js';
import type { Guards } from '../core/target-plan.js';
import { validateWebhookUrl } from '../alerts/webhook.js';
import type { PacingSettings } from '../arm/pacing.js';
import { ARM_ENDPOINTS, configSchema, type ParsedConfig, type profileSchema } from './schema.js';
import { placeholderProblem } from './placeholders.js';
import { configIssueLines } from './suggest.js';
import { temporaryProblems, splitExtra } from './temporary.js';
import type { TemporaryEntry } from '../core/temporary.js';

/**
 * What a checked configuration is: every problem is reported at once, each with its JSON path,
 * before any request. The schema itself is in schema.ts; where the input comes from is
 * load.ts.
 */

// Imported from here by the rest of tagwall since before the schema had its own module.
export { ARM_ENDPOINTS, configSchema, GUARD_DEFAULTS, type RawConfig } from './schema.js';

export interface TargetConfig {
  readonly resource: ResourceRef;
  /** The firewall kind the resource ID names, and what tagwall knows of it. */
  readonly kind: FirewallFacts;
  /** How a single address is written, and the entries special to the kind (from its facts). */
  readonly singleAddress: 'bare' | 'cidr';
  /** The kind's rule shape: `range` for start/end rules (absent: CIDR blocks). */
  readonly ruleShape?: 'cidr' | 'range';
  readonly special: readonly string[];
  readonly maxVirtualNetworkRules?: number;
  readonly ipListIsSwitch?: boolean;
  readonly writeNote?: string;
  readonly select: readonly string[];
  /** The permanent extras; the dated ones are `temporary`. */
  readonly extra: readonly string[];
  /** Extras allowed until a moment (`extra: [{"cidr", "until"}]`); absent when there are none. */
  readonly temporary?: readonly TemporaryEntry[];
  readonly exclude: readonly string[];
  readonly maxRules: number;
  readonly reserveRules: number;
  readonly mode: 'merge' | 'authoritative';
  readonly policy: 'sync' | 'add-only';
  readonly split31: boolean;
  readonly enforceDeny: boolean;
  readonly expectBypass?: string;
  readonly adopt: 'first-run' | 'never';
  readonly skipWhenPerimeterEnforced: boolean;
  /** The run's guards, with `defaults.guards` and the target's own on top. */
  readonly guards: Guards;
  readonly widen: { readonly prefer: 'none' | 'azure'; readonly outsideAzureWeight: number };
  /** Absent: `least` (see TargetSettings.churn). */
  readonly churn?: 'least' | 'tie-break';
  /** Absent: 0 (see TargetSettings.churnTolerance). */
  readonly churnTolerance?: number;
  /** The profile a discovered target was given; absent for an explicit target. */
  readonly profile?: string;
}

export interface DiscoverConfig extends NonNullable<ParsedConfig['discover']> {
  /** The kinds' facts, from `types` (or every kind Resource Graph can describe). */
  readonly resourceTypes: readonly FirewallFacts[];
}

export interface TagwallConfig extends Omit<ParsedConfig, 'targets' | 'arm' | 'profiles' | 'discover'> {
  readonly arm: { readonly endpoint: string; readonly pacing: Required<PacingSettings> };
  /** Explicit targets; discovered ones are added at run time (src/fleet/discovery.ts). */
  readonly targets: readonly TargetConfig[];
  /** By lowercased name. */
  readonly profiles: ReadonlyMap<string, { readonly name: string; readonly settings: z.output<typeof profileSchema> }>;
  readonly discover?: DiscoverConfig;
  /** The schema's output, for building discovered targets the way explicit ones were built. */
  readonly parsed: ParsedConfig;
  /** Folder relative paths were resolved against. */
  readonly baseDir: string;
}

/**
 * Checks the schema cannot express: vault IDs, CIDRs, duplicate vaults, the webhook URL. Runs
 * on the raw input too, so a schema error elsewhere does not hide these.
 */
function semanticProblems(raw: unknown): string[] {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null) return problems;
  const r = raw as { targets?: unknown; alerts?: { webhook?: { url?: unknown } } };
  const seen = new Map<string, number>();
  (Array.isArray(r.targets) ? r.targets : []).forEach((t: unknown, i) => {
    if (typeof t !== 'object' || t === null) return;
    const target = t as { resource?: unknown; vault?: unknown; extra?: unknown; exclude?: unknown };
    const field = target.resource !== undefined ? 'resource' : 'vault';
    if (target.resource !== undefined && target.vault !== undefined) problems.push(`targets[${i}]: give either resource or vault, not both`);
    else if (target.resource === undefined && target.vault === undefined) problems.push(`targets[${i}]: needs resource (the firewall's resource ID) or vault (a Key Vault's)`);
    const id = target[field];
    const placeholder = typeof id === 'string' ? placeholderProblem(id) : undefined;
    if (placeholder !== undefined) problems.push(`targets[${i}].${field}: ${placeholder}`);
    else if (typeof id === 'string') {
      try {
        const ref = field === 'vault' ? parseVaultId(id) : parseResourceId(id);
        kindOf(ref);
        const key = resourceKey(ref);
        if (seen.has(key)) problems.push(`targets[${i}].${field}: the same resource is already targets[${seen.get(key)}]; one resource needs one target`);
        else seen.set(key, i);
      } catch (e) {
        problems.push(`targets[${i}].${field}: ${(e as Error).message}`);
      }
    }
    for (const kind of ['extra', 'exclude'] as const) {
      const list = target[kind];
      if (!Array.isArray(list)) continue;
      for (const p of validateCidrList(kind, list.filter((x): x is string => typeof x === 'string'))) problems.push(`targets[${i}].${kind}: ${p}`);
    }
    problems.push(...temporaryProblems(target.extra, `targets[${i}].extra`));
  });
  const profiles = (raw as { profiles?: unknown }).profiles;
  if (typeof profiles === 'object' && profiles !== null && !Array.isArray(profiles)) {
    for (const [name, profile] of Object.entries(profiles)) {
      if (typeof profile !== 'object' || profile === null) continue;
      for (const kind of ['extra', 'exclude'] as const) {
        const list = (profile as Record<string, unknown>)[kind];
        if (!Array.isArray(list)) continue;
        for (const p of validateCidrList(kind, list.filter((x): x is string => typeof x === 'string'))) problems.push(`profiles.${name}.${kind}: ${p}`);
      }
      problems.push(...temporaryProblems((profile as Record<string, unknown>).extra, `profiles.${name}.extra`));
    }
  }
  const url = r.alerts?.webhook?.url;
  if (typeof url === 'string') {
    try {
      validateWebhookUrl(url);
    } catch (e) {
      problems.push(`alerts.webhook.url: ${(e as Error).message}`);
    }
  }
  return problems;
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  return o === undefined ? {} : (Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>);
}

export function invalid(source: string, problems: readonly string[]): TagwallError {
  return new TagwallError('CONFIG_INVALID', `${source}: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}`, { details: problems });
}

type TargetFields = z.output<typeof profileSchema>;

/** `discover.types` as kinds: each a kind's name or resource type, and one Resource Graph can find. */
function discoverTypes(types: readonly string[] | undefined, problems: string[]): FirewallFacts[] {
  const discoverable = FIREWALL_KINDS.filter((k) => k.graph !== undefined);
  if (types === undefined) return discoverable;
  const picked: FirewallFacts[] = [];
  types.forEach((t, i) => {
    const kind = discoverable.find((k) => k.kind === t.toLowerCase() || k.resourceType.toLowerCase() === t.toLowerCase());
    if (kind === undefined) {
      problems.push(`discover.types[${i}]: ${JSON.stringify(t)} is not a kind discovery can find; use one of ${discoverable.map((k) => `${k.kind} (${k.resourceType})`).join(', ')}`);
    } else if (!picked.includes(kind)) picked.push(kind);
  });
  return picked;
}

/**
 * One target's settings: the run's guards, then `defaults`, then the target's own (or its
 * profile's) on top. Problems that depend on the kind (its limit, merge-only) go to `problems`
 * under `path`; the target is still returned so every problem is found in one pass.
 */
function buildTarget(c: ParsedConfig, own: TargetFields, resource: ResourceRef, kind: FirewallFacts, path: string, problems: string[]): TargetConfig {
  const { guards: defaultGuards, widen: defaultWiden, ...defaults } = c.defaults;
  const { guards: ownGuards, widen: ownWiden, ...fields } = own;
  const settings = { ...defaults, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) } as typeof defaults & typeof fields;
  const { minDiscovered: _runOnly, ...runGuards } = c.guards;
  const guards = { ...runGuards, ...stripUndefined(defaultGuards), ...stripUndefined(ownGuards) };
  const widen = ownWiden ?? defaultWiden ?? { prefer: 'none' as const, outsideAzureWeight: 16 };
  const maxRules = settings.maxRules ?? kind.maxRules;
  const ceiling = kind.maxRulesCeiling ?? kind.maxRules;
  if (maxRules > ceiling) problems.push(`${path}.maxRules: ${maxRules} is more than a ${kind.title} takes (${ceiling})`);
  if (settings.reserveRules >= maxRules) problems.push(`${path}: reserveRules (${settings.reserveRules}) must be less than maxRules (${maxRules})`);
  if (kind.mergeOnly === true && settings.mode === 'authoritative') {
    problems.push(`${path}.mode: a ${kind.title} takes mode "merge" only: tagwall changes its own rules there and never the others'`);
  }
  return {
    ...settings,
    maxRules,
    // A kind that refuses /31 gets one as its two addresses, whatever the target says.
    split31: settings.split31 || !kind.allows31,
    singleAddress: kind.singleAddress,
    ...(kind.ruleShape === 'range' ? { ruleShape: 'range' as const } : {}),
    special: kind.special,
    ...(kind.maxVirtualNetworkRules === undefined ? {} : { maxVirtualNetworkRules: kind.maxVirtualNetworkRules }),
    ...(kind.ipListIsSwitch === true ? { ipListIsSwitch: true } : {}),
    ...(kind.writeNote === undefined ? {} : { writeNote: kind.writeNote }),
    guards,
    widen,
    resource,
    kind,
    select: own.select,
    ...splitExtra(own.extra),
    exclude: own.exclude,
  };
}

/**
 * The target a discovered firewall gets from its profile (named by its tag's value, any case).
 * Throws PROFILE_OUT_OF_SCOPE when the profile's scope does not cover the firewall, and
 * PROFILE_UNSUITABLE when the profile cannot apply to this kind (a maxRules above its limit).
 */
export function profileTarget(config: TagwallConfig, profile: string, resource: ResourceRef, kind: FirewallFacts): TargetConfig {
  const entry = config.profiles.get(profile.toLowerCase());
  if (entry === undefined) throw new TagwallError('UNKNOWN_PROFILE', `no profile named ${JSON.stringify(profile)}`, { values: { profile } });
  const { scope, ...settings } = entry.settings;
  // Checked before anything else about the firewall: a tag alone must not reach past the scope.
  if (scope !== undefined && !inProfileScope(scope, resource)) {
    const where = [...(scope.subscriptions ?? []).map((s) => `subscription ${s}`), ...(scope.resourceGroups ?? []).map((g) => `resource group ${g}`)].join(', ');
    throw new TagwallError('PROFILE_OUT_OF_SCOPE', `profile ${entry.name} may be used only in ${where}; ${resource.subscriptionId}/${resource.resourceGroup} is outside its scope`, { values: { profile: entry.name } });
  }
  const problems: string[] = [];
  const target = buildTarget(config.parsed, settings, resource, kind, `profiles.${entry.name}`, problems);
  if (problems.length > 0) {
    throw new TagwallError('PROFILE_UNSUITABLE', `profile ${entry.name} cannot protect a ${kind.title}: ${problems.join('; ')}`, { values: { profile: entry.name }, details: problems });
  }
  return { ...target, profile: entry.name };
}

/** Whether a firewall's subscription or resource group is one a profile's scope lists (IDs compared in any case). */
export function inProfileScope(scope: NonNullable<TargetFields['scope']>, resource: ResourceRef): boolean {
  const sub = resource.subscriptionId.toLowerCase();
  const group = `${sub}/${resource.resourceGroup.toLowerCase()}`;
  return (scope.subscriptions ?? []).some((s) => s.toLowerCase() === sub) || (scope.resourceGroups ?? []).includes(group);
}

/** Validates and resolves a configuration object; throws CONFIG_INVALID listing every problem. */
export function parseConfig(raw: unknown, options: { baseDir: string; source: string }): TagwallConfig {
  const parsed = configSchema.safeParse(raw);
  const problems = [...(parsed.success ? [] : configIssueLines(configSchema, parsed.error.issues)), ...semanticProblems(raw)];
  if (!parsed.success) throw invalid(options.source, problems);
  const c = parsed.data;
  if (c.targets.length === 0 && c.discover === undefined) problems.push('targets: at least one target is needed, or discover to find them by tag');
  const targets: TargetConfig[] = [];
  c.targets.forEach((t, i) => {
    let resource: ResourceRef;
    let kind: FirewallFacts;
    try {
      resource = t.resource !== undefined ? parseResourceId(t.resource) : parseVaultId(t.vault ?? '');
      kind = kindOf(resource);
    } catch {
      return; // already reported by semanticProblems
    }
    const { resource: _r, vault: _v, ...own } = t;
    targets.push(buildTarget(c, own, resource, kind, `targets[${i}]`, problems));
  });
  const profiles = new Map<string, { name: string; settings: TargetFields }>();
  for (const [name, settings] of Object.entries(c.profiles)) {
    const key = name.toLowerCase();
    if (key === 'off') problems.push(`profiles.${name}: "off" is reserved: a firewall tagged off is opted out`);
    else if (profiles.has(key)) problems.push(`profiles.${name}: the same name as profiles.${profiles.get(key)!.name} (profile names compare case-insensitively, as tags do)`);
    else profiles.set(key, { name, settings });
    if (settings.reserveRules !== undefined && settings.maxRules !== undefined && settings.reserveRules >= settings.maxRules) {
      problems.push(`profiles.${name}: reserveRules (${settings.reserveRules}) must be less than maxRules (${settings.maxRules})`);
    }
  }
  const discover = c.discover === undefined ? undefined : { ...c.discover, resourceTypes: discoverTypes(c.discover.types, problems) };
  if (problems.length > 0) throw invalid(options.source, problems);
  const resolvePath = (p: string) => (isAbsolute(p) ? p : resolve(options.baseDir, p));
  const serviceTags = c.serviceTags.source === 'file' ? { ...c.serviceTags, path: resolvePath(c.serviceTags.path) }
    : 'cacheDir' in c.serviceTags && c.serviceTags.cacheDir !== undefined ? { ...c.serviceTags, cacheDir: resolvePath(c.serviceTags.cacheDir) }
    : c.serviceTags;
  const state = c.state.store === 'file' ? { ...c.state, path: resolvePath(c.state.path) } : c.state;
  const endpoint = (c.arm.endpoint ?? ARM_ENDPOINTS[c.cloud]).replace(/\/+$/, '');
  const { discover: _d, ...rest } = c;
  return { ...rest, serviceTags, state, arm: { endpoint, pacing: c.arm.pacing }, targets, profiles, ...(discover === undefined ? {} : { discover }), parsed: c, baseDir: options.baseDir };
}
