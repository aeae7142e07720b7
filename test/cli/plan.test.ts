import { describe, expect, it } from 'vitest';
import { BUNDLED, FIXTURES, runCli } from '../helpers/cli.js';

// The CLI as a process: exit codes, what goes to stdout and what to stderr, and the JSON contract.

interface PlanJson {
  serviceTags: { cloud: string; changeNumber: number; path: string };
  selected: string[];
  rules: string[];
  stats: Record<string, number>;
  warnings: string[];
}

describe('tagwall plan', () => {
  it('--json prints exactly one JSON object with the documented fields', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'LogicApps', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.serviceTags).toMatchObject({ cloud: 'Public', changeNumber: 373, path: BUNDLED });
    expect(plan.selected).toEqual(['LogicApps']);
    expect(Object.keys(plan.stats)).toEqual(
      expect.arrayContaining(['selectedPrefixes', 'ipv6Dropped', 'forbiddenAddressesRemoved', 'mergedPrefixes', 'rules', 'sourceAddresses', 'allowedAddresses', 'excessAddresses']),
    );
    expect(plan.rules).toHaveLength(1000);
    expect(plan.stats.rules).toBe(1000);
    // The published optimum for LogicApps at K=1000 on this file (independent of this code).
    expect(plan.stats.excessAddresses).toBe(40_982);
    expect(plan.stats.excessAddresses).toBe(plan.stats.allowedAddresses! - plan.stats.sourceAddresses!);
    // A /32 is written bare, everything else as a.b.c.d/n.
    expect(plan.rules.every((r) => /^\d+\.\d+\.\d+\.\d+(\/([0-9]|[12][0-9]|3[01]))?$/.test(r))).toBe(true);
  });

  it('prints a readable summary and the rules without --json', async () => {
    // A wide cover: EXCESS_GUARD is raised so that it passes (the guards have their own tests).
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '10', '--max-widened-prefix', '0', '--max-excess-addresses', '100000000']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Service tags\s+Public, change 373/m);
    expect(r.stdout).toMatch(/^Rules\s+10 of 10$/m);
    const rules = r.stdout.split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+/.test(l));
    expect(rules).toHaveLength(10);
  });

  it('gives byte-identical output for the same input', async () => {
    const args = ['plan', '--service-tags', BUNDLED, '--select', 'AzureCloud.westeurope,LogicApps,PowerBI', '--max-rules', '300', '--max-excess-addresses', '100000000', '--json'];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('an unknown selector is an error on stderr with close names, and with --json its code on stdout', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'LogicApp', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{"error":{"code":"UNKNOWN_SELECTOR",' + r.stdout.slice(36));
    expect(r.stderr).toMatch(/"LogicApp" matches no tag; close names: LogicApps/);
  });

  it('refuses a forbidden or malformed --extra, listing every problem', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--extra', '192.168.1.0/24,20.1.2.3/24', '--extra', '2001:db8::/32', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{"error":{"code":"CIDR_INVALID",' + r.stdout.slice(32));
    expect(r.stderr).toMatch(/192\.168\.1\.0\/24 overlaps 192\.168\.0\.0\/16/);
    expect(r.stderr).toMatch(/did you mean 20\.1\.2\.0\/24/);
    expect(r.stderr).toMatch(/IPv6/);
  });

  it('refuses an --extra or --exclude written with a leading zero, naming it', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--extra', '52.9.0.0/08', '--exclude', '020.1.2.3', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{"error":{"code":"CIDR_INVALID",' + r.stdout.slice(32));
    expect(r.stderr).toContain('extra "52.9.0.0/08" is not an IPv4 CIDR: prefix length "08" has a leading zero');
    expect(r.stderr).toContain('exclude "020.1.2.3" is not an IPv4 address: "020" has a leading zero');
  });

  it('names the smallest budget that works when the budget is infeasible, and that budget does work', async () => {
    // Excluding one address in every /8 of the selection makes wide rules impossible.
    const base = ['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--exclude', '20.0.0.1,40.0.0.1,51.0.0.1,52.0.0.1,13.0.0.1,4.0.0.1', '--max-excess-addresses', '100000000', '--json'];
    const r = await runCli([...base, '--max-rules', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{"error":{"code":"COLLAPSE_INFEASIBLE",' + r.stdout.slice(39));
    const m = /smallest budget that works is (\d+)/.exec(r.stderr);
    expect(m).not.toBeNull();
    const k = Number(m![1]);
    expect(k).toBeGreaterThan(1);
    const ok = await runCli([...base, '--max-rules', String(k)]);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as PlanJson).rules.length).toBeLessThanOrEqual(k);
    const tooFew = await runCli([...base, '--max-rules', String(k - 1)]);
    expect(tooFew.code).toBe(1);
  });

  it('never emits a /31 with --split-31', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'LogicApps', '--max-rules', '1000', '--split-31', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.rules.some((x) => x.endsWith('/31'))).toBe(false);
    expect(plan.rules.length).toBeLessThanOrEqual(1000);
  });

  it('usage errors exit 1 with a message on stderr', async () => {
    for (const args of [['plan', '--service-tags', BUNDLED], ['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '1001'], ['plan', '--bogus'], ['plna']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
  });

  it('a missing or malformed file is a clear error', async () => {
    const missing = await runCli(['plan', '--service-tags', '/nonexistent/tags.json', '--select', 'AzureDevOps']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\/nonexistent\/tags\.json: cannot read the service-tags file \(ENOENT\)/);
  });

  it('refuses a file from another cloud than --cloud asks for', async () => {
    const r = await runCli(['plan', '--service-tags', `${FIXTURES}ServiceTags_China_20251013.json.gz`, '--cloud', 'Public', '--select', '*']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/for the "China" cloud, not Public/);
  });

  it('usage errors name the help to read, with the same prefix as every other error', async () => {
    const option = await runCli(['plan', '--selct', 'AzureDevOps']);
    expect(option.code).toBe(1);
    expect(option.stderr).toMatch(/^tagwall: unknown option '--selct'\n\(Did you mean --select\?\)\n\(tagwall plan --help lists the options\)\n$/);
    const command = await runCli(['plna']);
    expect(command.stderr).toMatch(/^tagwall: unknown command 'plna'\n\(Did you mean plan\?\)\n\(tagwall --help lists the commands\)\n$/);
  });

  it('warns that a local file is old, with or without --cloud', async () => {
    // The bundled file is dated 2025-10-13, and files come out weekly.
    const old = /the file is dated 20251013, more than 21 days ago/;
    for (const cloud of [[], ['--cloud', 'Public']]) {
      const text = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', ...cloud]);
      expect(text.code).toBe(0);
      expect(text.stderr).toMatch(new RegExp(`^warning: .*${old.source}`, 'm'));
      const json = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--json', ...cloud]);
      expect(json.stderr).toBe('');
      expect((JSON.parse(json.stdout) as PlanJson).warnings).toEqual([expect.stringMatching(old)]);
    }
  });

  it('--help and --version exit 0 on stdout', async () => {
    const help = await runCli(['plan', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--max-rules <n>/);
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('tagwall tags', () => {
  it('lists matching tags with region, system service and prefix counts', async () => {
    const r = await runCli(['tags', '--service-tags', BUNDLED, '--search', 'storage.francecentral', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { tags: { name: string; region: string; systemService: string; ipv4: number; ipv6: number }[] };
    expect(out.tags).toHaveLength(1);
    expect(out.tags[0]).toMatchObject({ name: 'Storage.FranceCentral', region: 'centralfrance', systemService: 'AzureStorage' });
    expect(out.tags[0]!.ipv4).toBeGreaterThan(0);
  });

  it('--json is one object with the same serviceTags and warnings as plan, and nothing on stderr', async () => {
    const r = await runCli(['tags', '--service-tags', BUNDLED, '--search', 'AzureDevOps', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout) as { serviceTags: unknown; tags: unknown[]; warnings: string[] };
    expect(out.serviceTags).toEqual({ cloud: 'Public', changeNumber: 373, path: BUNDLED, cacheUsed: false });
    expect(out.tags.length).toBeGreaterThan(1);
    expect(out.warnings).toEqual([expect.stringMatching(/more than 21 days ago/)]);
  });

  it('refuses AzureDevOps in 10 rules under the default widening bound, naming the budget that works', async () => {
    // Unbounded, 10 rules need 20.192.0.0/10 and 40.64.0.0/10: 11,529,408 addresses beyond Azure DevOps'.
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '10', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{"error":{"code":"COLLAPSE_INFEASIBLE",' + r.stdout.slice(39));
    expect(r.stderr).toMatch(/no widened rule wider than \/12 .*the smallest budget that works is 14; without the bound, 3 would do/);
    const fits = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '14', '--max-excess-addresses', '100000000', '--json']);
    expect(fits.code).toBe(0);
    const rules = (JSON.parse(fits.stdout) as { rules: string[] }).rules;
    for (const rule of rules) expect(Number(rule.includes('/') ? rule.split('/')[1] : 32)).toBeGreaterThanOrEqual(12);
  });

  it('--explain lists every widened rule, widest first, with where its excess lies', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '10', '--max-widened-prefix', '0', '--explain', '--json']);
    // 11.5 million addresses beyond the source: sync would refuse it (EXCESS_GUARD), and plan says so.
    expect(r.code).toBe(1);
    const w = (JSON.parse(r.stdout) as { widening: { rules: { rule: string; excessAddresses: number; excessInAzure: number; excessOutsideAzure: number; tags: string[] }[]; totals: { excessAddresses: number } } }).widening;
    // The figure the new user saw: 11,529,408 extra addresses in 10 rules.
    expect(w.totals.excessAddresses).toBe(11_529_408);
    expect(w.rules.slice(0, 2).map((x) => x.rule).sort()).toEqual(['20.192.0.0/10', '40.64.0.0/10']);
    for (const x of w.rules) {
      expect(x.excessInAzure + x.excessOutsideAzure).toBe(x.excessAddresses);
      expect(x.tags).toEqual(['AzureDevOps']);
    }
    const text = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '10', '--max-widened-prefix', '0', '--explain']);
    expect(text.stdout).toMatch(/^Widened\s+4 rules admit 11,529,408 addresses beyond the source/m);
    expect(text.stdout).toMatch(/^RULE\s+SOURCE\s+EXCESS\s+IN AZURE\s+OUTSIDE\s+TAGS$/m);
  });

  it('refuses a widening bound that is not a prefix length', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-widened-prefix', '33']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--max-widened-prefix.*prefix length from 0 to 32/);
  });
});

interface GuardJson {
  code: string;
  guard?: string;
  verdict: 'pass' | 'refused' | 'forced' | 'warning';
  limit?: number;
  excessAddresses?: number;
  rules?: string[];
}

describe('tagwall plan judges the cover with sync\'s guards', () => {
  const ISSUE = ['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '14'];

  it('refuses what sync refuses: 14 rules for AzureDevOps is EXCESS_GUARD, with WIDE_RULE, exit 1', async () => {
    const r = await runCli([...ISSUE, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { guards: GuardJson[]; rules: string[] };
    const verdicts = Object.fromEntries(out.guards.map((g) => [g.code, g.verdict]));
    expect(verdicts).toEqual({
      EMPTY_SOURCE_GUARD: 'pass',
      SOURCE_SHRINK_GUARD: 'pass',
      REMOVAL_GUARD: 'pass',
      EXCESS_GUARD: 'refused',
      COLLAPSE_INFEASIBLE: 'pass',
      WIDE_RULE: 'warning',
    });
    // 2,355,776 beyond the source: two /12s and a /14 (see --explain); the default limit is a /12's 1,048,576.
    expect(out.guards.find((g) => g.code === 'EXCESS_GUARD')).toMatchObject({ guard: 'maxExcessAddresses', limit: 1_048_576, excessAddresses: 2_355_776 });
    expect(out.guards.find((g) => g.code === 'WIDE_RULE')!.rules!.sort()).toEqual(['20.192.0.0/12', '20.32.0.0/12', '40.80.0.0/14']);
    // The refused cover is still shown, for the reviewer.
    expect(out.rules).toHaveLength(14);
    expect(r.stderr).toMatch(/^tagwall: sync would refuse this plan: EXCESS_GUARD/m);

    const text = await runCli(ISSUE);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^Guards\s+sync would refuse: EXCESS_GUARD$/m);
    expect(text.stdout).toMatch(/^ {2}refused\s+EXCESS_GUARD\s+the collapse admits 2355776 addresses/m);
    expect(text.stdout).toMatch(/^ {2}warning\s+WIDE_RULE\s+3 widened rules are wider than \/16/m);
  });

  it('passes what sync writes: exit 0, every verdict pass', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { guards: GuardJson[] };
    expect(out.guards.map((g) => g.verdict)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
    expect(out.guards.find((g) => g.code === 'EXCESS_GUARD')).toMatchObject({ excessAddresses: 0 });
  });

  it('takes the guards\' settings by their configuration names, and --force shows what it overrides', async () => {
    const raised = await runCli([...ISSUE, '--max-excess-addresses', '2355776', '--warn-widened-prefix', '12', '--json']);
    expect(raised.code).toBe(0);
    const guards = (JSON.parse(raised.stdout) as { guards: GuardJson[] }).guards;
    expect(guards.find((g) => g.code === 'EXCESS_GUARD')).toMatchObject({ verdict: 'pass', limit: 2_355_776 });
    expect(guards.find((g) => g.code === 'WIDE_RULE')).toMatchObject({ verdict: 'pass', limit: 12 });
    const oneShort = await runCli([...ISSUE, '--max-excess-addresses', '2355775', '--json']);
    expect(oneShort.code).toBe(1);

    const forced = await runCli([...ISSUE, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect((JSON.parse(forced.stdout) as { guards: GuardJson[] }).guards.find((g) => g.code === 'EXCESS_GUARD')!.verdict).toBe('forced');
    expect(forced.stderr).toMatch(/^warning: --force overrode EXCESS_GUARD for this plan$/m);
  });
});
