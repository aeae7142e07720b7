import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { BUNDLED, runCli, useCliEmulator } from '../helpers/cli.js';
import { seedVault, TEST_GROUP, TEST_SUBSCRIPTION, vaultId } from '../helpers/emulator.js';

// `tagwall state show|forget|adopt` and `tagwall offboard`, through the built CLI against the
// emulator, with the state in a folder of the test's own. What a run wrote is taken from the
// emulator (the firewall as Azure holds it), never from tagwall's record or report.

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

/** A person's rule, outside every selection used here. */
const PERSON = '81.2.69.142';
const key = (r: string) => (r.includes('/') ? r : `${r}/32`);

function cosmosId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.DocumentDB/databaseAccounts/${name}`;
}
function searchId(name: string): string {
  return `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/Microsoft.Search/searchServices/${name}`;
}

interface Target {
  id: string;
  select?: string[];
  adopt?: 'first-run' | 'never';
  enforceDeny?: boolean;
}

/** A configuration over the given targets; the guards that a change of selection trips are opened, as the test changes selections on purpose. */
async function writeConfig(targets: Target[], name = 'tagwall.json'): Promise<string> {
  const path = join(dir, name);
  const guards = { maxRemovedFraction: 1, maxSourceShrinkFraction: 1 };
  await writeFile(
    path,
    JSON.stringify({
      serviceTags: { source: 'file', path: BUNDLED },
      arm: { endpoint: emulator.url },
      state: { store: 'file', path: join(dir, 'state.json') },
      targets: targets.map((t) => ({ resource: t.id, select: t.select ?? ['AzureDevOps'], guards, ...(t.adopt === undefined ? {} : { adopt: t.adopt }), ...(t.enforceDeny === undefined ? {} : { enforceDeny: t.enforceDeny }) })),
    }),
  );
  return path;
}

async function vaultRules(name: string): Promise<string[]> {
  const v = (await emulator.control.vaults()).find((x) => x.name === name)!;
  const acls = (v.properties as { networkAcls?: { ipRules?: { value: string }[] } }).networkAcls;
  return (acls?.ipRules ?? []).map((r) => key(r.value)).sort();
}

async function resourceRules(id: string, kind: 'cosmos' | 'search'): Promise<string[]> {
  const r = (await emulator.control.resource(id)) as { properties?: Record<string, unknown> };
  const p = r.properties ?? {};
  const list = kind === 'cosmos' ? ((p['ipRules'] as { ipAddressOrRange: string }[] | undefined) ?? []).map((x) => x.ipAddressOrRange) : (((p['networkRuleSet'] as { ipRules?: { value: string }[] } | undefined)?.ipRules ?? []).map((x) => x.value));
  return list.map(key).sort();
}

async function writes(id?: string): Promise<{ method: string; path: string }[]> {
  return (await emulator.control.requests({ kind: 'arm' })).filter((x) => (x.method === 'PATCH' || x.method === 'PUT') && (id === undefined || x.path.toLowerCase().startsWith(id.toLowerCase())));
}

async function sync(config: string): Promise<void> {
  const r = await runCli(['sync', '--config', config, '--json'], { cwd: dir, env });
  expect(r.stderr).not.toMatch(/^tagwall:/m);
  expect(r.code).toBe(0);
}

interface View {
  target: string;
  configured: boolean;
  owned: { rule: string; reason: string; present?: boolean }[];
  record: null | { ownedRules: string[]; adoptedRules: string[]; appliedAt?: string; writtenAt?: string; intent?: unknown };
}

async function show(config: string, id: string): Promise<View> {
  const r = await runCli(['state', 'show', id, '--config', config, '--json'], { cwd: dir, env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as View;
}

useCliEmulator((e, cli) => {
  emulator = e;
  env = cli;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-cli-state-'));
  await emulator.control.reset({
    vaults: [seedVault('kv-app', { defaultAction: 'Deny', ipRules: [{ value: PERSON }] }), seedVault('kv-two', { defaultAction: 'Deny', ipRules: [] })],
    resources: [
      // 0.0.0.0 is Cosmos DB's own switch for Azure datacenters: special, never tagwall's.
      { id: cosmosId('cosmos-app'), properties: { ipRules: [{ ipAddressOrRange: '0.0.0.0' }, { ipAddressOrRange: PERSON }] }, emulatorOperation: { durationMs: 0 } },
      { id: searchId('srch-app'), properties: { networkRuleSet: { ipRules: [], bypass: 'None' } } },
    ],
  });
  await emulator.control.clearRequests();
});

describe('tagwall state show', () => {
  it('lists exactly the rules a run wrote, each as written, by ID or by name; the person\'s rule is not among them', async () => {
    const config = await writeConfig([{ id: vaultId('kv-app') }]);
    await sync(config);
    // What the run wrote, as the emulator holds it: everything but the person's rule.
    const written = (await vaultRules('kv-app')).filter((r) => r !== key(PERSON));
    expect(written.length).toBeGreaterThan(10);
    for (const id of [vaultId('kv-app'), 'kv-app', vaultId('kv-app').toUpperCase()]) {
      const view = await show(config, id);
      expect(view.target).toBe(vaultId('kv-app'));
      expect(view.configured).toBe(true);
      expect(view.owned.map((o) => o.rule).sort()).toEqual(written);
      expect(new Set(view.owned.map((o) => o.reason))).toEqual(new Set(['written']));
      expect(view.record).toMatchObject({ appliedAt: expect.any(String), writtenAt: expect.any(String) });
      expect(view.record!.intent).toBeUndefined();
    }
    const text = await runCli(['state', 'show', 'kv-app', '--config', config], { cwd: dir, env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Owned       ${written.length} rules`);
    expect(text.stdout).not.toContain(key(PERSON));
  });

  it('says which rules were adopted on first contact rather than written', async () => {
    // kv-two first, to learn a rule the selection wants from what the emulator holds.
    const first = await writeConfig([{ id: vaultId('kv-two') }]);
    await sync(first);
    const wanted = (await vaultRules('kv-two'))[0]!;
    await emulator.control.addRule('kv-app', wanted);
    const config = await writeConfig([{ id: vaultId('kv-app') }], 'second.json');
    await sync(config);
    const view = await show(config, 'kv-app');
    const written = (await vaultRules('kv-app')).filter((r) => r !== key(PERSON) && r !== wanted);
    expect(view.owned.filter((o) => o.reason === 'adopted').map((o) => o.rule)).toEqual([wanted]);
    expect(view.owned.filter((o) => o.reason === 'written').map((o) => o.rule).sort()).toEqual(written);
  });

  it('a configured target with no record owns nothing; an unknown target is TARGET_UNKNOWN, exit 1, with the code in --json', async () => {
    const config = await writeConfig([{ id: vaultId('kv-app') }]);
    const none = await show(config, 'kv-app');
    expect(none.record).toBeNull();
    expect(none.owned).toEqual([]);
    for (const id of ['kv-nowhere', vaultId('kv-two')]) {
      const r = await runCli(['state', 'show', id, '--config', config, '--json'], { cwd: dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^tagwall: TARGET_UNKNOWN: .*not a configured target/m);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'TARGET_UNKNOWN' } });
    }
    const offboard = await runCli(['offboard', 'kv-nowhere', '--config', config, '--yes'], { cwd: dir, env });
    expect(offboard.code).toBe(1);
    expect(offboard.stderr).toMatch(/TARGET_UNKNOWN/);
    expect(await emulator.control.requests({ kind: 'arm' })).toEqual([]);
  });
});

