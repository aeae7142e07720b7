import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ARM_SERVICE_TAGS_API_VERSION } from '../../src/sources/arm-discovery.js';
import { resolveServiceTags, type ResolveServiceTagsOptions } from '../../src/sources/resolve.js';
import { createLocalCertificates, type LocalCertificates } from '../../src/tls/local-ca.js';
import { failure } from './download-world.js';
import { sendText, startTestServer, type TestServer } from './https-test-server.js';

const SUB = '00000000-1111-2222-3333-444444444444';
const PATH = `/subscriptions/${SUB}/providers/Microsoft.Network/locations/westeurope/serviceTags`;

/** A credential that hands out a fixed token and remembers the scopes it was asked for. */
class StaticCredential implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(private readonly token: string | null) {}
  async getToken(scopes: string | string[]): Promise<AccessToken | null> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return this.token === null ? null : { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

/** The API's shape: string change numbers, no regionId / platform / networkFeatures. */
function armTag(name: string, region: string, prefixes: string[], systemService = name.split('.')[0]!) {
  return { name, id: name, serviceTagChangeNumber: '7', properties: { changeNumber: '12', region, state: 'GA', systemService, addressPrefixes: prefixes } };
}

let certs: LocalCertificates;
let arm: TestServer;

beforeAll(async () => {
  certs = await createLocalCertificates();
});
beforeEach(async () => {
  arm = await startTestServer(certs, 'localhost');
});
afterEach(() => arm.close());

function options(credential: TokenCredential, extra: Partial<ResolveServiceTagsOptions> = {}): ResolveServiceTagsOptions {
  return {
    source: 'arm',
    cloud: 'Public',
    arm: { credential, subscriptionId: SUB, location: 'westeurope', endpoint: arm.origin },
    fetch: { ca: certs.caCert, attempts: 2, backoff: { initialMs: 10, maxMs: 1_000 } },
    ...extra,
  };
}

describe('ARM Service Tag Discovery API', () => {
  it('converts the paged answer into a service-tag document', async () => {
    arm.route(PATH, (req, res) => {
      const page2 = (req.url ?? '').includes('page=2');
      sendText(res, 200, JSON.stringify({
        name: 'Public',
        id: `${PATH}/Public`,
        type: 'Microsoft.Network/serviceTags',
        changeNumber: '381',
        cloud: 'Public',
        values: page2
          ? [armTag('Storage.WestEurope', 'westeurope', ['20.38.108.0/23', '2603:1020:206::/48'], 'AzureStorage')]
          : [armTag('AzureKeyVault', '', ['4.150.0.0/30', '20.38.0.0/27']), armTag('AzureCloud.westeurope', 'westeurope', ['13.69.0.0/17'], '')],
        ...(page2 ? {} : { nextLink: `${arm.origin}${PATH}?api-version=${ARM_SERVICE_TAGS_API_VERSION}&page=2` }),
      }));
    });
    const credential = new StaticCredential('test-token');
    const got = await resolveServiceTags(options(credential));

    expect(got.changeNumber).toBe(381);
    expect(got.document.cloud).toBe('Public');
    expect(got.document.tags.map((t) => t.name)).toEqual(['AzureKeyVault', 'AzureCloud.westeurope', 'Storage.WestEurope']);
    const storage = got.document.tags[2]!;
    expect(storage).toMatchObject({ changeNumber: 12, region: 'westeurope', regionId: 0, platform: 'Azure', systemService: 'AzureStorage', networkFeatures: null, ipv6Count: 1 });
    expect(storage.ipv4).toHaveLength(1);
    expect(got.cacheUsed).toBe(false);

    const seen = arm.seen(PATH, 'GET');
    expect(seen).toHaveLength(2);
    expect(seen[0]!.path).toBe(`${PATH}?api-version=${ARM_SERVICE_TAGS_API_VERSION}`);
    for (const r of seen) expect(r.headers.authorization).toBe('Bearer test-token');
    expect(credential.scopes).toContain(`${arm.origin}/.default`);
  });

  it('reports the ARM error code and message', async () => {
    arm.route(PATH, (_req, res) => sendText(res, 403, JSON.stringify({ error: { code: 'AuthorizationFailed', message: 'The client does not have authorization' } })));
    const e = await failure(resolveServiceTags(options(new StaticCredential('t'))));
    expect(e.code).toBe('DOWNLOAD_HTTP_STATUS');
    expect(e.message).toMatch(/HTTP 403: AuthorizationFailed The client does not have authorization/);
    expect(arm.seen(PATH)).toHaveLength(1);
  });

  it('refuses an answer that fails the checks, such as a non-numeric changeNumber', async () => {
    arm.route(PATH, (_req, res) => sendText(res, 200, JSON.stringify({ changeNumber: 'abc', cloud: 'Public', values: [armTag('A', '', ['1.2.3.0/24'])] })));
    const e = await failure(resolveServiceTags(options(new StaticCredential('t'))));
    expect(e.code).toBe('SERVICE_TAGS_SCHEMA');
    expect(e.details.join('\n')).toMatch(/changeNumber: expected a whole number/);
  });

  it('refuses an answer for another cloud, and an empty one', async () => {
    arm.route(PATH, (_req, res) => sendText(res, 200, JSON.stringify({ changeNumber: '5', cloud: 'China', values: [armTag('A', '', ['1.2.3.0/24'])] })));
    expect((await failure(resolveServiceTags(options(new StaticCredential('t'))))).code).toBe('SERVICE_TAGS_WRONG_CLOUD');
    arm.route(PATH, (_req, res) => sendText(res, 200, JSON.stringify({ changeNumber: '5', cloud: 'Public', values: [] })));
    expect((await failure(resolveServiceTags(options(new StaticCredential('t'))))).code).toBe('SERVICE_TAGS_EMPTY');
  });

  it('never sends the token anywhere but the endpoint', async () => {
    arm.route(PATH, (_req, res) => res.writeHead(307, { location: 'https://127.0.0.1:1/elsewhere' }).end());
    const e = await failure(resolveServiceTags(options(new StaticCredential('t'))));
    expect(e.code).toBe('DOWNLOAD_HTTP_STATUS');
    expect(e.message).toMatch(/HTTP 307/);
    const http = await failure(resolveServiceTags(options(new StaticCredential('t'), { arm: { credential: new StaticCredential('t'), subscriptionId: SUB, location: 'westeurope', endpoint: arm.origin.replace('https:', 'http:') } })));
    expect(http.code).toBe('CONFIG_ARM_ENDPOINT');
  });

  it('fails clearly when the credential gives no token', async () => {
    const e = await failure(resolveServiceTags(options(new StaticCredential(null))));
    expect(e.code).toBe('ARM_AUTH');
    expect(arm.requests).toHaveLength(0);
  });
});
