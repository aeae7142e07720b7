import { infeasible } from './collapse.js';
import { costingOf } from './collapse-trie.js';
import { TagwallError } from './errors.js';
import { countAddresses, formatAddress, IPV4_SPACE, mergeRanges, RangeCounter, subtractRanges, touchesRanges, type AddressRange } from './ipv4.js';

/**
 * The optimal collapse for firewalls whose rules are start/end ranges (Azure SQL, Synapse,
 * PostgreSQL and MySQL flexible servers, Redis): the second rule shape beside the CIDR DP of
 * collapse.ts. The core for the upcoming start/end kinds; nothing calls it from the plan yet.
 *
 * A range rule covers any interval, so the trie is no longer the right picture. Merge the
 * source into n intervals r_1 < … < r_n; between r_t and r_t+1 lies gap g_t. Any cover by
 * ranges can be trimmed, without admitting anything more, so that each range starts and ends
 * at a source address; after that every range is a run of consecutive intervals together with
 * the gaps between them, and a cover is exactly a choice of gaps to bridge: bridging b gaps
 * leaves n − b ranges. So with budget K < n the cover must bridge at least n − K gaps.
 *
 * Exchange argument: the gaps are disjoint, and a bridged gap admits its own addresses and no
 * others, so the cost of a cover is the sum of its bridged gaps' costs, each independent of
 * which other gaps are bridged. Take any optimal cover bridging a set B and the greedy set G of
 * the n − K cheapest bridgeable gaps. If B has a gap outside G, then since |B| ≥ |G| some gap of
 * G is outside B, and it costs no more (G took the cheapest); swapping the two keeps the cover
 * within budget (same number bridged) and costs no more. Repeating ends at G ⊆ B, and dropping
 * B's extra gaps only lowers the cost, so G is optimal. The same holds for the weighted cost
 * (an excess address outside Azure's space costs `outsideWeight`): a gap's weighted cost is
 * still its own, fixed before any choice, which is all the argument uses.
 *
 * A gap holding a blocked (forbidden or excluded) address is never bridged: it has infinite
 * cost. So a range never touches blocked space, and a source interval beside forbidden space
 * is split around it. When fewer than n − K gaps are bridgeable no cover fits:
 * COLLAPSE_INFEASIBLE with `neededRules` = 1 + the unbridgeable gaps, as the CIDR path does.
 *
 * Kept ranges (rules a person made, which stay whatever tagwall plans; counted against the
 * limit by the caller, as for CIDR kinds): a source address inside one needs no new range, and
 * an address inside one costs nothing when a new range spans it, since the firewall admits it
 * anyway. So the intervals are those of source minus kept, and a gap's cost is its addresses
 * outside kept ranges: a gap a kept range covers costs 0. Zero-cost gaps are always bridged:
 * the same excess with fewer rules, the tie-break the CIDR DP makes too. Only kept ranges that
 * share an address with the source take part (listed in `rules` and discounted); any other
 * one (an office IP, say) changes nothing, and ignoring it lets firewalls that differ only in
 * such rules share one collapse, as relevantKept does for CIDR kinds.
 *
 * The widening bound (`maxWidenedPrefix` N, as for CIDR kinds): no new range may admit as many
 * excess addresses as a /N block holds, 2^(32−N); a /N block holding any source admits at most
 * 2^(32−N) − 1, so a CIDR cover within the bound is within this one too, and N = 32 forbids any
 * widening. The bound is on a range's excess, not its span: on span it would not be exact for
 * ranges (two touching ranges can split one source interval between them and each stay short
 * where one range could not). With the bound a range's cost couples its gaps, so the greedy is
 * no longer enough; an exact DP over "the first j intervals in k ranges" takes its place, in
 * O(n·K) with a sliding-window minimum (a group of intervals that fits the bound holds every
 * shorter group inside it, so the feasible last groups ending at j form a window).
 *
 * Ties are broken the same way every time, so weekly runs do not churn: among gaps of equal
 * cost the one with fewer excess addresses is bridged first, then the lower address.
 */

