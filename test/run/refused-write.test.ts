import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { TagwallError } from '../../src/core/errors.js';
import type { AppliedRecord } from '../../src/core/target-plan.js';
import { reconcile } from '../../src/run/reconcile.js';
import type { FirewallState, FirewallTarget } from '../../src/targets/firewall.js';
import { tinyDocument } from '../core/documents.js';
import type { TargetStateAccess } from '../../src/run/context.js';

// A write refused before anything changed must not leave its intent behind: the next run would
// take the resource for busy for ten minutes. (In-memory resource and state: the logic alone.)

const ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-refused';

describe('a write refused before anything changed', () => {
  it.each<[string, TagwallError]>([
    ['by the adapter itself (notSent)', new TagwallError('TARGET_WOULD_ENABLE_FIREWALL', 'refused here', { values: { notSent: true } })],
    ['by Azure with a 4xx', new TagwallError('VAULT_BAD_REQUEST', 'refused by Azure', { values: { status: 400, azureCode: 'BadRequest' } })],
  ])('withdraws its intent when refused %s, so the next run goes ahead at once', async (_how, refusal) => {
    let refuse = true;
    let rules: string[] = [];
    const firewalls: FirewallTarget = {
      read: async (resource): Promise<FirewallState> => ({ resource, ipRules: rules, virtualNetworkRuleCount: 0, posture: { defaultAction: 'Deny' }, opaque: undefined }),
      write: async (current, change) => {
        if (refuse) throw refusal;
        rules = [...change.ipRules];
        return { ...current, ipRules: rules };
      },
    };
    const saved: (AppliedRecord | undefined)[] = [];
    let record: AppliedRecord | undefined;
    let etag = 0;
    const state: TargetStateAccess = {
      load: async () => (record === undefined ? undefined : { record, etag: String(etag) }),
      save: async (_r, r) => {
        record = r;
        saved.push(r);
        return String(++etag);
      },
    };
    const config = parseConfig({ serviceTags: { source: 'file', path: 'x' }, state: { store: 'file', path: 'x' }, targets: [{ vault: ID, select: ['T'] }] }, { baseDir: '/nonexistent', source: 'test' });
    const doc = tinyDocument([{ name: 'T', prefixes: ['20.0.0.0/24'] }]);
    const [first] = await reconcile(config, doc, { firewalls, state, sleep: async () => undefined }, { dryRun: false, force: false });
    expect(first).toMatchObject({ outcome: 'failed', error: { code: refusal.code } });
    // The intent was written, then withdrawn.
    expect(saved.map((r) => r?.intent === undefined)).toEqual([false, true]);
    refuse = false;
    const [second] = await reconcile(config, doc, { firewalls, state, sleep: async () => undefined }, { dryRun: false, force: false });
    expect(second).toMatchObject({ outcome: 'applied', add: ['20.0.0.0/24'] });
  });
});
