import { describe, expect, it } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import type { RawConfig } from '../../src/config/config.js';
import type { SeedVault } from '../../src/emulator/model.js';
import type { RunReport } from '../../src/run/run.js';
import { vaultId, type TestEmulator } from '../helpers/emulator.js';
import { useTargetRuns, type TargetRuns } from '../helpers/run-target.js';

/**
 * A profile's scope, end to end through the emulator's Resource Graph and Key Vaults: whoever
 * may tag a firewall may name any profile, so a profile limited to some subscriptions or
 * resource groups is never written anywhere else (PROFILE_OUT_OF_SCOPE), with a warning and an
 * alert like an unknown profile. What each test expects comes from the seed it wrote.
 */

const SUB_A = '1a1a1a1a-0000-4000-8000-00000000000a';
const SUB_B = '2b2b2b2b-0000-4000-8000-00000000000b';

const vault = (name: string, sub: string, group: string, tags: Record<string, string>, rules: string[] = []): SeedVault => ({
  id: vaultId(name, sub, group),
  tags,
  networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: rules.map((value) => ({ value })) },
});

let emu: TestEmulator;
let runs: TargetRuns;
useTargetRuns((e, r) => {
  emu = e;
  runs = r;
});

const byVault = (report: RunReport, name: string) => report.vaults.find((v) => v.vault.toLowerCase().endsWith(`/vaults/${name.toLowerCase()}`));

async function requestsFor(name: string): Promise<number> {
  return (await emu.emulator.control.requests({ vault: name })).length;
}

async function rulesOf(name: string): Promise<string[]> {
  return ((await emu.emulator.control.vault(name))?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

describe('profile scope', () => {
  it('writes a scoped profile only inside its subscriptions and resource groups; elsewhere the firewall is skipped unread, with a warning and an alert', async () => {
    await emu.reset({
      vaults: [
        // `prod` may be used in subscription A and in B's rg-prod; `devops` everywhere.
        vault('kv-a-any', SUB_A, 'rg-anything', { tagwall: 'prod' }),
        vault('kv-b-prod', SUB_B, 'RG-Prod', { tagwall: 'prod' }),
        vault('kv-b-dev', SUB_B, 'rg-dev', { tagwall: 'PROD' }, ['52.1.2.9']),
        vault('kv-b-devops', SUB_B, 'rg-dev', { tagwall: 'devops' }),
      ],
    });
    await emu.emulator.control.clearRequests();
    const profiles: RawConfig['profiles'] = {
      devops: { select: ['AzureDevOps'] },
      // A full resource-group ID in another case: compared case-insensitively, as Azure does.
      prod: { select: ['PowerBI'], maxRules: 900, scope: { subscriptions: [SUB_A.toUpperCase()], resourceGroups: [`/subscriptions/${SUB_B}/resourceGroups/rg-prod`] } },
    };
    const config = runs.config([], { profiles, discover: { tag: 'tagwall', lagMinutes: 0 } });
    const lines: string[] = [];
    const logger: AlertLogger = { info: () => undefined, warn: (m) => void lines.push(m), error: (m) => void lines.push(m) };
    const report = await runs.sync(config, { alerts: 'send' }, { logger });

    expect(byVault(report, 'kv-a-any')).toMatchObject({ outcome: 'applied', profile: 'prod' });
    expect(byVault(report, 'kv-b-prod')).toMatchObject({ outcome: 'applied', profile: 'prod' });
    expect(byVault(report, 'kv-b-devops')).toMatchObject({ outcome: 'applied', profile: 'devops' });
    const outside = byVault(report, 'kv-b-dev')!;
    expect(outside.outcome).toBe('skipped');
    expect(outside.reasons.map((r) => r.code)).toEqual(['PROFILE_OUT_OF_SCOPE']);
    expect(outside.findings).toEqual([expect.objectContaining({ code: 'PROFILE_OUT_OF_SCOPE', severity: 'warning', profile: 'PROD' })]);
    expect(report.fleet).toMatchObject({ discovered: 3, unprotected: 1 });

    // Never read, never written: its rule is the one it had.
    expect(await requestsFor('kv-b-dev')).toBe(0);
    expect(await rulesOf('kv-b-dev')).toEqual(['52.1.2.9/32']);

    // One alert, for that firewall, of the kind an unknown profile raises.
    const alerts = lines.filter((l) => l.startsWith('tagwall.alert ')).map((l) => JSON.parse(l.slice('tagwall.alert '.length)) as { vault: string; kind: string; title: string; severity: string });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ vault: vaultId('kv-b-dev', SUB_B, 'rg-dev'), kind: 'unknown-profile', severity: 'warning' });
    expect(alerts[0]!.title).toContain('may not be used where it is');
  });

  it('a scope given in TAGWALL_PROFILES works the same', async () => {
    await emu.reset({ vaults: [vault('kv-in', SUB_A, 'rg-one', { tagwall: 'team' }), vault('kv-out', SUB_A, 'rg-two', { tagwall: 'team' })] });
    await emu.emulator.control.clearRequests();
    const { loadConfig } = await import('../../src/config/load.js');
    const env = {
      TAGWALL_DISCOVER_TAG: 'tagwall',
      TAGWALL_PROFILES: JSON.stringify({ team: { select: ['AzureDevOps'], scope: { resourceGroups: [`${SUB_A}/RG-ONE`] } } }),
    };
    const fromSettings = await loadConfig({ env, cwd: '/' });
    // The same profiles on the emulator's endpoint and a fresh state file.
    const config = runs.config([], { profiles: fromSettings.parsed.profiles, discover: { tag: 'tagwall', lagMinutes: 0 } });
    const report = await runs.sync(config);
    expect(byVault(report, 'kv-in')).toMatchObject({ outcome: 'applied' });
    expect(byVault(report, 'kv-out')!.reasons.map((r) => r.code)).toEqual(['PROFILE_OUT_OF_SCOPE']);
    expect(await requestsFor('kv-out')).toBe(0);
  });
});
