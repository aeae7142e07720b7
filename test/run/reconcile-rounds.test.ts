import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, type TagwallConfig } from '../../src/config.js';
import { TagwallError } from '../../src/core/errors.js';
import { normaliseRule } from '../../src/core/rules.js';
import { parseVaultId } from '../../src/core/vault-id.js';
import type { AppliedRecord } from '../../src/core/vault-plan.js';
import { reconcile, type ReconcileDeps, type VaultReport } from '../../src/reconcile.js';
import type { FirewallState, FirewallTarget } from '../../src/targets/firewall.js';
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

  firewall(): FirewallState {
    return {
      resource: parseVaultId(VAULT),
      ipRules: [...this.rules],
      virtualNetworkRuleCount: 0,
      posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
      opaque: undefined,
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
  /** Records saved after a PATCH: the only ones that can have seen an edit made right after it. */
  savedAfterPatch = 0;
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
        if (this.vault.patches > 0) this.savedAfterPatch++;
        return String(this.etag);
      },
    };
  }
}

type Settings = Parameters<typeof configOf>[0];

function configOf(settings: { maxRules: number; reserveRules: number; mode: 'merge' | 'authoritative'; policy: 'sync' | 'add-only'; adopt: 'first-run' | 'never'; split31: boolean }): TagwallConfig {
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
  adopt: fc.constantFrom('first-run' as const, 'never' as const),
  split31: fc.boolean(),
});

/** A clock that moves an hour per run, as a weekly schedule would (intents of earlier runs are long stale). */
function hourly(): () => Date {
  let t = Date.parse('2025-10-13T00:00:00Z');
  return () => new Date((t += 3_600_000));
}

/**
 * The test's own record of who made each rule, kept without asking the code under test. A rule a
 * person adds (one that was not there) is theirs until a person removes it; tagwall must never make
 * it disappear. The only rule nobody can tell apart is one a concurrent edit adds that tagwall's own
 * PATCH wrote at the same moment (both made it), and one a person removes and puts back between two
 * runs (it looks as if it never left).
 */
async function play(settings: Settings, start: string[], rounds: Round[]): Promise<void> {
  const config = configOf(settings);
  const vault = new Vault();
  const state = new State(vault);
  const now = hourly();
  vault.set(start);
  const persons = new Set<string>(settings.adopt === 'never' ? vault.rules : []);
  const atFirstContact = new Set<string>(vault.rules);
  const both = new Set<string>();
  /** Rules tagwall's PATCHes brought, and those of them a person removed since tagwall last recorded the vault. */
  const tagwalls = new Set<string>();
  const goneUnseen = new Set<string>();
  const limit = settings.maxRules - settings.reserveRules;
  const personsSafe = settings.mode === 'merge' || settings.policy === 'add-only';
  for (const [i, round] of rounds.entries()) {
    const before = new Set(vault.rules);
    const putBack = new Set(round.handAdd.map(keyOf));
    for (const r of round.handRemove.map(keyOf)) {
      if (putBack.has(r) && before.has(r)) continue;
      persons.delete(r), both.delete(r);
      // A rule adopted on first contact is tagwall's from then on, like one its PATCH brought.
      if ((tagwalls.has(r) || atFirstContact.has(r)) && before.has(r)) goneUnseen.add(r);
    }
    vault.set([...vault.rules.filter((r) => !round.handRemove.includes(r)), ...round.handAdd]);
    // Removed and put back before tagwall recorded the vault, a rule of tagwall's looks as if it never left.
    // Until tagwall has confirmed a first write (a record with appliedAt, or one that owns a rule),
    // adopt: first-run may take over whatever is there, including what a person added meanwhile.
    const record0 = state.record;
    const adoptable = settings.adopt === 'first-run' && (record0 === undefined || (record0.appliedAt === undefined && record0.ownedRules.length === 0));
    for (const r of round.handAdd.map(keyOf)) if (!before.has(r)) (adoptable ? atFirstContact : goneUnseen.has(r) ? both : persons).add(r);
    if (adoptable) for (const r of vault.rules.map(keyOf)) if (persons.delete(r)) atFirstContact.add(r);
    vault.gets = 0;
    vault.patches = 0;
    vault.faults = round.faults;
    vault.written = undefined;
    const doc = tinyDocument([{ name: 'Rounds', prefixes: round.prefixes }]);
    const etag = state.etag;
    const savedAfter = state.savedAfterPatch;
    const present = new Set(vault.rules);
    const [report] = (await reconcile(config, doc, { firewalls: vault.target(), state: state.access(), now }, { dryRun: round.dryRun, force: false })) as [VaultReport];
    const where = `round ${i}: ${report.outcome} ${report.error?.code ?? ''}`;

    const wrote = vault.written !== undefined;
    expect(vault.patches, where).toBeLessThanOrEqual(1);
    // The record is read first; an unreadable one stops the vault before any GET.
    if (round.faults.loadFails) {
      expect(report, where).toMatchObject({ outcome: 'failed', error: { code: 'STATE_CORRUPT' } });
      expect(vault.gets, where).toBe(0);
    } else {
      expect(vault.gets, where).toBe(wrote ? 2 : 1);
    }
    if (report.outcome === 'in-sync' || report.outcome === 'refused' || report.outcome === 'pending' || round.dryRun) expect(wrote, where).toBe(false);
    // A record saved in this round saw the hand edits made before it.
    if (state.etag !== etag) goneUnseen.clear();
    if (wrote) {
      expect(vault.written!.length, where).toBeLessThanOrEqual(limit);
      if (settings.policy === 'add-only') expect(report.remove, where).toEqual([]);
      const c = round.faults.concurrent;
      for (const r of vault.written!) if (!present.has(r)) tagwalls.add(r);
      // An edit right after the PATCH is seen only by a record saved after the PATCH.
      const seenAfter = state.savedAfterPatch > savedAfter;
      for (const r of (c?.remove ?? []).map(keyOf)) {
        persons.delete(r), both.delete(r);
        if ((tagwalls.has(r) || atFirstContact.has(r)) && vault.written!.includes(r) && !seenAfter) goneUnseen.add(r);
      }
      for (const r of (c?.add ?? []).map(keyOf)) if (vault.written!.includes(r)) both.add(r);
      else persons.add(r);
    }
    if (personsSafe) {
      for (const r of persons) if (!both.has(r)) expect(vault.rules, `${where}: a person's ${r} is gone`).toContain(r);
    }
    // Nothing tagwall wrote is left without a record that owns it (or announced it).
    const record = state.record;
    const claimed = new Set([...(record?.ownedRules ?? []), ...(record?.intent?.add ?? [])].map(keyOf));
    for (const r of vault.rules) {
      expect(persons.has(r) || both.has(r) || atFirstContact.has(r) || claimed.has(r), `${where}: ${r} is nobody's`).toBe(true);
    }
  }
}

