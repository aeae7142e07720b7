import type { Allowlist } from './allowlist.js';
import { explainWidening, widenedRules, type WideningReport } from './explain.js';
import { explainRangeWidening, widenedRanges } from './explain-ranges.js';
import { blockSize } from './ipv4.js';
import { rangeKey, ruleKey } from './rules.js';
import type { ServiceTagDocument } from './service-tags.js';

/**
 * The widening report and the WIDE_RULE bound for an allowlist of either rule shape: CIDR
 * blocks (explain.ts) or start/end ranges (explain-ranges.ts). The one place that asks which
 * shape a cover has, so the plan and the run never do.
 */

export function explainCover(allowlist: Allowlist, doc: ServiceTagDocument): WideningReport {
  return allowlist.shape === 'range' ? explainRangeWidening(allowlist, doc) : explainWidening(allowlist, doc);
}

/**
 * The widened rules wider than `/prefix` (guards.warnWidenedPrefix), by key, widest first. A block
 * is wider when its prefix is shorter; a range when it admits 2^(32−prefix) or more excess
 * addresses, more than any /prefix block holding a source address could: the same reading the
 * widening bound takes for ranges (collapse-ranges.ts).
 */
export function wideRules(allowlist: Allowlist, prefix: number): { key: string; excess: number }[] {
  if (allowlist.shape === 'range') {
    const wide = widenedRanges(allowlist).filter((w) => w.excess >= blockSize(prefix));
    wide.sort((a, b) => b.range.end - b.range.start - (a.range.end - a.range.start) || b.excess - a.excess || a.range.start - b.range.start);
    return wide.map((w) => ({ key: rangeKey(w.range), excess: w.excess }));
  }
  const wide = widenedRules(allowlist).filter((w) => w.rule.length < prefix);
  wide.sort((a, b) => a.rule.length - b.rule.length || b.excess - a.excess);
  return wide.map((w) => ({ key: ruleKey(w.rule), excess: w.excess }));
}
