import { describe, expect, it } from 'vitest';
import { parseConfig, profileTarget, type TagwallConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { TagwallError } from '../../src/core/errors.js';
import { parseResourceId } from '../../src/core/resource-id.js';
import { kindOf } from '../../src/targets/kinds.js';

/** The fleet's part of the configuration: profiles, discover, fanOut, and their app settings. */

const SUB = '00000000-0000-0000-0000-000000000001';
const SUB2 = '0000000a-000b-000c-000d-00000000000e';
const id = (provider: string, name: string) => `/subscriptions/${SUB}/resourceGroups/rg-app/providers/${provider}/${name}`;
const KEY_VAULT = id('Microsoft.KeyVault/vaults', 'kv-one');
const STORAGE = id('Microsoft.Storage/storageAccounts', 'stone');
const REGISTRY = id('Microsoft.ContainerRegistry/registries', 'crone');
const PERIMETER_PROFILE = id('Microsoft.Network/networkSecurityPerimeters', 'nsp-one/profiles/default');

// The file is never read by parseConfig; it only has to be a service-tags source of some kind.
const BASE = { serviceTags: { source: 'file', path: '/nowhere/ServiceTags_Public.json' } } as const;

const parse = (raw: object): TagwallConfig => parseConfig({ ...BASE, ...raw }, { baseDir: '/', source: 'test' });

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TagwallError);
    expect((e as TagwallError).code).toBe('CONFIG_INVALID');
    return [...(e as TagwallError).details];
  }
  throw new Error('expected CONFIG_INVALID');
}

async function settingProblems(env: NodeJS.ProcessEnv): Promise<string[]> {
  try {
    await loadConfig({ env, cwd: '/' });
  } catch (e) {
    expect(e).toBeInstanceOf(TagwallError);
    expect((e as TagwallError).code).toBe('CONFIG_INVALID');
    return [...(e as TagwallError).details];
  }
  throw new Error('expected CONFIG_INVALID');
}

/** The target a discovered firewall with this ID would get from the named profile. */
function discovered(config: TagwallConfig, profile: string, resourceId: string) {
  const resource = parseResourceId(resourceId);
  return profileTarget(config, profile, resource, kindOf(resource));
}

function thrown(fn: () => unknown): TagwallError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TagwallError);
    return e as TagwallError;
  }
  throw new Error('expected a TagwallError');
}

