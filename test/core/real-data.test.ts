import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAllowlist, type Allowlist } from '../../src/core/allowlist.js';
import { TagIndex } from '../../src/core/selection.js';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { auditRules, commonLengthBaseline, FORBIDDEN_SPANS, span, tile, wantedSpans, type Block } from './reference.js';

const PUBLIC = fileURLToPath(new URL('../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/service-tags/ServiceTags_${name}.json.gz`, import.meta.url));

let doc: ServiceTagDocument;
let index: TagIndex;

beforeAll(async () => {
  doc = await loadServiceTagFile(PUBLIC);
  index = new TagIndex(doc);
});

function prefixesOf(d: ServiceTagDocument, names: readonly string[]): string[] {
  const wanted = new Set(names);
  return d.tags.filter((t) => wanted.has(t.name)).flatMap((t) => t.addressPrefixes);
}

function ipv4Blocks(prefixes: readonly string[]): Block[] {
  return prefixes
    .filter((p) => !p.includes(':'))
    .map((p) => {
      const s = span(p);
      return { base: s.start, length: 32 - Math.log2(s.end - s.start + 1) };
    });
}

/**
 * Plans one selection and checks it against the published prefixes with the reference
 * range math: within budget, every wanted address allowed, nothing forbidden, the reported
 * numbers true. Returns the plan and any problems, so a loop over many tags can name them all.
 */
function plan(
  d: ServiceTagDocument,
  select: string[],
  maxRules: number,
  split31 = false,
  idx = d === doc ? index : new TagIndex(d),
): { allowlist: Allowlist; problems: string[] } {
  const allowlist = buildAllowlist(d, { select, maxRules, split31 }, idx);
  const wanted = wantedSpans(prefixesOf(d, allowlist.selected));
  const audit = auditRules(allowlist.rules, wanted, FORBIDDEN_SPANS, maxRules);
  const problems = [...audit.problems];
  const says = allowlist.stats;
  if (says.excessAddresses !== audit.excess) problems.push(`reports excess ${says.excessAddresses}, rules give ${audit.excess}`);
  if (says.allowedAddresses !== audit.allowed) problems.push(`reports ${says.allowedAddresses} allowed, rules give ${audit.allowed}`);
  if (says.rules !== allowlist.rules.length) problems.push(`reports ${says.rules} rules, lists ${allowlist.rules.length}`);
  if (JSON.stringify(allowlist.source) !== JSON.stringify(wanted)) problems.push('source differs from the published prefixes minus forbidden space');
  if (split31 && allowlist.rules.some((r) => r.length === 31)) problems.push('a /31 under split-31');
  // When the lossless merge fits the budget, nothing may be widened (under split-31 a /31
  // of the merge takes two rules).
  const tiles = tile(wanted);
  const exact = tiles.length + (split31 ? tiles.filter((b) => b.length === 31).length : 0);
  if (exact <= maxRules && (audit.excess !== 0 || allowlist.rules.length !== exact)) {
    problems.push(`the lossless merge (${exact} rules) fits, yet ${allowlist.rules.length} rules with excess ${audit.excess}`);
  }
  return { allowlist, problems: problems.map((p) => `${select.join(',')} at K=${maxRules}${split31 ? ' split-31' : ''}: ${p}`) };
}

function planned(d: ServiceTagDocument, select: string[], maxRules: number, split31 = false): Allowlist {
  const { allowlist, problems } = plan(d, select, maxRules, split31);
  expect(problems).toEqual([]);
  return allowlist;
}

describe('published figures (Public 20251013)', () => {
  it('LogicApps lists 1728 IPv4 prefixes, 1341 of them /32, more than a vault can hold', () => {
    const logicApps = doc.tags.find((t) => t.name === 'LogicApps')!;
    expect(logicApps.ipv4).toHaveLength(1728);
    expect(logicApps.ipv4.filter((c) => c.length === 32)).toHaveLength(1341);
    expect(tile(wantedSpans(logicApps.addressPrefixes)).length).toBe(1728);
  });

  it('LogicApps fits 1000 rules with the optimum excess of 40,982 addresses', () => {
    const a = planned(doc, ['LogicApps'], 1000);
    expect(a.stats.excessAddresses).toBe(40_982);
    expect(a.rules.length).toBeLessThanOrEqual(1000);
    expect(a.stats.mergedPrefixes).toBe(1728);
  });

  it('AzureCloud.westeurope + LogicApps + PowerBI fit 1000 rules with excess 868,166', () => {
    const a = planned(doc, ['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], 1000);
    expect(a.stats.excessAddresses).toBe(868_166);
    expect(a.rules.length).toBeLessThanOrEqual(1000);
  });

  it.each<[string[], number]>([
    [['LogicApps'], 135_833],
    [['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], 3_572_700],
  ])('the common-length baseline for %j admits %d extra addresses, more than the optimum', (select, figure) => {
    const baseline = commonLengthBaseline(ipv4Blocks(prefixesOf(doc, select)), 1000, FORBIDDEN_SPANS)!;
    expect(baseline.excess).toBe(figure);
    expect(buildAllowlist(doc, { select, maxRules: 1000 }, index).stats.excessAddresses).toBeLessThan(baseline.excess);
  });
});

describe('every tag of Public 20251013', () => {
  it('fits 1000 rules, covering exactly what it lists and nothing forbidden', () => {
    const problems: string[] = [];
    for (const tag of doc.tags) problems.push(...plan(doc, [tag.name], 1000).problems);
    expect(problems).toEqual([]);
  });

  it('fits 127 rules (every tag that must widen, and every 20th of the rest)', () => {
    const problems: string[] = [];
    let widened = 0;
    doc.tags.forEach((tag, i) => {
      const merged = tile(wantedSpans(tag.addressPrefixes)).length;
      if (merged <= 127 && i % 20 !== 0) return;
      if (merged > 127) widened++;
      problems.push(...plan(doc, [tag.name], 127).problems);
    });
    expect(problems).toEqual([]);
    expect(widened).toBeGreaterThan(50);
  });

  it('never does worse than widening to a common length, nor worse with a bigger budget', () => {
    const problems: string[] = [];
    for (const tag of doc.tags) {
      const blocks = ipv4Blocks(tag.addressPrefixes);
      if (tile(wantedSpans(tag.addressPrefixes)).length <= 127) continue;
      const at127 = buildAllowlist(doc, { select: [tag.name], maxRules: 127 }, index).stats.excessAddresses;
      const at1000 = buildAllowlist(doc, { select: [tag.name], maxRules: 1000 }, index).stats.excessAddresses;
      if (at1000 > at127) problems.push(`${tag.name}: ${at1000} at K=1000 > ${at127} at K=127`);
      for (const [k, optimum] of [[127, at127], [1000, at1000]] as const) {
        const baseline = commonLengthBaseline(blocks, k, FORBIDDEN_SPANS);
        if (baseline !== undefined && optimum > baseline.excess) problems.push(`${tag.name} at K=${k}: ${optimum} > baseline ${baseline.excess}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('every tag at once (*)', () => {
  it.each([1000, 127])('fits %d rules and beats the common-length baseline', (k) => {
    const a = planned(doc, ['*'], k);
    expect(a.selected).toHaveLength(doc.tags.length);
    expect(a.stats.ipv6Dropped).toBeGreaterThan(20_000);
    // Today's files list no private or reserved address.
    expect(a.stats.forbiddenAddressesRemoved).toBe(0);
    const baseline = commonLengthBaseline(ipv4Blocks(prefixesOf(doc, a.selected)), k, FORBIDDEN_SPANS)!;
    expect(a.stats.excessAddresses).toBeLessThanOrEqual(baseline.excess);
  });

  it.each([1000, 127])('fits %d rules under split-31 without a single /31', (k) => {
    const a = planned(doc, ['*'], k, true);
    const free = buildAllowlist(doc, { select: ['*'], maxRules: k }, index);
    // Giving up /31s can only cost addresses, never save them.
    expect(a.stats.excessAddresses).toBeGreaterThanOrEqual(free.stats.excessAddresses);
    if (!free.rules.some((r) => r.length === 31)) expect(a.stats.excessAddresses).toBe(free.stats.excessAddresses);
  });
});

describe('split-31 on real tags', () => {
  it.each(['LogicApps', 'PowerBI', 'AzureCloud.westeurope', 'AppService', 'AzureMonitor'])('%s under split-31 at K=1000 and K=127', (name) => {
    for (const k of [1000, 127]) {
      const strict = planned(doc, [name], k, true);
      const free = buildAllowlist(doc, { select: [name], maxRules: k }, index);
      // Giving up /31s can only cost addresses; and when the free optimum used none, it was
      // open to the strict plan too, so the two must cost the same.
      expect(strict.stats.excessAddresses).toBeGreaterThanOrEqual(free.stats.excessAddresses);
      if (!free.rules.some((r) => r.length === 31)) expect(strict.stats.excessAddresses).toBe(free.stats.excessAddresses);
    }
  });
});

describe('determinism', () => {
  it('gives byte-identical JSON for the same input, even from a second read of the file', async () => {
    const again = await loadServiceTagFile(PUBLIC);
    for (const [select, k, split31] of [
      [['*'], 1000, false],
      [['LogicApps'], 1000, true],
      [['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], 127, false],
    ] as const) {
      const request = { select: [...select], maxRules: k, split31 };
      const first = JSON.stringify(buildAllowlist(doc, request, index));
      expect(JSON.stringify(buildAllowlist(doc, request, index))).toBe(first);
      expect(JSON.stringify(buildAllowlist(again, request))).toBe(first);
    }
  });

  it('does not depend on the order the selectors are given in', () => {
    const a = buildAllowlist(doc, { select: ['PowerBI', 'LogicApps', 'AzureCloud.westeurope'], maxRules: 1000 }, index);
    const b = buildAllowlist(doc, { select: ['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], maxRules: 1000 }, index);
    expect(JSON.stringify(a.rules)).toBe(JSON.stringify(b.rules));
  });
});

describe('other clouds and weeks', () => {
  it.each([
    ['AzureGovernment_20251013', 'AzureGovernment'],
    ['China_20251013', 'China'],
    ['Public_20250414', 'Public'],
    ['Public_20251006', 'Public'],
  ])('%s parses and plans at K=1000 and K=127', async (name, cloud) => {
    const d = await loadServiceTagFile(fixture(name));
    expect(d.cloud).toBe(cloud);
    expect(d.tags.length).toBeGreaterThan(300);
    for (const k of [1000, 127]) {
      const a = planned(d, ['*'], k);
      expect(a.rules.length).toBeGreaterThan(0);
      expect(a.stats.forbiddenAddressesRemoved).toBe(0);
    }
  });

  it('the China file uses CRLF line endings and still parses', async () => {
    const text = gunzipSync(readFileSync(fixture('China_20251013'))).toString('utf8');
    expect(text).toContain('\r\n');
    const d = await loadServiceTagFile(fixture('China_20251013'));
    expect(d.tags.reduce((n, t) => n + t.ipv4.length, 0)).toBe(text.match(/"\d+\.\d+\.\d+\.\d+\/\d+"/g)!.length);
  });
});
