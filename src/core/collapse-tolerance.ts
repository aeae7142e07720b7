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
 *   and cannot beat the global optimum, so e - f(v, k) <= (cover's excess) - OPT <= ε. Each
 *   frontier holds, per change count, the least excess under that bound; change counts lie
 *   between minus the preferred rules in the subtree and the budget, so frontiers stay small.
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
  readonly pref: Cidr | null;
  /** Budget k's entries are start[k] .. start[k+1]-1: excess ascending, changes strictly descending. */
  readonly start: Int32Array;
  readonly e: Float64Array;
  readonly c: Int32Array;
  /** SINGLE, KEPT, PREF, PART, or a split's left budget. */
  readonly how: Int32Array;
  /** A split's right budget, or a partition's budget. */
  readonly r: Int32Array;
  /** A split's entries in the children's arrays. */
  readonly li: Int32Array;
  readonly ri: Int32Array;
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
  clear(): void {
    this.e.length = this.c.length = this.how.length = this.r.length = this.li.length = this.ri.length = 0;
  }
}

function cellMin(s: Solved, k: number): number {
  return s.start[k]! < s.start[k + 1]! ? s.e[s.start[k]!]! : Infinity;
}

function solveNode(node: TrieNode, parentLength: number, x: Context): Solved {
  const leaf = node.left === null || node.right === null;
  let left: Solved | null = null;
  let right: Solved | null = null;
  let part: Partition | null = null;
  let size: number;
  if (leaf) {
    part = partitionOf(node, x.churn, x.budget);
    size = Math.min(x.budget, Math.max(node.maxRules, part === null ? 0 : part.cost.length - 1));
  } else {
    left = solveNode(node.left!, node.length, x);
    right = solveNode(node.right!, node.length, x);
    size = Math.min(x.budget, left.start.length - 2 + right.start.length - 2);
  }
  const ls = left === null ? -1 : left.start.length - 2;
  const rs = right === null ? -1 : right.start.length - 2;
  const pref = preferredOnChain(node, parentLength, x);

  // The least excess with at most k rules: the plain DP over the children's frontiers' heads.
  const least = new Float64Array(size + 1).fill(Infinity);
  if (node.kept !== null) least[0] = node.keptExcess;
  if (node.single !== null && size >= 1) least[1] = Math.min(least[1]!, node.singleExcess);
  if (part !== null) for (let k = 0; k < part.cost.length && k <= size; k++) if (part.cost[k] !== Infinity) least[k] = 0;
  const rightMin = new Float64Array(rs + 1);
  for (let b = 0; b <= rs; b++) rightMin[b] = cellMin(right!, b);
  for (let a = 0; a <= ls; a++) {
    const la = cellMin(left!, a);
    if (la === Infinity) continue;
    for (let b = 0; b <= rs && a + b <= size; b++) if (la + rightMin[b]! < least[a + b]!) least[a + b] = la + rightMin[b]!;
  }
  for (let k = 1; k <= size; k++) if (least[k - 1]! < least[k]!) least[k] = least[k - 1]!;

  const out = new Columns();
  const start = new Int32Array(size + 2);
  const cand = new Columns();
  const order: number[] = [];
  for (let k = 0; k <= size; k++) {
    start[k] = out.e.length;
    const bound = least[k]! + x.tolerance;
    cand.clear();
    const offer = (e: number, c: number, how: number, r = 0, li = 0, ri = 0) => {
      if (e <= bound) cand.push(e, c, how, r, li, ri);
    };
    // Fewer rules first on a tie: what budget k-1 already had.
    if (k > 0) for (let i = start[k - 1]!; i < start[k]!; i++) offer(out.e[i]!, out.c[i]!, out.how[i]!, out.r[i]!, out.li[i]!, out.ri[i]!);
    if (k === 0 && node.kept !== null) offer(node.keptExcess, 0, KEPT);
    if (k === 1 && node.single !== null) offer(node.singleExcess, changeOf(node.single, x.churn), SINGLE);
    if (k === 1 && pref !== null) offer(pref.cost, -1, PREF);
    if (part !== null && k < part.cost.length && part.cost[k] !== Infinity) offer(0, part.cost[k]!, PART, k);
    if (!leaf) {
      const l = left!;
      const r = right!;
      for (let a = Math.max(0, k - rs); a <= Math.min(k, ls); a++) {
        const b = k - a;
        const rb = rightMin[b]!;
        for (let i = l.start[a]!; i < l.start[a + 1]!; i++) {
          const le = l.e[i]!;
          if (le + rb > bound) break;
          for (let j = r.start[b]!; j < r.start[b + 1]!; j++) {
            const e = le + r.e[j]!;
            if (e > bound) break;
            cand.push(e, l.c[i]! + r.c[j]!, a, b, i, j);
          }
        }
      }
    }
    // The Pareto frontier: by excess, then changes, then order of offer; keep what lowers the changes.
    const n = cand.e.length;
    order.length = n;
    for (let i = 0; i < n; i++) order[i] = i;
    if (n > 1) order.sort((p, q) => cand.e[p]! - cand.e[q]! || cand.c[p]! - cand.c[q]! || p - q);
    let fewest = Infinity;
    for (const i of order) {
      if (cand.c[i]! >= fewest) continue;
      fewest = cand.c[i]!;
      out.push(cand.e[i]!, cand.c[i]!, cand.how[i]!, cand.r[i]!, cand.li[i]!, cand.ri[i]!);
    }
  }
  start[size + 1] = out.e.length;
  return {
    node,
    left,
    right,
    part,
    pref: pref === null ? null : pref.block,
    start,
    e: Float64Array.from(out.e),
    c: Int32Array.from(out.c),
    how: Int32Array.from(out.how),
    r: Int32Array.from(out.r),
    li: Int32Array.from(out.li),
    ri: Int32Array.from(out.ri),
  };
}

function emit(s: Solved, i: number, out: Cidr[]): void {
  const how = s.how[i]!;
  if (how === SINGLE) out.push(s.node.single!);
  else if (how === KEPT) out.push(s.node.kept!);
  else if (how === PREF) out.push(s.pref!);
  else if (how === PART) partitionBlocks(s.part!, s.r[i]!, out);
  else {
    emit(s.left!, s.li[i]!, out);
    emit(s.right!, s.ri[i]!, out);
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
  const s = solveNode(root, -1, { budget, churn, tolerance, options, costing });
  const k = Math.min(budget, s.start.length - 2);
  const from = s.start[k]!;
  const to = s.start[k + 1]!;
  // Changes fall along the frontier: the last entry has the fewest.
  const pick = to - 1;
  const rules: Cidr[] = [];
  emit(s, pick, rules);
  return { rules, excess: s.e[pick]!, leastExcess: s.e[from]!, changes: s.c[pick]! };
}
