import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Allowlist } from '../../src/core/allowlist.js';
import { collapse } from '../../src/core/collapse.js';
import { collapseRanges } from '../../src/core/collapse-ranges.js';
import { FORBIDDEN_RANGES } from '../../src/core/forbidden.js';
import { blockSize, type AddressRange, type Cidr } from '../../src/core/ipv4.js';
import { normaliseRule } from '../../src/core/rules.js';
import { planTarget } from '../../src/core/target-plan.js';
import { FIREWALL_KINDS } from '../../src/targets/kinds.js';
import { parseConfig, type TargetConfig } from '../../src/config/config.js';
import { desiredForDocument } from '../../src/run/reconcile.js';
import { tinyDocument } from './documents.js';
import { dotted, FORBIDDEN_SPANS, intersect, ip, minus, size, span, union, wantedSpans, type Span } from './reference.js';

// The plan over random rule sets for every kind's facts: it never exceeds the limit, never writes
// a form the kind refuses, and never removes (or takes over) an entry special to the kind.

const BASE = 0x34000000; // 52.0.0.0

function rule(start: number, length: number, spelling: 'bare' | 'cidr' | 'range'): string {
  // A start/end kind holds its rules as ranges: a.b.c.d-e.f.g.h, a single address bare.
  if (spelling === 'range') return length === 32 ? dotted(start) : `${dotted(start)}-${dotted(start + blockSize(length) - 1)}`;
  return length === 32 && spelling === 'bare' ? dotted(start) : `${dotted(start)}/${length}`;
}

const blockArb = fc.tuple(fc.nat(255), fc.constantFrom(32, 32, 31, 30, 28, 24)).map(([i, length]) => {
  const size = 2 ** (32 - length);
  const start = BASE + i * 1024;
  return { start: start - (start % size), length };
});

