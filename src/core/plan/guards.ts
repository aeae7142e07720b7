import type { Allowlist } from '../allowlist.js';
import type { AppliedRecord, Guards, Reason } from './model.js';

function percent(fraction: number, digits = 0): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** Writes that look like a broken source rather than a real change. */
export function guardHits(desired: Allowlist, record: AppliedRecord | undefined, removed: number, current: number, guards: Guards): Reason[] {
  const hits: Reason[] = [];
  if (desired.rules.length === 0) hits.push({ code: 'EMPTY_SOURCE_GUARD', message: 'the desired allowlist is empty; refusing to strip the target' });
  const before = record?.sourceAddresses;
  const after = desired.stats.sourceAddresses;
  if (before !== undefined && before > 0 && after < before * (1 - guards.maxSourceShrinkFraction)) {
    hits.push({
      code: 'SOURCE_SHRINK_GUARD',
      message: `the source shrank by ${percent(1 - after / before, 1)} since the last apply (${before} → ${after} addresses; limit ${percent(guards.maxSourceShrinkFraction)})`,
      before,
      after,
      limitFraction: guards.maxSourceShrinkFraction,
    });
  }
  if (current > 0 && removed / current > guards.maxRemovedFraction) {
    hits.push({
      code: 'REMOVAL_GUARD',
      message: `the plan removes ${removed} of ${current} rules (${percent(removed / current, 1)}; limit ${percent(guards.maxRemovedFraction)})`,
      removed,
      current,
      limitFraction: guards.maxRemovedFraction,
    });
  }
  if (desired.stats.excessAddresses > guards.maxExcessAddresses) {
    hits.push({
      code: 'EXCESS_GUARD',
      message: `the collapse admits ${desired.stats.excessAddresses} addresses beyond the source (limit ${guards.maxExcessAddresses}); to allow it, raise the rule limit, raise guards.maxExcessAddresses, or run once with --force`,
      excessAddresses: desired.stats.excessAddresses,
      limit: guards.maxExcessAddresses,
    });
  }
  return hits;
}
