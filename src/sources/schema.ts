import { createRequire } from 'node:module';
import type { z } from 'zod';
import { TagwallError } from '../core/errors.js';
import { cidrFamily, isCidrProblem, readCidr } from '../core/ip-text.js';
import type { Cidr } from '../core/ipv4.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { zodProblems } from '../core/problems.js';

/**
 * The wire format of Microsoft's weekly "Azure IP Ranges and Service Tags" file.
 * Strict on purpose: a malformed or truncated file must fail closed, because an empty
 * or partial desired set would remove rules from every vault.
 */
function buildWireSchemas(zod: typeof z) {
  const prefix = zod.string().min(1);
  const tag = zod.strictObject({
    name: zod.string().min(1),
    id: zod.string().min(1),
    properties: zod.strictObject({
      changeNumber: zod.number().int().nonnegative(),
      region: zod.string(),
      regionId: zod.number().int(),
      platform: zod.string(),
      systemService: zod.string(),
      addressPrefixes: zod.array(prefix),
      networkFeatures: zod.array(zod.string()).nullable(),
    }),
  });
  const document = zod.strictObject({
    changeNumber: zod.number().int().nonnegative(),
    cloud: zod.string().min(1),
    values: zod.array(tag),
  });
  return { tag, document };
}

type WireSchemas = ReturnType<typeof buildWireSchemas>;
type DocumentWire = z.infer<WireSchemas['document']>;

let wireSchemas: WireSchemas | undefined;
const load = createRequire(import.meta.url);

/**
 * The zod schema of a whole file. It is the definition of a valid file; a hand-written check
 * of the same rules (conformsToWire) runs first, and zod is loaded only to explain a failure:
 * loading it costs a `tagwall plan` about a sixth of its run.
 */
export function serviceTagDocumentWireSchema(): WireSchemas['document'] {
  wireSchemas ??= buildWireSchemas((load('zod') as { z: typeof z }).z);
  return wireSchemas.document;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function hasExactly(o: Record<string, unknown>, keys: readonly string[]): boolean {
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k) || !keys.includes(k)) return false;
    n++;
  }
  return n === keys.length && Object.getOwnPropertySymbols(o).length === 0;
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown) => typeof v === 'string';
const isName = (v: unknown) => typeof v === 'string' && v.length > 0;

function everyItem(v: unknown, test: (item: unknown) => boolean): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!test(v[i])) return false;
  return true;
}

const DOCUMENT_KEYS = ['changeNumber', 'cloud', 'values'];
const TAG_KEYS = ['name', 'id', 'properties'];
const PROPERTY_KEYS = ['changeNumber', 'region', 'regionId', 'platform', 'systemService', 'addressPrefixes', 'networkFeatures'];

function isTagWire(t: unknown): boolean {
  if (!isPlainObject(t) || !hasExactly(t, TAG_KEYS) || !isName(t.name) || !isName(t.id)) return false;
  const p = t.properties;
  return (
    isPlainObject(p) &&
    hasExactly(p, PROPERTY_KEYS) &&
    isCount(p.changeNumber) &&
    isText(p.region) &&
    Number.isSafeInteger(p.regionId) &&
    isText(p.platform) &&
    isText(p.systemService) &&
    everyItem(p.addressPrefixes, isName) &&
    (p.networkFeatures === null || everyItem(p.networkFeatures, isText))
  );
}

/**
 * The same rules as serviceTagDocumentWireSchema, checked by hand, and never looser: when
 * this says yes, the schema says yes. A new process spends ~100 ms on the schema's first
 * pass over 3000 tags, about as long as the rest of reading the file; the schema now runs
 * only when this check fails, to say what is wrong and where.
 */
export function conformsToWire(raw: unknown): raw is DocumentWire {
  return isPlainObject(raw) && hasExactly(raw, DOCUMENT_KEYS) && isCount(raw.changeNumber) && isName(raw.cloud) && everyItem(raw.values, isTagWire);
}

/** Refuse anything bigger: the real Public file is about 4 MB. */
export const MAX_DOCUMENT_CHARS = 50 * 1024 * 1024;

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
  let doc: DocumentWire;
  if (conformsToWire(raw)) {
    doc = raw;
  } else {
    const parsed = serviceTagDocumentWireSchema().safeParse(raw);
    if (!parsed.success) {
      throw new TagwallError('SERVICE_TAGS_SCHEMA', `${source}: not a valid service-tags file`, { details: zodProblems(parsed.error) });
    }
    doc = parsed.data;
  }
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
      // A quarter of the file is IPv6, which is only counted: the family is enough,
      // without wording a problem for each one.
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
