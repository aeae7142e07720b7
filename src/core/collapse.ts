import { TagwallError } from './errors.js';
import { blockSize, cidrEnd, formatCidr, touchesRanges, type AddressRange, type Cidr } from './ipv4.js';

/**
 * The optimal collapse: at most K CIDR rules that cover every source address, touch no
 * blocked (forbidden or excluded) address, and admit the fewest extra addresses.
 *
 * Exact, not a heuristic. The source blocks sit at the leaves of a binary trie; only the
 * branching nodes matter, because any block strictly between a node and the branch above
 * it covers exactly that node's sources, so the lowest allowed one is best. For each node v
 * and budget k, f(v, k) is the least excess inside v with at most k rules:
 *
 *   f(v, k) = min( cover1(v),  min over a + b = k of f(left, a) + f(right, b) )
 *
 * where cover1(v) is the excess of the lowest allowed block that holds v. A block that touches
 * blocked space is never allowed, and neither is any block above it. Under split-31 a /31 may
 * not be a rule: a /31 source stands as its two addresses (2 rules) or under a wider block.
 * Tables are capped at min(K, rules the subtree could ever use), which bounds the work by
 * O(N·K) (the classic tree-knapsack argument).
 *
 * Ties are broken the same way every time: fewer rules first, then a single covering
 * block before a split, then the smallest left budget. So the same input always gives
 * the same rules, and weekly runs don't churn.
 */

export interface CollapseOptions {
  /** The rule budget, K. */
  readonly maxRules: number;
  /** Never emit a /31 (old Key Vault API, Storage accounts). */
  readonly split31: boolean;
  /** Merged ranges that no rule may touch. */
  readonly blocked: readonly AddressRange[];
}

export interface CollapseResult {
  /** Sorted by address. */
  readonly rules: Cidr[];
  readonly sourceAddresses: number;
  readonly allowedAddresses: number;
  readonly excessAddresses: number;
}

const SINGLE = -1;
const PAIR = -2;

interface TrieNode {
  readonly base: number;
  readonly length: number;
  /** Length of the branching node above, or -1 at the root. */
  readonly parentLength: number;
  readonly covered: number;
  readonly left: TrieNode | null;
  readonly right: TrieNode | null;
  /** Most rules this subtree could use: one per source block, two for a split /31. */
  readonly maxRules: number;
  /** Lowest allowed block holding every source of this node, if any. */
  readonly single: Cidr | null;
  readonly singleExcess: number;
  /** Filled by the DP: f[k] for k = 0..size, and how f[k] was reached. */
  f?: Float64Array;
  choiceLeft?: Int32Array;
  choiceRight?: Int32Array;
}

function lowestAllowedBlock(base: number, length: number, parentLength: number, options: CollapseOptions): Cidr | null {
  for (let len = length; len > parentLength; len--) {
    const size = blockSize(len);
    const start = base - (base % size);
    // Every block above one that touches blocked space touches it too.
    if (touchesRanges(options.blocked, start, start + size - 1)) return null;
    if (options.split31 && len === 31) continue;
    return { base: start, length: len };
  }
  return null;
}

function buildTrie(source: readonly Cidr[], from: number, to: number, parentLength: number, options: CollapseOptions): TrieNode {
  if (to - from === 1) {
    const c = source[from]!;
    const covered = blockSize(c.length);
    const single = lowestAllowedBlock(c.base, c.length, parentLength, options);
    // Two /32s stand for a /31 only if the /31 itself is clear; otherwise the source
    // breaks the contract and must be refused like any other block in blocked space.
    const pair = options.split31 && c.length === 31 && !touchesRanges(options.blocked, c.base, c.base + 1);
    if (single === null && !pair) {
      throw new TagwallError('COLLAPSE_INPUT', `source block ${formatCidr(c)} touches blocked space`);
    }
    return {
      base: c.base,
      length: c.length,
      parentLength,
      covered,
      left: null,
      right: null,
      maxRules: pair ? 2 : 1,
      single,
      singleExcess: single === null ? Infinity : blockSize(single.length) - covered,
    };
  }
  const first = source[from]!.base;
  const last = cidrEnd(source[to - 1]!);
  const length = Math.clz32((first ^ last) >>> 0);
  const size = blockSize(length);
  const base = first - (first % size);
  const middle = base + size / 2;
  let lo = from + 1;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (source[mid]!.base >= middle) hi = mid;
    else lo = mid + 1;
  }
  const left = buildTrie(source, from, lo, length, options);
  const right = buildTrie(source, lo, to, length, options);
  const covered = left.covered + right.covered;
  const single = lowestAllowedBlock(base, length, parentLength, options);
  return {
    base,
    length,
    parentLength,
    covered,
    left,
    right,
    maxRules: left.maxRules + right.maxRules,
    single,
    singleExcess: single === null ? Infinity : blockSize(single.length) - covered,
  };
}

