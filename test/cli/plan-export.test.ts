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
