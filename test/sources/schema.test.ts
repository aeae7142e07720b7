import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isTagwallError, type TagwallError } from '../../src/core/errors.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { conformsToWire, fromWire, MAX_DOCUMENT_CHARS, parseServiceTagDocument, serviceTagDocumentWireSchema } from '../../src/sources/schema.js';
import { wireDocument } from '../core/documents.js';

const FILE = 'ServiceTags_Test_20251013.json';

function sample() {
  return wireDocument([
    { name: 'AzureCloud.westeurope', region: 'westeurope', prefixes: ['13.69.0.0/17', '2603:1020:200::/46'] },
    { name: 'LogicApps', prefixes: ['4.175.25.141/32', '13.65.39.247'] },
    { name: 'Storage.FranceCentral', region: 'centralfrance', prefixes: ['20.38.103.0/24', '52.239.134.0/24'] },
  ]);
}

function failure(run: () => unknown): TagwallError {
  try {
    run();
  } catch (e) {
    if (isTagwallError(e)) return e;
    throw e;
  }
  throw new Error('accepted');
}

const parse = (value: unknown) => () => parseServiceTagDocument(JSON.stringify(value), FILE);

/** Everything a person sees: the message and every detail line. */
const shown = (e: TagwallError) => [e.message, ...e.details].join('\n');

describe('a valid file', () => {
  it('parses into the domain view, IPv4 parsed once and IPv6 counted', () => {
    const doc = parseServiceTagDocument(JSON.stringify(sample()), FILE);
    expect(doc.cloud).toBe('Public');
    expect(doc.changeNumber).toBe(7);
    expect(doc.source).toBe(FILE);
    expect(doc.tags.map((t) => t.name)).toEqual(['AzureCloud.westeurope', 'LogicApps', 'Storage.FranceCentral']);
    expect(doc.tags[0]!.ipv4).toEqual([{ base: 13 * 2 ** 24 + 69 * 2 ** 16, length: 17 }]);
    expect(doc.tags[0]!.ipv6Count).toBe(1);
    expect(doc.tags[1]!.ipv4.map((c) => c.length)).toEqual([32, 32]);
    expect(doc.tags[2]!.region).toBe('centralfrance');
  });

  it.each([
    ['LF', (s: string) => s],
    ['CRLF', (s: string) => s.replace(/\n/g, '\r\n')],
    ['a byte-order mark', (s: string) => `\uFEFF${s}`],
    ['CRLF and a byte-order mark', (s: string) => `\uFEFF${s.replace(/\n/g, '\r\n')}`],
  ])('parses with %s', (_, shape) => {
    const text = shape(JSON.stringify(sample(), null, 2));
    expect(parseServiceTagDocument(text, FILE)).toEqual(parseServiceTagDocument(JSON.stringify(sample()), FILE));
  });

  it('counts IPv6 prefixes, written any valid way, without parsing them as rules', () => {
    const value = sample();
    value.values[1]!.properties.addressPrefixes.push('::/0', '2603:1000::/128', ' 2603:1000::/40', '::ffff:52.1.2.3');
    const tag = fromWire(value, FILE).tags[1]!;
    expect(tag.ipv6Count).toBe(4);
    expect(tag.ipv4).toHaveLength(2);
  });

  it('accepts networkFeatures as a list or null', () => {
    const value = sample();
    (value.values[0]!.properties as { networkFeatures: unknown }).networkFeatures = ['API', 'NSG'];
    expect(fromWire(value, FILE).tags[0]!.networkFeatures).toEqual(['API', 'NSG']);
  });
});

