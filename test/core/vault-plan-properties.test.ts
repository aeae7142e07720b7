import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Allowlist } from '../../src/core/allowlist.js';
import { collapse } from '../../src/core/collapse.js';
import { TagwallError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { blockSize, compareCidr, formatCidr, mergeCidrs, type Cidr } from '../../src/core/ipv4.js';
import { normaliseRule } from '../../src/core/rules.js';
import { planVault, type AppliedRecord, type TargetSettings, type VaultPlan, type VaultPlanInput } from '../../src/core/vault-plan.js';

// Properties of the pure vault plan over random vaults, records, settings and allowlists.

/** Rule keys in a small corner of the address space, so that random sets overlap often. */
const KEYS = [
  ...Array.from({ length: 12 }, (_, i) => `20.0.0.${i}/32`),
  '20.0.0.4/31',
  '20.0.0.8/31',
  '20.0.0.12/30',
  ...Array.from({ length: 6 }, (_, i) => `20.0.${i + 1}.0/24`),
  '20.0.8.0/21',
];

/** How a vault may spell each key: bare, with /32, with host bits set; plus a rule that is not IPv4. */
const SPELLINGS = [
  ...KEYS,
  ...KEYS.filter((k) => k.endsWith('/32')).map((k) => k.slice(0, -3)),
  '20.0.1.9/24',
  '20.0.3.77/24',
  '20.0.0.5/31',
  ' 20.0.0.2 ',
  '2001:db8::/32',
];

const keyOf = (rule: string) => normaliseRule(rule).key;
const keysOf = (rules: readonly string[]) => rules.map(keyOf);

function allowlistOf(rules: readonly Cidr[], sourceAddresses: number): Allowlist {
  const allowed = rules.reduce((n, c) => n + blockSize(c.length), 0);
  return {
    selected: ['Test'],
    rules: [...rules].sort(compareCidr),
    source: [],
    warnings: [],
    stats: {
      selectedPrefixes: rules.length,
      ipv6Dropped: 0,
      forbiddenAddressesRemoved: 0,
      excludedAddressesRemoved: 0,
      mergedPrefixes: rules.length,
      rules: rules.length,
      sourceAddresses,
      allowedAddresses: allowed,
      excessAddresses: Math.max(0, allowed - sourceAddresses),
    },
  };
}

const settingsArb: fc.Arbitrary<TargetSettings> = fc
  .record({
    maxRules: fc.integer({ min: 1, max: 14 }),
    reserve: fc.integer({ min: 0, max: 3 }),
    mode: fc.constantFrom('merge' as const, 'authoritative' as const),
    policy: fc.constantFrom('sync' as const, 'add-only' as const),
    split31: fc.boolean(),
    enforceDeny: fc.boolean(),
  })
  .map(({ reserve, ...s }) => ({ ...s, reserveRules: Math.min(reserve, s.maxRules - 1) }));

/**
 * Any allowlist that honours the budget: for each budget an arbitrary set of at most that many
 * keys (so bigger budgets need not give supersets), infeasible below a random minimum.
 */
const anyDesiredArb = fc
  .record({ pick: fc.func(fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 10 })), minimum: fc.integer({ min: 0, max: 3 }) })
  .map(({ pick, minimum }) => (budget: number): Allowlist => {
    if (budget < minimum) throw new TagwallError('COLLAPSE_INFEASIBLE', `no cover fits in ${budget} rules; the smallest budget that works is ${minimum}`);
    const rules = pick(budget).slice(0, budget).map((k) => parseCidr(k));
    return allowlistOf(rules, rules.reduce((n, c) => n + blockSize(c.length), 0));
  });

/** The real collapse of a random source, so budgets behave as they do in a run. */
const collapsedDesiredArb = fc.record({ source: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 10 }), split31: fc.boolean() }).map(({ source, split31 }) => {
  const merged = mergeCidrs(source.map((k) => parseCidr(k)));
  const desiredFor = (budget: number): Allowlist => {
    const r = collapse(merged, { maxRules: budget, split31, blocked: [] });
    return allowlistOf(r.rules, r.sourceAddresses);
  };
  // Counterexamples name the source rather than print the closure.
  return Object.assign(desiredFor, { toString: () => `collapse of ${JSON.stringify(source)}${split31 ? ' under split31' : ''}` });
});

const worldArb = (desiredArb: fc.Arbitrary<(budget: number) => Allowlist>): fc.Arbitrary<World> =>
  fc.record({
    current: fc.array(fc.constantFrom(...SPELLINGS), { maxLength: 16 }),
    owned: fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 12 }),
    observed: fc.array(fc.constantFrom(...SPELLINGS), { maxLength: 12 }),
    state: fc.constantFrom('first-run' as const, 'record' as const, 'unreadable' as const),
    settings: settingsArb,
    force: fc.boolean(),
    tightGuards: fc.boolean(),
    desiredFor: desiredArb,
  });

interface World {
  readonly current: string[];
  readonly owned: string[];
  readonly observed: string[];
  readonly state: 'first-run' | 'record' | 'unreadable';
  readonly settings: TargetSettings;
  readonly force: boolean;
  readonly tightGuards: boolean;
  readonly desiredFor: (budget: number) => Allowlist;
}

