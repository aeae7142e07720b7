import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { renderExport } from '../../src/export/iac.js';
import { SQL_SERVER } from '../../src/targets/sql/facts.js';
import { POSTGRESQL_FLEXIBLE } from '../../src/targets/postgresql-flexible/facts.js';
import { MYSQL_FLEXIBLE } from '../../src/targets/mysql-flexible/facts.js';
import { SYNAPSE_WORKSPACE } from '../../src/targets/synapse/facts.js';
import { REDIS_CACHE } from '../../src/targets/redis/facts.js';
import { REDIS_RULE_NAME } from '../../src/targets/redis/names.js';

// The exports of a start/end kind, from its facts alone (pure: no CLI, no emulator).

const SERVER = parseResourceId('/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app/providers/Microsoft.Sql/servers/sql-app');

function armValue(rules: readonly string[]): Record<string, string>[] {
  const text = renderExport('arm', { kind: SQL_SERVER, rules, add: rules, remove: [], origin: 'test' });
  return (JSON.parse(text) as { parameters: { ipRules: { value: Record<string, string>[] } } }).parameters.ipRules.value;
}

describe('exports of an Azure SQL server', () => {
  it('the whole list keeps AllowAllWindowsAzureIps under its own name, and a person\'s range beside tagwall\'s', () => {
    const value = armValue(['0.0.0.0', '145.14.56.20-145.14.56.29', '52.1.2.0/24']);
    expect(value).toEqual([
      { name: 'AllowAllWindowsAzureIps', startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' },
      { name: 'tagwalliac_145_14_56_20_145_14_56_29', startIpAddress: '145.14.56.20', endIpAddress: '145.14.56.29' },
      { name: 'tagwalliac_52_1_2_0_24', startIpAddress: '52.1.2.0', endIpAddress: '52.1.2.255' },
    ]);
  });

  it('a rule keeps its name when another range comes before it (for_each does not recreate it)', () => {
    const before = armValue(['52.1.2.0/24']);
    const after = armValue(['20.0.0.1', '52.1.2.0/24']);
    expect(after.find((r) => r['startIpAddress'] === '52.1.2.0')!['name']).toBe(before[0]!['name']);
  });

  it('az: a removal deletes the rules named tagwall… holding exactly that range (their names in Azure are not in the plan); adds create named rules', () => {
    const text = renderExport('az', { kind: SQL_SERVER, rules: ['52.1.2.0/24'], add: ['52.1.2.0/24'], remove: ['198.51.100.0-198.51.100.9'], resource: SERVER, origin: 'test' });
    const check = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const lines = text.split('\n');
    expect(lines).toContain('group=rg-app');
    expect(lines).toContain('name=sql-app');
    expect(lines).toContain(
      `for rule in $(az sql server firewall-rule list --resource-group "$group" --server "$name" --query '[?startIpAddress=='\\''198.51.100.0'\\'' && endIpAddress=='\\''198.51.100.9'\\'' && starts_with(name, '\\''tagwall'\\'')].name' --output tsv); do az sql server firewall-rule delete --resource-group "$group" --server "$name" --name "$rule"; done`,
    );
    expect(lines).toContain('az sql server firewall-rule create --resource-group "$group" --server "$name" --name tagwalliac_52_1_2_0_24 --start-ip-address 52.1.2.0 --end-ip-address 52.1.2.255');
    // Removes before adds, as for every kind.
    expect(lines.findIndex((l) => l.startsWith('for rule'))).toBeLessThan(lines.findIndex((l) => l.startsWith('az sql server firewall-rule create')));
  });

  it('the query bash hands az is the JMESPath text itself', () => {
    const text = renderExport('az', { kind: SQL_SERVER, rules: [], add: [], remove: ['198.51.100.7'], resource: SERVER, origin: 'test' });
    const loop = text.split('\n').find((l) => l.startsWith('for rule'))!;
    // Let bash parse the words of the list command and print the --query argument.
    const quoted = /--query ('(?:[^']|'\\'')*')/.exec(loop)![1]!;
    const r = spawnSync('bash', ['-c', `printf %s ${quoted}`], { encoding: 'utf8' });
    expect(r.stdout).toBe("[?startIpAddress=='198.51.100.7' && endIpAddress=='198.51.100.7' && starts_with(name, 'tagwall')].name");
  });
});