describe('a malformed file names the file and the JSON path', () => {
  it.each<[string, (v: ReturnType<typeof sample>) => void, string]>([
    ['a missing field', (v) => delete (v.values[1]!.properties as Partial<(typeof v.values)[0]['properties']>).region, 'values[1].properties.region'],
    ['a missing top-level field', (v) => delete (v as Partial<typeof v>).cloud, 'cloud'],
    ['a string for a number', (v) => ((v as { changeNumber: unknown }).changeNumber = '373'), 'changeNumber'],
    ['a string for the prefix list', (v) => ((v.values[2]!.properties as { addressPrefixes: unknown }).addressPrefixes = '20.38.103.0/24'), 'values[2].properties.addressPrefixes'],
    ['a number in the prefix list', (v) => ((v.values[0]!.properties.addressPrefixes as unknown[])[1] = 42), 'values[0].properties.addressPrefixes[1]'],
    ['an empty name', (v) => (v.values[1]!.name = ''), 'values[1].name'],
    ['a negative change number', (v) => (v.values[0]!.properties.changeNumber = -1), 'values[0].properties.changeNumber'],
    ['an extra key', (v) => ((v.values[0]!.properties as Record<string, unknown>).ipv4Only = true), 'values[0].properties'],
    ['an extra top-level key', (v) => ((v as Record<string, unknown>).next = 'x'), '(root)'],
  ])('%s', (_, spoil, path) => {
    const value = sample();
    spoil(value);
    const e = failure(parse(value));
    expect(e.code).toBe('SERVICE_TAGS_SCHEMA');
    expect(e.message).toContain(FILE);
    expect(e.details.some((d) => d.startsWith(`${path}: `)), e.details.join('\n')).toBe(true);
    if (path === 'values[0].properties') expect(shown(e)).toContain('ipv4Only');
  });

  it('a root that is not an object', () => {
    const e = failure(() => parseServiceTagDocument('[]', FILE));
    expect(e.code).toBe('SERVICE_TAGS_SCHEMA');
    expect(e.details[0]).toMatch(/^\(root\): /);
  });

  it('zero tags', () => {
    const value = sample();
    value.values = [];
    const e = failure(parse(value));
    expect(e.code).toBe('SERVICE_TAGS_EMPTY');
    expect(e.message).toContain(FILE);
  });

  it.each([
    ['host bits', '52.239.134.7/24', 'did you mean 52.239.134.0/24'],
    ['junk', '52.239.134', '"52.239.134"'],
    ['leading zeros', '052.239.134.0/24', '"052.239.134.0/24"'],
    ['a prefix length past 32', '52.239.134.0/33', '"52.239.134.0/33" is not an IPv4 CIDR: prefix length 33 is over 32'],
    ['a prefix length with a leading zero', '52.239.134.0/024', '"52.239.134.0/024" is not an IPv4 CIDR: prefix length "024" has a leading zero'],
    ['a hex part', '0x34.239.134.0/24', '"0x34.239.134.0/24"'],
    ['a three-part address', '52.239.134/24', '"52.239.134/24"'],
    ['an IPv6 length with a leading zero', '2603:1020::/046', '"2603:1020::/046" is not an IPv6 CIDR: prefix length "046" has a leading zero'],
    ['an IPv6 prefix with an octal IPv4 tail', '::ffff:052.1.2.0/120', '"::ffff:052.1.2.0/120"'],
    ['a broken IPv6 prefix', '2603:1020:::/46', '"2603:1020:::/46"'],
    ['an IPv6 length past 128', '2603:1020::/129', '"2603:1020::/129"'],
    ['an IPv6 zone', 'fe80::1%eth0', '"fe80::1%eth0"'],
  ])('a bad prefix (%s)', (_, prefix, hint) => {
    const value = sample();
    value.values[2]!.properties.addressPrefixes[1] = prefix;
    const e = failure(parse(value));
    expect(e.code).toBe('SERVICE_TAGS_SCHEMA');
    expect(e.message).toContain(FILE);
    expect(e.details).toHaveLength(1);
    expect(e.details[0]).toMatch(/^values\[2\]\.properties\.addressPrefixes\[1\]: /);
    expect(e.details[0]).toContain(hint);
  });

  it('lists many problems at once, but not without end', () => {
    const value = sample();
    value.values = Array.from({ length: 30 }, (_, i) => ({ ...value.values[1]!, name: `Bad${i}`, properties: { ...value.values[1]!.properties, addressPrefixes: ['1.2.3.4/8'] } }));
    const e = failure(parse(value));
    expect(e.details).toHaveLength(20);
    expect(e.details[19]).toMatch(/^values\[19\]/);

    const wrong = sample();
    wrong.values = Array.from({ length: 30 }, () => ({ name: 1 }) as never);
    const z = failure(parse(wrong));
    expect(z.details.length).toBe(21);
    expect(z.details[20]).toMatch(/^\.\.\. and \d+ more$/);
  });

  it('truncated JSON', () => {
    const text = JSON.stringify(sample(), null, 2);
    const e = failure(() => parseServiceTagDocument(text.slice(0, Math.floor(text.length / 2)), FILE));
    expect(e.code).toBe('SERVICE_TAGS_NOT_JSON');
    expect(e.message).toContain(FILE);
  });

  it('an HTML page', () => {
    const e = failure(() => parseServiceTagDocument('\r\n<!DOCTYPE html><html><body>Download Azure IP Ranges</body></html>', FILE));
    expect(e.code).toBe('SERVICE_TAGS_NOT_JSON');
    expect(e.message).toContain(FILE);
    expect(e.message).toContain('HTML page');
  });

  it('an empty file', () => {
    expect(failure(() => parseServiceTagDocument('', FILE)).code).toBe('SERVICE_TAGS_NOT_JSON');
  });

  it('more than 50 MB of text', () => {
    const e = failure(() => parseServiceTagDocument(' '.repeat(MAX_DOCUMENT_CHARS + 1), FILE));
    expect(MAX_DOCUMENT_CHARS).toBe(50 * 1024 * 1024);
    expect(e.code).toBe('SERVICE_TAGS_TOO_LARGE');
    expect(e.message).toContain(FILE);
  });
});

