import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheKey, readLastKnownGood } from '../../src/sources/last-known-good.js';
import { resolveServiceTags } from '../../src/sources/resolve.js';
import { fileNameForKey } from '../../src/state/store.js';
import { FILE_06, FILE_13, PAGE_PATH, THURSDAY, failure, useDownloadWorld } from './download-world.js';
import { bundledServiceTags, dlcDetailsPage, sendText } from './https-test-server.js';

const PUBLIC_13 = bundledServiceTags('Public_20251013');
const PUBLIC_06 = bundledServiceTags('Public_20251006');
const DAY = 86_400_000;

const world = useDownloadWorld();

function pageFor(path: string): string {
  return dlcDetailsPage([{ name: path.split('/').pop()!, url: `${world.server.origin}${path}` }]);
}

/** One good run that leaves the 20251013 file in the cache. */
async function primeCache(): Promise<void> {
  world.servePage(pageFor(FILE_13));
  world.server.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13));
  const first = await resolveServiceTags(world.options());
  expect(first.downloaded).toBe(true);
}

function pageDown(): void {
  world.server.route(PAGE_PATH, (_req, res) => sendText(res, 503, 'down', 'text/plain'));
}

describe('the last-known-good cache', () => {
  it('stores the validated file with its URL, changeNumber, times and checksum', async () => {
    await primeCache();
    expect(await readdir(world.cacheDir)).toEqual([fileNameForKey(cacheKey('Public'))]);
    const { loaded } = await readLastKnownGood(world.cache, 'Public');
    expect(loaded?.entry.url).toBe(`${world.server.origin}${FILE_13}`);
    expect(loaded?.entry.changeNumber).toBe(373);
    expect(loaded?.entry.fetchedAt).toBe(THURSDAY.toISOString());
    expect(loaded?.entry.sha256).toBe('f7bebcb16a44bef1324495f600f804f432c319838559ce0837a4af50145f407f');
    expect(loaded?.entry.text).toBe(PUBLIC_13.toString('utf8'));
    // Stored compressed: well under the 4 MB of the file itself.
    const stored = await readFile(join(world.cacheDir, fileNameForKey(cacheKey('Public'))));
    expect(stored.length).toBeLessThan(1_000_000);
  });

  it('does not download again while the page points at the cached URL', async () => {
    await primeCache();
    const later = new Date(THURSDAY.getTime() + 20 * DAY);
    const again = await resolveServiceTags(world.options({ now: () => later }));
    expect(again.downloaded).toBe(false);
    expect(again.cacheUsed).toBe(true);
    expect(again.changeNumber).toBe(373);
    expect(again.document.tags).toHaveLength(3039);
    expect(world.server.seen(FILE_13, 'GET')).toHaveLength(1);
    expect(world.server.seen(PAGE_PATH)).toHaveLength(2);
    // The check was recorded, so staleness counts from now, not from the download.
    const { loaded } = await readLastKnownGood(world.cache, 'Public');
    expect(loaded?.entry.checkedAt).toBe(later.toISOString());
    expect(loaded?.entry.fetchedAt).toBe(THURSDAY.toISOString());
  });

  it('treats a link differing only in casing as the cached file', async () => {
    await primeCache();
    world.servePage(dlcDetailsPage([{ name: 'x', url: `${world.server.origin}${FILE_13.toLowerCase()}` }]));
    const again = await resolveServiceTags(world.options());
    expect(again.downloaded).toBe(false);
    expect(world.server.requests.filter((r) => r.method === 'GET' && r.path !== PAGE_PATH && !r.path.startsWith(`${PAGE_PATH}?`))).toHaveLength(1);
  });

  it('uses a fresh-enough cached copy when the page is down, and says so', async () => {
    await primeCache();
    pageDown();
    const fiveDaysOn = new Date(THURSDAY.getTime() + 5 * DAY);
    const got = await resolveServiceTags(world.options({ now: () => fiveDaysOn }));
    expect(got.cacheUsed).toBe(true);
    expect(got.downloaded).toBe(false);
    expect(got.changeNumber).toBe(373);
    expect(got.url).toBe(`${world.server.origin}${FILE_13}`);
    const warning = got.warnings.join('\n');
    expect(warning).toMatch(/could not get a fresh Public service-tags file, so the last-known-good copy is used/);
    expect(warning).toMatch(/last confirmed current 5\.0 days ago; it is used for up to 14 days/);
    expect(warning).toMatch(/HTTP 503/);
    expect(world.server.seen(PAGE_PATH).length).toBe(1 + 3);
  });

  it('fails when the page is down and nothing is cached', async () => {
    pageDown();
    const e = await failure(resolveServiceTags(world.options()));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.transient).toBe(true);
    expect(e.message).toMatch(/could not get the Public service-tags file, and nothing usable is cached in folder /);
    expect(e.details.join('\n')).toMatch(/HTTP 503; gave up after 3 attempts/);
  });

  it('fails when the cached copy is older than maxStaleDays', async () => {
    await primeCache();
    pageDown();
    const e = await failure(resolveServiceTags(world.options({ maxStaleDays: 3, now: () => new Date(THURSDAY.getTime() + 4 * DAY) })));
    expect(e.code).toBe('SERVICE_TAGS_UNAVAILABLE');
    expect(e.message).toMatch(/last confirmed 4 days ago, more than maxStaleDays \(3\)/);
  });

  it('falls back to the cache when the file download itself fails', async () => {
    await primeCache();
    world.servePage(pageFor(FILE_06));
    world.server.route(FILE_06, (_req, res) => res.destroy());
    const got = await resolveServiceTags(world.options());
    expect(got.cacheUsed).toBe(true);
    expect(got.changeNumber).toBe(373);
    expect(world.server.seen(FILE_06)).toHaveLength(3);
  });

  it('does not fall back on a refused file, and leaves the cache as it was', async () => {
    await primeCache();
    const before = await readLastKnownGood(world.cache, 'Public');
    world.servePage(pageFor(FILE_06));
    world.server.route(FILE_06, (_req, res) => sendText(res, 200, PUBLIC_06.subarray(0, 100_000)));
    const e = await failure(resolveServiceTags(world.options()));
    expect(e.code).toBe('SERVICE_TAGS_NOT_JSON');
    const after = await readLastKnownGood(world.cache, 'Public');
    expect(after.etag).toBe(before.etag);
  });

  it('warns when the new file has a lower changeNumber than the cached one, and keeps it', async () => {
    await primeCache();
    world.servePage(pageFor(FILE_06));
    world.server.route(FILE_06, (_req, res) => sendText(res, 200, PUBLIC_06));
    const got = await resolveServiceTags(world.options());
    expect(got.downloaded).toBe(true);
    expect(got.changeNumber).toBe(372);
    expect(got.warnings.join('\n')).toMatch(/changeNumber 372 is lower than 373 in the last-known-good copy/);
    expect((await readLastKnownGood(world.cache, 'Public')).loaded?.entry.changeNumber).toBe(372);
  });

  it('warns when the file is more than 21 days old', async () => {
    world.servePage(pageFor(FILE_13));
    world.server.route(FILE_13, (_req, res) => sendText(res, 200, PUBLIC_13));
    const fresh = await resolveServiceTags(world.options({ now: () => new Date('2025-11-03T12:00:00Z') }));
    expect(fresh.warnings).toEqual([]);
    const old = await resolveServiceTags(world.options({ now: () => new Date('2025-11-04T12:00:00Z') }));
    expect(old.warnings.join('\n')).toMatch(/dated 2025-10-13, 22 days ago/);
  });

  it('ignores a tampered cache entry, warns, and replaces it with the next good download', async () => {
    await primeCache();
    const path = join(world.cacheDir, fileNameForKey(cacheKey('Public')));
    const stored = JSON.parse(await readFile(path, 'utf8')) as { sha256: string };
    stored.sha256 = '0'.repeat(64);
    await writeFile(path, JSON.stringify(stored));
    const got = await resolveServiceTags(world.options());
    expect(got.downloaded).toBe(true);
    expect(got.warnings.join('\n')).toMatch(/was ignored: its checksum does not match its content/);
    expect((await readLastKnownGood(world.cache, 'Public')).loaded?.entry.changeNumber).toBe(373);
  });

  it('reuses the cached file found by probing without asking for it again', async () => {
    await primeCache();
    world.servePage('<html><body>nothing here</body></html>');
    const got = await resolveServiceTags(world.options({ probeBaseUrl: `${world.server.origin}${FILE_13.slice(0, FILE_13.lastIndexOf('/'))}` }));
    expect(got.cacheUsed).toBe(true);
    expect(got.downloaded).toBe(false);
    // 20251013 is this week's Monday: the first name probed, and it is the cached one.
    expect(world.server.requests.filter((r) => r.method === 'HEAD')).toHaveLength(0);
    expect(world.server.seen(FILE_13, 'GET')).toHaveLength(1);
  });
});
