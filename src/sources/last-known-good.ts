import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { describeError, isTagwallError } from '../core/errors.js';
import type { CloudName, ServiceTagDocument } from '../core/service-tags.js';
import type { KeyValueStore } from '../state/store.js';
import { MAX_DOCUMENT_CHARS, parseServiceTagDocument } from './schema.js';

/**
 * The last service-tags file that passed every check, kept so that a run during a download
 * outage can carry on with it (for a bounded time) instead of failing or, worse, acting
 * on nothing. Stored through the same KeyValueStore as the rest of tagwall's state: a
 * folder locally, a blob in Azure.
 */
export const CACHE_FORMAT = 'tagwall.service-tags-cache/1';

export interface LastKnownGood {
  readonly cloud: CloudName;
  readonly url: string;
  readonly changeNumber: number;
  /** When these bytes were downloaded. */
  readonly fetchedAt: string;
  /** When the download page last pointed at this same URL; staleness is measured from here. */
  readonly checkedAt: string;
  /** SHA-256 (hex) of the raw text, checked on every read. */
  readonly sha256: string;
  /** The exact text that was downloaded. */
  readonly text: string;
}

export interface LoadedLastKnownGood {
  readonly entry: LastKnownGood;
  readonly document: ServiceTagDocument;
  readonly etag: string;
}

const storedSchema = z.strictObject({
  format: z.literal(CACHE_FORMAT),
  cloud: z.string(),
  url: z.string(),
  changeNumber: z.number().int().nonnegative(),
  fetchedAt: z.iso.datetime(),
  checkedAt: z.iso.datetime(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  encoding: z.literal('gzip+base64'),
  body: z.string(),
});

export function cacheKey(cloud: CloudName): string {
  return `service-tags/last-known-good/${cloud}.json`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function encodeLastKnownGood(entry: LastKnownGood): string {
  const { text, ...meta } = entry;
  return JSON.stringify({ format: CACHE_FORMAT, ...meta, encoding: 'gzip+base64', body: gzipSync(Buffer.from(text, 'utf8')).toString('base64') });
}

/**
 * Reads and re-validates the cached copy. A copy that cannot be trusted any more (bad
 * checksum, fails the schema, another cloud) is reported in `problem` and not used.
 */
export interface CacheRead {
  readonly loaded?: LoadedLastKnownGood;
  readonly problem?: string;
  /** ETag of whatever is stored, usable or not, so a broken copy can be replaced. */
  readonly etag?: string;
}

export async function readLastKnownGood(store: KeyValueStore, cloud: CloudName): Promise<CacheRead> {
  const key = cacheKey(cloud);
  let stored;
  try {
    stored = await store.get(key);
  } catch (e) {
    return { problem: `the last-known-good copy in ${store.description} could not be read: ${describeError(e)}` };
  }
  if (stored === undefined) return {};
  const bad = (why: string): CacheRead => ({ problem: `the last-known-good copy ${key} in ${store.description} was ignored: ${why}`, etag: stored.etag });
  let meta: z.infer<typeof storedSchema>;
  try {
    const parsed = storedSchema.safeParse(JSON.parse(stored.text));
    if (!parsed.success) return bad('it is not in the expected format');
    meta = parsed.data;
  } catch {
    return bad('it is not JSON');
  }
  if (meta.cloud !== cloud) return bad(`it holds the ${meta.cloud} cloud`);
  let text: string;
  try {
    text = gunzipSync(Buffer.from(meta.body, 'base64'), { maxOutputLength: MAX_DOCUMENT_CHARS + 1 }).toString('utf8');
  } catch {
    return bad('its body does not unpack');
  }
  if (sha256Hex(text) !== meta.sha256) return bad('its checksum does not match its content');
  let document: ServiceTagDocument;
  try {
    document = parseServiceTagDocument(text, `cached copy of ${meta.url}`);
  } catch (e) {
    return bad(isTagwallError(e) ? describeError(e) : String(e));
  }
  if (document.cloud !== cloud) return bad(`its document is for the ${document.cloud} cloud`);
  const { format: _format, encoding: _encoding, body: _body, ...rest } = meta;
  return { loaded: { entry: { ...rest, cloud, text }, document, etag: stored.etag }, etag: stored.etag };
}

/**
 * Saves a copy. Conditional on what was read, so two overlapping runs cannot interleave
 * half-written state; losing that race is fine (the other run stored a good copy too).
 * Returns a warning instead of throwing: failing to save must not fail a good run.
 */
export async function writeLastKnownGood(store: KeyValueStore, entry: LastKnownGood, readEtag: string | undefined): Promise<string | undefined> {
  try {
    await store.put(cacheKey(entry.cloud), encodeLastKnownGood(entry), readEtag === undefined ? { ifNoneExists: true } : { ifMatch: readEtag });
    return undefined;
  } catch (e) {
    if (isTagwallError(e, 'STATE_CONFLICT')) return undefined;
    return `could not save the last-known-good copy to ${store.description}: ${describeError(e)}`;
  }
}
