import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SubscriptionSchedule, takeOrder, type ScheduleEntry } from '../../src/fleet/schedule.js';
import { parseConfig } from '../../src/config/config.js';
import type { AppliedRecord } from '../../src/core/target-plan.js';
import { reconcile, scheduledOrder } from '../../src/run/reconcile.js';
import type { FirewallState, FirewallTarget } from '../../src/targets/firewall.js';
import { tinyDocument } from '../core/documents.js';
import type { TargetStateAccess } from '../../src/run/context.js';

// Which target starts next: subscriptions in turn, a cap per subscription, throttled ones last.

const A = 'aaaaaaaa-0000-0000-0000-000000000000';
const B = 'bbbbbbbb-0000-0000-0000-000000000000';
const C = 'cccccccc-0000-0000-0000-000000000000';

interface Simulated {
  readonly started: { position: number; at: number }[];
  readonly finished: { position: number; at: number }[];
}

/**
 * A run in fake time: `workers` slots; a target takes 1 s, or, when its subscription is
 * blocked as it starts, until the block ends and 1 s more (it waits in the pacer).
 */
function simulate(entries: readonly ScheduleEntry[], workers: number, perSubscription: number, blockedTill: Record<string, number>): Simulated {
  let now = 0;
  const blocked = (s: string) => (blockedTill[s] ?? 0) > now;
  const schedule = new SubscriptionSchedule(entries, { perSubscription, blocked });
  const running: { position: number; ends: number }[] = [];
  const started: Simulated['started'] = [];
  const finished: Simulated['finished'] = [];
  while (schedule.pending > 0 || running.length > 0) {
    while (running.length < workers) {
      const position = schedule.take();
      if (position === undefined) break;
      const sub = entries[position]!.subscription;
      started.push({ position, at: now });
      running.push({ position, ends: Math.max(now, blockedTill[sub] ?? 0) + 1_000 });
    }
    running.sort((x, y) => x.ends - y.ends);
    const next = running.shift()!;
    now = next.ends;
    schedule.release(next.position);
    finished.push({ position: next.position, at: now });
  }
  return { started, finished };
}

