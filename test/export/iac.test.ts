import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseResourceId } from '../../src/core/resource-id.js';
import { renderExport } from '../../src/export/iac.js';
import { SQL_SERVER } from '../../src/targets/sql/facts.js';

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
      { name: 'tagwall_145_14_56_20_145_14_56_29', startIpAddress: '145.14.56.20', endIpAddress: '145.14.56.29' },
      { name: 'tagwall_52_1_2_0_24', startIpAddress: '52.1.2.0', endIpAddress: '52.1.2.255' },
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
    expect(lines).toContain('az sql server firewall-rule create --resource-group "$group" --server "$name" --name tagwall_52_1_2_0_24 --start-ip-address 52.1.2.0 --end-ip-address 52.1.2.255');
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
