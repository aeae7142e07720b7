import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTagwallError } from '../../src/core/errors.js';
import type { RequestLogEntry } from '../../src/emulator/model.js';
import type { PerimeterView } from '../../src/targets/firewall.js';
import { createPerimeterLookup } from '../../src/targets/perimeter.js';
import { perimeterId, seedVault, TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, vaultRef, type TestEmulator } from '../helpers/emulator.js';

/**
 * The perimeter lookup through the real @azure/arm-network client: HTTPS to the emulator,
 * the bearer-token policy, the SDK's own paging and retries. The expected associations are
 * written out from the seed below, never read back from the emulator.
 */

const OTHER = '11111111-1111-1111-1111-111111111111';
const PROD = perimeterId('nsp-prod');
const DEV = perimeterId('nsp-dev');
const ELSEWHERE = perimeterId('nsp-other', OTHER, 'rg-other');
const STORAGE = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Storage/storageAccounts/sttagwall`;
const MANY = Array.from({ length: 30 }, (_, i) => `kv-many-${String(i).padStart(2, '0')}`);

let t: TestEmulator;

useTestEmulator((started) => (t = started), () => ({
  vaults: [
    ...['kv-enforced', 'kv-learning', 'kv-audit', 'kv-none', 'kv-upper', ...MANY].map((name) => seedVault(name)),
    seedVault('kv-secured', undefined, { publicNetworkAccess: 'SecuredByPerimeter' }),
    { id: vaultId('kv-other', OTHER, 'rg-other') },
  ],
  perimeters: [
    {
      id: PROD,
      profiles: ['defaultProfile', 'strict'],
      associations: [
        { privateLinkResourceId: vaultId('kv-enforced'), profile: 'strict', accessMode: 'Enforced' },
        { privateLinkResourceId: vaultId('kv-secured'), accessMode: 'Enforced' },
        // Another kind's association must not answer for any vault.
        { privateLinkResourceId: STORAGE, accessMode: 'Enforced' },
        // ARM IDs are case-insensitive; the association may spell the vault differently.
        { privateLinkResourceId: `${vaultId('kv-upper').toUpperCase()}/`, name: 'upper', accessMode: 'Learning' },
        { privateLinkResourceId: vaultId('kv-many-07'), accessMode: 'Enforced' },
      ],
    },
    {
      id: DEV,
      associations: [
        { privateLinkResourceId: vaultId('kv-learning'), accessMode: 'Learning' },
        { privateLinkResourceId: vaultId('kv-audit'), accessMode: 'Audit' },
      ],
    },
    { id: ELSEWHERE, associations: [{ privateLinkResourceId: vaultId('kv-other', OTHER, 'rg-other'), accessMode: 'Enforced' }] },
  ],
}));

const LIST_PATH = (sub: string): string => `/subscriptions/${sub}/providers/Microsoft.Network/networkSecurityPerimeters`;
const isListing = (sub: string) => (r: RequestLogEntry) => r.path === LIST_PATH(sub);
const isAssociations = (r: RequestLogEntry): boolean => r.path.endsWith('/resourceAssociations');

function associated(perimeter: string, profile: string, accessMode: string): PerimeterView {
  return { state: 'associated', association: { perimeter, profile: `${perimeter}/profiles/${profile}`, accessMode } };
}

describe('what a vault is associated with', () => {
  it('an Enforced association names its perimeter, profile and mode', async () => {
    expect(await t.perimeters().perimeterOf(vaultRef('kv-enforced'))).toEqual(associated(PROD, 'strict', 'Enforced'));
  });

  it('Learning and Audit associations are reported as they are', async () => {
    const lookup = t.perimeters();
    expect(await lookup.perimeterOf(vaultRef('kv-learning'))).toEqual(associated(DEV, 'defaultProfile', 'Learning'));
    expect(await lookup.perimeterOf(vaultRef('kv-audit'))).toEqual(associated(DEV, 'defaultProfile', 'Audit'));
  });

  it('a vault no perimeter holds is none', async () => {
    expect(await t.perimeters().perimeterOf(vaultRef('kv-none'))).toEqual({ state: 'none' });
  });

  it('matches resource IDs case-insensitively and without a trailing slash, whichever side spells them differently', async () => {
    const lookup = t.perimeters();
    expect(await lookup.perimeterOf(vaultRef('kv-upper'))).toEqual(associated(PROD, 'defaultProfile', 'Learning'));
    const shouted = { ...vaultRef('KV-ENFORCED', TEST_SUBSCRIPTION.toUpperCase(), TEST_GROUP.toUpperCase()) };
    expect(await lookup.perimeterOf(shouted)).toEqual(associated(PROD, 'strict', 'Enforced'));
  });

  it('a vault seeded SecuredByPerimeter reads so through the Key Vault adapter, and its Enforced association through this one', async () => {
    expect((await t.firewalls().read(vaultRef('kv-secured'))).posture.publicNetworkAccess).toBe('SecuredByPerimeter');
    expect(await t.perimeters().perimeterOf(vaultRef('kv-secured'))).toEqual(associated(PROD, 'defaultProfile', 'Enforced'));
  });

  it('an Enforced association decides over a Learning one in another perimeter', async () => {
    await t.emulator.control.associate({ perimeter: DEV, privateLinkResourceId: vaultId('kv-enforced'), accessMode: 'Learning' });
    expect(await t.perimeters().perimeterOf(vaultRef('kv-enforced'))).toEqual(associated(PROD, 'strict', 'Enforced'));
  });

  it('a change between runs shows in the next lookup, not in the current one', async () => {
    const run1 = t.perimeters();
    expect(await run1.perimeterOf(vaultRef('kv-learning'))).toMatchObject({ association: { accessMode: 'Learning' } });
    await t.emulator.control.associate({ perimeter: DEV, privateLinkResourceId: vaultId('kv-learning'), accessMode: 'Enforced' });
    await t.emulator.control.dissociate({ privateLinkResourceId: vaultId('kv-audit') });
    expect(await run1.perimeterOf(vaultRef('kv-audit'))).toMatchObject({ association: { accessMode: 'Audit' } });
    const run2 = t.perimeters();
    expect(await run2.perimeterOf(vaultRef('kv-learning'))).toEqual(associated(DEV, 'defaultProfile', 'Enforced'));
    expect(await run2.perimeterOf(vaultRef('kv-audit'))).toEqual({ state: 'none' });
  });
});

describe('one listing per subscription per run', () => {
  it('thirty vaults asked at once cost one perimeter listing and one association list per perimeter', async () => {
    const lookup = t.perimeters();
    const views = await Promise.all(MANY.map((name) => lookup.perimeterOf(vaultRef(name))));
    // Only kv-many-07 is associated.
    expect(views[7]).toEqual(associated(PROD, 'defaultProfile', 'Enforced'));
    expect(views.filter((v, i) => i !== 7 && v.state !== 'none')).toEqual([]);
    const log = await t.emulator.control.requests();
    expect(log.filter(isListing(TEST_SUBSCRIPTION))).toHaveLength(1);
    // The seed holds two perimeters in this subscription.
    expect(log.filter(isAssociations).map((r) => r.perimeter).sort()).toEqual(['nsp-dev', 'nsp-prod']);
    expect(log).toHaveLength(3);

    // Later questions in the same run are answered from the map.
    await lookup.perimeterOf(vaultRef('kv-none'));
    await lookup.perimeterOf(vaultRef('kv-enforced'));
    expect(await t.emulator.control.requests()).toHaveLength(3);
  });

  it('two subscriptions are listed once each, and each answers only for its own vaults', async () => {
    const lookup = t.perimeters();
    const [a, b, c] = await Promise.all([
      lookup.perimeterOf(vaultRef('kv-enforced')),
      lookup.perimeterOf(vaultRef('kv-other', OTHER, 'rg-other')),
      lookup.perimeterOf(vaultRef('kv-none')),
    ]);
    expect(a).toEqual(associated(PROD, 'strict', 'Enforced'));
    expect(b).toEqual(associated(ELSEWHERE, 'defaultProfile', 'Enforced'));
    expect(c).toEqual({ state: 'none' });
    const log = await t.emulator.control.requests();
    expect(log.filter(isListing(TEST_SUBSCRIPTION))).toHaveLength(1);
    expect(log.filter(isListing(OTHER))).toHaveLength(1);
    expect(log.filter(isAssociations).map((r) => r.perimeter).sort()).toEqual(['nsp-dev', 'nsp-other', 'nsp-prod']);
  });

  it('follows nextLink through perimeters and associations past one page', async () => {
    const filler = Array.from({ length: 23 }, (_, i) => ({ id: perimeterId(`nsp-fill-${String(i).padStart(2, '0')}`) }));
    const crowd = Array.from({ length: 24 }, (_, i) => ({ privateLinkResourceId: `${STORAGE}${i}`, accessMode: 'Learning' as const }));
    // Sorted by ID, nsp-zz is on the second page of perimeters, and the vault is its last association.
    await t.emulator.control.seed({
      vaults: [],
      perimeters: [...filler, { id: perimeterId('nsp-zz'), associations: [...crowd, { privateLinkResourceId: vaultId('kv-none'), accessMode: 'Audit' }] }],
    });
    expect(await t.perimeters().perimeterOf(vaultRef('kv-none'))).toEqual(associated(perimeterId('nsp-zz'), 'defaultProfile', 'Audit'));
    const log = await t.emulator.control.requests();
    expect(log.filter(isListing(TEST_SUBSCRIPTION))).toHaveLength(2);
    expect(log.filter((r) => r.perimeter === 'nsp-zz')).toHaveLength(2);
    expect(log.filter(isAssociations)).toHaveLength(2 + 23 + 2);
  });
});

describe('an identity that cannot read perimeters', () => {
  it('403 makes every vault of that subscription unknown, once, and leaves the vault itself readable', async () => {
    await t.emulator.control.forbidPerimeterReads(TEST_SUBSCRIPTION);
    const lookup = t.perimeters();
    const views = await Promise.all([lookup.perimeterOf(vaultRef('kv-enforced')), lookup.perimeterOf(vaultRef('kv-none'))]);
    for (const view of views) {
      expect(view).toMatchObject({ state: 'unknown', code: 'PERIMETER_FORBIDDEN' });
      if (view.state !== 'unknown') throw new Error('unreachable');
      expect(view.reason).toContain(`subscription ${TEST_SUBSCRIPTION}`);
      expect(view.reason).toContain('HTTP 403 AuthorizationFailed');
      expect(view.reason).toContain("perform action 'Microsoft.Network/networkSecurityPerimeters/read'");
    }
    expect(await lookup.perimeterOf(vaultRef('kv-other', OTHER, 'rg-other'))).toEqual(associated(ELSEWHERE, 'defaultProfile', 'Enforced'));
    // 403 is not retried, and the failed listing is not repeated for the second vault.
    expect((await t.emulator.control.requests()).filter(isListing(TEST_SUBSCRIPTION)).map((r) => r.status)).toEqual([403]);

    const firewall = t.firewalls();
    const read = await firewall.read(vaultRef('kv-enforced'));
    expect((await firewall.write(read, { ipRules: ['20.1.0.0/16'] })).ipRules).toEqual(['20.1.0.0/16']);
  });

  it('a 403 on one perimeter\'s associations makes the whole subscription unknown: a partial map cannot show "none"', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', perimeter: 'nsp-dev', status: 403, times: 'always' });
    const lookup = t.perimeters();
    // kv-enforced's association is in nsp-prod, which was read; kv-none could be in nsp-dev, which was not.
    expect(await lookup.perimeterOf(vaultRef('kv-none'))).toMatchObject({ state: 'unknown', code: 'PERIMETER_FORBIDDEN' });
    expect(await lookup.perimeterOf(vaultRef('kv-enforced'))).toMatchObject({ state: 'unknown', code: 'PERIMETER_FORBIDDEN' });
    const log = await t.emulator.control.requests();
    expect(log.filter(isListing(TEST_SUBSCRIPTION)).map((r) => r.status)).toEqual([200]);
    expect(log.filter((r) => r.perimeter === 'nsp-dev').map((r) => r.status)).toEqual([403]);
  });

  it('a failure that outlasts the retries is unknown too, after the SDK retried it', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', status: 500, times: 'always' });
    const view = await t.perimeters().perimeterOf(vaultRef('kv-enforced'));
    expect(view).toMatchObject({ state: 'unknown', code: 'PERIMETER_READ_FAILED' });
    if (view.state === 'unknown') expect(view.reason).toContain('HTTP 500 InternalServerError');
    // FAST_RETRY: the first attempt and three retries.
    expect((await t.emulator.control.requests()).filter(isListing(TEST_SUBSCRIPTION)).map((r) => r.status)).toEqual([500, 500, 500, 500]);
  });

  it('a throttled listing is retried after retry-after-ms and then answers', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', status: 429, retryAfterMs: 20, times: 1 });
    expect(await t.perimeters().perimeterOf(vaultRef('kv-audit'))).toEqual(associated(DEV, 'defaultProfile', 'Audit'));
    expect((await t.emulator.control.requests()).filter(isListing(TEST_SUBSCRIPTION)).map((r) => r.status)).toEqual([429, 200]);
  });

  it('401 and a credential with no token are unknown too, each with its own code', async () => {
    await t.emulator.control.addFault({ kind: 'respond', on: 'perimeters', status: 401, times: 1 });
    const rejected = await t.perimeters().perimeterOf(vaultRef('kv-enforced'));
    expect(rejected).toMatchObject({ state: 'unknown', code: 'PERIMETER_UNAUTHORIZED' });
    if (rejected.state === 'unknown') expect(rejected.reason).toContain('HTTP 401 InvalidAuthenticationToken');
    const noToken = {
      getToken: async (): Promise<never> => {
        throw Object.assign(new Error('no managed identity endpoint'), { name: 'CredentialUnavailableError' });
      },
    };
    const unavailable = await t.perimeters({ credential: noToken }).perimeterOf(vaultRef('kv-enforced'));
    expect(unavailable).toEqual({
      state: 'unknown',
      code: 'PERIMETER_CREDENTIAL',
      reason: `no token to read the Network Security Perimeters of subscription ${TEST_SUBSCRIPTION}: no managed identity endpoint`,
    });
  });

  it('an unreachable endpoint is unknown, not an exception', async () => {
    const lookup = createPerimeterLookup({ endpoint: 'https://127.0.0.1:9', credential: t.credential, retry: { maxRetries: 0 } });
    expect(await lookup.perimeterOf(vaultRef('kv-none'))).toMatchObject({ state: 'unknown', code: 'PERIMETER_READ_FAILED' });
  });
});

describe('the wire', () => {
  it('sends the bearer token for the endpoint scope and the SDK\'s api-version, 2025-05-01', async () => {
    await t.perimeters().perimeterOf(vaultRef('kv-none'));
    expect(t.credential.requests.at(-1)).toEqual([`${t.emulator.url}/.default`]);
    const log = await t.emulator.control.requests();
    expect(new Set(log.map((r) => `${r.method} ${r.apiVersion} ${r.token} ${r.status}`))).toEqual(new Set([`GET 2025-05-01 ${t.credential.token} 200`]));
  });

  it('talks the api-version it is given, on nextLink pages too', async () => {
    await t.emulator.control.seed({ vaults: [], perimeters: Array.from({ length: 21 }, (_, i) => ({ id: perimeterId(`nsp-page-${i}`) })) });
    expect(await t.perimeters({ apiVersion: '2024-07-01' }).perimeterOf(vaultRef('kv-learning'))).toEqual(associated(DEV, 'defaultProfile', 'Learning'));
    const log = await t.emulator.control.requests();
    expect(log.filter(isListing(TEST_SUBSCRIPTION))).toHaveLength(2);
    expect(new Set(log.map((r) => r.apiVersion))).toEqual(new Set(['2024-07-01']));
    const refused = await createPerimeterLookup({ endpoint: t.emulator.url, credential: t.credential, tls: { ca: t.emulator.caCert }, apiVersion: '2019-01-01' }).perimeterOf(
      vaultRef('kv-none'),
    );
    expect(refused).toMatchObject({ state: 'unknown', code: 'PERIMETER_READ_FAILED' });
    if (refused.state === 'unknown') expect(refused.reason).toContain("The api-version '2019-01-01' is invalid");
  });

  it('refuses an endpoint that is not https when it is made, as the Key Vault adapter does', () => {
    let caught: unknown;
    try {
      createPerimeterLookup({ endpoint: 'http://127.0.0.1:1', credential: t.credential });
    } catch (e) {
      caught = e;
    }
    expect(isTagwallError(caught, 'ARM_ENDPOINT_INVALID')).toBe(true);
  });
});

/** Runs the built module in a fresh process and reports when @azure/arm-network is first resolved. */
function probeLazyLoad(): Promise<{ atImport: number; afterLookup: number; state: string }> {
  const module = fileURLToPath(new URL('../../dist/src/targets/perimeter.js', import.meta.url));
  const probe = `
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    import { pathToFileURL } from 'node:url';
    const { port1, port2 } = new MessageChannel();
    const seen = [];
    port1.on('message', (s) => seen.push(s));
    port1.unref();
    const hooks = 'let port; export function initialize(d) { port = d.port; } export async function resolve(s, c, next) { if (s.includes("@azure/arm-network")) port.postMessage(s); return next(s, c); }';
    register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
    const settle = () => new Promise((r) => setTimeout(r, 200));
    const m = await import(pathToFileURL(process.argv.at(-1)).href);
    const lookup = m.createPerimeterLookup({ endpoint: 'https://127.0.0.1:9', credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600e3 }) }, retry: { maxRetries: 0 } });
    await settle();
    const atImport = seen.length;
    const view = await lookup.perimeterOf({ id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv-x', subscriptionId: 's', resourceGroup: 'g', name: 'kv-x' });
    await settle();
    console.log(JSON.stringify({ atImport, afterLookup: seen.length, state: view.state }));
    // The hooks thread would keep an -e script alive.
    process.exit(0);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', probe, module], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`probe exited ${code}: ${err}`))));
  });
}

it('loads @azure/arm-network only when a vault is first asked about, so a cold start without perimeters does not pay for it', async () => {
  expect(await probeLazyLoad()).toEqual({ atImport: 0, afterLookup: 1, state: 'unknown' });
});
