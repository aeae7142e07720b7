import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertLogger } from '../../src/alerts/types.js';
import { parseConfig, type RawConfig, type TagwallConfig } from '../../src/config/config.js';
import { isTagwallError } from '../../src/core/errors.js';
import { allowTemporary } from '../../src/run/allow.js';
import { runSync, type Runtime } from '../../src/run/run.js';
import { alertsForVault } from '../../src/alerts/policy.js';
import { runPlanCommand } from '../../src/cli/plan-command.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { FAST_RETRY, seedVault, startTestEmulator, vaultId, type TestEmulator } from '../helpers/emulator.js';

// Temporary entries end to end on the emulator, through the run API with an injected clock: a
// grant of `tagwall allow` (stored in the state store) and a dated `extra` of the configuration are
// allowed until they expire, then removed by the ordinary run, which says so once. The test's own
// service-tags file has one tag of three disjoint /24s, so the rule budget is exact: three rules
// cover it with no excess, and a fourth address needs a fourth rule.

const TAG = ['52.100.1.0/24', '52.100.3.0/24', '52.100.5.0/24'];
const AGENT = '81.2.69.160';
const PERSON = '81.2.69.142';
const T0 = new Date('2026-03-02T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;
const quiet: AlertLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let emu: TestEmulator;
let dir: string;
let tags: string;

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-temporary-'));
  tags = join(dir, 'tags.json');
  await writeFile(
    tags,
    JSON.stringify({
      changeNumber: 7,
      cloud: 'Public',
      values: [{ name: 'Pipelines', id: 'Pipelines', properties: { changeNumber: 7, region: '', regionId: 0, platform: 'Azure', systemService: 'Pipelines', addressPrefixes: TAG, networkFeatures: null } }],
    }),
  );
  await emu.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [] }), seedVault('kv-other', { defaultAction: 'Deny', ipRules: [] })] });
});

function config(target: Partial<NonNullable<RawConfig['targets']>[number]> = {}): TagwallConfig {
  return parseConfig(
    {
      serviceTags: { source: 'file', path: tags },
      arm: { endpoint: emu.emulator.url },
      state: { store: 'file', path: join(dir, 'state.json') },
      targets: [{ vault: vaultId('kv-app'), select: ['Pipelines'], ...target }, { vault: vaultId('kv-other'), select: ['Pipelines'] }],
    },
    { baseDir: dir, source: 'test' },
  );
}

function runtime(now: Date): Runtime {
  return { env: {}, logger: quiet, now: () => now, credential: emu.credential, armCa: emu.emulator.caCert, armRetry: FAST_RETRY };
}

async function sync(c: TagwallConfig, now: Date) {
  const { report } = await runSync(c, { dryRun: false, force: false, alerts: 'off' }, runtime(now));
  return report.vaults.find((v) => v.vault === vaultId('kv-app'))!;
}

async function rules(name = 'kv-app'): Promise<string[]> {
  const v = await emu.emulator.control.vault(name);
  return (v!.properties.networkAcls?.ipRules ?? []).map((r) => r.value.replace(/\/32$/, '')).sort();
}

async function writes(): Promise<number> {
  return (await emu.emulator.control.requests({ kind: 'arm' })).filter((r) => r.method === 'PATCH' || r.method === 'PUT').length;
}

/** The grants records the store holds (file state keeps one file a record under state/). */
async function grantFiles(): Promise<string[]> {
  const base = join(dir, 'state', 'grants');
  try {
    return (await readdir(base, { recursive: true })).filter((f) => String(f).endsWith('.json')).map(String);
  } catch {
    return [];
  }
}

