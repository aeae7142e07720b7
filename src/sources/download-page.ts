import type { CloudName } from '../core/service-tags.js';

/**
 * Finding this week's service-tags file from Microsoft's download-centre page. The page has
 * been redesigned before and will be again, so there are three ways in, tried in order: the
 * page's embedded data, any matching URL in its text, and guessing recent file names under
 * the folder the file has lived in for years.
 */
export const DOWNLOAD_PAGES: Readonly<Record<CloudName, string>> = {
  Public: 'https://www.microsoft.com/en-us/download/details.aspx?id=56519',
  AzureGovernment: 'https://www.microsoft.com/en-us/download/details.aspx?id=57063',
  China: 'https://www.microsoft.com/en-us/download/details.aspx?id=57062',
};

/**
 * Stable folders to probe when the page yields no link. Only Public's is known; for the
 * others the probe is skipped unless a folder is configured.
 */
export const PROBE_BASES: Readonly<Record<CloudName, string | undefined>> = {
  Public: 'https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/',
  AzureGovernment: undefined,
  China: undefined,
};

export const PROBED_WEEKS = 5;

export type LinkOrigin = 'page-data' | 'page-text' | 'probe' | 'configured';

export interface ServiceTagLink {
  readonly url: string;
  /** `YYYYMMDD` from the file name: the file itself carries no date. */
  readonly date: string;
  readonly origin: LinkOrigin;
}

function fileNamePattern(cloud: CloudName, flags = 'i'): RegExp {
  return new RegExp(`ServiceTags_${cloud}_(\\d{8})\\.json`, flags);
}

function isRealDate(yyyymmdd: string): boolean {
  const d = fileDateToUtc(yyyymmdd);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10).replaceAll('-', '') === yyyymmdd;
}

export function fileDateToUtc(yyyymmdd: string): Date {
  return new Date(`${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}T00:00:00Z`);
}

/** The date in `.../ServiceTags_<cloud>_YYYYMMDD.json`, when the last path segment is such a name. */
export function fileDateOf(url: string, cloud: CloudName): string | undefined {
  const last = url.split(/[?#]/)[0]!.split('/').pop() ?? '';
  const m = new RegExp(`^${fileNamePattern(cloud).source}$`, 'i').exec(last);
  return m && isRealDate(m[1]!) ? m[1] : undefined;
}

export function serviceTagFileName(cloud: CloudName, yyyymmdd: string): string {
  return `ServiceTags_${cloud}_${yyyymmdd}.json`;
}

/**
 * The object literal assigned to `window.__DLCDetails__`, cut out by matching braces
 * (strings may contain braces) and parsed as JSON; undefined when absent or unparsable.
 */
export function embeddedDownloadDetails(html: string): unknown {
  const marker = /window\.__DLCDetails__\s*=\s*/.exec(html);
  if (!marker) return undefined;
  const start = marker.index + marker[0].length;
  if (html[start] !== '{') return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < html.length; i++) {
    const c = html[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(html.slice(start, i + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function linksFromDetails(details: unknown, cloud: CloudName, pageUrl: string): ServiceTagLink[] {
  const files = (details as { dlcDetailsView?: { downloadFile?: unknown } } | undefined)?.dlcDetailsView?.downloadFile;
  if (!Array.isArray(files)) return [];
  const links: ServiceTagLink[] = [];
  for (const file of files as { url?: unknown; name?: unknown }[]) {
    if (typeof file?.url !== 'string') continue;
    const url = absolute(file.url, pageUrl);
    const date = (url && fileDateOf(url, cloud)) ?? (typeof file.name === 'string' ? fileDateOf(file.name, cloud) : undefined);
    if (url && date) links.push({ url, date, origin: 'page-data' });
  }
  return links;
}

function absolute(url: string, base: string): string | undefined {
  try {
    return new URL(url, base).href;
  } catch {
    return undefined;
  }
}

function linksFromText(html: string, cloud: CloudName): ServiceTagLink[] {
  // Script blocks escape slashes (`\/`, `\u002F`); undo that so one pattern fits all.
  const text = html.replace(/\\u002f/gi, '/').replace(/\\\//g, '/');
  const pattern = new RegExp(`https://[^\\s"'<>\\\\]*?/${fileNamePattern(cloud).source}(?![\\w.])`, 'gi');
  const links: ServiceTagLink[] = [];
  for (const m of text.matchAll(pattern)) {
    if (isRealDate(m[1]!)) links.push({ url: m[0], date: m[1]!, origin: 'page-text' });
  }
  return links;
}

/** Every link to the cloud's file the page offers: the embedded data first, else the text. */
export function findLinksInPage(html: string, cloud: CloudName, pageUrl: string): ServiceTagLink[] {
  const fromData = linksFromDetails(embeddedDownloadDetails(html), cloud, pageUrl);
  return fromData.length > 0 ? fromData : linksFromText(html, cloud);
}

/** The newest file; on equal dates the first one listed, so the choice is stable. */
export function newestLink(links: readonly ServiceTagLink[]): ServiceTagLink | undefined {
  let best: ServiceTagLink | undefined;
  for (const l of links) if (best === undefined || l.date > best.date) best = l;
  return best;
}

/** `YYYYMMDD` of the last `count` Mondays (UTC), today included when it is one, newest first. */
export function recentMondays(now: Date, count = PROBED_WEEKS): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const sinceMonday = (now.getUTCDay() + 6) % 7;
  const out: string[] = [];
  for (let week = 0; week < count; week++) {
    const d = new Date(today - (sinceMonday + 7 * week) * 86_400_000);
    out.push(d.toISOString().slice(0, 10).replaceAll('-', ''));
  }
  return out;
}

/** The file URLs to probe under `base`, newest first. */
export function probeCandidates(base: string, cloud: CloudName, now: Date): ServiceTagLink[] {
  const folder = base.endsWith('/') ? base : `${base}/`;
  return recentMondays(now).map((date) => ({ url: new URL(serviceTagFileName(cloud, date), folder).href, date, origin: 'probe' as const }));
}
