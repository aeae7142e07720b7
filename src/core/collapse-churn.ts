import { blockSize, cidrEnd, type Cidr } from './ipv4.js';
import { KEPT, PART, SINGLE, type KeptIndex, type Partition, type TrieNode } from './collapse-trie.js';

/**
 * Least churn: among the covers of least (weighted) excess, the one that changes the fewest of
 * the firewall's rules. `prefer` are the rules tagwall would remove if the cover left them out
 * (its own, in merge mode); changes = rules added + preferred rules dropped. With |prefer| fixed,
 * that is |prefer| plus, per cover block: +1 for a new block, -1 for a preferred one, 0 for a kept
 * one. So the DP of collapse.ts carries a second value beside the excess, compared
 * lexicographically (excess first, then changes), and nothing else about it changes:
 *
 * - Above a leaf, every block that holds a node's sources lies on the node's chain, and the
 *   lowest allowed one has strictly the least excess; so the candidates are the same as
 *   without `prefer`, only their change costs differ.
 * - Inside a leaf (a source block), any partition into smaller blocks admits no excess either.
 *   Without `prefer` a partition never beats the block itself (more rules), but a partition into
 *   preferred rules does: last week's two /25s still cover this week's /24 at one change fewer
 *   than swapping them for the /24. So a leaf with preferred or kept blocks inside it also offers
 *   its best partition for each budget (`partitionOf`), which subsumes the kept tiling and the
 *   split-31 pair.
 *
 * Covers are sets of disjoint blocks, as collapse has always produced: keeping an owned /25
 * inside a new /24 would save a removal only by wasting a rule on nothing.
 *
 * Ties after (excess, changes) are broken as before: a kept block, then a single block, then a
 * partition or split, then the smaller left budget; and fewer new rules on a tie across budgets.
 */

export interface Churn {
  /** Preferred blocks that are not kept, by key. */
  readonly prefer: ReadonlySet<number>;
  readonly kept: KeptIndex;
  /** Preferred and kept blocks, sorted by base then wider first: what a leaf may be split into. */
  readonly marked: readonly Cidr[];
  readonly split31: boolean;
}

const keyOf = (c: Cidr) => c.base * 64 + c.length;

/** Null when no preferred block is left once kept ones are set aside: the plain DP is then exact. */
export function churnOf(prefer: readonly Cidr[], kept: KeptIndex, keptBlocks: readonly Cidr[], split31: boolean): Churn | null {
  const keys = new Set<number>();
  for (const c of prefer) if (!kept.has(c.base, c.length)) keys.add(keyOf(c));
  if (keys.size === 0) return null;
  const marked = [...prefer.filter((c) => keys.has(keyOf(c))), ...keptBlocks].sort((a, b) => a.base - b.base || a.length - b.length);
  return { prefer: keys, kept, marked, split31 };
}

/** What one cover block adds to the change count. */
export function changeOf(c: Cidr, churn: Churn): number {
  if (churn.kept.has(c.base, c.length)) return 0;
  return churn.prefer.has(keyOf(c)) ? -1 : 1;
}

/** Marked blocks strictly inside `c`. */
function markedInside(c: Cidr, marked: readonly Cidr[]): Cidr[] {
  const end = cidrEnd(c);
  let lo = 0;
  let hi = marked.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marked[mid]!.base < c.base) lo = mid + 1;
    else hi = mid;
  }
  const out: Cidr[] = [];
  for (let i = lo; i < marked.length && marked[i]!.base <= end; i++) if (marked[i]!.length > c.length) out.push(marked[i]!);
  return out;
}

/**
 * The least-change exact partition of `c` (no excess) for each budget up to `cap`, "at most k"
 * like the DP's tables. Only halves holding a marked block are split further: a half with none
 * is best as one block (or, a /31 under split-31, as its two addresses). Choices, not block
 * lists, are kept per budget, so a source block holding many preferred rules costs the tree
 * knapsack's O(size · cap), not that times the blocks copied.
 */
