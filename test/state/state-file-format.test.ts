import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStateFile, encodeStateFile } from '../../src/state/json-file-store.js';

/**
 * The state file is read a line at a time when it is as tagwall wrote it, and parsed whole
 * otherwise (an edit by hand). Both readings must give back exactly the stored texts.
 */

const texts = fc.oneof(
  fc.string(),
  fc.json(),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.array(fc.string()))).map((o) => JSON.stringify(o)),
);

describe('state file format', () => {
  it('reads back every stored text, whatever its keys and texts', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), texts), (dict) => {
        const entries = new Map(Object.entries(dict));
        const encoded = encodeStateFile(entries);
        expect(decodeStateFile(encoded, 'test')).toEqual(entries);
        // The same file laid out by hand (say, pretty-printed by an editor) reads the same.
        const pretty = JSON.stringify(JSON.parse(encoded), null, 2);
        expect(decodeStateFile(pretty, 'test')).toEqual(entries);
      }),
      { numRuns: 300 },
    );
  });

  it('still refuses a corrupt file laid out as tagwall lays it out', () => {
    const good = encodeStateFile(new Map([['a', '{"x":1}'], ['b', 'text']]));
    expect(() => decodeStateFile(good.replace('{"x":1}', '{"x":'), 'state.json')).toThrow(/corrupt/);
    expect(() => decodeStateFile(good.replace('"version": 1', '"version": 2'), 'state.json')).toThrow(/unknown version/);
    expect(decodeStateFile(encodeStateFile(new Map()), 'state.json')).toEqual(new Map());
  });
});
