import { describe, expect, it } from 'vitest';
import type { EmulatorSeed } from '../../src/emulator/model.js';
import { TEST_GROUP, TEST_SUBSCRIPTION, useTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

/** ARM's per-subscription throttling in the emulator: token buckets, their headers, 429 storms, and the counters. */

const OTHER_SUBSCRIPTION = '22222222-2222-4222-8222-222222222222';
const API = '?api-version=2025-05-01';
const STORAGE = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Storage/storageAccounts/stthrottle`;

let t: TestEmulator;

useTestEmulator((started) => (t = started), (): EmulatorSeed => ({
  vaults: [{ id: vaultId('kv-a') }, { id: vaultId('kv-b', OTHER_SUBSCRIPTION) }],
  resources: [{ id: STORAGE }],
}));

const getA = () => t.fetch('GET', `${vaultId('kv-a')}${API}`);
const getB = () => t.fetch('GET', `${vaultId('kv-b', OTHER_SUBSCRIPTION)}${API}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An unsigned JWT naming a principal, as the emulator reads only its claims. */
function jwt(oid: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ oid })}.sig`;
}

describe('ARM throttling', () => {
  it("starts from Azure's buckets and counts them down on every answer, reads and writes apart", async () => {
    // A full bucket is exact; after that, Azure's refill of 25 a second would race the test.
    expect((await getA()).headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('249');
    expect((await getB()).headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('249');
    await t.emulator.control.updateSettings({ throttle: { reads: { burst: 250, perSecond: 0.001 }, writes: { burst: 200, perSecond: 0.001 } } });
    const remaining = [];
    for (let i = 0; i < 3; i += 1) remaining.push((await getA()).headers['x-ms-ratelimit-remaining-subscription-reads']);
    expect(remaining).toEqual(['248', '247', '246']);
    const patch = await t.fetch('PATCH', `${vaultId('kv-a')}${API}`, { body: { tags: { a: 'b' } } });
    expect(patch.status).toBe(200);
    expect(patch.headers['x-ms-ratelimit-remaining-subscription-writes']).toBe('199');
    expect(patch.headers['x-ms-ratelimit-remaining-subscription-reads']).toBeUndefined();
    const storage = await t.fetch('GET', `${STORAGE}?api-version=2025-06-01`);
    expect(storage.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('245');
  });

  it('answers 429 TooManyRequests with Retry-After once a small bucket is empty, and again after it refills', async () => {
    await t.emulator.control.updateSettings({ throttle: { reads: { burst: 3, perSecond: 2 }, writes: { burst: 2, perSecond: 1 } } });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await getA()).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await getA();
    expect(refused.json.error.code).toBe('TooManyRequests');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('0');
    // Another principal has its own buckets.
    expect((await t.fetch('GET', `${vaultId('kv-a')}${API}`, { token: jwt('principal-2') })).status).toBe(200);
    await sleep(600);
    expect((await getA()).status).toBe(200);
    await t.emulator.control.updateSettings({ throttle: false });
    const free = await getA();
    expect(free.status).toBe(200);
    expect(free.headers['x-ms-ratelimit-remaining-subscription-reads']).toBeUndefined();
  });

  it('storms one subscription with 429s for a while and leaves the others alone', async () => {
    await t.emulator.control.stormSubscription({ subscriptionId: TEST_SUBSCRIPTION, retryAfterSeconds: 7, durationMs: 400 });
    const stormed = await getA();
    expect(stormed).toMatchObject({ status: 429, json: { error: { code: 'TooManyRequests' } } });
    expect(stormed.headers['retry-after']).toBe('7');
    expect((await t.fetch('PATCH', `${STORAGE}?api-version=2025-06-01`, { body: {} })).status).toBe(429);
    expect((await getB()).status).toBe(200);
    await sleep(450);
    expect((await getA()).status).toBe(200);
  });

  it('keeps counters of every request by route, subscription and status, past what the log holds', async () => {
    await t.emulator.control.updateSettings({ throttle: { reads: { burst: 2500, perSecond: 1 }, writes: { burst: 2, perSecond: 1 } } });
    await t.emulator.control.resetStats();
    const batch = async (n: number, f: () => Promise<unknown>) => {
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, f));
    };
    await batch(2100, getA);
    await batch(30, getB);
    await t.emulator.control.stormSubscription({ subscriptionId: OTHER_SUBSCRIPTION, retryAfterSeconds: 1, durationMs: 60_000 });
    await getB();
    const stats = await t.emulator.control.stats();
    expect(stats.byRoute['GET vault']).toBe(2131);
    expect(stats.bySubscription[TEST_SUBSCRIPTION]).toBe(2100);
    expect(stats.bySubscription[OTHER_SUBSCRIPTION]).toBe(31);
    expect(stats.byStatus).toEqual({ '200': 2130, '429': 1 });
    // Both control calls since the reset count too, each once.
    expect(stats.byRoute['PATCH control'] ?? 0).toBe(0);
    expect(stats.byRoute['POST control']).toBe(1);
    expect(stats.total).toBe(2133);
    expect((await t.emulator.control.requests()).length).toBe(2000);
  });

  it('answers 403 for a subscription the identity may not read, after counting it against the bucket', async () => {
    await t.emulator.control.setSubscriptionReadable(OTHER_SUBSCRIPTION, false);
    const refused = await getB();
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'AuthorizationFailed' } } });
    expect(refused.json.error.message).toContain(`/subscriptions/${OTHER_SUBSCRIPTION}/`);
    expect(refused.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('249');
    expect((await getA()).status).toBe(200);
  });
});