export interface RangeCollapseOptions {
  /** The rule budget, K: how many ranges the cover may add beyond `kept`. */
  readonly maxRules: number;
  /** Merged ranges that no new range may touch. */
  readonly blocked: readonly AddressRange[];
  /** Ranges the firewall keeps whatever the plan: addresses inside them cost nothing. */
  readonly kept?: readonly AddressRange[];
  /** No new range admits 2^(32−N) or more excess addresses; 0 or absent: no bound. */
  readonly maxWidenedPrefix?: number;
  /** Minimise weighted excess instead: outside `inside` (merged, sorted), an excess address costs `outsideWeight`. */
  readonly weights?: { readonly inside: readonly AddressRange[]; readonly outsideWeight: number };
}

export interface RangeCollapseResult {
  /**
   * Sorted by start, then end: the new ranges, and the kept ranges that share an address with
   * the source. A new range may span a kept one (bridging across it costs nothing).
   */
  readonly rules: AddressRange[];
  /** How many of `rules` are new: what the cover costs against the budget. */
  readonly newRules: number;
  readonly sourceAddresses: number;
  /** Addresses the union of `rules` admits (an address inside two rules counts once). */
  readonly allowedAddresses: number;
  readonly excessAddresses: number;
  /** The objective the cover minimised: equal to excessAddresses unless `weights` were given. */
  readonly weightedExcess: number;
}

/** A source range as `a.b.c.d-e.f.g.h` (a single address as itself), for messages and reports. */
export function formatRange(r: AddressRange): string {
  return r.start === r.end ? formatAddress(r.start) : `${formatAddress(r.start)}-${formatAddress(r.end)}`;
}

interface Gaps {
  /** Intervals still to cover: source minus kept ranges, merged. */
  readonly intervals: readonly AddressRange[];
  /** Per gap t (between intervals t and t+1): blocked, excess addresses, those inside `weights.inside`, weighted cost. */
  readonly blocked: Uint8Array;
  readonly plain: Float64Array;
  readonly inside: Float64Array;
  readonly cost: Float64Array;
}

interface Prepared {
  readonly source: AddressRange[];
  readonly sourceAddresses: number;
  readonly kept: AddressRange[];
  readonly keptSpace: AddressRange[];
  readonly blocked: AddressRange[];
  readonly inside: RangeCounter | null;
  readonly outsideWeight: number;
  /** Largest excess one new range may admit (Infinity: no bound). */
  readonly cap: number;
  readonly bound: number;
  readonly gaps: Gaps;
}

function checkRanges(what: string, ranges: readonly AddressRange[]): void {
  for (const r of ranges) {
    const ok = Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.start <= r.end && r.end < IPV4_SPACE;
    if (!ok) throw new TagwallError('COLLAPSE_INPUT', `${what} range ${r.start}-${r.end} is not a range of IPv4 addresses`);
  }
}

function prepare(source: readonly AddressRange[], options: Omit<RangeCollapseOptions, 'maxRules'>): Prepared {
  checkRanges('source', source);
  checkRanges('kept', options.kept ?? []);
  checkRanges('blocked', options.blocked);
  const costing = costingOf({ split31: false, blocked: options.blocked, ...(options.maxWidenedPrefix === undefined ? {} : { maxWidenedPrefix: options.maxWidenedPrefix }), ...(options.weights === undefined ? {} : { weights: options.weights }) });
  // Adjacent or overlapping source ranges join losslessly: one range rule holds them both.
  const merged = mergeRanges(source);
  const blocked = mergeRanges(options.blocked);
  for (const r of merged) {
    if (touchesRanges(blocked, r.start, r.end)) throw new TagwallError('COLLAPSE_INPUT', `source range ${formatRange(r)} touches blocked space`);
  }
  const seen = new Set<string>();
  const kept = (options.kept ?? []).filter((k) => {
    const key = `${k.start}-${k.end}`;
    if (seen.has(key) || !touchesRanges(merged, k.start, k.end)) return false;
    seen.add(key);
    return true;
  });
  const keptSpace = mergeRanges(kept);
  const intervals = subtractRanges(merged, keptSpace);
  const keptCounter = new RangeCounter(keptSpace);
  let insideKept: RangeCounter | null = null;
  if (costing.inside !== null) {
    const inside = mergeRanges(options.weights!.inside);
    insideKept = new RangeCounter(subtractRanges(inside, subtractRanges(inside, keptSpace)));
  }
  const n = Math.max(0, intervals.length - 1);
  const gaps: Gaps = { intervals, blocked: new Uint8Array(n), plain: new Float64Array(n), inside: new Float64Array(n), cost: new Float64Array(n) };
  for (let t = 0; t < n; t++) {
    const a = intervals[t]!.end + 1;
    const b = intervals[t + 1]!.start - 1;
    gaps.blocked[t] = touchesRanges(blocked, a, b) ? 1 : 0;
    // Every source address in a gap lies in a kept range (else it would be an interval), so the
    // gap's excess is its addresses outside kept ranges.
    const plain = b - a + 1 - keptCounter.count(a, b);
    const inside = costing.inside === null ? 0 : costing.inside.count(a, b) - insideKept!.count(a, b);
    gaps.plain[t] = plain;
    gaps.inside[t] = inside;
    gaps.cost[t] = costing.inside === null ? plain : inside + (plain - inside) * costing.outsideWeight;
  }
  return {
    source: merged,
    sourceAddresses: countAddresses(merged),
    kept,
    keptSpace,
    blocked,
    inside: costing.inside,
    outsideWeight: costing.outsideWeight,
    cap: costing.bound === 0 ? Infinity : 2 ** (32 - costing.bound) - 1,
    bound: costing.bound,
    gaps,
  };
}

