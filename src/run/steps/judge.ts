import { resourceKey } from '../../core/resource-id.js';
import { recordStandsIn } from '../../fleet/judge.js';
import { settlementKey } from '../../fleet/settled.js';
import type { Attempt, Loaded, TargetPass } from '../context.js';
import { settledReport } from '../report.js';
import { planFor } from './plan.js';
import { recordJudged } from './record.js';

/**
 * Judging without a read: when Resource Graph shows the firewall unchanged since its last direct
 * read (fleet/judge.ts), its record stands in for it. A plan remembered in the record for this
 * document and these settings settles it outright (fleet/settled.ts); otherwise it is planned
 * against the record, and only "nothing to do" is taken from it: anything to write or report is
 * read first. Undefined when the firewall must be read.
 */
export function judge(a: Attempt, loaded: Loaded | undefined): TargetPass | undefined {
  const { target, ctx, lastTry } = a;
  const { options } = ctx;
  // On the first attempt only: a busy target's record is about to change under it.
  if (lastTry || options.graph === undefined) return undefined;
  const row = options.graph.rows.get(resourceKey(target.resource));
  const standIn = recordStandsIn(target.kind, loaded?.record, row, options.graph, ctx.now());
  if (standIn === undefined) return undefined;
  const prior = loaded!;
  // --force changes what guards allow, so a forced run plans every firewall it judges.
  const key = options.force ? undefined : settlementKey(target, ctx.doc);
  if (key !== undefined && prior.record.settled?.key === key) return { report: settledReport(target, prior.record.settled) };
  const judged = planFor(a, standIn, prior.record);
  if (judged.changes || judged.drift.length > 0 || judged.skip !== undefined || judged.refusals.length > 0) return undefined;
  return recordJudged(a, judged, prior, key);
}
