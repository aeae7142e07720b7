import { describe, expect, it } from 'vitest';
import { SilenceWatch } from '../../src/cli/progress.js';
import type { TargetReport } from '../../src/core/report.js';

// "still waiting" after a silence, on a clock the test moves.

const COSMOS = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/databaseAccounts/db1';

describe('SilenceWatch', () => {
  it('says nothing before the threshold, then names the targets done and the longest write, once per silence', () => {
    let now = 0;
    const lines: string[] = [];
    const watch = new SilenceWatch({ write: (s) => void lines.push(s), afterMs: 5_000, clock: () => now });
    watch.targetDone({ vault: '/subscriptions/s/x/kv-a' } as TargetReport, 3, 12);
    const patch = { method: 'PATCH', target: `host${COSMOS}`, path: COSMOS, startedAt: 0 };
    watch.requestStarted(patch);
    // The PATCH is answered (202); the update runs on, polled, until its target is done.
    watch.requestDone(patch);
    now = 4_999;
    expect(watch.check()).toBeUndefined();
    now = 45_000;
    expect(watch.check()).toBe(`still waiting: 3 of 12 targets done, Cosmos DB account update on ${COSMOS} running for 45 s`);
    now = 46_000;
    expect(watch.check()).toBeUndefined();
    // Something printed starts the silence again.
    now = 50_000;
    watch.spoke();
    now = 54_000;
    expect(watch.check()).toBeUndefined();
    // The write's target done: the oldest request in flight is named instead.
    watch.targetDone({ vault: COSMOS } as TargetReport, 4, 12);
    watch.requestStarted({ method: 'GET', target: 'host/subscriptions/s/x/kv-b', path: '/subscriptions/s/x/kv-b', startedAt: 52_000 });
    now = 60_000;
    expect(watch.check()).toBe('still waiting: 4 of 12 targets done, GET host/subscriptions/s/x/kv-b waiting for 8 s');
    expect(lines).toHaveLength(2);
  });
});
