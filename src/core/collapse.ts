import { TagwallError } from './errors.js';
import { blockSize, type AddressRange, type Cidr } from './ipv4.js';
import { changeOf, churnOf, partitionBlocks, solveLeastChurn } from './collapse-churn.js';
import { solveTolerant } from './collapse-tolerance.js';
export type { CollapseOptions } from './collapse-trie.js';
import { buildTrie, checkSource, costingOf, costOf, KEPT, KeptIndex, minimumRulesOf, PAIR, PART, SINGLE, sourcesIn, TILED, type CollapseOptions, type TrieNode } from './collapse-trie.js';

/**
 * The optimal collapse: CIDR rules that cover every source address, touch no blocked
 * (forbidden or excluded) address, fit the rule budget, and admit the fewest extra addresses.
 *
 * Exact, not a heuristic. The source blocks sit at the leaves of a binary trie; only the
 * branching nodes matter, because any block strictly between a node and the branch above
 * it covers exactly that node's sources, so the lowest allowed one is best. For each node v
 * and budget k, f(v, k) is the least excess inside v with at most k new rules:
 *
 *   f(v, k) = min( cover1(v)                        if k >= 1,
 *                  keptCover(v),                                   (costs no rule)
 *                  min over a + b = k of f(left, a) + f(right, b) )
 *
 * where cover1(v) is the excess of the lowest allowed block that holds v, and keptCover(v)
 * the excess of the lowest allowed block holding v that the firewall keeps anyway (a rule a
 * person made, which stays whatever tagwall plans). Such a block is already counted against
 * the firewall's limit, so using it costs nothing: that is what makes the budget exact beside
 * kept rules, with no search over budgets. A source block that kept rules tile completely
 * costs nothing either.
 *
 * A block that touches blocked space is never allowed, and neither is any block above it.
 * Under split-31 a /31 may not be a rule: a /31 source stands as its two addresses (2 rules,
 * fewer where kept rules hold them) or under a wider block. Tables are capped at min(K, rules
 * the subtree could ever use), which bounds the work by O(N·K) (the classic tree-knapsack
 * argument).
 *
 * Two refinements keep the same DP exact. A widening bound (`maxWidenedPrefix`) treats a block
 * wider than the bound that would admit excess like blocked space: it, and every block above
 * it, is no rule (a source prefix that is itself that wide admits no excess and stays allowed).
 * And `weights` make the objective the weighted excess: an excess address outside every given
 * range (Azure's own space) costs `outsideWeight`, one inside costs 1; the counts per block come
 * from prefix sums over the ranges, so the DP is unchanged but for what a block costs.
 *
 * Ties are broken the same way every time: fewer rules first, then a kept block, then a single
 * covering block before a split, then the smallest left budget. So the same input always gives
 * the same rules. With `prefer` (the firewall's own current rules), the fewest changes against
 * them come before all of that, at the same least excess (collapse-churn.ts): a new week's file
 * then moves only the rules it must. With `churnTolerance` ε as well, the fewest changes among
 * the covers within ε of the least excess, then the least excess (collapse-tolerance.ts).
 */


export interface CollapseResult {
  /** Sorted by address; includes the kept rules the cover uses. */
  readonly rules: Cidr[];
  /** How many of `rules` are not kept rules: what the cover costs against the budget. */
  readonly newRules: number;
  readonly sourceAddresses: number;
  readonly allowedAddresses: number;
  readonly excessAddresses: number;
  /** The objective the cover minimised: equal to excessAddresses unless `weights` were given. */
  readonly weightedExcess: number;
  /** With `prefer`: rules added (neither kept nor preferred) plus preferred rules dropped. */
  readonly changes?: number;
  /** With `churnTolerance`: the least (weighted) excess any cover in the budget admits, beside the one taken. */
  readonly leastWeightedExcess?: number;
}


