import { describe, expect, it } from 'vitest';
import { seedVault, useTestEmulator, subnetId, TEST_GROUP, vaultId, vaultRef, type TestEmulator } from '../helpers/emulator.js';

/** Key Vault's checks on networkAcls, as a client sees them: status, ARM code and exact text. */

const API = '?api-version=2026-02-01';

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [
    seedVault('kv-rules', { defaultAction: 'Deny', ipRules: [{ value: '145.14.56.23/32' }] }),
    seedVault('kv-legacy', { defaultAction: 'Deny', ipRules: [{ value: '145.14.56.23' }] }, { oldApi: true }),
  ],
}));

function patchRules(vault: string, values: readonly string[]) {
  return t.fetch('PATCH', `${vaultId(vault)}${API}`, { body: { properties: { networkAcls: { ipRules: values.map((value) => ({ value })) } } } });
}

async function storedRules(vault: string): Promise<string[]> {
  return ((await t.emulator.control.vault(vault))?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

describe('IP rules', () => {
  it('stores a bare address as /32, and the SDK reads it back that way', async () => {
    const target = t.firewalls();
    const current = await target.read(vaultRef('kv-rules'));
    const written = await target.write(current, { ipRules: ['52.1.2.3', '20.40.0.0/13'] });
    expect(written.ipRules).toEqual(['52.1.2.3/32', '20.40.0.0/13']);
    expect((await target.read(vaultRef('kv-rules'))).ipRules).toEqual(['52.1.2.3/32', '20.40.0.0/13']);
  });

  it("refuses an RFC 1918 range with Azure's exact text (en dash included)", async () => {
    const res = await patchRules('kv-rules', ['10.0.0.0/8']);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        code: 'BadRequest',
        message: 'Invalid value found at properties.networkAcls.ipRules[0].value: 10.0.0.0/8 belongs to forbidden range 10.0.0.0\u201310.255.255.255 (private IP addresses)',
      },
    });
    expect(await storedRules('kv-rules')).toEqual(['145.14.56.23/32']);
  });

  it.each([
    ['172.20.1.0/24', '172.16.0.0\u2013172.31.255.255 (private IP addresses)'],
    ['192.168.1.7', '192.168.0.0\u2013192.168.255.255 (private IP addresses)'],
    ['100.64.0.0/10', '100.64.0.0\u2013100.127.255.255 (shared address space)'],
    ['127.0.0.1', '127.0.0.0\u2013127.255.255.255 (loopback addresses)'],
    ['169.254.169.254', '169.254.0.0\u2013169.254.255.255 (link-local addresses)'],
    ['203.0.113.0/24', '203.0.113.0\u2013203.0.113.255 (documentation addresses)'],
    ['224.0.0.0/4', '224.0.0.0\u2013239.255.255.255 (multicast addresses)'],
    ['0.0.0.0/0', '0.0.0.0\u20130.255.255.255 (current network addresses)'],
  ])('refuses %s as a forbidden range: %s', async (value, range) => {
    const res = await patchRules('kv-rules', ['20.1.0.0/16', value]);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(`Invalid value found at properties.networkAcls.ipRules[1].value: ${value} belongs to forbidden range ${range}`);
  });

  it('keeps public neighbours of private space (172.32.0.0/11 is public)', async () => {
    const res = await patchRules('kv-rules', ['172.32.0.0/11', '172.199.0.0/16']);
    expect(res.status).toBe(200);
    expect(await storedRules('kv-rules')).toEqual(['172.32.0.0/11', '172.199.0.0/16']);
  });

  it.each([
    ['not-an-ip', 'is not a valid IPv4 address or CIDR range'],
    ['1.2.3.4/33', 'is not a valid IPv4 address or CIDR range'],
    ['1.2.3', 'is not a valid IPv4 address or CIDR range'],
    ['20.1.2.3/16', 'has host bits set'],
    ['2001:db8::/32', 'only IPv4 addresses and ranges are supported'],
  ])('refuses %s with a 400', async (value, why) => {
    const res = await patchRules('kv-rules', [value]);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('BadRequest');
    expect(res.json.error.message).toMatch(/^Invalid value found at properties\.networkAcls\.ipRules\[0\]\.value: /);
    expect(res.json.error.message).toContain(why);
  });

  it('accepts exactly 1000 rules and refuses 1001', async () => {
    const rules = Array.from({ length: 1001 }, (_, i) => `40.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const tooMany = await patchRules('kv-rules', rules);
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toBe(
      'Invalid value found at properties.networkAcls.ipRules: 1001 IP rules exceed the maximum of 1000 IP rules per vault',
    );
    const ok = await patchRules('kv-rules', rules.slice(0, 1000));
    expect(ok.status).toBe(200);
    expect(await storedRules('kv-rules')).toHaveLength(1000);
  });
});

describe('virtual-network rules', () => {
  it('accepts exactly 200 through the SDK and refuses 201', async () => {
    const vnetRules = Array.from({ length: 201 }, (_, i) => ({ id: subnetId(`vnet-${Math.floor(i / 50)}`, `snet-${i}`), ignoreMissingVnetServiceEndpoint: i % 2 === 0 }));
    const sdk = t.sdk();
    const tooMany = await sdk.vaults.update(TEST_GROUP, 'kv-rules', { properties: { networkAcls: { virtualNetworkRules: vnetRules } } }).then(
      () => undefined,
      (e: { statusCode?: number; message?: string }) => e,
    );
    expect(tooMany?.statusCode).toBe(400);
    expect(tooMany?.message).toContain('201 virtual network rules exceed the maximum of 200');
    const ok = await sdk.vaults.update(TEST_GROUP, 'kv-rules', { properties: { networkAcls: { virtualNetworkRules: vnetRules.slice(0, 200) } } });
    expect(ok.properties.networkAcls?.virtualNetworkRules).toHaveLength(200);
    expect(ok.properties.networkAcls?.virtualNetworkRules?.[1]).toEqual(vnetRules[1]);
  });

  it('refuses a rule whose id is not a subnet', async () => {
    const res = await t.fetch('PATCH', `${vaultId('kv-rules')}${API}`, {
      body: { properties: { networkAcls: { virtualNetworkRules: [{ id: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/v' }] } } },
    });
    expect(res.status).toBe(400);
  });
});

describe('old-API mode', () => {
  it('a vault seeded with oldApi refuses /31 and explicit /32, and keeps single addresses bare', async () => {
    for (const value of ['20.1.2.0/31', '20.1.2.3/32']) {
      const res = await patchRules('kv-legacy', [value]);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toBe(
        `Invalid value found at properties.networkAcls.ipRules[0].value: ${value} is not supported: /31 and /32 CIDR ranges are not allowed; use single IP addresses instead`,
      );
    }
    const ok = await patchRules('kv-legacy', ['20.1.2.2', '20.1.2.3', '20.1.0.0/30']);
    expect(ok.status).toBe(200);
    expect(await storedRules('kv-legacy')).toEqual(['20.1.2.2', '20.1.2.3', '20.1.0.0/30']);
    expect(await storedRules('kv-rules')).toEqual(['145.14.56.23/32']);
  });

  it('the global setting turns it on for every vault, and off again', async () => {
    await t.emulator.control.updateSettings({ oldApi: true });
    expect((await patchRules('kv-rules', ['20.1.2.0/31'])).status).toBe(400);
    await t.emulator.control.updateSettings({ oldApi: false });
    expect((await patchRules('kv-rules', ['20.1.2.0/31'])).status).toBe(200);
    expect(await storedRules('kv-rules')).toEqual(['20.1.2.0/31']);
  });
});

it('defaultAction, bypass and publicNetworkAccess must be known values (case-insensitive, stored canonical)', async () => {
  const bad = await t.fetch('PATCH', `${vaultId('kv-rules')}${API}`, { body: { properties: { networkAcls: { defaultAction: 'Block' } } } });
  expect(bad.status).toBe(400);
  expect(bad.json.error.message).toContain('properties.networkAcls.defaultAction');
  const ok = await t.fetch('PATCH', `${vaultId('kv-rules')}${API}`, { body: { properties: { networkAcls: { defaultAction: 'allow', bypass: 'none' } } } });
  expect(ok.status).toBe(200);
  expect(ok.json.properties.networkAcls).toMatchObject({ defaultAction: 'Allow', bypass: 'None' });
});
