import type { AppliedRecord, ObservedFirewall } from '../core/vault-plan.js';
import type { FirewallFacts } from '../targets/kind.js';
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
 * The fingerprint to record after a direct read that found the firewall as planned, or none:
 * a firewall written in the lag window may still look old to Resource Graph, so what the row
 * says would not describe what was read.
 */
export function confirmable(kind: FirewallFacts, row: GraphRow | undefined, writtenAt: string | undefined, graph: FleetGraph | undefined, now: Date): GraphRow | undefined {
  if (row === undefined || graph === undefined || kind.graph !== 'rules') return undefined;
  if (writtenAt !== undefined && now.getTime() - Date.parse(writtenAt) < graph.lagMs) return undefined;
  return row;
}
