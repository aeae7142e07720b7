import { readdir } from 'node:fs/promises';
import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveServiceTags } from '../../src/sources/resolve.js';
import { tagwallVersion } from '../../src/version.js';
import { FILE_06, FILE_13, FILE_DIR, failure, useDownloadWorld } from './download-world.js';
import {
  bundledServiceTags, dlcDetailsPage, floodJunk, hrefPage, NO_LINK_PAGE, sendText, startTestServer, type TestServer,
} from './https-test-server.js';

const PUBLIC_13 = bundledServiceTags('Public_20251013');
const PUBLIC_06 = bundledServiceTags('Public_20251006');
const CHINA_13 = bundledServiceTags('China_20251013');

const world = useDownloadWorld();
const options: typeof world.options = (extra) => world.options(extra);
const servePage = (html: string): void => world.servePage(html);

describe('finding the file', () => {
  it('follows the link in the embedded __DLCDetails__ data, taking the newest date listed', async () => {
    servePage(dlcDetailsPage([
      { name: 'ServiceTags_Public_20251006.json', url: `${world.server.origin}${FILE_06}` },
      { name: 'ServiceTags_Public_20251013.json', url: `${world.server.origin}${FILE_13}` },
    ]));
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13));
    world.server.route(FILE_06, (_req, res) => sendText(res, 200, PUBLIC_06));

    const got = await resolveServiceTags(options());
    expect(got.url).toBe(`${world.server.origin}${FILE_13}`);
    expect(got.changeNumber).toBe(373);
    expect(got.document.tags.length).toBe(3039);
    expect(got.downloaded).toBe(true);
    expect(got.cacheUsed).toBe(false);
    expect(got.fileDate).toBe('20251013');
    expect(got.warnings).toEqual([]);
    expect(world.server.seen(FILE_13, 'GET')).toHaveLength(1);
    expect(world.server.seen(FILE_06)).toHaveLength(0);
    for (const r of world.server.requests) expect(r.headers['user-agent']).toBe(`tagwall/${tagwallVersion()}`);
    expect(tagwallVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('falls back to a plain href on the old page layout, matching case-insensitively', async () => {
    const url = `${world.server.origin}${FILE_DIR.toLowerCase()}/servicetags_public_20251013.JSON`;
    servePage(hrefPage(url));
    world.server.route(new URL(url).pathname, (_req, res) => sendText(res, 200, PUBLIC_13));
    const got = await resolveServiceTags(options());
    expect(got.url).toBe(url);
    expect(got.changeNumber).toBe(373);
  });

  it('probes recent Mondays with HEAD requests when the page has no link', async () => {
    servePage(NO_LINK_PAGE);
    // This week's file is not out yet; last week's is.
    world.server.route(FILE_06, (req, res) => sendText(res, 200, req.method === 'HEAD' ? '' : PUBLIC_06));
    const got = await resolveServiceTags(options({ probeBaseUrl: `${world.server.origin}${FILE_DIR}/` }));

    expect(got.url).toBe(`${world.server.origin}${FILE_06}`);
    expect(got.changeNumber).toBe(372);
    const heads = world.server.requests.filter((r) => r.method === 'HEAD').map((r) => r.path);
    expect(heads).toEqual([FILE_13, FILE_06]);
    expect(world.server.seen(FILE_06, 'GET')).toHaveLength(1);
    expect(got.warnings.join('\n')).toMatch(/gave no file link.*found the file by probing/);
  });

  it('says clearly that there is nothing to probe for clouds without a known folder', async () => {
    servePage(NO_LINK_PAGE);
    const e = await failure(resolveServiceTags(options({ cloud: 'China', probeBaseUrl: undefined, cache: undefined })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.details.join('\n')).toMatch(/no stable download folder is known for China/);
    expect(world.server.requests.filter((r) => r.method === 'HEAD')).toHaveLength(0);
  });

  it('downloads the AzureGovernment file from its page', async () => {
    const path = '/download/6/4/D/64DB03BF-895B-4173-A8B1-BA4AD5D4DF22/ServiceTags_AzureGovernment_20251013.json';
    servePage(dlcDetailsPage([{ name: 'ServiceTags_AzureGovernment_20251013.json', url: `${world.server.origin}${path}` }]));
    world.server.route(path, (_req, res) => sendText(res, 200, bundledServiceTags('AzureGovernment_20251013')));
    const got = await resolveServiceTags(options({ cloud: 'AzureGovernment' }));
    expect(got.document.cloud).toBe('AzureGovernment');
    expect(got.changeNumber).toBe(370);
  });
});

describe('retries and timeouts', () => {
  beforeEach(() => servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: `${world.server.origin}${FILE_13}` }])));

  it('retries 503 twice, honouring Retry-After, then takes the 200', async () => {
    world.server.route(FILE_13, (_req, res, nth) => {
      if (nth === 1) return sendText(res, 503, 'busy', 'text/plain', { 'retry-after': '1' });
      if (nth === 2) return sendText(res, 503, 'busy', 'text/plain');
      sendText(res, 200, PUBLIC_13);
    });
    const got = await resolveServiceTags(options());
    expect(got.changeNumber).toBe(373);
    const gets = world.server.seen(FILE_13, 'GET');
    expect(gets).toHaveLength(3);
    expect(gets[1]!.at - gets[0]!.at).toBeGreaterThanOrEqual(950);
    expect(gets[2]!.at - gets[1]!.at).toBeLessThan(900);
  });

  it('reads the wait a 503 asks for as every retry in tagwall does: retry-after-ms counts, "1.5" does not', async () => {
    world.server.route(FILE_13, (_req, res, nth) => {
      if (nth === 1) return sendText(res, 503, 'busy', 'text/plain', { 'retry-after-ms': '1000' });
      // Not delay-seconds (RFC 9110: 1*DIGIT): the backoff decides, 500 to 1,000 ms from an initial 1 s.
      if (nth === 2) return sendText(res, 503, 'busy', 'text/plain', { 'retry-after': '1.5' });
      sendText(res, 200, PUBLIC_13);
    });
    const fetch = options().fetch!;
    const got = await resolveServiceTags(options({ fetch: { ...fetch, backoff: { initialMs: 1_000, maxMs: 2_000 } } }));
    expect(got.changeNumber).toBe(373);
    const gets = world.server.seen(FILE_13, 'GET');
    expect(gets).toHaveLength(3);
    expect(gets[1]!.at - gets[0]!.at).toBeGreaterThanOrEqual(950);
    expect(gets[2]!.at - gets[1]!.at).toBeGreaterThanOrEqual(450);
  });

  it('gives up at once when Retry-After asks for longer than the longest wait', async () => {
    world.server.route(FILE_13, (_req, res) => sendText(res, 429, 'slow down', 'text/plain', { 'retry-after': '3600' }));
    const started = Date.now();
    const e = await failure(resolveServiceTags(options({ cache: undefined })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.details.join('\n')).toMatch(/HTTP 429.*asked to wait 3600 s/);
    expect(world.server.seen(FILE_13)).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('retries a body that stalls mid-way (a timeout) and succeeds', async () => {
    world.server.route(FILE_13, (_req, res, nth) => {
      if (nth === 1) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(PUBLIC_13.length) });
        res.write(PUBLIC_13.subarray(0, 1_000_000)); // then nothing more
        return;
      }
      sendText(res, 200, PUBLIC_13);
    });
    const started = Date.now();
    const got = await resolveServiceTags(options());
    expect(got.changeNumber).toBe(373);
    expect(world.server.seen(FILE_13, 'GET')).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('cuts off a server that dribbles the body slower than the whole-attempt limit', async () => {
    world.server.route(FILE_13, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 100 && !res.destroyed; i++) {
        res.write('{');
        await new Promise((r) => setTimeout(r, 100));
      }
      res.end();
    });
    const fetch = options().fetch!;
    const started = Date.now();
    const e = await failure(resolveServiceTags(options({ cache: undefined, fetch: { ...fetch, attempts: 1, timeouts: { ...fetch.timeouts, totalMs: 1_000 } } })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.details.join('\n')).toMatch(/the whole request took more than 1000 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a timeout on every attempt as such', async () => {
    world.server.route(FILE_13, () => undefined); // never answers
    const fetch = options().fetch!;
    const e = await failure(resolveServiceTags(options({ cache: undefined, fetch: { ...fetch, attempts: 2, timeouts: { ...fetch.timeouts, headersMs: 300 } } })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.details.join('\n')).toMatch(/attempt 1: .*no response headers within 300 ms/);
    expect(e.details.join('\n')).toMatch(/attempt 2: /);
    expect(world.server.seen(FILE_13)).toHaveLength(2);
  });
});

describe('failing closed on bad data', () => {
  beforeEach(() => servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: `${world.server.origin}${FILE_13}` }])));

  async function expectRefused(code: string, message: RegExp): Promise<void> {
    const e = await failure(resolveServiceTags(options()));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    // Nothing reached the cache: a refused file must never become the last-known-good one.
    expect(await readdir(world.cacheDir)).toEqual([]);
  }

  it('refuses a truncated JSON file', async () => {
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13.subarray(0, PUBLIC_13.length - 5000)));
    await expectRefused('SERVICE_TAGS_NOT_JSON', /not a service-tags JSON file/);
    expect(world.server.seen(FILE_13)).toHaveLength(1);
  });

  it('refuses an HTML error page served as 200', async () => {
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, '<!DOCTYPE html><html><body>Service Unavailable</body></html>', 'text/html'));
    await expectRefused('SERVICE_TAGS_NOT_JSON', /looks like an HTML page/);
  });

  it('refuses JSON that fails the schema', async () => {
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, JSON.stringify({ changeNumber: 1, cloud: 'Public', values: [{ name: 'x' }] })));
    await expectRefused('SERVICE_TAGS_SCHEMA', /not a valid service-tags file/);
  });

  it('refuses a file for the wrong cloud', async () => {
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, CHINA_13));
    await expectRefused('SERVICE_TAGS_WRONG_CLOUD', /"China" cloud, not Public/);
  });

  it('stops 64 MB of junk at the default 32 MiB cap, quickly and without retrying', async () => {
    const counter = { sent: 0 };
    world.server.route(FILE_13, (_req, res) => floodJunk(res, 64 * 1024 * 1024, counter));
    const started = Date.now();
    await expectRefused('SERVICE_TAGS_TOO_LARGE', /more than 33554432 bytes/);
    const elapsed = Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
    expect(world.server.seen(FILE_13)).toHaveLength(1);
    expect(counter.sent).toBeGreaterThan(32 * 1024 * 1024);
    // What the socket accepted beyond the cap is only what sat in buffers when the client hung up.
    expect(counter.sent).toBeLessThan(44 * 1024 * 1024);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('applies the cap through a caller-supplied dispatcher too', async () => {
    const counter = { sent: 0 };
    world.server.route(FILE_13, (_req, res) => floodJunk(res, 64 * 1024 * 1024, counter));
    const dispatcher = new Agent({ connect: { ca: world.certs.caCert } });
    try {
      const e = await failure(resolveServiceTags(options({ fetch: { dispatcher, maxBytes: 2 * 1024 * 1024 } })));
      expect(e.code).toBe('SERVICE_TAGS_TOO_LARGE');
      expect(e.message).toMatch(/more than 2097152 bytes/);
      expect(counter.sent).toBeLessThan(20 * 1024 * 1024);
    } finally {
      await dispatcher.close();
    }
  });

  it('refuses a response whose Content-Length is over the cap without reading it', async () => {
    const counter = { sent: 0 };
    world.server.route(FILE_13, (_req, res) => {
      res.setHeader('content-length', String(64 * 1024 * 1024));
      return floodJunk(res, 64 * 1024 * 1024, counter);
    });
    await expectRefused('SERVICE_TAGS_TOO_LARGE', /announced 67108864 bytes/);
    expect(counter.sent).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('the host allow-list', () => {
  let outside: TestServer;
  beforeEach(async () => {
    outside = await startTestServer(world.certs, '127.0.0.1');
    outside.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13));
  });
  afterEach(() => outside.close());

  it('never contacts a host outside the list that a redirect points at', async () => {
    servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: `${world.server.origin}${FILE_13}` }]));
    world.server.route(FILE_13, (_req, res) => res.writeHead(302, { location: `${outside.origin}${FILE_13}` }).end());
    const e = await failure(resolveServiceTags(options()));
    expect(e.code).toBe('DOWNLOAD_HOST_NOT_ALLOWED');
    expect(e.message).toContain(outside.hostPort);
    expect(outside.requests).toHaveLength(0);
    expect(world.server.seen(FILE_13)).toHaveLength(1);
  });

  it('treats another port on an allowed host name as another host', async () => {
    const samePortless = `https://localhost:${new URL(outside.origin).port}${FILE_13}`;
    servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: samePortless }]));
    const e = await failure(resolveServiceTags(options()));
    expect(e.code).toBe('DOWNLOAD_HOST_NOT_ALLOWED');
    expect(outside.requests).toHaveLength(0);
  });

  it('follows redirects within the list, and stops after five', async () => {
    servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: `${world.server.origin}/hop/0/ServiceTags_Public_20251013.json` }]));
    for (let i = 0; i < 7; i++) {
      world.server.route(`/hop/${i}/ServiceTags_Public_20251013.json`, (_req, res) => res.writeHead(301, { location: `/hop/${i + 1}/ServiceTags_Public_20251013.json` }).end());
    }
    world.server.route('/hop/2/ServiceTags_Public_20251013.json', (_req, res) => res.writeHead(307, { location: `${world.server.origin}${FILE_13}` }).end());
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13));
    const got = await resolveServiceTags(options());
    expect(got.changeNumber).toBe(373);
    expect(got.warnings.join('\n')).toMatch(/was redirected to/);

    world.server.route('/hop/2/ServiceTags_Public_20251013.json', (_req, res) => res.writeHead(301, { location: '/hop/3/ServiceTags_Public_20251013.json' }).end());
    const e = await failure(resolveServiceTags(options({ cache: undefined })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.details.join('\n')).toMatch(/redirected more than 5 times/);
    // The page, then the first hop and five more: the seventh hop is never asked for.
    expect(world.server.seen('/hop/6/ServiceTags_Public_20251013.json')).toHaveLength(0);
    expect(world.server.seen('/hop/5/ServiceTags_Public_20251013.json')).toHaveLength(1);
    expect(outside.requests).toHaveLength(0);
  });

  it('refuses plain http even on an allowed host', async () => {
    servePage(dlcDetailsPage([{ name: 'ServiceTags_Public_20251013.json', url: `http://${world.server.hostPort}${FILE_13}` }]));
    const e = await failure(resolveServiceTags(options()));
    expect(e.code).toBe('DOWNLOAD_NOT_HTTPS');
  });
});
