import { describe, expect, it } from 'vitest';
import { perimeterId, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/**
 * A perimeter profile's access rules over raw HTTPS: the NspAccessRule shape, PUT and DELETE
 * answers, the checks a PUT goes through and the 200-element limit. Expected bodies are
 * written out here from the seed, never read back from the emulator first.
 */

const API = '?api-version=2025-05-01';
const NSP = perimeterId('nsp-rules');
const PROFILE = `${NSP}/profiles/defaultProfile`;
const RULES = `${PROFILE}/accessRules`;
const PARTNER = '/subscriptions/33333333-3333-3333-3333-333333333333';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  perimeters: [
    {
      id: NSP,
      profiles: ['defaultProfile', 'locked'],
      accessRules: [
        { name: 'office', direction: 'Inbound', addressPrefixes: ['81.2.69.142/32', '2001:db8::/48'] },
        { name: 'partners', direction: 'Inbound', subscriptions: [{ id: PARTNER }] },
        { name: 'egress', direction: 'Outbound', fullyQualifiedDomainNames: ['www.contoso.com'] },
        { name: 'locked-office', profile: 'LOCKED', direction: 'Inbound', addressPrefixes: ['81.2.69.0/24'] },
      ],
    },
  ],
}));

function rule(profile: string, name: string, direction: string, props: { addressPrefixes?: string[]; subscriptions?: { id: string }[]; fullyQualifiedDomainNames?: string[] }): unknown {
  return {
    id: `${profile}/accessRules/${name}`,
    name,
    type: 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules',
    properties: {
      provisioningState: 'Succeeded',
      direction,
      addressPrefixes: props.addressPrefixes ?? [],
      fullyQualifiedDomainNames: props.fullyQualifiedDomainNames ?? [],
      subscriptions: props.subscriptions ?? [],
      networkSecurityPerimeters: [],
      emailAddresses: [],
      phoneNumbers: [],
      serviceTags: [],
    },
  };
}

const prefixes = (n: number, second = 10): string[] => Array.from({ length: n }, (_, i) => `20.${second}.${Math.floor(i / 256)}.${i % 256}/32`);

describe('reads', () => {
  it('lists a profile\'s rules by name in the NspAccessRule shape, and reads one', async () => {
    const list = await t.fetch('GET', `${RULES}${API}`);
    expect(list.status).toBe(200);
    expect(list.json).toEqual({
      value: [
        rule(PROFILE, 'egress', 'Outbound', { fullyQualifiedDomainNames: ['www.contoso.com'] }),
        rule(PROFILE, 'office', 'Inbound', { addressPrefixes: ['81.2.69.142/32', '2001:db8::/48'] }),
        rule(PROFILE, 'partners', 'Inbound', { subscriptions: [{ id: PARTNER }] }),
      ],
    });
    expect((await t.fetch('GET', `${RULES}/OFFICE?api-version=2024-07-01`)).json).toEqual(rule(PROFILE, 'office', 'Inbound', { addressPrefixes: ['81.2.69.142/32', '2001:db8::/48'] }));
    expect((await t.fetch('GET', `${NSP}/profiles/Locked/accessRules${API}`)).json.value.map((r: { id: string }) => r.id)).toEqual([`${NSP}/profiles/locked/accessRules/locked-office`]);
  });

  it('answers 404 for an unknown perimeter, profile or rule, and refuses a Key Vault api-version', async () => {
    const noPerimeter = await t.fetch('GET', `${perimeterId('nsp-none')}/profiles/defaultProfile/accessRules${API}`);
    expect([noPerimeter.status, noPerimeter.json.error.code]).toEqual([404, 'ResourceNotFound']);
    const noProfile = await t.fetch('GET', `${NSP}/profiles/nope/accessRules${API}`);
    expect(noProfile.status).toBe(404);
    expect(noProfile.json.error.message).toContain(`'Microsoft.Network/networkSecurityPerimeters/nsp-rules/profiles/nope' under resource group '${TEST_GROUP}'`);
    const noRule = await t.fetch('GET', `${RULES}/nope${API}`);
    expect(noRule.status).toBe(404);
    expect(noRule.json.error.message).toContain('profiles/defaultProfile/accessRules/nope');
    expect((await t.fetch('PUT', `${NSP}/profiles/nope/accessRules/r1${API}`, { body: { properties: { addressPrefixes: ['20.1.0.0/16'] } } })).status).toBe(404);
    expect((await t.fetch('DELETE', `${perimeterId('nsp-none')}/profiles/defaultProfile/accessRules/r1${API}`)).status).toBe(404);
    expect((await t.fetch('GET', `${RULES}?api-version=2026-02-01`)).json.error.code).toBe('InvalidApiVersionParameter');
    expect((await t.fetch('POST', `${RULES}/office${API}`, { body: {} })).status).toBe(405);
  });

  it('pages a long list at 20 with a nextLink', async () => {
    await t.reset({
      vaults: [],
      perimeters: [{ id: NSP, accessRules: Array.from({ length: 25 }, (_, i) => ({ name: `r${String(i).padStart(2, '0')}`, direction: 'Inbound' as const, addressPrefixes: [`20.1.${i}.0/24`] })) }],
    });
    const first = await t.fetch('GET', `${RULES}${API}`);
    expect(first.json.value).toHaveLength(20);
    const second = await t.fetch('GET', first.json.nextLink.slice(t.emulator.url.length));
    expect(second.json.value.map((r: { name: string }) => r.name)).toEqual(['r20', 'r21', 'r22', 'r23', 'r24']);
  });
});

