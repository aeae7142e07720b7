import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGraphReader } from '../../src/fleet/graph-client.js';
import { createLocalCertificates, type LocalCertificates } from '../../src/tls/local-ca.js';
import { staticTokenCredential } from '../helpers/emulator.js';
import { failure } from '../helpers/failure.js';
import { sendText, startTestServer, type TestServer } from '../sources/https-test-server.js';

/**
 * The Resource Graph reader on the wire, against a loopback HTTPS server that answers what a
 * test tells it: the request Microsoft's REST reference describes (`Resources - Resources`,
 * api-version 2024-04-01, example ResourcesNextPageQuery.json in Azure/azure-rest-api-specs:
 * `options.$skipToken` in, `$skipToken` and `data` out), and the ARM retry options applying to it
 * as to every other ARM call.
 */
const PATH = '/providers/Microsoft.ResourceGraph/resources';
const FAST = { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 40 };

let certs: LocalCertificates;
let server: TestServer;
const bodies: unknown[] = [];

beforeAll(async () => {
  certs = await createLocalCertificates();
});
beforeEach(async () => {
  server = await startTestServer(certs, '127.0.0.1');
  bodies.length = 0;
});
afterEach(async () => server.close());
afterAll(() => undefined);

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  bodies.push(parsed);
  return parsed;
}

function reader(retry: typeof FAST | { maxRetries: number } = FAST, credential = staticTokenCredential()) {
  return createGraphReader({ endpoint: server.origin, credential, tls: { ca: certs.caCert }, retry });
}

describe('Resource Graph reader', () => {
  it('sends Microsoft\'s REST request and follows $skipToken, with a token for the configured endpoint', async () => {
    server.route(PATH, async (req, res) => {
      const body = (await readBody(req)) as { options: { $skipToken?: string } };
      const first = body.options.$skipToken === undefined;
      sendText(res, 200, JSON.stringify({
        totalRecords: 3, count: first ? 2 : 1, resultTruncated: 'false', facets: [],
        ...(first ? { $skipToken: 'page-2' } : {}),
        data: first ? [{ id: 'a' }, { id: 'b' }] : [{ id: 'c' }],
      }));
    });
    const credential = staticTokenCredential('graph-token');
    const rows = await reader(FAST, credential).query('resources | project id', { subscriptions: ['s1'] });

    expect(rows).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const seen = server.seen(PATH, 'POST');
    expect(seen.map((r) => new URL(r.path, server.origin).searchParams.get('api-version'))).toEqual(['2024-04-01', '2024-04-01']);
    expect(seen.every((r) => r.headers.authorization === 'Bearer graph-token')).toBe(true);
    expect(credential.requests.every((scopes) => scopes.join() === `${server.origin}/.default`)).toBe(true);
    expect(bodies).toEqual([
      { query: 'resources | project id', subscriptions: ['s1'], options: { $top: 1000, resultFormat: 'objectArray' } },
      { query: 'resources | project id', subscriptions: ['s1'], options: { $top: 1000, resultFormat: 'objectArray', $skipToken: 'page-2' } },
    ]);
  });

  it('retries a 503 as the ARM retry options say, and not at all when they say none', async () => {
    server.route(PATH, async (req, res, nth) => {
      await readBody(req);
      if (nth !== 3) return sendText(res, 503, JSON.stringify({ error: { code: 'ServiceUnavailable', message: 'try again' } }));
      sendText(res, 200, JSON.stringify({ data: [{ id: 'a' }] }));
    });
    const started = Date.now();
    expect(await reader(FAST).query('resources', {})).toEqual([{ id: 'a' }]);
    expect(server.seen(PATH)).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(2_000);

    const none = reader({ maxRetries: 0 });
    const e = await failure(none.query('resources', {}));
    expect(e).toMatchObject({ code: 'GRAPH_FAILED', transient: true, values: { status: 503, azureCode: 'ServiceUnavailable' } });
    expect(server.seen(PATH)).toHaveLength(4);
    expect(none.stats()).toMatchObject({ requests: 1, throttled: 0 });
  });

  it('reads a 429\'s wait as every retry in tagwall does: "1.5" is no Retry-After, so the quota window\'s reset decides', async () => {
    server.route(PATH, async (req, res, nth) => {
      await readBody(req);
      if (nth === 1) {
        return sendText(res, 429, JSON.stringify({ error: { code: 'RateLimiting', message: 'slow down' } }), 'application/json', {
          'retry-after': '1.5', 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:00.300',
        });
      }
      sendText(res, 200, JSON.stringify({ data: [] }), 'application/json', { 'x-ms-user-quota-remaining': '4' });
    });
    const graph = reader();
    expect(await graph.query('resources', {})).toEqual([]);
    const [first, second] = server.seen(PATH);
    const waited = second!.at - first!.at;
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(1_200);
    expect(graph.stats()).toMatchObject({ requests: 2, throttled: 1, quotaRemaining: 0 });
  });

  it('stops at once when a 429 asks for longer than it will wait', async () => {
    server.route(PATH, async (req, res) => {
      await readBody(req);
      sendText(res, 429, JSON.stringify({ error: { code: 'RateLimiting', message: 'slow down' } }), 'application/json', { 'retry-after': '3600' });
    });
    const started = Date.now();
    const e = await failure(reader().query('resources', {}));
    expect(e).toMatchObject({ code: 'GRAPH_THROTTLED', transient: true, values: { status: 429, retryAfterMs: 3_600_000 } });
    expect(e.message).toMatch(/asked for 3600 s more/);
    expect(server.seen(PATH)).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
