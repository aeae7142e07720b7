import { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { cidrFamily, isCidrProblem, readCidr, type Cidr } from '../core/ipv4.js';
import type { ServiceTagDocument } from '../core/service-tags.js';

/**
 * The wire format of Microsoft's weekly "Azure IP Ranges and Service Tags" file.
 * Strict on purpose: a malformed or truncated file must fail closed, because an empty
 * or partial desired set would remove rules from every vault.
 */
const prefix = z.string().min(1);

export const serviceTagWireSchema = z.strictObject({
  name: z.string().min(1),
  id: z.string().min(1),
  properties: z.strictObject({
    changeNumber: z.number().int().nonnegative(),
    region: z.string(),
    regionId: z.number().int(),
    platform: z.string(),
    systemService: z.string(),
    addressPrefixes: z.array(prefix),
    networkFeatures: z.array(z.string()).nullable(),
  }),
});

export const serviceTagDocumentWireSchema = z.strictObject({
  changeNumber: z.number().int().nonnegative(),
  cloud: z.string().min(1),
  values: z.array(serviceTagWireSchema),
});

/** Refuse anything bigger: the real Public file is about 4 MB. */
export const MAX_DOCUMENT_CHARS = 50 * 1024 * 1024;

/** `values[12].properties.addressPrefixes[3]` from a zod issue path. */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

export function zodProblems(error: z.ZodError, limit = 20): string[] {
  const lines = error.issues.slice(0, limit).map((i) => `${formatJsonPath(i.path)}: ${i.message}`);
  if (error.issues.length > limit) lines.push(`... and ${error.issues.length - limit} more`);
  return lines;
}

/**
 * Parses the text of a service-tags file. `source` names the file or URL in errors.
 * CRLF and LF both parse: JSON treats either as white space.
 */
export function parseServiceTagDocument(text: string, source: string): ServiceTagDocument {
  if (text.length > MAX_DOCUMENT_CHARS) {
    throw new TagwallError('SERVICE_TAGS_TOO_LARGE', `${source}: ${text.length} characters is more than the ${MAX_DOCUMENT_CHARS} a service-tags file may have`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const looksHtml = /^\s*</.test(text);
    throw new TagwallError(
      'SERVICE_TAGS_NOT_JSON',
      `${source}: not a service-tags JSON file (${looksHtml ? 'it looks like an HTML page' : (e as Error).message})`,
    );
  }
  return fromWire(raw, source);
}

/** Validates an already-parsed value (the ARM discovery API answers with objects). */
export function fromWire(raw: unknown, source: string): ServiceTagDocument {
  const parsed = serviceTagDocumentWireSchema.safeParse(raw);
  if (!parsed.success) {
    throw new TagwallError('SERVICE_TAGS_SCHEMA', `${source}: not a valid service-tags file`, { details: zodProblems(parsed.error) });
  }
  const doc = parsed.data;
  if (doc.values.length === 0) {
    throw new TagwallError('SERVICE_TAGS_EMPTY', `${source}: the file lists no service tags`);
  }
  const problems: string[] = [];
  const tags = doc.values.map((v, i) => {
    const ipv4: Cidr[] = [];
    let ipv6Count = 0;
    const prefixes = v.properties.addressPrefixes;
    for (let j = 0; j < prefixes.length; j++) {
      const text = prefixes[j]!;
      // A quarter of the file is IPv6, which is only counted: the family check is enough,
      // without building a problem (and its message) for each one.
      if (text.includes(':') && cidrFamily(text) === 'ipv6') {
        ipv6Count++;
        continue;
      }
      const c = readCidr(text);
      if (!isCidrProblem(c)) ipv4.push(c);
      else if (c.code === 'CIDR_IPV6') ipv6Count++;
      else if (problems.length < 20) problems.push(`values[${i}].properties.addressPrefixes[${j}]: ${c.message}`);
    }
    return {
      name: v.name,
      id: v.id,
      changeNumber: v.properties.changeNumber,
      region: v.properties.region,
      regionId: v.properties.regionId,
      platform: v.properties.platform,
      systemService: v.properties.systemService,
      addressPrefixes: v.properties.addressPrefixes,
      networkFeatures: v.properties.networkFeatures,
      ipv4,
      ipv6Count,
    };
  });
  if (problems.length > 0) {
    throw new TagwallError('SERVICE_TAGS_SCHEMA', `${source}: not a valid service-tags file`, { details: problems });
  }
  return { changeNumber: doc.changeNumber, cloud: doc.cloud, source, tags };
}
