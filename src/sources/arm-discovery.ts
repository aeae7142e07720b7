import type { TokenCredential } from '@azure/core-auth';
import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import type { CloudName, ServiceTagDocument } from '../core/service-tags.js';
import { HttpsFetcher, type FetchOptions } from './https-fetcher.js';
import { fromWire } from './schema.js';
import { zodProblems } from '../core/problems.js';

/**
 * The ARM Service Tag Discovery API as a source:
 * `GET {endpoint}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/serviceTags`.
 *
 * Caveats, and why the weekly file stays the default source:
 * - It can lag the downloadable file by weeks: a range Microsoft has already published
 *   (and starts using a week later) may be missing here, so a vault would block it.
 * - Users report regional tags missing from its answer that the file lists.
 * - It leaves out `regionId`, `platform` and `networkFeatures`; tagwall fills them with
 *   neutral values (0, "Azure", null), the values the file gives global tags, and
 *   nothing in tagwall chooses prefixes by them.
 * - It needs a credential with read access on a subscription (any role that can read
 *   `Microsoft.Network/locations/serviceTags`, such as Reader); the `location` only picks
 *   the serving region: the answer covers the whole cloud.
 * Its advantage: an authenticated, versioned API with no page to scrape.
 */
export const ARM_SERVICE_TAGS_API_VERSION = '2024-05-01';

export const ARM_ENDPOINTS: Readonly<Record<CloudName, string>> = {
  Public: 'https://management.azure.com',
  AzureGovernment: 'https://management.usgovcloudapi.net',
  China: 'https://management.chinacloudapi.cn',
};

/** A loop of nextLinks must end somewhere; today the answer is a single page. */
const MAX_PAGES = 50;

export interface ArmDiscoveryOptions {
  readonly credential: TokenCredential;
  readonly subscriptionId: string;
  readonly location: string;
  /** Defaults to the cloud's ARM endpoint. */
  readonly endpoint?: string;
  /** When given, an answer for another cloud is refused. */
  readonly cloud?: CloudName;
  readonly apiVersion?: string;
  readonly fetch?: FetchOptions;
}

const changeNumber = z.string().regex(/^\d+$/, 'expected a whole number in a string').transform(Number);

const armPageSchema = z.object({
  changeNumber,
  cloud: z.string().min(1),
  values: z.array(z.object({
    name: z.string().min(1),
    id: z.string().min(1),
    properties: z.object({
      changeNumber,
      region: z.string().optional(),
      systemService: z.string().optional(),
      addressPrefixes: z.array(z.string()),
    }),
  })),
  nextLink: z.string().nullish(),
});

type ArmPage = z.infer<typeof armPageSchema>;

/** Turns the API's pages into the file's wire shape, so both pass the same strict checks. */
export function armPagesToWire(pages: readonly ArmPage[]): unknown {
  const first = pages[0]!;
  return {
    changeNumber: first.changeNumber,
    cloud: first.cloud,
    values: pages.flatMap((p) => p.values).map((v) => ({
      name: v.name,
      id: v.id,
      properties: {
        changeNumber: v.properties.changeNumber,
        region: v.properties.region ?? '',
        regionId: 0,
        platform: 'Azure',
        systemService: v.properties.systemService ?? '',
        addressPrefixes: v.properties.addressPrefixes,
        networkFeatures: null,
      },
    })),
  };
}

function armErrorDetail(body: string): string | undefined {
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === 'string') return `${e.code}${typeof e.message === 'string' ? ` ${e.message}` : ''}`;
  } catch {
    // not an ARM error body
  }
  return undefined;
}

export async function fetchServiceTagsFromArm(o: ArmDiscoveryOptions): Promise<{ document: ServiceTagDocument; url: string }> {
  const endpoint = (o.endpoint ?? ARM_ENDPOINTS[o.cloud ?? 'Public']).replace(/\/+$/, '');
  let origin: URL;
  try {
    origin = new URL(endpoint);
  } catch {
    throw new TagwallError('CONFIG_ARM_ENDPOINT', `"${endpoint}" is not an ARM endpoint URL`);
  }
  if (origin.protocol !== 'https:') throw new TagwallError('CONFIG_ARM_ENDPOINT', `${endpoint}: the ARM endpoint must be https (a bearer token is sent to it)`);
  const path = `/subscriptions/${encodeURIComponent(o.subscriptionId)}/providers/Microsoft.Network/locations/${encodeURIComponent(o.location)}/serviceTags`;
  const url = `${endpoint}${path}?api-version=${encodeURIComponent(o.apiVersion ?? ARM_SERVICE_TAGS_API_VERSION)}`;
  const scope = `${endpoint}/.default`;
  // Only the endpoint itself is contacted, and never through a redirect, so the token
  // cannot be carried to another host.
  const fetcher = new HttpsFetcher([origin.host], o.fetch);
  try {
    const pages: ArmPage[] = [];
    for (let next: string | undefined = url; next !== undefined;) {
      if (pages.length >= MAX_PAGES) throw new TagwallError('ARM_SERVICE_TAGS_PAGING', `${url}: more than ${MAX_PAGES} pages of service tags; refused`);
      const token = await getToken(o.credential, scope);
      const got = await fetcher.get(next, {
        purpose: 'ARM service tag discovery',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        followRedirects: false,
        errorDetail: armErrorDetail,
      });
      pages.push(parsePage(got.body.toString('utf8'), next));
      next = pages.at(-1)!.nextLink ?? undefined;
    }
    const document = fromWire(armPagesToWire(pages), `ARM service tag discovery (${endpoint}, ${o.location})`);
    if (o.cloud !== undefined && document.cloud !== o.cloud) {
      throw new TagwallError('SERVICE_TAGS_WRONG_CLOUD', `${url}: the answer is for the "${document.cloud}" cloud, not ${o.cloud}; refused`);
    }
    return { document, url };
  } finally {
    await fetcher.close();
  }
}

async function getToken(credential: TokenCredential, scope: string): Promise<string> {
  let token;
  try {
    token = await credential.getToken(scope);
  } catch (e) {
    throw new TagwallError('ARM_AUTH', `could not get a token for ${scope}: ${(e as Error).message}`, { cause: e });
  }
  if (!token?.token) throw new TagwallError('ARM_AUTH', `the credential returned no token for ${scope}`);
  return token.token;
}

function parsePage(text: string, url: string): ArmPage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TagwallError('SERVICE_TAGS_NOT_JSON', `${url}: the answer is not JSON (${(e as Error).message})`);
  }
  const parsed = armPageSchema.safeParse(raw);
  if (!parsed.success) throw new TagwallError('SERVICE_TAGS_SCHEMA', `${url}: not a service tag discovery answer`, { details: zodProblems(parsed.error) });
  return parsed.data;
}
