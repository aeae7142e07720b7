import { blockSize, touchesRanges, type Cidr } from './ipv4.js';
import { changeOf, partitionBlocks, partitionOf, type Churn } from './collapse-churn.js';
import { costOf, KEPT, PART, SINGLE, type CollapseOptions, type Costing, type Partition, type TrieNode } from './collapse-trie.js';

/**
 * Least churn with a tolerance ε (`churnTolerance`): of the covers whose excess is at most the
 * least excess plus ε, the one with the fewest changes against the firewall's own rules, and of
 * those the least excess. Exact, the same tree DP as collapse-churn.ts with a Pareto frontier of
 * (excess, changes) per node and budget instead of one lexicographic pair:
 *
 * - Candidates. Without ε the lowest allowed block on a node's chain always wins over the blocks
 *   above it (strictly less excess). With ε a higher block that the firewall already has can be
 *   worth its extra excess: last week's /23 around this week's /24 keeps one rule where the /24
 *   would change two. Of the preferred blocks on a chain, only the lowest allowed one can matter
 *   (the others cost the same rule and change, with more excess); kept blocks as before (the
 *   lowest); leaf partitions admit no excess, so they stay one value per budget.
 * - Pruning. A node's part of a cover that uses k rules and admits e can be in a cover within
 *   the global bound only if e <= f(v, k) + ε, where f is the least excess at the node with at
 *   most k rules: swapping that part for the node's optimum keeps the cover within the budget
 *   and cannot beat the global optimum, so e - f(v, k) <= (cover's excess) - OPT <= ε. Tighter
 *   still, and used: e <= OPT + ε - outside(v, k), the least excess the rest of the tree reaches
 *   with the rest of the budget (a top-down pass, `outsideOf`). Each frontier holds, per change
 *   count, the least excess under that bound; change counts lie between minus the preferred rules
 *   in the subtree and the budget. Three passes: plain least excess, outside, frontiers.
 *
 * Covers are sets of disjoint blocks each holding a source address (a rule that holds no source
 * is never kept for the change it saves). The widening bound and blocked space apply to
 * preferred blocks as to any new rule: only kept rules are exempt from the bound.
 *
 * Ties within a frontier (same excess and changes) go to the fewer rules, then the order of
 * offer: kept, single, preferred, partition, then splits by the smaller left budget.
 */

const PREF = -6;

interface Solved {
  readonly node: TrieNode;
  readonly left: Solved | null;
  readonly right: Solved | null;
  readonly part: Partition | null;
  readonly pref: { readonly block: Cidr; readonly cost: number } | null;
  /** The least excess with at most k rules (the plain DP's f), k = 0..size. */
  readonly least: Float64Array;
  /** The least excess of the rest of the tree when this node gets budget k (Infinity: it cannot). */
  outside?: Float64Array;
  /**
   * Budget k's new entries are start[k] .. start[k+1]-1, excess ascending: the frontier with at
   * most k rules is the non-dominated entries of cells 0..k, so each combination of the children's
   * entries is made once, at the sum of their budgets, not again for every larger budget.
   */
  start?: Int32Array;
  e?: Float64Array;
  c?: Int32Array;
  /** SINGLE, KEPT, PREF, PART, or a split's left budget. */
  how?: Int32Array;
  /** A split's right budget, or a partition's budget. */
  r?: Int32Array;
  /** A split's entries in the children's arrays. */
  li?: Int32Array;
  ri?: Int32Array;
  /** The frontier with at most `size` rules, as indices of entries. */
  top?: readonly number[];
}

interface Context {
  readonly budget: number;
  readonly churn: Churn;
  readonly tolerance: number;
  readonly options: CollapseOptions;
  readonly costing: Costing;
}

/** The lowest allowed preferred block above the node's lowest allowed one, on its chain. */
function preferredOnChain(node: TrieNode, parentLength: number, x: Context): { block: Cidr; cost: number } | null {
  const single = node.single;
  if (single === null || x.churn.prefer.size === 0 || x.churn.prefer.has(single.base * 64 + single.length)) return null;
  for (let len = single.length - 1; len > parentLength; len--) {
    const size = blockSize(len);
    const start = node.base - (node.base % size);
    if (touchesRanges(x.options.blocked, start, start + size - 1)) return null;
    if (len < x.costing.bound && size > node.covered) return null;
    if (x.options.split31 && len === 31) continue;
    if (x.churn.prefer.has(start * 64 + len)) return { block: { base: start, length: len }, cost: costOf(start, size, node.covered, node.coveredInside, x.costing) };
  }
  return null;
}

