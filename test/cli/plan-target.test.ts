import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { JsonFileStore } from '../../src/state/json-file-store.js';
import { TargetStateRepository } from '../../src/state/records.js';
import { GrantRepository } from '../../src/state/grants.js';
import { BUNDLED, runCli } from '../helpers/cli.js';

// `tagwall plan --config --target`: one configured target planned offline from its last record.
// No emulator runs: arm.endpoint points at a bare TCP listener that counts connections, so any
// request tagwall made to ARM would show up as one.

const SUB = '11111111-2222-3333-4444-555555555555';
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp`;
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-app`;
/** A person's rule, and one tagwall wrote last time that this week's selection no longer wants. */
const PERSON = '81.2.69.142';
const STALE_OWNED = '198.51.100.0/24';
/** A single address the target's configuration adds: written bare to a Storage account, never as /32. */
const SINGLE = '52.1.2.3';

let listener: Server;
let connections = 0;
let dir: string;
let config: string;
let statePath: string;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as { port: number }).port;
  dir = await mkdtemp(join(tmpdir(), 'tagwall-plan-target-'));
  statePath = join(dir, 'state.json');
  config = join(dir, 'tagwall.json');
  await writeFile(
    config,
    JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: `https://127.0.0.1:${port}` },
      state: { store: 'file', path: statePath },
      targets: [
        { resource: STORAGE, select: ['AzureCloud.westeurope'], extra: [SINGLE] },
        { vault: VAULT, select: ['AzureDevOps'], maxRules: 14 },
      ],
    }),
  );
  // The record a sync would have left: what it saw in the account, and what it owns there.
  const store = new JsonFileStore(statePath);
  await new TargetStateRepository(store).save(parseResourceId(STORAGE), {
    version: 1,
    vault: STORAGE,
    ownedRules: [STALE_OWNED],
    observedRules: [PERSON, '198.51.100.0/24'],
    posture: { defaultAction: 'Deny', bypass: 'AzureServices', publicNetworkAccess: 'Enabled' },
    changeNumber: 372,
    sourceAddresses: 4_400_000,
    appliedAt: '2025-10-06T00:00:00.000Z',
  });
  await store.close();
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
});

interface TargetPlanJson {
  target: { id: string; kind: string; record: boolean };
  rules: string[];
  add: string[];
  remove: string[];
  unmanaged: string[];
  guards: { code: string; verdict: string; before?: number; after?: number }[];
}

