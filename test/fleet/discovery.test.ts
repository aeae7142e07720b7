import { describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/config/config.js';
import type { RunReport } from '../../src/run/run.js';
import type { SeedVault } from '../../src/emulator/model.js';
import { vaultId, type TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';
import { BUNDLED } from '../helpers/cli.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { minus, span, union, wantedSpans, type Span } from '../core/reference.js';
import { createGraphReader } from '../../src/fleet/graph-client.js';
import { discoverFleet } from '../../src/fleet/discovery.js';

/**
 * Discovery by tag through Resource Graph, end to end: the emulator's Resource Graph endpoint
 * and Key Vaults, Resource Graph through the Azure REST client, the real @azure/arm-keyvault client, runSync.
 * What each test expects comes from the seed it wrote, never from the run's own report.
 */

const SUB_A = '1a1a1a1a-0000-4000-8000-00000000000a';
const SUB_B = '2b2b2b2b-0000-4000-8000-00000000000b';
const SUB_C = '3c3c3c3c-0000-4000-8000-00000000000c';

const id = (name: string, sub = SUB_A) => vaultId(name, sub, 'rg-fleet');
const vault = (name: string, sub: string, tags: Record<string, string> | undefined, rules: string[] = []): SeedVault => ({
  id: id(name, sub),
  ...(tags === undefined ? {} : { tags }),
  networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: rules.map((value) => ({ value })) },
});

const PROFILES = { devops: { select: ['AzureDevOps'] }, bi: { select: ['PowerBI'], maxRules: 900 } };

let emu: TestEmulator;
let runs: TargetRuns;
useTargetRuns((e, r) => {
  emu = e;
  runs = r;
});

function discovering(extra: Partial<RawConfig> = {}, targets: RawConfig['targets'] = []) {
  return runs.config(targets, { profiles: PROFILES, discover: { tag: 'tagwall', lagMinutes: 0 }, ...extra });
}

/** Requests the emulator served, by route kind, since the last reset of its counters. */
async function requests(): Promise<{ gets: number; patches: number; graph: number; byVault: (name: string) => number }> {
  const stats = await emu.emulator.control.stats();
  const log = (await emu.emulator.control.requests()) as { method: string; path: string }[];
  return {
    gets: stats.byRoute['GET vault'] ?? 0,
    patches: stats.byRoute['PATCH vault'] ?? 0,
    graph: stats.byRoute['POST graph'] ?? 0,
    byVault: (name) => log.filter((r) => r.path.toLowerCase().includes(`/vaults/${name.toLowerCase()}`)).length,
  };
}

async function wanted(tag: string): Promise<Span[]> {
  const doc = await loadServiceTagFile(BUNDLED);
  return wantedSpans(doc.tags.find((t) => t.name === tag)!.addressPrefixes);
}

function spansOf(rules: readonly string[]): Span[] {
  return union(rules.map((r) => span(r.includes('/') ? r : `${r}/32`)));
}

async function rulesOf(name: string, sub = SUB_A): Promise<string[]> {
  const v = await emu.sdk(sub).vaults.get('rg-fleet', name);
  return (v.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

const byVault = (report: RunReport, name: string) => report.vaults.find((v) => v.vault.toLowerCase().endsWith(`/vaults/${name.toLowerCase()}`));

describe('discovery by tag', () => {
  it('protects tagged vaults with their profile, skips off and untagged ones unread, and reports an unknown profile without writing', async () => {
    await emu.reset({
      vaults: [
        vault('kv-devops', SUB_A, { tagwall: 'devops' }),
        vault('kv-upper', SUB_A, { TagWall: 'DevOps' }),
        vault('kv-off', SUB_A, { tagwall: 'Off' }, ['52.1.2.7']),
        vault('kv-nope', SUB_B, { tagwall: 'nope' }, ['52.1.2.8']),
        vault('kv-untagged', SUB_B, undefined, ['52.1.2.9']),
        vault('kv-other-tag', SUB_B, { owner: 'devops' }),
        vault('kv-explicit', SUB_B, { tagwall: 'devops' }),
      ],
    });
    await emu.emulator.control.resetStats();
    const config = discovering({}, [{ vault: id('kv-explicit', SUB_B), select: ['PowerBI'], maxRules: 900 }]);
    const report = await runs.sync(config, { alerts: 'off' });

    expect(report.fleet).toMatchObject({ discovered: 2, explicit: 1, overridden: 1, optedOut: 1, unprotected: 1 });
    expect(byVault(report, 'kv-devops')).toMatchObject({ outcome: 'applied', profile: 'devops' });
    // The tag key in another case, and the value too: Azure compares tags case-insensitively.
    expect(byVault(report, 'kv-upper')).toMatchObject({ outcome: 'applied', profile: 'devops' });
    const nope = byVault(report, 'kv-nope')!;
    expect(nope.outcome).toBe('skipped');
    expect(nope.reasons.map((r) => r.code)).toEqual(['UNKNOWN_PROFILE']);
    expect(nope.findings).toEqual([expect.objectContaining({ code: 'UNKNOWN_PROFILE', severity: 'warning', profile: 'nope' })]);
    // The explicit target wins: its own selection, and the report says the tag was not used.
    const explicit = byVault(report, 'kv-explicit')!;
    expect(explicit.outcome).toBe('applied');
    expect(explicit.profile).toBeUndefined();
    expect(explicit.findings.map((f) => f.code)).toContain('EXPLICIT_TARGET');
    expect(byVault(report, 'kv-off')).toBeUndefined();
    expect(byVault(report, 'kv-untagged')).toBeUndefined();
    expect(report.vaults).toHaveLength(4);

    // Never read or written: not a single request names them.
    const seen = await requests();
    for (const name of ['kv-off', 'kv-nope', 'kv-untagged', 'kv-other-tag']) expect(seen.byVault(name), name).toBe(0);
    expect(await rulesOf('kv-off')).toEqual(['52.1.2.7/32']);
    expect(await rulesOf('kv-nope', SUB_B)).toEqual(['52.1.2.8/32']);

    // What was written covers each one's tag (the reference's set algebra, not the plan's).
    expect(minus(await wanted('AzureDevOps'), spansOf(await rulesOf('kv-devops')))).toEqual([]);
    expect(minus(await wanted('AzureDevOps'), spansOf(await rulesOf('kv-upper')))).toEqual([]);
    expect(minus(await wanted('PowerBI'), spansOf(await rulesOf('kv-explicit', SUB_B)))).toEqual([]);
  });

  it('picks up a newly tagged vault on the next run, and then checks an unchanged fleet with Resource Graph alone', async () => {
    await emu.reset({ vaults: [vault('kv-1', SUB_A, { tagwall: 'devops' }), vault('kv-2', SUB_B, { tagwall: 'bi' })] });
    const config = discovering();
    const first = await runs.sync(config);
    expect(first.vaults.map((v) => [v.vault.split('/').pop(), v.outcome])).toEqual([
      ['kv-1', 'applied'],
      ['kv-2', 'applied'],
    ]);
    // A vault tagged after the first run: nobody edits the configuration.
    await emu.sdk(SUB_A).vaults.createOrUpdate('rg-fleet', 'kv-3', { location: 'westeurope', tags: { tagwall: 'devops' }, properties: { tenantId: '00000000-0000-0000-0000-000000000001', sku: { family: 'A', name: 'standard' } } });
    const second = await runs.sync(config);
    expect(byVault(second, 'kv-3')).toMatchObject({ outcome: 'applied', profile: 'devops' });
    // kv-1 and kv-2 were written last run: read directly, found in step, and now confirmed.
    expect(byVault(second, 'kv-1')).toMatchObject({ outcome: 'in-sync' });
    expect(byVault(second, 'kv-1')!.checkedBy).toBeUndefined();

    await runs.sync(config); // confirms kv-3
    await emu.emulator.control.resetStats();
    const steady = await runs.sync(config);
    expect(steady.vaults.map((v) => [v.outcome, v.checkedBy])).toEqual([
      ['in-sync', 'resource-graph'],
      ['in-sync', 'resource-graph'],
      ['in-sync', 'resource-graph'],
    ]);
    const seen = await requests();
    expect(seen).toMatchObject({ gets: 0, patches: 0, graph: 1 });
    expect(steady.fleet?.graph).toMatchObject({ requests: 1, throttled: 0 });
    expect(steady.fleet!.graph!.bytes).toBeGreaterThan(0);

    // A hand edit shows up in Resource Graph: that vault alone is read again.
    await emu.emulator.control.addRule(id('kv-2', SUB_B), '52.99.100.0/24');
    await emu.emulator.control.resetStats();
    const edited = await runs.sync(config);
    expect(byVault(edited, 'kv-2')).toMatchObject({ outcome: 'in-sync', unmanaged: ['52.99.100.0/24'] });
    expect(byVault(edited, 'kv-2')!.checkedBy).toBeUndefined();
    expect(byVault(edited, 'kv-1')!.checkedBy).toBe('resource-graph');
    expect((await requests()).gets).toBe(1);
  });

  it('settles an unchanged vault from the plan its record remembers, and plans again when the profile changes', async () => {
    await emu.reset({ vaults: [vault('kv-memo', SUB_A, { tagwall: 'devops' }, ['52.1.2.3'])] });
    const config = discovering();
    await runs.sync(config); // applies
    const confirmed = await runs.sync(config); // a direct read, in step: the plan is remembered
    expect(confirmed.vaults[0]).toMatchObject({ outcome: 'in-sync' });
    const settled = await runs.sync(config);
    const v = settled.vaults[0]!;
    expect(v).toMatchObject({ outcome: 'in-sync', checkedBy: 'resource-graph', unmanaged: ['52.1.2.3/32'] });
    // The same figures as the plan that read the vault, without planning again.
    const planned = confirmed.vaults[0]!;
    expect({ rules: v.rules, excess: v.excessAddresses, findings: v.findings.map((f) => f.code), unmanaged: v.unmanaged }).toEqual({
      rules: planned.rules,
      excess: planned.excessAddresses,
      findings: planned.findings.map((f) => f.code),
      unmanaged: planned.unmanaged,
    });
    // Another selection: the remembered plan no longer applies; the new plan writes (after a direct read).
    await emu.emulator.control.resetStats();
    const moved = await runs.sync(discovering({ profiles: { ...PROFILES, devops: { select: ['AzureDevOps', 'PowerBI'] } } }));
    expect(moved.vaults[0]).toMatchObject({ outcome: 'applied' });
    expect((await requests()).patches).toBe(1);
  });

  it('does not rewrite or report as drift a vault that Resource Graph still shows as it was before tagwall wrote it', async () => {
    await emu.reset({ vaults: [vault('kv-lag', SUB_A, { tagwall: 'devops' })] });
    await emu.emulator.control.updateSettings({ graphLagMs: 1_500 });
    try {
      await new Promise((r) => setTimeout(r, 1_600)); // the seed becomes visible
      const config = discovering({ discover: { tag: 'tagwall', lagMinutes: 0.5 } });
      expect((await runs.sync(config)).vaults[0]).toMatchObject({ outcome: 'applied' });
      await emu.emulator.control.resetStats();
      // Resource Graph now shows the vault empty, as it was before the write.
      const again = await runs.sync(config);
      expect(again.vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
      const drift = await runs.sync(config, { dryRun: true });
      expect(drift.vaults[0]).toMatchObject({ outcome: 'in-sync', drift: [] });
      expect((await requests()).patches).toBe(0);
    } finally {
      await emu.emulator.control.updateSettings({ graphLagMs: 0 });
    }
  });

  it('names a subscription or management group it cannot read, and still protects the rest', async () => {
    await emu.reset({ vaults: [vault('kv-a', SUB_A, { tagwall: 'devops' }), vault('kv-c', SUB_C, { tagwall: 'devops' })] });
    await emu.emulator.control.setSubscriptionReadable(SUB_C, false);
    try {
      const report = await runs.sync(discovering({ discover: { tag: 'tagwall', lagMinutes: 0, scope: { subscriptions: [SUB_A, SUB_C] } } }));
      expect(report.vaults.map((v) => v.vault)).toEqual([id('kv-a', SUB_A)]);
      expect(report.fleet!.findings).toEqual([expect.objectContaining({ code: 'SCOPE_UNREADABLE', severity: 'warning', subscriptionId: SUB_C })]);

      await emu.emulator.control.setManagementGroup({ name: 'mg-platform', subscriptions: [SUB_A] });
      await emu.emulator.control.setManagementGroup({ name: 'mg-secret', subscriptions: [SUB_C], readable: false });
      const groups = await runs.sync(discovering({ discover: { tag: 'tagwall', lagMinutes: 0, scope: { managementGroups: ['mg-platform', 'mg-secret'] } } }));
      expect(groups.vaults.map((v) => v.vault)).toEqual([id('kv-a', SUB_A)]);
      expect(groups.fleet!.findings).toEqual([expect.objectContaining({ code: 'SCOPE_UNREADABLE', managementGroup: 'mg-secret' })]);
    } finally {
      await emu.emulator.control.setSubscriptionReadable(SUB_C, true);
    }
  });

  it('makes no removal anywhere when the fleet suddenly shrinks, until --force accepts it', async () => {
    const names = ['kv-s1', 'kv-s2', 'kv-s3', 'kv-s4'];
    await emu.reset({ vaults: names.map((n) => vault(n, SUB_A, { tagwall: 'devops' })) });
    const before = await runs.sync(discovering());
    expect(before.vaults.every((v) => v.outcome === 'applied')).toBe(true);
    const devopsRules = await rulesOf('kv-s1');
    // Three of four lose their tag (say, a policy rewrote the tags), and the profile moves to another tag.
    for (const n of names.slice(1)) await emu.sdk(SUB_A).vaults.update('rg-fleet', n, { tags: { tagwall: 'off' } });
    const moved = discovering({ profiles: { devops: { select: ['PowerBI'], maxRules: 900 } } });
    const shrunk = await runs.sync(moved);
    expect(shrunk.fleet!.findings).toEqual([expect.objectContaining({ code: 'DISCOVERY_SHRANK', severity: 'critical', discovered: 1, lastRun: 4 })]);
    const s1 = byVault(shrunk, 'kv-s1')!;
    expect(s1.remove).toEqual([]);
    expect(s1.add.length).toBeGreaterThan(0);
    const after = new Set(await rulesOf('kv-s1'));
    for (const r of devopsRules) expect(after.has(r), r).toBe(true);

    const forced = await runs.sync(moved, { force: true });
    expect(forced.fleet!.findings.map((f) => f.code)).toEqual(['DISCOVERY_SHRANK']);
    expect(byVault(forced, 'kv-s1')!.remove.length).toBeGreaterThan(0);
    // The smaller fleet is now the baseline.
    const next = await runs.sync(moved);
    expect(next.fleet!.findings).toEqual([]);
  });

  it('refuses a profile that selects a tag the file does not have before any request, even when no vault carries it', async () => {
    await emu.reset({ vaults: [vault('kv-ok', SUB_A, { tagwall: 'devops' })] });
    await emu.emulator.control.resetStats();
    const config = discovering({ profiles: { ...PROFILES, typo: { select: ['AzureDevOpz'] } } });
    await expect(runs.sync(config)).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: [expect.stringMatching(/^profiles\.typo\.select: /)] });
    expect(await requests()).toMatchObject({ graph: 0, gets: 0, patches: 0 });
  });

  it('pages through 2,500 tagged vaults in pages of 1,000, and waits for the quota window when Resource Graph says it is spent', async () => {
    await emu.reset();
    const fleet = await emu.emulator.control.seedFleet({ subscriptions: 5, vaults: 2_500, tag: { name: 'tagwall', values: ['devops'] }, untagged: 30 });
    const reader = createGraphReader({ endpoint: emu.emulator.url, credential: emu.credential, tls: { ca: emu.emulator.caCert } });
    const found = await discoverFleet(discovering(), reader);
    expect(found.targets.map((t) => t.resource.id).sort()).toEqual(fleet.ids.slice(0, 2_500).sort());
    expect(reader.stats()).toMatchObject({ requests: 3, throttled: 0, quotaWaits: 0 });

    // A quota of 2 queries per window: the third page waits for the window instead of meeting a 429.
    await emu.emulator.control.updateSettings({ graphQuota: { queries: 2, windowMs: 1_500 } });
    await new Promise((r) => setTimeout(r, 1_600)); // the first reader's queries leave the window
    try {
      const slow = createGraphReader({ endpoint: emu.emulator.url, credential: emu.credential, tls: { ca: emu.emulator.caCert } });
      const again = await discoverFleet(discovering(), slow);
      expect(again.targets).toHaveLength(2_500);
      expect(slow.stats()).toMatchObject({ requests: 3, throttled: 0, quotaWaits: 1 });
    } finally {
      await emu.emulator.control.updateSettings({ graphQuota: { queries: 15, windowMs: 5_000 } });
      await emu.reset();
    }
  });

  it('waits out Resource Graph 429s, and fails discovery (adding only) when they do not stop', async () => {
    await emu.reset({ vaults: [vault('kv-q', SUB_A, { tagwall: 'devops' })] });
    await emu.emulator.control.throttleGraph(2, 1);
    const report = await runs.sync(discovering());
    expect(report.fleet!.graph).toMatchObject({ throttled: 2 });
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied' });

    // Throttled past its patience: the run says so, keeps explicit targets in step, and removes nothing.
    await emu.emulator.control.throttleGraph(50, 1);
    const explicit = { vault: id('kv-q', SUB_A), select: ['PowerBI'], maxRules: 900 };
    const failed = await runs.sync(discovering({}, [explicit]));
    expect(failed.errors).toEqual([expect.objectContaining({ code: 'GRAPH_THROTTLED' })]);
    expect(failed.fleet!.findings.map((f) => f.code)).toEqual(['DISCOVERY_SHRANK']);
    expect(failed.vaults).toHaveLength(1);
    expect(failed.vaults[0]).toMatchObject({ outcome: 'applied', remove: [] });
    await emu.reset();
  });
});