/** Growable columns for one node's frontiers. */
class Columns {
  e: number[] = [];
  c: number[] = [];
  how: number[] = [];
  r: number[] = [];
  li: number[] = [];
  ri: number[] = [];
  push(e: number, c: number, how: number, r: number, li: number, ri: number): void {
    this.e.push(e);
    this.c.push(c);
    this.how.push(how);
    this.r.push(r);
    this.li.push(li);
    this.ri.push(ri);
  }
  truncate(n: number): void {
    this.e.length = this.c.length = this.how.length = this.r.length = this.li.length = this.ri.length = n;
  }
}

/** First pass, bottom up: each node's candidates and the plain least excess per budget. */
function prepare(node: TrieNode, parentLength: number, x: Context): Solved {
  const leaf = node.left === null || node.right === null;
  let left: Solved | null = null;
  let right: Solved | null = null;
  let part: Partition | null = null;
  let size: number;
  if (leaf) {
    part = partitionOf(node, x.churn, x.budget);
    size = Math.min(x.budget, Math.max(node.maxRules, part === null ? 0 : part.cost.length - 1));
  } else {
    left = prepare(node.left!, node.length, x);
    right = prepare(node.right!, node.length, x);
    size = Math.min(x.budget, left.least.length - 1 + right.least.length - 1);
  }
  const least = new Float64Array(size + 1).fill(Infinity);
  if (node.kept !== null) least[0] = node.keptExcess;
  if (node.single !== null && size >= 1) least[1] = Math.min(least[1]!, node.singleExcess);
  if (part !== null) for (let k = 0; k < part.cost.length && k <= size; k++) if (part.cost[k] !== Infinity) least[k] = 0;
  if (left !== null && right !== null) {
    const [fl, fr] = [left.least, right.least];
    for (let a = 0; a < fl.length; a++) {
      const la = fl[a]!;
      if (la === Infinity) continue;
      for (let b = 0; b < fr.length && a + b <= size; b++) if (la + fr[b]! < least[a + b]!) least[a + b] = la + fr[b]!;
    }
  }
  for (let k = 1; k <= size; k++) if (least[k - 1]! < least[k]!) least[k] = least[k - 1]!;
  return { node, left, right, part, pref: preferredOnChain(node, parentLength, x), least };
}

/**
 * Second pass, top down: outside[k], the least excess of everything but this node when it gets
 * budget k and the rest of the budget goes elsewhere. A part of a cover within the global bound
 * admits at most OPT + ε - outside[k]: a far tighter bound than f(v, k) + ε wherever the budget
 * binds, since a budget far from the node's share in some near-optimal cover then prunes all of it.
 */
function outsideOf(s: Solved, outside: Float64Array): void {
  s.outside = outside;
  if (s.left === null || s.right === null) return;
  const size = outside.length - 1;
  const pair = (child: Solved, sibling: Solved) => {
    const o = new Float64Array(child.least.length).fill(Infinity);
    const fs = sibling.least;
    for (let a = 0; a < o.length; a++) {
      let best = Infinity;
      for (let b = 0; b < fs.length && a + b <= size; b++) {
        const v = outside[a + b]! + fs[b]!;
        if (v < best) best = v;
      }
      o[a] = best;
    }
    return o;
  };
  const [l, r] = [s.left, s.right];
  const ol = pair(l, r);
  const or = pair(r, l);
  outsideOf(l, ol);
  outsideOf(r, or);
}

