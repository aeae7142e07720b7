import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import { parseEmulatorSeed } from '../../src/emulator/model.js';
import { startEmulator } from '../../src/emulator/server.js';
import { perimeterId, seedVault, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

/** The perimeter routes over raw HTTPS, where paging and errors are visible on the wire, and the control calls that shape them. */

const API = '?api-version=2025-05-01';
const OTHER = '22222222-2222-2222-2222-222222222222';
const NSP = perimeterId('nsp-a');
const LIST = `/subscriptions/${TEST_SUBSCRIPTION}/providers/Microsoft.Network/networkSecurityPerimeters`;

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [seedVault('kv-a'), seedVault('kv-b')],
  perimeters: [
    {
      id: NSP,
      location: 'northeurope',
      tags: { team: 'net' },
      profiles: ['defaultProfile', 'locked'],
      associations: [
        { privateLinkResourceId: vaultId('kv-a'), accessMode: 'Enforced' },
        { name: 'kv-b-learning', privateLinkResourceId: vaultId('kv-b'), profile: 'locked', accessMode: 'Learning' },
      ],
    },
    { id: perimeterId('nsp-b', TEST_SUBSCRIPTION, 'rg-second') },
    { id: perimeterId('nsp-c', OTHER, 'rg-other') },
  ],
}));

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