/** Fewest ranges for the intervals: a maximal run from the left is never worse (each group's limits hold for any shorter group). */
function fewestRanges(g: Gaps, cap: number): number {
  if (g.intervals.length === 0) return 0;
  let ranges = 1;
  let run = 0;
  for (let t = 0; t < g.plain.length; t++) {
    if (g.blocked[t] === 1 || run + g.plain[t]! > cap) {
      // Gap t stays open; the next range starts after it.
      ranges++;
      run = 0;
    } else {
      run += g.plain[t]!;
    }
  }
  return ranges;
}

/** The smallest budget (new ranges beyond `kept`) for which any cover exists. */
export function minimumRangeRules(source: readonly AddressRange[], options: Omit<RangeCollapseOptions, 'maxRules'>): number {
  const p = prepare(source, options);
  return fewestRanges(p.gaps, p.cap);
}

/** No bound: bridge the cheapest bridgeable gaps (see the exchange argument above). */
function bridgeGreedy(g: Gaps, maxRules: number): Uint8Array {
  const bridged = new Uint8Array(g.plain.length);
  const order: number[] = [];
  for (let t = 0; t < g.plain.length; t++) if (g.blocked[t] === 0) order.push(t);
  order.sort((x, y) => g.cost[x]! - g.cost[y]! || g.plain[x]! - g.plain[y]! || x - y);
  let take = Math.max(0, g.intervals.length - maxRules);
  // Free gaps are bridged whatever the budget: the same excess, fewer rules.
  while (take < order.length && g.cost[order[take]!] === 0) take++;
  for (let i = 0; i < take; i++) bridged[order[i]!] = 1;
  return bridged;
}

/**
 * With the bound: best[k][j], the least cost of covering intervals 0..j−1 with k ranges, is
 * min over feasible last groups i..j−1 of best[k−1][i] + (gaps i..j−2). With P the prefix sums
 * of gap costs that is P[j−1] + min over the window of (best[k−1][i] − P[i]), a sliding-window
 * minimum. The fewest ranges that reach the least cost win.
 */
function bridgeBounded(g: Gaps, maxRules: number, cap: number): Uint8Array {
  const m = g.intervals.length;
  const layers = Math.min(maxRules, m);
  // low[j]: the first interval of the longest feasible group ending at interval j.
  const low = new Int32Array(m);
  let i0 = 0;
  let run = 0;
  for (let j = 1; j < m; j++) {
    const t = j - 1;
    if (g.blocked[t] === 1 || g.plain[t]! > cap) {
      i0 = j;
      run = 0;
    } else {
      run += g.plain[t]!;
      while (run > cap) run -= g.plain[i0++]!;
    }
    low[j] = i0;
  }
  const prefix = new Float64Array(m);
  for (let t = 1; t < m; t++) prefix[t] = prefix[t - 1]! + g.cost[t - 1]!;
  const from = new Int32Array(layers * (m + 1));
  let prev = new Float64Array(m + 1).fill(Infinity);
  prev[0] = 0;
  let best = Infinity;
  let bestLayer = 0;
  const deque = new Int32Array(m + 1);
  for (let k = 1; k <= layers; k++) {
    const cur = new Float64Array(m + 1).fill(Infinity);
    let head = 0;
    let tail = 0;
    for (let j = 1; j <= m; j++) {
      const i = j - 1;
      if (prev[i]! !== Infinity) {
        const v = prev[i]! - prefix[i]!;
        while (tail > head && prev[deque[tail - 1]!]! - prefix[deque[tail - 1]!]! >= v) tail--;
        deque[tail++] = i;
      }
      while (tail > head && deque[head]! < low[j - 1]!) head++;
      if (tail > head) {
        const at = deque[head]!;
        cur[j] = prefix[j - 1]! + prev[at]! - prefix[at]!;
        from[(k - 1) * (m + 1) + j] = at;
      }
    }
    if (cur[m]! < best) {
      best = cur[m]!;
      bestLayer = k;
    }
    prev = cur;
  }
  const bridged = new Uint8Array(g.plain.length).fill(1);
  for (let j = m, k = bestLayer; j > 0; k--) {
    const i = from[(k - 1) * (m + 1) + j]!;
    if (i > 0) bridged[i - 1] = 0;
    j = i;
  }
  return bridged;
}

