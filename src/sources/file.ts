import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { TagwallError } from '../core/errors.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import { MAX_DOCUMENT_CHARS, parseServiceTagDocument } from './schema.js';

/** Reads a service-tags file from disk; `.gz` files are gunzipped first. */
export async function loadServiceTagFile(path: string): Promise<ServiceTagDocument> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new TagwallError('SERVICE_TAGS_UNREADABLE', `${path}: not a file`);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof TagwallError) throw e;
    throw new TagwallError('SERVICE_TAGS_UNREADABLE', `${path}: cannot read the service-tags file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  if (path.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_DOCUMENT_CHARS + 1 });
    } catch (e) {
      const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new TagwallError(
        tooBig ? 'SERVICE_TAGS_TOO_LARGE' : 'SERVICE_TAGS_NOT_JSON',
        tooBig ? `${path}: unpacks to more than ${MAX_DOCUMENT_CHARS} bytes` : `${path}: not a valid gzip file (${(e as Error).message})`,
      );
    }
  }
  return parseServiceTagDocument(bytes.toString('utf8'), path);
}