/** The 32-bit address of a normalised `a.b.c.d/32` key. */
function addressOf(key: string): number {
  return key.split('/')[0]!.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

const forbidden = (start: number, length: number) => FORBIDDEN_RANGES.some((r) => r.start <= start + blockSize(length) - 1 && start <= r.end);

describe.each(FIREWALL_KINDS.map((k) => [k.kind, k] as const))('the plan under the facts of %s', (_name, kind) => {
  // Special entries the selection can reach: a block holding one exactly, or around it.
  const reachable = kind.special.map(addressOf).filter((a) => !forbidden(a, 32));
  const aroundSpecial =
    reachable.length === 0
      ? fc.constant([])
      : fc.array(
          fc.tuple(fc.constantFrom(...reachable), fc.constantFrom(32, 32, 32, 31, 30, 24)).map(([a, length]) => ({ start: a - (a % blockSize(length)), length })),
          { maxLength: 3 },
        );
  // A name-owned kind (a perimeter profile, a container app, an Azure SQL server) is told what is its own by the firewall.
  const nameOwned = kind.mergeOnly === true || kind.ownedByName !== undefined;
  const ranges = kind.ruleShape === 'range';
  it('stays within the limit, writes only the forms the kind takes, and never adds, removes or owns its special entries', () => {
    // Runs where the cover wanted a special entry the firewall lacked: the case this property guards.
    let wantedSpecial = 0;
    fc.assert(
      fc.property(
        fc.uniqueArray(blockArb, { minLength: 1, maxLength: 30, selector: (b) => b.start }),
        aroundSpecial,
        fc.array(fc.tuple(blockArb, fc.constantFrom('bare' as const, 'cidr' as const), fc.boolean()), { maxLength: 8 }),
        fc.subarray([...kind.special], { maxLength: Math.min(3, kind.special.length) }),
        fc.integer({ min: 1, max: Math.min(kind.maxRules, 24) }),
        kind.mergeOnly === true ? fc.constant('merge' as const) : fc.constantFrom('merge' as const, 'authoritative' as const),
        fc.boolean(),
        fc.constantFrom(0, 0, 1, 3),
        (plain, nearSpecial, vault, special, maxRules, mode, firstContact, otherEntries) => {
          const sources = [...plain, ...nearSpecial];
          const split31 = !kind.allows31;
          const merged = [...new Map(sources.map((b) => [b.start, b])).values()]
            .sort((a, b) => a.start - b.start)
            .filter((b, i, all) => i === 0 || all[i - 1]!.start + blockSize(all[i - 1]!.length) <= b.start)
            .map((b): Cidr => ({ base: b.start, length: b.length }));
          const stats = { selectedPrefixes: 0, ipv6Dropped: 0, forbiddenAddressesRemoved: 0, excludedAddressesRemoved: 0, mergedPrefixes: merged.length };
          const desiredFor = (budget: number, kept: readonly Cidr[], o?: { keptRanges?: readonly AddressRange[] }): Allowlist => {
            if (ranges) {
              // The kind's facts pick the range optimum; the plan hands it every kept rule as a range.
              const r = collapseRanges(merged.map((c) => ({ start: c.base, end: c.base + blockSize(c.length) - 1 })), { maxRules: budget, blocked: FORBIDDEN_RANGES, kept: o?.keptRanges ?? [] });
              return { shape: 'range', selected: ['T'], rules: r.rules, newRules: r.newRules, source: [], warnings: [], stats: { ...stats, rules: r.rules.length, sourceAddresses: r.sourceAddresses, allowedAddresses: r.allowedAddresses, excessAddresses: r.excessAddresses } };
            }
            const r = collapse(merged, { maxRules: budget, split31, blocked: FORBIDDEN_RANGES, kept });
            return {
              selected: ['T'],
              rules: r.rules,
              newRules: r.newRules,
              source: [],
              warnings: [],
              stats: { ...stats, rules: r.rules.length, sourceAddresses: r.sourceAddresses, allowedAddresses: r.allowedAddresses, excessAddresses: r.excessAddresses },
            };
          };
          // A firewall holds its special entries as Azure writes them (bare) or as /32.
          const held = special.map((k, i) => (i % 2 === 0 ? k.replace(/\/32$/, '') : k));
          const present = [...vault.map(([b, spelling]) => rule(b.start, b.length, ranges ? 'range' : spelling)), ...held];
          const owned = vault.filter(([, , tagwalls]) => tagwalls).map(([b]) => rule(b.start, b.length, 'cidr'));
          const plan = planTarget({
            firewall: {
              ipRules: present,
              virtualNetworkRuleCount: 0,
              posture: { defaultAction: 'Deny' },
              ...(otherEntries === 0 ? {} : { otherEntries }),
              // Entries named as tagwall's, a special one among them if the firewall holds one.
              ...(nameOwned ? { ownedByName: [...owned, ...special] } : {}),
            },
            record: firstContact ? undefined : { ownedRules: [...owned, ...special.map((s) => normaliseRule(s).key)], observedRules: present.map((r) => normaliseRule(r).key), posture: { defaultAction: 'Deny' }, changeNumber: 1, sourceAddresses: 1, appliedAt: '2025-10-13T00:00:00Z' },
            settings: { maxRules, reserveRules: 0, mode, policy: 'sync', adopt: 'first-run', split31, enforceDeny: false, skipWhenPerimeterEnforced: false, singleAddress: kind.singleAddress, special: kind.special, ...(ranges ? { ruleShape: 'range' as const } : {}) },
            guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0, warnWidenedPrefix: 0 },
            force: false,
            desiredFor,
          });
          const keys = new Set(plan.nextRules.map((r) => normaliseRule(r).key));
          for (const h of held) expect(plan.nextRules, `special ${h} kept as held`).toContain(h);
          // Every special entry of the kind, held or only reachable through the selection.
          for (const key of kind.special) {
            expect(plan.add, `special ${key} added`).not.toContain(key);
            expect(plan.remove, `special ${key} removed`).not.toContain(key);
            expect(plan.nextOwned, `special ${key} owned`).not.toContain(key);
            expect(plan.adopted, `special ${key} adopted`).not.toContain(key);
          }
          const wantedKeys = (plan.desired?.rules ?? []).map((c) => ('base' in c ? `${dotted(c.base)}/${c.length}` : c.start === c.end ? `${dotted(c.start)}/32` : ''));
          if (wantedKeys.some((k) => kind.special.includes(k) && !present.some((r) => normaliseRule(r).key === k))) wantedSpecial++;
          if (plan.refusals.length > 0) return;
          expect(keys.size + otherEntries, `${keys.size} rules and ${otherEntries} other entries under a limit of ${maxRules}`).toBeLessThanOrEqual(maxRules);
          const added = new Set(plan.add);
          for (const text of plan.nextRules) {
            const r = normaliseRule(text);
            if (!added.has(r.key)) continue;
            if (ranges) {
              // Start/end rules: a.b.c.d-e.f.g.h with the start before the end, a single address bare.
              expect(text, `${text}: a range kind writes ranges`).toMatch(/^\d+\.\d+\.\d+\.\d+(-\d+\.\d+\.\d+\.\d+)?$/);
              continue;
            }
            if (!kind.allows31) expect(r.cidr?.length, `${text}: the kind refuses /31`).not.toBe(31);
            if (r.cidr?.length === 32) expect(text.endsWith('/32'), `${text}: single addresses ${kind.singleAddress}`).toBe(kind.singleAddress === 'cidr');
          }
        },
      ),
      { numRuns: Number(process.env.KINDS_PLAN_RUNS ?? 300) },
    );
    if (reachable.length > 0) expect(wantedSpecial, 'runs whose cover wanted a special entry').toBeGreaterThan(0);
  });

  // Where the IP list is the switch (Cosmos DB, AI Search, a container app), an open firewall's
  // first rule shuts every other network out: the plan writes one only under enforceDeny.
  it.runIf(kind.ipListIsSwitch === true)('never plans a first rule on an open firewall without enforceDeny', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.uniqueArray(blockArb, { minLength: 1, maxLength: 30, selector: (b) => b.start }), fc.boolean(), fc.integer({ min: 1, max: Math.min(kind.maxRules, 24) }), (plain, enforceDeny, maxRules) => {
        const merged = [...new Map(plain.map((b) => [b.start, b])).values()]
          .sort((a, b) => a.start - b.start)
          .filter((b, i, all) => i === 0 || all[i - 1]!.start + blockSize(all[i - 1]!.length) <= b.start)
          .map((b): Cidr => ({ base: b.start, length: b.length }));
        const desiredFor = (budget: number, kept: readonly Cidr[]): Allowlist => {
          const r = collapse(merged, { maxRules: budget, split31: !kind.allows31, blocked: FORBIDDEN_RANGES, kept });
          return { selected: ['T'], rules: r.rules, newRules: r.newRules, source: [], warnings: [], stats: { selectedPrefixes: 0, ipv6Dropped: 0, forbiddenAddressesRemoved: 0, excludedAddressesRemoved: 0, mergedPrefixes: merged.length, rules: r.rules.length, sourceAddresses: r.sourceAddresses, allowedAddresses: r.allowedAddresses, excessAddresses: r.excessAddresses } };
        };
        const plan = planTarget({
          firewall: { ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Allow' }, ...(kind.mergeOnly === true || kind.ownedByName !== undefined ? { ownedByName: [] } : {}) },
          record: undefined,
          settings: { maxRules, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: !kind.allows31, enforceDeny, skipWhenPerimeterEnforced: false, singleAddress: kind.singleAddress, special: kind.special, ipListIsSwitch: true },
          guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0, warnWidenedPrefix: 0 },
          force: false,
          desiredFor,
        });
        const codes = plan.refusals.map((r) => r.code);
        if (enforceDeny) {
          expect(codes).not.toContain('TARGET_WOULD_ENABLE_FIREWALL');
          expect(plan.setDefaultActionDeny).toBe(true);
        } else if (plan.nextRules.length > 0) {
          expect(codes).toContain('TARGET_WOULD_ENABLE_FIREWALL');
          refused++;
        }
      }),
      { numRuns: Number(process.env.KINDS_PLAN_RUNS ?? 300) },
    );
    expect(refused, 'runs whose plan wanted a first rule without enforceDeny').toBeGreaterThan(0);
  });
});

