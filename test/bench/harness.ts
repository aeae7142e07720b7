import { performance } from 'node:perf_hooks';

/**
 * A tiny benchmark harness. Sections register themselves; each measures what it wants and
 * records rows, which the runner prints as one markdown table. Medians resist the odd GC
 * pause or busy neighbour; minimums show what the code costs when nothing interferes.
 */

export interface Row {
  readonly section: string;
  readonly label: string;
  readonly unit: 'ms' | 'MB' | 'count';
  /** Median of the samples (or the single value). */
  readonly median: number;
  readonly min: number;
  readonly samples: number;
  /** The value the median should stay under, if there is one. */
  readonly target?: number;
  readonly note?: string;
  /** Why the row could not be measured; the values are then NaN. */
  readonly skipped?: string;
}

export interface SectionContext {
  /** How many timed runs to take, after the warm-up runs. */
  readonly iterations: number;
  /** Times `fn` and records a row; returns the last result, so later steps can reuse it. */
  time<T>(label: string, fn: () => T, options?: { target?: number; note?: string; warmup?: number; iterations?: number }): T;
  timeAsync<T>(label: string, fn: () => Promise<T>, options?: { target?: number; note?: string; warmup?: number; iterations?: number }): Promise<T>;
  record(row: Omit<Row, 'section'>): void;
  skip(label: string, reason: string, target?: number): void;
}

export type Section = (ctx: SectionContext) => void | Promise<void>;

const registry: { name: string; run: Section }[] = [];

/** Adds a section; sections run in the order they were registered. */
export function registerSection(name: string, run: Section): void {
  if (registry.some((s) => s.name === name)) throw new Error(`benchmark section ${name} is registered twice`);
  registry.push({ name, run });
}

export function registeredSections(): readonly { name: string; run: Section }[] {
  return registry;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarise(samples: readonly number[]): { median: number; min: number } {
  return { median: median(samples), min: Math.min(...samples) };
}

export async function runSections(names: readonly string[] | undefined, iterations: number, log: (line: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { name, run } of registry) {
    if (names !== undefined && !names.includes(name)) continue;
    log(`# ${name}`);
    const add = (row: Omit<Row, 'section'>) => {
      rows.push({ section: name, ...row });
      log(`  ${row.label}: ${row.skipped ?? `${format(row.median, row.unit)} (min ${format(row.min, row.unit)})`}`);
    };
    const ctx: SectionContext = {
      iterations,
      time(label, fn, options = {}) {
        let result!: ReturnType<typeof fn>;
        for (let i = 0; i < (options.warmup ?? 2); i++) result = fn();
        const samples: number[] = [];
        for (let i = 0; i < (options.iterations ?? iterations); i++) {
          const t = performance.now();
          result = fn();
          samples.push(performance.now() - t);
        }
        add({ label, unit: 'ms', ...summarise(samples), samples: samples.length, target: options.target, note: options.note });
        return result;
      },
      async timeAsync(label, fn, options = {}) {
        let result!: Awaited<ReturnType<typeof fn>>;
        for (let i = 0; i < (options.warmup ?? 2); i++) result = await fn();
        const samples: number[] = [];
        for (let i = 0; i < (options.iterations ?? iterations); i++) {
          const t = performance.now();
          result = await fn();
          samples.push(performance.now() - t);
        }
        add({ label, unit: 'ms', ...summarise(samples), samples: samples.length, target: options.target, note: options.note });
        return result;
      },
      record: add,
      skip(label, reason, target) {
        add({ label, unit: 'ms', median: Number.NaN, min: Number.NaN, samples: 0, target, skipped: reason });
      },
    };
    await run(ctx);
  }
  return rows;
}

function format(value: number, unit: Row['unit']): string {
  if (Number.isNaN(value)) return '–';
  if (unit === 'count') return String(value);
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ${unit}`;
}

export function missedTargets(rows: readonly Row[]): Row[] {
  return rows.filter((r) => r.target !== undefined && r.skipped === undefined && r.median > r.target);
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = ['| section | measurement | median | min | runs | target | note |', '|---|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    const target = r.target === undefined ? '' : `< ${format(r.target, r.unit)} ${r.skipped !== undefined ? '' : r.median <= r.target ? '✓' : '✗ missed'}`;
    const note = r.skipped !== undefined ? `skipped: ${r.skipped}` : (r.note ?? '');
    lines.push(`| ${r.section} | ${r.label} | ${format(r.median, r.unit)} | ${format(r.min, r.unit)} | ${r.samples} | ${target.trim()} | ${note.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}
