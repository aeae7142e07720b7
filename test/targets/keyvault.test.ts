import type { FirewallState, NetworkAcls } from '../../src/targets/firewall.js';
import { describe, expect, it } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import { createKeyVaultFirewalls } from '../../src/targets/keyvault/adapter.js';
import { closedPort } from '../helpers/ports.js';
import { seedVault, useTestEmulator, subnetId, vaultRef, type TestEmulator } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';

/** The networkAcls the adapter keeps to send back as read (what a PATCH must not lose). */
function aclsOf(fw: FirewallState): NetworkAcls | undefined {
  return (fw.opaque as { networkAcls: NetworkAcls | undefined }).networkAcls;
}

const OFFICE = '145.14.56.23/32';
const SUBNET = subnetId('vnet-apps', 'snet-web');

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [
    seedVault('kv-locked', {
      bypass: 'None',
      defaultAction: 'Deny',
      ipRules: [{ value: OFFICE }],
      virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: true }],
    }),
    seedVault('kv-open', { bypass: 'AzureServices', defaultAction: 'Allow', ipRules: [], virtualNetworkRules: [] }),
    seedVault('kv-blank'),
  ],
}));

describe('read and write through the real SDK', () => {
  it('reads networkAcls and publicNetworkAccess as stored', async () => {
    const fw = await t.firewalls().read(vaultRef('kv-locked'));
    expect(fw.resource.name).toBe('kv-locked');
    expect(fw.posture.publicNetworkAccess).toBe('Enabled');
    expect(aclsOf(fw)).toEqual({
      bypass: 'None',
      defaultAction: 'Deny',
      ipRules: [{ value: OFFICE }],
      virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: true }],
    });
  });

  it('sends the bearer token over HTTPS for the endpoint scope, and the emulator records it', async () => {
    await t.firewalls().read(vaultRef('kv-open'));
    expect(t.credential.requests.at(-1)).toEqual([`${t.emulator.url}/.default`]);
    const log = await t.emulator.control.requests({ vault: 'kv-open' });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ method: 'GET', status: 200, apiVersion: '2026-02-01', token: t.credential.token });
  });

  it('writes with one PATCH that changes the IP rules and keeps bypass, defaultAction and VNet rules exactly', async () => {
    const target = t.firewalls();
    const current = await target.read(vaultRef('kv-locked'));
    const written = await target.write(current, { ipRules: [OFFICE, '20.38.64.0/19', '52.5.6.7'] });
    const expected = {
      bypass: 'None',
      defaultAction: 'Deny',
      ipRules: [{ value: OFFICE }, { value: '20.38.64.0/19' }, { value: '52.5.6.7/32' }],
      virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: true }],
    };
    expect(aclsOf(written)).toEqual(expected);
    expect((await t.emulator.control.vault('kv-locked'))?.properties.networkAcls).toEqual(expected);
    const log = await t.emulator.control.requests({ vault: 'kv-locked' });
    expect(log.map((r) => r.method)).toEqual(['GET', 'PATCH']);
    // The body itself, not just the outcome: merge-patch would hide a dropped field.
    expect(log[1]?.body).toEqual({
      properties: {
        networkAcls: {
          bypass: 'None',
          defaultAction: 'Deny',
          ipRules: [{ value: OFFICE }, { value: '20.38.64.0/19' }, { value: '52.5.6.7' }],
          virtualNetworkRules: [{ id: SUBNET, ignoreMissingVnetServiceEndpoint: true }],
        },
      },
    });
  });

  it('leaves defaultAction Allow alone unless the change asks for Deny', async () => {
    const target = t.firewalls();
    const open = await target.read(vaultRef('kv-open'));
    expect(aclsOf((await target.write(open, { ipRules: ['20.1.0.0/16'] })))?.defaultAction).toBe('Allow');
    const again = await target.read(vaultRef('kv-open'));
    const denied = await target.write(again, { ipRules: ['20.1.0.0/16'], defaultAction: 'Deny' });
    const patches = (await t.emulator.control.requests({ vault: 'kv-open' })).filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => (r.body as { properties: { networkAcls: { defaultAction: string } } }).properties.networkAcls.defaultAction)).toEqual([
      'Allow',
      'Deny',
    ]);
    expect(aclsOf(denied)).toEqual({ bypass: 'AzureServices', defaultAction: 'Deny', ipRules: [{ value: '20.1.0.0/16' }], virtualNetworkRules: [] });
  });

  it('reads a vault that never had a firewall as undefined networkAcls, and can give it one', async () => {
    const target = t.firewalls();
    const blank = await target.read(vaultRef('kv-blank'));
    expect(aclsOf(blank)).toBeUndefined();
    const written = await target.write(blank, { ipRules: ['40.74.0.0/15'] });
    expect(aclsOf(written)).toEqual({ bypass: 'AzureServices', defaultAction: 'Allow', ipRules: [{ value: '40.74.0.0/15' }], virtualNetworkRules: [] });
  });

  it('uses one client per subscription, so one token serves every vault in it', async () => {
    const other = '11111111-1111-1111-1111-111111111111';
    await t.emulator.control.seed({ vaults: [{ id: vaultRef('kv-elsewhere', other).id }] });
    const target = t.firewalls();
    const before = t.credential.requests.length;
    await target.read(vaultRef('kv-locked'));
    await target.read(vaultRef('kv-open'));
    await target.read(vaultRef('kv-locked'));
    expect(t.credential.requests.length - before).toBe(1);
    await target.read(vaultRef('kv-elsewhere', other));
    expect(t.credential.requests.length - before).toBe(2);
  });

  it('talks the api-version it is given', async () => {
    await t.firewalls({ apiVersion: '2025-05-01' }).read(vaultRef('kv-open'));
    expect((await t.emulator.control.requests({ vault: 'kv-open' })).map((r) => r.apiVersion)).toEqual(['2025-05-01']);
    const e = await failure(t.firewalls({ apiVersion: '2019-09-01' }).read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_BAD_REQUEST');
    expect(e.message).toContain("The api-version '2019-09-01' is invalid");
  });
});

