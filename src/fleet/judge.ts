import type { AppliedRecord, ObservedFirewall } from '../core/target-plan.js';
import type { FirewallFacts } from '../targets/kind.js';
import { rulesState, stateOfFingerprint } from './fingerprint.js';
import type { FleetGraph, GraphRow } from './model.js';

/**
 * When a firewall's record may stand in for reading it. Resource Graph lags writes and is never
 * the ground for a write, so it only ever says "nothing changed since tagwall last read this
 * firewall directly": the row's fingerprint must equal the one recorded when a direct read last
 * agreed with the record, the record must be settled (no intent, not just written), and the
 * last direct read must be recent enough. Anything else means a direct read.
 */
export function recordStandsIn(kind: FirewallFacts, record: AppliedRecord | undefined, row: GraphRow | undefined, graph: FleetGraph, now: Date): ObservedFirewall | undefined {
  if (row === undefined || kind.graph !== 'rules' || record === undefined) return undefined;
  if (record.intent !== undefined || record.appliedAt === undefined || record.graph === undefined || record.seen === undefined) return undefined;
  if (record.graph.fingerprint !== row.fingerprint) return undefined;
  if (now.getTime() - Date.parse(record.graph.confirmedAt) >= graph.recheckMs) return undefined;
  if (record.writtenAt !== undefined && now.getTime() - Date.parse(record.writtenAt) < graph.lagMs) return undefined;
  return {
    ipRules: record.observedRules,
    virtualNetworkRuleCount: record.seen.virtualNetworkRuleCount,
    posture: record.posture,
    ...(record.seen.perimeter === undefined ? {} : { perimeter: record.seen.perimeter }),
    ...(record.seen.findings === undefined || record.seen.findings.length === 0 ? {} : { kindFindings: record.seen.findings }),
  };
}

/**
 * The fingerprint to record after a direct read that found the firewall as planned, or none.
 * A fingerprint stands in for the firewall later, so it is recorded only when the row describes
 * what was read: a firewall written in the lag window may still look old to Resource Graph, and
 * so may one a person changed a moment ago. A row that lags such a change would otherwise be
 * recorded as the fingerprint of a state it does not describe, and a firewall that went back to
 * the row's state (a revert, an owned rule removed) would be judged in sync from it.
 */
export function confirmable(kind: FirewallFacts, row: GraphRow | undefined, writtenAt: string | undefined, graph: FleetGraph | undefined, now: Date, read: ObservedFirewall): GraphRow | undefined {
  if (row === undefined || graph === undefined || kind.graph !== 'rules') return undefined;
  if (writtenAt !== undefined && now.getTime() - Date.parse(writtenAt) < graph.lagMs) return undefined;
  return rowDescribes(kind, row, read) ? row : undefined;
}

const POSTURE_FIELDS = ['defaultAction', 'bypass', 'publicNetworkAccess'] as const;

/**
 * Whether the row (by its fingerprint, all a shard worker has) agrees with a direct read: the
 * rule count, each posture field the kind keeps where Resource Graph sees it, and the rules
 * themselves when the row carried them. A digest is Azure's hash of Resource Graph's own
 * serialisation of the rules, which a direct read through the SDK cannot reproduce, so a row
 * with a digest agrees by count and posture alone (docs/FLEETS.md).
 */
export function rowDescribes(kind: FirewallFacts, row: GraphRow, read: ObservedFirewall): boolean {
  const paths = kind.graphPaths;
  const state = stateOfFingerprint(row.fingerprint);
  if (paths === undefined || state === undefined) return false;
  // A firewall without the rules array has no count in the row, and none in the read.
  if ((state.ruleCount ?? 0) !== read.ipRules.length) return false;
  if (state.ruleState.startsWith('rules:') && state.ruleState !== rulesState(read.ipRules)) return false;
  // Values are compared in any case: Resource Graph and ARM are not bound to spell an enum alike.
  const same = (a: string | undefined, b: string | undefined) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();
  return POSTURE_FIELDS.every((f) => paths[f] === undefined || same(state[f], read.posture[f]));
}
