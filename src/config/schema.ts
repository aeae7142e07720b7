import { z } from 'zod';
import { CLOUDS, type CloudName } from '../core/service-tags.js';
import { PACING_DEFAULTS, pacingSchema } from '../arm/pacing-config.js';

/**
 * The one configuration schema, as zod sees it. Names are part of the contract: users' files
 * must keep working. What zod cannot check (resource IDs, CIDRs, a kind's own limits) and what
 * the parsed input becomes are in config.ts.
 */

export const ARM_ENDPOINTS: Record<CloudName, string> = {
  Public: 'https://management.azure.com',
  AzureGovernment: 'https://management.usgovcloudapi.net',
  China: 'https://management.chinacloudapi.cn',
};

const cloud = z.enum(CLOUDS);
const fraction = z.number().min(0).max(1);
const httpsUrl = z.url({ protocol: /^https$/ });

const guardFields = {
  maxRemovedFraction: fraction,
  maxSourceShrinkFraction: fraction,
  maxExcessAddresses: z.number().int().min(0),
  /** No widened rule wider than this prefix length; 0 turns the bound off. */
  maxWidenedPrefix: z.number().int().min(0).max(32),
  /** A widened rule wider than this is a WIDE_RULE warning. */
  warnWidenedPrefix: z.number().int().min(0).max(32),
};

export const GUARD_DEFAULTS = {
  maxRemovedFraction: 0.5,
  maxSourceShrinkFraction: 0.2,
  // A /12: the widest widening a security reviewer would wave through without looking.
  maxExcessAddresses: 1_048_576,
  maxWidenedPrefix: 12,
  warnWidenedPrefix: 16,
} as const;

/** Any subset of the guards, for defaults and per target. */
const partialGuards = z.strictObject({
  maxRemovedFraction: guardFields.maxRemovedFraction.optional(),
  maxSourceShrinkFraction: guardFields.maxSourceShrinkFraction.optional(),
  maxExcessAddresses: guardFields.maxExcessAddresses.optional(),
  maxWidenedPrefix: guardFields.maxWidenedPrefix.optional(),
  warnWidenedPrefix: guardFields.warnWidenedPrefix.optional(),
});

const widenSchema = z.strictObject({
  /** `azure`: minimise weighted excess, an excess address outside Azure's space costing outsideAzureWeight. */
  prefer: z.enum(['none', 'azure']).default('none'),
  outsideAzureWeight: z.number().min(1).max(1_000_000).default(16),
});

const targetSettings = {
  // The kind's own limit is checked once the target's kind is known.
  maxRules: z.number().int().min(1).max(100_000),
  reserveRules: z.number().int().min(0).max(999),
  mode: z.enum(['merge', 'authoritative']),
  policy: z.enum(['sync', 'add-only']),
  split31: z.boolean(),
  enforceDeny: z.boolean(),
  expectBypass: z.enum(['AzureServices', 'None']),
  adopt: z.enum(['first-run', 'never']),
  skipWhenPerimeterEnforced: z.boolean(),
  /** `least` (the default): of the covers with least excess, the one that changes fewest of the firewall's rules. */
  churn: z.enum(['least', 'tie-break']),
  /** With `churn: least`: extra excess addresses allowed to change fewer rules (0: none). */
  churnTolerance: z.number().int().min(0).max(2 ** 32),
};

const defaultsSchema = z.strictObject({
  /** Absent: each target's kind's own limit. */
  maxRules: targetSettings.maxRules.optional(),
  reserveRules: targetSettings.reserveRules.default(0),
  mode: targetSettings.mode.default('merge'),
  policy: targetSettings.policy.default('sync'),
  split31: targetSettings.split31.default(false),
  enforceDeny: targetSettings.enforceDeny.default(false),
  expectBypass: targetSettings.expectBypass.optional(),
  adopt: targetSettings.adopt.default('first-run'),
  skipWhenPerimeterEnforced: targetSettings.skipWhenPerimeterEnforced.default(false),
  churn: targetSettings.churn.optional(),
  churnTolerance: targetSettings.churnTolerance.optional(),
  guards: partialGuards.optional(),
  widen: widenSchema.optional(),
});

/**
 * An extra allowed until a moment (core/temporary.ts): `until` a date (the end of that day in UTC)
 * or a date and time with its offset. Both are checked in config.ts, as the plain CIDRs are.
 */
const temporaryExtra = z.strictObject({
  cidr: z.string().min(1),
  until: z.string().min(1),
  note: z.string().max(200).optional(),
});