function solve(node: TrieNode, budget: number): void {
  const size = Math.min(budget, node.maxRules);
  const f = new Float64Array(size + 1).fill(Infinity);
  const choiceLeft = new Int32Array(size + 1);
  const choiceRight = new Int32Array(size + 1);
  const offer = (k: number, excess: number, choice: number, right = 0) => {
    if (k <= size && excess < f[k]!) {
      f[k] = excess;
      choiceLeft[k] = choice;
      choiceRight[k] = right;
    }
  };
  offer(0, node.keptExcess, KEPT);
  if (node.tiles !== null) offer(0, 0, TILED);
  for (let k = 1; k <= size; k++) offer(k, node.singleExcess, SINGLE);
  if (node.left === null || node.right === null) {
    if (node.pairCost !== Infinity) offer(node.pairCost, 0, PAIR);
  } else {
    solve(node.left, budget);
    solve(node.right, budget);
    const fl = node.left.f!;
    const fr = node.right.f!;
    for (let a = 0; a < fl.length; a++) {
      const la = fl[a]!;
      if (la === Infinity) continue;
      for (let b = 0; b < fr.length && a + b <= size; b++) offer(a + b, la + fr[b]!, a, b);
    }
  }
  // "At most k": a larger budget never does worse, and on a tie the fewer rules win.
  for (let k = 1; k <= size; k++) {
    if (f[k - 1]! <= f[k]!) {
      f[k] = f[k - 1]!;
      choiceLeft[k] = choiceLeft[k - 1]!;
      choiceRight[k] = choiceRight[k - 1]!;
    }
  }
  node.f = f;
  node.choiceLeft = choiceLeft;
  node.choiceRight = choiceRight;
}

function emit(node: TrieNode, k: number, out: Cidr[]): void {
  const f = node.f!;
  const budget = Math.min(k, f.length - 1);
  const choice = node.choiceLeft![budget]!;
  if (choice === SINGLE) {
    out.push(node.single!);
  } else if (choice === KEPT) {
    out.push(node.kept!);
  } else if (choice === TILED) {
    out.push(...node.tiles!);
  } else if (choice === PART) {
    partitionBlocks(node.part!, node.choiceRight![budget]!, out);
  } else if (choice === PAIR) {
    out.push({ base: node.base, length: 32 }, { base: node.base + 1, length: 32 });
  } else {
    emit(node.left!, choice, out);
    emit(node.right!, node.choiceRight![budget]!, out);
  }
}

/** The smallest budget (new rules beyond `kept`) for which any cover exists. */
export function minimumRules(source: readonly Cidr[], options: Omit<CollapseOptions, 'maxRules'>): number {
  if (source.length === 0) return 0;
  checkSource(source);
  return minimumRulesOf(buildTrie(source, 0, source.length, -1, { ...options, maxRules: 1 }, new KeptIndex(options.kept ?? []), costingOf(options)));
}

/** COLLAPSE_INFEASIBLE, carrying the smallest budget that works as `neededRules` (and the widening bound, when it forced that). */
export function infeasible(budget: number, neededRules: number, bound?: { readonly maxWidenedPrefix: number; readonly withoutBound: number }): TagwallError {
  const why = bound === undefined ? 'without touching forbidden or excluded space' : `without touching forbidden or excluded space and with no widened rule wider than /${bound.maxWidenedPrefix} (maxWidenedPrefix)`;
  const hint = bound === undefined ? '' : `; without the bound, ${bound.withoutBound} would do: raise the rule limit, or set maxWidenedPrefix lower (0 turns it off) to allow wider rules`;
  return new TagwallError('COLLAPSE_INFEASIBLE', `no cover fits in ${budget} rule${budget === 1 ? '' : 's'} ${why}; the smallest budget that works is ${neededRules}${hint}`, {
    values: { budget, neededRules, ...(bound === undefined ? {} : { maxWidenedPrefix: bound.maxWidenedPrefix, neededRulesWithoutBound: bound.withoutBound }) },
  });
}

/**
 * Collapses merged, sorted, disjoint source blocks (for instance from `mergeCidrs`) to the
 * optimal cover within `maxRules` new rules. Throws COLLAPSE_INFEASIBLE, with the smallest
 * budget that works as `values.neededRules`, when no cover fits without touching blocked space.
 */
