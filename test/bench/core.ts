import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { buildAllowlist } from '../../src/core/allowlist.js';
import { collapse } from '../../src/core/collapse.js';
import { FORBIDDEN_RANGES } from '../../src/core/forbidden.js';
import { forgetReadings, readCidr } from '../../src/core/ip-text.js';
import { rangesOf, rangesToCidrs, subtractRanges } from '../../src/core/ipv4.js';
import { selectTags, TagIndex } from '../../src/core/selection.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { fromWire, parseServiceTagDocument, serviceTagDocumentWireSchema } from '../../src/sources/schema.js';
import { PUBLIC_FILE, publicDocument } from './data.js';
import { registerSection } from './harness.js';

/** Collapse is the one step whose cost grows with N·K; it must stay well inside a CLI run. */
const COLLAPSE_TARGET_MS = 50;

registerSection('parse', async (ctx) => {
  const gz = ctx.time('read .gz from disk', () => readFileSync(PUBLIC_FILE));
  const bytes = ctx.time('gunzip', () => gunzipSync(gz), { note: `${(gz.length / 1e6).toFixed(1)} MB → ${(gunzipSync(gz).length / 1e6).toFixed(1)} MB` });
  const text = ctx.time('utf8 decode', () => bytes.toString('utf8'));
  const raw = ctx.time('JSON.parse', () => JSON.parse(text) as unknown);
  ctx.time('schema check alone (zod)', () => serviceTagDocumentWireSchema().safeParse(raw));
  const prefixes = (raw as { values: { properties: { addressPrefixes: string[] } }[] }).values.flatMap((v) => v.properties.addressPrefixes);
  // Each distinct prefix text is read once per process, so every row but "again" first
  // forgets what was read, as a CLI run or a host's first run starts with nothing.
  ctx.time('prefix parsing alone (readCidr)', () => {
    forgetReadings();
    for (const p of prefixes) readCidr(p);
  }, { note: `${prefixes.length} prefixes, ${new Set(prefixes).size} distinct` });
  ctx.time('prefix parsing again, texts already read', () => {
    for (const p of prefixes) readCidr(p);
  }, { note: 'a long-lived host re-reading the same file' });
  ctx.time('fromWire (schema + prefixes)', () => {
    forgetReadings();
    return fromWire(raw, PUBLIC_FILE);
  });
  ctx.time('parseServiceTagDocument (text → document)', () => {
    forgetReadings();
    return parseServiceTagDocument(text, PUBLIC_FILE);
  });
  await ctx.timeAsync('loadServiceTagFile (disk → document)', () => {
    forgetReadings();
    return loadServiceTagFile(PUBLIC_FILE);
  });
});

registerSection('select + merge', (ctx) => {
  const doc = publicDocument();
  const index = ctx.time('TagIndex (once per document)', () => new TagIndex(doc));
  const selection = ctx.time("selectTags '*'", () => selectTags(index, ['*']));
  let entries = 0;
  const merged = ctx.time(
    'merge (ranges, minus forbidden, to CIDRs)',
    () => {
      const blocks = selection.tags.flatMap((t) => t.ipv4);
      entries = blocks.length;
      return rangesToCidrs(subtractRanges(rangesOf(blocks), FORBIDDEN_RANGES));
    },
  );
  ctx.record({ label: "IPv4 entries → merged blocks ('*')", unit: 'count', median: entries, min: merged.length, samples: 1, note: `${entries} entries, ${merged.length} blocks` });
});

registerSection('collapse', (ctx) => {
  const doc = publicDocument();
  const merged = rangesToCidrs(subtractRanges(rangesOf(doc.tags.flatMap((t) => t.ipv4)), FORBIDDEN_RANGES));
  for (const maxRules of [1000, 127]) {
    for (const split31 of [false, true]) {
      ctx.time(`collapse '*' K=${maxRules}${split31 ? ' split-31' : ''}`, () => collapse(merged, { maxRules, split31, blocked: FORBIDDEN_RANGES }), {
        target: COLLAPSE_TARGET_MS,
        warmup: 3,
      });
    }
  }
  // The worst single tag for the DP: many /32s, budget below their count.
  const logicApps = buildAllowlist(doc, { select: ['LogicApps'], maxRules: 100_000 }).rules;
  ctx.time('collapse LogicApps K=1000', () => collapse(logicApps, { maxRules: 1000, split31: false, blocked: FORBIDDEN_RANGES }), { target: COLLAPSE_TARGET_MS });
});

registerSection('plan in process', (ctx) => {
  const doc = publicDocument();
  const index = new TagIndex(doc);
  for (const maxRules of [1000, 127]) {
    ctx.time(`buildAllowlist '*' K=${maxRules}`, () => buildAllowlist(doc, { select: ['*'], maxRules }, index));
  }
  ctx.time('buildAllowlist AzureCloud.westeurope + LogicApps + PowerBI K=1000', () =>
    buildAllowlist(doc, { select: ['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], maxRules: 1000 }, index),
  );
});
