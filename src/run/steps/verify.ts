import { concurrentChangeError, writtenShape } from '../../core/plan/verify.js';
import type { TargetReport } from '../../core/report.js';
import type { ObservedFirewall, TargetPlan } from '../../core/target-plan.js';
import type { FirewallState } from '../../targets/firewall.js';
import type { Attempt, TargetPass } from '../context.js';
import { ended, errorOf } from '../report.js';
import { observe } from './read.js';
import { keysOf, sameSet } from './record.js';

/**
 * Verifying: Key Vault has no ETag, so the only way to see a concurrent edit is to read again.
 * The write landed either way, so what tagwall now owns and removed is recorded either way: a rule
 * it removed and a person then put back would otherwise count as tagwall's again.
 */
export async function verify(
  { target, ctx }: Attempt,
  plan: TargetPlan,
  before: ObservedFirewall,
  answer: FirewallState,
  recordAfter: (seen: ObservedFirewall) => () => Promise<unknown>,
): Promise<TargetPass> {
  const patched = observe(answer);
  let after: ObservedFirewall;
  try {
    after = observe(await ctx.deps.firewalls.read(target.resource));
  } catch (e) {
    // Unverified, the target fails; what the write's answer showed is recorded.
    return { ...ended(target, 'failed', plan, { error: errorOf(e) }), record: recordAfter(patched) };
  }
  const error = mismatch(plan, before, after);
  return { ...ended(target, error === undefined ? 'applied' : 'failed', plan, error === undefined ? {} : { error }), record: recordAfter(after) };
}

/** How the firewall read back differs from what was written, if it does. */
function mismatch(plan: TargetPlan, before: ObservedFirewall, after: ObservedFirewall): TargetReport['error'] | undefined {
  const written = keysOf(plan.nextRules);
  if (!sameSet(after.ipRules, written)) {
    const want = new Set(written);
    const got = new Set(keysOf(after.ipRules));
    const missing = [...want].filter((k) => !got.has(k));
    const unexpected = [...got].filter((k) => !want.has(k));
    const sample = (rules: string[]) => (rules.length > 0 ? ` (${rules.slice(0, 5).join(', ')}${rules.length > 5 ? ', ...' : ''})` : '');
    return {
      code: 'VERIFY_MISMATCH',
      message: `the rules read back after the write differ from what was written (a concurrent edit?): ${missing.length} missing${sample(missing)}, ${unexpected.length} unexpected${sample(unexpected)}`,
    };
  }
  // Turning the firewall on is part of the write too: a target left open must not read as applied.
  if (plan.setDefaultActionDeny && (after.posture.defaultAction ?? '').toLowerCase() !== 'deny') {
    return {
      code: 'VERIFY_MISMATCH',
      message: `defaultAction read back after the write is ${after.posture.defaultAction ?? 'unset'}, not the Deny that was written (a concurrent edit?)`,
    };
  }
  return concurrentChangeError(writtenShape(before, plan.setDefaultActionDeny), after);
}