describe('tagwall plan --config --target', () => {
  it('plans a Storage account from its last record with its kind\'s facts: at most 400 rules, no /32 or /31, the person\'s rule kept, the stale one removed; no ARM request', async () => {
    // A sync holding the state file's lock does not keep a plan out: the plan only reads.
    const holder = new JsonFileStore(statePath);
    await holder.open();
    try {
      const r = await runCli(['plan', '--config', config, '--target', STORAGE, '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as TargetPlanJson;
      expect(out.target).toMatchObject({ id: STORAGE, kind: 'storage', record: true });
      expect(out.rules.length).toBeLessThanOrEqual(400);
      expect(out.rules.filter((x) => /\/3[12]$/.test(x))).toEqual([]);
      expect(out.rules).toContain(PERSON);
      expect(out.rules).toContain(SINGLE);
      expect(out.unmanaged).toEqual([`${PERSON}/32`]);
      expect(out.remove).toEqual([STALE_OWNED]);
      // The person's rule counts against the limit: the cover had 399 to spend.
      expect(out.rules.length).toBe(400);
      // The shrink guard compared with the record's source, as sync would.
      expect(out.guards.find((g) => g.code === 'SOURCE_SHRINK_GUARD')).toMatchObject({ verdict: 'pass', before: 4_400_000, after: 4_468_949 });
      // Its az export names the account, removes the stale rule and adds only what is missing.
      const az = await runCli(['plan', '--config', config, '--target', STORAGE, '--format', 'az'], { cwd: dir });
      expect(az.code, az.stderr).toBe(0);
      expect(az.stdout).toMatch(/^group=rg-app\nname=stapp$/m);
      const lines = az.stdout.split('\n').filter((l) => l.startsWith('az '));
      expect(lines[0]).toBe(`az storage account network-rule remove --resource-group "$group" --account-name "$name" --ip-address ${STALE_OWNED}`);
      const added = lines.slice(1).map((l) => l.split(' ').at(-1)!);
      expect(added).toHaveLength(out.add.length);
      // In the form the account takes: a single address bare, never /32.
      expect(added.filter((x) => x.endsWith('/32'))).toEqual([]);
      expect(added.every((x) => out.rules.includes(x))).toBe(true);
      expect(added).toContain(SINGLE);
    } finally {
      await holder.close();
    }
    expect(connections).toBe(0);
  });

  it('a target without a record is planned as first contact, and its configured limit and guards apply (exit 1 when one refuses)', async () => {
    const r = await runCli(['plan', '--config', config, '--target', VAULT], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Last record\s+none in state folder .*: planned as first contact/m);
    expect(r.stdout).toMatch(/^Rules\s+14 of 14$/m);
    expect(r.stderr).toMatch(/^tagwall: sync would refuse this plan: EXCESS_GUARD for \/subscriptions\//m);
    expect(connections).toBe(0);
  });

  it('a resource that is not a configured target is an error, and so are selection options beside --target', async () => {
    const other = STORAGE.replace('stapp', 'stother');
    const missing = await runCli(['plan', '--config', config, '--target', other], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not a configured target: .*stother/);
    const mixed = await runCli(['plan', '--config', config, '--target', STORAGE, '--select', 'AzureDevOps'], { cwd: dir });
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/--select: with --target, the configuration decides/);
    expect(connections).toBe(0);
  });

  it('takes a configured target by its name (any case) as allow and the state tools do; an unknown or shared name is VAULT_NOT_CONFIGURED', async () => {
    const byId = await runCli(['plan', '--config', config, '--target', STORAGE, '--json'], { cwd: dir });
    expect(byId.code, byId.stderr).toBe(0);
    for (const name of ['stapp', 'STApp']) {
      const r = await runCli(['plan', '--config', config, '--target', name, '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(JSON.parse(byId.stdout));
    }
    const unknown = await runCli(['plan', '--config', config, '--target', 'stother', '--json'], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^tagwall: VAULT_NOT_CONFIGURED: .*stother/m);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'VAULT_NOT_CONFIGURED' } });
    // Two vaults named kv-app in two groups: the name names neither, the ID still does.
    const shared = join(dir, 'shared.json');
    const other = VAULT.replace('rg-app', 'rg-other');
    await writeFile(
      shared,
      JSON.stringify({
        serviceTags: { source: 'file', path: BUNDLED },
        state: { store: 'file', path: statePath },
        targets: [{ vault: VAULT, select: ['AzureDevOps'] }, { vault: other, select: ['AzureDevOps'] }],
      }),
    );
    const ambiguous = await runCli(['plan', '--config', shared, '--target', 'kv-app'], { cwd: dir });
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/^tagwall: VAULT_NOT_CONFIGURED: 2 configured targets are named kv-app/m);
    const one = await runCli(['plan', '--config', shared, '--target', other, '--json'], { cwd: dir });
    expect(one.code, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as TargetPlanJson).target.id).toBe(other);
    expect(connections).toBe(0);
  });
});

// Temporary entries in the offline plan: a target's dated `extra` entries and the grants of
// `tagwall allow` kept beside its record are allowed until they end, then left out (and what
// tagwall added for them removed) with the finding sync gives. The test's own service-tags file
// has one tag of three disjoint /24s, so every wanted address is one exact rule.

