import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, type TagwallConfig } from '../../src/config.js';
import { TagwallError } from '../../src/core/errors.js';
import { normaliseRule } from '../../src/core/rules.js';
import type { AppliedRecord } from '../../src/core/vault-plan.js';
import { reconcile, type ReconcileDeps, type VaultReport } from '../../src/reconcile.js';
import type { FirewallTarget, VaultFirewall } from '../../src/targets/firewall.js';
import { tinyDocument } from '../core/documents.js';

// Ownership bookkeeping of the real reconciler over many rounds, against an in-memory vault and
// state store whose faults each round chooses: out-of-band edits, a concurrent edit after the
// write, a verifying read that fails, a state record that cannot be read or written.

const VAULT = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-rounds';

/** Tag prefixes and hand-made rules share one small corner of the address space, so they collide. */
const POOL = [
  ...Array.from({ length: 10 }, (_, i) => `20.0.0.${i}/32`),
  '20.0.0.12/30',
  ...Array.from({ length: 5 }, (_, i) => `20.0.${i + 1}.0/24`),
  '81.2.69.142/32',
];

const keyOf = (rule: string) => normaliseRule(rule).key;

interface Faults {
  /** Rules someone else writes right after tagwall's PATCH. */
  readonly concurrent?: { readonly add: string[]; readonly remove: string[] };
  readonly verifyFails: boolean;
  readonly loadFails: boolean;
  /** The state write after the PATCH fails. */
  readonly saveFails: boolean;
}

interface Round {
  readonly prefixes: string[];
  readonly handAdd: string[];
  readonly handRemove: string[];
  readonly dryRun: boolean;
  readonly faults: Faults;
}

/** A vault as Azure keeps it: normalised rule text, one rule per key. */
class Vault {
  rules: string[] = [];
  /** What tagwall's last PATCH wrote, as keys. */
  written: string[] | undefined;
  gets = 0;
  patches = 0;
  faults: Faults = { verifyFails: false, loadFails: false, saveFails: false };

  set(rules: readonly string[]): void {
    this.rules = [...new Set(rules.map(keyOf))];
  }

  firewall(): VaultFirewall {
    return {
      vault: { id: VAULT, subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', name: 'kv-rounds' },
      networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: this.rules.map((value) => ({ value })), virtualNetworkRules: [] },
      publicNetworkAccess: 'Enabled',
    };
  }

  target(): FirewallTarget {
    return {
      read: async () => {
        this.gets++;
        if (this.gets > 1 && this.faults.verifyFails) throw new TagwallError('VAULT_SERVER_ERROR', 'the verifying read failed');
        return this.firewall();
      },
      write: async (_current, change) => {
        this.patches++;
        this.set(change.ipRules);
        this.written = [...this.rules];
        const answer = this.firewall();
        const c = this.faults.concurrent;
        if (c !== undefined) this.set([...this.rules.filter((r) => !c.remove.includes(r)), ...c.add]);
        return answer;
      },
    };
  }
}

class State {
  record: AppliedRecord | undefined;
  etag = 0;
  constructor(private readonly vault: Vault) {}

  access(): ReconcileDeps['state'] {
    return {
      load: async () => {
        if (this.vault.faults.loadFails) throw new TagwallError('STATE_CORRUPT', 'state for kv-rounds is corrupt');
        return this.record === undefined ? undefined : { record: this.record, etag: String(this.etag) };
      },
      save: async (_vault, record, etag) => {
        // The dangerous moment: the record after a PATCH (the one before it is taken to work).
        if (this.vault.faults.saveFails && this.vault.patches > 0) throw new TagwallError('STATE_UNWRITABLE', 'state cannot be written');
        if (etag !== (this.record === undefined ? undefined : String(this.etag))) throw new TagwallError('STATE_CONFLICT', 'changed since read');
        this.record = record;
        this.etag++;
        return String(this.etag);
      },
    };
  }
}

type Settings = Parameters<typeof configOf>[0];

function configOf(settings: { maxRules: number; reserveRules: number; mode: 'merge' | 'authoritative'; policy: 'sync' | 'add-only'; split31: boolean }): TagwallConfig {
  return parseConfig(
    {
      serviceTags: { source: 'file', path: 'unused.json' },
      state: { store: 'file', path: 'unused-state.json' },
      guards: { maxRemovedFraction: 1, maxSourceShrinkFraction: 1, maxExcessAddresses: 2 ** 32 },
      targets: [{ vault: VAULT, select: ['Rounds'], ...settings }],
    },
    { baseDir: '/nonexistent', source: 'test' },
  );
}