/** Third pass, bottom up: the frontiers, each budget's pruned to OPT + ε - outside[k]. */
function frontiers(s: Solved, x: Context, limit: number): void {
  const { node, left, right, part, pref } = s;
  if (left !== null && right !== null) {
    frontiers(left, x, limit);
    frontiers(right, x, limit);
  }
  const size = s.least.length - 1;
  const ls = left === null ? -1 : left.least.length - 1;
  const rs = right === null ? -1 : right.least.length - 1;
  const outside = s.outside!;
  const out = new Columns();
  const start = new Int32Array(size + 2);
  // The frontier with at most k - 1 rules (entries of `out`), and budget k's new entries while
  // they are built: both small, so a linear dominance check beats sorting every candidate. An
  // exact tie keeps the entry with fewer rules, then the one offered first.
  let acc: number[] = [];
  const cell = new Columns();
  let bound = 0;
  // `acc` is a frontier, by excess ascending and so changes descending: the last entry with no
  // more excess than a candidate has the fewest changes of those that could dominate it.
  const accAfter = (e: number): number => {
    let lo = 0;
    let hi = acc.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (out.e[acc[mid]!]! <= e) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const offer = (e: number, c: number, how: number, r = 0, li = 0, ri = 0): void => {
    if (e > bound) return;
    const lo = accAfter(e);
    if (lo > 0 && out.c[acc[lo - 1]!]! <= c) return;
    addToCell(e, c, how, r, li, ri);
  };
  // The cell is a frontier too, kept in order: the same test, and an insertion that drops the
  // entries right after it that the new one dominates.
  const addToCell = (e: number, c: number, how: number, r: number, li: number, ri: number): void => {
    let lo = 0;
    let hi = cell.e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cell.e[mid]! <= e) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && cell.c[lo - 1]! <= c) return;
    let end = lo;
    while (end < cell.e.length && cell.c[end]! >= c) end++;
    cell.e.splice(lo, end - lo, e);
    cell.c.splice(lo, end - lo, c);
    cell.how.splice(lo, end - lo, how);
    cell.r.splice(lo, end - lo, r);
    cell.li.splice(lo, end - lo, li);
    cell.ri.splice(lo, end - lo, ri);
  };
  const boundAt = (k: number) => Math.min(s.least[k]! + x.tolerance, limit - outside[k]!);
  // The budgets where something new can appear: few, once the children's frontiers are pruned.
  const liveOf = (t: Solved) => {
    const live: number[] = [];
    for (let k = 0; k < t.start!.length - 1; k++) if (t.start![k]! < t.start![k + 1]!) live.push(k);
    return live;
  };
  const events: number[] = [];
  if (node.kept !== null) events.push(0);
  if (size >= 1 && (node.single !== null || pref !== null)) events.push(1);
  if (part !== null) for (let k = 0; k < part.cost.length && k <= size; k++) if (part.cost[k] !== Infinity && (k === 0 || part.cost[k]! < part.cost[k - 1]!)) events.push(k);
  let liveLeft: number[] = [];
  let liveRight: Uint8Array | null = null;
  if (left !== null && right !== null) {
    liveLeft = liveOf(left);
    const lr = liveOf(right);
    liveRight = new Uint8Array(rs + 1);
    for (const b of lr) liveRight[b] = 1;
    for (const a of liveLeft) for (const b of lr) if (a + b <= size) events.push(a + b);
  }
  events.sort((p, q) => p - q);
  let filled = 0;
  const prune = () => {
    let n = acc.length;
    while (n > 0 && out.e[acc[n - 1]!]! > bound) n--;
    acc.length = n;
  };
  for (let ev = 0; ev < events.length; ev++) {
    const k = events[ev]!;
    if (ev > 0 && events[ev - 1] === k) continue;
    while (filled <= k) start[filled++] = out.e.length;
    bound = boundAt(k);
    if (!(bound >= s.least[k]!)) continue;
    // What the bound now excludes can neither be used nor dominate anything that can (it only falls with k).
    prune();
    cell.truncate(0);
    if (k === 0 && node.kept !== null) offer(node.keptExcess, 0, KEPT);
    if (k === 1 && node.single !== null) offer(node.singleExcess, changeOf(node.single, x.churn), SINGLE);
    if (k === 1 && pref !== null) offer(pref.cost, -1, PREF);
    if (part !== null && k < part.cost.length && part.cost[k] !== Infinity) offer(0, part.cost[k]!, PART, k);
    if (liveRight !== null) {
      const l = left!;
      const r = right!;
      for (const a of liveLeft) {
        const b = k - a;
        if (b < 0) break;
        if (b > rs || liveRight[b] === 0) continue;
        const j0 = r.start![b]!;
        const j1 = r.start![b + 1]!;
        const rb = r.e![j0]!;
        for (let i = l.start![a]!; i < l.start![a + 1]!; i++) {
          const le = l.e![i]!;
          if (le + rb > bound) break;
          const lc = l.c![i]!;
          // The candidates' excess rises with j, so the dominating entry of `acc` only moves on.
          let p = accAfter(le + rb);
          for (let j = j0; j < j1; j++) {
            const e = le + r.e![j]!;
            if (e > bound) break;
            const c = lc + r.c![j]!;
            while (p < acc.length && out.e[acc[p]!]! <= e) p++;
            if (p > 0 && out.c[acc[p - 1]!]! <= c) continue;
            addToCell(e, c, a, b, i, j);
          }
        }
      }
    }
    // Stored by excess, ascending; the frontier so far loses what they dominate.
    const n = cell.e.length;
    if (n === 0) continue;
    const added: number[] = [];
    for (let i = 0; i < n; i++) {
      added.push(out.e.length);
      out.push(cell.e[i]!, cell.c[i]!, cell.how[i]!, cell.r[i]!, cell.li[i]!, cell.ri[i]!);
    }
    // Merge, keeping a frontier: no new entry is dominated by an older one, so on equal excess
    // and changes the older (fewer rules) stays.
    const merged: number[] = [];
    let fewest = Infinity;
    for (let p = 0, q = 0; p < acc.length || q < added.length; ) {
      const takeOld = q === added.length || (p < acc.length && (out.e[acc[p]!]! < out.e[added[q]!]! || (out.e[acc[p]!]! === out.e[added[q]!]! && out.c[acc[p]!]! <= out.c[added[q]!]!)));
      const i = takeOld ? acc[p++]! : added[q++]!;
      if (out.c[i]! < fewest) {
        fewest = out.c[i]!;
        merged.push(i);
      }
    }
    acc = merged;
  }
  while (filled <= size) start[filled++] = out.e.length;
  bound = boundAt(size);
  prune();
  start[size + 1] = out.e.length;
  s.start = start;
  s.e = Float64Array.from(out.e);
  s.c = Int32Array.from(out.c);
  s.how = Int32Array.from(out.how);
  s.r = Int32Array.from(out.r);
  s.li = Int32Array.from(out.li);
  s.ri = Int32Array.from(out.ri);
  s.top = acc;
}