const PIPELINES = ['52.100.1.0/24', '52.100.3.0/24', '52.100.5.0/24'];
const DAY = 86_400_000;
/** A date `days` from now, as a configuration writes one (its end in UTC is when it expires). */
const dayFromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
const LONG = '81.2.69.160';
const SOON = '81.2.69.165';
const PAST = '81.2.69.162';
const REPORTED = '81.2.69.163';
const GRANTED = '81.2.69.170';
const GRANT_ENDED = '81.2.69.171';
const DATED = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-dated`;

interface FindingJson {
  code: string;
  severity: string;
  cidr?: string;
  until?: string;
  note?: string;
  source?: string;
}

describe('plan --config --target with temporary entries', () => {
  let tdir: string;
  let tconfig: string;
  let soonUntil: string;
  let grantUntil: string;

  beforeAll(async () => {
    tdir = await mkdtemp(join(tmpdir(), 'tagwall-plan-temporary-'));
    const tags = join(tdir, 'tags.json');
    await writeFile(tags, JSON.stringify({
      changeNumber: 7,
      cloud: 'Public',
      values: [{ name: 'Pipelines', id: 'Pipelines', properties: { changeNumber: 7, region: '', regionId: 0, platform: 'Azure', systemService: 'Pipelines', addressPrefixes: PIPELINES, networkFeatures: null } }],
    }));
    const state = join(tdir, 'state.json');
    soonUntil = dayFromNow(3);
    tconfig = join(tdir, 'tagwall.json');
    await writeFile(tconfig, JSON.stringify({
      serviceTags: { source: 'file', path: tags },
      arm: { endpoint: `https://127.0.0.1:${(listener.address() as { port: number }).port}` },
      state: { store: 'file', path: state },
      targets: [{
        vault: DATED,
        select: ['Pipelines'],
        extra: [
          { cidr: LONG, until: dayFromNow(30), note: 'contractor' },
          { cidr: SOON, until: soonUntil, note: 'audit' },
          { cidr: PAST, until: '2020-01-01', note: 'old' },
          { cidr: REPORTED, until: '2020-01-01' },
        ],
      }],
    }));
    const store = new JsonFileStore(state);
    const ref = parseResourceId(DATED);
    // The last sync wrote the tag, PAST (before it ended) and a grant that has ended since.
    const owned = [...PIPELINES, `${PAST}/32`, `${GRANT_ENDED}/32`];
    await new TargetStateRepository(store).save(ref, {
      version: 1, vault: DATED, ownedRules: owned, observedRules: owned.map((r) => r.replace(/\/32$/, '')),
      posture: { defaultAction: 'Deny' }, changeNumber: 7, sourceAddresses: 768, appliedAt: '2025-10-06T00:00:00.000Z',
    });
    grantUntil = new Date(Date.now() + 2 * 3_600_000).toISOString();
    await new GrantRepository(store).save(ref, {
      version: 1,
      target: DATED,
      grants: [
        { cidr: `${GRANTED}/32`, until: grantUntil, note: 'build 42', grantedAt: new Date().toISOString() },
        { cidr: `${GRANT_ENDED}/32`, until: '2025-10-06T01:00:00.000Z', grantedAt: '2025-10-06T00:00:00.000Z' },
      ],
      // A sync already said that REPORTED ended (the end of 2020-01-01 in UTC): the plan does not say it again.
      reported: [`${REPORTED}/32@2020-01-02T00:00:00.000Z`],
    }, undefined);
    await store.close();
  });

  it('includes the entries and grants that have not ended, removes what tagwall added for those that have, and says which end soon', async () => {
    const r = await runCli(['plan', '--config', tconfig, '--target', DATED, '--json'], { cwd: tdir });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as TargetPlanJson & { findings: FindingJson[] };
    expect([...out.rules].sort()).toEqual([...PIPELINES, LONG, SOON, GRANTED].sort());
    expect([...out.add].sort()).toEqual([`${LONG}/32`, `${SOON}/32`, `${GRANTED}/32`]);
    expect([...out.remove].sort()).toEqual([`${PAST}/32`, `${GRANT_ENDED}/32`]);
    const temporary = out.findings.filter((f) => f.code.startsWith('TEMPORARY_'));
    expect(temporary).toHaveLength(3);
    expect(temporary).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'TEMPORARY_ENTRY_EXPIRED', severity: 'info', cidr: `${PAST}/32`, until: '2020-01-01', note: 'old', source: 'config' }),
      expect.objectContaining({ code: 'TEMPORARY_ENTRY_EXPIRED', severity: 'info', cidr: `${GRANT_ENDED}/32`, until: '2025-10-06T01:00:00.000Z', source: 'grant' }),
      // Within 7 days of its end; LONG (30 days) and the grant (the one who asked chose its end) are not.
      expect.objectContaining({ code: 'TEMPORARY_ENTRY_EXPIRING', severity: 'info', cidr: `${SOON}/32`, until: soonUntil, note: 'audit', source: 'config' }),
    ]));
    expect(connections).toBe(0);
  });

  it('shows the same findings in the text plan and the Markdown summary', async () => {
    const text = await runCli(['plan', '--config', tconfig, '--target', DATED], { cwd: tdir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^ {2}info {5}TEMPORARY_ENTRY_EXPIRING: temporary entry ${SOON.replace(/\./g, '\\.')}/32 \\(audit\\) expires at `, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^ {2}info {5}TEMPORARY_ENTRY_EXPIRED: temporary entry ${PAST.replace(/\./g, '\\.')}/32 \\(old\\) expired at 2020-01-02T00:00:00.000Z`, 'm'));
    const md = await runCli(['plan', '--config', tconfig, '--target', DATED, '--format', 'markdown'], { cwd: tdir });
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout.split('\n')[0]).toBe('### tagwall plan for `kv-dated` (Key Vault): sync would write this plan');
    expect(md.stdout).toContain(`- **info** \`TEMPORARY_ENTRY_EXPIRING\`: temporary entry ${SOON}/32 (audit) expires at `);
    expect(md.stdout).toContain(`<details><summary>2 rules to remove</summary>\n\n\`\`\`\n${[PAST, GRANT_ENDED].join('\n')}\n\`\`\``);
    expect(md.stdout).toContain(`<details><summary>3 rules to add</summary>\n\n\`\`\`\n${[LONG, SOON, GRANTED].join('\n')}\n\`\`\``);
  });
});