describe('reading files from disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tagwall-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gunzips .gz files, CRLF or LF', async () => {
    const lf = join(dir, 'lf.json.gz');
    const crlf = join(dir, 'crlf.json.gz');
    const text = JSON.stringify(sample(), null, 2);
    writeFileSync(lf, gzipSync(text));
    writeFileSync(crlf, gzipSync(text.replace(/\n/g, '\r\n')));
    const a = await loadServiceTagFile(lf);
    const b = await loadServiceTagFile(crlf);
    expect(a.tags).toEqual(b.tags);
    expect(a.source).toBe(lf);
  });

  it('refuses a .gz that unpacks to more than 50 MB, naming the file', async () => {
    const bomb = join(dir, 'bomb.json.gz');
    writeFileSync(bomb, gzipSync(Buffer.alloc(MAX_DOCUMENT_CHARS + 1024, 0x20)));
    const e = await loadServiceTagFile(bomb).then(
      () => undefined,
      (err: unknown) => err as TagwallError,
    );
    expect(e?.code).toBe('SERVICE_TAGS_TOO_LARGE');
    expect(e?.message).toContain(bomb);
  });

  it('refuses a .gz that is not gzip, and a missing file', async () => {
    const plain = join(dir, 'plain.json.gz');
    writeFileSync(plain, JSON.stringify(sample()));
    await expect(loadServiceTagFile(plain)).rejects.toMatchObject({ code: 'SERVICE_TAGS_NOT_JSON', message: expect.stringContaining(plain) });
    await expect(loadServiceTagFile(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'SERVICE_TAGS_UNREADABLE' });
    await expect(loadServiceTagFile(dir)).rejects.toMatchObject({ code: 'SERVICE_TAGS_UNREADABLE' });
  });

  it('reads a plain JSON file with a byte-order mark', async () => {
    const bom = join(dir, 'bom.json');
    writeFileSync(bom, `\uFEFF${JSON.stringify(sample())}`);
    expect((await loadServiceTagFile(bom)).tags).toHaveLength(3);
  });
});

describe('the quick shape check', () => {
  /** Every place in a value where a mutation can land: [parent, key] pairs. */
  function places(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
    if (Array.isArray(value)) value.forEach((v, i) => (out.push([value, i]), places(v, out)));
    else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push([value as Record<string, unknown>, k]), places(v, out);
    return out;
  }

  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('replace', 'delete', 'add key'),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('', 'x', -1, 0, 1.5, 2 ** 53, 2 ** 53 - 1, null, [], {}, ['52.0.0.0/8'], [''], [null]),
    ),
    key: fc.constantFrom('name', 'extra', 'region', 'values', '__proto__'),
  });

  it('agrees with the schema on mutated documents', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 0, maxLength: 3 }), (mutations) => {
        const value: unknown = sample();
        for (const m of mutations) {
          const all = places(value);
          if (all.length === 0) break;
          const [parent, key] = all[m.at % all.length]!;
          // A copy: fast-check may hand the same value to two mutations, and putting one object
          // inside itself would make a cycle that JSON (and so a real file) cannot have.
          const inserted = structuredClone(m.value);
          if (m.kind === 'replace') (parent as Record<string | number, unknown>)[key] = inserted;
          else if (m.kind === 'delete' && !Array.isArray(parent)) delete parent[key as string];
          else if (!Array.isArray(parent)) parent[m.key] = inserted;
        }
        // As JSON would deliver it: plain objects, an own "__proto__" key kept as data.
        const wire = JSON.parse(JSON.stringify(value)) as unknown;
        expect(conformsToWire(wire)).toBe(serviceTagDocumentWireSchema().safeParse(wire).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('passes the real files, so the schema only runs to explain a failure', async () => {
    for (const file of ['ServiceTags_AzureGovernment_20251013', 'ServiceTags_China_20251013', 'ServiceTags_Public_20251006']) {
      const text = (await import('node:zlib')).gunzipSync((await import('node:fs')).readFileSync(new URL(`../fixtures/service-tags/${file}.json.gz`, import.meta.url))).toString('utf8');
      const raw = JSON.parse(text) as unknown;
      expect(conformsToWire(raw), file).toBe(true);
      expect(serviceTagDocumentWireSchema().safeParse(raw).success, file).toBe(true);
    }
  });

  it('is never looser than the schema for values that did not come from JSON', () => {
    class Tag {
      name = 'X';
      id = 'X';
      properties = sample().values[0]!.properties;
    }
    const withClass = { ...sample(), values: [new Tag()] };
    expect(conformsToWire(withClass)).toBe(false);
    expect(fromWire(withClass, FILE).tags[0]!.name).toBe('X');
    const sparse = sample();
    // eslint-disable-next-line no-sparse-arrays
    (sparse.values[0]!.properties as { addressPrefixes: unknown[] }).addressPrefixes = ['52.0.0.0/8', , '52.1.0.0/16'];
    expect(conformsToWire(sparse)).toBe(false);
    expect(failure(() => fromWire(sparse, FILE)).code).toBe('SERVICE_TAGS_SCHEMA');
  });
});