const targetSchema = z.strictObject({
  /** Any supported firewall's resource ID; `vault` is the older name, for Key Vaults only. */
  resource: z.string().min(1).optional(),
  vault: z.string().min(1).optional(),
  select: z.array(z.string().min(1)).min(1),
  extra: z.array(z.union([z.string(), temporaryExtra])).default([]),
  exclude: z.array(z.string()).default([]),
  maxRules: targetSettings.maxRules.optional(),
  reserveRules: targetSettings.reserveRules.optional(),
  mode: targetSettings.mode.optional(),
  policy: targetSettings.policy.optional(),
  split31: targetSettings.split31.optional(),
  enforceDeny: targetSettings.enforceDeny.optional(),
  expectBypass: targetSettings.expectBypass.optional(),
  adopt: targetSettings.adopt.optional(),
  skipWhenPerimeterEnforced: targetSettings.skipWhenPerimeterEnforced.optional(),
  churn: targetSettings.churn.optional(),
  churnTolerance: targetSettings.churnTolerance.optional(),
  guards: partialGuards.optional(),
  widen: widenSchema.optional(),
});

const subscriptionId = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a subscription ID (a GUID)');

/** `<subscription>/<group>` or `/subscriptions/<subscription>/resourceGroups/<group>`; kept as `<subscription>/<group>` in lowercase. */
const RESOURCE_GROUP = /^(?:\/subscriptions\/)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\/(?:resourceGroups\/)?([^/]{1,90})\/?$/i;
const resourceGroupRef = z
  .string()
  .regex(RESOURCE_GROUP, 'a resource group: "<subscription-id>/<group>" or its resource ID "/subscriptions/<subscription-id>/resourceGroups/<group>"')
  .transform((s) => {
    const [, sub, group] = RESOURCE_GROUP.exec(s)!;
    return `${sub!.toLowerCase()}/${group!.toLowerCase()}`;
  });

/**
 * Where a profile may be used: a firewall tagged with it elsewhere is PROFILE_OUT_OF_SCOPE and
 * never written, since whoever may set a tag could otherwise point any firewall at any profile.
 * A firewall is in scope when its subscription or its resource group is listed.
 */
const profileScope = z
  .strictObject({
    subscriptions: z.array(subscriptionId).min(1).optional(),
    resourceGroups: z.array(resourceGroupRef).min(1).optional(),
  })
  .refine((s) => s.subscriptions !== undefined || s.resourceGroups !== undefined, 'name subscriptions, resourceGroups or both (leave scope out to allow the profile everywhere discovery looks)');

/** A profile: any per-target field, for every discovered firewall tagged with its name, and where it may be used. */
export const profileSchema = targetSchema.omit({ resource: true, vault: true }).extend({ scope: profileScope.optional() });

/** Profile names are tag values: compared case-insensitively, as Azure compares tags. */
const profileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a profile name: 1-63 letters, digits, dots, dashes and underscores, starting with a letter or digit');

/**
 * One object with both keys optional rather than a union of three: a union that fails reports
 * only "Invalid input" at `discover.scope`, hiding which subscription is not a GUID (and the app
 * settings could not name TAGWALL_DISCOVER_SUBSCRIPTIONS). The output is still one of the three.
 */
const discoverScope = z
  .strictObject({
    subscriptions: z.array(subscriptionId).min(1).max(10_000).optional(),
    managementGroups: z.array(z.string().min(1).max(90)).min(1).max(100).optional(),
  })
  .refine((s) => s.subscriptions === undefined || s.managementGroups === undefined, 'give subscriptions or managementGroups, not both')
  .transform((s): { subscriptions: string[] } | { managementGroups: string[] } | Record<string, never> =>
    s.subscriptions !== undefined ? { subscriptions: s.subscriptions } : s.managementGroups !== undefined ? { managementGroups: s.managementGroups } : {},
  );

const discoverSchema = z.strictObject({
  /** The opt-in tag: `<tag>=<profile>` protects a firewall with that profile, `<tag>=off` opts it out. */
  tag: z.string().min(1).max(512).default('tagwall'),
  /** `subscriptions`, `managementGroups`, or `{}` for every subscription the identity can read. */
  scope: discoverScope.default({}),
  /** Which kinds to look for, by kind name or resource type; absent: every kind Resource Graph can describe. */
  types: z.array(z.string().min(1)).min(1).optional(),
  /** Compare a digest of each firewall's rules (hash_sha256 in the query) instead of the rules themselves. */
  digest: z.boolean().default(true),
  /** A firewall judged from Resource Graph alone is still read directly at least this often. */
  recheckHours: z.number().positive().max(24 * 30).default(24),
  /** Resource Graph lags writes; a firewall written less than this ago is never judged from it. */
  lagMinutes: z.number().min(0).max(24 * 60).default(10),
});

const fanOutSchema = z.strictObject({
  /** The most vaults in one queue message; a shard holds vaults of one subscription. */
  shardSize: z.number().int().min(1).max(500).default(50),
  /** At most this many vaults needing work are reconciled inline in the timer, without the queue. */
  inlineBelow: z.number().int().min(0).max(10_000).default(50),
});