describe('SubscriptionSchedule', () => {
  it('with subscription A blocked, every vault of B and C is done before any of A\'s', () => {
    // Config order puts A first, as a strict queue would take it.
    const entries: ScheduleEntry[] = [...Array(4).fill({ subscription: A }), ...Array(3).fill({ subscription: B }), ...Array(3).fill({ subscription: C })];
    const run = simulate(entries, 4, 2, { [A]: 10_000 });
    const doneAt = (sub: string) => run.finished.filter((f) => entries[f.position]!.subscription === sub).map((f) => f.at);
    expect(Math.max(...doneAt(B), ...doneAt(C))).toBeLessThan(Math.min(...doneAt(A)));
    // B and C (6 vaults, 2 each in flight) take 2 s of fake time, not A's 10 s block.
    expect(Math.max(...doneAt(B), ...doneAt(C))).toBe(2_000);
    expect(run.started.slice(0, 6).every((s) => entries[s.position]!.subscription !== A)).toBe(true);
  });

  it('a strict queue would have stalled: without the block, A starts first', () => {
    const entries: ScheduleEntry[] = [{ subscription: A }, { subscription: A }, { subscription: B }];
    const s = new SubscriptionSchedule(entries, { perSubscription: 4 });
    expect(s.take()).toBe(0);
    expect(s.take()).toBe(2);
    expect(s.take()).toBe(1);
    expect(s.take()).toBeUndefined();
  });

  it('when every subscription left is blocked, one still starts (it queues in the pacer for the block\'s end)', () => {
    const s = new SubscriptionSchedule([{ subscription: A }, { subscription: B }], { perSubscription: 1, blocked: () => true });
    expect(s.take()).toBe(0);
    expect(s.take()).toBe(1);
  });

  it('takes the `first` targets ahead of every other, in their order, then subscriptions in turn', () => {
    const entries: ScheduleEntry[] = [{ subscription: C, first: true }, { subscription: A, first: true }, { subscription: A }, { subscription: B }, { subscription: C }];
    const s = new SubscriptionSchedule(entries, { perSubscription: 5 });
    const order = [s.take(), s.take(), s.take(), s.take(), s.take()];
    // After the two `first` ones, turns go on from the subscription after the last one taken (A): B, C, A.
    expect(order).toEqual([0, 1, 3, 4, 2]);
  });

  it('takes every target exactly once, respects the cap, passes over the blocked and the non-first only when it must', () => {
    const subs = [A, B, C, 'dddddddd-0000-0000-0000-000000000000', 'EEEEEEEE-0000-0000-0000-000000000000'];
    const entry = fc.record({ subscription: fc.constantFrom(...subs, A.toUpperCase()), first: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        fc.func(fc.boolean()),
        (entries, cap, workers, picks, isBlocked) => {
          const key = (i: number) => entries[i]!.subscription.toLowerCase();
          const blockedNow = new Set<string>();
          const s = new SubscriptionSchedule(entries, { perSubscription: cap, blocked: (sub) => blockedNow.has(sub.toLowerCase()) });
          const taken: number[] = [];
          const running: number[] = [];
          const inFlight = new Map<string, number>();
          let step = 0;
          // The model's view: targets not yet taken, in entry order.
          const pending = entries.map((_, i) => i);
          while (taken.length < entries.length) {
            blockedNow.clear();
            for (const sub of subs) if (isBlocked(sub, step)) blockedNow.add(sub.toLowerCase());
            step++;
            if (running.length < workers) {
              const p = s.take();
              const heads = new Map<string, number>();
              for (const i of pending) if (!heads.has(key(i))) heads.set(key(i), i);
              const open = [...heads.entries()].filter(([sub]) => (inFlight.get(sub) ?? 0) < cap);
              if (p === undefined) {
                if (open.length > 0) return false;
              } else {
                const sub = key(p);
                if (heads.get(sub) !== p) return false; // one subscription's targets start in their order
                if ((inFlight.get(sub) ?? 0) >= cap) return false;
                const freeOpen = open.filter(([o]) => !blockedNow.has(o));
                if (blockedNow.has(sub) && freeOpen.length > 0) return false;
                const among = freeOpen.length > 0 ? freeOpen : open;
                if (entries[p]!.first !== true && among.some(([, i]) => entries[i]!.first === true)) return false;
                taken.push(p);
                running.push(p);
                pending.splice(pending.indexOf(p), 1);
                inFlight.set(sub, (inFlight.get(sub) ?? 0) + 1);
                continue;
              }
            }
            if (running.length === 0) return false; // nothing running, yet nothing could start
            const done = running.splice(picks[step % picks.length]! % running.length, 1)[0]!;
            s.release(done);
            inFlight.set(key(done), inFlight.get(key(done))! - 1);
          }
          return s.pending === 0 && s.take() === undefined && new Set(taken).size === entries.length;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('subscriptions take turns, one target each, while all can start', () => {
    const entries: ScheduleEntry[] = [A, A, A, B, B, C].map((subscription) => ({ subscription }));
    const s = new SubscriptionSchedule(entries, { perSubscription: 10 });
    expect(Array.from({ length: 6 }, () => s.take())).toEqual([0, 3, 5, 1, 4, 2]);
  });

  it('asks whether a subscription is blocked about once a take, not of every subscription each time', () => {
    // 100 subscriptions of 20 targets: the old take asked all open subscriptions on every take (2,000 × 100).
    const subscriptions = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(8, '0')}-0000-0000-0000-000000000000`);
    const entries: ScheduleEntry[] = subscriptions.flatMap((subscription) => Array.from({ length: 20 }, () => ({ subscription })));
    let asked = 0;
    const blockedSubs = new Set([subscriptions[3]!, subscriptions[50]!]);
    const s = new SubscriptionSchedule(entries, { perSubscription: 8, blocked: (sub) => (asked++, blockedSubs.has(sub)) });
    const inFlight: number[] = [];
    for (let taken = 0; taken < entries.length; ) {
      const p = inFlight.length >= 256 ? undefined : s.take();
      if (p === undefined) {
        s.release(inFlight.shift()!);
        continue;
      }
      inFlight.push(p);
      taken++;
    }
    expect(asked).toBeLessThan(3 * entries.length);
  });

  it('without `first` targets, picks exactly what weighing every subscription picks (the model below)', () => {
    const subs = [A, B, C, 'dddddddd-0000-0000-0000-000000000000', 'EEEEEEEE-0000-0000-0000-000000000000'];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...subs, A.toUpperCase()), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        fc.func(fc.boolean()),
        (subscriptionOf, cap, workers, picks, isBlocked) => {
          const entries: ScheduleEntry[] = subscriptionOf.map((subscription) => ({ subscription }));
          const key = (i: number) => entries[i]!.subscription.toLowerCase();
          // The model: subscriptions in order of first appearance; each take weighs every open one.
          const turnOf = new Map<string, number>();
          for (const [i] of entries.entries()) if (!turnOf.has(key(i))) turnOf.set(key(i), turnOf.size);
          const pending = entries.map((_, i) => i);
          const inFlight = new Map<string, number>();
          let cursor = 0;
          const blockedNow = new Set<string>();
          const s = new SubscriptionSchedule(entries, { perSubscription: cap, blocked: (sub) => blockedNow.has(sub.toLowerCase()) });
          const running: number[] = [];
          let step = 0;
          while (pending.length > 0 || running.length > 0) {
            blockedNow.clear();
            for (const sub of subs) if (isBlocked(sub, step)) blockedNow.add(sub.toLowerCase());
            step++;
            if (running.length < workers && pending.length > 0) {
              const heads = new Map<string, number>();
              for (const i of pending) if (!heads.has(key(i))) heads.set(key(i), i);
              const open = [...heads.keys()].filter((sub) => (inFlight.get(sub) ?? 0) < cap);
              const free = open.filter((sub) => !blockedNow.has(sub));
              const among = free.length > 0 ? free : open;
              const n = turnOf.size;
              const best = among.sort((x, y) => (turnOf.get(x)! - cursor + n) % n - ((turnOf.get(y)! - cursor + n) % n))[0];
              const p = s.take();
              if (best === undefined) {
                if (p !== undefined) return false;
              } else {
                if (p === undefined || p !== heads.get(best)) return false;
                cursor = (turnOf.get(best)! + 1) % n;
                pending.splice(pending.indexOf(p), 1);
                running.push(p);
                inFlight.set(best, (inFlight.get(best) ?? 0) + 1);
                continue;
              }
            }
            if (running.length === 0) return false;
            const done = running.splice(picks[step % picks.length]! % running.length, 1)[0]!;
            s.release(done);
            inFlight.set(key(done), inFlight.get(key(done))! - 1);
          }
          return s.take() === undefined;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takeOrder: the order of takes while nothing is blocked and no cap binds', () => {
    const entries: ScheduleEntry[] = [{ subscription: A }, { subscription: A }, { subscription: B }, { subscription: C, first: true }, { subscription: B }];
    // The `first` one, then turns from the subscription after C's: A, B, then A, B.
    expect(takeOrder(entries)).toEqual([3, 0, 2, 1, 4]);
  });

  it('refuses a release of a target not in flight', () => {
    const s = new SubscriptionSchedule([{ subscription: A }], { perSubscription: 1 });
    expect(() => s.release(0)).toThrow(RangeError);
    s.release(s.take()!);
    expect(() => s.release(0)).toThrow(RangeError);
  });
});

describe('reconcile schedules by subscription', () => {
  const id = (sub: string, n: string) => `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${n}`;
  const TARGETS = [...['kv-a1', 'kv-a2', 'kv-a3'].map((n) => id(A, n)), ...['kv-b1', 'kv-b2'].map((n) => id(B, n)), ...['kv-c1', 'kv-c2'].map((n) => id(C, n))];
  const doc = tinyDocument([{ name: 'T', prefixes: ['20.0.0.0/24'] }]);

  function world(concurrency: number, perSubscription: number) {
    const reads: string[] = [];
    const inFlight = new Map<string, number>();
    let most = 0;
    const firewalls: FirewallTarget = {
      read: async (resource): Promise<FirewallState> => {
        reads.push(resource.name);
        const n = (inFlight.get(resource.subscriptionId) ?? 0) + 1;
        inFlight.set(resource.subscriptionId, n);
        most = Math.max(most, n);
        await new Promise((r) => setTimeout(r, 5));
        inFlight.set(resource.subscriptionId, inFlight.get(resource.subscriptionId)! - 1);
        return { resource, ipRules: [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny', publicNetworkAccess: 'Enabled' }, opaque: undefined };
      },
      write: async (current, change) => ({ ...current, ipRules: change.ipRules }),
    };
    const records = new Map<string, AppliedRecord>();
    const state: TargetStateAccess = { load: async (v) => (records.has(v.id) ? { record: records.get(v.id)! } : undefined), save: async (v, r) => void records.set(v.id, r) };
    const config = parseConfig(
      { serviceTags: { source: 'file', path: 'x.json' }, state: { store: 'file', path: 'x' }, concurrency, concurrencyPerSubscription: perSubscription, targets: TARGETS.map((v) => ({ vault: v, select: ['T'] })) },
      { baseDir: '/nonexistent', source: 'test' },
    );
    return { reads, firewalls, state, config, most: () => most };
  }

  it('starts a throttled subscription\'s vaults after the others\'; reports keep config order', async () => {
    const w = world(2, 2);
    const reports = await reconcile(w.config, doc, { firewalls: w.firewalls, state: w.state, throttled: (s) => s === A }, { dryRun: true, force: false });
    expect(w.reads.slice(0, 4).sort()).toEqual(['kv-b1', 'kv-b2', 'kv-c1', 'kv-c2']);
    expect(w.reads.slice(4)).toEqual(['kv-a1', 'kv-a2', 'kv-a3']);
    expect(reports.map((r) => r.vault)).toEqual(TARGETS);
  });

  it('never has more than concurrencyPerSubscription of one subscription in flight', async () => {
    const w = world(8, 1);
    await reconcile(w.config, doc, { firewalls: w.firewalls, state: w.state }, { dryRun: true, force: false });
    expect(w.reads).toHaveLength(TARGETS.length);
    expect(w.most()).toBe(1);
  });

  it('scheduledOrder is the order the passes load their records in (what the run reads ahead in)', async () => {
    for (const first of [undefined, new Set([id(C, 'kv-c2').toLowerCase(), id(A, 'kv-a3').toLowerCase()])]) {
      const w = world(1, 4);
      const loads: string[] = [];
      const state: TargetStateAccess = { load: async (v) => (loads.push(v.id), w.state.load(v)), save: w.state.save };
      await reconcile(w.config, doc, { firewalls: w.firewalls, state }, { dryRun: true, force: false, ...(first === undefined ? {} : { first }) });
      // A dry run loads each record twice (the second to see that it did not move on): the first loads give the order.
      expect(scheduledOrder(w.config.targets, first).map((t) => t.resource.id)).toEqual([...new Set(loads)]);
      expect(new Set(loads).size).toBe(TARGETS.length);
    }
  });

  it('honours `first` across subscriptions', async () => {
    const w = world(1, 4);
    await reconcile(w.config, doc, { firewalls: w.firewalls, state: w.state }, { dryRun: true, force: false, first: new Set([id(C, 'kv-c2').toLowerCase()]) });
    expect(w.reads).toEqual(['kv-c2', 'kv-a1', 'kv-b1', 'kv-c1', 'kv-a2', 'kv-b2', 'kv-a3']);
  });
});
