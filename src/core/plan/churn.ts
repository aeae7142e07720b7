import { coverRanges, leastChurn, type Allowlist, type ChurnTolerance } from '../allowlist.js';
import { formatCidr, type Cidr } from '../ipv4.js';
import { rangeKey } from '../rules.js';
import { count, plural } from '../text.js';
import type { Finding } from './model.js';

/**
 * Least churn for one firewall, and what `churnTolerance` did to it. The cover is `leastChurn`'s;
 * with a tolerance the plan also asks for the cover without it (memoised beside the allowlist,
 * so a fleet of one profile asks once) and, when the tolerance took another cover that admits
 * more, says so in an info finding: a reviewer sees which rules were kept at what price, and the
 * figure is not left to be inferred from the excess. Info only: it pages nobody (alerts/policy.ts).
 */
export function churnTrade(desired: Allowlist, removable: readonly Cidr[], current: ReadonlySet<string>, within: ChurnTolerance): { desired: Allowlist; findings: Finding[] } {
  const chosen = leastChurn(desired, removable, within);
  const tolerance = within.churnTolerance ?? 0;
  if (tolerance <= 0 || chosen === desired) return { desired: chosen, findings: [] };
  const strict = leastChurn(desired, removable, { ...within, churnTolerance: 0 });
  const finding = toleranceFinding(strict, chosen, removable, current, tolerance);
  return { desired: chosen, findings: finding === undefined ? [] : [finding] };
}

/** A cover's rules keyed as the plan keys the firewall's (`a.b.c.d/n`). */
const keysOf = (a: Allowlist): Set<string> => new Set(coverRanges(a).map(rangeKey));

function toleranceFinding(strict: Allowlist, chosen: Allowlist, removable: readonly Cidr[], current: ReadonlySet<string>, tolerance: number): Finding | undefined {
  const weighted = chosen.stats.weightedExcess !== undefined && strict.stats.weightedExcess !== undefined;
  const extra = chosen.stats.excessAddresses - strict.stats.excessAddresses;
  const extraWeighted = weighted ? chosen.stats.weightedExcess! - strict.stats.weightedExcess! : extra;
  // A cover of the same (weighted) excess is one the plan without tolerance could have taken.
  if (!(extraWeighted > 0)) return undefined;
  const chosenKeys = keysOf(chosen);
  const strictKeys = keysOf(strict);
  const mine = [...new Set(removable.map(formatCidr))];
  // Changes against the firewall: rules the cover adds, and removable rules it leaves out.
  const changes = (keys: ReadonlySet<string>) => [...keys].filter((k) => !current.has(k)).length + mine.filter((k) => !keys.has(k)).length;
  const kept = mine.filter((k) => chosenKeys.has(k) && !strictKeys.has(k)).sort();
  const avoided = changes(strictKeys) - changes(chosenKeys);
  return {
    severity: 'info',
    code: 'CHURN_TOLERANCE_USED',
    message:
      `kept ${plural(kept.length, 'rule')} of the firewall's (${plural(avoided, 'change')} fewer) by admitting ${plural(extra, 'address', 'addresses')} more than the least ` +
      `(${count(strict.stats.excessAddresses)} beyond the source${weighted ? `; ${count(extraWeighted)} more weighted` : ''}; churnTolerance ${count(tolerance)})${kept.length === 0 ? '' : `: ${kept.slice(0, 5).join(', ')}${kept.length > 5 ? ', ...' : ''}`}`,
    rules: kept,
    count: kept.length,
    changesAvoided: avoided,
    excessAddresses: extra,
    leastExcessAddresses: strict.stats.excessAddresses,
    ...(weighted ? { weightedExcess: extraWeighted } : {}),
    churnTolerance: tolerance,
  };
}
