import type { TargetReport } from '../core/report.js';
import type { TargetPlan } from '../core/target-plan.js';
import type { TargetConfig } from '../config/config.js';
import { AGAIN, DEFAULT_BUSY_RETRY_MS, type Attempt, type Loaded, type RunContext, type TargetPass } from './context.js';
import { ended, errorOf, queued } from './report.js';
import { announce, othersIntent } from './steps/announce.js';
import { judge } from './steps/judge.js';
import { planFor, refusal } from './steps/plan.js';
import { loadRecord, readFirewall, recheckRecord } from './steps/read.js';
import { recordAfterWrite, recordInStep } from './steps/record.js';
import { pendingDryRun, unreviewed } from './steps/reviewed.js';
import { verify } from './steps/verify.js';
import { tooLate, write } from './steps/write.js';
import { temporaryEntries } from './steps/temporary.js';

/**
 * One target's pass: the protocol, step by step (steps/), and the one-writer rule around it (see
 * reconcile.ts). Every decision is the plan's; the steps only do the I/O, in the order that keeps
 * concurrent runs and failures safe. A pass reports its failures rather than throwing them.
 */
export async function passTarget(target: TargetConfig, ctx: RunContext): Promise<TargetPass> {
  // The plan of the latest attempt, for the report of a failure that a step threw.
  const planned: { plan?: TargetPlan } = {};
  try {
    for (let attempt = 0; ; attempt++) {
      const end = await attemptPass({ target, ctx, lastTry: attempt > 0 }, planned);
      if (end !== AGAIN) return end;
      await ctx.sleep(ctx.options.busyRetryMs ?? DEFAULT_BUSY_RETRY_MS);
    }
  } catch (e) {
    return ended(target, 'failed', planned.plan, { error: errorOf(e) });
  }
}

/** One attempt: read the record, judge, read, plan, announce, write, verify; AGAIN when the record moved under it. */
async function attemptPass(first: Attempt, planned: { plan?: TargetPlan }): Promise<TargetPass | typeof AGAIN> {
  const loaded = await loadRecord(first);
  if (isEnd(loaded)) return loaded;
  // The temporary entries as of now join the target's extras (steps/temporary.ts).
  const temporary = await temporaryEntries(first);
  if (isEnd(temporary)) return temporary;
  return temporary.finish(await attemptPlanned(temporary.attempt, loaded, planned));
}

async function attemptPlanned(a: Attempt, loaded: Loaded | undefined, planned: { plan?: TargetPlan }): Promise<TargetPass | typeof AGAIN> {
  const { target, ctx } = a;
  const held = othersIntent(a, loaded);
  if (held !== undefined) return held;
  const judged = judge(a, loaded);
  if (judged !== undefined) return judged;
  if (ctx.options.judgeOnly === true) return queued(target);

  const seen = await readFirewall(a);
  const plan = (planned.plan = planFor(a, seen.observed, loaded?.record));
  const refused = refusal(a, plan) ?? unreviewed(a, plan, seen.observed) ?? (await recheckRecord(a, plan, loaded));
  if (refused !== undefined) return refused;

  const now = ctx.now();
  if (!plan.changes) return recordInStep(a, plan, seen.observed, loaded, now);
  if (ctx.options.dryRun) return pendingDryRun(a, plan, seen.observed);
  const late = tooLate(a, plan, now);
  if (late !== undefined) return late;

  const announced = await announce(a, plan, seen.observed, loaded, now);
  if (isEnd(announced)) return announced;
  const recordAfter = recordAfterWrite(a, plan, seen.observed, announced.etag, now, loaded?.record);
  const written = await write(a, plan, seen, loaded, announced, recordAfter);
  if (isEnd(written)) return written;
  return verify(a, plan, seen.observed, written.answer, recordAfter);
}

/** Whether a step ended the attempt: a pass to return, or AGAIN. */
function isEnd<T extends object | undefined>(x: T | TargetPass | typeof AGAIN): x is TargetPass | typeof AGAIN {
  return x === AGAIN || (typeof x === 'object' && x !== null && 'report' in x);
}

/**
 * Runs the state write after the target's ARM work. A failed write fails the target: the rules are
 * in place, but tagwall would not know it owns them.
 */
export async function settle(pass: TargetPass): Promise<TargetReport> {
  if (pass.record === undefined) return pass.report;
  try {
    await pass.record();
    return pass.report;
  } catch (e) {
    // A target that already failed keeps the error that explains it.
    return pass.report.outcome === 'failed' ? pass.report : { ...pass.report, outcome: 'failed', error: errorOf(e) };
  }
}
