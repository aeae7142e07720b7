import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { isTagwallError, TagwallError } from '../core/errors.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { fromWire } from '../sources/schema.js';
import type { KeyValueStore } from '../state/store.js';

/**
 * The service-tags document a fleet run resolved, kept content-addressed in the state store so
 * that every shard reconciles with exactly that document, even if Microsoft publishes a new one
 * while the queue drains. The key is the sha256 of the document's wire text; a shard checks it.
 */

const FORMAT = 'tagwall-service-tags-document/1';

const storedSchema = z.object({
  format: z.literal(FORMAT),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  source: z.string(),
  encoding: z.literal('gzip+base64'),
  body: z.string(),
});

export function documentKey(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new TagwallError('DOCUMENT_MISSING', `not a document id (a sha256): ${JSON.stringify(sha256)}`);
  return `documents/${sha256}.json`;
}

/** The document in the file's own shape (what fromWire reads), so the shard validates it again. */
function wireText(doc: ServiceTagDocument): string {
  return JSON.stringify({
    changeNumber: doc.changeNumber,
    cloud: doc.cloud,
    values: doc.tags.map((t) => ({
      name: t.name,
      id: t.id,
      properties: {
        changeNumber: t.changeNumber,
        region: t.region,
        regionId: t.regionId,
        platform: t.platform,
        systemService: t.systemService,
        addressPrefixes: t.addressPrefixes,
        networkFeatures: t.networkFeatures,
      },
    })),
  });
}

/** Stores the document (once: the same text is the same key) and returns its sha256. */
export async function storeDocument(store: KeyValueStore, doc: ServiceTagDocument): Promise<string> {
  const text = wireText(doc);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const key = documentKey(sha256);
  if ((await store.get(key)) !== undefined) return sha256;
  const stored = JSON.stringify({ format: FORMAT, sha256, source: doc.source, encoding: 'gzip+base64', body: gzipSync(Buffer.from(text, 'utf8')).toString('base64') });
  try {
    await store.put(key, stored, { ifNoneExists: true });
  } catch (e) {
    // Another run stored the same document first: same key, same text.
    if (!isTagwallError(e, 'STATE_CONFLICT')) throw e;
  }
  return sha256;
}

/**
 * Documents this process has loaded, by sha256: a worker takes shard after shard of the same run,
 * and decoding and validating the weekly file again for each cost more than the shard's ARM work.
 * A document is immutable and its key is its hash, so sharing it is safe; two are kept, for the
 * week a new file arrives while shards of the old one drain.
 */
const loaded = new Map<string, Promise<ServiceTagDocument>>();
const KEPT_DOCUMENTS = 2;

/** The stored document, checked against its sha256; DOCUMENT_MISSING when absent or altered. */
export function loadDocument(store: KeyValueStore, sha256: string): Promise<ServiceTagDocument> {
  const key = `${store.description}|${sha256}`;
  let doc = loaded.get(key);
  if (doc === undefined) {
    doc = readDocument(store, sha256);
    loaded.set(key, doc);
    // A failed read is not remembered: the next shard tries again.
    doc.catch(() => loaded.delete(key));
    while (loaded.size > KEPT_DOCUMENTS) loaded.delete(loaded.keys().next().value!);
  }
  return doc;
}

async function readDocument(store: KeyValueStore, sha256: string): Promise<ServiceTagDocument> {
  const key = documentKey(sha256);
  const stored = await store.get(key);
  if (stored === undefined) throw new TagwallError('DOCUMENT_MISSING', `the service-tags document ${sha256} is not in ${store.description} (${key}); the run that enqueued this shard stored it there`);
  let parsed: z.infer<typeof storedSchema>;
  try {
    parsed = storedSchema.parse(JSON.parse(stored.text));
  } catch (e) {
    throw new TagwallError('DOCUMENT_MISSING', `${key} in ${store.description} is not a stored service-tags document`, { cause: e });
  }
  const text = gunzipSync(Buffer.from(parsed.body, 'base64')).toString('utf8');
  const actual = createHash('sha256').update(text).digest('hex');
  if (actual !== sha256 || parsed.sha256 !== sha256) throw new TagwallError('DOCUMENT_MISSING', `${key} in ${store.description} does not hash to its name (sha256 ${actual}); it was altered`);
  return fromWire(JSON.parse(text), parsed.source);
}