describe('profiles', () => {
  it('take any per-target field, over defaults, for the firewall they are given to', () => {
    const c = parse({
      defaults: { mode: 'authoritative', reserveRules: 3, guards: { maxWidenedPrefix: 20 } },
      discover: {},
      profiles: {
        devops: {
          select: ['AzureDevOps'],
          extra: ['20.1.2.0/24'],
          exclude: ['20.1.2.128/25'],
          maxRules: 300,
          reserveRules: 7,
          mode: 'merge',
          policy: 'add-only',
          split31: true,
          enforceDeny: true,
          expectBypass: 'None',
          adopt: 'never',
          skipWhenPerimeterEnforced: true,
          guards: { maxRemovedFraction: 0.1 },
          widen: { prefer: 'azure', outsideAzureWeight: 4 },
        },
      },
    });
    expect(c.targets).toEqual([]);
    const t = discovered(c, 'devops', KEY_VAULT);
    expect(t).toMatchObject({
      profile: 'devops',
      select: ['AzureDevOps'],
      extra: ['20.1.2.0/24'],
      exclude: ['20.1.2.128/25'],
      maxRules: 300,
      reserveRules: 7,
      mode: 'merge',
      policy: 'add-only',
      split31: true,
      enforceDeny: true,
      expectBypass: 'None',
      adopt: 'never',
      skipWhenPerimeterEnforced: true,
      widen: { prefer: 'azure', outsideAzureWeight: 4 },
      resource: { name: 'kv-one', subscriptionId: SUB },
      kind: { kind: 'keyvault' },
    });
    // The run's guards, then defaults', then the profile's; minDiscovered is the run's alone.
    expect(t.guards).toEqual({ maxRemovedFraction: 0.1, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 1_048_576, maxWidenedPrefix: 20, warnWidenedPrefix: 16 });
  });

  it('leave to defaults and the kind what they do not say', () => {
    const c = parse({ defaults: { mode: 'authoritative', reserveRules: 3 }, discover: {}, profiles: { plain: { select: ['AzureDevOps'] } } });
    expect(discovered(c, 'plain', KEY_VAULT)).toMatchObject({ maxRules: 1000, reserveRules: 3, mode: 'authoritative', policy: 'sync', split31: false, extra: [], exclude: [] });
    // Storage refuses a /31, so its targets split them whatever the profile says.
    expect(discovered(c, 'plain', STORAGE)).toMatchObject({ maxRules: 400, split31: true });
  });

  it('are found by the tag value in any case, and keep the name as configured', () => {
    const c = parse({ discover: {}, profiles: { DevOps: { select: ['AzureDevOps'] } } });
    for (const value of ['DevOps', 'devops', 'DEVOPS', 'dEvOpS']) expect(discovered(c, value, KEY_VAULT).profile).toBe('DevOps');
    expect(thrown(() => discovered(c, 'dev-ops', KEY_VAULT)).code).toBe('UNKNOWN_PROFILE');
    expect(thrown(() => discovered(c, 'off', KEY_VAULT)).code).toBe('UNKNOWN_PROFILE');
  });

  it('refuse a maxRules above a kind limit only when a firewall of that kind gets it', () => {
    // 300 fits a Key Vault (1000) and a Storage account (400), not a Container registry (100).
    const c = parse({ discover: {}, profiles: { wide: { select: ['AzureDevOps'], maxRules: 300 } } });
    expect(discovered(c, 'wide', KEY_VAULT).maxRules).toBe(300);
    expect(discovered(c, 'wide', STORAGE).maxRules).toBe(300);
    const e = thrown(() => discovered(c, 'wide', REGISTRY));
    expect(e.code).toBe('PROFILE_UNSUITABLE');
    expect(e.details).toEqual([expect.stringMatching(/^profiles\.wide\.maxRules: 300 is more than a Container registry takes \(100\)/)]);
  });

  it('refuse a reserve that leaves a kind no rules, and authoritative mode on a merge-only kind, when given to one', () => {
    const c = parse({ discover: {}, profiles: { reserved: { select: ['AzureDevOps'], reserveRules: 150 }, owner: { select: ['AzureDevOps'], mode: 'authoritative' } } });
    expect(discovered(c, 'reserved', KEY_VAULT).reserveRules).toBe(150);
    expect(thrown(() => discovered(c, 'reserved', REGISTRY))).toMatchObject({ code: 'PROFILE_UNSUITABLE', details: [expect.stringMatching(/^profiles\.reserved: reserveRules \(150\) must be less than maxRules \(100\)/)] });
    expect(discovered(c, 'owner', KEY_VAULT).mode).toBe('authoritative');
    expect(thrown(() => discovered(c, 'owner', PERIMETER_PROFILE))).toMatchObject({ code: 'PROFILE_UNSUITABLE', details: [expect.stringMatching(/^profiles\.owner\.mode: .*"merge" only/)] });
  });

  it('reserve "off" in any case, refuse two names equal but for case and a reserve over the limit, with bad CIDRs, all at once', () => {
    const problems = problemsOf(() =>
      parse({
        discover: {},
        profiles: {
          off: { select: ['X'] },
          OFF: { select: ['X'] },
          devops: { select: ['X'] },
          DevOps: { select: ['X'] },
          cidrs: { select: ['X'], extra: ['20.1.2.3/24'], exclude: ['nonsense'] },
          tight: { select: ['X'], maxRules: 5, reserveRules: 5 },
        },
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^profiles\.cidrs\.extra: .*host bits set; did you mean 20\.1\.2\.0\/24/),
      expect.stringMatching(/^profiles\.cidrs\.exclude: .*nonsense/),
      expect.stringMatching(/^profiles\.off: "off" is reserved/),
      expect.stringMatching(/^profiles\.OFF: "off" is reserved/),
      expect.stringMatching(/^profiles\.DevOps: the same name as profiles\.devops/),
      expect.stringMatching(/^profiles\.tight: reserveRules \(5\) must be less than maxRules \(5\)/),
    ]);
  });

  it('refuse a name that cannot be a tag value, a target-only or unknown field, and no select, each with its path', () => {
    const problems = problemsOf(() =>
      parse({
        discover: {},
        profiles: {
          'not a name': { select: ['X'] },
          stray: { select: ['X'], resource: KEY_VAULT },
          empty: { select: [] },
          cidrs: { select: ['X'], extra: ['10.0.0.0/8'] },
        },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^profiles\.not a name: /),
        expect.stringMatching(/^profiles\.stray: .*resource/),
        expect.stringMatching(/^profiles\.empty\.select: /),
        // Checked on the raw input, so the schema's problems do not hide it.
        expect.stringMatching(/^profiles\.cidrs\.extra: .*private/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });
});

describe('discover', () => {
  it('defaults to the tag "tagwall", every readable subscription, digests, a day between direct reads and 10 minutes of lag', () => {
    const c = parse({ discover: {} });
    expect(c.discover).toMatchObject({ tag: 'tagwall', scope: {}, digest: true, recheckHours: 24, lagMinutes: 10 });
    expect(c.discover!.types).toBeUndefined();
    // Every kind whose rules or tags Resource Graph describes: all but the perimeter profile, a child resource.
    expect(c.discover!.resourceTypes.map((k) => k.kind).sort()).toEqual(['aks', 'cognitiveservices', 'containerapp', 'containerregistry', 'cosmosdb', 'eventhub', 'keyvault', 'mysql-flexible', 'postgresql-flexible', 'redis', 'search', 'servicebus', 'sql', 'storage', 'synapse']);
  });

  it('is off without the key', () => {
    expect(parse({ targets: [{ resource: KEY_VAULT, select: ['X'] }] }).discover).toBeUndefined();
  });

  it('takes a scope of subscriptions, of management groups, or none', () => {
    expect(parse({ discover: { scope: { subscriptions: [SUB, SUB2.toUpperCase()] } } }).discover!.scope).toEqual({ subscriptions: [SUB, SUB2.toUpperCase()] });
    expect(parse({ discover: { scope: { managementGroups: ['mg-platform', 'mg-apps'] } } }).discover!.scope).toEqual({ managementGroups: ['mg-platform', 'mg-apps'] });
    expect(parse({ discover: { scope: {} } }).discover!.scope).toEqual({});
  });

  it('points at the subscription that is not a GUID, and at a scope naming both kinds', () => {
    expect(problemsOf(() => parse({ discover: { scope: { subscriptions: [SUB, 'not-a-guid'] } } }))).toEqual([expect.stringMatching(/^discover\.scope\.subscriptions\[1\]: .*GUID/)]);
    expect(problemsOf(() => parse({ discover: { scope: { subscriptions: [] } } }))).toEqual([expect.stringMatching(/^discover\.scope\.subscriptions: /)]);
    expect(problemsOf(() => parse({ discover: { scope: { managementGroups: ['x'.repeat(91)] } } }))).toEqual([expect.stringMatching(/^discover\.scope\.managementGroups\[0\]: /)]);
    expect(problemsOf(() => parse({ discover: { scope: { subscriptions: [SUB], managementGroups: ['mg'] } } }))).toEqual([expect.stringMatching(/^discover\.scope: .*not both/)]);
    expect(problemsOf(() => parse({ discover: { scope: { tenants: ['t'] } } }))).toEqual([expect.stringMatching(/^discover\.scope: .*tenants/)]);
  });

  it('takes types by kind name or resource type, in any case, once each', () => {
    const c = parse({ discover: { types: ['keyvault', 'microsoft.storage/STORAGEACCOUNTS', 'Microsoft.KeyVault/vaults', 'EventHub'] } });
    expect(c.discover!.resourceTypes.map((k) => k.resourceType)).toEqual(['Microsoft.KeyVault/vaults', 'Microsoft.Storage/storageAccounts', 'Microsoft.EventHub/namespaces']);
  });

  it('refuses a type tagwall does not manage and one Resource Graph cannot find, each with its index', () => {
    const problems = problemsOf(() => parse({ discover: { types: ['keyvault', 'Microsoft.Web/sites', 'nsp-profile', 'Microsoft.Network/networkSecurityPerimeters/profiles'] } }));
    expect(problems).toEqual([
      expect.stringMatching(/^discover\.types\[1\]: "Microsoft\.Web\/sites" is not a kind discovery can find/),
      expect.stringMatching(/^discover\.types\[2\]: "nsp-profile" is not a kind/),
      expect.stringMatching(/^discover\.types\[3\]: "Microsoft\.Network\/networkSecurityPerimeters\/profiles" is not a kind/),
    ]);
    expect(problemsOf(() => parse({ discover: { types: [] } }))).toEqual([expect.stringMatching(/^discover\.types: /)]);
  });

  it('lets targets be empty only when it is there', () => {
    expect(problemsOf(() => parse({}))).toEqual([expect.stringMatching(/^targets: at least one target is needed, or discover/)]);
    expect(problemsOf(() => parse({ targets: [] }))).toEqual([expect.stringMatching(/^targets: /)]);
    expect(parse({ discover: {} }).targets).toEqual([]);
  });

  it('checks tag, recheck and lag bounds', () => {
    const problems = problemsOf(() => parse({ discover: { tag: '', recheckHours: 0, lagMinutes: -1, digest: 'yes' } }));
    for (const path of ['discover.tag', 'discover.recheckHours', 'discover.lagMinutes', 'discover.digest']) expect(problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
    expect(problems).toHaveLength(4);
  });
});

describe('fanOut and the fleet guard', () => {
  it('default to shards of 50 and 50 vaults inline, and a fleet of at least one', () => {
    const c = parse({ discover: {} });
    expect(c.fanOut).toEqual({ shardSize: 50, inlineBelow: 50 });
    expect(c.guards.minDiscovered).toBe(1);
    expect(parse({ discover: {}, fanOut: { shardSize: 1 }, guards: { minDiscovered: 0 } })).toMatchObject({ fanOut: { shardSize: 1, inlineBelow: 50 }, guards: { minDiscovered: 0, maxRemovedFraction: 0.5 } });
  });

  it('refuse a shard larger than a message holds, and negatives', () => {
    const problems = problemsOf(() => parse({ discover: {}, fanOut: { shardSize: 501, inlineBelow: -1 }, guards: { minDiscovered: -1 } }));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^fanOut\.shardSize: /), expect.stringMatching(/^fanOut\.inlineBelow: /), expect.stringMatching(/^guards\.minDiscovered: /)]));
    expect(problems).toHaveLength(3);
    expect(problemsOf(() => parse({ discover: {}, fanOut: { shardSize: 0 } }))).toEqual([expect.stringMatching(/^fanOut\.shardSize: /)]);
  });
});