// ---- The range shape (start/end kinds: Azure SQL), through the whole allowlist path.

const RANGE_KINDS = FIREWALL_KINDS.filter((k) => k.ruleShape === 'range');
const NO_GUARDS = { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0, warnWidenedPrefix: 0 };

/** A rule's addresses by string splitting (reference.ts's way): `a.b.c.d-e.f.g.h`, `a.b.c.d/n` or `a.b.c.d`. */
function textSpan(text: string): Span {
  const [from, to] = text.split('-');
  return to === undefined ? span(from!) : { start: ip(from!), end: ip(to) };
}

/** A target of the kind for the selection, parsed as a run parses it (so its facts reach the allowlist). */
function targetOf(type: string, exclude: string[]): TargetConfig {
  const id = `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/${type}/fw`;
  return parseConfig({ targets: [{ resource: id, select: ['T'], exclude }] }, { baseDir: '/', source: 'test' }).targets[0]!;
}

const rangeArb = fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 40 })).map(([i, width]) => ({ start: BASE + i * 4, end: BASE + i * 4 + width }));

describe.each(RANGE_KINDS.map((k) => [k.kind, k] as const))('the range shape under the facts of %s', (_name, kind) => {
  it('covers every source address (reference set algebra), never touches forbidden or excluded space, stays within the limit, keeps a person\'s rules, and never adds, removes or owns the special entry', () => {
    expect(kind.special.length, 'a start/end kind has its 0.0.0.0 entry').toBeGreaterThan(0);
    let covered = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.constantFrom(32, 32, 31, 30, 29, 28, 26, 24)), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 3 }),
        fc.array(fc.tuple(rangeArb, fc.boolean()), { maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 24 }),
        (blocks, excluded, held, holdsSpecial, maxRules) => {
          const prefixes = blocks.map(([i, length]) => {
            const start = BASE + i * 4;
            return `${dotted(start - (start % blockSize(length)))}/${length}`;
          });
          const exclude = excluded.map((i) => `${dotted(BASE + i * 256)}/26`);
          const doc = tinyDocument([{ name: 'T', prefixes }]);
          const target = targetOf(kind.resourceType, exclude);
          expect(target.ruleShape).toBe('range');
          const desiredFor = desiredForDocument(doc);
          const texts = held.map(([r]) => rangeText(r));
          const owned = held.filter(([, mine]) => mine).map(([r]) => rangeText(r));
          const special = holdsSpecial ? ['0.0.0.0'] : [];
          const present = [...texts, ...special];
          const plan = planTarget({
            firewall: { ipRules: present, virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' }, ownedByName: owned },
            record: undefined,
            settings: { ...target, maxRules },
            guards: NO_GUARDS,
            force: false,
            desiredFor: (budget, kept, o) => desiredFor(target, budget, kept, o?.unbounded === true, o?.keptRanges),
          });
          for (const key of kind.special) {
            expect(plan.add).not.toContain(key);
            expect(plan.remove).not.toContain(key);
            expect(plan.nextOwned).not.toContain(key);
            expect(plan.adopted).not.toContain(key);
          }
          if (holdsSpecial) expect(plan.nextRules).toContain('0.0.0.0');
          if (plan.refusals.length > 0) return;
          covered++;
          const keys = new Set(plan.nextRules.map((r) => normaliseRule(r).key));
          expect(keys.size, `${keys.size} rules under ${maxRules}`).toBeLessThanOrEqual(maxRules);
          // A person's rules stay (merge: the only mode of a name-owned kind).
          const ownedKeys = new Set(owned.map((r) => normaliseRule(r).key));
          for (const r of texts) if (!ownedKeys.has(normaliseRule(r).key)) expect(keys.has(normaliseRule(r).key), `${r} kept`).toBe(true);
          // Coverage and blocked space with the reference's own algebra, not src/core's.
          const wanted = minus(wantedSpans(prefixes), exclude.map(span));
          const allowed = union(plan.nextRules.map(textSpan));
          expect(size(minus(wanted, allowed)), 'source addresses left out').toBe(0);
          const added = union(plan.add.map(textSpan));
          expect(size(intersect(added, union([...FORBIDDEN_SPANS, ...exclude.map(span)]))), 'forbidden or excluded addresses added').toBe(0);
        },
      ),
      { numRuns: Number(process.env.KINDS_PLAN_RUNS ?? 300) },
    );
    expect(covered, 'runs that planned a write').toBeGreaterThan(50);
  });

  it('admits exactly the excess collapseRanges finds, and never more than the CIDR shape on the same source and budget', () => {
    let compared = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.constantFrom(32, 32, 31, 30, 28, 24)), { minLength: 2, maxLength: 40 }),
        fc.array(rangeArb, { maxLength: 4 }),
        fc.integer({ min: 1, max: 16 }),
        (blocks, held, maxRules) => {
          const prefixes = blocks.map(([i, length]) => {
            const start = BASE + i * 4;
            return `${dotted(start - (start % blockSize(length)))}/${length}`;
          });
          const doc = tinyDocument([{ name: 'T', prefixes }]);
          const desiredFor = desiredForDocument(doc);
          const planOf = (target: TargetConfig, present: string[]) =>
            planTarget({
              firewall: { ipRules: present, virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' }, ownedByName: [] },
              record: undefined,
              settings: { ...target, maxRules },
              guards: NO_GUARDS,
              force: false,
              desiredFor: (budget, kept, o) => desiredFor(target, budget, kept, o?.unbounded === true, o?.keptRanges),
            });
          const texts = held.map(rangeText);
          const plan = planOf(targetOf(kind.resourceType, []), texts);
          // What the plan must have asked for: every person's rule that touches the source, as a range, beside the budget left.
          const keys = new Set(texts.map((t) => normaliseRule(t).key));
          const source = wantedSpans(prefixes);
          let expected: number | 'infeasible';
          try {
            expected = collapseRanges(source, { maxRules: maxRules - keys.size, blocked: FORBIDDEN_RANGES, kept: [...keys].map((k) => textSpan(texts.find((t) => normaliseRule(t).key === k)!)) }).excessAddresses;
          } catch {
            expected = 'infeasible';
          }
          if (maxRules - keys.size < 0) expected = 'infeasible';
          expect(plan.desired === undefined ? 'infeasible' : plan.desired.stats.excessAddresses).toBe(expected);
          // The CIDR DP on the same source and budget (Key Vault's facts, no rules of its own): never less excess.
          const cidr = planOf(targetOf('Microsoft.KeyVault/vaults', []), []);
          const alone = planOf(targetOf(kind.resourceType, []), []);
          if (cidr.desired !== undefined) {
            compared++;
            expect(alone.desired, 'a range cover exists wherever a CIDR cover does').toBeDefined();
            expect(alone.desired!.stats.excessAddresses).toBeLessThanOrEqual(cidr.desired.stats.excessAddresses);
            expect(alone.desired!.shape).toBe('range');
          }
        },
      ),
      { numRuns: Number(process.env.KINDS_PLAN_RUNS ?? 300) },
    );
    expect(compared).toBeGreaterThan(50);
  });
});

function rangeText(r: { start: number; end: number }): string {
  return r.start === r.end ? dotted(r.start) : `${dotted(r.start)}-${dotted(r.end)}`;
}
