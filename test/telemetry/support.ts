import type { Attributes } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

/** One exported data point, flattened: a sum's or gauge's value, or a histogram's count, sum, min and max. */
export interface Point {
  readonly name: string;
  readonly unit: string;
  readonly attributes: Attributes;
  readonly value?: number;
  readonly histogram?: { readonly count: number; readonly sum: number; readonly min?: number; readonly max?: number };
}

/**
 * A meter provider read on demand through the SDK's in-memory exporter. Delta temporality: each
 * collect() gives what was recorded since the last one (gauges give their current value).
 */
export function inMemoryMeter() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  // The interval never fires within a test: collect() flushes by hand.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    meter: provider.getMeter('tagwall'),
    async collect(): Promise<Point[]> {
      await reader.forceFlush();
      const points: Point[] = [];
      for (const rm of exporter.getMetrics()) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            for (const dp of m.dataPoints) {
              const base = { name: m.descriptor.name, unit: m.descriptor.unit, attributes: dp.attributes };
              if (m.dataPointType === DataPointType.HISTOGRAM) {
                const h = dp.value as { count: number; sum?: number; min?: number; max?: number };
                points.push({ ...base, histogram: { count: h.count, sum: h.sum ?? 0, ...(h.min === undefined ? {} : { min: h.min }), ...(h.max === undefined ? {} : { max: h.max }) } });
              } else {
                points.push({ ...base, value: dp.value as number });
              }
            }
          }
        }
      }
      exporter.reset();
      return points;
    },
    shutdown: () => provider.shutdown(),
  };
}

/** The points of one metric, as `attributes → value` with the attributes in a stable order. */
export function series(points: readonly Point[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points.filter((x) => x.name === name)) {
    const key = Object.entries(p.attributes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    out[key] = p.value ?? p.histogram!.sum;
  }
  return out;
}

export function histogramOf(points: readonly Point[], name: string, attributes: Attributes): Point['histogram'] {
  const match = points.filter((p) => p.name === name && JSON.stringify(sorted(p.attributes)) === JSON.stringify(sorted(attributes)));
  if (match.length > 1) throw new Error(`more than one ${name} point for ${JSON.stringify(attributes)}`);
  return match[0]?.histogram;
}

function sorted(a: Attributes): [string, unknown][] {
  return Object.entries(a).sort(([x], [y]) => x.localeCompare(y));
}

/** The dimensions a tagwall metric may carry: the kind, outcome and code, and operation and space. The test's own list. */
export const ALLOWED_DIMENSIONS = new Set(['kind', 'outcome', 'code', 'operation', 'space']);

/** Every point's attributes are among the allowed dimensions, at most 10 (Azure Monitor's limit), and none is a resource ID. */
export function dimensionProblems(points: readonly Point[]): string[] {
  const problems: string[] = [];
  for (const p of points) {
    const keys = Object.keys(p.attributes);
    if (keys.length > 10) problems.push(`${p.name}: ${keys.length} dimensions`);
    for (const k of keys) if (!ALLOWED_DIMENSIONS.has(k)) problems.push(`${p.name}: dimension ${k}`);
    for (const v of Object.values(p.attributes)) if (typeof v === 'string' && (/\/subscriptions\//i.test(v) || v.includes('/'))) problems.push(`${p.name}: value ${v}`);
  }
  return problems;
}
