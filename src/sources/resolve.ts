import { basename } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { TagwallError } from '../core/errors.js';
import { CLOUDS, type CloudName, type ServiceTagDocument } from '../core/service-tags.js';
import type { KeyValueStore } from '../state/store.js';
import { DEFAULT_ALLOWED_HOSTS } from './allowed-hosts.js';
import { fetchServiceTagsFromArm } from './arm-discovery.js';
import { downloadServiceTags, OLD_FILE_DAYS } from './download.js';
import { fileDateOf, fileDateToUtc } from './download-page.js';
import { loadServiceTagFile } from './file.js';
import { HttpsFetcher, type FetchOptions } from './https-fetcher.js';

/** Where the service tags come from; see docs/SERVICE-TAGS-SOURCES.md. */
export type ServiceTagSourceKind = 'file' | 'url' | 'download' | 'arm';

export interface ResolveServiceTagsOptions {
  readonly source: ServiceTagSourceKind;
  readonly cloud: CloudName;
  /** `file`: a .json or .json.gz on disk. */
  readonly path?: string;
  /** `url`: a fixed file URL, such as a mirror (its host must be allowed). */
  readonly url?: string;
  /** `download`: the download-centre page; defaults to the cloud's. */
  readonly pageUrl?: string;
  /** `download`: folder probed when the page yields nothing; `null` turns probing off. */
  readonly probeBaseUrl?: string | null;
  /** Hosts allowed besides www.microsoft.com and download.microsoft.com (`host` or `host:port`). */
  readonly allowedHosts?: readonly string[];
  readonly maxStaleDays?: number;
  /** Where the last-known-good copy lives (`download` and `url`). */
  readonly cache?: KeyValueStore;
  readonly now?: () => Date;
  readonly fetch?: FetchOptions;
  readonly arm?: {
    readonly credential: TokenCredential;
    readonly subscriptionId: string;
    readonly location: string;
    readonly endpoint?: string;
    readonly apiVersion?: string;
  };
  readonly onProgress?: (received: number, total?: number) => void;
}

export interface ResolvedServiceTags {
  readonly document: ServiceTagDocument;
  readonly url?: string;
  readonly path?: string;
  readonly changeNumber: number;
  /** The document is the last-known-good copy (reused unchanged, or during an outage). */
  readonly cacheUsed: boolean;
  /** A file body was downloaded in this call. */
  readonly downloaded: boolean;
  readonly warnings: string[];
  /** `YYYYMMDD` from the file name, when it has one. */
  readonly fileDate?: string;
}

function missing(what: string, source: string): TagwallError {
  return new TagwallError('CONFIG_SERVICE_TAGS', `service-tags source "${source}" needs ${what}`);
}

/** The one way the CLI and the reconciler get service tags. */
export async function resolveServiceTags(options: ResolveServiceTagsOptions): Promise<ResolvedServiceTags> {
  const { cloud, source } = options;
  if (!(CLOUDS as readonly string[]).includes(cloud)) {
    throw new TagwallError('CONFIG_SERVICE_TAGS', `unknown cloud "${cloud}"; expected one of ${CLOUDS.join(', ')}`);
  }
  switch (source) {
    case 'file': {
      if (!options.path) throw missing('a path', source);
      const document = await loadServiceTagFile(options.path);
      if (document.cloud !== cloud) {
        throw new TagwallError('SERVICE_TAGS_WRONG_CLOUD', `${options.path}: the file is for the "${document.cloud}" cloud, not ${cloud}; refused`);
      }
      const fileDate = fileDateOf(basename(options.path).replace(/\.gz$/i, ''), cloud);
      const warnings: string[] = [];
      const now = (options.now ?? (() => new Date()))();
      if (fileDate && now.getTime() - fileDateToUtc(fileDate).getTime() > OLD_FILE_DAYS * 86_400_000) {
        warnings.push(`${options.path}: the file is dated ${fileDate}, more than ${OLD_FILE_DAYS} days ago`);
      }
      return { document, path: options.path, changeNumber: document.changeNumber, cacheUsed: false, downloaded: false, warnings, fileDate };
    }
    case 'url':
    case 'download': {
      if (source === 'url' && !options.url) throw missing('a url', source);
      const fetcher = new HttpsFetcher([...DEFAULT_ALLOWED_HOSTS, ...(options.allowedHosts ?? [])], options.fetch);
      try {
        return await downloadServiceTags({
          cloud,
          fetcher,
          url: source === 'url' ? options.url : undefined,
          pageUrl: options.pageUrl,
          probeBaseUrl: options.probeBaseUrl,
          cache: options.cache,
          maxStaleDays: options.maxStaleDays,
          now: options.now,
          onProgress: options.onProgress,
        });
      } finally {
        await fetcher.close();
      }
    }
    case 'arm': {
      if (!options.arm) throw missing('arm settings (credential, subscriptionId, location)', source);
      if (!options.arm.subscriptionId || !options.arm.location) throw missing('a subscriptionId and a location', source);
      const { document, url } = await fetchServiceTagsFromArm({ ...options.arm, cloud, fetch: options.fetch });
      return { document, url, changeNumber: document.changeNumber, cacheUsed: false, downloaded: true, warnings: [] };
    }
    default:
      throw new TagwallError('CONFIG_SERVICE_TAGS', `unknown service-tags source "${String(source)}"; expected file, url, download or arm`);
  }
}
