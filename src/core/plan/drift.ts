import { normaliseRule, type FirewallRule } from '../rules.js';
import type { AppliedRecord, Drift, Posture } from './model.js';

const POSTURE_FIELDS = ['defaultAction', 'bypass', 'publicNetworkAccess'] as const;

/**
 * What changed outside tagwall since the record: owned rules gone, rules that appeared,
 * posture fields that moved. Rules a run announced it would add (an intent whose run never
 * confirmed it) count as seen, so another run's write is never reported as drift.
 */
export function driftSince(record: AppliedRecord | undefined, current: readonly FirewallRule[], posture: Posture, owned: ReadonlySet<string>): Drift[] {
  if (record === undefined) return [];
  const drift: Drift[] = [];
  const now = new Set(current.map((r) => r.key));
  const observed = new Set(record.observedRules.map((r) => normaliseRule(r).key));
  for (const r of record.intent?.add ?? []) observed.add(normaliseRule(r).key);
  const announced = new Set((record.intent?.add ?? []).map((r) => normaliseRule(r).key));
  for (const key of owned) {
    // An announced add that never showed up was never written: nothing went missing.
    if (!now.has(key) && !announced.has(key)) drift.push({ kind: 'missing', code: 'RULE_MISSING', rule: key, detail: `owned rule ${key} was removed outside tagwall` });
  }
  for (const r of current) {
    if (!observed.has(r.key)) drift.push({ kind: 'added', code: 'RULE_ADDED', rule: r.key, detail: `rule ${r.key} was added outside tagwall` });
  }
  for (const field of POSTURE_FIELDS) {
    const before = record.posture[field];
    const after = posture[field];
    // A field that appears (or disappears) is a change too: bypass going from unset to None matters.
    if ((before ?? '').toLowerCase() !== (after ?? '').toLowerCase()) {
      drift.push({ kind: 'posture', code: 'POSTURE_CHANGED', field, before: before ?? null, after: after ?? null, detail: `${field} changed from ${before ?? 'unset'} to ${after ?? 'unset'}` });
    }
  }
  return drift;
}
