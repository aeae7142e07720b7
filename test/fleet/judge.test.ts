import { describe, expect, it } from 'vitest';
import type { AppliedRecord } from '../../src/core/vault-plan.js';
import { confirmable, recordStandsIn } from '../../src/fleet/judge.js';
import type { FleetGraph, GraphRow } from '../../src/fleet/model.js';
import { kindOfType } from '../../src/targets/kinds.js';
import type { FirewallFacts } from '../../src/targets/kind.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const RECHECK_MS = 24 * 3_600_000;
const LAG_MS = 10 * 60_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

const ID = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a';
const ROW: GraphRow = { id: ID, type: 'microsoft.keyvault/vaults', subscriptionId: '00000000-0000-0000-0000-000000000001', profile: 'devops', fingerprint: 'fp-1' };
const GRAPH: FleetGraph = { rows: new Map([[ID.toLowerCase(), ROW]]), recheckMs: RECHECK_MS, lagMs: LAG_MS };

// One kind of each way Resource Graph sees a firewall: rules in the body, rules in a child, not at all.
const KINDS: Record<'rules' | 'tags' | 'none', FirewallFacts> = {
  rules: kindOfType('Microsoft.KeyVault/vaults')!,
  tags: kindOfType('Microsoft.EventHub/namespaces')!,
  none: kindOfType('Microsoft.Network/networkSecurityPerimeters/profiles')!,
};

const SETTLED: AppliedRecord = {
  ownedRules: ['20.1.2.0/24'],
  observedRules: ['20.1.2.0/24', '198.51.100.7'],
  posture: { defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' },
  changeNumber: 42,
  sourceAddresses: 256,
  appliedAt: ago(3 * 3_600_000),
  graph: { fingerprint: 'fp-1', confirmedAt: ago(3 * 3_600_000) },
  seen: { virtualNetworkRuleCount: 2, perimeter: { state: 'none' }, findings: [{ severity: 'info', code: 'VNET_RULES', message: 'two virtual network rules' }] },
};

type RecordCase = 'absent' | 'settled' | 'intent' | 'no-appliedAt' | 'no-graph' | 'no-seen';
const RECORD_CASES: readonly RecordCase[] = ['absent', 'settled', 'intent', 'no-appliedAt', 'no-graph', 'no-seen'];

function recordOf(c: RecordCase, fingerprint: string, confirmedAt: string, writtenAt: string | undefined): AppliedRecord | undefined {
  if (c === 'absent') return undefined;
  const { appliedAt, graph: _g, seen, ...rest } = SETTLED;
  return {
    ...rest,
    ...(c === 'no-appliedAt' ? {} : { appliedAt }),
    ...(c === 'no-graph' ? {} : { graph: { fingerprint, confirmedAt } }),
    ...(c === 'no-seen' ? {} : { seen }),
    ...(c === 'intent' ? { intent: { runId: 'run-other', startedAt: ago(60_000), add: ['20.1.3.0/24'], remove: [] } } : {}),
    ...(writtenAt === undefined ? {} : { writtenAt }),
  };
}

// Each age on both sides of its bound and at it: the bound itself is outside the window.
const CONFIRMED = { recent: ago(RECHECK_MS - 1), due: ago(RECHECK_MS), stale: ago(RECHECK_MS + 3_600_000) } as const;
const WRITTEN = { never: undefined, justNow: ago(LAG_MS - 1), atLag: ago(LAG_MS), longAgo: ago(5 * LAG_MS) } as const;

describe('recordStandsIn', () => {
  it('stands in only for a settled record of a rules kind that Resource Graph shows unchanged, recently confirmed and not just written', () => {
    let standing = 0;
    let cases = 0;
    for (const [graphWay, kind] of Object.entries(KINDS)) {
      for (const rowPresent of [true, false]) {
        for (const recordCase of RECORD_CASES) {
          for (const sameFingerprint of [true, false]) {
            for (const [confirmedName, confirmedAt] of Object.entries(CONFIRMED)) {
              for (const [writtenName, writtenAt] of Object.entries(WRITTEN)) {
                const record = recordOf(recordCase, sameFingerprint ? ROW.fingerprint : 'fp-0', confirmedAt, writtenAt);
                const expected =
                  graphWay === 'rules' &&
                  rowPresent &&
                  recordCase === 'settled' &&
                  sameFingerprint &&
                  confirmedName === 'recent' &&
                  (writtenName === 'never' || writtenName === 'atLag' || writtenName === 'longAgo');
                const got = recordStandsIn(kind, record, rowPresent ? ROW : undefined, GRAPH, NOW);
                const label = JSON.stringify({ graphWay, rowPresent, recordCase, sameFingerprint, confirmedName, writtenName });
                cases += 1;
                if (!expected) {
                  expect(got, label).toBeUndefined();
                  continue;
                }
                standing += 1;
                // What the last direct read saw, as the record keeps it.
                expect(got, label).toEqual({
                  ipRules: ['20.1.2.0/24', '198.51.100.7'],
                  virtualNetworkRuleCount: 2,
                  posture: { defaultAction: 'Deny', bypass: 'None', publicNetworkAccess: 'Enabled' },
                  perimeter: { state: 'none' },
                  kindFindings: [{ severity: 'info', code: 'VNET_RULES', message: 'two virtual network rules' }],
                });
              }
            }
          }
        }
      }
    }
    expect(cases).toBe(3 * 2 * 6 * 2 * 3 * 4);
    // Never written, written at the lag, written long ago.
    expect(standing).toBe(3);
  });

  it('leaves out a perimeter and findings the last read did not see', () => {
    const record: AppliedRecord = { ...SETTLED, seen: { virtualNetworkRuleCount: 0, findings: [] } };
    expect(recordStandsIn(KINDS.rules, record, ROW, GRAPH, NOW)).toEqual({ ipRules: SETTLED.observedRules, virtualNetworkRuleCount: 0, posture: SETTLED.posture });
  });
});

describe('confirmable', () => {
  it('confirms the row after a direct read of a rules kind, unless the firewall was written within the lag', () => {
    let confirmed = 0;
    for (const [graphWay, kind] of Object.entries(KINDS)) {
      for (const rowPresent of [true, false]) {
        for (const graphPresent of [true, false]) {
          for (const [writtenName, writtenAt] of Object.entries(WRITTEN)) {
            const expected = graphWay === 'rules' && rowPresent && graphPresent && writtenName !== 'justNow';
            const got = confirmable(kind, rowPresent ? ROW : undefined, writtenAt, graphPresent ? GRAPH : undefined, NOW);
            const label = JSON.stringify({ graphWay, rowPresent, graphPresent, writtenName });
            if (expected) {
              confirmed += 1;
              expect(got, label).toBe(ROW);
            } else expect(got, label).toBeUndefined();
          }
        }
      }
    }
    expect(confirmed).toBe(3);
  });
});
