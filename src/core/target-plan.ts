import { coverRanges, type Allowlist } from './allowlist.js';
import { churnTrade } from './plan/churn.js';
import { isTagwallError } from './errors.js';
import { wideRules } from './explain-cover.js';
import type { AddressRange, Cidr } from './ipv4.js';
import { driftSince } from './plan/drift.js';
import { guardHits } from './plan/guards.js';
import type { Finding, Reason, TargetPlan, TargetPlanInput } from './plan/model.js';
import { keptRules, ownershipOf } from './plan/ownership.js';
import { postureFindings } from './plan/posture.js';
import { blockOf, compareRules, normaliseRule, rangeKey, rangeOfRule, rangeToWrite, ruleToWrite, type FirewallRule } from './rules.js';

export type * from './plan/model.js';
export { postureFindings } from './plan/posture.js';

/**
 * The plan for one firewall: pure, from what was read (rules, posture, the last record) and
 * what is wanted (the allowlist), to what to add, remove and keep, plus findings, drift and
 * guard verdicts. The reconciler does the I/O around it; a dry run just prints this.
 *
 * The budget is exact: the rules that stay whatever is desired (a person's rules in merge
 * mode) are counted first, and the collapse is told which of them it may use for free, so
 * the cover it picks is the least excess that fits the limit beside them.
 */
/** Widened rules wider than the warning bound: a reviewer should see them, and someone is paged once. */
function wideRuleFindings(desired: Allowlist, guards: TargetPlanInput['guards']): Finding[] {
  if (guards.warnWidenedPrefix === 0) return [];
  const wide = wideRules(desired, guards.warnWidenedPrefix);
  if (wide.length === 0) return [];
  const rules = wide.map((w) => w.key);
  const excess = wide.reduce((n, w) => n + w.excess, 0);
  return [
    {
      severity: 'warning',
      code: 'WIDE_RULE',
      message: `${rules.length} widened rule${rules.length === 1 ? ' is' : 's are'} wider than /${guards.warnWidenedPrefix} (guards.warnWidenedPrefix), admitting ${excess} addresses beyond the source: ${rules.slice(0, 5).join(', ')}${rules.length > 5 ? ', ...' : ''}`,
      rules,
      excessAddresses: excess,
      warnWidenedPrefix: guards.warnWidenedPrefix,
    },
  ];
}

/**
 * Where the IP list is the switch, a first rule on a firewall that is off turns it on: only
 * enforceDeny may do that. Decided here from the firewall as read, so a dry run refuses what the
 * apply would (the adapter keeps its own check as the last line); --force does not lift it.
 */
function switchedOn(input: TargetPlanInput, nextRules: number, setDeny: boolean): Reason | undefined {
  if (input.settings.ipListIsSwitch !== true || setDeny || nextRules === 0) return undefined;
  const off = input.firewall.ipRules.length === 0 && (input.firewall.posture.defaultAction ?? 'Allow').toLowerCase() !== 'deny';
  if (!off) return undefined;
  return {
    code: 'TARGET_WOULD_ENABLE_FIREWALL',
    message: `the firewall has no IP rules and nothing else filters, so every network can reach it; writing the first ${nextRules === 1 ? 'rule' : `${nextRules} rules`} would shut out every other network. Set enforceDeny on the target to let tagwall do that`,
    rules: nextRules,
  };
}

/** Special entries the cover wants that the firewall lacks: left out, and said so. */
function specialWantedFindings(keys: readonly string[]): Finding[] {
  if (keys.length === 0) return [];
  return [
    {
      severity: 'warning',
      code: 'SPECIAL_ENTRY_WANTED',
      message: `the selection covers ${keys.join(', ')}, ${keys.length === 1 ? 'an entry' : 'entries'} special to the firewall (its own setting, not an IP rule tagwall may own): not written, so ${keys.length === 1 ? 'that address stays' : 'those addresses stay'} out unless the firewall's own setting lets ${keys.length === 1 ? 'it' : 'them'} in`,
      rules: keys,
      count: keys.length,
    },
  ];
}

/**
 * The rules a cover that left them out would remove (tagwall's own in merge mode, all but the
 * special entries in authoritative mode): least churn keeps as many as the least excess allows.
 */
