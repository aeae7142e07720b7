import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSync, type RunOptions } from '../../src/run/run.js';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig } from '../../src/config/config.js';
import { parseCidr } from '../../src/core/ip-text.js';
import { countAddresses, mergeRanges, rangesOf, subtractRanges, type AddressRange } from '../../src/core/ipv4.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import type { RunReport } from '../../src/run/run.js';
import { FAST_RETRY, seedVault, startTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';
import { BUNDLED, FIXTURES } from '../helpers/cli.js';
import { ACTIONS } from '../../src/alerts/actions.js';

// Reconcile rounds through the real SDK client, over HTTPS, against the emulator.

const WEEK1 = `${FIXTURES}ServiceTags_Public_20251006.json.gz`;
const WEEK2 = BUNDLED; // Public 20251013
const OFFICE = '81.2.69.142';

let emu: TestEmulator;
let stateDir: string;

const logger: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function config(targets: RawConfig['targets'], extra: Partial<RawConfig> = {}, tags = WEEK2): ReturnType<typeof parseConfig> {
  return parseConfig(
    { serviceTags: { source: 'file', path: tags }, arm: { endpoint: emu.emulator.url }, state: { store: 'file', path: join(stateDir, 'state.json') }, targets, ...extra },
    { baseDir: stateDir, source: 'test' },
  );
}

async function sync(cfg: ReturnType<typeof parseConfig>, options: Partial<RunOptions> = {}): Promise<RunReport> {
  const { report } = await runSync(cfg, { dryRun: false, force: false, alerts: 'off', ...options }, {
    env: {},
    logger,
    credential: emu.credential,
    armCa: emu.emulator.caCert,
    armRetry: FAST_RETRY,
  });
  return report;
}

async function rulesOf(name: string): Promise<string[]> {
  const v = await emu.emulator.control.vault(name);
  return (v?.properties.networkAcls?.ipRules ?? []).map((r) => r.value);
}

async function requests(name: string): Promise<string[]> {
  return (await emu.emulator.control.requests({ vault: name, kind: 'arm' })).map((r) => `${r.method} ${r.status}`);
}

function ranges(rules: readonly string[]): AddressRange[] {
  return rangesOf(rules.map((r) => parseCidr(r, { hostBits: 'mask' })));
}

async function tagRanges(file: string, tag: string): Promise<AddressRange[]> {
  const doc = await loadServiceTagFile(file);
  return rangesOf(doc.tags.find((t) => t.name === tag)!.ipv4);
}

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu?.close();
});
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'tagwall-reconcile-'));
  await emu.reset({
    vaults: [
      seedVault('kv-app', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: OFFICE }], virtualNetworkRules: [{ id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tagwall-test/providers/Microsoft.Network/virtualNetworks/vnet/subnets/app' }] }),
      seedVault('kv-other', { defaultAction: 'Deny', bypass: 'None', ipRules: [] }),
    ],
  });
});

