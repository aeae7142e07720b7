import type { TargetPlan, ObservedFirewall, PerimeterPosture } from '../../core/target-plan.js';
import type { FirewallState, PerimeterView } from '../../targets/firewall.js';
import { AGAIN, type Attempt, type Loaded, type TargetPass } from '../context.js';
import { busy, ended, stateError } from '../report.js';
import { liveIntent } from './announce.js';

/**
 * Reading: the target's record, then the firewall itself (and its perimeter), in that order so
 * that the firewall's GET is directly followed by its PATCH (one state write apart).
 */

/** The record, or the pass's end when it cannot be read. */
export async function loadRecord({ target, ctx }: Attempt): Promise<Loaded | undefined | TargetPass> {
  try {
    return await ctx.deps.state.load(target.resource);
  } catch (e) {
    return ended(target, 'failed', undefined, { error: stateError(e) });
  }
}

/** The firewall as the adapter read it, and as the plan sees it (with its perimeter). */
export interface Seen {
  readonly firewall: FirewallState;
  readonly observed: ObservedFirewall;
}

export async function readFirewall({ target, ctx }: Attempt): Promise<Seen> {
  const [firewall, perimeter] = await Promise.all([ctx.deps.firewalls.read(target.resource), ctx.deps.perimeters?.perimeterOf(target.resource)]);
  return { firewall, observed: observe(firewall, perimeter) };
}

function perimeterPosture(view: PerimeterView | undefined): PerimeterPosture | undefined {
  if (view === undefined) return undefined;
  if (view.state === 'associated') return { state: 'associated', ...view.association };
  return view;
}

export function observe(fw: FirewallState, perimeter?: PerimeterView): ObservedFirewall {
  const p = perimeterPosture(perimeter);
  return {
    ipRules: fw.ipRules,
    virtualNetworkRuleCount: fw.virtualNetworkRuleCount,
    posture: fw.posture,
    ...(p === undefined ? {} : { perimeter: p }),
    ...(fw.findings === undefined || fw.findings.length === 0 ? {} : { kindFindings: fw.findings }),
    ...(fw.unsupported === undefined ? {} : { unsupported: fw.unsupported }),
    ...(fw.ownedByName === undefined ? {} : { ownedByName: fw.ownedByName }),
    ...(fw.rewrite === true ? { rewrite: true } : {}),
    ...(fw.otherEntries === undefined || fw.otherEntries === 0 ? {} : { otherEntries: fw.otherEntries }),
  };
}

/**
 * A dry run writes nothing, so it cannot take part in the intent protocol. What it can do is make
 * sure the record it judged by is still the newest: a sync that wrote the target between its two
 * reads would otherwise look like drift.
 */
export async function recheckRecord(a: Attempt, plan: TargetPlan, loaded: Loaded | undefined): Promise<TargetPass | typeof AGAIN | undefined> {
  const { target, ctx } = a;
  if (!ctx.options.dryRun || (plan.drift.length === 0 && !plan.changes)) return undefined;
  let again: Loaded | undefined;
  try {
    again = await ctx.deps.state.load(target.resource);
  } catch (e) {
    return ended(target, 'failed', plan, { error: stateError(e) });
  }
  if (again?.etag !== loaded?.etag || liveIntent(again?.record, ctx)) return a.lastTry ? busy(target, plan, 'its record changed while it was read') : AGAIN;
  return undefined;
}
