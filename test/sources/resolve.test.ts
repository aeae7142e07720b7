import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServiceTags } from '../../src/sources/resolve.js';
import { findPackageVersion, tagwallVersion } from '../../src/version.js';
import { failure, FILE_13, useDownloadWorld } from './download-world.js';
import { bundledServiceTags, sendText } from './https-test-server.js';

const BUNDLED = fileURLToPath(new URL('../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));
const CHINA = fileURLToPath(new URL('../fixtures/service-tags/ServiceTags_China_20251013.json.gz', import.meta.url));

describe('the file source', () => {
  it('loads a bundled file and reports its date', async () => {
    const got = await resolveServiceTags({ source: 'file', cloud: 'Public', path: BUNDLED, now: () => new Date('2025-10-20T00:00:00Z') });
    expect(got).toMatchObject({ path: BUNDLED, changeNumber: 373, cacheUsed: false, downloaded: false, fileDate: '20251013', warnings: [] });
  });

  it('refuses a file for another cloud', async () => {
    const e = await failure(resolveServiceTags({ source: 'file', cloud: 'Public', path: CHINA }));
    expect(e.code).toBe('SERVICE_TAGS_WRONG_CLOUD');
  });

  it('warns when the file is more than three weeks old', async () => {
    const got = await resolveServiceTags({ source: 'file', cloud: 'China', path: CHINA, now: () => new Date('2025-12-01T00:00:00Z') });
    expect(got.warnings.join('\n')).toMatch(/dated 20251013, more than 21 days ago/);
  });

  it('names what is missing from the options', async () => {
    expect((await failure(resolveServiceTags({ source: 'file', cloud: 'Public' }))).code).toBe('CONFIG_SERVICE_TAGS');
    expect((await failure(resolveServiceTags({ source: 'url', cloud: 'Public' }))).code).toBe('CONFIG_SERVICE_TAGS');
    expect((await failure(resolveServiceTags({ source: 'arm', cloud: 'Public' }))).code).toBe('CONFIG_SERVICE_TAGS');
    expect((await failure(resolveServiceTags({ source: 'file', cloud: 'Moon' as 'Public', path: BUNDLED }))).code).toBe('CONFIG_SERVICE_TAGS');
  });
});

describe('the url source and progress', () => {
  const world = useDownloadWorld();

  it('downloads a fixed URL every time, reporting progress', async () => {
    const body = bundledServiceTags('Public_20251013');
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, body));
    const progress: [number, number | undefined][] = [];
    const options = world.options({ source: 'url', url: `${world.server.origin}${FILE_13}`, onProgress: (r, t) => progress.push([r, t]) });
    const first = await resolveServiceTags(options);
    const firstProgress = progress.splice(0);
    const second = await resolveServiceTags(options);
    expect([first.downloaded, second.downloaded, first.warnings, second.warnings]).toEqual([true, true, [], []]);
    expect(world.server.seen(FILE_13, 'GET')).toHaveLength(2);
    for (const run of [firstProgress, progress]) {
      expect(run.length).toBeGreaterThan(2);
      expect(run.at(-1)).toEqual([body.length, body.length]);
      expect(run.every(([r], i) => i === 0 || r > run[i - 1]![0])).toBe(true);
    }
  });

  it('refuses a URL on a host that was not allowed', async () => {
    const e = await failure(resolveServiceTags(world.options({ source: 'url', url: `${world.server.origin}${FILE_13}`, allowedHosts: [] })));
    expect(e.code).toBe('DOWNLOAD_HOST_NOT_ALLOWED');
    expect(world.server.requests).toHaveLength(0);
  });
});

describe('the version in the User-Agent', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagwall-version-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('is found from a built layout (dist/src/sources) as well as from src/sources', async () => {
    await mkdir(join(root, 'dist', 'src', 'sources'), { recursive: true });
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'tagwall', version: '9.8.7' }));
    // A package.json of another package on the way up is passed over.
    await writeFile(join(root, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    expect(findPackageVersion(join(root, 'dist', 'src', 'sources'))).toBe('9.8.7');
    expect(tagwallVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