describe('reconcile rounds', () => {
  it('first round applies with one GET, one PATCH and one verifying GET; hand-made rules and VNet rules survive', async () => {
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]));
    expect(report.vaults[0]).toMatchObject({ outcome: 'applied', unmanaged: [`${OFFICE}/32`] });
    expect(await requests('kv-app')).toEqual(['GET 200', 'PATCH 200', 'GET 200']);
    const rules = await rulesOf('kv-app');
    expect(rules).toContain(`${OFFICE}/32`);
    // The vault now allows exactly the tag's addresses plus the office, nothing more (the tag fits the budget losslessly).
    const want = mergeRanges([...(await tagRanges(WEEK2, 'AzureDevOps')), ...ranges([OFFICE])]);
    expect(ranges(rules)).toEqual(want);
    const vault = await emu.emulator.control.vault('kv-app');
    expect(vault?.properties.networkAcls).toMatchObject({ defaultAction: 'Deny', bypass: 'AzureServices', virtualNetworkRules: [expect.objectContaining({ id: expect.stringContaining('/subnets/app') })] });
  });

  it('second round makes zero PATCH calls', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    await sync(cfg);
    await emu.emulator.control.clearRequests();
    const report = await sync(cfg);
    expect(report.vaults[0]!.outcome).toBe('in-sync');
    expect(report.vaults[0]!.drift).toEqual([]);
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('owned stale rules go when the week changes; unmanaged rules stay', async () => {
    const target = [{ vault: vaultId('kv-app'), select: ['AzureCloud.westeurope'] }];
    await sync(config(target, {}, WEEK1));
    const before = await rulesOf('kv-app');
    const report = await sync(config(target, {}, WEEK2));
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('applied');
    expect(v.remove.length).toBeGreaterThan(0);
    expect(v.add.length).toBeGreaterThan(0);
    const after = await rulesOf('kv-app');
    expect(after).toContain(`${OFFICE}/32`);
    for (const r of v.remove) expect(after).not.toContain(r);
    for (const r of v.remove) expect(before).toContain(r);
    // Everything the new week lists is allowed.
    const uncovered = subtractRanges(await tagRanges(WEEK2, 'AzureCloud.westeurope'), ranges(after));
    expect(countAddresses(uncovered)).toBe(0);
  });

  it('authoritative mode removes strangers', async () => {
    // The office is the vault's only rule, so removing it is 100% of the rules: lift that guard here.
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'], mode: 'authoritative' }], { guards: { maxRemovedFraction: 1 } }));
    expect(report.vaults[0]!.outcome).toBe('applied');
    expect(report.vaults[0]!.remove).toEqual([`${OFFICE}/32`]);
    expect(await rulesOf('kv-app')).not.toContain(`${OFFICE}/32`);
  });

  it('add-only never removes', async () => {
    const week1 = [{ vault: vaultId('kv-app'), select: ['AzureCloud.westeurope'], policy: 'add-only' as const }];
    await sync(config(week1, {}, WEEK1));
    const before = await rulesOf('kv-app');
    const report = await sync(config(week1, {}, WEEK2));
    expect(report.vaults[0]!.remove).toEqual([]);
    const after = await rulesOf('kv-app');
    for (const r of before) expect(after).toContain(r);
  });

  it('keeps the whole vault within maxRules, counting unmanaged rules', async () => {
    // LogicApps in 190 rules widens far beyond the default guards; this test is about the limit alone.
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['LogicApps'], maxRules: 200, reserveRules: 10, guards: { maxExcessAddresses: 2 ** 32, maxWidenedPrefix: 0 } }]));
    expect(report.vaults[0]!.outcome).toBe('applied');
    const rules = await rulesOf('kv-app');
    expect(rules.length).toBeLessThanOrEqual(190);
    expect(rules).toContain(`${OFFICE}/32`);
    expect(countAddresses(subtractRanges(await tagRanges(WEEK2, 'LogicApps'), ranges(rules)))).toBe(0);
  });
});

describe('guards refuse the write and leave the vault as it was', () => {
  it('an empty desired set', async () => {
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'], exclude: ['0.0.0.0/1', '128.0.0.0/1'] }]));
    expect(report.vaults[0]!.outcome).toBe('refused');
    expect(report.vaults[0]!.reasons.map((r) => r.code)).toEqual(['EMPTY_SOURCE_GUARD']);
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('a source that shrank too much since the last apply', async () => {
    await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps', 'PowerBI'] }]));
    await emu.emulator.control.clearRequests();
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]));
    expect(report.vaults[0]!.outcome).toBe('refused');
    expect(report.vaults[0]!.reasons.map((r) => r.code)).toEqual(['SOURCE_SHRINK_GUARD', 'REMOVAL_GUARD']);
    expect(report.vaults[0]!.reasons[0]).toMatchObject({ limitFraction: 0.2, after: expect.any(Number), before: expect.any(Number) });
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('removing more than maxRemovedFraction of the rules', async () => {
    await emu.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: ['81.2.69.1', '81.2.69.2', '81.2.69.3'].map((value) => ({ value })) })] });
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'], mode: 'authoritative' }]));
    expect(report.vaults[0]!.outcome).toBe('refused');
    expect(report.vaults[0]!.reasons).toEqual([expect.objectContaining({ code: 'REMOVAL_GUARD', removed: 3, current: 3 })]);
    expect(await rulesOf('kv-app')).toEqual(['81.2.69.1/32', '81.2.69.2/32', '81.2.69.3/32']);
  });

  it('too many excess addresses, and --force overrides it with a note in the report', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['LogicApps'], maxRules: 100 }], { guards: { maxExcessAddresses: 1000 } });
    const refused = await sync(cfg);
    expect(refused.vaults[0]!.outcome).toBe('refused');
    expect(refused.vaults[0]!.reasons).toEqual([expect.objectContaining({ code: 'EXCESS_GUARD' })]);
    const forced = await sync(cfg, { force: true });
    expect(forced.vaults[0]!.outcome).toBe('applied');
    expect(forced.vaults[0]!.forced).toEqual([expect.objectContaining({ code: 'EXCESS_GUARD', limit: 1000 })]);
  });
});

