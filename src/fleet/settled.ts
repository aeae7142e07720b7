import { createHash } from 'node:crypto';
import type { TargetConfig } from '../config/config.js';
import type { ServiceTagDocument } from '../core/service-tags.js';
import type { AppliedRecord, TargetPlan } from '../core/target-plan.js';
import { tagwallVersion } from '../version.js';

/**
 * A plan that found nothing to do, remembered with what it depended on. Planning is
 * deterministic: the same recorded firewall, the same record, the same settings and the same
 * service-tags file give the same plan. So while Resource Graph shows a firewall unchanged since
 * its record and nothing else moved, the last plan's outcome is the plan, and 10,000 firewalls
 * are settled without planning each again (which was most of a steady-state run's time).
 */

export type Settled = NonNullable<AppliedRecord['settled']>;

/**
 * What a plan depends on besides the firewall and its record: the file, the target's settings and
 * the kind's facts, and tagwall's own version (an upgrade may plan differently).
 */
export function settlementKey(target: TargetConfig, doc: ServiceTagDocument): string {
  const { resource: _resource, kind, ...settings } = target;
  return createHash('sha256')
    .update(JSON.stringify({ version: tagwallVersion(), cloud: doc.cloud, changeNumber: doc.changeNumber, tags: doc.tags.length, kind: { ...kind, load: undefined }, settings }))
    .digest('hex');
}

/** The plan's outcome to remember, when it has one worth remembering: in step, nothing to say but findings. */
export function settledOf(plan: TargetPlan, key: string): Settled | undefined {
  if (plan.changes || plan.drift.length > 0 || plan.skip !== undefined || plan.refusals.length > 0 || plan.adopted.length > 0 || plan.forced.length > 0) return undefined;
  return {
    key,
    rules: plan.rules,
    excessAddresses: plan.desired?.stats.excessAddresses ?? 0,
    ...(plan.desired?.stats.weightedExcess === undefined ? {} : { weightedExcess: plan.desired.stats.weightedExcess }),
    findings: [...plan.findings],
    unmanaged: [...plan.unmanaged],
    shared: [...plan.shared],
  };
}
