import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { parseServiceTagDocument } from '../../src/sources/schema.js';
import { gunzipSync } from 'node:zlib';

/** The bundled Public file; from dist/test/bench/ the repository root is three levels up. */
export const PUBLIC_FILE = fileURLToPath(new URL('../../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let cached: ServiceTagDocument | undefined;

/** Parsed once and shared, so sections after the parse measure only their own work. */
export function publicDocument(): ServiceTagDocument {
  cached ??= parseServiceTagDocument(gunzipSync(readFileSync(PUBLIC_FILE)).toString('utf8'), PUBLIC_FILE);
  return cached;
}
