import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processPacer } from '../../src/arm/pacing.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { targetRuns } from '../helpers/run-target.js';

/**
 * ARM counts a principal's writes per subscription, whichever run of the process makes them.
 * Two runs at once in one process (the queue worker's concurrent shards, or the timer beside an
 * HTTP run) must share the pacer's buckets: with a bucket each, together they send twice the
 * burst ARM allows and meet 429s. The emulator throttles writes at 4 burst, 1 a second, and
 * tagwall is configured to the same figures.
 */

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const WRITES = { burst: 4, perSecond: 1 };

describe('one ARM pacer per process', () => {
  it('two concurrent runs into one subscription stay within its write bucket together: no 429', async () => {
    const fleet = await emu.emulator.control.seedFleet({ subscriptions: 1, vaults: 8, tag: { name: 'tagwall', values: ['devops'] }, rules: 2 });
    await emu.emulator.control.updateSettings({ throttle: { reads: { burst: 1000, perSecond: 1000 }, writes: WRITES } });
    await emu.emulator.control.resetStats();
    const runs = await targetRuns(emu);
    const configFor = (ids: readonly string[]) =>
      runs.config(
        ids.map((id) => ({ resource: id, select: ['AzureDevOps'] })),
        { arm: { endpoint: emu.emulator.url, pacing: { writes: WRITES, margin: 1 } } },
      );
    const started = Date.now();
    const [a, b] = await Promise.all([runs.sync(configFor(fleet.ids.slice(0, 4))), runs.sync(configFor(fleet.ids.slice(4, 8)))]);
    const elapsed = Date.now() - started;

    expect([...a.vaults, ...b.vaults].map((v) => v.outcome)).toEqual(Array(8).fill('applied'));
    const stats = await emu.emulator.control.stats();
    expect(stats.byStatus['429'] ?? 0).toBe(0);
    // 8 writes from a bucket of 4 refilled at 1 a second take at least (8 - 4) / 1 s, less the clock's grain.
    expect(elapsed).toBeGreaterThanOrEqual(3_500);
    // Each run's report counts its own calls only: a GET, the PATCH and the GET that verifies per
    // vault, and the subscription's perimeter listing; together, what reached the subscription.
    expect(a.arm?.requests).toBe(4 * 3 + 1);
    expect(b.arm?.requests).toBe(4 * 3 + 1);
    expect(a.arm!.requests + b.arm!.requests).toBe(stats.bySubscription[fleet.subscriptions[0]!.toLowerCase()] ?? stats.bySubscription[fleet.subscriptions[0]!]);
    expect((a.arm?.throttled ?? 0) + (b.arm?.throttled ?? 0)).toBe(0);
  }, 30_000);

  it('is one per endpoint, identity and rates; each run\'s view shares its buckets and counts its own calls', async () => {
    const rates = { writes: { burst: 2, perSecond: 4 }, margin: 1 };
    const pacer = processPacer('https://arm.example/', 'default:', rates);
    expect(processPacer('https://ARM.example', 'default:', { ...rates })).toBe(pacer);
    expect(processPacer('https://arm.example', 'default:client', rates)).not.toBe(pacer);
    expect(processPacer('https://other.example', 'default:', rates)).not.toBe(pacer);
    const [one, two] = [pacer.forRun(), pacer.forRun()];
    await one.acquire('sub-x', 'write');
    await one.acquire('sub-x', 'write');
    // The bucket the first run emptied is the second's too: its write must wait.
    const granted = two.acquire('sub-x', 'write');
    const waited = await Promise.race([granted.then(() => 'granted'), new Promise((r) => setTimeout(() => r('waiting'), 60))]);
    expect(waited).toBe('waiting');
    await granted;
    expect(one.stats()).toMatchObject([{ subscriptionId: 'sub-x', requests: 2, waits: 0 }]);
    expect(two.stats()).toMatchObject([{ subscriptionId: 'sub-x', requests: 1, waits: 1 }]);
  });
});
