import { describeError, isTagwallError, TagwallError } from '../core/errors.js';
import type { CloudName } from '../core/service-tags.js';
import { findLinksInPage, newestLink, probeCandidates, type ServiceTagLink } from './download-page.js';
import type { HttpsFetcher } from './https-fetcher.js';

/** Errors that say the configuration forbids a request: retrying elsewhere would not help. */
export const POLICY_CODES: ReadonlySet<string> = new Set(['DOWNLOAD_HOST_NOT_ALLOWED', 'DOWNLOAD_NOT_HTTPS', 'DOWNLOAD_BAD_URL', 'CONFIG_ALLOWED_HOST']);

/** Download-centre URLs differ in casing from week to week for the same file. */
export function sameFileUrl(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export interface DiscoveryOptions {
  readonly fetcher: HttpsFetcher;
  readonly cloud: CloudName;
  readonly pageUrl: string;
  /** Folder to probe when the page yields nothing; undefined when none is known. */
  readonly probeBaseUrl: string | undefined;
  readonly now: Date;
  /** The URL of the cached copy: when probing reaches it, it is not asked for again. */
  readonly knownUrl?: string;
}

export interface Discovered {
  readonly link: ServiceTagLink;
  /** Worth a warning: the page gave no link, so the file was found by probing. */
  readonly notes: readonly string[];
}

/**
 * Finds the newest file link: from the page, else by probing recent Mondays' names with
 * HEAD requests. Throws SERVICE_TAGS_LINK_NOT_FOUND (transient) when both fail, or the
 * policy error itself when the configuration forbade a request.
 */
export async function discoverServiceTagLink(o: DiscoveryOptions): Promise<Discovered> {
  const problems: string[] = [];
  try {
    const page = await o.fetcher.get(o.pageUrl, { purpose: `${o.cloud} download page`, headers: { accept: 'text/html' } });
    const link = newestLink(findLinksInPage(page.body.toString('utf8'), o.cloud, page.url));
    if (link) return { link, notes: [] };
    problems.push(`${o.pageUrl}: the page has no link to a ServiceTags_${o.cloud}_YYYYMMDD.json file`);
  } catch (e) {
    if (isTagwallError(e) && POLICY_CODES.has(e.code)) throw e;
    problems.push(describeError(e));
  }

  if (o.probeBaseUrl === undefined) {
    problems.push(`no stable download folder is known for ${o.cloud}, so no file names were probed (set serviceTags.probeBaseUrl to probe one)`);
    throw notFound(o.cloud, problems);
  }
  const candidates = probeCandidates(o.probeBaseUrl, o.cloud, o.now);
  const notes = [`the ${o.cloud} download page gave no file link (${problems[0]}); found the file by probing ${o.probeBaseUrl}`];
  for (const candidate of candidates) {
    // Every newer name was missing, so the cached copy is still the newest file.
    if (o.knownUrl !== undefined && sameFileUrl(candidate.url, o.knownUrl)) return { link: candidate, notes };
    let status: number;
    try {
      status = await o.fetcher.head(candidate.url, `${o.cloud} file probe`);
    } catch (e) {
      if (isTagwallError(e) && POLICY_CODES.has(e.code)) throw e;
      problems.push(describeError(e));
      throw notFound(o.cloud, problems);
    }
    if (status >= 200 && status <= 299) return { link: candidate, notes };
  }
  problems.push(`none of the last ${candidates.length} Mondays' files exists under ${o.probeBaseUrl}`);
  throw notFound(o.cloud, problems);
}

function notFound(cloud: CloudName, problems: readonly string[]): TagwallError {
  return new TagwallError('SERVICE_TAGS_LINK_NOT_FOUND', `could not find the current ${cloud} service-tags file`, { transient: true, details: problems });
}