describe('tagwall allow (run API): a grant for the length of a job', () => {
  it('allows the address at once, keeps it while it lasts, removes it after, and says so once', async () => {
    const c = config();
    expect((await sync(c, T0)).outcome).toBe('applied');
    expect(await rules()).toEqual([...TAG].sort());

    const granted = await allowTemporary(c, { target: 'kv-app', cidr: AGENT, forMs: HOUR, note: 'build 42' }, runtime(T0));
    expect(granted.refused).toBeUndefined();
    expect(granted.grant).toEqual({ cidr: `${AGENT}/32`, until: '2026-03-02T11:00:00.000Z', note: 'build 42', grantedAt: T0.toISOString() });
    expect(granted.report.vaults[0]).toMatchObject({ outcome: 'applied', add: [`${AGENT}/32`], remove: [] });
    expect(await rules()).toEqual([...TAG, AGENT].sort());
    // Only the target granted to.
    expect(await rules('kv-other')).toEqual([...TAG].sort());

    // A run before expiry keeps it, and reports nothing about it.
    const before = await sync(c, at(HOUR - 1));
    expect(before.outcome).toBe('in-sync');
    expect(before.findings.map((f) => f.code)).not.toContain('TEMPORARY_ENTRY_EXPIRED');
    expect(await rules()).toEqual([...TAG, AGENT].sort());

    // After: removed by the ordinary plan (tagwall owns it), with the code naming cidr, until and note.
    const after = await sync(c, at(HOUR));
    expect(after).toMatchObject({ outcome: 'applied', add: [], remove: [`${AGENT}/32`] });
    expect(after.findings.filter((f) => f.code === 'TEMPORARY_ENTRY_EXPIRED')).toEqual([
      expect.objectContaining({ severity: 'info', cidr: `${AGENT}/32`, until: '2026-03-02T11:00:00.000Z', note: 'build 42', source: 'grant' }),
    ]);
    expect(await rules()).toEqual([...TAG].sort());

    // Once per expiry: the next run has nothing to say about it.
    const later = await sync(c, at(2 * HOUR));
    expect(later.outcome).toBe('in-sync');
    expect(later.findings.map((f) => f.code)).not.toContain('TEMPORARY_ENTRY_EXPIRED');
  });

  it('never removes a person\'s identical rule when the grant expires', async () => {
    await emu.reset({ vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: PERSON }] }), seedVault('kv-other', { defaultAction: 'Deny', ipRules: [] })] });
    const c = config({ adopt: 'never' });
    await sync(c, T0);
    expect(await rules()).toEqual([...TAG, PERSON].sort());
    const granted = await allowTemporary(c, { target: vaultId('kv-app'), cidr: PERSON, forMs: HOUR }, runtime(T0));
    expect(granted.refused).toBeUndefined();
    expect(granted.report.vaults[0]!.outcome).toBe('in-sync');
    const after = await sync(c, at(2 * HOUR));
    expect(after.remove).toEqual([]);
    expect(after.findings.map((f) => f.code)).toContain('TEMPORARY_ENTRY_EXPIRED');
    expect(await rules()).toEqual([...TAG, PERSON].sort());
  });

  it('refuses a grant over the rule budget with zero writes, and stores nothing', async () => {
    const c = config({ maxRules: 3 });
    await sync(c, T0);
    expect(await rules()).toEqual([...TAG].sort());
    await emu.emulator.control.clearRequests();
    const result = await allowTemporary(c, { target: 'kv-app', cidr: AGENT, forMs: HOUR }, runtime(T0));
    expect(result.refused?.code).toBe('GRANT_NO_ROOM');
    expect(result.report.vaults[0]!.findings.map((f) => f.code)).toContain('TEMPORARY_ENTRY_NO_ROOM');
    expect(await writes()).toBe(0);
    expect(await rules()).toEqual([...TAG].sort());
    expect(await grantFiles()).toEqual([]);
    // With room for it (a fourth rule), the same grant is allowed.
    const roomy = await allowTemporary(config({ maxRules: 4 }), { target: 'kv-app', cidr: AGENT, forMs: HOUR }, runtime(T0));
    expect(roomy.refused).toBeUndefined();
    expect(await rules()).toEqual([...TAG, AGENT].sort());
  });

  it('refuses a target that is not configured, a bad address and a duration past 7 days, before any request', async () => {
    await emu.emulator.control.clearRequests();
    const c = config();
    const codeOf = (p: Promise<unknown>) => p.then(() => 'none', (e: unknown) => (isTagwallError(e) ? e.code : String(e)));
    expect(await codeOf(allowTemporary(c, { target: 'kv-nope', cidr: AGENT, forMs: HOUR }, runtime(T0)))).toBe('VAULT_NOT_CONFIGURED');
    expect(await codeOf(allowTemporary(c, { target: 'kv-app', cidr: '10.0.0.1', forMs: HOUR }, runtime(T0)))).toBe('CIDR_INVALID');
    expect(await codeOf(allowTemporary(c, { target: 'kv-app', cidr: '81.2.69.161/24', forMs: HOUR }, runtime(T0)))).toBe('CIDR_HOST_BITS');
    expect(await codeOf(allowTemporary(c, { target: 'kv-app', cidr: AGENT, forMs: 8 * 24 * HOUR }, runtime(T0)))).toBe('USAGE');
    expect(await emu.emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });

  it('keeps a grant made while another run syncs the same target', async () => {
    const c = config();
    await sync(c, T0);
    // The grant and a run at once, in either order of arrival: the grant must survive both.
    const [granted] = await Promise.all([allowTemporary(c, { target: 'kv-app', cidr: AGENT, forMs: HOUR }, runtime(T0)), sync(c, T0), sync(c, T0)]);
    expect(granted.refused).toBeUndefined();
    expect((await sync(c, at(1000))).outcome).toBe('in-sync');
    expect(await rules()).toEqual([...TAG, AGENT].sort());
  });
});