describe('errors become TagwallErrors that name the vault', () => {
  it('404: VAULT_NOT_FOUND, not transient', async () => {
    const e = await failure(t.firewalls().read(vaultRef('kv-missing')));
    expect(e.code).toBe('VAULT_NOT_FOUND');
    expect(e.transient).toBe(false);
    expect(e.message).toContain('kv-missing');
    expect(e.message).toContain("The Resource 'Microsoft.KeyVault/vaults/kv-missing' under resource group 'rg-tagwall-test' was not found");
    expect(e.details).toContain(`vault: ${vaultRef('kv-missing').id}`);
  });

  it("400: VAULT_BAD_REQUEST carrying Azure's exact message, and nothing is stored", async () => {
    const target = t.firewalls();
    const current = await target.read(vaultRef('kv-open'));
    const e = await failure(target.write(current, { ipRules: ['20.1.0.0/16', '10.0.0.0/8'] }));
    expect(e.code).toBe('VAULT_BAD_REQUEST');
    expect(e.transient).toBe(false);
    expect(e.message).toBe(
      'Azure refused to update Key Vault kv-open: Invalid value found at properties.networkAcls.ipRules[1].value: 10.0.0.0/8 belongs to forbidden range 10.0.0.0\u201310.255.255.255 (private IP addresses)',
    );
    expect((await t.emulator.control.vault('kv-open'))?.properties.networkAcls?.ipRules).toEqual([]);
  });

  it('400 for more than 1000 rules; exactly 1000 is fine', async () => {
    const target = t.firewalls();
    const rules = Array.from({ length: 1001 }, (_, i) => `20.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const current = await target.read(vaultRef('kv-open'));
    const e = await failure(target.write(current, { ipRules: rules }));
    expect(e.code).toBe('VAULT_BAD_REQUEST');
    expect(e.message).toContain('1001 IP rules exceed the maximum of 1000');
    const written = await target.write(current, { ipRules: rules.slice(0, 1000) });
    expect(aclsOf(written)?.ipRules).toHaveLength(1000);
  });

  it.each([
    [401, 'VAULT_UNAUTHORIZED', false],
    [403, 'VAULT_FORBIDDEN', false],
    [409, 'VAULT_CONFLICT', true],
  ] as const)('%i: %s (transient %s)', async (status, code, transient) => {
    await t.emulator.control.addFault({ kind: 'respond', vault: 'kv-open', status });
    const e = await failure(t.firewalls().read(vaultRef('kv-open')));
    expect(e.code).toBe(code);
    expect(e.transient).toBe(transient);
    expect(e.message).toContain('kv-open');
  });

  it('429 with Retry-After is retried by the SDK after the wait Azure asked for', async () => {
    await t.emulator.control.addFault({ kind: 'respond', method: 'GET', vault: 'kv-open', status: 429, retryAfter: 1 });
    const started = Date.now();
    const fw = await t.firewalls().read(vaultRef('kv-open'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(aclsOf(fw)?.defaultAction).toBe('Allow');
    expect((await t.emulator.control.requests({ vault: 'kv-open' })).map((r) => r.status)).toEqual([429, 200]);
  });

  it('429 that never stops: VAULT_THROTTLED, transient, after the retries', async () => {
    await t.emulator.control.addFault({ kind: 'respond', vault: 'kv-open', status: 429, retryAfterMs: 5, times: 'always' });
    const e = await failure(t.firewalls().read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_THROTTLED');
    expect(e.transient).toBe(true);
    expect(await t.emulator.control.requests({ vault: 'kv-open' })).toHaveLength(4);
  });

  it('a single 500 is retried and the write goes through', async () => {
    const target = t.firewalls();
    const current = await target.read(vaultRef('kv-open'));
    await t.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-open', status: 500 });
    const written = await target.write(current, { ipRules: ['13.64.0.0/11'] });
    expect(aclsOf(written)?.ipRules).toEqual([{ value: '13.64.0.0/11' }]);
    const patches = (await t.emulator.control.requests({ vault: 'kv-open' })).filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.status)).toEqual([500, 200]);
  });

  it('a persistent 500 surfaces as a transient VAULT_SERVER_ERROR after 1 + 3 attempts', async () => {
    await t.emulator.control.addFault({ kind: 'respond', vault: 'kv-open', status: 500, message: 'Backend is on fire.', times: 'always' });
    const e = await failure(t.firewalls().read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_SERVER_ERROR');
    expect(e.transient).toBe(true);
    expect(e.message).toContain('kv-open');
    expect(e.message).toContain('Backend is on fire.');
    expect((await t.emulator.control.requests({ vault: 'kv-open' })).map((r) => r.status)).toEqual([500, 500, 500, 500]);
  });

  it('a request slower than the timeout: VAULT_TIMEOUT, transient', async () => {
    await t.emulator.control.addFault({ kind: 'delay', vault: 'kv-open', delayMs: 1500 });
    const e = await failure(t.firewalls({ timeoutMs: 200 }).read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_TIMEOUT');
    expect(e.transient).toBe(true);
  });

  it('nothing listening: VAULT_NETWORK, transient', async () => {
    const target = createKeyVaultFirewalls({ endpoint: `https://127.0.0.1:${await closedPort()}`, credential: t.credential, retry: { maxRetries: 0 } });
    const e = await failure(target.read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_NETWORK');
    expect(e.transient).toBe(true);
  });

  it('an untrusted certificate is refused (TLS checks stay on): VAULT_TLS', async () => {
    const e = await failure(t.firewalls({ tls: {} }).read(vaultRef('kv-open')));
    expect(e.code).toBe('VAULT_TLS');
    expect(e.transient).toBe(false);
  });

  it('refuses a plain-HTTP endpoint up front', () => {
    expect(() => createKeyVaultFirewalls({ endpoint: 'http://127.0.0.1:1', credential: t.credential })).toThrow(
      expect.objectContaining({ code: 'ARM_ENDPOINT_INVALID' }),
    );
  });
});

describe('concurrent edits (the emulator edits between our requests)', () => {
  it('an edit right after our GET is overwritten by our PATCH; only a re-read can tell', async () => {
    const target = t.firewalls();
    await t.emulator.control.addFault({ kind: 'edit', after: 'GET', vault: 'kv-locked', ipRules: [OFFICE, '81.2.69.0/24'] });
    const current = await target.read(vaultRef('kv-locked'));
    expect(aclsOf(current)?.ipRules).toEqual([{ value: OFFICE }]);
    expect((await t.emulator.control.vault('kv-locked'))?.properties.networkAcls?.ipRules).toEqual([{ value: OFFICE }, { value: '81.2.69.0/24' }]);
    const written = await target.write(current, { ipRules: [OFFICE, '20.1.0.0/16'] });
    expect(aclsOf(written)?.ipRules).toEqual([{ value: OFFICE }, { value: '20.1.0.0/16' }]);
  });

  it('an edit right after our PATCH shows up when we verify', async () => {
    const target = t.firewalls();
    await t.emulator.control.addFault({ kind: 'edit', after: 'PATCH', vault: 'kv-locked', ipRules: ['81.2.69.0/24'] });
    const current = await target.read(vaultRef('kv-locked'));
    const written = await target.write(current, { ipRules: [OFFICE, '20.1.0.0/16'] });
    expect(aclsOf(written)?.ipRules).toEqual([{ value: OFFICE }, { value: '20.1.0.0/16' }]);
    const verified = await target.read(vaultRef('kv-locked'));
    expect(aclsOf(verified)?.ipRules).toEqual([{ value: '81.2.69.0/24' }]);
    expect(aclsOf(verified)?.virtualNetworkRules).toEqual([{ id: SUBNET, ignoreMissingVnetServiceEndpoint: true }]);
    expect(await t.emulator.control.faults()).toEqual([]);
  });
});

describe('latency', () => {
  it('adds the configured latency to every ARM request', async () => {
    const target = t.firewalls();
    await target.read(vaultRef('kv-open'));
    await t.emulator.control.setLatency(400);
    const started = Date.now();
    await target.read(vaultRef('kv-open'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    await t.emulator.control.setLatency(0);
    await target.read(vaultRef('kv-open'));
    const durations = (await t.emulator.control.requests({ vault: 'kv-open' })).map((r) => r.durationMs);
    expect(durations).toHaveLength(3);
    expect(durations[1]).toBeGreaterThanOrEqual(380);
    expect(durations[2]).toBeLessThan(200);
  });
});
