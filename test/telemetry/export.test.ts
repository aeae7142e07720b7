import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/run/report.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { observeRun } from '../../src/telemetry/observe.js';
import { exportersFor, otlpMetricsUrl, shutdownTelemetry, startTelemetry } from '../../src/telemetry/setup.js';
import { sharedTestCertificates } from '../global-setup.js';
import { BUNDLED, runCli } from '../helpers/cli.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// The exporters chosen from the environment, and OTLP export to a real local collector (a
// loopback HTTP server counting POSTs to /v1/metrics): in-process after a run, and from the built
// CLI, a short process that must export before it exits. Azure Monitor is only chosen here, never
// started: its distro probes the Azure instance metadata service, which is not loopback.

interface Post {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let collector: Server;
let url: string;
const posts: Post[] = [];

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: `${req.method} ${req.url}`, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => collector.close(r));
});

afterEach(async () => {
  await shutdownTelemetry();
  posts.length = 0;
});

describe('the exporters an environment asks for', () => {
  it.each<[string, NodeJS.ProcessEnv, string[]]>([
    ['nothing set', {}, []],
    ['blank values', { APPLICATIONINSIGHTS_CONNECTION_STRING: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, []],
    ['Application Insights', { APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000' }, ['azure-monitor']],
    ['OTLP', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, ['otlp']],
    ['OTLP metrics only', { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:4318/v1/metrics' }, ['otlp']],
    ['both', { APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, ['azure-monitor', 'otlp']],
  ])('%s', (_name, env, expected) => {
    expect(exportersFor(env)).toEqual(expected);
  });

  it.each<[NodeJS.ProcessEnv, string]>([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'http://collector:4318/v1/metrics'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'http://collector:4318/v1/metrics'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://other:9000/m' }, 'http://other:9000/m'],
  ])('OTLP metrics go to the signal URL: %j', (env, expected) => {
    expect(otlpMetricsUrl(env)).toBe(expected);
  });

  it('the Azure Monitor distro it would load is there, with the two functions setup.ts calls (loaded, not called: it probes the instance metadata service)', async () => {
    const distro = await import('@azure/monitor-opentelemetry');
    expect([typeof distro.useAzureMonitor, typeof distro.shutdownAzureMonitor]).toEqual(['function', 'function']);
  });

  it('starts nothing without either variable, and flushing then is a no-op', async () => {
    const telemetry = await startTelemetry({});
    expect(telemetry.exporters).toEqual([]);
    await telemetry.flush();
    expect(posts).toEqual([]);
  });
});

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const REPORT: RunReport = {
  dryRun: false,
  serviceTags: { cloud: 'Public', changeNumber: 1, warnings: [] },
  vaults: [{ vault: vaultId('kv-otlp'), kind: 'keyvault', outcome: 'applied', add: ['20.0.0.0/24'], remove: [], unmanaged: [], shared: [], adopted: [], rules: { managed: 1, unmanaged: 0, shared: 0, limit: 1000 }, excessAddresses: 0, drift: [], findings: [], reasons: [], mode: 'merge' }],
};

describe('OTLP export to a loopback collector', () => {
  it('a run observed in-process is exported when it ends, long before the export interval', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_METRIC_EXPORT_INTERVAL: '3600000' };
    expect((await startTelemetry(env)).exporters).toEqual(['otlp']);
    await observeRun({ env, logger: quiet, dryRun: false }, async () => ({ report: REPORT }));
    expect(posts.map((p) => p.path)).toEqual(['POST /v1/metrics']);
    for (const name of ['tagwall.targets', 'tagwall.writes', 'tagwall.rules.changed', 'tagwall.run.last_success_time', 'tagwall.run.duration']) expect(posts[0]!.body).toContain(`"${name}"`);
    // The resource ID is in the log event only, never in the metrics.
    expect(posts[0]!.body).not.toContain('kv-otlp');
  });

  describe('from the built CLI', () => {
    let emulator: Emulator;
    beforeAll(async () => {
      emulator = await startEmulator({ port: 0, certificates: await sharedTestCertificates() });
    });
    afterAll(async () => {
      await emulator?.close();
    });

    it('`tagwall sync` exports its metrics before the process exits', async () => {
      await emulator.control.reset({ vaults: [seedVault('kv-cli', { defaultAction: 'Deny' })] });
      const dir = await mkdtemp(join(tmpdir(), 'tagwall-otlp-'));
      const config = join(dir, 'tagwall.json');
      await writeFile(config, JSON.stringify({ serviceTags: { source: 'file', path: BUNDLED }, arm: { endpoint: emulator.url }, targets: [{ vault: vaultId('kv-cli'), select: ['AzureDevOps'] }] }));
      const r = await runCli(['sync', '--config', config, '--json'], {
        cwd: dir,
        env: {
          IDENTITY_ENDPOINT: emulator.identityEndpoint,
          IDENTITY_HEADER: emulator.identityHeader,
          AZURE_CLIENT_ID: '',
          AZURE_TENANT_ID: '',
          AZURE_CLIENT_SECRET: '',
          TAGWALL_CONFIG: '',
          APPLICATIONINSIGHTS_CONNECTION_STRING: '',
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: '',
          OTEL_EXPORTER_OTLP_ENDPOINT: url,
          // An interval longer than the process: only the flush at the end of the run and at exit can send.
          OTEL_METRIC_EXPORT_INTERVAL: '3600000',
        },
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).vaults[0].outcome).toBe('applied');
      const metricPosts = posts.filter((p) => p.path === 'POST /v1/metrics');
      expect(metricPosts.length).toBeGreaterThanOrEqual(1);
      const all = metricPosts.map((p) => p.body).join('\n');
      expect(all).toContain('"tagwall.targets"');
      expect(all).toContain('"tagwall.arm.requests"');
      expect(all).toContain('"tagwall.run.last_success_time"');
      expect(posts.every((p) => p.path === 'POST /v1/metrics')).toBe(true);
    });
  });
});