describe('a dated extra in the configuration', () => {
  it('is allowed until the end of its day in UTC, then removed and reported once', async () => {
    const c = config({ extra: [{ cidr: AGENT, until: '2026-03-02', note: 'contractor' }] });
    expect((await sync(c, T0)).add).toContain(`${AGENT}/32`);
    expect(await rules()).toEqual([...TAG, AGENT].sort());
    expect((await sync(c, new Date('2026-03-02T23:59:59Z'))).outcome).toBe('in-sync');
    expect(await rules()).toEqual([...TAG, AGENT].sort());
    const after = await sync(c, new Date('2026-03-03T00:00:00Z'));
    expect(after.remove).toEqual([`${AGENT}/32`]);
    expect(after.findings.filter((f) => f.code === 'TEMPORARY_ENTRY_EXPIRED')).toEqual([
      expect.objectContaining({ cidr: `${AGENT}/32`, until: '2026-03-02', note: 'contractor', source: 'config' }),
    ]);
    expect(await rules()).toEqual([...TAG].sort());
    const later = await sync(c, new Date('2026-03-04T00:00:00Z'));
    expect(later.findings.map((f) => f.code)).not.toContain('TEMPORARY_ENTRY_EXPIRED');
  });

  it('already past on a first run: never written, reported once', async () => {
    const c = config({ extra: [{ cidr: AGENT, until: '2020-01-01' }] });
    const first = await sync(c, T0);
    expect(first.add).not.toContain(`${AGENT}/32`);
    expect(first.findings.map((f) => f.code)).toContain('TEMPORARY_ENTRY_EXPIRED');
    expect((await sync(c, at(HOUR))).findings.map((f) => f.code)).not.toContain('TEMPORARY_ENTRY_EXPIRED');
  });
});

