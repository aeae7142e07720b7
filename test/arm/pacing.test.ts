import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/core-auth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArmPacer, armPacingPolicy, operationOf, retryAfterEnd, subscriptionOfUrl } from '../../src/arm/pacing.js';
import { armConnection, type ArmClientOptions } from '../../src/arm/client-options.js';
import { createPerimeterLookup } from '../../src/targets/perimeter.js';
import { parseConfig } from '../../src/config/config.js';
import { isTagwallError } from '../../src/core/errors.js';
import { sharedTestCertificates } from '../global-setup.js';

// The pacer in front of a real SDK client, against a local HTTPS server that stands in for ARM.

const SUB_A = 'aaaaaaaa-0000-0000-0000-000000000000';
const SUB_B = 'bbbbbbbb-0000-0000-0000-000000000000';
const SUB_C = 'cccccccc-0000-0000-0000-000000000000';

interface Arrival {
  readonly at: number;
  readonly method: string;
  readonly subscription: string;
  readonly path: string;
}

/** What the server answers, decided per request; `undefined` is a plain 200 with the vault. */
type Script = (arrival: Arrival, count: number) => { status: number; headers?: Record<string, string> } | undefined;

let server: Server;
let endpoint: string;
let ca: string;
let arrivals: Arrival[] = [];
let script: Script = () => undefined;
/** Server-side times at which a 429 went out. */
let throttledAt: number[] = [];

