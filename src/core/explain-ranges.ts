import { formatRange } from './collapse-ranges.js';
import { azureSpace, type WidenedRule, type WideningReport } from './explain.js';
import { mergeRanges, rangesOf, RangeCounter, subtractRanges, touchesRanges, type AddressRange } from './ipv4.js';
import type { ServiceTagDocument } from './service-tags.js';

/**
 * `--explain` for start/end kinds: every range that admits addresses beyond the source, how
 * many, and whose (another Azure customer's space or the open internet), as explain.ts reports
 * CIDR rules. Ranges, unlike CIDR blocks, may overlap (a new range may span a kept one), so
 * each range's figures are its own, and the totals are taken over the union of the widened
 * ranges: an excess address counts once, and the totals match the collapse's excess.
 */

/** What the report needs: the selected tags, the exact source, and the rules (new and kept). */
export interface RangeAllowlist {
  readonly selected: readonly string[];
  /** Merged, sorted. */
  readonly source: readonly AddressRange[];
  readonly rules: readonly AddressRange[];
}

/** The ranges that admit excess, with how much: cheap, from the allowlist alone. */
export function widenedRanges(allowlist: RangeAllowlist): { range: AddressRange; excess: number }[] {
  const source = new RangeCounter(allowlist.source);
  const out: { range: AddressRange; excess: number }[] = [];
  for (const range of allowlist.rules) {
    const excess = range.end - range.start + 1 - source.count(range.start, range.end);
    if (excess > 0) out.push({ range, excess });
  }
  return out;
}

export function explainRangeWidening(allowlist: RangeAllowlist, doc: ServiceTagDocument): WideningReport {
  const azure = new RangeCounter(azureSpace(doc));
  const source = new RangeCounter(allowlist.source);
  const sourceInAzure = new RangeCounter(subtractRanges(allowlist.source, subtractRanges(allowlist.source, azureSpace(doc))));
  const wanted = new Set(allowlist.selected);
  const tags = doc.tags.filter((t) => wanted.has(t.name)).map((t) => ({ name: t.name, space: rangesOf(t.ipv4) }));
  const inAzureOf = (r: AddressRange) => azure.count(r.start, r.end) - sourceInAzure.count(r.start, r.end);
  const widened = widenedRanges(allowlist);
  const rules: WidenedRule[] = widened.map(({ range, excess }) => {
    const excessInAzure = inAzureOf(range);
    return {
      rule: formatRange(range),
      sourceAddresses: source.count(range.start, range.end),
      excessAddresses: excess,
      excessInAzure,
      excessOutsideAzure: excess - excessInAzure,
      // The selected tags that share an address with the range.
      tags: tags.filter((t) => touchesRanges(t.space, range.start, range.end)).map((t) => t.name).sort(),
    };
  });
  // Widest first, then by excess, then by address: the order a reviewer reads them in.
  const order = widened.map((w, i) => ({ w, r: rules[i]! }));
  order.sort((a, b) => b.w.range.end - b.w.range.start - (a.w.range.end - a.w.range.start) || b.w.excess - a.w.excess || a.w.range.start - b.w.range.start);
  let excessTotal = 0;
  let inAzure = 0;
  for (const r of mergeRanges(widened.map((w) => w.range))) {
    excessTotal += r.end - r.start + 1 - source.count(r.start, r.end);
    inAzure += inAzureOf(r);
  }
  return {
    rules: order.map((o) => o.r),
    totals: { widenedRules: rules.length, excessAddresses: excessTotal, excessInAzure: inAzure, excessOutsideAzure: excessTotal - inAzure },
  };
}