describe('ARM routes', () => {
  it('lists a subscription\'s perimeters as tracked resources, and only that subscription\'s', async () => {
    const res = await t.fetch('GET', `${LIST}${API}`);
    expect(res.status).toBe(200);
    expect(res.json.nextLink).toBeUndefined();
    // Ordered by ID, so rg-second's comes first.
    expect(res.json.value.map((p: { id: string }) => p.id)).toEqual([perimeterId('nsp-b', TEST_SUBSCRIPTION, 'rg-second'), perimeterId('nsp-a')]);
    const a = res.json.value[1];
    expect(a).toMatchObject({ name: 'nsp-a', type: 'Microsoft.Network/networkSecurityPerimeters', location: 'northeurope', tags: { team: 'net' } });
    expect(a.properties.provisioningState).toBe('Succeeded');
    expect(a.properties.perimeterGuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('lists by resource group and reads one perimeter; an unknown one is 404 ResourceNotFound', async () => {
    const group = await t.fetch('GET', `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/rg-second/providers/Microsoft.Network/networkSecurityPerimeters${API}`);
    expect(group.json.value.map((p: { name: string }) => p.name)).toEqual(['nsp-b']);
    expect((await t.fetch('GET', `${NSP.toUpperCase()}${API}`)).json.name).toBe('nsp-a');
    const missing = await t.fetch('GET', `${perimeterId('nsp-none')}${API}`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toEqual({
      code: 'ResourceNotFound',
      message: `The Resource 'Microsoft.Network/networkSecurityPerimeters/nsp-none' under resource group '${TEST_GROUP}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    });
  });

  it('lists a perimeter\'s associations in the NspAssociation shape', async () => {
    const res = await t.fetch('GET', `${NSP}/resourceAssociations${API}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      value: [
        {
          id: `${NSP}/resourceAssociations/kv-a`,
          name: 'kv-a',
          type: 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations',
          properties: {
            provisioningState: 'Succeeded',
            privateLinkResource: { id: vaultId('kv-a') },
            profile: { id: `${NSP}/profiles/defaultProfile` },
            accessMode: 'Enforced',
            hasProvisioningIssues: 'no',
          },
        },
        {
          id: `${NSP}/resourceAssociations/kv-b-learning`,
          name: 'kv-b-learning',
          type: 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations',
          properties: {
            provisioningState: 'Succeeded',
            privateLinkResource: { id: vaultId('kv-b') },
            profile: { id: `${NSP}/profiles/locked` },
            accessMode: 'Learning',
            hasProvisioningIssues: 'no',
          },
        },
      ],
    });
    expect((await t.emulator.control.requests()).map((r) => [r.perimeter, r.apiVersion, r.status])).toEqual([['nsp-a', '2025-05-01', 200]]);
  });

  it('pages at 20 (or $top) with an absolute nextLink that keeps the api-version and $top', async () => {
    await t.emulator.control.reset({ vaults: [], perimeters: Array.from({ length: 45 }, (_, i) => ({ id: perimeterId(`nsp-${String(i).padStart(2, '0')}`) })) });
    const first = await t.fetch('GET', `${LIST}?api-version=2024-07-01`);
    expect(first.json.value).toHaveLength(20);
    expect(first.json.nextLink).toBe(`${t.emulator.url}${LIST}?api-version=2024-07-01&$skipToken=20`);
    const names: string[] = [];
    let next: string | undefined = `${t.emulator.url}${LIST}?api-version=2024-07-01&$top=7`;
    let pages = 0;
    while (next !== undefined) {
      const page = await t.fetch('GET', next.slice(t.emulator.url.length));
      names.push(...page.json.value.map((p: { name: string }) => p.name));
      if (page.json.nextLink !== undefined) expect(page.json.nextLink).toContain('$top=7');
      next = page.json.nextLink;
      pages += 1;
    }
    expect(pages).toBe(7);
    expect(names).toEqual(Array.from({ length: 45 }, (_, i) => `nsp-${String(i).padStart(2, '0')}`));
    const tooMany = await t.fetch('GET', `${LIST}${API}&$top=21`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.code).toBe('InvalidParameter');
  });

  it('answers the perimeter api-versions only, and writes nothing but access rules', async () => {
    const vaultVersion = await t.fetch('GET', `${LIST}?api-version=2026-02-01`);
    expect(vaultVersion.status).toBe(400);
    expect(vaultVersion.json.error.code).toBe('InvalidApiVersionParameter');
    expect(vaultVersion.json.error.message).toContain("'2025-05-01,2024-07-01'");
    expect((await t.fetch('PUT', `${NSP}${API}`, { body: { location: 'westeurope' } })).status).toBe(405);
    const profiles = await t.fetch('GET', `${NSP}/profiles${API}`);
    expect(profiles.status).toBe(404);
    expect(profiles.json.error.message).toContain("perimeters, their resource associations and their profiles' access rules only");
    expect((await t.fetch('DELETE', `${NSP}/resourceAssociations/kv-a${API}`)).status).toBe(405);
    expect((await t.fetch('GET', `${LIST}${API}`, { token: null })).status).toBe(401);
  });
});

describe('control: associations', () => {
  it('adds, changes and removes associations, as the next ARM read shows', async () => {
    const added = await t.emulator.control.associate({ perimeter: NSP, privateLinkResourceId: vaultId('kv-c'), accessMode: 'Audit', profile: 'LOCKED' });
    expect(added).toMatchObject({ name: 'kv-c', properties: { accessMode: 'Audit', profile: { id: `${NSP}/profiles/locked` } } });
    // Unnamed, the same resource's association is replaced: Learning becomes Enforced, under its old name.
    await t.emulator.control.associate({ perimeter: NSP, privateLinkResourceId: vaultId('kv-b').toLowerCase(), accessMode: 'Enforced' });
    const modes = async (): Promise<string[]> =>
      (await t.fetch('GET', `${NSP}/resourceAssociations${API}`)).json.value.map((a: { name: string; properties: { accessMode: string } }) => `${a.name}:${a.properties.accessMode}`);
    expect(await modes()).toEqual(['kv-a:Enforced', 'kv-b-learning:Enforced', 'kv-c:Audit']);
    expect(await t.emulator.control.dissociate({ privateLinkResourceId: vaultId('KV-A') })).toBe(1);
    expect(await modes()).toEqual(['kv-b-learning:Enforced', 'kv-c:Audit']);
    const gone = await rejection(t.emulator.control.dissociate({ privateLinkResourceId: vaultId('kv-a') }));
    expect(gone.message).toContain('404');
  });

  it('refuses an association to an unknown perimeter or profile, or of a resource twice under two names', async () => {
    expect((await rejection(t.emulator.control.associate({ perimeter: perimeterId('nsp-x'), privateLinkResourceId: vaultId('kv-a'), accessMode: 'Enforced' }))).message).toContain(
      '404',
    );
    expect((await rejection(t.emulator.control.associate({ perimeter: NSP, privateLinkResourceId: vaultId('kv-c'), profile: 'nope', accessMode: 'Enforced' }))).message).toContain(
      'not one of the perimeter\'s profiles (defaultProfile, locked)',
    );
    expect((await rejection(t.emulator.control.associate({ perimeter: NSP, name: 'second', privateLinkResourceId: vaultId('kv-a'), accessMode: 'Learning' }))).message).toContain(
      'already associated with this perimeter',
    );
    expect((await rejection(t.emulator.control.associate({ perimeter: NSP, privateLinkResourceId: vaultId('kv-a'), accessMode: 'Transition' } as never))).message).toContain('400');
    expect((await t.emulator.control.perimeters()).find((p) => p.perimeter.id === NSP)?.associations).toHaveLength(2);
  });

  it('shows perimeters with their profiles and associations', async () => {
    const all = await t.emulator.control.perimeters();
    expect(all.map((p) => p.perimeter.name)).toEqual(['nsp-b', 'nsp-a', 'nsp-c']);
    const a = all[1];
    expect(a?.perimeter.id).toBe(NSP);
    expect(a?.profiles).toEqual([`${NSP}/profiles/defaultProfile`, `${NSP}/profiles/locked`]);
    expect(a?.associations.map((x) => x.properties.privateLinkResource.id)).toEqual([vaultId('kv-a'), vaultId('kv-b')]);
  });
});

describe('control: perimeter reads and faults', () => {
  it('forbidden reads answer 403 AuthorizationFailed in that subscription only, until lifted or reset', async () => {
    await t.emulator.control.forbidPerimeterReads(TEST_SUBSCRIPTION);
    const list = await t.fetch('GET', `${LIST}${API}`);
    expect(list.status).toBe(403);
    expect(list.json.error.code).toBe('AuthorizationFailed');
    expect(list.json.error.message).toContain(`'Microsoft.Network/networkSecurityPerimeters/read' over scope '/subscriptions/${TEST_SUBSCRIPTION}'`);
    const associations = await t.fetch('GET', `${NSP}/resourceAssociations${API}`);
    expect(associations.status).toBe(403);
    expect(associations.json.error.message).toContain(`'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/read' over scope '${NSP}/resourceAssociations'`);
    expect((await t.fetch('GET', `/subscriptions/${OTHER}/providers/Microsoft.Network/networkSecurityPerimeters${API}`)).status).toBe(200);
    // Vault reads in the same subscription are unaffected.
    expect((await t.fetch('GET', `${vaultId('kv-a')}?api-version=2026-02-01`)).status).toBe(200);

    await t.emulator.control.forbidPerimeterReads(TEST_SUBSCRIPTION, false);
    expect((await t.fetch('GET', `${LIST}${API}`)).status).toBe(200);
    await t.emulator.control.forbidPerimeterReads(TEST_SUBSCRIPTION.toUpperCase());
    expect((await t.fetch('GET', `${LIST}${API}`)).status).toBe(403);
    await t.reset({ vaults: [], perimeters: [{ id: NSP }] });
    expect((await t.fetch('GET', `${LIST}${API}`)).status).toBe(200);
  });

  it('faults hit vaults by default and perimeters only when asked, one named perimeter if given', async () => {
    await t.emulator.control.addFault({ kind: 'respond', status: 503, times: 'always' });
    expect((await t.fetch('GET', `${LIST}${API}`)).status).toBe(200);
    expect((await t.fetch('GET', `${vaultId('kv-a')}?api-version=2026-02-01`)).status).toBe(503);
    await t.emulator.control.clearFaults();

    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', perimeter: NSP, status: 500, times: 1 });
    expect((await t.fetch('GET', `${LIST}${API}`)).status).toBe(200);
    expect((await t.fetch('GET', `${perimeterId('nsp-b', TEST_SUBSCRIPTION, 'rg-second')}/resourceAssociations${API}`)).status).toBe(200);
    expect((await t.fetch('GET', `${NSP}/resourceAssociations${API}`)).status).toBe(500);
    expect((await t.fetch('GET', `${NSP}/resourceAssociations${API}`)).status).toBe(200);

    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', status: 429, retryAfter: 3 });
    const throttled = await t.fetch('GET', `${LIST}${API}`);
    expect([throttled.status, throttled.headers['retry-after']]).toEqual([429, '3']);
    expect((await t.fetch('GET', `${vaultId('kv-a')}?api-version=2026-02-01`)).status).toBe(200);
  });

  it('refuses a perimeter fault that names a vault, and a vault fault that names a perimeter', async () => {
    expect((await rejection(t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', vault: 'kv-a', status: 500 }))).message).toContain('names no vault');
    expect((await rejection(t.emulator.control.addFault({ kind: 'respond', perimeter: 'nsp-a', status: 500 }))).message).toContain('needs on: "perimeters"');
    expect(await t.emulator.control.faults()).toEqual([]);
  });
});

describe('seeds', () => {
  it('a seed without perimeters still loads, and seeding keeps perimeters it does not name', async () => {
    await t.emulator.control.seed({ vaults: [seedVault('kv-new')] });
    expect((await t.emulator.control.perimeters()).map((p) => p.perimeter.name).sort()).toEqual(['nsp-a', 'nsp-b', 'nsp-c']);
    await t.emulator.control.seed({ vaults: [], perimeters: [{ id: NSP }] });
    const replaced = await t.emulator.control.perimeters();
    expect(replaced.find((p) => p.perimeter.name === 'nsp-a')?.associations).toEqual([]);
    expect(replaced).toHaveLength(3);
  });

  it('a vault may be seeded SecuredByPerimeter, stored in canonical case', async () => {
    await t.emulator.control.seed({ vaults: [seedVault('kv-s', undefined, { publicNetworkAccess: 'securedbyperimeter' })] });
    expect((await t.emulator.control.vault('kv-s'))?.properties.publicNetworkAccess).toBe('SecuredByPerimeter');
    const patched = await t.fetch('PATCH', `${vaultId('kv-a')}?api-version=2026-02-01`, { body: { properties: { publicNetworkAccess: 'SecuredByPerimeter' } } });
    expect(patched.json.properties.publicNetworkAccess).toBe('SecuredByPerimeter');
  });

  it('refuses a bad seed naming every vault and perimeter problem, and keeps what was there', async () => {
    const e = await rejection(
      t.emulator.control.reset({
        vaults: [{ id: '/subscriptions/x/vaults/bad' }],
        perimeters: [
          { id: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/z' },
          { id: perimeterId('nsp-ok'), associations: [{ privateLinkResourceId: 'kv-a', accessMode: 'Enforced' }] },
          { id: perimeterId('nsp-p'), profiles: ['one'], associations: [{ privateLinkResourceId: vaultId('kv-a'), profile: 'two', accessMode: 'Learning' }] },
          {
            id: perimeterId('nsp-dup'),
            associations: [
              { privateLinkResourceId: vaultId('kv-a'), accessMode: 'Learning' },
              { privateLinkResourceId: vaultId('kv-a'), name: 'again', accessMode: 'Enforced' },
            ],
          },
          { id: NSP },
          { id: NSP.toUpperCase() },
        ],
      }),
    );
    expect(e.message).toContain('invalid vaults and perimeters');
    expect(e.message).toContain('vaults[0]');
    expect(e.message).toContain('perimeters[0]');
    expect(e.message).toContain('is not a perimeter resource ID');
    expect(e.message).toContain('perimeters[1]');
    expect(e.message).toContain('associations[0]: privateLinkResourceId "kv-a" is not an ARM resource ID');
    expect(e.message).toContain('perimeters[2]');
    expect(e.message).toContain('profile "two" is not one of the perimeter\'s profiles (one)');
    expect(e.message).toContain('perimeters[3]');
    expect(e.message).toContain(`associations[1]: ${vaultId('kv-a')} is already associated with this perimeter`);
    expect(e.message).toContain('perimeters[5]');
    expect(e.message).toContain('seeded twice');
    expect((await t.emulator.control.perimeters()).map((p) => p.perimeter.name).sort()).toEqual(['nsp-a', 'nsp-b', 'nsp-c']);
    expect((await t.emulator.control.vaults()).map((v) => v.name).sort()).toEqual(['kv-a', 'kv-b']);
  });

  it('checks the seed\'s shape with the field path, as for vaults', async () => {
    const e = await rejection(t.emulator.control.seed({ vaults: [], perimeters: [{ id: NSP, associations: [{ privateLinkResourceId: vaultId('kv-a'), accessMode: 'enforced' }] }] } as never));
    expect(e.message).toContain('perimeters[0].associations[0].accessMode');
  });

  it('a seed given at start-up holds perimeters too', async () => {
    const emulator = await startEmulator({ seed: { vaults: [], perimeters: [{ id: NSP, associations: [{ privateLinkResourceId: vaultId('kv-a'), accessMode: 'Learning' }] }] } });
    try {
      expect((await emulator.control.perimeters())[0]?.associations[0]?.properties.accessMode).toBe('Learning');
    } finally {
      await emulator.close();
    }
    const bad = await rejection(startEmulator({ seed: { vaults: [], perimeters: [{ id: 'nope' }] } }));
    expect(isTagwallError(bad, 'EMULATOR_SEED_INVALID')).toBe(true);
  });

  it('every seed example in docs/EMULATOR.md is a valid seed', async () => {
    const doc = await readFile(new URL('../../docs/EMULATOR.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(1);
    for (const [i, block] of blocks.entries()) await t.reset(parseEmulatorSeed(JSON.parse(block), `docs example ${i}`));
    const perimeterExample = blocks.find((b) => b.includes('"perimeters"'))!;
    await t.reset(parseEmulatorSeed(JSON.parse(perimeterExample), 'the perimeter example'));
    expect((await t.emulator.control.perimeters()).flatMap((p) => p.associations.map((a) => a.properties.accessMode)).sort()).toEqual(['Enforced', 'Learning']);
  });
});
