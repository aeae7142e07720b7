import { metrics } from '@opentelemetry/api';
import type { AlertLogger } from '../alerts/types.js';

/**
 * Starts the process's metric exporters from its environment, once:
 *
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING`: Azure Monitor, through @azure/monitor-opentelemetry's
 *   `useAzureMonitor` (which registers the global meter provider);
 * - `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`): OTLP over HTTP, a
 *   periodic reader of its own, beside Azure Monitor's when both are set;
 * - neither: nothing, and the API's meter stays a no-op.
 *
 * The SDKs are imported only when their variable is set: Azure Monitor's distro loads dozens of
 * instrumentations, which neither a Functions cold start nor a CLI run without it should pay for.
 */

export type Exporter = 'azure-monitor' | 'otlp';

export interface Telemetry {
  readonly exporters: readonly Exporter[];
  /** Exports what has been recorded now: after every run, since a Functions instance may be frozen before the next interval. */
  flush(): Promise<void>;
  /** Flushes and stops: what a CLI does before it exits. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** A CLI is short-lived: no performance counters or standard metrics, which only make sense for a host that stays up. */
  readonly process?: 'cli' | 'functions';
  readonly logger?: AlertLogger;
}

/** The distro's instrumentations (its InstrumentationOptions), all turned off. */
const INSTRUMENTATIONS = ['azureSdk', 'http', 'mongoDb', 'mySql', 'postgreSql', 'redis', 'redis4', 'bunyan', 'winston'] as const;

const OFF: Telemetry = { exporters: [], flush: async () => undefined, shutdown: async () => undefined };

/** Which exporters an environment asks for; an empty or blank variable is unset. */
export function exportersFor(env: NodeJS.ProcessEnv): Exporter[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  return [
    ...(set('APPLICATIONINSIGHTS_CONNECTION_STRING') ? (['azure-monitor'] as const) : []),
    ...(set('OTEL_EXPORTER_OTLP_ENDPOINT') || set('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') ? (['otlp'] as const) : []),
  ];
}

/** The OTLP/HTTP metrics URL: the signal's own variable as is, else the base endpoint plus `/v1/metrics` (the OTLP exporter specification). */
export function otlpMetricsUrl(env: NodeJS.ProcessEnv): string {
  const own = (env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? '').trim();
  if (own !== '') return own;
  return `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim().replace(/\/+$/, '')}/v1/metrics`;
}

let current: Promise<Telemetry> | undefined;

/** The process's telemetry, started on first call; later calls get the same one whatever env they pass. */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env, options: TelemetryOptions = {}): Promise<Telemetry> {
  current ??= start(env, options).catch((e: unknown) => {
    // Telemetry never stops a run: the firewalls matter more than their metrics.
    options.logger?.warn(`tagwall telemetry not started: ${e instanceof Error ? e.message : String(e)}`);
    return OFF;
  });
  return current;
}

/** Flushes and stops the process's telemetry, if it was started; the next startTelemetry starts anew. */
export async function shutdownTelemetry(): Promise<void> {
  const started = current;
  current = undefined;
  if (started === undefined) return;
  await (await started).shutdown();
}

async function start(env: NodeJS.ProcessEnv, options: TelemetryOptions): Promise<Telemetry> {
  const exporters = exportersFor(env);
  if (exporters.length === 0) return OFF;
  const cli = options.process === 'cli';
  const intervalMs = positive(env.OTEL_METRIC_EXPORT_INTERVAL) ?? 60_000;
  const otlp = exporters.includes('otlp') ? await otlpReader(env, intervalMs) : undefined;
  if (exporters.includes('azure-monitor')) {
    const { useAzureMonitor, shutdownAzureMonitor } = await import('@azure/monitor-opentelemetry');
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING!.trim() },
      ...(otlp === undefined ? {} : { metricReaders: [otlp] }),
      // Metrics only. Tracing every ARM call of a fleet would cost more than the metrics (and the
      // Functions host already reports its invocations); live metrics, performance counters and
      // standard metrics serve a host that stays up, never a CLI.
      instrumentationOptions: Object.fromEntries(INSTRUMENTATIONS.map((name) => [name, { enabled: false }])),
      enableLiveMetrics: false,
      ...(cli ? { enablePerformanceCounters: false, enableStandardMetrics: false } : {}),
    });
    const provider = metrics.getMeterProvider() as { forceFlush?: () => Promise<void> };
    return {
      exporters,
      flush: async () => provider.forceFlush?.(),
      shutdown: async () => {
        await shutdownAzureMonitor();
        metrics.disable();
      },
    };
  }
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const provider = new MeterProvider({ readers: [otlp!] });
  if (!metrics.setGlobalMeterProvider(provider)) throw new Error('another meter provider is already registered in this process');
  return {
    exporters,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      metrics.disable();
    },
  };
}

async function otlpReader(env: NodeJS.ProcessEnv, intervalMs: number) {
  const [{ PeriodicExportingMetricReader }, { OTLPMetricExporter }] = await Promise.all([import('@opentelemetry/sdk-metrics'), import('@opentelemetry/exporter-metrics-otlp-http')]);
  return new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: otlpMetricsUrl(env) }), exportIntervalMillis: intervalMs, exportTimeoutMillis: Math.min(30_000, intervalMs) });
}

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}
