import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layout's rules, read from the source itself (docs/ARCHITECTURE.md says the same in words).
 * A small reader of `import`/`export ... from` lines and `import('...')`: enough for this code
 * base, which has no other way of pulling a module in.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Low to high: a folder imports only from its own and the folders before it. `version` is the
 * one file at the root of src/. Mirrors the table in docs/ARCHITECTURE.md.
 */
const LAYERS = ['core', 'version', 'alerts', 'arm', 'targets', 'export', 'config', 'state', 'sources', 'fleet', 'run', 'telemetry', 'handlers', 'cli'] as const;

/** Never deployed: the local emulator and its certificates. Beside the layers, not in them. */
const DEV_ONLY: Readonly<Record<string, readonly string[]>> = {
  tls: [],
  emulator: ['core', 'tls'],
};

/** Who may import the dev-only folders: the CLI (its demo and `tagwall emulator`). */
const DEV_USERS = new Set(['cli']);

interface Source {
  readonly file: string;
  /** Relative imports, resolved to files under the repository. */
  readonly local: string[];
  /** The same, without `import type` (erased by the compiler) and `import()` (loaded late, on first use). */
  readonly runtime: string[];
  /** The same, without `import()`. */
  readonly static: string[];
  /** Package imports (`zod`, `node:fs`, ...). */
  readonly packages: string[];
}

const IMPORT = /(?:^|[\s;])(import|export)(\s+type)?\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|(import)\(\s*['"]([^'"]+)['"]\s*\)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function read(file: string): Source {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const local: string[] = [];
  const runtime: string[] = [];
  const statics: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[3] ?? m[4] ?? m[6])!;
    if (!spec.startsWith('.')) {
      packages.push(spec);
      continue;
    }
    const target = normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')));
    local.push(target);
    if (m[6] === undefined) statics.push(target);
    if (m[6] === undefined && m[2] === undefined) runtime.push(target);
  }
  return { file, local, runtime, static: statics, packages };
}

function rel(file: string): string {
  return relative(ROOT, file).split(sep).join('/');
}

/** `src/run/pass.ts` → `run`; `src/version.ts` → `version`. */
function unitOf(file: string): string {
  const parts = rel(file).split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
}

const sources = new Map(tsFiles(join(ROOT, 'src')).map((f) => [f, read(f)]));

/** Every import from one unit of src/ into another, as `from -> to (file)`. */
function crossings(): { from: string; to: string; file: string; target: string }[] {
  return [...sources.values()].flatMap((s) =>
    s.local.filter((t) => rel(t).startsWith('src/')).map((t) => ({ from: unitOf(s.file), to: unitOf(t), file: rel(s.file), target: rel(t) })),
  );
}

/** Tarjan's strongly connected components over the file graph: each component of more than one file is a cycle. */
function cycles(nodes: readonly string[], edges: (n: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges(v).includes(v)) found.push(component.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return found;
}

describe('the layout of src/', () => {
  it('reads the imports it judges (the reader finds what the compiler would)', () => {
    // A reader that missed imports would pass every rule below; these are known to be there.
    const pass = sources.get(join(ROOT, 'src', 'run', 'pass.ts'));
    expect(pass, 'src/run/pass.ts exists').toBeDefined();
    expect(pass!.local.length).toBeGreaterThan(3);
    const facts = sources.get(join(ROOT, 'src', 'targets', 'keyvault', 'facts.ts'))!;
    expect(facts.local.map(rel)).toContain('src/targets/keyvault/adapter.ts'); // import('./adapter.js')
    expect(sources.size).toBeGreaterThan(150);
  });

  it('has no import cycle outside the emulator’s kinds', () => {
    const kinds = join(ROOT, 'src', 'emulator', 'kinds') + sep;
    const outsideKinds = (c: string[]) => !c.some((f) => f.startsWith(kinds));
    // What runs when a module loads: no circle at all.
    const runtime = cycles([...sources.keys()], (f) => sources.get(f)?.runtime.filter((t) => sources.has(t)) ?? []).filter(outsideKinds);
    expect(runtime.map((c) => c.map(rel).join(' -> '))).toEqual([]);
    // Types too.
    // A kind's `load: () => import('./adapter.js')` is left out: the adapter is loaded on first use, after its facts.
    const allowed = new Set<string>();
    const typed = cycles([...sources.keys()], (f) => sources.get(f)?.static.filter((t) => sources.has(t)) ?? []).filter(outsideKinds);
    expect(typed.map((c) => c.map(rel).join(' -> ')).filter((c) => !allowed.has(c))).toEqual([]);
  });

  it('imports only from folders at or below each folder’s layer', () => {
    const known = new Set<string>([...LAYERS, ...Object.keys(DEV_ONLY)]);
    const units = new Set([...sources.keys()].map(unitOf));
    expect([...units].filter((u) => !known.has(u)), 'every folder of src/ has a place in the table').toEqual([]);
    const layer = (u: string) => (LAYERS as readonly string[]).indexOf(u);
    const wrong = crossings().filter(({ from, to }) => {
      if (from === to) return false;
      if (DEV_ONLY[from] !== undefined) return !DEV_ONLY[from]!.includes(to);
      if (DEV_ONLY[to] !== undefined) return !DEV_USERS.has(from);
      return layer(to) > layer(from);
    });
    expect(wrong.map((w) => `${w.file} -> ${w.target}`)).toEqual([]);
  });

  it('keeps src/core pure: it imports nothing outside src/core', () => {
    const outside = crossings().filter((c) => c.from === 'core' && c.to !== 'core');
    expect(outside.map((w) => `${w.file} -> ${w.target}`)).toEqual([]);
    const core = [...sources.values()].filter((s) => unitOf(s.file) === 'core');
    // Nor any Azure SDK: the core never talks to Azure.
    expect(core.flatMap((s) => s.packages.filter((p) => p.startsWith('@azure/')).map((p) => `${rel(s.file)} -> ${p}`))).toEqual([]);
  });

  it('lets nothing but src/cli import src/cli', () => {
    const wrong = crossings().filter((c) => c.to === 'cli' && c.from !== 'cli');
    expect(wrong.map((w) => `${w.file} -> ${w.target}`)).toEqual([]);
  });

  it('keeps the emulator, the local CA and selfsigned out of what the Functions app loads', () => {
    const entries = tsFiles(join(ROOT, 'functions'));
    expect(entries.length).toBeGreaterThan(5);
    const seen = new Set<string>();
    const from = new Map<string, string>();
    const queue = [...entries];
    while (queue.length > 0) {
      const f = queue.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const s = sources.get(f) ?? read(f);
      for (const t of s.local) {
        if (!seen.has(t)) {
          if (!from.has(t)) from.set(t, f);
          queue.push(t);
        }
      }
    }
    const path = (f: string): string => (from.has(f) ? `${path(from.get(f)!)} -> ${rel(f)}` : rel(f));
    const reached = [...seen];
    expect(reached.some((f) => rel(f).startsWith('src/handlers/')), 'the walk reaches the handlers').toBe(true);
    expect(reached.filter((f) => /^src\/(emulator|tls|cli)\//.test(rel(f))).map(path)).toEqual([]);
    const selfsigned = reached.filter((f) => (sources.get(f) ?? read(f)).packages.includes('selfsigned'));
    expect(selfsigned.map(path)).toEqual([]);
  });
});
