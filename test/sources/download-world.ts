import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { TagwallError } from '../../src/core/errors.js';
import type { ResolveServiceTagsOptions } from '../../src/sources/resolve.js';
import { FolderStore } from '../../src/state/store.js';
import { createLocalCertificates, type LocalCertificates } from '../../src/tls/local-ca.js';
import { sendText, startTestServer, type TestServer } from './https-test-server.js';

/**
 * Shared set-up for the download tests: a fresh loopback HTTPS server and an empty cache
 * folder for each test, and resolve options that point only at that server.
 */
export const FILE_DIR = '/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63';
export const FILE_13 = `${FILE_DIR}/ServiceTags_Public_20251013.json`;
export const FILE_06 = `${FILE_DIR}/ServiceTags_Public_20251006.json`;
export const PAGE_PATH = '/en-us/download/details.aspx';
/** A Thursday, three days after the 20251013 file came out. */
export const THURSDAY = new Date('2025-10-16T09:00:00Z');

export interface DownloadWorld {
  certs: LocalCertificates;
  server: TestServer;
  cacheDir: string;
  cache: FolderStore;
  /** Everything points at the local server; probing is off unless a test turns it on. */
  options(extra?: Partial<ResolveServiceTagsOptions>): ResolveServiceTagsOptions;
  servePage(html: string): void;
}

export function useDownloadWorld(): DownloadWorld {
  const world = {} as DownloadWorld;
  beforeAll(async () => {
    world.certs = await createLocalCertificates();
  });
  beforeEach(async () => {
    world.server = await startTestServer(world.certs, 'localhost');
    world.cacheDir = await mkdtemp(join(tmpdir(), 'tagwall-lkg-'));
    world.cache = new FolderStore(world.cacheDir);
  });
  afterEach(async () => {
    await world.server.close();
    await rm(world.cacheDir, { recursive: true, force: true });
  });
  world.options = (extra = {}) => ({
    source: 'download',
    cloud: 'Public',
    pageUrl: `${world.server.origin}${PAGE_PATH}?id=56519`,
    probeBaseUrl: null,
    allowedHosts: [world.server.hostPort],
    cache: world.cache,
    now: () => THURSDAY,
    fetch: { ca: world.certs.caCert, attempts: 3, backoff: { initialMs: 20, maxMs: 2_000 }, timeouts: { connectMs: 2_000, headersMs: 2_000, bodyMs: 400, totalMs: 15_000 } },
    ...extra,
  });
  world.servePage = (html) => world.server.route(PAGE_PATH, (_req, res) => sendText(res, 200, html, 'text/html; charset=utf-8'));
  return world;
}

export { failure } from '../helpers/failure.js';