it('reports every fleet problem of one configuration at once', () => {
  const problems = problemsOf(() =>
    parse({
      discover: { scope: { subscriptions: ['nope'] }, types: ['Microsoft.Web/sites'] },
      fanOut: { shardSize: 0 },
      profiles: { off: { select: ['X'] }, a: { select: ['X'], extra: ['300.1.1.1'] } },
      targets: [{ resource: KEY_VAULT, select: ['X'], maxRules: 100_001 }],
    }),
  );
  // The schema's problems hide the checks that need a parsed configuration (types, off, limits);
  // the ones made on the raw input (CIDRs) are still reported beside them.
  expect(problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^discover\.scope\.subscriptions\[0\]: /),
      expect.stringMatching(/^fanOut\.shardSize: /),
      expect.stringMatching(/^targets\[0\]\.maxRules: /),
      expect.stringMatching(/^profiles\.a\.extra: /),
    ]),
  );
  const noSchemaProblems = problemsOf(() =>
    parse({
      discover: { types: ['Microsoft.Web/sites'] },
      profiles: { off: { select: ['X'] }, a: { select: ['X'], extra: ['300.1.1.1'] } },
      targets: [{ resource: KEY_VAULT, select: ['X'], maxRules: 1001 }],
    }),
  );
  expect(noSchemaProblems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^discover\.types\[0\]: /),
      expect.stringMatching(/^profiles\.off: /),
      expect.stringMatching(/^profiles\.a\.extra: /),
      expect.stringMatching(/^targets\[0\]\.maxRules: 1001 is more than a Key Vault takes/),
    ]),
  );
  expect(noSchemaProblems).toHaveLength(4);
});

