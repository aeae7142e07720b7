import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTestCertificates } from '../global-setup.js';
import { bundledServiceTags, sendText, startTestServer, type TestServer } from '../sources/https-test-server.js';
import { BUNDLED, runCli } from '../helpers/cli.js';
import { renderPlanMarkdown } from '../../src/cli/plan-markdown.js';

// The CLI without surprises, for `plan`: --verbose (the download is the one request an offline plan makes),
// "still waiting" after a silence, --quiet, and --format markdown, through the built CLI. The
// service-tags file is served by a real HTTPS server on loopback (trusted through the test run's
// NODE_EXTRA_CA_CERTS, which the CLI process inherits), with the bytes Microsoft served.

const FILE = '/download/ServiceTags_Public_20251013.json';
const SLOW = '/slow/ServiceTags_Public_20251013.json';
const ISSUE = ['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--max-rules', '14'];

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startTestServer(await sharedTestCertificates(), 'localhost');
  const bytes = bundledServiceTags('Public_20251013');
  server.route(FILE, (_req, res) => sendText(res, 200, bytes));
  server.route(SLOW, async (_req, res) => {
    await new Promise((r) => setTimeout(r, 1_500));
    sendText(res, 200, bytes);
  });
  dir = await mkdtemp(join(tmpdir(), 'tagwall-plan-output-'));
});
afterAll(async () => server?.close());

const download = (path: string) => ['plan', '--service-tags', `${server.origin}${path}`, '--allow-host', server.hostPort, '--select', 'AzureDevOps', '--cache-dir', join(dir, 'cache')];
const HTTP_LINE = /^http: GET (\S+) (\d{3}) \d+ ms$/;

describe('plan --verbose', () => {
  it('prints the service-tags download as one request line on stderr, and stdout stays one JSON object', async () => {
    const before = server.seen(FILE).length;
    const r = await runCli([...download(FILE), '--json', '--verbose'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('rules');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('http: '));
    // As many lines as the server saw requests, each its method, host and path, status and time.
    expect(server.seen(FILE).length - before).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(HTTP_LINE);
    expect(HTTP_LINE.exec(lines[0]!)!.slice(1)).toEqual([`${server.hostPort}${FILE}`, '200']);
  });

  it('without --verbose no request lines; a plan from a local file makes no request to show', async () => {
    const quietly = await runCli([...download(FILE), '--json'], { cwd: dir });
    expect(quietly.code).toBe(0);
    expect(quietly.stderr).not.toMatch(/^http: /m);
    const local = await runCli([...ISSUE, '--max-rules', '1000', '--json', '--verbose'], { cwd: dir });
    expect(local.code).toBe(0);
    expect(local.stderr).not.toMatch(/^http: /m);
  });
});

describe('plan: "still waiting" after a silence', () => {
  it('names the slow download, off a terminal only with --progress', async () => {
    const slow = await runCli([...download(SLOW), '--json', '--progress'], { cwd: dir, env: { TAGWALL_PROGRESS_AFTER_MS: '400' } });
    expect(slow.code, slow.stderr).toBe(0);
    expect(JSON.parse(slow.stdout)).toHaveProperty('rules');
    expect(slow.stderr).toMatch(new RegExp(`^still waiting: GET ${escape(`${server.hostPort}${SLOW}`)} waiting for \\d+ s$`, 'm'));
    const log = await runCli([...download(SLOW), '--json'], { cwd: dir, env: { TAGWALL_PROGRESS_AFTER_MS: '400' } });
    expect(log.code).toBe(0);
    expect(log.stderr).not.toMatch(/still waiting/);
  });
});

describe('plan --quiet', () => {
  it('prints nothing when sync would write the plan (not even the old file\'s warning)', async () => {
    const loud = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps'], { cwd: dir });
    expect(loud.code).toBe(0);
    // The bundled file is dated 2025-10-13: without --quiet its age is a warning (when the test runs after 2025-11-03).
    const warned = /^warning: .*more than 21 days ago$/m.test(loud.stderr);
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'AzureDevOps', '--quiet'], { cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
    if (Date.now() > Date.parse('2025-11-04T00:00:00Z')) expect(warned).toBe(true);
  });

  it('prints only the refusing guards\' codes when sync would refuse it, and exits 1', async () => {
    const r = await runCli([...ISSUE, '--quiet'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tagwall: EXCESS_GUARD: the collapse admits 2355776 addresses beyond the source/);
  });

  it('still prints a report asked for with --json or --format, and cannot be combined with --verbose or --progress', async () => {
    const json = await runCli([...ISSUE, '--quiet', '--json'], { cwd: dir });
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { rules: string[] }).rules).toHaveLength(14);
    expect(json.stderr).not.toMatch(/^warning/m);
    const both = await runCli([...ISSUE, '--quiet', '--verbose'], { cwd: dir });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/'--quiet' cannot be used with option '--verbose'/);
    const progress = await runCli([...ISSUE, '--quiet', '--progress'], { cwd: dir });
    expect(progress.code).toBe(1);
    expect(progress.stderr).toMatch(/'--quiet' cannot be used with option '--progress'/);
  });
});