function partition(c: Cidr, inside: readonly Cidr[], churn: Churn, cap: number): Partition {
  const cost: number[] = [Infinity];
  // -1: `c` itself; otherwise the low half's budget (the high half's is the rest).
  const choice: number[] = [0];
  const right: number[] = [0];
  const offer = (k: number, v: number, how: number, r = 0) => {
    if (k > cap) return;
    while (cost.length <= k) {
      cost.push(Infinity);
      choice.push(0);
      right.push(0);
    }
    if (v < cost[k]!) {
      cost[k] = v;
      choice[k] = how;
      right[k] = r;
    }
  };
  if (churn.kept.has(c.base, c.length)) offer(0, 0, -1);
  else if (!(churn.split31 && c.length === 31)) offer(1, churn.prefer.has(keyOf(c)) ? -1 : 1, -1);
  let halves: readonly [Partition, Partition] | null = null;
  if (c.length < 32 && (inside.length > 0 || (churn.split31 && c.length === 31))) {
    const half = blockSize(c.length + 1);
    const low = { base: c.base, length: c.length + 1 };
    const high = { base: c.base + half, length: c.length + 1 };
    const l = partition(low, inside.filter((m) => m.base < high.base && m.length > low.length), churn, cap);
    const r = partition(high, inside.filter((m) => m.base >= high.base && m.length > high.length), churn, cap);
    halves = [l, r];
    for (let a = 0; a < l.cost.length; a++) {
      if (l.cost[a] === Infinity) continue;
      for (let b = 0; b < r.cost.length && a + b <= cap; b++) if (r.cost[b] !== Infinity) offer(a + b, l.cost[a]! + r.cost[b]!, a, b);
    }
  }
  for (let k = 1; k < cost.length; k++) {
    if (cost[k - 1]! <= cost[k]!) {
      cost[k] = cost[k - 1]!;
      choice[k] = choice[k - 1]!;
      right[k] = right[k - 1]!;
    }
  }
  return { block: c, cost, choice, right, halves };
}

/** The blocks of a partition's best cover within budget `k`, in address order. */
export function partitionBlocks(p: Partition, k: number, out: Cidr[]): void {
  const at = Math.min(k, p.cost.length - 1);
  if (p.choice[at] === -1) {
    out.push(p.block);
    return;
  }
  partitionBlocks(p.halves![0], p.choice[at]!, out);
  partitionBlocks(p.halves![1], p.right[at]!, out);
}

/** A leaf's partitions into smaller blocks, or null when it has nothing marked inside and may stand as itself. */
export function partitionOf(leaf: TrieNode, churn: Churn, budget: number): Partition | null {
  const c = { base: leaf.base, length: leaf.length };
  const inside = c.length === 32 ? [] : markedInside(c, churn.marked);
  if (inside.length === 0 && !(churn.split31 && c.length === 31)) return null;
  return partition(c, inside, churn, budget);
}

/** The DP of collapse.ts with (excess, changes) compared lexicographically; fills node.f, node.g and the choices. */
export function solveLeastChurn(node: TrieNode, budget: number, churn: Churn): void {
  const leaf = node.left === null || node.right === null;
  let size: number;
  if (leaf) {
    node.part = partitionOf(node, churn, budget);
    size = Math.min(budget, Math.max(node.maxRules, node.part === null ? 0 : node.part.cost.length - 1));
  } else {
    solveLeastChurn(node.left!, budget, churn);
    solveLeastChurn(node.right!, budget, churn);
    size = Math.min(budget, node.left!.f!.length - 1 + node.right!.f!.length - 1);
  }
  const f = new Float64Array(size + 1).fill(Infinity);
  const g = new Float64Array(size + 1).fill(Infinity);
  const choiceLeft = new Int32Array(size + 1);
  const choiceRight = new Int32Array(size + 1);
  const offer = (k: number, excess: number, changes: number, choice: number, right = 0) => {
    if (k <= size && (excess < f[k]! || (excess === f[k]! && changes < g[k]!))) {
      f[k] = excess;
      g[k] = changes;
      choiceLeft[k] = choice;
      choiceRight[k] = right;
    }
  };
  if (node.kept !== null) offer(0, node.keptExcess, 0, KEPT);
  if (node.single !== null) offer(1, node.singleExcess, changeOf(node.single, churn), SINGLE);
  if (leaf) {
    const part = node.part;
    if (part !== null && part !== undefined) for (let k = 0; k < part.cost.length; k++) if (part.cost[k] !== Infinity) offer(k, 0, part.cost[k]!, PART, k);
  } else {
    const fl = node.left!.f!;
    const gl = node.left!.g!;
    const fr = node.right!.f!;
    const gr = node.right!.g!;
    for (let a = 0; a < fl.length; a++) {
      const la = fl[a]!;
      if (la === Infinity) continue;
      const ca = gl[a]!;
      for (let b = 0; b < fr.length && a + b <= size; b++) offer(a + b, la + fr[b]!, ca + gr[b]!, a, b);
    }
  }
  for (let k = 1; k <= size; k++) {
    if (f[k - 1]! < f[k]! || (f[k - 1]! === f[k]! && g[k - 1]! <= g[k]!)) {
      f[k] = f[k - 1]!;
      g[k] = g[k - 1]!;
      choiceLeft[k] = choiceLeft[k - 1]!;
      choiceRight[k] = choiceRight[k - 1]!;
    }
  }
  node.f = f;
  node.g = g;
  node.choiceLeft = choiceLeft;
  node.choiceRight = choiceRight;
}