describe('drift and posture', () => {
  it('reports owned rules removed and rules added outside tagwall, on a dry run, without writing', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    await sync(cfg);
    const rules = await rulesOf('kv-app');
    const victim = rules.find((r) => r !== `${OFFICE}/32`)!;
    await emu.sdk().vaults.update('rg-tagwall-test', 'kv-app', {
      properties: { networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [...rules.filter((r) => r !== victim), '81.2.70.1'].map((value) => ({ value })) } },
    });
    await emu.emulator.control.clearRequests();
    const report = await sync(cfg, { dryRun: true });
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('pending');
    expect(v.drift).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'missing', rule: victim }), expect.objectContaining({ kind: 'added', rule: '81.2.70.1/32' })]));
    expect(v.add).toEqual([victim]);
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('reports a disabled firewall as critical and turns it on only with enforceDeny', async () => {
    await emu.reset({ vaults: [seedVault('kv-off', { defaultAction: 'Allow', ipRules: [] }), seedVault('kv-fix', { defaultAction: 'Allow', ipRules: [] })] });
    const report = await sync(config([{ vault: vaultId('kv-off'), select: ['AzureDevOps'] }, { vault: vaultId('kv-fix'), select: ['AzureDevOps'], enforceDeny: true }]));
    expect(report.vaults.map((v) => v.findings.find((f) => f.code === 'FIREWALL_DISABLED')?.severity)).toEqual(['critical', 'critical']);
    expect((await emu.emulator.control.vault('kv-off'))?.properties.networkAcls?.defaultAction).toBe('Allow');
    expect((await emu.emulator.control.vault('kv-fix'))?.properties.networkAcls?.defaultAction).toBe('Deny');
  });

  it('skips a vault whose public network access is disabled', async () => {
    await emu.reset({ vaults: [seedVault('kv-private', { defaultAction: 'Deny', ipRules: [] }, { publicNetworkAccess: 'Disabled' })] });
    const report = await sync(config([{ vault: vaultId('kv-private'), select: ['AzureDevOps'] }]));
    expect(report.vaults[0]!.outcome).toBe('skipped');
    expect(await requests('kv-private')).toEqual(['GET 200']);
  });
});

describe('faults', () => {
  const both = () => config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-other'), select: ['AzureDevOps'] }]);

  it('retries a 429 with Retry-After', async () => {
    await emu.emulator.control.addFault({ kind: 'respond', method: 'GET', vault: 'kv-app', status: 429, code: 'TooManyRequests', retryAfterMs: 20, times: 1 });
    const report = await sync(both());
    expect(report.vaults[0]!.outcome).toBe('applied');
    expect(await requests('kv-app')).toEqual(['GET 429', 'GET 200', 'PATCH 200', 'GET 200']);
  });

  it('retries a single 500', async () => {
    await emu.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-app', status: 500, times: 1 });
    const report = await sync(both());
    expect(report.vaults[0]!.outcome).toBe('applied');
    expect(await requests('kv-app')).toEqual(['GET 200', 'PATCH 500', 'PATCH 200', 'GET 200']);
  });

  it('persistent 500s fail only that vault, with nothing half-written', async () => {
    await emu.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-app', status: 500, times: 'always' });
    const report = await sync(both());
    expect(report.vaults.map((v) => v.outcome)).toEqual(['failed', 'applied']);
    expect(report.vaults[0]!.error?.code).toMatch(/VAULT_SERVER_ERROR/);
    expect(await rulesOf('kv-app')).toEqual([`${OFFICE}/32`]);
  });

  it.each([
    ['DenyAssignmentAuthorizationFailed', 'DENY_ASSIGNMENT'],
    ['RequestDisallowedByPolicy', 'REQUEST_DISALLOWED_BY_POLICY'],
  ] as const)('a write Azure governance refuses (403 %s) fails with %s, its own code and action, not VAULT_FORBIDDEN', async (azureCode, code) => {
    await emu.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-app', status: 403, code: azureCode, message: 'The access is denied.', times: 'always' });
    const report = await sync(both());
    expect(report.vaults.map((v) => v.outcome)).toEqual(['failed', 'applied']);
    expect(report.vaults[0]!.error).toMatchObject({ code, azureCode, status: 403, during: 'write' });
    expect(ACTIONS[code].action).not.toBe(ACTIONS.VAULT_FORBIDDEN.action);
    expect(await rulesOf('kv-app')).toEqual([`${OFFICE}/32`]);
  });

  it('a 404 fails only that vault', async () => {
    const report = await sync(config([{ vault: vaultId('kv-missing'), select: ['AzureDevOps'] }, { vault: vaultId('kv-other'), select: ['AzureDevOps'] }]));
    expect(report.vaults.map((v) => [v.outcome, v.error?.code])).toEqual([['failed', 'VAULT_NOT_FOUND'], ['applied', undefined]]);
  });

  it('detects a concurrent edit with the verifying read', async () => {
    await emu.emulator.control.addFault({ kind: 'edit', after: 'PATCH', vault: 'kv-app', ipRules: ['81.2.69.200'], times: 1 });
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]));
    expect(report.vaults[0]!.outcome).toBe('failed');
    expect(report.vaults[0]!.error).toMatchObject({ code: 'VERIFY_MISMATCH', message: expect.stringMatching(/concurrent edit/) });
  });
});