const faultsArb: fc.Arbitrary<Faults> = fc.record({
  concurrent: fc.option(fc.record({ add: fc.subarray(POOL, { maxLength: 2 }), remove: fc.subarray(POOL, { maxLength: 2 }) }), { nil: undefined, freq: 4 }),
  verifyFails: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  loadFails: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  saveFails: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
});

const roundArb: fc.Arbitrary<Round> = fc.record({
  prefixes: fc.subarray(POOL.slice(0, -1), { minLength: 1, maxLength: 8 }),
  handAdd: fc.subarray(POOL, { maxLength: 3 }),
  handRemove: fc.subarray(POOL, { maxLength: 3 }),
  dryRun: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  faults: faultsArb,
});

const settingsArb = fc.record({
  maxRules: fc.integer({ min: 3, max: 12 }),
  reserveRules: fc.integer({ min: 0, max: 2 }),
  mode: fc.constantFrom('merge' as const, 'authoritative' as const),
  policy: fc.constantFrom('sync' as const, 'add-only' as const),
  split31: fc.boolean(),
});

/**
 * Who may remove what. A rule is tagwall's once it wrote it, or adopted it and recorded that; it
 * stops being tagwall's when tagwall removes it or a record shows it gone. A rule that a concurrent
 * edit brings, or a person puts back after either, is theirs. (A rule removed and put back between
 * two records cannot be told from one that never left, so that stays tagwall's.)
 */
async function play(settings: Settings, start: string[], rounds: Round[]): Promise<void> {
  const config = configOf(settings);
  const vault = new Vault();
  const state = new State(vault);
  vault.set(start);
  const tagwalls = new Set<string>();
  const limit = settings.maxRules - settings.reserveRules;
  for (const [i, round] of rounds.entries()) {
    vault.set([...vault.rules.filter((r) => !round.handRemove.includes(r)), ...round.handAdd]);
    vault.gets = 0;
    vault.patches = 0;
    vault.faults = round.faults;
    vault.written = undefined;
    const present = new Set(vault.rules);
    const etag = state.etag;
    const doc = tinyDocument([{ name: 'Rounds', prefixes: round.prefixes }]);
    const [report] = (await reconcile(config, doc, { firewalls: vault.target(), state: state.access() }, { dryRun: round.dryRun, force: false })) as [VaultReport];
    const where = `round ${i}: ${report.outcome} ${report.error?.code ?? ''}`;

    // One GET, and only with changes a PATCH and a verifying GET.
    const wrote = vault.written !== undefined;
    expect(vault.patches, where).toBeLessThanOrEqual(1);
    expect(vault.gets, where).toBe(wrote ? 2 : 1);
    if (report.outcome === 'in-sync' || report.outcome === 'refused' || report.outcome === 'pending' || round.dryRun) expect(wrote, where).toBe(false);
    if (wrote) {
      if (settings.mode === 'merge') for (const r of report.remove) expect(tagwalls.has(r), `${where}: removed ${r}, which is not tagwall's`).toBe(true);
      if (settings.policy === 'add-only') expect(report.remove, where).toEqual([]);
      expect(vault.written!.length, where).toBeLessThanOrEqual(limit);
      for (const k of report.remove) tagwalls.delete(k);
      for (const k of report.add) tagwalls.add(k);
    }
    if (state.etag !== etag) {
      // Recorded: what a concurrent edit brought is known not to be tagwall's. (Unrecorded, as with
      // a record that cannot be read, that is lost, like an edit between two records.)
      if (wrote) for (const k of vault.rules) if (!vault.written!.includes(k)) tagwalls.delete(k);
      const seen = new Set(state.record!.observedRules.map(keyOf));
      const unmanaged = new Set(report.unmanaged);
      for (const k of present) if (!unmanaged.has(k) && !report.remove.includes(k)) tagwalls.add(k);
      for (const k of [...tagwalls]) if (!seen.has(k)) tagwalls.delete(k);
    }
  }
}

