import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { collapseAllowlist, leastChurn, prepareAllowlist, type CidrAllowlist } from '../../src/core/allowlist.js';
import { collapse } from '../../src/core/collapse.js';
import { formatCidr, type Cidr } from '../../src/core/ipv4.js';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { TagIndex } from '../../src/core/selection.js';
import { parseServiceTagDocument } from '../../src/sources/schema.js';
import { publicDocument } from './data.js';
import { registerSection } from './harness.js';

/**
 * Week over week on the two consecutive Public files in the repository (2025-10-06, then the
 * bundled 2025-10-13): the firewall holds week 1's cover; how many rules does week 2 change
 * (added + removed) with the collapse's fixed tie-break, and with least churn? The excess must be
 * the same: least churn never trades it.
 */

const fixture = (day: string) => fileURLToPath(new URL(`../../../test/fixtures/service-tags/ServiceTags_Public_${day}.json.gz`, import.meta.url));
const load = (file: string) => parseServiceTagDocument(gunzipSync(readFileSync(file)).toString('utf8'), file);
const COLLAPSE_TARGET_MS = 50;

/** churnTolerance values measured: none, a /24's worth, a /20's, a /16's. */
const TOLERANCES = [0, 256, 4096, 65_536];
/** Selections and budgets that bind (AzureDevOps has 24 merged prefixes; Key Vault's limit is 1000). */
const TOLERANCE_ROWS: readonly (readonly [readonly string[], number])[] = [
  [['AzureDevOps'], 14],
  [['AzureMonitor'], 1000],
  [['LogicApps'], 127],
  [['PowerBI', 'LogicApps'], 1000],
  [['*'], 1000],
];

const SELECTIONS: readonly (readonly string[])[] = [['AzureDevOps'], ['LogicApps'], ['PowerBI', 'LogicApps'], ['AzureCloud.westeurope', 'LogicApps', 'PowerBI'], ['*']];

/** Rules added plus rules removed, by the bench's own set difference. */
function changed(before: readonly Cidr[], after: readonly Cidr[]): number {
  const a = new Set(before.map(formatCidr));
  const b = new Set(after.map(formatCidr));
  return [...b].filter((k) => !a.has(k)).length + [...a].filter((k) => !b.has(k)).length;
}

function cover(doc: ServiceTagDocument, index: TagIndex, select: readonly string[], maxRules: number): CidrAllowlist {
  return collapseAllowlist(prepareAllowlist(doc, { select }, index), { maxRules });
}

registerSection('churn', (ctx) => {
  const week1 = load(fixture('20251006'));
  const week2 = publicDocument();
  const [index1, index2] = [new TagIndex(week1), new TagIndex(week2)];
  const row = (from: ServiceTagDocument, fromIndex: TagIndex, span: string, select: readonly string[], maxRules: number) => {
    const held = cover(from, fromIndex, select, maxRules).rules;
    const tieBreak = cover(week2, index2, select, maxRules);
    const least = leastChurn(tieBreak, held);
    if (least.stats.excessAddresses !== tieBreak.stats.excessAddresses) throw new Error(`least churn changed the excess for ${select.join(' + ')} K=${maxRules}`);
    const [t, l] = [changed(held, tieBreak.rules), changed(held, least.rules)];
    ctx.record({
      label: `rules changed ${span}, ${select.join(' + ')} K=${maxRules}: least churn`,
      unit: 'count',
      median: l,
      min: l,
      samples: 1,
      note: `tie-break ${t}; ${held.length} → ${least.rules.length} rules; excess ${least.stats.excessAddresses} both`,
    });
  };
  for (const maxRules of [1000, 127]) for (const select of SELECTIONS) row(week1, index1, '10-06 → 10-13', select, maxRules);
  // Six months apart the sources move more, and equal-excess alternatives appear.
  const april = load(fixture('20250414'));
  const aprilIndex = new TagIndex(april);
  for (const select of [['*'], ['AzureMonitor']]) row(april, aprilIndex, '04-14 → 10-13', select, 1000);
  // With churnTolerance ε: rules changed and the excess admitted, for budgets that bind.
  const tolerant = (from: ServiceTagDocument, fromIndex: TagIndex, span: string, select: readonly string[], maxRules: number) => {
    const held = cover(from, fromIndex, select, maxRules).rules;
    const tieBreak = cover(week2, index2, select, maxRules);
    const figures = TOLERANCES.map((churnTolerance) => {
      const a = leastChurn(tieBreak, held, { churnTolerance });
      if (a.stats.excessAddresses > tieBreak.stats.excessAddresses + churnTolerance) throw new Error(`ε ${churnTolerance} admitted more than it allows for ${select.join(' + ')} K=${maxRules}`);
      return { changed: changed(held, a.rules), excess: a.stats.excessAddresses };
    });
    ctx.record({
      label: `rules changed ${span}, ${select.join(' + ')} K=${maxRules}: ε ${TOLERANCES.join(' / ')}`,
      unit: 'count',
      median: figures.at(-1)!.changed,
      min: figures.at(-1)!.changed,
      samples: 1,
      note: `changed ${figures.map((f) => f.changed).join(' / ')}; excess ${figures.map((f) => f.excess).join(' / ')}; tie-break ${changed(held, tieBreak.rules)}`,
    });
  };
  for (const [select, maxRules] of TOLERANCE_ROWS) tolerant(week1, index1, '10-06 → 10-13', select, maxRules);
  for (const [select, maxRules] of TOLERANCE_ROWS) tolerant(april, aprilIndex, '04-14 → 10-13', select, maxRules);
  // What least churn costs the collapse itself: every tag, week 1's cover preferred.
  const merged = prepareAllowlist(week2, { select: ['*'] }, index2);
  for (const maxRules of [1000, 127]) {
    const held = cover(week1, index1, ['*'], maxRules).rules;
    for (const churnTolerance of maxRules === 1000 ? TOLERANCES : [0]) {
      const label = churnTolerance === 0 ? `collapse '*' K=${maxRules}, least churn against 10-06's cover` : `collapse '*' K=${maxRules}, least churn within ε ${churnTolerance} against 10-06's cover`;
      ctx.time(label, () => collapse(merged.merged, { maxRules, split31: false, blocked: merged.blocked, prefer: held, churnTolerance }), {
        target: COLLAPSE_TARGET_MS,
        warmup: 3,
      });
    }
  }
  // Against April's cover (more of it moved): the frontiers are widest there.
  const heldApril = cover(april, aprilIndex, ['*'], 1000).rules;
  for (const churnTolerance of TOLERANCES.slice(1)) {
    ctx.time(`collapse '*' K=1000, least churn within ε ${churnTolerance} against 04-14's cover`, () => collapse(merged.merged, { maxRules: 1000, split31: false, blocked: merged.blocked, prefer: heldApril, churnTolerance }), {
      target: COLLAPSE_TARGET_MS,
      warmup: 3,
    });
  }
});