describe('bad input never writes', () => {
  it('a bad webhook app setting stops the run before any vault request', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    const run = runSync(cfg, { dryRun: false, force: false, alerts: 'send' }, {
      env: { TAGWALL_ALERT_WEBHOOK_URL: 'http://hooks.example.com/x' },
      logger,
      credential: emu.credential,
      armCa: emu.emulator.caCert,
      armRetry: FAST_RETRY,
    });
    await expect(run).rejects.toMatchObject({ code: 'ALERT_WEBHOOK_INVALID' });
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('an unknown selector in any target stops the run before any vault request', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }, { vault: vaultId('kv-other'), select: ['NoSuchTag'] }]);
    await expect(sync(cfg)).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: [expect.stringMatching(/targets\[1\]\.select .*NoSuchTag/)] });
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});

describe('network security perimeter', () => {
  const NSP = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-tagwall-test/providers/Microsoft.Network/networkSecurityPerimeters/nsp-app';

  it('an Enforced association is a warning; the write goes ahead unless skipWhenPerimeterEnforced', async () => {
    await emu.reset({
      vaults: [seedVault('kv-app', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: OFFICE }] })],
      perimeters: [{ id: NSP, associations: [{ privateLinkResourceId: vaultId('kv-app'), accessMode: 'Enforced' }] }],
    });
    const written = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]));
    expect(written.vaults[0]).toMatchObject({ outcome: 'applied', findings: expect.arrayContaining([expect.objectContaining({ code: 'PERIMETER_ENFORCED', severity: 'warning', perimeter: expect.stringMatching(/nsp-app$/i) })]) });
    await emu.emulator.control.clearRequests();
    const skipped = await sync(config([{ vault: vaultId('kv-app'), select: ['PowerBI'], skipWhenPerimeterEnforced: true }]));
    expect(skipped.vaults[0]).toMatchObject({ outcome: 'skipped', reasons: [expect.objectContaining({ code: 'PERIMETER_ENFORCED' })] });
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('learning mode is an info finding, and perimeters the identity cannot read never fail the vault', async () => {
    await emu.reset({
      vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] })],
      perimeters: [{ id: NSP, associations: [{ privateLinkResourceId: vaultId('kv-app'), accessMode: 'Learning' }] }],
    });
    const learning = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]), { dryRun: true });
    expect(learning.vaults[0]!.findings.map((f) => [f.severity, f.code])).toEqual([['info', 'PERIMETER_LEARNING']]);
    await emu.emulator.control.forbidPerimeterReads('00000000-0000-0000-0000-000000000000');
    const unknown = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]));
    expect(unknown.vaults[0]).toMatchObject({ outcome: 'applied', findings: [expect.objectContaining({ code: 'PERIMETER_UNKNOWN', severity: 'info' })] });
  });
});