describe('plan --format markdown', () => {
  it('a refused plan: a heading with the verdict, the guards\' table, the rules folded; exit 1', async () => {
    const json = JSON.parse((await runCli([...ISSUE, '--json'], { cwd: dir })).stdout) as { rules: string[] };
    const r = await runCli([...ISSUE, '--format', 'markdown'], { cwd: dir });
    expect(r.code).toBe(1);
    const md = r.stdout;
    expect(md.split('\n')[0]).toBe('### tagwall plan: sync would refuse this plan (`EXCESS_GUARD`)');
    expect(md).toMatch(/^Service tags: Public, change 373 \(.*ServiceTags_Public_20251013\.json\.gz\)$/m);
    expect(md).toContain(['| | |', '| --- | --- |', '| selected | 1 tag: AzureDevOps |', '| rules | 14 of 14 |'].join('\n'));
    expect(md).toContain('| allowed beyond the source | 2,355,776 (+37180.8%) |');
    expect(md).toContain(['| guard | verdict | detail |', '| --- | --- | --- |'].join('\n'));
    expect(md).toMatch(/^\| `EXCESS_GUARD` \| \*\*refused\*\* \| the collapse admits 2355776 addresses beyond the source .*\|$/m);
    expect(md).toMatch(/^\| `WIDE_RULE` \| warning \| 3 widened rules are wider than \/16 .*\|$/m);
    expect(md).toMatch(/^\| `REMOVAL_GUARD` \| pass \| removes 0 of 0 rules \(limit 50%\) \|$/m);
    expect(md).toContain(`<details><summary>14 rules</summary>\n\n\`\`\`\n${json.rules.join('\n')}\n\`\`\`\n\n</details>`);
    expect(md.length).toBeLessThanOrEqual(65_536);
    expect(r.stderr).toMatch(/^tagwall: sync would refuse this plan: EXCESS_GUARD/m);
  });

  it('a plan sync would write says so, and stays within a GitHub comment with 1000 rules', async () => {
    const r = await runCli(['plan', '--service-tags', BUNDLED, '--select', 'LogicApps', '--format', 'markdown'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('### tagwall plan: sync would write this plan');
    expect(r.stdout).toContain('<details><summary>1,000 rules</summary>');
    expect(r.stdout.length).toBeLessThanOrEqual(65_536);
  });
});

describe('renderPlanMarkdown', () => {
  it('leaves out the rule lists that do not fit, last first, and says so', () => {
    const rules = Array.from({ length: 1000 }, (_, i) => `52.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const input = { serviceTags: 'Public, change 1 (f)', warnings: [], figures: [['rules', '1,000 of 1,000']] as [string, string][], guards: [], findings: [], rules, add: rules.slice(0, 10), remove: [] };
    const whole = renderPlanMarkdown(input);
    expect(whole).toContain('<details><summary>10 rules to add</summary>');
    expect(whole).toContain('<details><summary>1,000 rules</summary>');
    expect(whole).not.toContain('Truncated');
    const cut = renderPlanMarkdown(input, 4_000);
    expect(cut.length).toBeLessThanOrEqual(4_000);
    expect(cut).toContain('<details><summary>10 rules to add</summary>');
    expect(cut).not.toContain('<details><summary>1,000 rules</summary>');
    expect(cut.split('\n').at(-1)).toBe('> Truncated to fit a GitHub comment (4000 characters): 1 rule list not shown. The whole plan: `--json`.');
  });
});

describe('plan --help', () => {
  it('lists the output options and the markdown format', async () => {
    const r = await runCli(['plan', '--help']);
    expect(r.code).toBe(0);
    // Commander wraps the help to the width of the terminal: read it as one line.
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--verbose log more on stderr/);
    expect(help).toMatch(/--quiet print only errors/);
    expect(help).toMatch(/--progress print "still waiting"/);
    expect(help).toMatch(/choices: "text", "json", "markdown", "tfvars", "bicepparam", "arm", "az"/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