function emit(s: Solved, i: number, out: Cidr[]): void {
  const how = s.how![i]!;
  if (how === SINGLE) out.push(s.node.single!);
  else if (how === KEPT) out.push(s.node.kept!);
  else if (how === PREF) out.push(s.pref!.block);
  else if (how === PART) partitionBlocks(s.part!, s.r![i]!, out);
  else {
    emit(s.left!, s.li![i]!, out);
    emit(s.right!, s.ri![i]!, out);
  }
}

export interface TolerantCover {
  /** In address order. */
  readonly rules: Cidr[];
  /** The (weighted) excess of the cover, and the least any cover in the budget admits. */
  readonly excess: number;
  readonly leastExcess: number;
  /** Change count beside |prefer| (rules added minus preferred rules kept). */
  readonly changes: number;
}

/** The cover with the fewest changes within `tolerance` of the least excess, then the least excess. */
export function solveTolerant(root: TrieNode, budget: number, churn: Churn, tolerance: number, options: CollapseOptions, costing: Costing): TolerantCover {
  const x = { budget, churn, tolerance, options, costing };
  const s = prepare(root, -1, x);
  const optimum = s.least[s.least.length - 1]!;
  outsideOf(s, new Float64Array(s.least.length));
  // A hair of slack so that a weighted sum rounded differently is never cut off at the bound.
  frontiers(s, x, optimum + tolerance + Math.abs(optimum) * 1e-12);
  const e = s.e!;
  const c = s.c!;
  // The root's frontier with at most its budget: the fewest changes, then the least excess, then
  // the fewest rules (the earliest entry).
  let pick = -1;
  for (const i of s.top!) if (pick === -1 || c[i]! < c[pick]! || (c[i]! === c[pick]! && (e[i]! < e[pick]! || (e[i]! === e[pick]! && i < pick)))) pick = i;
  const rules: Cidr[] = [];
  emit(s, pick, rules);
  return { rules, excess: e[pick]!, leastExcess: optimum, changes: c[pick]! };
}