describe('the default widening guards', () => {
  it('refuse every tag in 127 rules, and say how to allow it', async () => {
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['*'], maxRules: 127 }]));
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('refused');
    expect(v.reasons.length).toBeGreaterThan(0);
    for (const r of v.reasons) expect(r.message).toMatch(/--force|guards\.max/);
    expect(await requests('kv-app')).toEqual(['GET 200']);
  });

  it('refuse AzureDevOps in 10 rules, naming the budget that works under the bound', async () => {
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'], maxRules: 10 }]));
    // 14 rules for the tag, plus the hand-made office rule that stays.
    expect(report.vaults[0]!.reasons).toEqual([expect.objectContaining({ code: 'COLLAPSE_INFEASIBLE', neededRules: 15, maxWidenedPrefix: 12 })]);
  });

  it('report the widening per vault in sync --json, and WIDE_RULE past warnWidenedPrefix', async () => {
    const report = await sync(config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'], maxRules: 15, guards: { warnWidenedPrefix: 20, maxExcessAddresses: 2 ** 32 } }]));
    const v = report.vaults[0]!;
    expect(v.outcome).toBe('applied');
    expect(v.widening!.totals.excessAddresses).toBe(v.excessAddresses);
    const wide = v.widening!.rules.filter((r) => Number(r.rule.split('/')[1]) < 20).map((r) => r.rule);
    expect(wide.length).toBeGreaterThan(0);
    expect(v.findings.find((f) => f.code === 'WIDE_RULE')).toMatchObject({ severity: 'warning', rules: expect.arrayContaining(wide) });
  });
});

describe('a write Azure refuses outright', () => {
  it('withdraws the intent, so the next run is not kept out as busy', async () => {
    const cfg = config([{ vault: vaultId('kv-app'), select: ['AzureDevOps'] }]);
    await emu.emulator.control.addFault({ kind: 'respond', method: 'PATCH', vault: 'kv-app', status: 400, code: 'BadRequest', message: 'refused' });
    const refused = await sync(cfg);
    expect(refused.vaults[0]).toMatchObject({ outcome: 'failed', error: { code: 'VAULT_BAD_REQUEST', azureCode: 'BadRequest', status: 400 } });
    const files = (await readdir(join(stateDir, 'state'), { recursive: true, withFileTypes: true })).filter((f) => f.isFile() && f.name.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(await readFile(join(f.parentPath, f.name), 'utf8')).not.toContain('"intent"');
    // Straight away, not ten minutes later.
    const next = await sync(cfg);
    expect(next.vaults[0]).toMatchObject({ outcome: 'applied', adopted: [], unmanaged: [`${OFFICE}/32`] });
  });
});

describe('without a credential', () => {
  it('says so once for the run, fails every vault with VAULT_CREDENTIAL_UNAVAILABLE, and sends no vault request', async () => {
    const unavailable = {
      getToken: async () => {
        const e = new Error('EnvironmentCredential: no AZURE_CLIENT_ID\nManagedIdentityCredential: no endpoint\nAzureCliCredential: az not found');
        e.name = 'CredentialUnavailableError';
        throw e;
      },
    };
    await emu.emulator.control.clearRequests();
    const cfg = config([
      { vault: vaultId('kv-app'), select: ['AzureDevOps'] },
      { vault: vaultId('kv-other'), select: ['AzureDevOps'] },
    ]);
    const { report } = await runSync(cfg, { dryRun: false, force: false, alerts: 'off' }, { env: {}, logger, credential: unavailable, armCa: emu.emulator.caCert, armRetry: FAST_RETRY });
    expect(report.errors).toEqual([{ code: 'VAULT_CREDENTIAL_UNAVAILABLE', message: expect.stringMatching(/AzureCliCredential[\s\S]*hint: tagwall uses DefaultAzureCredential/) }]);
    expect(report.vaults.map((v) => [v.outcome, v.error?.code])).toEqual([
      ['failed', 'VAULT_CREDENTIAL_UNAVAILABLE'],
      ['failed', 'VAULT_CREDENTIAL_UNAVAILABLE'],
    ]);
    // The chain is in the run's error once, not in each vault's.
    for (const v of report.vaults) expect(v.error!.message).not.toMatch(/AzureCliCredential/);
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});