function removableIfUnwanted(current: readonly FirewallRule[], kept: readonly FirewallRule[], special: ReadonlySet<string>): Cidr[] {
  const keptKeys = new Set(kept.map((r) => r.key));
  return current.flatMap((r): Cidr[] => (r.cidr === undefined || keptKeys.has(r.key) || special.has(r.key) ? [] : [r.cidr]));
}

/**
 * How the firewall wants a rule written: a range kind's as `a.b.c.d-e.f.g.h` (a single address
 * bare), a CIDR kind's in its single-address form. Text that is no IPv4 rule, and every special
 * entry, goes back exactly as read.
 */
function writtenForm(s: TargetPlanInput['settings']): (r: FirewallRule) => string {
  const special = new Set(s.special);
  return (r) => {
    if (special.has(r.key)) return r.value;
    if (s.ruleShape === 'range') {
      const range = rangeOfRule(r);
      return range === undefined ? r.value : rangeToWrite(range);
    }
    return r.cidr === undefined ? r.value : ruleToWrite(r.cidr, s.singleAddress);
  };
}

export function planTarget(input: TargetPlanInput): TargetPlan {
  const s = input.settings;
  const range = s.ruleShape === 'range';
  const written = writtenForm(s);
  const ownership = ownershipOf(input.firewall.ipRules, input.record, s.special, input.firewall.ownedByName);
  const special = new Set(s.special);
  const { current, owned } = ownership;
  const currentKeys = new Set(current.map((r) => r.key));
  const posture = postureFindings(input.firewall, s);
  const findings: Finding[] = [...posture.findings];
  const drift = driftSince(input.record, current, input.firewall.posture, owned);
  const other = input.firewall.otherEntries ?? 0;
  const limit = s.maxRules - s.reserveRules - other;

  const kept = keptRules(ownership, s);
  const budget = limit - kept.length;
  const refusals: Reason[] = [];
  const forcedBound: Reason[] = [];
  let desired: Allowlist | undefined;
  if (budget < 0) {
    refusals.push({
      code: 'BUDGET_EXHAUSTED',
      message: `no room for managed rules: ${kept.length} rules tagwall must keep exceed the ${limit} allowed (maxRules ${s.maxRules} - reserveRules ${s.reserveRules}${other === 0 ? '' : ` - ${other} other entries`})`,
      keptRules: kept.length,
      limit,
    });
  } else {
    const keptCidrs = kept.flatMap((r): Cidr[] => (r.cidr === undefined ? [] : [r.cidr]));
    // A range kind's kept rules are ranges, blocks or not; a CIDR kind's cover takes blocks only.
    const keptRanges = range ? { keptRanges: kept.map(rangeOfRule).filter((k): k is AddressRange => k !== undefined) } : {};
    try {
      desired = input.desiredFor(budget, keptCidrs, keptRanges);
    } catch (e) {
      if (!isTagwallError(e, 'COLLAPSE_INFEASIBLE')) throw e;
      // In the target's own terms: the maxRules that would fit, with the kept rules and the reserve.
      const neededRules = Number(e.values.neededRules) + kept.length + s.reserveRules + other;
      const bound = e.values.maxWidenedPrefix === undefined ? undefined : Number(e.values.maxWidenedPrefix);
      const refusal: Reason = {
        code: 'COLLAPSE_INFEASIBLE',
        message:
          bound === undefined
            ? `no cover fits beside the ${kept.length} rules kept in ${limit} rules without touching forbidden or excluded space; the smallest maxRules that works is ${neededRules}`
            : `no cover fits beside the ${kept.length} rules kept in ${limit} rules with no widened rule wider than /${bound} (guards.maxWidenedPrefix); the smallest maxRules that works under it is ${neededRules}; to allow wider rules, set guards.maxWidenedPrefix lower (0 turns it off) or run once with --force`,
        neededRules,
        budget,
        keptRules: kept.length,
        ...(bound === undefined ? {} : { maxWidenedPrefix: bound }),
      };
      // The widening bound is a guard like the others: --force may lift it for one run.
      if (bound !== undefined && input.force) {
        desired = input.desiredFor(budget, keptCidrs, { unbounded: true, ...keptRanges });
        forcedBound.push(refusal);
      } else {
        refusals.push(refusal);
      }
    }
  }

  if (desired !== undefined && s.churn !== 'tie-break') {
    const least = churnTrade(desired, removableIfUnwanted(current, kept, special), currentKeys, { churnTolerance: s.churnTolerance ?? 0, maxExcessAddresses: input.guards.maxExcessAddresses });
    desired = least.desired;
    findings.push(...least.findings);
  }
  // The cover as ranges, keyed as normaliseRule keys what the firewall holds (rangeKey: a block
  // as a.b.c.d/n), so a CIDR kind's and a range kind's rules compare the same way.
  const cover = desired === undefined ? [] : coverRanges(desired);
  const desiredKeys = new Set(cover.map(rangeKey));
  const missing = cover.filter((r) => !currentKeys.has(rangeKey(r)));
  // An entry special to the firewall means something to it (Cosmos DB's portal addresses turn
  // portal access on): tagwall never writes one, even when the selection covers it exactly, or it
  // would own what it may never remove.
  const add = missing.filter((r) => !special.has(rangeKey(r)));
  findings.push(...specialWantedFindings(missing.filter((r) => special.has(rangeKey(r))).map(rangeKey)));
  const removable = (key: string) => !desiredKeys.has(key) && !special.has(key) && (s.mode === 'authoritative' || owned.has(key));
  const remove = desired === undefined || s.policy === 'add-only' ? [] : current.filter((r) => removable(r.key));
  const removeKeys = new Set(remove.map((r) => r.key));
  const stay = current.filter((r) => !removeKeys.has(r.key));
  const adopting = ownership.firstContact && s.adopt === 'first-run';
  const wantedNotOwned = stay.filter((r) => desiredKeys.has(r.key) && !owned.has(r.key) && !special.has(r.key)).map((r) => r.key);
  const adopted = adopting ? wantedNotOwned : [];
  const shared = adopting ? [] : wantedNotOwned;
  const unmanaged = stay.filter((r) => !desiredKeys.has(r.key) && !owned.has(r.key)).map((r) => r.key);
  if (adopted.length > 0) {
    findings.push({
      severity: 'info',
      code: 'ADOPTED_RULES',
      message: `${adopted.length} rule${adopted.length === 1 ? '' : 's'} already on the target on first contact ${adopted.length === 1 ? 'is' : 'are'} wanted by the selection and now tagwall's (adopt: first-run): ${adopted.slice(0, 5).join(', ')}${adopted.length > 5 ? ', ...' : ''}`,
      rules: adopted,
      count: adopted.length,
    });
  }
  // Only what tagwall adds, adopts or already owned is tagwall's after the write; stale owned
  // rules that add-only keeps stay owned, so a later sync may still remove them.
  const nextOwned = [...new Set([...add.map(rangeKey), ...adopted, ...stay.filter((r) => owned.has(r.key)).map((r) => r.key)])];
  // A CIDR kind's cover holds blocks only; a range kind's any interval.
  const fresh = add.map((r) => normaliseRule(range ? rangeToWrite(r) : ruleToWrite(blockOf(r)!, s.singleAddress)));
  const next = [...stay, ...fresh].sort(compareRules);
  // Special entries go back exactly as the firewall spells them; the rest in the form it wants.
  const nextRules = next.map(written);

  const hits = desired === undefined ? [] : guardHits(desired, input.record, remove.length, current.length, input.guards);
  const forced = input.force ? [...forcedBound, ...hits] : [];
  if (desired !== undefined) findings.push(...wideRuleFindings(desired, input.guards));
  if (!input.force) refusals.push(...hits);

  const setDeny = posture.setDeny;
  const firstRule = switchedOn(input, nextRules.length, setDeny);
  if (firstRule !== undefined) refusals.push(firstRule);
  const changes = add.length > 0 || remove.length > 0 || setDeny || input.firewall.rewrite === true;
  // What the write will cost, said before it is made (a dry run's plan too).
  if (changes && s.writeNote !== undefined) findings.push({ severity: 'info', code: 'WRITE_NOTE', message: s.writeNote });
  return {
    add: add.map(rangeKey),
    remove: remove.map((r) => r.key),
    unmanaged,
    shared,
    adopted,
    nextRules,
    nextOwned,
    setDefaultActionDeny: setDeny,
    changes,
    refusals,
    forced,
    ...(posture.skip === undefined ? {} : { skip: posture.skip }),
    findings,
    drift,
    rules: { managed: next.length - unmanaged.length - shared.length, unmanaged: unmanaged.length, shared: shared.length, limit: s.maxRules },
    budget: Math.max(budget, 0),
    desired,
  };
}
