import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import type { CloudName, ServiceTagDocument } from '../core/service-tags.js';
import type { KeyValueStore } from '../state/store.js';
import { discoverServiceTagLink, POLICY_CODES, sameFileUrl } from './discovery.js';
import { DOWNLOAD_PAGES, fileDateOf, fileDateToUtc, PROBE_BASES, type ServiceTagLink } from './download-page.js';
import type { HttpsFetcher } from './https-fetcher.js';
import { readLastKnownGood, sha256Hex, writeLastKnownGood, type CacheRead } from './last-known-good.js';
import { parseServiceTagDocument } from './schema.js';

/**
 * Fetching the weekly file over the network, failing closed on bad data and riding out
 * outages on the last-known-good copy.
 */
export const DEFAULT_MAX_STALE_DAYS = 14;
/** Files come out weekly; one three weeks old means the page stopped moving. */
export const OLD_FILE_DAYS = 21;

const DAY_MS = 86_400_000;

export interface DownloadSourceOptions {
  readonly cloud: CloudName;
  readonly fetcher: HttpsFetcher;
  /** A fixed file URL (a mirror): no page, always downloaded. */
  readonly url?: string;
  readonly pageUrl?: string;
  /** Folder to probe when the page yields nothing; `null` turns probing off. */
  readonly probeBaseUrl?: string | null;
  readonly cache?: KeyValueStore;
  readonly maxStaleDays?: number;
  readonly now?: () => Date;
  readonly onProgress?: (received: number, total?: number) => void;
}

export interface DownloadOutcome {
  readonly document: ServiceTagDocument;
  readonly url: string;
  readonly changeNumber: number;
  /** The document came from the last-known-good copy (reused or as a fallback). */
  readonly cacheUsed: boolean;
  readonly downloaded: boolean;
  readonly warnings: string[];
  /** `YYYYMMDD` from the file name, when it has one. */
  readonly fileDate?: string;
}

/**
 * Errors that refuse the data itself. They are not outages, so the cached copy is not
 * used in their place: someone should look before tagwall acts again.
 */
const REFUSED_DATA_CODES = new Set(['SERVICE_TAGS_NOT_JSON', 'SERVICE_TAGS_SCHEMA', 'SERVICE_TAGS_EMPTY', 'SERVICE_TAGS_TOO_LARGE', 'SERVICE_TAGS_WRONG_CLOUD']);

function daysBetween(earlier: Date, later: Date): number {
  return (later.getTime() - earlier.getTime()) / DAY_MS;
}

function oldFileWarning(url: string, date: string | undefined, now: Date): string[] {
  if (date === undefined) return [];
  const age = Math.floor(daysBetween(fileDateToUtc(date), now));
  if (age <= OLD_FILE_DAYS) return [];
  return [`${url}: the file is dated ${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}, ${age} days ago (files come out weekly); the download page may no longer be updated`];
}

