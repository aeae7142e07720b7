import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { fromWire } from '../../src/sources/schema.js';

export interface TinyTag {
  name: string;
  region?: string;
  prefixes: string[];
}

/** One wire-format tag entry, shaped like the weekly file's. */
export function wireTag(t: TinyTag, i = 0) {
  return {
    name: t.name,
    id: t.name,
    properties: {
      changeNumber: 1,
      region: t.region ?? '',
      regionId: i,
      platform: 'Azure',
      systemService: t.name.split('.')[0]!,
      addressPrefixes: t.prefixes,
      networkFeatures: null,
    },
  };
}

export function wireDocument(tags: readonly TinyTag[]) {
  return { changeNumber: 7, cloud: 'Public', values: tags.map(wireTag) };
}

/** A made-up document that goes through the same validation as a real file. */
export function tinyDocument(tags: readonly TinyTag[], source = 'made-up.json'): ServiceTagDocument {
  return fromWire(wireDocument(tags), source);
}
