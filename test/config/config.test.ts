import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import { TagwallError } from '../../src/core/errors.js';

const vault = (name: string) => `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/${name}`;

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

describe('configuration', () => {
  it('fills the documented defaults', () => {
    const c = parseConfig({ targets: [{ vault: vault('kv-one'), select: ['AzureDevOps'] }] }, { baseDir: '/etc/tagwall', source: 'test' });
    expect(c.cloud).toBe('Public');
    expect(c.arm.endpoint).toBe('https://management.azure.com');
    expect(c.serviceTags).toEqual({ source: 'download', maxStaleDays: 14 });
    expect(c.state).toEqual({ store: 'file', path: '/etc/tagwall/.tagwall/state.json' });
    expect(c.guards).toEqual({ minDiscovered: 1, maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 1_048_576, maxWidenedPrefix: 12, warnWidenedPrefix: 16 });
    expect(c.concurrency).toBe(8);
    expect(c.targets[0]).toMatchObject({ maxRules: 1000, reserveRules: 0, mode: 'merge', policy: 'sync', split31: false, enforceDeny: false, select: ['AzureDevOps'] });
    expect(c.targets[0]!.resource).toMatchObject({ subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg-app', name: 'kv-one' });
  });

  it('takes the ARM endpoint from the cloud, and a target setting over the defaults', () => {
    const c = parseConfig(
      { cloud: 'AzureGovernment', defaults: { maxRules: 500, mode: 'authoritative' }, targets: [{ vault: vault('kv-one'), select: ['AzureDevOps'], maxRules: 127, split31: true }] },
      { baseDir: '/x', source: 'test' },
    );
    expect(c.arm.endpoint).toBe('https://management.usgovcloudapi.net');
    expect(c.targets[0]).toMatchObject({ maxRules: 127, mode: 'authoritative', split31: true, policy: 'sync' });
  });

  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf(() =>
      parseConfig(
        {
          cloud: 'Mars',
          guards: { maxRemovedFraction: 2 },
          surprise: true,
          targets: [{ vault: vault('kv-one'), select: [], mode: 'sometimes' }],
        },
        { baseDir: '/x', source: 'test' },
      ),
    );
    expect(problems.some((p) => p.startsWith('cloud:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('guards.maxRemovedFraction:'))).toBe(true);
    expect(problems.some((p) => p.includes('surprise'))).toBe(true);
    expect(problems.some((p) => p.startsWith('targets[0].select:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('targets[0].mode:'))).toBe(true);
  });

  it('refuses a vault ID that is not a Key Vault, bad CIDRs, duplicates and a plain-http webhook, together', () => {
    const problems = problemsOf(() =>
      parseConfig(
        {
          alerts: { webhook: { url: 'http://hooks.example.com/x' } },
          targets: [
            { vault: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1', select: ['AzureDevOps'] },
            { vault: vault('kv-one'), select: ['AzureDevOps'], extra: ['10.1.2.0/24', '20.1.2.3/24', '2001:db8::/32'], exclude: ['nonsense'] },
            { vault: vault('KV-ONE'), select: ['AzureDevOps'], reserveRules: 1000 },
          ],
        },
        { baseDir: '/x', source: 'test' },
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^targets\[0\]\.vault: .*not a Key Vault resource ID/),
        expect.stringMatching(/^targets\[1\]\.extra: extra 10\.1\.2\.0\/24 overlaps 10\.0\.0\.0\/8, which is private/),
        expect.stringMatching(/^targets\[1\]\.extra: .*host bits set; did you mean 20\.1\.2\.0\/24/),
        expect.stringMatching(/^targets\[1\]\.extra: .*IPv6/),
        expect.stringMatching(/^targets\[1\]\.exclude: /),
        expect.stringMatching(/^targets\[2\]\.reserveRules: |^targets\[2\]: reserveRules/),
        expect.stringMatching(/^alerts\.webhook\.url: .*https/),
      ]),
    );
  });

  it('resolves relative paths against the config file folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagwall-config-'));
    await writeFile(
      join(dir, 'tagwall.json'),
      JSON.stringify({ serviceTags: { source: 'file', path: 'tags/ServiceTags_Public.json' }, state: { store: 'file', path: 'state/s.json' }, targets: [{ vault: vault('kv-one'), select: ['AzureDevOps'] }] }),
    );
    const c = await loadConfig({ file: 'tagwall.json', env: {}, cwd: dir });
    expect(c.serviceTags).toEqual({ source: 'file', path: join(dir, 'tags/ServiceTags_Public.json') });
    expect(c.state).toEqual({ store: 'file', path: join(dir, 'state/s.json') });
  });

  it('builds a configuration from plain app settings, with the Functions state default', async () => {
    const c = await loadConfig({
      env: { TAGWALL_VAULTS: `${vault('kv-one')}, ${vault('kv-two')}`, TAGWALL_SELECT: 'AzureDevOps,LogicApps@westeurope', TAGWALL_CLOUD: 'China' },
      cwd: '/home/site/wwwroot',
      defaultState: { store: 'blob', connectionSetting: 'AzureWebJobsStorage', container: 'tagwall' },
    });
    expect(c.targets.map((t) => t.resource.name)).toEqual(['kv-one', 'kv-two']);
    expect(c.targets[0]!.select).toEqual(['AzureDevOps', 'LogicApps@westeurope']);
    expect(c.arm.endpoint).toBe('https://management.chinacloudapi.cn');
    expect(c.state).toEqual({ store: 'blob', connectionSetting: 'AzureWebJobsStorage', container: 'tagwall' });
  });

  it('names the app settings, not JSON paths, in problems with plain settings', async () => {
    await expect(loadConfig({ env: { TAGWALL_VAULTS: `${vault('kv-one')},kv-two`, TAGWALL_SELECT: 'AzureDevOps', TAGWALL_CLOUD: 'china' }, cwd: '/' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: [expect.stringMatching(/^TAGWALL_CLOUD: /), expect.stringMatching(/^TAGWALL_VAULTS \(item 2\): "kv-two" is not an Azure resource ID/)],
    });
  });

  it('prefers TAGWALL_CONFIG, and says what to set when nothing is configured', async () => {
    const c = await loadConfig({ env: { TAGWALL_CONFIG: JSON.stringify({ targets: [{ vault: vault('kv-json'), select: ['*'] }] }), TAGWALL_VAULTS: vault('kv-other') }, cwd: '/' });
    expect(c.targets.map((t) => t.resource.name)).toEqual(['kv-json']);
    await expect(loadConfig({ env: {}, cwd: '/' })).rejects.toMatchObject({ code: 'CONFIG_MISSING' });
    await expect(loadConfig({ env: { TAGWALL_CONFIG: '{"targets": [' }, cwd: '/' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/TAGWALL_CONFIG:1:14: not valid JSON/) });
    await expect(loadConfig({ env: { TAGWALL_VAULTS: vault('kv-one') }, cwd: '/' })).rejects.toMatchObject({ details: [expect.stringMatching(/^TAGWALL_SELECT/)] });
  });

  it('merges guards and the widening preference: the run, then defaults, then the target', () => {
    const c = parseConfig(
      {
        guards: { maxExcessAddresses: 5000 },
        defaults: { guards: { maxWidenedPrefix: 16 }, widen: { prefer: 'azure' } },
        targets: [
          { vault: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-a', select: ['AzureDevOps'], guards: { warnWidenedPrefix: 20 } },
          { vault: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-b', select: ['AzureDevOps'], guards: { maxWidenedPrefix: 0 }, widen: { prefer: 'none' } },
        ],
      },
      { baseDir: '/', source: 'test' },
    );
    expect(c.targets[0]!.guards).toEqual({ maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 5000, maxWidenedPrefix: 16, warnWidenedPrefix: 20 });
    expect(c.targets[0]!.widen).toEqual({ prefer: 'azure', outsideAzureWeight: 16 });
    expect(c.targets[1]!.guards.maxWidenedPrefix).toBe(0);
    expect(c.targets[1]!.widen.prefer).toBe('none');
  });

  it('takes churn from defaults or the target, absent meaning least, and refuses anything else', () => {
    const kv = (n: string) => `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/${n}`;
    const c = parseConfig(
      { defaults: { churn: 'tie-break' }, targets: [{ vault: kv('kv-a'), select: ['X'] }, { vault: kv('kv-b'), select: ['X'], churn: 'least' }] },
      { baseDir: '/', source: 'test' },
    );
    expect(c.targets.map((t) => t.churn)).toEqual(['tie-break', 'least']);
    expect(parseConfig({ targets: [{ vault: kv('kv-a'), select: ['X'] }] }, { baseDir: '/', source: 'test' }).targets[0]!.churn).toBeUndefined();
    expect(problemsOf(() => parseConfig({ targets: [{ vault: kv('kv-a'), select: ['X'], churn: 'none' }] }, { baseDir: '/', source: 'test' }))).toEqual([expect.stringMatching(/^targets\[0\]\.churn/)]);
  });

  it('takes churnTolerance from defaults or the target (a whole number of addresses, absent meaning none)', () => {
    const kv = (n: string) => `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/${n}`;
    const c = parseConfig(
      { defaults: { churnTolerance: 256 }, targets: [{ vault: kv('kv-a'), select: ['X'] }, { vault: kv('kv-b'), select: ['X'], churnTolerance: 4096 }] },
      { baseDir: '/', source: 'test' },
    );
    expect(c.targets.map((t) => t.churnTolerance)).toEqual([256, 4096]);
    expect(parseConfig({ targets: [{ vault: kv('kv-a'), select: ['X'] }] }, { baseDir: '/', source: 'test' }).targets[0]!.churnTolerance).toBeUndefined();
    for (const bad of [-1, 0.5, '256'])
      expect(problemsOf(() => parseConfig({ targets: [{ vault: kv('kv-a'), select: ['X'], churnTolerance: bad }] }, { baseDir: '/', source: 'test' }))).toEqual([expect.stringMatching(/^targets\[0\]\.churnTolerance/)]);
  });

  it('refuses a widening bound that is not a prefix length, and an outside weight under 1', () => {
    const bad = () =>
      parseConfig(
        { defaults: { guards: { maxWidenedPrefix: 33 }, widen: { prefer: 'azure', outsideAzureWeight: 0.5 } }, targets: [{ vault: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-a', select: ['X'] }] },
        { baseDir: '/', source: 'test' },
      );
    expect(bad).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.arrayContaining([expect.stringMatching(/^defaults\.guards\.maxWidenedPrefix/), expect.stringMatching(/^defaults\.widen\.outsideAzureWeight/)]) }));
  });

  it('reads the kind from a resource ID, and refuses an unsupported type listing the supported ones', () => {
    const parse = (targets: unknown[]) => parseConfig({ targets }, { baseDir: '/', source: 'test' });
    const kv = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-a';
    expect(parse([{ resource: kv, select: ['X'] }]).targets[0]).toMatchObject({ kind: { kind: 'keyvault' }, maxRules: 1000, resource: { name: 'kv-a', type: 'Microsoft.KeyVault/vaults' } });
    const site = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.Web/sites/site-a';
    expect(() => parse([{ resource: site, select: ['X'] }])).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: [expect.stringMatching(/^targets\[0\]\.resource: .*does not manage Microsoft\.Web\/sites firewalls; supported: .*Microsoft\.KeyVault\/vaults/)] }),
    );
    expect(() => parse([{ resource: kv, vault: kv, select: ['X'] }])).toThrow(expect.objectContaining({ details: [expect.stringMatching(/either resource or vault, not both/)] }));
    expect(() => parse([{ select: ['X'] }])).toThrow(expect.objectContaining({ details: [expect.stringMatching(/needs resource/)] }));
    expect(() => parse([{ resource: kv, select: ['X'], maxRules: 1001 }])).toThrow(expect.objectContaining({ details: [expect.stringMatching(/maxRules: 1001 is more than a Key Vault takes \(1000\)/)] }));
    expect(() => parse([{ resource: kv, select: ['X'] }, { vault: kv.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'), select: ['Y'] }])).toThrow(
      expect.objectContaining({ details: [expect.stringMatching(/same resource is already targets\[0\]/)] }),
    );
  });
});