// The four start/end kinds written one rule at a time: their az scripts, run by bash against a
// stand-in `az` that answers the list command as the real one prints it and records every other call.
const KINDS_ONE_BY_ONE = [
  {
    kind: POSTGRESQL_FLEXIBLE,
    id: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-app',
    // az prints each rule's name bare.
    listed: 'tagwalliac_198_51_100_0_198_51_100_9',
    remove: 'az postgres flexible-server firewall-rule delete --resource-group rg-app --name pg-app --rule-name tagwalliac_198_51_100_0_198_51_100_9 --yes',
    add: 'az postgres flexible-server firewall-rule create --resource-group rg-app --name pg-app --rule-name tagwalliac_52_1_2_0_24 --start-ip-address 52.1.2.0 --end-ip-address 52.1.2.255',
    fields: ['startIpAddress', 'endIpAddress'],
  },
  {
    kind: MYSQL_FLEXIBLE,
    id: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app/providers/Microsoft.DBforMySQL/flexibleServers/my-app',
    listed: 'tagwalliac_198_51_100_0_198_51_100_9',
    remove: 'az mysql flexible-server firewall-rule delete --resource-group rg-app --name my-app --rule-name tagwalliac_198_51_100_0_198_51_100_9 --yes',
    add: 'az mysql flexible-server firewall-rule create --resource-group rg-app --name my-app --rule-name tagwalliac_52_1_2_0_24 --start-ip-address 52.1.2.0 --end-ip-address 52.1.2.255',
    fields: ['startIpAddress', 'endIpAddress'],
  },
  {
    kind: SYNAPSE_WORKSPACE,
    id: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app/providers/Microsoft.Synapse/workspaces/syn-app',
    listed: 'tagwalliac_198_51_100_0_198_51_100_9',
    remove: 'az synapse workspace firewall-rule delete --resource-group rg-app --workspace-name syn-app --name tagwalliac_198_51_100_0_198_51_100_9 --yes',
    add: 'az synapse workspace firewall-rule create --resource-group rg-app --workspace-name syn-app --name tagwalliac_52_1_2_0_24 --start-ip-address 52.1.2.0 --end-ip-address 52.1.2.255',
    fields: ['startIpAddress', 'endIpAddress'],
  },
  {
    kind: REDIS_CACHE,
    id: '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-app/providers/Microsoft.Cache/redis/redis-app',
    // az prints a Redis rule's name as <cache>/<rule> (the spec's examples answer cache1/rule1 too): the delete takes the rule's own.
    listed: 'redis-app/tagwalliac_198_51_100_0_198_51_100_9',
    remove: 'az redis firewall-rules delete --resource-group rg-app --name redis-app --rule-name tagwalliac_198_51_100_0_198_51_100_9',
    add: 'az redis firewall-rules create --resource-group rg-app --name redis-app --rule-name tagwalliac_52_1_2_0_24 --start-ip 52.1.2.0 --end-ip 52.1.2.255',
    fields: ['startIp', 'endIp'],
  },
] as const;

describe.each(KINDS_ONE_BY_ONE)('exports of a $kind.title', ({ kind, id, listed, remove, add, fields }) => {
  const input = { kind, rules: ['0.0.0.0', '52.1.2.0/24'], add: ['52.1.2.0/24'], remove: ['198.51.100.0-198.51.100.9'], resource: parseResourceId(id), origin: 'test' };

  it('az: bash runs it; a removal deletes the listed tagwall… rule holding that range by its own name, before the create', () => {
    const text = renderExport('az', input);
    // A stand-in az: `list` prints the rule's name as az does (the --query asked for), anything else is recorded.
    const stub = `az() { if [ "$3" = list ] || [ "$4" = list ]; then printf '%s\\n' '${listed}'; else echo "az $*" >> "$LOG"; fi; }\n`;
    const dir = mkdtempSync(join(tmpdir(), 'tagwall-az-'));
    const log = join(dir, 'log');
    writeFileSync(join(dir, 'export.sh'), text);
    const r = spawnSync('bash', ['-c', `${stub}source "$0"`, join(dir, 'export.sh')], { encoding: 'utf8', env: { ...process.env, LOG: log } });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([remove, add]);
  });

  it('az: the list query picks rules by the fields az prints and by a tagwall name', () => {
    const loop = renderExport('az', input).split('\n').find((l) => l.startsWith('for rule'))!;
    const quoted = /--query ('(?:[^']|'\\'')*')/.exec(loop)![1]!;
    const query = spawnSync('bash', ['-c', `printf %s ${quoted}`], { encoding: 'utf8' }).stdout;
    expect(query).toContain(`${fields[0]}=='198.51.100.0' && ${fields[1]}=='198.51.100.9'`);
    expect(query).toContain("starts_with(name, 'tagwall')");
  });

  it('every name the whole-list export gives is one the kind takes (Redis: letters, digits and underscores)', () => {
    const text = renderExport('arm', { ...input, rules: ['0.0.0.0', '1.2.3.4', '145.14.56.20-145.14.56.29', '52.1.2.0/24', '255.255.255.255'] });
    const value = (JSON.parse(text) as { parameters: { ipRules: { value: Record<string, string>[] } } }).parameters.ipRules.value;
    expect(value).toHaveLength(5);
    for (const r of value) expect(r['name'], r['name']).toMatch(REDIS_RULE_NAME);
    expect(new Set(value.map((r) => r['name'])).size).toBe(5);
  });
});
