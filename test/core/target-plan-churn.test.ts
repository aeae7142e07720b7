import { describe, expect, it } from 'vitest';
import { collapseAllowlist, prepareAllowlist, relevantKept, type Allowlist } from '../../src/core/allowlist.js';
import type { Cidr } from '../../src/core/ipv4.js';
import { planTarget, type AppliedRecord, type TargetSettings } from '../../src/core/target-plan.js';
import { tinyDocument } from './documents.js';

// Least churn, round by round: the test keeps its own record of what tagwall added.

const base: TargetSettings = { maxRules: 3, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: 'bare', special: [] };
const guards = { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 16_777_216, maxWidenedPrefix: 0, warnWidenedPrefix: 0 };
const posture = { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' };

/** The allowlists of one week's file, built as the reconciler builds them. */
function week(prefixes: string[]): (budget: number, kept: readonly Cidr[]) => Allowlist {
  const prepared = prepareAllowlist(tinyDocument([{ name: 'Test', prefixes }]), { select: ['Test'] });
  return (budget, kept) => collapseAllowlist(prepared, { maxRules: budget, kept: relevantKept(prepared, kept) });
}

function record(owned: string[], observed: string[]): AppliedRecord {
  return { ownedRules: owned, observedRules: observed, posture, changeNumber: 1, sourceAddresses: 0, appliedAt: '2025-10-06T00:00:00Z' };
}

function round(desired: (budget: number, kept: readonly Cidr[]) => Allowlist, ipRules: string[], rec: AppliedRecord | undefined, settings: TargetSettings = base) {
  return planTarget({ firewall: { ipRules, virtualNetworkRuleCount: 0, posture }, record: rec, settings, guards, force: false, desiredFor: desired });
}

// Week 1: .0, .2, .4, .6, .7 in three rules: .0, .2 and .4/30 (one excess address) is the only best.
const WEEK1 = ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.6/31'];
// Week 2: .7 leaves. Sharing a /30 on either side now admits two excess addresses.
const WEEK2 = ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.6/32'];

describe('least churn, week over week', () => {
  it('keeps last week’s rules when they are still a cover of least excess; today’s tie-break swaps all three', () => {
    const first = round(week(WEEK1), [], undefined);
    expect(first.add).toEqual(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
    const rules = ['20.0.0.0', '20.0.0.2', '20.0.0.4/30'];
    const rec = record([...first.add], [...first.add]);

    const least = round(week(WEEK2), rules, rec);
    expect(least.add).toEqual([]);
    expect(least.remove).toEqual([]);
    expect(least.changes).toBe(false);
    expect(least.desired!.stats.excessAddresses).toBe(2);

    const tieBreak = round(week(WEEK2), rules, rec, { ...base, churn: 'tie-break' });
    expect(tieBreak.add).toEqual(['20.0.0.0/30', '20.0.0.4/32', '20.0.0.6/32']);
    expect([...tieBreak.remove].sort()).toEqual(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
    expect(tieBreak.desired!.stats.excessAddresses).toBe(2);
  });

  it('in merge mode a person’s rules are not tagwall’s to keep or drop: only its own count as churn', () => {
    // The same firewall, but nothing is tagwall's: the hand-made rules are kept (and used for free).
    const least = round(week(WEEK2), ['20.0.0.0', '20.0.0.2', '20.0.0.4/30'], record([], []));
    expect(least.add).toEqual([]);
    expect(least.remove).toEqual([]);
    expect(least.unmanaged).toEqual([]);
  });

  it('in authoritative mode every rule the cover would replace is churn, owned or not', () => {
    const rules = ['20.0.0.0', '20.0.0.2', '20.0.0.4/30'];
    const least = round(week(WEEK2), rules, record([], rules), { ...base, mode: 'authoritative' });
    expect(least.add).toEqual([]);
    expect(least.remove).toEqual([]);
    const tieBreak = round(week(WEEK2), rules, record([], rules), { ...base, mode: 'authoritative', churn: 'tie-break' });
    expect(tieBreak.remove.length).toBe(3);
  });

  it('a source block that grew keeps its old half and adds the new one, when the limit has room', () => {
    const rules = ['20.0.0.0/25'];
    const rec = record(['20.0.0.0/25'], rules);
    const least = round(week(['20.0.0.0/24']), rules, rec);
    expect(least.add).toEqual(['20.0.0.128/25']);
    expect(least.remove).toEqual([]);
    const tieBreak = round(week(['20.0.0.0/24']), rules, rec, { ...base, churn: 'tie-break' });
    expect(tieBreak.add).toEqual(['20.0.0.0/24']);
    expect(tieBreak.remove).toEqual(['20.0.0.0/25']);
  });
});

describe('least churn within churnTolerance', () => {
  // Last week tagwall wrote 20.0.0.0/23; this week's source is its low /24 only.
  const rules = ['20.0.0.0/23'];
  const rec = record(['20.0.0.0/23'], rules);
  const shrunk = () => week(['20.0.0.0/24']);

  it('keeps last week’s wider rule while its excess is within the tolerance, and swaps it otherwise', () => {
    const strict = round(shrunk(), rules, rec);
    expect(strict.add).toEqual(['20.0.0.0/24']);
    expect(strict.remove).toEqual(['20.0.0.0/23']);
    const tolerant = round(shrunk(), rules, rec, { ...base, churnTolerance: 256 });
    expect([tolerant.add, tolerant.remove, tolerant.changes]).toEqual([[], [], false]);
    expect(tolerant.desired!.stats.excessAddresses).toBe(256);
    expect(round(shrunk(), rules, rec, { ...base, churnTolerance: 255 }).remove).toEqual(['20.0.0.0/23']);
    // tie-break ignores the tolerance.
    expect(round(shrunk(), rules, rec, { ...base, churn: 'tie-break', churnTolerance: 256 }).remove).toEqual(['20.0.0.0/23']);
  });

  it('never takes the cover past guards.maxExcessAddresses: the tolerance is capped to what the guard leaves', () => {
    const plan = planTarget({ firewall: { ipRules: rules, virtualNetworkRuleCount: 0, posture }, record: rec, settings: { ...base, churnTolerance: 65_536 }, guards: { ...guards, maxExcessAddresses: 255 }, force: false, desiredFor: shrunk() });
    expect(plan.add).toEqual(['20.0.0.0/24']);
    expect(plan.remove).toEqual(['20.0.0.0/23']);
    expect(plan.refusals).toEqual([]);
  });
});

describe('CHURN_TOLERANCE_USED: the plan says when the tolerance changed its choice', () => {
  // The same week as above: last week's /23 (tagwall's), this week's source its low /24 only.
  const rules = ['20.0.0.0/23'];
  const rec = record(['20.0.0.0/23'], rules);
  const shrunk = () => week(['20.0.0.0/24']);
  const churnFindings = (p: ReturnType<typeof round>) => p.findings.filter((f) => f.code === 'CHURN_TOLERANCE_USED');

  it('an info finding with the rules kept, the changes saved, the extra excess and the tolerance', () => {
    const tolerant = round(shrunk(), rules, rec, { ...base, churnTolerance: 300 });
    expect(tolerant.changes).toBe(false);
    // Without the tolerance the plan adds the /24 and removes the /23: two changes, none now.
    // The /23 admits 512 - 256 = 256 addresses beyond the source, the /24 none.
    expect(churnFindings(tolerant)).toEqual([
      expect.objectContaining({ severity: 'info', code: 'CHURN_TOLERANCE_USED', rules: ['20.0.0.0/23'], count: 1, changesAvoided: 2, excessAddresses: 256, leastExcessAddresses: 0, churnTolerance: 300 }),
    ]);
    expect(churnFindings(tolerant)[0]!.message).toMatch(/kept 1 rule .*by admitting 256 addresses more than the least .*churnTolerance 300/);
  });

  it('no finding when the tolerance changed nothing: too small, absent, tie-break, nothing to keep, or capped by the excess guard', () => {
    expect(churnFindings(round(shrunk(), rules, rec, { ...base, churnTolerance: 255 }))).toEqual([]);
    expect(churnFindings(round(shrunk(), rules, rec))).toEqual([]);
    expect(churnFindings(round(shrunk(), rules, rec, { ...base, churn: 'tie-break', churnTolerance: 300 }))).toEqual([]);
    // Already the least excess: the tolerance has nothing to trade.
    expect(churnFindings(round(shrunk(), ['20.0.0.0/24'], record(['20.0.0.0/24'], ['20.0.0.0/24']), { ...base, churnTolerance: 300 }))).toEqual([]);
    const capped = planTarget({ firewall: { ipRules: rules, virtualNetworkRuleCount: 0, posture }, record: rec, settings: { ...base, churnTolerance: 65_536 }, guards: { ...guards, maxExcessAddresses: 255 }, force: false, desiredFor: shrunk() });
    expect(capped.remove).toEqual(['20.0.0.0/23']);
    expect(churnFindings(capped)).toEqual([]);
  });

  it('week over week with three rules: the rules kept and the changes saved against the least-churn plan without tolerance', () => {
    // .6 moves to .10. In 3 rules the least excess is 2, only {.0/30, .4, .10}: three adds, three
    // removes. Keeping .4/30 costs 3 more ({.0/30, .4/30, .10}: excess 5) and saves two changes;
    // keeping .0 and .2 is impossible (.4 and .10 share no block that misses them).
    const moved = ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/32', '20.0.0.10/32'];
    const old = ['20.0.0.0', '20.0.0.2', '20.0.0.4/30'];
    const r = record(['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30'], ['20.0.0.0/32', '20.0.0.2/32', '20.0.0.4/30']);
    const strict = round(week(moved), old, r);
    expect([strict.add.length, strict.remove.length, strict.desired!.stats.excessAddresses]).toEqual([3, 3, 2]);
    expect(churnFindings(strict)).toEqual([]);
    const tolerant = round(week(moved), old, r, { ...base, churnTolerance: 1_000 });
    expect(tolerant.add).toEqual(['20.0.0.0/30', '20.0.0.10/32']);
    expect(churnFindings(tolerant)).toEqual([expect.objectContaining({ rules: ['20.0.0.4/30'], count: 1, changesAvoided: 2, excessAddresses: 3, leastExcessAddresses: 2, churnTolerance: 1_000 })]);
  });
});
