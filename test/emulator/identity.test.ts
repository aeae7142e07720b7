import type { FirewallState, NetworkAcls } from '../../src/targets/firewall.js';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyVaultFirewalls } from '../../src/targets/keyvault/adapter.js';
import { FAST_RETRY, seedVault, startTestEmulator, vaultRef, type TestEmulator } from '../helpers/emulator.js';

/** The networkAcls the adapter keeps to send back as read (what a PATCH must not lose). */
function aclsOf(fw: FirewallState): NetworkAcls | undefined {
  return (fw.opaque as { networkAcls: NetworkAcls | undefined }).networkAcls;
}

/**
 * The real ManagedIdentityCredential and DefaultAzureCredential, finding the emulator
 * through IDENTITY_ENDPOINT / IDENTITY_HEADER exactly as they would on App Service.
 * MSAL remembers the managed-identity source (endpoint, header) and its tokens for the
 * whole process, so this file uses one emulator and sets the variables once.
 */

/** Variables that would steer the credentials elsewhere; cleared for this file, restored after. */
const STEERING = [
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'IDENTITY_SERVER_THUMBPRINT',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IMDS_ENDPOINT',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_USERNAME',
  'AZURE_TOKEN_CREDENTIALS',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
];
const saved = new Map<string, string | undefined>();

let t: TestEmulator;

beforeAll(async () => {
  t = await startTestEmulator({ seed: { vaults: [seedVault('kv-mi', { defaultAction: 'Deny', ipRules: [{ value: '20.1.0.0/16' }] })] } });
  for (const name of STEERING) {
    saved.set(name, process.env[name]);
    delete process.env[name];
  }
  process.env['IDENTITY_ENDPOINT'] = t.emulator.identityEndpoint;
  process.env['IDENTITY_HEADER'] = t.emulator.identityHeader;
});

afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await t?.close();
});

describe('managed identity endpoint', () => {
  it('gives ManagedIdentityCredential a token, which the SDK then sends to ARM', async () => {
    const credential = new ManagedIdentityCredential();
    const target = createKeyVaultFirewalls({ endpoint: t.emulator.url, credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
    const fw = await target.read(vaultRef('kv-mi'));
    expect(aclsOf(fw)?.ipRules).toEqual([{ value: '20.1.0.0/16' }]);

    const identity = await t.emulator.control.requests({ kind: 'identity' });
    expect(identity).toHaveLength(1);
    expect(identity[0]).toMatchObject({ method: 'GET', status: 200, resource: t.emulator.url });
    expect(identity[0]?.issuedToken).toMatch(/^emulator-mi\./);
    const [arm] = await t.emulator.control.requests({ vault: 'kv-mi' });
    expect(arm?.token).toBe(identity[0]?.issuedToken);
  });

  it('works through DefaultAzureCredential too', async () => {
    await t.emulator.control.clearRequests();
    const credential = new DefaultAzureCredential();
    const token = await credential.getToken(`${t.emulator.url}/.default`);
    // The process-wide MSAL cache may answer instead of the endpoint; either way the token is the emulator's.
    expect(token.token).toMatch(/^emulator-mi\./);
    const target = createKeyVaultFirewalls({ endpoint: t.emulator.url, credential, tls: { ca: t.emulator.caCert }, retry: FAST_RETRY });
    await target.read(vaultRef('kv-mi'));
    const [arm] = await t.emulator.control.requests({ vault: 'kv-mi' });
    expect(arm).toMatchObject({ status: 200, token: token.token });
  });

  it('refuses a request without the secret header, and one for the wrong api-version', async () => {
    const url = `${t.emulator.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(t.emulator.url)}`;
    const noSecret = await request(url);
    expect(noSecret.statusCode).toBe(401);
    await noSecret.body.dump();
    const wrongSecret = await request(url, { headers: { 'x-identity-header': 'guess' } });
    expect(wrongSecret.statusCode).toBe(401);
    await wrongSecret.body.dump();
    const oldVersion = await request(url.replace('2019-08-01', '2017-09-01'), { headers: { 'x-identity-header': t.emulator.identityHeader } });
    expect(oldVersion.statusCode).toBe(400);
    await oldVersion.body.dump();
    const ok = await request(url, { headers: { 'x-identity-header': t.emulator.identityHeader } });
    expect(ok.statusCode).toBe(200);
    const body = (await ok.body.json()) as Record<string, string>;
    expect(body).toMatchObject({ resource: t.emulator.url, token_type: 'Bearer' });
    expect(Number(body['expires_on']) - Date.now() / 1000).toBeGreaterThan(3000);
  });
});
