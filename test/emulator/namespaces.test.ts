import { describe, expect, it } from 'vitest';
import { subnetId, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, type TestEmulator } from '../helpers/emulator.js';

/**
 * The namespace models as a client sees them over HTTPS: status, ARM code and stored JSON, for
 * Event Hubs and Service Bus alike, plus where the two services differ.
 */

const KINDS = [
  { provider: 'Microsoft.EventHub', type: 'Microsoft.EventHub/Namespaces', api: '2024-01-01' },
  { provider: 'Microsoft.ServiceBus', type: 'Microsoft.ServiceBus/Namespaces', api: '2021-11-01' },
] as const;

const SUBNET = subnetId('vnet-apps', 'snet-web');

let t: TestEmulator;

function nsId(provider: string, name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${provider}/namespaces/${name}`;
}

useTestEmulator((started) => (t = started), () => ({
  vaults: [],
  resources: KINDS.flatMap((k) => [
    { id: nsId(k.provider, 'ns-a'), sku: { name: 'Premium' }, location: 'northeurope', networkRuleSet: { defaultAction: 'Deny', trustedServiceAccessEnabled: true, ipRules: [{ ipMask: '81.2.69.142' }] } },
    { id: nsId(k.provider, 'ns-basic'), sku: { name: 'basic' } },
  ]),
}));

describe.each(KINDS)('$provider namespaces', (k) => {
  const ruleSet = (name: string) => `${nsId(k.provider, name)}/networkRuleSets/default?api-version=${k.api}`;
  const put = (name: string, properties: unknown) => t.fetch('PUT', ruleSet(name), { body: { properties } });

  it('serves the namespace as ARM returns it, without its rule set, and the rule set as its own resource', async () => {
    const ns = await t.fetch('GET', `${nsId(k.provider, 'ns-a')}?api-version=${k.api}`);
    expect(ns.status).toBe(200);
    expect(ns.json).toMatchObject({ id: nsId(k.provider, 'ns-a'), name: 'ns-a', type: k.type, location: 'northeurope', sku: { name: 'Premium', tier: 'Premium' }, properties: { provisioningState: 'Succeeded', publicNetworkAccess: 'Enabled' } });
    expect(ns.json.networkRuleSet).toBeUndefined();
    const rs = await t.fetch('GET', ruleSet('ns-a'));
    expect(rs.json).toEqual({
      id: `${nsId(k.provider, 'ns-a')}/networkRuleSets/default`,
      name: 'default',
      type: `${k.type}/NetworkRuleSets`,
      location: 'northeurope',
      properties: { publicNetworkAccess: 'Enabled', defaultAction: 'Deny', virtualNetworkRules: [], ipRules: [{ ipMask: '81.2.69.142', action: 'Allow' }], trustedServiceAccessEnabled: true },
    });
    expect((await t.emulator.control.resource(nsId(k.provider, 'ns-a')))?.['networkRuleSet']).toEqual(rs.json);
    expect((await t.fetch('GET', `${nsId(k.provider, 'ns-a')}/networkRuleSets?api-version=${k.api}`)).json).toEqual({ value: [rs.json] });
  });

  it('replaces the whole rule set on PUT: a field left out takes the service default', async () => {
    const res = await put('ns-a', { ipRules: [{ ipMask: '52.5.6.0/24' }] });
    expect(res.status).toBe(200);
    expect(res.json.properties).toEqual({ publicNetworkAccess: 'Enabled', defaultAction: 'Allow', virtualNetworkRules: [], ipRules: [{ ipMask: '52.5.6.0/24', action: 'Allow' }], trustedServiceAccessEnabled: false });
  });

  it('keeps the namespace copy of publicNetworkAccess in step with the rule set', async () => {
    await put('ns-a', { publicNetworkAccess: 'Disabled', defaultAction: 'Deny' });
    expect((await t.fetch('GET', `${nsId(k.provider, 'ns-a')}?api-version=${k.api}`)).json.properties.publicNetworkAccess).toBe('Disabled');
  });

  it('takes private ranges and masks with host bits, as the service does, stored as sent', async () => {
    const res = await put('ns-a', { ipRules: [{ ipMask: '10.1.1.1' }, { ipMask: '10.0.0.0/16' }, { ipMask: '52.5.6.7/24' }] });
    expect(res.status).toBe(200);
    expect(res.json.properties.ipRules.map((r: { ipMask: string }) => r.ipMask)).toEqual(['10.1.1.1', '10.0.0.0/16', '52.5.6.7/24']);
  });

  it.each([['52.5.6.0/33'], ['52.5.6'], ['2001:db8::/32'], ['52.5.6.7,52.5.6.8']])("refuses %s with Azure's BadRequest text, storing nothing", async (mask) => {
    const res = await put('ns-a', { ipRules: [{ ipMask: '52.5.6.1' }, { ipMask: mask }] });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: { code: 'BadRequest', message: 'The provided ip address mask does not follow the CIDR notation.' } });
    expect((await t.fetch('GET', ruleSet('ns-a'))).json.properties.ipRules).toEqual([{ ipMask: '81.2.69.142', action: 'Allow' }]);
  });

  it('refuses the same range twice, however it is spelled', async () => {
    const res = await put('ns-a', { ipRules: [{ ipMask: '52.5.6.7' }, { ipMask: '52.5.6.7/32' }] });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('BadRequest');
  });

  it('refuses an action other than Allow, and an unknown defaultAction', async () => {
    expect((await put('ns-a', { ipRules: [{ ipMask: '52.5.6.7', action: 'Deny' }] })).status).toBe(400);
    expect((await put('ns-a', { defaultAction: 'Block' })).status).toBe(400);
  });

  it('refuses IP rules on a Basic namespace, but serves its (empty) rule set', async () => {
    expect((await t.fetch('GET', ruleSet('ns-basic'))).json.properties).toMatchObject({ defaultAction: 'Allow', ipRules: [] });
    const res = await put('ns-basic', { defaultAction: 'Deny', ipRules: [{ ipMask: '52.5.6.7' }] });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('BadRequest');
  });

  it('answers 404 ResourceNotFound for the rule set of an unknown namespace', async () => {
    const res = await t.fetch('GET', ruleSet('ns-missing'));
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('ResourceNotFound');
  });

  it('checks the api-version against what the SDK sends', async () => {
    const res = await t.fetch('GET', `${nsId(k.provider, 'ns-a')}/networkRuleSets/default?api-version=2017-04-01`);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('InvalidApiVersionParameter');
  });

  it('refuses writes to the namespace itself and other child paths', async () => {
    expect((await t.fetch('PUT', `${nsId(k.provider, 'ns-a')}?api-version=${k.api}`, { body: {} })).status).toBe(405);
    expect((await t.fetch('GET', `${nsId(k.provider, 'ns-a')}/queues/q1?api-version=${k.api}`)).status).toBe(404);
  });
});

describe('where the services differ', () => {
  const rules = (n: number) => Array.from({ length: n }, (_, i) => ({ ipMask: `52.6.${Math.floor(i / 256)}.${i % 256}` }));
  const vnet = [{ subnet: { id: SUBNET } }];

  it('Event Hubs: 128 IP rules and VNet rules counted apart; Standard takes VNet rules', async () => {
    const eh = (name: string) => `${nsId('Microsoft.EventHub', name)}/networkRuleSets/default?api-version=2024-01-01`;
    expect((await t.fetch('PUT', eh('ns-a'), { body: { properties: { ipRules: rules(128), virtualNetworkRules: vnet } } })).status).toBe(200);
    expect((await t.fetch('PUT', eh('ns-a'), { body: { properties: { ipRules: rules(129) } } })).status).toBe(400);
    await t.emulator.control.seed({ vaults: [], resources: [{ id: nsId('Microsoft.EventHub', 'ns-std'), sku: { name: 'Standard' } }] });
    expect((await t.fetch('PUT', eh('ns-std'), { body: { properties: { virtualNetworkRules: vnet } } })).status).toBe(200);
  });

  it('Service Bus: one limit of 128 for IP and VNet rules together; VNet rules only in Premium', async () => {
    const sb = (name: string) => `${nsId('Microsoft.ServiceBus', name)}/networkRuleSets/default?api-version=2021-11-01`;
    expect((await t.fetch('PUT', sb('ns-a'), { body: { properties: { ipRules: rules(127), virtualNetworkRules: vnet } } })).status).toBe(200);
    expect((await t.fetch('PUT', sb('ns-a'), { body: { properties: { ipRules: rules(128), virtualNetworkRules: vnet } } })).status).toBe(400);
    await t.emulator.control.seed({ vaults: [], resources: [{ id: nsId('Microsoft.ServiceBus', 'ns-std'), sku: { name: 'Standard' } }] });
    expect((await t.fetch('PUT', sb('ns-std'), { body: { properties: { ipRules: rules(128) } } })).status).toBe(200);
    expect((await t.fetch('PUT', sb('ns-std'), { body: { properties: { virtualNetworkRules: vnet } } })).status).toBe(400);
  });
});

describe('namespace seeds', () => {
  it('refuses a bad SKU, an unknown field or a bad rule set, naming each, and changes nothing', async () => {
    const failed = t.emulator.control.seed({
      vaults: [],
      resources: [
        { id: nsId('Microsoft.EventHub', 'ns-x'), sku: { name: 'Gold' } },
        { id: nsId('Microsoft.EventHub', 'ns-y'), networkRuleSets: {} },
        { id: nsId('Microsoft.ServiceBus', 'ns-z'), networkRuleSet: { ipRules: [{ ipMask: 'nope' }] } },
      ],
    });
    await expect(failed).rejects.toThrow(/resources\[0\].*sku\.name[\s\S]*resources\[1\].*unknown field networkRuleSets[\s\S]*resources\[2\].*networkRuleSet: The provided ip address mask/);
    expect(await t.emulator.control.resource(nsId('Microsoft.EventHub', 'ns-x'))).toBeUndefined();
  });

  it('lets the namespace give publicNetworkAccess to a rule set that does not', async () => {
    await t.emulator.control.seed({ vaults: [], resources: [{ id: nsId('Microsoft.ServiceBus', 'ns-p'), properties: { publicNetworkAccess: 'Disabled' } }] });
    expect((await t.emulator.control.resource(nsId('Microsoft.ServiceBus', 'ns-p')))?.['networkRuleSet']).toMatchObject({ properties: { publicNetworkAccess: 'Disabled' } });
  });
});
