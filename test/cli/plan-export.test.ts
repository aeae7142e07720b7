import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BUNDLED, runCli } from '../helpers/cli.js';

// `tagwall plan --format`: each export read back the way its tool would read it, and its rules
// compared with `--format json`'s, so no format can drop, add or respell a rule.

const BASE = ['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--extra', '52.1.2.3'];

async function jsonRules(kind: string): Promise<string[]> {
  const r = await runCli([...BASE, '--kind', kind, '--format', 'json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { rules: string[] }).rules;
}

async function exported(kind: string, format: string): Promise<string> {
  const r = await runCli([...BASE, '--kind', kind, '--format', format]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A tfvars file's `ip_rules` list, by an HCL reader's rules for a list of plain strings. */
function tfvarsRules(text: string): string[] {
  const m = /^ip_rules = \[\n((?: {2}"[^"\\\n]*",\n)*)\]\n$/m.exec(text);
  expect(m, text).not.toBeNull();
  const body = text.split('\n').filter((l) => !l.startsWith('#') && l !== '');
  expect(body[0]).toBe('ip_rules = [');
  return [...m![1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!);
}

/** A .bicepparam file's `ipRules`: `using` first, then one single-quoted string per line. */
function bicepRules(text: string): string[] {
  const lines = text.split('\n').filter((l) => !l.startsWith('//') && l !== '');
  expect(lines[0]).toBe("using './main.bicep'");
  expect(lines[1]).toBe('param ipRules = [');
  expect(lines.at(-1)).toBe(']');
  return lines.slice(2, -1).map((l) => {
    const m = /^ {2}'([^'\\]*)'$/.exec(l);
    expect(m, l).not.toBeNull();
    return m![1]!;
  });
}


/** A start/end rule of `--format json` (`a.b.c.d-e.f.g.h`, a single address bare) as its two addresses. */
function startEnd(rule: string): [string, string] {
  const [start, end] = rule.split('-');
  return [start!, end ?? start!];
}

/** A tfvars list of objects, one per line: `{ name = "…", start_ip_address = "…", end_ip_address = "…" },`. */
function tfvarsObjects(text: string): Record<string, string>[] {
  const body = text.split('\n').filter((l) => !l.startsWith('#') && l !== '');
  expect(body[0]).toBe('ip_rules = [');
  expect(body.at(-1)).toBe(']');
  return body.slice(1, -1).map((l) => {
    const m = /^ {2}\{ ((?:[a-z_]+ = "[^"\\]*"(?:, )?)+) \},$/.exec(l);
    expect(m, l).not.toBeNull();
    return Object.fromEntries([...m![1]!.matchAll(/([a-z_]+) = "([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
  });
}

/** A .bicepparam file's objects: `{`, one `key: 'value'` per line, `}`. */
function bicepObjects(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((l) => !l.startsWith('//') && l !== '');
  expect(lines[0]).toBe("using './main.bicep'");
  expect(lines[1]).toBe('param ipRules = [');
  expect(lines.at(-1)).toBe(']');
  const out: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const l of lines.slice(2, -1)) {
    if (l === '  {') current = {};
    else if (l === '  }') {
      out.push(current!);
      current = undefined;
    } else {
      const m = /^ {4}([A-Za-z]+): '([^'\\]*)'$/.exec(l);
      expect(m, l).not.toBeNull();
      current![m![1]!] = m![2]!;
    }
  }
  expect(current).toBeUndefined();
  return out;
}

describe('tagwall plan --format', () => {
  it('json: the written form, by kind (a single address bare for a Key Vault, /32 for a perimeter profile)', async () => {
    const kv = await jsonRules('keyvault');
    expect(kv).toContain('52.1.2.3');
    expect(kv.some((r) => r.endsWith('/32'))).toBe(false);
    const profile = await jsonRules('nsp-profile');
    expect(profile).toContain('52.1.2.3/32');
    expect(profile.length).toBe(kv.length);
  });

  it('tfvars: an HCL list of the same rules', async () => {
    for (const kind of ['keyvault', 'storage', 'nsp-profile']) {
      const text = await exported(kind, 'tfvars');
      expect(tfvarsRules(text), kind).toEqual(await jsonRules(kind));
    }
  });

  it('bicepparam: using main.bicep, param ipRules with the same rules', async () => {
    const text = await exported('keyvault', 'bicepparam');
    expect(bicepRules(text)).toEqual(await jsonRules('keyvault'));
  });

  it('arm: a deployment parameters file whose rule objects are each kind\'s own shape', async () => {
    const cases: [string, (rules: string[]) => unknown[]][] = [
      ['keyvault', (rules) => rules.map((value) => ({ value }))],
      ['storage', (rules) => rules.map((value) => ({ value, action: 'Allow' }))],
      ['cosmosdb', (rules) => rules.map((ipAddressOrRange) => ({ ipAddressOrRange }))],
      ['eventhub', (rules) => rules.map((ipMask) => ({ ipMask, action: 'Allow' }))],
      ['nsp-profile', (rules) => rules],
    ];
    for (const [kind, shape] of cases) {
      const file = JSON.parse(await exported(kind, 'arm')) as { $schema: string; contentVersion: string; parameters: { ipRules: { value: unknown[] } } };
      expect(file.$schema).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#');
      expect(file.contentVersion).toBe('1.0.0.0');
      expect(file.parameters.ipRules.value, kind).toEqual(shape(await jsonRules(kind)));
    }
  });

  it('az: a script bash accepts, one add per rule, for the kinds with a per-rule az command', async () => {
    for (const [kind, pattern] of [
      ['keyvault', /^az keyvault network-rule add --resource-group "\$group" --name "\$name" --ip-address (\S+)$/],
      ['storage', /^az storage account network-rule add --resource-group "\$group" --account-name "\$name" --ip-address (\S+)$/],
      ['servicebus', /^az servicebus namespace network-rule-set ip-rule add --resource-group "\$group" --namespace-name "\$name" --ip-rule ip-address=(\S+) action=Allow$/],
    ] as const) {
      const text = await exported(kind, 'az');
      const check = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      const adds = text.split('\n').flatMap((l) => {
        const m = pattern.exec(l);
        return m === null ? [] : [m[1]!];
      });
      expect(adds, kind).toEqual(await jsonRules(kind));
      expect(text.split('\n').filter((l) => l.startsWith('az ')).length).toBe(adds.length);
    }
  });

  it('an Azure SQL server (start/end rules): named objects in tfvars, bicepparam and arm, the same ranges as json', async () => {
    const ranges = (await jsonRules('sql')).map(startEnd);
    expect(ranges).toContainEqual(['52.1.2.3', '52.1.2.3']);
    expect(ranges.some(([a, b]) => a !== b)).toBe(true);

    const tf = tfvarsObjects(await exported('sql', 'tfvars'));
    expect(tf.map((r) => [r['start_ip_address'], r['end_ip_address']])).toEqual(ranges);
    expect(tf.every((r) => Object.keys(r).sort().join() === 'end_ip_address,name,start_ip_address')).toBe(true);
    const names = tf.map((r) => r['name']!);
    // for_each keys: unique, and names SQL takes (no / \ : ? * < > % &, not ending in a dot).
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => !/^[A-Za-z0-9_-]{1,128}$/.test(n))).toEqual([]);

    const bicep = bicepObjects(await exported('sql', 'bicepparam'));
    expect(bicep).toEqual(tf.map((r) => ({ name: r['name'], startIpAddress: r['start_ip_address'], endIpAddress: r['end_ip_address'] })));

    const file = JSON.parse(await exported('sql', 'arm')) as { $schema: string; metadata: Record<string, string>; parameters: { ipRules: { value: unknown[] } } };
    expect(file.$schema).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#');
    expect(file.metadata['resourceType']).toBe('Microsoft.Sql/servers/firewallRules');
    expect(file.parameters.ipRules.value).toEqual(bicep);
  });

  it('an Azure SQL server: az firewall-rule create per range, named, with its start and end', async () => {
    const text = await exported('sql', 'az');
    const check = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    const pattern = /^az sql server firewall-rule create --resource-group "\$group" --server "\$name" --name (\S+) --start-ip-address (\S+) --end-ip-address (\S+)$/;
    const adds = text.split('\n').flatMap((l) => {
      const m = pattern.exec(l);
      return m === null ? [] : [[m[2]!, m[3]!]];
    });
    expect(adds).toEqual((await jsonRules('sql')).map(startEnd));
    expect(text.split('\n').filter((l) => l.startsWith('az ')).length).toBe(adds.length);
  });

  // The four start/end kinds written one rule at a time: each export with its own field names and az commands.
  const NAMED_KINDS = [
    {
      kind: 'postgresql-flexible',
      childType: 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules',
      arm: ['startIpAddress', 'endIpAddress'],
      terraform: ['start_ip_address', 'end_ip_address'],
      add: /^az postgres flexible-server firewall-rule create --resource-group "\$group" --name "\$name" --rule-name (\S+) --start-ip-address (\S+) --end-ip-address (\S+)$/,
    },
    {
      kind: 'mysql-flexible',
      childType: 'Microsoft.DBforMySQL/flexibleServers/firewallRules',
      arm: ['startIpAddress', 'endIpAddress'],
      terraform: ['start_ip_address', 'end_ip_address'],
      add: /^az mysql flexible-server firewall-rule create --resource-group "\$group" --name "\$name" --rule-name (\S+) --start-ip-address (\S+) --end-ip-address (\S+)$/,
    },
    {
      kind: 'synapse',
      childType: 'Microsoft.Synapse/workspaces/firewallRules',
      arm: ['startIpAddress', 'endIpAddress'],
      terraform: ['start_ip_address', 'end_ip_address'],
      add: /^az synapse workspace firewall-rule create --resource-group "\$group" --workspace-name "\$name" --name (\S+) --start-ip-address (\S+) --end-ip-address (\S+)$/,
    },
    {
      kind: 'redis',
      childType: 'Microsoft.Cache/redis/firewallRules',
      arm: ['startIP', 'endIP'],
      terraform: ['start_ip', 'end_ip'],
      add: /^az redis firewall-rules create --resource-group "\$group" --name "\$name" --rule-name (\S+) --start-ip (\S+) --end-ip (\S+)$/,
    },
  ] as const;

  describe.each(NAMED_KINDS)('a $kind (start/end rules written one by one)', ({ kind, childType, arm, terraform, add }) => {
    it('named objects in tfvars, bicepparam and arm with the kind\'s own field names, the same ranges as json', async () => {
      const ranges = (await jsonRules(kind)).map(startEnd);
      expect(ranges).toContainEqual(['52.1.2.3', '52.1.2.3']);
      expect(ranges.some(([a, b]) => a !== b)).toBe(true);

      const tf = tfvarsObjects(await exported(kind, 'tfvars'));
      expect(tf.map((r) => [r[terraform[0]], r[terraform[1]]])).toEqual(ranges);
      expect(tf.every((r) => Object.keys(r).sort().join() === ['name', ...terraform].sort().join())).toBe(true);
      const names = tf.map((r) => r['name']!);
      // for_each keys, unique; and names every one of these kinds takes: Redis's letters, digits and underscores.
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => !/^\w{1,128}$/.test(n))).toEqual([]);

      const bicep = bicepObjects(await exported(kind, 'bicepparam'));
      expect(bicep).toEqual(tf.map((r) => ({ name: r['name'], [arm[0]]: r[terraform[0]], [arm[1]]: r[terraform[1]] })));

      const file = JSON.parse(await exported(kind, 'arm')) as { metadata: Record<string, string>; parameters: { ipRules: { value: unknown[] } } };
      expect(file.metadata['resourceType']).toBe(childType);
      expect(file.parameters.ipRules.value).toEqual(bicep);
    });

    it('az: one create per range, named, with its start and end; bash accepts the script', async () => {
      const text = await exported(kind, 'az');
      const check = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      const adds = text.split('\n').flatMap((l) => {
        const m = add.exec(l);
        return m === null ? [] : [[m[2]!, m[3]!]];
      });
      expect(adds).toEqual((await jsonRules(kind)).map(startEnd));
      expect(text.split('\n').filter((l) => l.startsWith('az ')).length).toBe(adds.length);
    });
  });

  it('an AKS cluster: plain CIDR strings (a single address /32) in every file format; az refused (it replaces the whole list)', async () => {
    const rules = await jsonRules('aks');
    expect(rules).toContain('52.1.2.3/32');
    expect(tfvarsRules(await exported('aks', 'tfvars'))).toEqual(rules);
    expect(bicepRules(await exported('aks', 'bicepparam'))).toEqual(rules);
    const file = JSON.parse(await exported('aks', 'arm')) as { parameters: { ipRules: { value: unknown[] } } };
    expect(file.parameters.ipRules.value).toEqual(rules);
    const r = await runCli([...BASE, '--kind', 'aks', '--format', 'az']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });

  it('a container app: ipSecurityRestrictions objects {name, ipAddressRange, action: Allow}, each named (Azure requires a name)', async () => {
    const rules = await jsonRules('containerapp');
    expect(rules).toContain('52.1.2.3/32');
    const file = JSON.parse(await exported('containerapp', 'arm')) as { parameters: { ipRules: { value: Record<string, string>[] } } };
    const value = file.parameters.ipRules.value;
    expect(value.map((r) => r['ipAddressRange'])).toEqual(rules);
    expect(value.every((r) => r['action'] === 'Allow' && Object.keys(r).sort().join() === 'action,ipAddressRange,name')).toBe(true);
    expect(new Set(value.map((r) => r['name'])).size).toBe(rules.length);
    expect(bicepObjects(await exported('containerapp', 'bicepparam'))).toEqual(value);
    const tf = tfvarsObjects(await exported('containerapp', 'tfvars'));
    expect(tf).toEqual(value.map((r) => ({ name: r['name'], ip_address_range: r['ipAddressRange'], action: 'Allow' })));
  });

  it('az is refused for a kind whose az command only replaces the whole list, naming the formats that work', async () => {
    const r = await runCli([...BASE, '--kind', 'cosmosdb', '--format', 'az']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^tagwall: [A-Z_]+: --format az: a Cosmos DB account's az commands only replace the whole IP list/m);
  });

  it('a plan a guard refuses exports nothing, and exits 1', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '14', '--format', 'tfvars']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^refused: EXCESS_GUARD: /m);
  });
});