export async function downloadServiceTags(o: DownloadSourceOptions): Promise<DownloadOutcome> {
  const now = o.now ?? (() => new Date());
  const warnings: string[] = [];
  const cached: CacheRead = o.cache ? await readLastKnownGood(o.cache, o.cloud) : {};
  if (cached.problem) warnings.push(cached.problem);
  const lkg = cached.loaded;

  let link: ServiceTagLink;
  try {
    if (o.url !== undefined) {
      link = { url: o.url, date: fileDateOf(o.url, o.cloud) ?? '', origin: 'configured' };
    } else {
      const found = await discoverServiceTagLink({
        fetcher: o.fetcher,
        cloud: o.cloud,
        pageUrl: o.pageUrl ?? DOWNLOAD_PAGES[o.cloud],
        probeBaseUrl: o.probeBaseUrl === null ? undefined : (o.probeBaseUrl ?? PROBE_BASES[o.cloud]),
        now: now(),
        knownUrl: lkg?.entry.url,
      });
      warnings.push(...found.notes);
      link = found.link;
    }
  } catch (e) {
    return fallBack(e, o, lkg, warnings, now());
  }
  const fileDate = link.date === '' ? undefined : link.date;

  if (o.url === undefined && lkg && sameFileUrl(link.url, lkg.entry.url)) {
    // The page still points at the file we hold: nothing to download. Recording the check
    // keeps a long quiet spell at Microsoft from making the copy look stale.
    const saved = await writeLastKnownGood(o.cache!, { ...lkg.entry, checkedAt: now().toISOString() }, lkg.etag);
    if (saved) warnings.push(saved);
    warnings.push(...oldFileWarning(lkg.entry.url, fileDate, now()));
    return { document: lkg.document, url: lkg.entry.url, changeNumber: lkg.document.changeNumber, cacheUsed: true, downloaded: false, warnings, fileDate };
  }

  let text: string;
  let finalUrl: string;
  try {
    const got = await o.fetcher.get(link.url, { purpose: `${o.cloud} service-tags file`, onProgress: o.onProgress });
    text = got.body.toString('utf8');
    finalUrl = got.url;
  } catch (e) {
    return fallBack(e, o, lkg, warnings, now());
  }

  // Everything below refuses rather than falls back: the bytes arrived and are wrong.
  const document = parseServiceTagDocument(text, link.url);
  if (document.cloud !== o.cloud) {
    throw new TagwallError('SERVICE_TAGS_WRONG_CLOUD', `${link.url}: the file is for the "${document.cloud}" cloud, not ${o.cloud}; refused`);
  }
  if (lkg && document.changeNumber < lkg.document.changeNumber) {
    warnings.push(`${link.url}: changeNumber ${document.changeNumber} is lower than ${lkg.document.changeNumber} in the last-known-good copy (${lkg.entry.url}); using the new file, as it is what Microsoft publishes now`);
  }
  warnings.push(...oldFileWarning(link.url, fileDate, now()));
  if (o.cache) {
    const at = now().toISOString();
    const saved = await writeLastKnownGood(o.cache, {
      cloud: o.cloud, url: link.url, changeNumber: document.changeNumber, fetchedAt: at, checkedAt: at, sha256: sha256Hex(text), text,
    }, cached.etag);
    if (saved) warnings.push(saved);
  }
  if (finalUrl !== link.url) warnings.push(`${link.url} was redirected to ${finalUrl}`);
  return { document, url: link.url, changeNumber: document.changeNumber, cacheUsed: false, downloaded: true, warnings, fileDate };
}

/** Discovery or download failed: carry on with a fresh-enough cached copy, or fail clearly. */
function fallBack(e: unknown, o: DownloadSourceOptions, lkg: CacheRead['loaded'], warnings: string[], now: Date): DownloadOutcome {
  if (!isTagwallError(e) || REFUSED_DATA_CODES.has(e.code) || POLICY_CODES.has(e.code)) throw e;
  const maxStaleDays = o.maxStaleDays ?? DEFAULT_MAX_STALE_DAYS;
  const reason = describeError(e);
  if (!lkg) {
    const where = o.cache ? `nothing usable is cached in ${o.cache.description}` : 'no last-known-good cache is configured';
    throw new TagwallError('SERVICE_TAGS_UNAVAILABLE', `could not get the ${o.cloud} service-tags file, and ${where}`, {
      transient: true, details: [e.message, ...e.details, ...warnings], cause: e,
    });
  }
  const age = daysBetween(new Date(lkg.entry.checkedAt), now);
  if (age > maxStaleDays) {
    throw new TagwallError('SERVICE_TAGS_UNAVAILABLE',
      `could not get the ${o.cloud} service-tags file, and the last-known-good copy was last confirmed ${Math.floor(age)} days ago, more than maxStaleDays (${maxStaleDays})`,
      { transient: true, details: [e.message, ...e.details, `cached: ${lkg.entry.url} (changeNumber ${lkg.entry.changeNumber})`], cause: e });
  }
  warnings.push(
    `could not get a fresh ${o.cloud} service-tags file, so the last-known-good copy is used: ${lkg.entry.url} (changeNumber ${lkg.entry.changeNumber}, ` +
      `downloaded ${lkg.entry.fetchedAt}, last confirmed current ${age.toFixed(1)} days ago; it is used for up to ${maxStaleDays} days). Cause: ${reason}`,
  );
  const fileDate = fileDateOf(lkg.entry.url, o.cloud);
  warnings.push(...oldFileWarning(lkg.entry.url, fileDate, now));
  return { document: lkg.document, url: lkg.entry.url, changeNumber: lkg.document.changeNumber, cacheUsed: true, downloaded: false, warnings, fileDate };
}