describe('writes', () => {
  it('PUT creates (201) and replaces (200, keeping the stored spelling); DELETE answers 200, then 204', async () => {
    const created = await t.fetch('PUT', `${RULES}/tagwall-1${API}`, { body: { properties: { direction: 'Inbound', addressPrefixes: ['20.1.0.0/16'] } } });
    expect([created.status, created.json]).toEqual([201, rule(PROFILE, 'tagwall-1', 'Inbound', { addressPrefixes: ['20.1.0.0/16'] })]);
    const replaced = await t.fetch('PUT', `${RULES}/TAGWALL-1${API}`, { body: { properties: { direction: 'inbound', addressPrefixes: ['20.2.0.0/16', '20.3.0.0/31'] } } });
    expect([replaced.status, replaced.json]).toEqual([200, rule(PROFILE, 'tagwall-1', 'Inbound', { addressPrefixes: ['20.2.0.0/16', '20.3.0.0/31'] })]);
    expect((await t.fetch('DELETE', `${RULES}/tagwall-1${API}`)).status).toBe(200);
    expect((await t.fetch('DELETE', `${RULES}/tagwall-1${API}`)).status).toBe(204);
    expect((await t.fetch('GET', `${RULES}${API}`)).json.value.map((r: { name: string }) => r.name)).toEqual(['egress', 'office', 'partners']);
  });

  it.each([
    ['an address that is not a prefix', { addressPrefixes: ['20.1.2.3'] }, 'InvalidAddressPrefix'],
    ['a malformed prefix', { addressPrefixes: ['20.1.2.0/33'] }, 'InvalidAddressPrefix'],
    ['junk', { addressPrefixes: ['AzureCloud'] }, 'InvalidAddressPrefix'],
    ['a service tag, which the spec marks unavailable', { serviceTags: ['AzureMonitor'] }, 'AccessRuleTypeUnavailable'],
    ['prefixes and subscriptions in one rule', { addressPrefixes: ['20.1.0.0/16'], subscriptions: [{ id: PARTNER }] }, 'InvalidAccessRule'],
    ['an inbound FQDN', { fullyQualifiedDomainNames: ['www.contoso.com'] }, 'InvalidAccessRule'],
    ['an outbound prefix', { direction: 'Outbound', addressPrefixes: ['20.1.0.0/16'] }, 'InvalidAccessRule'],
    ['an empty inbound rule', {}, 'InvalidAccessRule'],
    ['a direction that is neither', { direction: 'Sideways', addressPrefixes: ['20.1.0.0/16'] }, 'InvalidAccessRuleDirection'],
    ['a subscription that is not an ARM ID', { subscriptions: [{ id: '33333333-3333-3333-3333-333333333333' }] }, 'InvalidRequestContent'],
  ])('refuses %s with 400 and changes nothing', async (_, properties, code) => {
    const before = await t.emulator.control.perimeters();
    const res = await t.fetch('PUT', `${RULES}/office${API}`, { body: { properties } });
    expect([res.status, res.json.error.code]).toEqual([400, code]);
    expect(await t.emulator.control.perimeters()).toEqual(before);
  });

  it('takes private and reserved ranges, as the spec\'s own example does (10.11.0.0/16)', async () => {
    const res = await t.fetch('PUT', `${RULES}/lan${API}`, { body: { properties: { addressPrefixes: ['10.11.0.0/16', '192.168.0.0/24', 'fd00::/8'] } } });
    expect(res.status).toBe(201);
  });

  it('refuses a rule name the SDK would refuse', async () => {
    const res = await t.fetch('PUT', `${RULES}/-bad-${API}`, { body: { properties: { addressPrefixes: ['20.1.0.0/16'] } } });
    expect([res.status, res.json.error.code]).toEqual([400, 'InvalidResourceName']);
  });
});