/** One merge-mode vault and its state, and a way to run one round with the given faults. */
function mergeRounds() {
  const config = configOf({ maxRules: 10, reserveRules: 0, mode: 'merge', policy: 'sync', adopt: 'first-run', split31: false });
  const vault = new Vault();
  const state = new State(vault);
  const now = hourly();
  const run = async (prefixes: string[], faults: Partial<Faults> = {}) => {
    vault.gets = 0;
    vault.patches = 0;
    vault.faults = { verifyFails: false, loadFails: false, saveFails: false, ...faults };
    const doc = tinyDocument([{ name: 'Rounds', prefixes }]);
    return (await reconcile(config, doc, { firewalls: vault.target(), state: state.access(), now }, { dryRun: false, force: false }))[0]!;
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
    const open = (fw: FirewallState): FirewallState => ({ ...fw, posture: { ...fw.posture, defaultAction: 'Allow' } });
    // Someone turns the firewall off again right after tagwall's PATCH turned it on.
    const firewalls: FirewallTarget = {
      read: async () => open(vault.firewall()),
      write: async (_current, change) => {
        vault.set(change.ipRules);
        return { ...vault.firewall(), posture: { ...vault.firewall().posture, defaultAction: change.defaultAction ?? 'Allow' } };
      },
    };
    const [report] = await reconcile(config, tinyDocument([{ name: 'Rounds', prefixes: ['20.0.1.0/24'] }]), { firewalls, state: state.access() }, { dryRun: false, force: false });
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'VERIFY_MISMATCH', message: expect.stringMatching(/defaultAction/) } });
    expect(vault.rules).toEqual(['20.0.1.0/24']);
  });

  it('never removes a rule tagwall does not own, across rounds with faults', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.subarray(POOL, { maxLength: 6 }), fc.array(roundArb, { minLength: 1, maxLength: 6 }), (settings, start, rounds) => play(settings, start, rounds)),
      { numRuns: 300, ...(process.env.TAGWALL_FC_SEED === undefined ? {} : { seed: Number(process.env.TAGWALL_FC_SEED), path: process.env.TAGWALL_FC_PATH }) },
    );
  });
});