/**
 * Collapses source ranges (any order; overlapping or touching ones join) to the optimal cover
 * by at most `maxRules` new ranges. Throws COLLAPSE_INFEASIBLE, with the smallest budget that
 * works as `values.neededRules`, when no cover fits without touching blocked space (and within
 * the widening bound); COLLAPSE_INPUT when the source itself touches blocked space.
 */
export function collapseRanges(source: readonly AddressRange[], options: RangeCollapseOptions): RangeCollapseResult {
  if (!Number.isInteger(options.maxRules) || options.maxRules < 0) {
    throw new TagwallError('COLLAPSE_INPUT', `the rule budget must be a whole number, not ${options.maxRules}`);
  }
  const p = prepare(source, options);
  const g = p.gaps;
  const needed = fewestRanges(g, p.cap);
  if (needed > options.maxRules) {
    const free = p.cap === Infinity ? needed : fewestRanges(g, Infinity);
    throw infeasible(options.maxRules, needed, free < needed ? { maxWidenedPrefix: p.bound, withoutBound: free } : undefined);
  }
  const bridged = p.cap === Infinity ? bridgeGreedy(g, options.maxRules) : bridgeBounded(g, options.maxRules, p.cap);

  const fresh: AddressRange[] = [];
  let plannedPlain = 0;
  let plannedInside = 0;
  let start = g.intervals.length === 0 ? 0 : g.intervals[0]!.start;
  for (let t = 0; t < g.intervals.length; t++) {
    if (t < g.plain.length && bridged[t] === 1) {
      plannedPlain += g.plain[t]!;
      plannedInside += g.inside[t]!;
      continue;
    }
    fresh.push({ start, end: g.intervals[t]!.end });
    if (t + 1 < g.intervals.length) start = g.intervals[t + 1]!.start;
  }
  const rules = [...fresh, ...p.kept].sort((a, b) => a.start - b.start || a.end - b.end);

  // The figures come from the rules themselves, and must agree with what the choice cost.
  const union = mergeRanges(rules);
  const allowed = countAddresses(union);
  const excess = allowed - p.sourceAddresses;
  const keptExcess = subtractRanges(p.keptSpace, p.source);
  plannedPlain += countAddresses(keptExcess);
  let excessInside = 0;
  if (p.inside !== null) {
    for (const r of union) excessInside += p.inside.count(r.start, r.end);
    for (const r of p.source) excessInside -= p.inside.count(r.start, r.end);
    for (const r of keptExcess) plannedInside += p.inside.count(r.start, r.end);
  }
  const uncovered = countAddresses(subtractRanges(p.source, union));
  const touching = fresh.some((r) => touchesRanges(p.blocked, r.start, r.end));
  if (uncovered !== 0 || touching || excess !== plannedPlain || excessInside !== plannedInside || fresh.length > options.maxRules) {
    throw new TagwallError(
      'COLLAPSE_INTERNAL',
      `range collapse self-check failed: ${uncovered} source addresses uncovered, blocked touched: ${touching}, excess ${excess} != ${plannedPlain} or ${excessInside} != ${plannedInside}, or ${fresh.length} new ranges > ${options.maxRules}`,
    );
  }
  const weighted = p.inside === null ? excess : excessInside + (excess - excessInside) * p.outsideWeight;
  return { rules, newRules: fresh.length, sourceAddresses: p.sourceAddresses, allowedAddresses: allowed, excessAddresses: excess, weightedExcess: weighted };
}