describe('tagwall state forget', () => {
  it('after forget, a sync leaves the formerly owned rules that the configuration no longer wants', async () => {
    const config = await writeConfig([{ id: vaultId('kv-app') }]);
    await sync(config);
    const written = (await vaultRules('kv-app')).filter((r) => r !== key(PERSON));

    // Without --yes and without a terminal, nothing is forgotten.
    const unasked = await runCli(['state', 'forget', 'kv-app', '--config', config], { cwd: dir, env });
    expect(unasked.code).toBe(1);
    expect(unasked.stderr).toMatch(/CONFIRMATION_REQUIRED/);
    expect((await show(config, 'kv-app')).owned).toHaveLength(written.length);

    const forgot = await runCli(['state', 'forget', 'kv-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(forgot.code).toBe(0);
    expect(JSON.parse(forgot.stdout)).toMatchObject({ record: 'deleted', released: written });
    expect((await show(config, 'kv-app')).record).toBeNull();

    // Another selection: the old rules are a person's now, so nothing of them is removed.
    const other = await writeConfig([{ id: vaultId('kv-app'), select: ['AzureFrontDoor.FirstParty'] }], 'other.json');
    await sync(other);
    const after = await vaultRules('kv-app');
    for (const r of [...written, key(PERSON)]) expect(after).toContain(r);
  });

  it('the same change of selection without forget removes them (the control)', async () => {
    const config = await writeConfig([{ id: vaultId('kv-app') }]);
    await sync(config);
    const written = (await vaultRules('kv-app')).filter((r) => r !== key(PERSON));
    await sync(await writeConfig([{ id: vaultId('kv-app'), select: ['AzureFrontDoor.FirstParty'] }], 'other.json'));
    const after = await vaultRules('kv-app');
    expect(after).toContain(key(PERSON));
    expect(written.filter((r) => after.includes(r))).toEqual([]);
  });
});

describe('tagwall state adopt', () => {
  it('adopts only the rules the configuration wants; a later sync removes an adopted rule once it is not wanted, and never the person\'s', async () => {
    const first = await writeConfig([{ id: vaultId('kv-two') }]);
    await sync(first);
    const wanted = (await vaultRules('kv-two'))[0]!;
    await emulator.control.addRule('kv-app', wanted);
    // adopt: never, so the first sync leaves the wanted rule the person's (shared).
    const config = await writeConfig([{ id: vaultId('kv-app'), adopt: 'never' }], 'app.json');
    await sync(config);
    expect((await show(config, 'kv-app')).owned.map((o) => o.rule)).not.toContain(wanted);

    const dry = await runCli(['state', 'adopt', 'kv-app', '--config', config, '--dry-run', '--json'], { cwd: dir, env });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, adopt: [wanted], notWanted: [key(PERSON)], record: 'unchanged' });
    expect((await show(config, 'kv-app')).owned.map((o) => o.rule)).not.toContain(wanted);

    const adopted = await runCli(['state', 'adopt', 'kv-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(adopted.code).toBe(0);
    expect(JSON.parse(adopted.stdout)).toMatchObject({ dryRun: false, adopt: [wanted], record: 'saved' });
    const view = await show(config, 'kv-app');
    expect(view.owned.filter((o) => o.reason === 'adopted').map((o) => o.rule)).toEqual([wanted]);
    expect(view.owned.map((o) => o.rule)).not.toContain(key(PERSON));
    expect(await writes()).toEqual([expect.objectContaining({ method: 'PATCH' }), expect.objectContaining({ method: 'PATCH' })]);

    await sync(await writeConfig([{ id: vaultId('kv-app'), adopt: 'never', select: ['AzureFrontDoor.FirstParty'] }], 'other.json'));
    const after = await vaultRules('kv-app');
    expect(after).not.toContain(wanted);
    expect(after).toContain(key(PERSON));
  });

  it('without adopt, the same change of selection keeps the shared rule (the control)', async () => {
    await sync(await writeConfig([{ id: vaultId('kv-two') }]));
    const wanted = (await vaultRules('kv-two'))[0]!;
    await emulator.control.addRule('kv-app', wanted);
    await sync(await writeConfig([{ id: vaultId('kv-app'), adopt: 'never' }], 'app.json'));
    await sync(await writeConfig([{ id: vaultId('kv-app'), adopt: 'never', select: ['AzureFrontDoor.FirstParty'] }], 'other.json'));
    expect(await vaultRules('kv-app')).toContain(wanted);
  });
});

describe('tagwall offboard', () => {
  it('removes exactly tagwall\'s rules in one write (a person\'s rule and a special entry survive), then deletes its record', async () => {
    const configured = await writeConfig([{ id: cosmosId('cosmos-app') }]);
    await sync(configured);
    const before = await resourceRules(cosmosId('cosmos-app'), 'cosmos');
    expect(before.length).toBeGreaterThan(10);
    // Removed from the configuration first, as offboarding asks (the state stays where it was).
    const config = await writeConfig([{ id: vaultId('kv-app') }], 'after.json');

    await emulator.control.clearRequests();
    const dry = await runCli(['offboard', cosmosId('cosmos-app'), '--config', config, '--dry-run', '--json'], { cwd: dir, env });
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout) as { outcome: string; remove: string[]; keep: string[]; special: string[]; writes: number };
    expect(planned).toMatchObject({ outcome: 'pending', writes: 0, special: ['0.0.0.0'] });
    expect(planned.remove).toEqual(before.filter((r) => r !== '0.0.0.0/32' && r !== key(PERSON) && r !== '0.0.0.0'));
    expect(await writes()).toEqual([]);

    await emulator.control.clearRequests();
    const r = await runCli(['offboard', cosmosId('cosmos-app'), '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'offboarded', record: 'deleted', writes: 1 });
    expect(await writes(cosmosId('cosmos-app'))).toHaveLength(1);
    expect(await resourceRules(cosmosId('cosmos-app'), 'cosmos')).toEqual(['0.0.0.0/32', key(PERSON)].sort());
    // No record and no longer configured: tagwall knows nothing of it.
    const gone = await runCli(['state', 'show', cosmosId('cosmos-app'), '--config', config], { cwd: dir, env });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/TARGET_UNKNOWN/);
  });

  it('refuses a target that is still configured (OFFBOARD_TARGET_CONFIGURED) with zero writes, unless --force', async () => {
    const config = await writeConfig([{ id: vaultId('kv-app') }]);
    await sync(config);
    const before = await vaultRules('kv-app');
    await emulator.control.clearRequests();
    const r = await runCli(['offboard', 'kv-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'refused', reasons: [{ code: 'OFFBOARD_TARGET_CONFIGURED' }], writes: 0 });
    expect(await writes()).toEqual([]);
    expect(await vaultRules('kv-app')).toEqual(before);

    const forced = await runCli(['offboard', 'kv-app', '--config', config, '--yes', '--force'], { cwd: dir, env });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/Outcome +offboarded/);
    expect(await writes()).toHaveLength(1);
    expect(await vaultRules('kv-app')).toEqual([key(PERSON)]);
  });

  it('refuses to empty a list that is the switch (OFFBOARD_WOULD_OPEN_FIREWALL) with zero writes; --allow-open opens it in one write', async () => {
    const configured = await writeConfig([{ id: searchId('srch-app'), enforceDeny: true }]);
    await sync(configured);
    const written = await resourceRules(searchId('srch-app'), 'search');
    expect(written.length).toBeGreaterThan(10);
    const config = await writeConfig([{ id: vaultId('kv-app') }], 'after.json');
    await emulator.control.clearRequests();
    const r = await runCli(['offboard', searchId('srch-app'), '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'refused', reasons: [{ code: 'OFFBOARD_WOULD_OPEN_FIREWALL' }], writes: 0, record: 'kept' });
    expect(await writes()).toEqual([]);
    expect(await resourceRules(searchId('srch-app'), 'search')).toEqual(written);

    const open = await runCli(['offboard', searchId('srch-app'), '--config', config, '--yes', '--allow-open', '--json'], { cwd: dir, env });
    expect(open.code).toBe(0);
    expect(JSON.parse(open.stdout)).toMatchObject({ outcome: 'offboarded', remove: written, keep: [], writes: 1 });
    expect(await writes()).toHaveLength(1);
    expect(await resourceRules(searchId('srch-app'), 'search')).toEqual([]);
  });
});

// The start/end kinds name their rules for the owner (tagwall-<owner>-<n>, Redis tagwall_<owner>_<n>):
// the names, not the record, say what is tagwall's, so the state tools must say so for every one of them.
const NAME_OWNED = [
  { kind: 'sql', type: 'Microsoft.Sql/servers', fields: ['startIpAddress', 'endIpAddress'] },
  { kind: 'postgresql-flexible', type: 'Microsoft.DBforPostgreSQL/flexibleServers', fields: ['startIpAddress', 'endIpAddress'] },
  { kind: 'mysql-flexible', type: 'Microsoft.DBforMySQL/flexibleServers', fields: ['startIpAddress', 'endIpAddress'] },
  { kind: 'synapse', type: 'Microsoft.Synapse/workspaces', fields: ['startIpAddress', 'endIpAddress'] },
  { kind: 'redis', type: 'Microsoft.Cache/redis', fields: ['startIP', 'endIP'] },
] as const;

describe.each(NAME_OWNED.map((k) => [k.kind, k] as const))('state tools on a name-owned start/end kind: %s', (_kind, row) => {
  const id = `/subscriptions/${TEST_SUBSCRIPTION}/resourceGroups/${TEST_GROUP}/providers/${row.type}/db-app`;
  const [S, E] = row.fields;
  async function rules(): Promise<{ name: string; range: string }[]> {
    const json = (await emulator.control.resource(id)) as { firewallRules: { name: string; properties: Record<string, string> }[] };
    return json.firewallRules.map((r) => ({ name: r.name, range: `${r.properties[S]}-${r.properties[E]}` }));
  }

  it('show reads the names, adopt is ADOPT_NAME_OWNED with zero writes, forget says the named rules stay tagwall\'s (a later sync removes them)', async () => {
    await emulator.control.seed({ vaults: [], resources: [{ id, firewallRules: [{ name: 'office', [S]: '145.14.56.20', [E]: '145.14.56.29' }] }] });
    const config = await writeConfig([{ id }]);
    await sync(config);
    const named = (await rules()).filter((r) => r.name !== 'office');
    expect(named.length).toBeGreaterThan(10);
    expect(named.every((r) => /^tagwall[-_][0-9a-f]{8}[-_]\d+$/.test(r.name))).toBe(true);

    const view = (await show(config, 'db-app')) as View & { ownedByName?: { ownerId: string; rules: string[] } };
    expect(view.owned).toHaveLength(named.length);
    expect(new Set(view.owned.map((o) => o.reason))).toEqual(new Set(['name']));
    expect(view.ownedByName?.rules).toHaveLength(named.length);

    await emulator.control.clearRequests();
    const adopt = await runCli(['state', 'adopt', 'db-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(adopt.code).toBe(1);
    expect(JSON.parse(adopt.stdout)).toMatchObject({ error: { code: 'ADOPT_NAME_OWNED' } });
    expect(await writes()).toEqual([]);

    const forget = await runCli(['state', 'forget', 'db-app', '--config', config, '--yes', '--json'], { cwd: dir, env });
    expect(forget.code).toBe(0);
    expect(JSON.parse(forget.stdout)).toMatchObject({ record: 'deleted', nameOwned: true, released: [] });
    // The names still say whose the rules are: another selection removes every range of them, never the office's.
    await sync(await writeConfig([{ id, select: ['AzureFrontDoor.FirstParty'] }], 'other.json'));
    const after = await rules();
    expect(after).toContainEqual({ name: 'office', range: '145.14.56.20-145.14.56.29' });
    expect(named.filter((r) => after.some((x) => x.range === r.range))).toEqual([]);
  });
});