const credential: TokenCredential = { getToken: async () => ({ token: 'local-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

beforeAll(async () => {
  const certs = await sharedTestCertificates();
  ca = certs.caCert;
  server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const arrival: Arrival = { at: performance.now(), method: req.method ?? '', subscription: /^\/subscriptions\/([^/]+)/.exec(path)?.[1] ?? '', path };
    arrivals.push(arrival);
    req.resume();
    req.on('end', () => {
      const scripted = script(arrival, arrivals.filter((a) => a.subscription === arrival.subscription).length);
      const status = scripted?.status ?? 200;
      if (status === 429) throttledAt.push(performance.now());
      res.writeHead(status, { 'content-type': 'application/json', ...(scripted?.headers ?? {}) });
      if (status === 429) return res.end(JSON.stringify({ error: { code: 'TooManyRequests', message: 'slow down' } }));
      if (path.includes('networkSecurityPerimeters')) return res.end(JSON.stringify({ value: [] }));
      const name = path.split('/').pop();
      res.end(JSON.stringify({ id: path, name, type: 'Microsoft.KeyVault/vaults', location: 'westeurope', properties: { tenantId: '00000000-0000-0000-0000-000000000001', sku: { family: 'A', name: 'standard' } } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `https://localhost:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

afterEach(() => {
  arrivals = [];
  throttledAt = [];
  script = () => undefined;
});

function options(pacer: ArmPacer): ArmClientOptions {
  return { endpoint, credential, tls: { ca }, pacer, retry: { maxRetries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 } };
}

/** A Key Vault client built as tagwall's adapter builds it, through armConnection. */
function keyVaultClient(pacer: ArmPacer, subscriptionId: string): KeyVaultManagementClient {
  const connection = armConnection(options(pacer));
  return new KeyVaultManagementClient(credential, subscriptionId, { endpoint: connection.endpoint, credentials: { scopes: [connection.scope] }, ...connection.pipeline });
}

const get = (client: KeyVaultManagementClient, name: string) => client.vaults.get('rg', name);

/** The most arrivals inside any window of `ms` milliseconds starting at an arrival. */
function busiestWindow(times: readonly number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! - sorted[i]! <= ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

describe('ArmPacer through a real SDK client', () => {
  it('lets no more than burst + rate × t requests reach ARM in any window when a burst of calls is made', async () => {
    const pacer = new ArmPacer({ reads: { burst: 5, perSecond: 10 }, margin: 1 });
    const client = keyVaultClient(pacer, SUB_A);
    const start = performance.now();
    await Promise.all(Array.from({ length: 25 }, (_, i) => get(client, `kv-${i}`)));
    const elapsed = performance.now() - start;
    expect(arrivals).toHaveLength(25);
    const times = arrivals.map((a) => a.at);
    // Grants are spaced by the pacer's clock; delivery on a busy 2-core machine may bunch them by
    // up to a couple of hundred ms, hence the slack per window (unpaced, all 25 land in one window).
    for (const window of [0, 100, 250, 500, 1_000, 2_000]) {
      expect(busiestWindow(times, window), `window ${window} ms`).toBeLessThanOrEqual(5 + Math.floor((10 * (window + 250)) / 1000));
    }
    // 20 calls beyond the burst at 10/s: two seconds at least; without pacing it is a few ms.
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(6_000);
    const [a] = pacer.stats();
    expect(a).toMatchObject({ subscriptionId: SUB_A, requests: 25, waits: 20, throttled: 0 });
  });

  it('a 429 with Retry-After: 2 in subscription A holds A\'s next calls ≥ 2 s, while B\'s go at once', async () => {
    const pacer = new ArmPacer({ margin: 1 });
    script = (arrival, count) => (arrival.subscription === SUB_A && count === 1 ? { status: 429, headers: { 'retry-after': '2' } } : undefined);
    const a = keyVaultClient(pacer, SUB_A);
    const b = keyVaultClient(pacer, SUB_B);
    const first = get(a, 'kv-a1');
    // The pacer sees the 429 a moment after the server sends it; a pacer that never blocks fails below, not here.
    while (throttledAt.length === 0) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 40 && !pacer.isBlocked(SUB_A); i++) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    const second = get(a, 'kv-a2').then(() => performance.now());
    const bDone = await Promise.all([1, 2, 3].map((i) => get(b, `kv-b${i}`).then(() => performance.now())));
    const [aFirstDone, aSecondDone] = await Promise.all([first.then(() => performance.now()), second]);
    for (const done of bDone) expect(done - t0).toBeLessThan(500);
    const sentA = arrivals.filter((x) => x.subscription === SUB_A).map((x) => x.at);
    // The 429, the SDK's retry of it, and the second call: both later ones no sooner than Retry-After.
    expect(sentA).toHaveLength(3);
    for (const at of sentA.slice(1)) expect(at - throttledAt[0]!).toBeGreaterThanOrEqual(1_990);
    expect(aSecondDone - t0).toBeGreaterThanOrEqual(1_900);
    expect(aFirstDone - t0).toBeGreaterThanOrEqual(1_900);
    expect(pacer.isBlocked(SUB_A)).toBe(false);
    expect(pacer.stats()).toEqual([
      expect.objectContaining({ subscriptionId: SUB_A, requests: 3, throttled: 1 }),
      expect.objectContaining({ subscriptionId: SUB_B, requests: 3, waits: 0, throttled: 0 }),
    ]);
  });

  it('the remaining-reads header lowers the local budget to what ARM says is left', async () => {
    const pacer = new ArmPacer({ reads: { burst: 50, perSecond: 10 }, margin: 1 });
    script = (_arrival, count) => (count === 1 ? { status: 200, headers: { 'x-ms-ratelimit-remaining-subscription-reads': '2' } } : undefined);
    const client = keyVaultClient(pacer, SUB_A);
    await get(client, 'kv-0');
    const start = performance.now();
    await Promise.all(Array.from({ length: 6 }, (_, i) => get(client, `kv-${i + 1}`)));
    const burst = arrivals.slice(1).map((a) => a.at);
    // Two tokens left, then one each 100 ms: the sixth goes out 400 ms on; 49 local tokens would send all six at once.
    expect(Math.max(...burst) - start).toBeGreaterThanOrEqual(350);
    expect(busiestWindow(burst, 50)).toBeLessThanOrEqual(3);
    expect(pacer.stats()[0]).toMatchObject({ requests: 7, waits: 4 });
  });

  it('paces the classic-generation network client too (the perimeter lookup), by the subscription in its path', async () => {
    const pacer = new ArmPacer({ margin: 1 });
    const lookup = createPerimeterLookup(options(pacer));
    const view = await lookup.perimeterOf({ id: `/subscriptions/${SUB_C}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv`, subscriptionId: SUB_C, resourceGroup: 'rg', name: 'kv' } as never);
    expect(view).toEqual({ state: 'none' });
    expect(arrivals).toHaveLength(1);
    expect(pacer.stats()).toEqual([{ subscriptionId: SUB_C, requests: 1, waits: 0, waitedMs: 0, throttled: 0 }]);
  });
});

describe('armPacingPolicy', () => {
  it('leaves calls with no subscription in the path (Resource Graph) unpaced', async () => {
    const pacer = new ArmPacer({ reads: { burst: 1, perSecond: 1 }, writes: { burst: 1, perSecond: 1 }, margin: 1 });
    const policy = armPacingPolicy(pacer);
    const answer = async (): Promise<PipelineResponse> => ({ status: 200, headers: createPipelineRequest({ url: 'https://x' }).headers, request: createPipelineRequest({ url: 'https://x' }) });
    const start = performance.now();
    for (let i = 0; i < 5; i++) await policy.sendRequest(createPipelineRequest({ url: `${endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`, method: 'POST' }), answer);
    expect(performance.now() - start).toBeLessThan(500);
    expect(pacer.stats()).toEqual([]);
  });

  it('names the bucket from the method and the subscription from the path', () => {
    expect(['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'].map(operationOf)).toEqual(['read', 'read', 'write', 'write', 'write', 'delete']);
    expect(subscriptionOfUrl(`https://management.azure.com/subscriptions/${SUB_A.toUpperCase()}/resourceGroups/rg?api-version=1`)).toBe(SUB_A);
    expect(subscriptionOfUrl('https://management.azure.com/providers/Microsoft.ResourceGraph/resources')).toBeUndefined();
    expect(subscriptionOfUrl('https://management.azure.com/tenants?api-version=2022-01-01')).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] });
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterEnd(headers({ 'retry-after': '2' }), now)).toBe(now + 2_000);
    expect(retryAfterEnd(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), now)).toBe(now + 7_000);
    expect(retryAfterEnd(headers({ 'retry-after-ms': '250' }), now)).toBe(now + 250);
    expect(retryAfterEnd(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
  });

  it('a 429 blocks only its own subscription, with a fake clock', async () => {
    let t = 0;
    const slept: number[] = [];
    const pacer = new ArmPacer({ margin: 1, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) });
    pacer.observe(SUB_A, 'read', 429, { get: (n) => (n === 'retry-after' ? '3' : undefined) });
    expect(pacer.blockedUntil(SUB_A)).toBe(3_000);
    expect(pacer.blockedUntil(SUB_B)).toBeUndefined();
    await pacer.acquire(SUB_B, 'read');
    expect(t).toBe(0);
    await pacer.acquire(SUB_A, 'read');
    expect(t).toBeGreaterThanOrEqual(3_000);
    expect(pacer.stats().find((s) => s.subscriptionId === SUB_A)).toMatchObject({ waits: 1, throttled: 1, waitedMs: t });
  });
});

describe('arm.pacing in the configuration', () => {
  const base = { serviceTags: { source: 'file', path: 'x.json' }, targets: [{ vault: `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-pacing`, select: ['T'] }] };
  const parse = (raw: object) => parseConfig(raw, { baseDir: '/nonexistent', source: 'test' });

  it('defaults to ARM\'s limits at a 0.9 margin, and per-subscription concurrency 4', () => {
    const c = parse(base);
    expect(c.arm.pacing).toEqual({ reads: { burst: 250, perSecond: 25 }, writes: { burst: 200, perSecond: 10 }, deletes: { burst: 200, perSecond: 10 }, margin: 0.9 });
    expect(c.concurrencyPerSubscription).toBe(4);
    expect(parse({ ...base, concurrency: 256 }).concurrency).toBe(256);
  });

  it('reports every bad pacing field with its path, together', () => {
    try {
      parse({ ...base, concurrency: 257, concurrencyPerSubscription: 0, arm: { pacing: { reads: { burst: 0, perSecond: 25 }, writes: { burst: 10, perSecond: -1 }, margin: 1.5 } } });
      expect.unreachable();
    } catch (e) {
      expect(isTagwallError(e, 'CONFIG_INVALID')).toBe(true);
      const details = (e as { details: string[] }).details.join('\n');
      for (const path of ['concurrency:', 'concurrencyPerSubscription:', 'arm.pacing.reads.burst:', 'arm.pacing.writes.perSecond:', 'arm.pacing.margin:']) expect(details).toContain(path);
    }
  });
});