const fetchSettings = {
  allowedHosts: z.array(z.string().min(1)).optional(),
  maxStaleDays: z.number().positive().default(14),
  cacheDir: z.string().min(1).optional(),
};

const serviceTagsSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('file'), path: z.string().min(1) }),
  z.strictObject({ source: z.literal('download'), cloud: cloud.optional(), pageUrl: httpsUrl.optional(), probeBaseUrl: httpsUrl.nullable().optional(), ...fetchSettings }),
  z.strictObject({ source: z.literal('url'), url: httpsUrl, ...fetchSettings }),
  z.strictObject({ source: z.literal('arm'), location: z.string().min(1), subscriptionId: z.string().min(1) }),
]);

const stateSchema = z.discriminatedUnion('store', [
  z.strictObject({ store: z.literal('file'), path: z.string().min(1).default('.tagwall/state.json') }),
  z.strictObject({
    store: z.literal('blob'),
    connectionSetting: z.string().min(1).optional(),
    container: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, 'a blob container name: 3-63 lowercase letters, digits and dashes').default('tagwall'),
    accountUrl: httpsUrl.optional(),
  }),
]);

/**
 * This installation's owner ID, in the names of the rules it owns by name (a perimeter profile's
 * tagwall-<owner>-<n>). Lowercase, since ARM compares names case-insensitively (so `A` and `a`
 * would be one owner); at most 63 characters, so tagwall-<owner>-<n> stays within the 80 of an
 * access-rule name (azure-rest-api-specs networkSecurityPerimeter.json, AccessRuleNameParameter:
 * maxLength 80, letters, digits, '_', '.', '-') with room for an 8-digit <n>.
 */
const ownerId = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'an owner ID: 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit');

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  /** Absent: derived from where the state is kept (src/state/owner-id.ts), so two installations with their own state never share it. */
  ownerId: ownerId.optional(),
  cloud: cloud.default('Public'),
  serviceTags: serviceTagsSchema.default({ source: 'download', maxStaleDays: 14 }),
  arm: z.strictObject({ endpoint: httpsUrl.optional(), pacing: pacingSchema.default(PACING_DEFAULTS) }).default({ pacing: PACING_DEFAULTS }),
  identity: z.strictObject({ clientId: z.string().min(1).optional() }).default({}),
  state: stateSchema.default({ store: 'file', path: '.tagwall/state.json' }),
  defaults: defaultsSchema.default({ reserveRules: 0, mode: 'merge', policy: 'sync', split31: false, enforceDeny: false, adopt: 'first-run', skipWhenPerimeterEnforced: false }),
  guards: z
    .strictObject({
      maxRemovedFraction: guardFields.maxRemovedFraction.default(GUARD_DEFAULTS.maxRemovedFraction),
      maxSourceShrinkFraction: guardFields.maxSourceShrinkFraction.default(GUARD_DEFAULTS.maxSourceShrinkFraction),
      maxExcessAddresses: guardFields.maxExcessAddresses.default(GUARD_DEFAULTS.maxExcessAddresses),
      maxWidenedPrefix: guardFields.maxWidenedPrefix.default(GUARD_DEFAULTS.maxWidenedPrefix),
      warnWidenedPrefix: guardFields.warnWidenedPrefix.default(GUARD_DEFAULTS.warnWidenedPrefix),
      /** Discovery finding fewer firewalls than this, or fewer than half of the last run's, makes no removals anywhere. */
      minDiscovered: z.number().int().min(0).default(1),
    })
    .default({ ...GUARD_DEFAULTS, minDiscovered: 1 }),
  /** Targets in flight at once, over all subscriptions; a fleet needs many, since each subscription is paced on its own. */
  concurrency: z.number().int().min(1).max(256).default(8),
  /** Targets in flight at once in one subscription, so one subscription's throttling holds few of the run's slots. */
  concurrencyPerSubscription: z.number().int().min(1).max(256).default(4),
  alerts: z
    .strictObject({
      webhook: z
        .strictObject({
          url: z.string().min(1),
          format: z.enum(['generic', 'teams', 'slack']).default('generic'),
          timeoutMs: z.number().int().min(100).max(120_000).optional(),
          attempts: z.number().int().min(1).max(10).optional(),
        })
        .optional(),
      repeatAfterHours: z.number().positive().default(24),
    })
    .default({ repeatAfterHours: 24 }),
  profiles: z.record(profileName, profileSchema).default({}),
  discover: discoverSchema.optional(),
  fanOut: fanOutSchema.default({ shardSize: 50, inlineBelow: 50 }),
  targets: z.array(targetSchema).default([]),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