/** Fewest rules that can cover the node at all, whatever the excess. */
function minimumRulesOf(node: TrieNode): number {
  if (node.single !== null) return 1;
  if (node.left === null || node.right === null) return 2; // a split /31 with no block above it
  return minimumRulesOf(node.left) + minimumRulesOf(node.right);
}

function solve(node: TrieNode, budget: number): void {
  const size = Math.min(budget, node.maxRules);
  const f = new Float64Array(size + 1).fill(Infinity);
  const choiceLeft = new Int32Array(size + 1);
  const choiceRight = new Int32Array(size + 1);
  for (let k = 1; k <= size; k++) {
    f[k] = node.singleExcess;
    choiceLeft[k] = SINGLE;
  }
  if (node.left === null || node.right === null) {
    if (size >= 2) {
      f[2] = 0; // a split /31 as its two addresses
      choiceLeft[2] = PAIR;
    }
  } else {
    solve(node.left, budget);
    solve(node.right, budget);
    const fl = node.left.f!;
    const fr = node.right.f!;
    for (let a = 1; a < fl.length; a++) {
      const la = fl[a]!;
      if (la === Infinity) continue;
      for (let b = 1; b < fr.length && a + b <= size; b++) {
        const v = la + fr[b]!;
        if (v < f[a + b]!) {
          f[a + b] = v;
          choiceLeft[a + b] = a;
          choiceRight[a + b] = b;
        }
      }
    }
  }
  // "At most k": a larger budget never does worse, and on a tie the fewer rules win.
  for (let k = 2; k <= size; k++) {
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
  } else if (choice === PAIR) {
    out.push({ base: node.base, length: 32 }, { base: node.base + 1, length: 32 });
  } else {
    emit(node.left!, choice, out);
    emit(node.right!, node.choiceRight![budget]!, out);
  }
}

/** Checks the input contract: sorted, disjoint, canonical blocks. */
function checkSource(source: readonly Cidr[]): void {
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c.base % blockSize(c.length) !== 0) throw new TagwallError('COLLAPSE_INPUT', 'source block has host bits set');
    if (i > 0 && cidrEnd(source[i - 1]!) >= c.base) throw new TagwallError('COLLAPSE_INPUT', 'source blocks must be sorted and disjoint');
  }
}

/** The smallest budget for which any cover exists. */
export function minimumRules(source: readonly Cidr[], options: Omit<CollapseOptions, 'maxRules'>): number {
  if (source.length === 0) return 0;
  checkSource(source);
  return minimumRulesOf(buildTrie(source, 0, source.length, -1, { ...options, maxRules: 1 }));
}

/**
 * Collapses merged, sorted, disjoint source blocks (for instance from `mergeCidrs`) to the
 * optimal cover within `maxRules`. Throws COLLAPSE_INFEASIBLE, naming the smallest budget that
 * works, when no cover fits without touching blocked space.
 */
export function collapse(source: readonly Cidr[], options: CollapseOptions): CollapseResult {
  if (!Number.isInteger(options.maxRules) || options.maxRules < 0) {
    throw new TagwallError('COLLAPSE_INPUT', `the rule budget must be a whole number, not ${options.maxRules}`);
  }
  if (source.length === 0) return { rules: [], sourceAddresses: 0, allowedAddresses: 0, excessAddresses: 0 };
  checkSource(source);
  const root = buildTrie(source, 0, source.length, -1, options);
  const needed = minimumRulesOf(root);
  if (needed > options.maxRules) {
    throw new TagwallError(
      'COLLAPSE_INFEASIBLE',
      `no cover fits in ${options.maxRules} rule${options.maxRules === 1 ? '' : 's'} without touching forbidden or excluded space; the smallest budget that works is ${needed}`,
    );
  }
  solve(root, options.maxRules);
  const f = root.f!;
  const best = f[Math.min(options.maxRules, f.length - 1)]!;
  const rules: Cidr[] = [];
  emit(root, options.maxRules, rules);
  let allowed = 0;
  for (const r of rules) allowed += blockSize(r.length);
  if (allowed - root.covered !== best) {
    throw new TagwallError('COLLAPSE_INTERNAL', `collapse self-check failed: ${allowed - root.covered} != ${best}`);
  }
  return { rules, sourceAddresses: root.covered, allowedAddresses: allowed, excessAddresses: best };
}