describe('discovery from app settings', () => {
  const PROFILES = JSON.stringify({ devops: { select: ['AzureDevOps'] }, Data: { select: ['Sql'], maxRules: 50 } });

  it('discovers by the tag with the profiles alone, everywhere the identity reads', async () => {
    const c = await loadConfig({ env: { TAGWALL_DISCOVER_TAG: ' firewall ', TAGWALL_PROFILES: PROFILES }, cwd: '/' });
    expect(c.targets).toEqual([]);
    expect(c.discover).toMatchObject({ tag: 'firewall', scope: {}, digest: true });
    expect([...c.profiles.keys()].sort()).toEqual(['data', 'devops']);
    expect(discovered(c, 'data', STORAGE)).toMatchObject({ profile: 'Data', select: ['Sql'], maxRules: 50 });
  });

  it('narrows to listed subscriptions or management groups', async () => {
    const subs = await loadConfig({ env: { TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_DISCOVER_SUBSCRIPTIONS: ` ${SUB}, ${SUB2},` }, cwd: '/' });
    expect(subs.discover!.scope).toEqual({ subscriptions: [SUB, SUB2] });
    const groups = await loadConfig({ env: { TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_DISCOVER_MANAGEMENT_GROUPS: 'mg-a,mg-b' }, cwd: '/' });
    expect(groups.discover!.scope).toEqual({ managementGroups: ['mg-a', 'mg-b'] });
  });

  it('refuses subscriptions and management groups together, naming both settings', async () => {
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_DISCOVER_SUBSCRIPTIONS: SUB, TAGWALL_DISCOVER_MANAGEMENT_GROUPS: 'mg-a' })).toEqual([
      expect.stringMatching(/^TAGWALL_DISCOVER_SUBSCRIPTIONS, TAGWALL_DISCOVER_MANAGEMENT_GROUPS: .*not both/),
    ]);
  });

  it('keeps the listed firewalls beside discovery', async () => {
    const c = await loadConfig({ env: { TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_VAULTS: `${KEY_VAULT},${STORAGE}`, TAGWALL_SELECT: 'AzureDevOps' }, cwd: '/' });
    expect(c.targets.map((t) => [t.kind.kind, t.resource.name, t.profile])).toEqual([
      ['keyvault', 'kv-one', undefined],
      ['storage', 'stone', undefined],
    ]);
    expect(c.discover?.tag).toBe('tagwall');
  });

  it('says what is wrong with TAGWALL_PROFILES, and that discovery needs it', async () => {
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: '{"devops": {' })).toEqual([expect.stringMatching(/^TAGWALL_PROFILES: not valid JSON/)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall' })).toEqual([expect.stringMatching(/^TAGWALL_PROFILES: discovery needs at least one profile/)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: '  ' })).toEqual([expect.stringMatching(/^TAGWALL_PROFILES: discovery needs/)]);
    // Neither a tag nor firewalls: nothing to protect.
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: ' ', TAGWALL_SELECT: 'AzureDevOps' })).toEqual([expect.stringMatching(/^TAGWALL_VAULTS: .*TAGWALL_DISCOVER_TAG/)]);
  });

  it('names the setting, not the JSON path, in every problem', async () => {
    const problems = await settingProblems({
      TAGWALL_DISCOVER_TAG: 'tagwall',
      TAGWALL_PROFILES: JSON.stringify({ off: { select: ['X'] }, bad: { select: ['X'], exclude: ['nonsense'] }, loose: { select: ['X'], colour: 'red' } }),
    });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^TAGWALL_PROFILES\.bad\.exclude: /), expect.stringMatching(/^TAGWALL_PROFILES\.loose: .*colour/)]),
    );
    expect(problems.some((p) => /^(profiles|discover)\b/.test(p))).toBe(false);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: JSON.stringify({ off: { select: ['X'] } }) })).toEqual([expect.stringMatching(/^TAGWALL_PROFILES\.off: "off" is reserved/)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_DISCOVER_SUBSCRIPTIONS: `${SUB},not-a-guid` })).toEqual([expect.stringMatching(/^TAGWALL_DISCOVER_SUBSCRIPTIONS: .*GUID/)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: PROFILES, TAGWALL_DISCOVER_MANAGEMENT_GROUPS: 'g'.repeat(91) })).toEqual([expect.stringMatching(/^TAGWALL_DISCOVER_MANAGEMENT_GROUPS: /)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 't'.repeat(513), TAGWALL_PROFILES: PROFILES })).toEqual([expect.stringMatching(/^TAGWALL_DISCOVER_TAG: /)]);
    expect(await settingProblems({ TAGWALL_DISCOVER_TAG: 'tagwall', TAGWALL_PROFILES: '["devops"]' })).toEqual([expect.stringMatching(/^TAGWALL_PROFILES: /)]);
  });
});

