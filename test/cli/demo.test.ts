import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';

describe('npm start (tagwall demo)', () => {
  let r: CliRun;
  let elapsedMs = 0;

  beforeAll(async () => {
    // No Azure settings at all: whatever the developer's shell has must not leak in.
    const env = { AZURE_CLIENT_ID: '', AZURE_TENANT_ID: '', AZURE_CLIENT_SECRET: '', IDENTITY_ENDPOINT: '', IDENTITY_HEADER: '', TAGWALL_CONFIG: '' };
    const started = Date.now();
    r = await runCli(['demo'], { env, timeoutMs: 120_000 });
    elapsedMs = Date.now() - started;
  }, 150_000);

  it('exits when its work is done: nothing a run started holds the process open', () => {
    // The demo's work takes a few seconds; a client timer left running once held it open for a minute.
    expect(elapsedMs).toBeLessThan(30_000);
  });

  it('runs the whole loop on the built-in emulator with no Azure account and exits 0', () => {
    expect(r.stderr).not.toMatch(/^tagwall:/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kv-tagwall-office\s+applied\s+\+\d+/m);
    expect(r.stdout).toMatch(/^kv-tagwall-open\s+applied\s+\+1000\s+-0\s+0\s+0\s+1000\/1000/m);
    expect(r.stdout).toMatch(/^Writes \(PATCH or PUT\): 4$/m);
    expect(r.stdout).toMatch(/Writes \(PATCH or PUT\) this run: 0/);
    expect(r.stdout).toMatch(/\[warning, firing\] 2 owned rules were removed from kv-tagwall-office outside tagwall/);
    expect(r.stdout).toMatch(/Drift check again: 0 new webhook POSTs/);
    expect(r.stdout).toMatch(/\[warning, resolved\] 2 owned rules were removed/);
    // The fleet part: found by tag, the unknown profile reported, the others never read; then Resource Graph alone.
    expect(r.stdout).toMatch(/^kv-fleet-build\s+applied\s+\+\d+/m);
    expect(r.stdout).toMatch(/^kv-fleet-reports\s+applied\s+\+\d+/m);
    expect(r.stdout).toMatch(/^kv-fleet-typo\s+skipped/m);
    // Its UNKNOWN_PROFILE is both the skip's reason and a finding: printed once.
    expect(r.stdout.match(/^ {2}\S+ UNKNOWN_PROFILE: tagged tagwall=devosp/gm)).toHaveLength(1);
    expect(r.stdout).not.toMatch(/^kv-fleet-(optout|untagged)\s/m);
    expect(r.stdout).toMatch(/^Requests: 1 Resource Graph, 4 vault GETs, 2 PATCHes;/m);
    expect(r.stdout).toMatch(/^kv-fleet-build: in-sync \(by Resource Graph, not read\)$/m);
    expect(r.stdout).toMatch(/^Requests: 1 Resource Graph, 0 vault GETs, 0 PATCHes\.$/m);
  });

  it('syncs a Storage account beside the vaults: at most 400 rules, its office address kept, single addresses bare, none a /32 or /31', () => {
    // The office address and 399 of tagwall's: AzureConnectors needs more than 400 rules.
    expect(r.stdout).toMatch(/^sttagwalldemo\s+applied\s+\+399\s+-0\s+1\s+0\s+400\/400/m);
    const lines = r.stdout.split('\n');
    const start = lines.indexOf('Rules as stored:');
    expect(start).toBeGreaterThan(-1);
    const block = lines.slice(start + 1, lines.findIndex((l, i) => i > start && !l.startsWith('  ')));
    const rules = block.flatMap((l) => l.trim().split(/\s+/));
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.length).toBeLessThanOrEqual(400);
    expect(new Set(rules).size).toBe(rules.length);
    expect(rules.filter((rule) => /\/3[12]$/.test(rule))).toEqual([]);
    expect(rules.filter((rule) => !/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(rule))).toEqual([]);
    expect(rules).toContain('145.14.56.23');
    expect(rules.filter((rule) => !rule.includes('/')).length).toBeGreaterThan(1);
  });

  it('syncs a perimeter profile: its own access rule tagwall-demo-1, someone else\'s left as it was, within 200 elements', () => {
    // AzureDevOps merges into 24 blocks; the office rule of the profile is someone else's, and counts.
    expect(r.stdout).toMatch(/^defaultProfile\s+applied\s+\+24\s+-0\s+1\s+0\s+25\/200/m);
    expect(r.stdout).toMatch(/^ {2}corp-office \(Inbound\): 1 prefix: 145\.14\.56\.23\/32$/m);
    expect(r.stdout).toMatch(/^ {2}tagwall-demo-1 \(Inbound\): 24 prefixes /m);
    expect(r.stdout).toMatch(/^defaultProfile\s+in-sync\s+\+0/m);
  });
  it('syncs an Azure SQL server as start/end ranges: fewer rules than CIDR blocks, no excess where blocks would widen, its person\'s rule and AllowAllWindowsAzureIps kept', () => {
    // AzureCloud.brazilsouth: 113 ranges of tagwall's beside the two rules that are not (128 at most).
    expect(r.stdout).toMatch(/^sql-tagwall-demo\s+applied\s+\+113\s+-0\s+2\s+0\s+115\/128\s+0\s/m);
    const shapes = /^AzureCloud\.brazilsouth: (\d+) CIDR blocks, or (\d+) start\/end ranges/m.exec(r.stdout);
    expect(shapes).not.toBeNull();
    expect(Number(shapes![2])).toBeLessThan(Number(shapes![1]));
    expect(Number(shapes![1])).toBeGreaterThan(126);
    const excess = /^Within the 126 rules left to tagwall: as CIDR blocks ([\d,]+) addresses beyond the source; as the SQL server's ranges ([\d,]+)\.$/m.exec(r.stdout);
    expect(excess).not.toBeNull();
    expect(Number(excess![2]!.replace(/,/g, ''))).toBe(0);
    expect(Number(excess![1]!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^Rules as stored: 115; kept as they were: AllowAllWindowsAzureIps 0\.0\.0\.0-0\.0\.0\.0, corp-office 145\.14\.56\.23-145\.14\.56\.23; tagwall's: tagwall-demo-1 /m);
  });

  it('syncs an AKS cluster\'s authorized IP ranges beside it, the person\'s range kept; the second sync writes nothing', () => {
    expect(r.stdout).toMatch(/^aks-tagwall-demo\s+applied\s+\+24\s+-0\s+1\s+0\s+25\/200/m);
    expect(r.stdout).toMatch(/^Second sync: sql-tagwall-demo in-sync, aks-tagwall-demo in-sync; writes \(PATCH or PUT\): 0\.$/m);
  });

  it('ends by pointing at the reader\'s own firewalls, of any kind, not only vaults', () => {
    const last = r.stdout.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^Try it on your own firewalls: `az login`, write a config \(see README\), then `node dist\/src\/cli\/main\.js sync --config my\.json --dry-run` in this checkout\.$/);
  });
});
