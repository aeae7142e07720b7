import { describe, expect, it } from 'vitest';
import { deadlineFor, functionTimeoutMs, operationBoundFor } from '../../src/handlers/functions.js';
import { parseConfig } from '../../src/config/config.js';
import type { AppliedRecord } from '../../src/core/target-plan.js';
import { reconcile } from '../../src/run/reconcile.js';
import type { FirewallState, FirewallTarget } from '../../src/targets/firewall.js';
import { tinyDocument } from '../core/documents.js';
import type { TargetStateAccess } from '../../src/run/context.js';

// The run deadline, over in-memory vaults (the logic of which vault is started when).

const id = (n: string) => `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${n}`;
const NAMES = ['kv-1', 'kv-2', 'kv-3', 'kv-4'];

function world() {
  const reads: string[] = [];
  const rules = new Map<string, string[]>();
  const firewalls: FirewallTarget = {
    read: async (resource): Promise<FirewallState> => {
      reads.push(resource.name);
      return { resource, ipRules: rules.get(resource.name) ?? [], virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny', publicNetworkAccess: 'Enabled' }, opaque: undefined };
    },
    write: async (current, change) => {
      rules.set(current.resource.name, [...change.ipRules]);
      return { ...current, ipRules: change.ipRules };
    },
  };
  const records = new Map<string, AppliedRecord>();
  const state: TargetStateAccess = { load: async (v) => (records.has(v.id) ? { record: records.get(v.id)! } : undefined), save: async (v, r) => void records.set(v.id, r) };
  const config = parseConfig(
    { serviceTags: { source: 'file', path: 'x.json' }, state: { store: 'file', path: 'x' }, concurrency: 1, targets: NAMES.map((n) => ({ vault: id(n), select: ['T'] })) },
    { baseDir: '/nonexistent', source: 'test' },
  );
  return { reads, firewalls, state, config };
}

const doc = tinyDocument([{ name: 'T', prefixes: ['20.0.0.0/24'] }]);

describe('run deadline', () => {
  it('starts no vault at or after the deadline; those are skipped with DEADLINE and touched not at all', async () => {
    const w = world();
    let t = 0;
    // Each vault takes a "minute"; the deadline falls after the second one started.
    const now = () => new Date(Date.UTC(2025, 9, 13, 0, t++));
    const reports = await reconcile(w.config, doc, { firewalls: w.firewalls, state: w.state, now }, { dryRun: false, force: false, deadline: new Date(Date.UTC(2025, 9, 13, 0, 3)) });
    const skipped = reports.filter((r) => r.outcome === 'skipped');
    expect(skipped.length).toBeGreaterThan(0);
    for (const r of skipped) expect(r.reasons).toEqual([expect.objectContaining({ code: 'DEADLINE' })]);
    expect(new Set(w.reads)).toEqual(new Set(reports.filter((r) => r.outcome !== 'skipped').map((r) => r.vault.split('/').pop())));
    expect(reports.map((r) => r.vault)).toEqual(NAMES.map(id));
  });

  it('starts first the vaults the last deadline cut off', async () => {
    const w = world();
    await reconcile(w.config, doc, { firewalls: w.firewalls, state: w.state }, { dryRun: true, force: false, first: new Set([id('kv-3'), id('kv-4')].map((v) => v.toLowerCase())) });
    expect(w.reads).toEqual(['kv-3', 'kv-4', 'kv-1', 'kv-2']);
  });

  it('Functions: the deadline is functionTimeout from host.json minus a margin', () => {
    expect(functionTimeoutMs('{"functionTimeout": "00:10:00"}')).toBe(600_000);
    expect(functionTimeoutMs('{"functionTimeout": "1.02:00:00"}')).toBe(26 * 3_600_000);
    expect(functionTimeoutMs('{}')).toBe(600_000);
    expect(functionTimeoutMs(undefined)).toBe(600_000);
    const start = new Date('2025-10-13T00:00:00Z');
    expect(deadlineFor(start, 600_000).toISOString()).toBe('2025-10-13T00:08:00.000Z');
    expect(deadlineFor(start, 60_000).toISOString()).toBe('2025-10-13T00:00:45.000Z');
  });

  it('Functions: a long-running write is waited for half the host timeout, so one can start in the first minutes of a 10-minute invocation', () => {
    expect(operationBoundFor(600_000)).toBe(300_000);
    expect(operationBoundFor(2 * 3_600_000)).toBe(20 * 60_000);
  });
});