describe('a dated extra that ends within 7 days', () => {
  // until 2026-03-20 ends at 2026-03-21T00:00:00Z; 7 days before that is 2026-03-14T00:00:00Z.
  const ENTRY = { cidr: AGENT, until: '2026-03-20', note: 'contractor' };
  const codes = (v: { findings: readonly { code: string }[] }) => v.findings.map((f) => f.code);

  it('is reported TEMPORARY_ENTRY_EXPIRING (info, cidr, until, note) on every run of its last week, dry runs included, and not before', async () => {
    const c = config({ extra: [ENTRY] });
    const early = await sync(c, new Date('2026-03-13T23:59:59Z'));
    expect(early.add).toContain(`${AGENT}/32`);
    expect(codes(early)).not.toContain('TEMPORARY_ENTRY_EXPIRING');

    const first = await sync(c, new Date('2026-03-14T00:00:00Z'));
    expect(first.outcome).toBe('in-sync');
    expect(first.findings.filter((f) => f.code === 'TEMPORARY_ENTRY_EXPIRING')).toEqual([
      expect.objectContaining({ severity: 'info', cidr: `${AGENT}/32`, until: '2026-03-20', expiresAt: '2026-03-21T00:00:00.000Z', note: 'contractor', source: 'config' }),
    ]);
    // Each run says it again while it lasts (a reviewer of any one run sees it), a dry run too.
    const log: string[] = [];
    const capture: AlertLogger = { info: (m) => void log.push(m), warn: (m) => void log.push(m), error: (m) => void log.push(m) };
    const { report } = await runSync(c, { dryRun: true, force: false, alerts: 'preview' }, { ...runtime(new Date('2026-03-20T23:59:59Z')), logger: capture });
    const dry = report.vaults.find((v) => v.vault === vaultId('kv-app'))!;
    expect(codes(dry)).toContain('TEMPORARY_ENTRY_EXPIRING');
    // Info: nothing pages for it, not even a preview.
    expect(alertsForVault(dry, true)).toEqual([]);
    expect(log.filter((l) => /would-alert|TEMPORARY_ENTRY_EXPIRING/.test(l))).toEqual([]);
    expect(await rules()).toEqual([...TAG, AGENT].sort());

    // Then it expires: removed, and said once as EXPIRED, no longer as EXPIRING.
    const after = await sync(c, new Date('2026-03-21T00:00:00Z'));
    expect(after.remove).toEqual([`${AGENT}/32`]);
    expect(codes(after)).toContain('TEMPORARY_ENTRY_EXPIRED');
    expect(codes(after)).not.toContain('TEMPORARY_ENTRY_EXPIRING');
  });

  it('is not reported for a grant of `tagwall allow`, which lasts at most 7 days by design', async () => {
    const c = config();
    await sync(c, T0);
    const granted = await allowTemporary(c, { target: 'kv-app', cidr: AGENT, forMs: HOUR }, runtime(T0));
    expect(granted.refused).toBeUndefined();
    const next = await sync(c, at(HOUR / 2));
    expect(next.outcome).toBe('in-sync');
    expect(codes(next)).not.toContain('TEMPORARY_ENTRY_EXPIRING');
  });

  it('is not reported for an entry left out for want of room: its NO_ROOM says what matters', async () => {
    const c = config({ maxRules: 3, extra: [ENTRY] });
    const v = await sync(c, new Date('2026-03-15T00:00:00Z'));
    expect(codes(v)).toContain('TEMPORARY_ENTRY_NO_ROOM');
    expect(codes(v)).not.toContain('TEMPORARY_ENTRY_EXPIRING');
  });
});

describe('plan --config --target on an injected clock', () => {
  it('reports the entry expiring in its last week, and expired after, as sync does; nothing is written to the state', async () => {
    const c = join(dir, 'tagwall.json');
    await writeFile(c, JSON.stringify({
      serviceTags: { source: 'file', path: tags },
      state: { store: 'file', path: join(dir, 'state.json') },
      targets: [{ vault: vaultId('kv-app'), select: ['Pipelines'], extra: [{ cidr: AGENT, until: '2026-03-20', note: 'contractor' }] }],
    }));
    const plan = async (now: string) => {
      let stdout = '';
      const sink = (add: (s: string) => void) => ({ write: (s: string) => (add(String(s)), true) }) as unknown as NodeJS.WritableStream;
      const io = { stdout: sink((s) => (stdout += s)), stderr: sink(() => undefined), env: {}, cwd: dir };
      const code = await runPlanCommand(
        { kind: 'keyvault', split31: false, extra: [], exclude: [], guards: {}, force: false, format: 'json', explain: false, config: c, target: vaultId('kv-app'), serviceTagsGiven: false },
        io,
        async () => ({ document: await loadServiceTagFile(tags), path: tags, changeNumber: 7, cacheUsed: false, downloaded: false, warnings: [] }),
        () => new Date(now),
      );
      expect(code).toBe(0);
      return JSON.parse(stdout) as { rules: string[]; findings: { code: string; cidr?: string; note?: string }[] };
    };
    const early = await plan('2026-03-13T23:59:59Z');
    expect(early.rules).toContain(AGENT);
    expect(early.findings.map((f) => f.code)).not.toContain('TEMPORARY_ENTRY_EXPIRING');
    const soon = await plan('2026-03-14T00:00:00Z');
    expect(soon.rules).toContain(AGENT);
    expect(soon.findings.filter((f) => f.code === 'TEMPORARY_ENTRY_EXPIRING')).toEqual([expect.objectContaining({ cidr: `${AGENT}/32`, note: 'contractor' })]);
    const after = await plan('2026-03-21T00:00:00Z');
    expect(after.rules).not.toContain(AGENT);
    expect(after.findings.map((f) => f.code)).toEqual(['TEMPORARY_ENTRY_EXPIRED']);
    expect(await grantFiles()).toEqual([]);
  });
});