export function collapse(source: readonly Cidr[], options: CollapseOptions): CollapseResult {
  if (!Number.isInteger(options.maxRules) || options.maxRules < 0) {
    throw new TagwallError('COLLAPSE_INPUT', `the rule budget must be a whole number, not ${options.maxRules}`);
  }
  const tolerance = options.churnTolerance ?? 0;
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) throw new TagwallError('COLLAPSE_INPUT', `the churn tolerance must be a number of at least 0, not ${tolerance}`);
  const kept = new KeptIndex(options.kept ?? []);
  if (source.length === 0) {
    // Nothing to cover: every preferred rule that is not kept goes.
    const dropped = options.prefer === undefined ? undefined : new Set(options.prefer.filter((c) => !kept.has(c.base, c.length)).map((c) => c.base * 64 + c.length)).size;
    return { rules: [], newRules: 0, sourceAddresses: 0, allowedAddresses: 0, excessAddresses: 0, weightedExcess: 0, ...(dropped === undefined ? {} : { changes: dropped }), ...(dropped === undefined || tolerance === 0 ? {} : { leastWeightedExcess: 0 }) };
  }
  checkSource(source);
  const costing = costingOf(options);
  const root = buildTrie(source, 0, source.length, -1, options, kept, costing);
  const needed = minimumRulesOf(root);
  if (needed > options.maxRules) {
    // Say whether the widening bound is what stands in the way.
    const free = costing.bound === 0 ? needed : minimumRules(source, { ...options, maxWidenedPrefix: 0 });
    throw infeasible(options.maxRules, needed, free < needed ? { maxWidenedPrefix: costing.bound, withoutBound: free } : undefined);
  }
  let churn = options.prefer === undefined ? null : churnOf(options.prefer, kept, options.kept ?? [], options.split31);
  let rules: Cidr[] = [];
  let best: number;
  let bestChanges: number;
  let leastWeighted: number | undefined;
  if (options.prefer !== undefined && tolerance > 0) {
    // Even with nothing preferred beside the kept rules, added rules are changes to trade for.
    churn ??= { prefer: new Set(), kept, marked: [...(options.kept ?? [])].sort((a, b) => a.base - b.base || a.length - b.length), split31: options.split31 };
    const t = solveTolerant(root, options.maxRules, churn, tolerance, options, costing);
    rules = t.rules;
    best = t.excess;
    bestChanges = churn.prefer.size + t.changes;
    leastWeighted = t.leastExcess;
  } else {
    if (churn === null) solve(root, options.maxRules);
    else solveLeastChurn(root, options.maxRules, churn);
    const f = root.f!;
    best = f[Math.min(options.maxRules, f.length - 1)]!;
    emit(root, options.maxRules, rules);
    bestChanges = churn === null ? 0 : churn.prefer.size + root.g![Math.min(options.maxRules, f.length - 1)]!;
  }
  let allowed = 0;
  let newRules = 0;
  let weighted = 0;
  let changes = churn === null ? 0 : churn.prefer.size;
  for (const r of rules) {
    if (churn !== null) changes += changeOf(r, churn);
    const size = blockSize(r.length);
    allowed += size;
    if (!kept.has(r.base, r.length)) newRules++;
    if (costing.inside !== null) {
      const own = sourcesIn(source, r, costing.inside);
      weighted += costOf(r.base, size, own.covered, own.coveredInside, costing);
    }
  }
  const excess = allowed - root.covered;
  if (costing.inside === null) weighted = excess;
  if (weighted !== best || newRules > options.maxRules || changes !== bestChanges) {
    throw new TagwallError('COLLAPSE_INTERNAL', `collapse self-check failed: cost ${weighted} != ${best}, ${changes} changes != ${bestChanges}, or ${newRules} new rules > ${options.maxRules}`);
  }
  return {
    rules,
    newRules,
    sourceAddresses: root.covered,
    allowedAddresses: allowed,
    excessAddresses: excess,
    weightedExcess: weighted,
    // With no preferred block beside the kept ones, every new rule is a change and nothing else is.
    ...(options.prefer === undefined ? {} : { changes: churn === null ? newRules : changes }),
    ...(leastWeighted === undefined ? {} : { leastWeightedExcess: leastWeighted }),
  };
}