function inputOf(w: World): VaultPlanInput {
  const record: AppliedRecord | undefined =
    w.state === 'record'
      ? { ownedRules: w.owned, observedRules: w.observed, posture: { defaultAction: 'Deny' }, changeNumber: 1, sourceAddresses: 1, appliedAt: '2025-10-13T00:00:00Z' }
      : undefined;
  return {
    firewall: { ipRules: w.current, virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny', publicNetworkAccess: 'Enabled' } },
    record,
    ...(w.state === 'unreadable' ? { recordProblem: 'state for kv is corrupt' } : {}),
    settings: w.settings,
    guards: w.tightGuards ? { maxRemovedFraction: 0.5, maxSourceShrinkFraction: 0.2, maxExcessAddresses: 4 } : { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32 },
    force: w.force,
    desiredFor: w.desiredFor,
  };
}

function check(w: World, plan: VaultPlan): void {
  const s = w.settings;
  const currentKeys = new Set(keysOf(w.current));
  // Owned as far as the record knows: listed as owned, seen in the vault when it was written, and
  // not in the vault twice (tagwall writes each rule once, so a second entry is someone else's).
  const observed = new Set(keysOf(w.observed));
  const repeated = new Set(keysOf(w.current).filter((k, i, all) => all.indexOf(k) !== i));
  const owned = new Set(w.state === 'record' ? w.owned.filter((k) => observed.has(k) && !repeated.has(k)) : []);
  const next = keysOf(plan.nextRules);
  const nextSet = new Set(next);
  const desired = (plan.desired?.rules ?? []).map(formatCidr);

  expect(next.length, 'one rule per key').toBe(nextSet.size);
  if (s.mode === 'merge') for (const r of plan.remove) expect(owned.has(r), `removes ${r}, which tagwall does not own`).toBe(true);
  if (s.policy === 'add-only') expect(plan.remove).toEqual([]);
  if (w.state === 'unreadable') expect(plan.remove, 'an unreadable record removes nothing').toEqual([]);
  for (const r of plan.remove) expect(currentKeys.has(r)).toBe(true);
  for (const r of plan.unmanaged) expect(nextSet.has(r), `unmanaged ${r} kept`).toBe(true);
  // The written list is exactly the vault's rules, minus what is removed, plus what is added.
  const removed = new Set(plan.remove);
  expect([...nextSet].sort()).toEqual([...new Set([...[...currentKeys].filter((k) => !removed.has(k)), ...plan.add])].sort());
  // No PATCH when nothing changes; a PATCH whenever something does.
  const same = nextSet.size === currentKeys.size && [...currentKeys].every((k) => nextSet.has(k));
  expect(plan.changes).toBe(!same || plan.setDefaultActionDeny);

  // --force turns guard refusals into notes; only an impossible budget still refuses.
  if (w.force) for (const r of plan.refusals) expect(r).toMatch(/no room for managed rules|no cover fits/);
  else expect(plan.forced).toEqual([]);

  // Drift: owned rules gone, rules the record did not see, and nothing without a record.
  if (w.state === 'record') {
    const missing = plan.drift.filter((d) => d.kind === 'missing').map((d) => d.rule);
    const added = plan.drift.filter((d) => d.kind === 'added').map((d) => d.rule);
    expect(missing.sort()).toEqual(w.owned.filter((k) => !currentKeys.has(k)).sort());
    expect(added.sort()).toEqual([...currentKeys].filter((k) => !observed.has(k)).sort());
  } else {
    expect(plan.drift).toEqual([]);
  }

  if (plan.refusals.length > 0) return;
  expect(plan.desired).toBeDefined();
  expect(plan.nextRules.length, `${plan.nextRules.length} rules in a vault that takes ${s.maxRules - s.reserveRules}`).toBeLessThanOrEqual(s.maxRules - s.reserveRules);
  for (const r of desired) expect(nextSet.has(r), `desired ${r} written`).toBe(true);
  if (s.policy === 'add-only') for (const k of currentKeys) expect(nextSet.has(k), `add-only keeps ${k}`).toBe(true);
  const nextOwned = new Set(plan.nextOwned);
  for (const r of plan.nextOwned) expect(nextSet.has(r), `owns ${r}, which is not in the vault`).toBe(true);
  for (const r of desired) expect(nextOwned.has(r)).toBe(true);
  for (const r of plan.unmanaged) expect(nextOwned.has(r), `owns unmanaged ${r}`).toBe(false);
  // Ownership only grows by what tagwall writes or adopts.
  for (const r of plan.nextOwned) expect(owned.has(r) || desired.includes(r), `owns ${r} from nowhere`).toBe(true);
}

describe('planVault properties', () => {
  it('holds for any allowlist that honours the budget', () => {
    fc.assert(
      fc.property(worldArb(anyDesiredArb), (w) => check(w, planVault(inputOf(w)))),
      { numRuns: 3000 },
    );
  });

  it('holds with the real collapse', () => {
    fc.assert(
      fc.property(worldArb(collapsedDesiredArb), (w) => check(w, planVault(inputOf(w)))),
      { numRuns: 3000 },
    );
  });
});