describe('the element limit: 200 per profile for each direction', () => {
  // The seed's inbound elements: two prefixes of office, one subscription of partners.
  const SEEDED_INBOUND = 3;

  it('takes the 200th inbound element and refuses the 201st, counting prefixes and subscriptions of every rule', async () => {
    const fits = await t.fetch('PUT', `${RULES}/big${API}`, { body: { properties: { addressPrefixes: prefixes(200 - SEEDED_INBOUND) } } });
    expect(fits.status).toBe(201);
    const over = await t.fetch('PUT', `${RULES}/one-more${API}`, { body: { properties: { addressPrefixes: ['20.99.0.0/16'] } } });
    expect([over.status, over.json.error.code]).toEqual([400, 'NspRuleElementLimitExceeded']);
    expect(over.json.error.message).toContain('would hold 201 rule elements');
    // Replacing a rule counts its new content, not old and new together.
    expect((await t.fetch('PUT', `${RULES}/big${API}`, { body: { properties: { addressPrefixes: prefixes(200 - SEEDED_INBOUND, 11) } } })).status).toBe(200);
    // Another profile has its own 200.
    expect((await t.fetch('PUT', `${NSP}/profiles/locked/accessRules/big${API}`, { body: { properties: { addressPrefixes: prefixes(199) } } })).status).toBe(201);
  });

  it('counts outbound elements apart from inbound ones', async () => {
    expect((await t.fetch('PUT', `${RULES}/big${API}`, { body: { properties: { addressPrefixes: prefixes(200 - SEEDED_INBOUND) } } })).status).toBe(201);
    const fqdns = Array.from({ length: 199 }, (_, i) => `h${i}.contoso.com`);
    expect((await t.fetch('PUT', `${RULES}/egress-2${API}`, { body: { properties: { direction: 'Outbound', fullyQualifiedDomainNames: fqdns } } })).status).toBe(201);
    const over = await t.fetch('PUT', `${RULES}/egress-3${API}`, { body: { properties: { direction: 'Outbound', fullyQualifiedDomainNames: ['x.contoso.com'] } } });
    expect([over.status, over.json.error.code]).toEqual([400, 'NspRuleElementLimitExceeded']);
  });

  it('refuses a seed over the limit, naming the profile', async () => {
    const e = await t.emulator.control.reset({ vaults: [], perimeters: [{ id: NSP, accessRules: [{ name: 'big', direction: 'Inbound', addressPrefixes: prefixes(201) }] }] }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(e?.message).toContain('201 rule elements');
    expect(e?.message).toContain(PROFILE);
  });
});

describe('seeds, faults and the request log', () => {
  it('names every bad seeded rule by its index', async () => {
    const e = await t.emulator.control
      .reset({
        vaults: [],
        perimeters: [
          {
            id: NSP,
            accessRules: [
              { name: 'a', direction: 'Inbound', addressPrefixes: ['nope'] },
              { name: 'b', profile: 'missing', direction: 'Inbound', addressPrefixes: ['20.1.0.0/16'] },
            ],
          },
          {
            id: perimeterId('nsp-two'),
            accessRules: [
              { name: 'same', direction: 'Inbound', addressPrefixes: ['20.1.0.0/16'] },
              { name: 'SAME', direction: 'Inbound', addressPrefixes: ['20.2.0.0/16'] },
            ],
          },
        ],
      })
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(e?.message).toContain('perimeters[0]');
    expect(e?.message).toContain("accessRules[0]: Invalid value found at properties.addressPrefixes[0]: 'nope'");
    expect(e?.message).toContain('perimeters[1]');
    expect(e?.message).toContain('accessRules[1]: profile defaultProfile already has an access rule named SAME');
    // The seed as a whole was refused: the rules from before are still there.
    expect((await t.emulator.control.perimeters())[0]?.accessRules.map((r) => r.name)).toEqual(['egress', 'office', 'partners', 'locked-office']);
  });

  it('a perimeter fault hits its access-rule writes; the log names the perimeter and keeps the PUT body', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', perimeter: 'nsp-rules', method: 'PUT', status: 409, code: 'AnotherOperationInProgress' });
    const body = { properties: { direction: 'Inbound', addressPrefixes: ['20.1.0.0/16'] } };
    expect((await t.fetch('PUT', `${RULES}/tagwall-1${API}`, { body })).status).toBe(409);
    expect((await t.fetch('PUT', `${RULES}/tagwall-1${API}`, { body })).status).toBe(201);
    const log = await t.emulator.control.requests({ kind: 'arm' });
    expect(log.map((r) => [r.method, r.status, r.perimeter, r.apiVersion])).toEqual([
      ['PUT', 409, 'nsp-rules', '2025-05-01'],
      ['PUT', 201, 'nsp-rules', '2025-05-01'],
    ]);
    expect(log[1]?.body).toEqual(body);
    expect(log[1]?.path).toBe(`/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Network/networkSecurityPerimeters/nsp-rules/profiles/defaultProfile/accessRules/tagwall-1`);
  });
});
