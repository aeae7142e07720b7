import { describe, expect, it } from 'vitest';
import type { TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';
import type { TargetReport } from '../../src/core/report.js';

/**
 * ARM throttles per subscription: a 429 storm in one subscription must hold up that
 * subscription's vaults only. The emulator answers every request into subscription A with 429
 * (Retry-After 2 s) for 5 s; vaults in B and C must be done before A's can even start.
 */

let emu: TestEmulator;
let runs: TargetRuns;
useTargetRuns((e, r) => {
  emu = e;
  runs = r;
});

describe('a 429 storm in one subscription', () => {
  it('leaves the other subscriptions on time, and A catches up once the storm ends', async () => {
    const fleet = await emu.emulator.control.seedFleet({ subscriptions: 3, vaults: 24, tag: { name: 'tagwall', values: ['devops'] }, rules: 3 });
    const [subA] = fleet.subscriptions as [string, string, string];
    const config = runs.config([], { profiles: { devops: { select: ['AzureDevOps'] } }, discover: { tag: 'tagwall', lagMinutes: 0 }, concurrency: 6, concurrencyPerSubscription: 2 });
    const done = new Map<string, number>();
    const start = Date.now();
    await emu.emulator.control.stormSubscription({ subscriptionId: subA, retryAfterSeconds: 2, durationMs: 5_000 });
    // Retries enough to outlast the storm (the SDK waits the Retry-After between them).
    const report = await runs.sync(config, {}, { onTargetDone: (r: TargetReport) => done.set(r.vault, Date.now() - start), armRetry: { maxRetries: 6, retryDelayInMs: 10, maxRetryDelayInMs: 40 } });
    const inA = (id: string) => id.split('/')[2]!.toLowerCase() === subA.toLowerCase();
    const others = report.vaults.filter((v) => !inA(v.vault));
    const a = report.vaults.filter((v) => inA(v.vault));
    expect(others).toHaveLength(16);
    expect(a).toHaveLength(8);
    expect(report.vaults.every((v) => v.outcome === 'applied')).toBe(true);
    // B and C finish while A is still under its storm; A's vaults only after it has passed.
    const othersDone = Math.max(...others.map((v) => done.get(v.vault)!));
    const aFirst = Math.min(...a.map((v) => done.get(v.vault)!));
    // The margin is for a loaded 2-core machine; unpaced and unscheduled, B and C wait for A's storm too.
    expect(othersDone).toBeLessThan(4_500);
    expect(aFirst).toBeGreaterThanOrEqual(4_900);
    const stats = await emu.emulator.control.stats();
    expect(stats.byStatus['429'] ?? 0).toBeGreaterThan(0);
  });
});