describe('profile scope', () => {
  const scoped = (scope: unknown) => parse({ profiles: { team: { select: ['AzureDevOps'], scope } }, discover: {} });

  it('takes subscriptions and resource groups, as "<subscription>/<group>" or a resource ID, in any case', () => {
    const c = scoped({ subscriptions: [SUB2.toUpperCase()], resourceGroups: [`${SUB.toUpperCase()}/RG-App`] });
    expect(discovered(c, 'team', KEY_VAULT).profile).toBe('team');
    expect(discovered(c, 'team', KEY_VAULT.replace(SUB, SUB2).replace('rg-app', 'rg-other')).profile).toBe('team');
    const byId = scoped({ resourceGroups: [`/subscriptions/${SUB}/resourceGroups/RG-APP/`] });
    expect(discovered(byId, 'team', STORAGE).profile).toBe('team');
  });

  it('refuses a firewall outside it with PROFILE_OUT_OF_SCOPE, whatever its kind', () => {
    const c = scoped({ resourceGroups: [`${SUB}/rg-other`] });
    for (const id of [KEY_VAULT, STORAGE, PERIMETER_PROFILE]) {
      expect(thrown(() => discovered(c, 'TEAM', id))).toMatchObject({ code: 'PROFILE_OUT_OF_SCOPE', values: { profile: 'team' } });
    }
    // A group of the same name in another subscription is another group.
    expect(thrown(() => discovered(scoped({ resourceGroups: [`${SUB2}/rg-app`] }), 'team', KEY_VAULT)).code).toBe('PROFILE_OUT_OF_SCOPE');
  });

  it('an empty scope, a bad subscription or a bad group is a configuration problem, with its path', () => {
    expect(problemsOf(() => scoped({}))).toEqual([expect.stringMatching(/^profiles\.team\.scope: name subscriptions, resourceGroups or both/)]);
    expect(problemsOf(() => scoped({ subscriptions: ['not-a-guid'] }))).toEqual([expect.stringMatching(/^profiles\.team\.scope\.subscriptions\[0\]: a subscription ID/)]);
    expect(problemsOf(() => scoped({ resourceGroups: ['rg-app'] }))).toEqual([expect.stringMatching(/^profiles\.team\.scope\.resourceGroups\[0\]: a resource group/)]);
    expect(problemsOf(() => scoped({ groups: [] }))).toContainEqual(expect.stringMatching(/^profiles\.team\.scope: .*"groups"/));
  });
});