/** One merge-mode vault and its state, and a way to run one round with the given faults. */
function mergeRounds() {
  const config = configOf({ maxRules: 10, reserveRules: 0, mode: 'merge', policy: 'sync', split31: false });
  const vault = new Vault();
  const state = new State(vault);
  const run = async (prefixes: string[], faults: Partial<Faults> = {}) => {
    vault.gets = 0;
    vault.patches = 0;
    vault.faults = { verifyFails: false, loadFails: false, saveFails: false, ...faults };
    const doc = tinyDocument([{ name: 'Rounds', prefixes }]);
    return (await reconcile(config, doc, { firewalls: vault.target(), state: state.access() }, { dryRun: false, force: false }))[0]!;
  };
  return { vault, state, run };
}

describe('reconcile rounds', () => {
  it('records what the PATCH wrote when the verifying read fails, so a rule put back by hand stays', async () => {
    const { vault, state, run } = mergeRounds();
    expect((await run(['20.0.1.0/24', '20.0.2.0/24'])).outcome).toBe('applied');
    const failed = await run(['20.0.3.0/24'], { verifyFails: true });
    expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'VAULT_SERVER_ERROR' }, remove: ['20.0.1.0/24', '20.0.2.0/24'] });
    expect(state.record?.ownedRules).toEqual(['20.0.3.0/24']);
    // A person puts one of the removed rules back; it is theirs now.
    vault.set([...vault.rules, '20.0.1.0/24']);
    const next = await run(['20.0.4.0/24']);
    expect(next.remove).toEqual(['20.0.3.0/24']);
    expect(next.unmanaged).toEqual(['20.0.1.0/24']);
    expect(next.drift).toEqual([expect.objectContaining({ kind: 'added', rule: '20.0.1.0/24' })]);
  });

  it('releases removed rules before the PATCH, so a failed record afterwards cannot make tagwall remove them again', async () => {
    const { vault, state, run } = mergeRounds();
    expect((await run(['20.0.1.0/24', '20.0.2.0/24'])).outcome).toBe('applied');
    const failed = await run(['20.0.3.0/24'], { saveFails: true });
    expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'STATE_UNWRITABLE' }, remove: ['20.0.1.0/24', '20.0.2.0/24'] });
    expect(state.record?.ownedRules).toEqual([]);
    vault.set([...vault.rules, '20.0.1.0/24']);
    const next = await run(['20.0.4.0/24']);
    expect(next.remove).not.toContain('20.0.1.0/24');
    expect(next.unmanaged).toContain('20.0.1.0/24');
    expect(vault.rules).toContain('20.0.1.0/24');
  });

  it('fails the vault when the verifying read finds the firewall off again after tagwall turned it on', async () => {
    const config = parseConfig(
      { serviceTags: { source: 'file', path: 'unused.json' }, state: { store: 'file', path: 'unused-state.json' }, targets: [{ vault: VAULT, select: ['Rounds'], enforceDeny: true }] },
      { baseDir: '/nonexistent', source: 'test' },
    );
    const vault = new Vault();
    const state = new State(vault);
    const open = (fw: VaultFirewall): VaultFirewall => ({ ...fw, networkAcls: { ...fw.networkAcls!, defaultAction: 'Allow' } });
    // Someone turns the firewall off again right after tagwall's PATCH turned it on.
    const firewalls: FirewallTarget = {
      read: async () => open(vault.firewall()),
      write: async (_current, change) => {
        vault.set(change.ipRules);
        return { ...vault.firewall(), networkAcls: { ...vault.firewall().networkAcls!, defaultAction: change.defaultAction ?? 'Allow' } };
      },
    };
    const [report] = await reconcile(config, tinyDocument([{ name: 'Rounds', prefixes: ['20.0.1.0/24'] }]), { firewalls, state: state.access() }, { dryRun: false, force: false });
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'VERIFY_MISMATCH', message: expect.stringMatching(/defaultAction/) } });
    expect(vault.rules).toEqual(['20.0.1.0/24']);
  });

  it('never removes a rule tagwall does not own, across rounds with faults', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.subarray(POOL, { maxLength: 6 }), fc.array(roundArb, { minLength: 1, maxLength: 6 }), (settings, start, rounds) => play(settings, start, rounds)),
      { numRuns: 300 },
    );
  });
});
