import { createHash } from 'node:crypto';
import { KqlError, parseKql, type Expr, type KqlQuery, type Stage } from './kql-parse.js';

/**
 * Runs a parsed KQL query over plain rows. Values follow KQL's `dynamic`: a missing property is
 * null, a comparison with null is null, and `where` keeps only rows whose predicate is true.
 * Columns are checked before any row is read, so a misspelt column is refused as Resource Graph
 * refuses it, not answered as all-null.
 */

export type Row = Readonly<Record<string, unknown>>;

/** The columns Resource Graph's `resources` and `resourcecontainers` tables have (the emulator fills the ones it knows). */
const TABLE_COLUMNS = ['id', 'name', 'type', 'tenantId', 'kind', 'location', 'resourceGroup', 'subscriptionId', 'managedBy', 'sku', 'plan', 'properties', 'tags', 'identity', 'zones', 'extendedLocation'];

export interface CompiledQuery {
  readonly query: KqlQuery;
  /** The columns of the result, in order. */
  readonly columns: readonly string[];
}

function checkExpr(e: Expr, columns: ReadonlySet<string>): void {
  switch (e.k) {
    case 'lit':
      return;
    case 'col':
      if (!columns.has(e.name)) throw new KqlError('SemanticError', `Failed to resolve scalar expression named '${e.name}'.`, 1, 0);
      return;
    case 'member':
    case 'index':
      return checkExpr(e.of, columns);
    case 'call':
      return e.args.forEach((a) => checkExpr(a, columns));
    case 'in':
      checkExpr(e.l, columns);
      return e.list.forEach((a) => checkExpr(a, columns));
    default:
      checkExpr(e.l, columns);
      return checkExpr(e.r, columns);
  }
}

/** Parses a query and checks every column it names against the table and the stages before it. */
export function compileKql(text: string): CompiledQuery {
  const query = parseKql(text);
  let columns = [...TABLE_COLUMNS];
  for (const stage of query.stages) {
    const known = new Set(columns);
    if (stage.op === 'where') checkExpr(stage.predicate, known);
    else if (stage.op === 'order') stage.keys.forEach((k) => checkExpr(k.expr, known));
    else if (stage.op === 'mv-expand') checkExpr({ k: 'col', name: stage.column }, known);
    else if (stage.op === 'extend' || stage.op === 'project') {
      stage.columns.forEach((c) => checkExpr(c.expr, known));
      const named = stage.columns.map((c) => c.name);
      columns = stage.op === 'project' ? named : [...columns.filter((c) => !named.includes(c)), ...named];
    }
  }
  return { query, columns };
}

const isNull = (v: unknown): boolean => v === null || v === undefined;

/** KQL's tostring: strings as they are, null as "", dynamic values as compact JSON. */
export function kqlToString(v: unknown): string {
  if (isNull(v)) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === typeof b && typeof a !== 'object') return a === b;
  return kqlToString(a) === kqlToString(b);
}

function sameIgnoringCase(a: unknown, b: unknown): boolean {
  return kqlToString(a).toLowerCase() === kqlToString(b).toLowerCase();
}

function call(fn: string, args: readonly unknown[]): unknown {
  const [x] = args;
  switch (fn) {
    case 'tostring':
      return kqlToString(x);
    case 'tolower':
      return kqlToString(x).toLowerCase();
    case 'coalesce':
      // "Evaluates a list of expressions and returns the first non-null (or non-empty for string) expression."
      return args.find((a) => !isNull(a) && a !== '') ?? null;
    case 'array_length':
      return Array.isArray(x) ? x.length : null;
    case 'hash_sha256':
      return createHash('sha256').update(kqlToString(x), 'utf8').digest('hex');
    case 'isnull':
      return isNull(x);
    case 'isnotnull':
      return !isNull(x);
    case 'not':
      return x === true ? false : x === false ? true : null;
    default:
      // compileKql let through only the functions above.
      throw new KqlError('UnsupportedFunction', `The function '${fn}' is not supported by the emulator.`, 1, 0);
  }
}

export function evaluate(e: Expr, row: Row): unknown {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'col':
      return row[e.name] ?? null;
    case 'member': {
      const of = evaluate(e.of, row);
      return isRecord(of) ? (of[e.key] ?? null) : null;
    }
    case 'index': {
      const of = evaluate(e.of, row);
      const i = evaluate(e.index, row);
      if (Array.isArray(of) && typeof i === 'number') return of[i < 0 ? of.length + i : i] ?? null;
      return isRecord(of) && typeof i === 'string' ? (of[i] ?? null) : null;
    }
    case 'call':
      if (e.fn === 'case') {
        // The first value whose predicate is true; a null predicate is not true. The last argument otherwise.
        for (let i = 0; i + 1 < e.args.length; i += 2) if (evaluate(e.args[i]!, row) === true) return evaluate(e.args[i + 1]!, row);
        return evaluate(e.args[e.args.length - 1]!, row);
      }
      return call(e.fn, e.args.map((a) => evaluate(a, row)));
    case 'cmp': {
      const l = evaluate(e.l, row);
      const r = evaluate(e.r, row);
      if (isNull(l) || isNull(r)) return null;
      if (e.op === '==') return same(l, r);
      if (e.op === '!=') return !same(l, r);
      return e.op === '=~' ? sameIgnoringCase(l, r) : !sameIgnoringCase(l, r);
    }
    case 'in': {
      const l = evaluate(e.l, row);
      if (isNull(l)) return null;
      const test = e.op.endsWith('~') ? sameIgnoringCase : same;
      const found = e.list.some((x) => test(l, evaluate(x, row)));
      return e.op.startsWith('!') ? !found : found;
    }
    default: {
      const l = evaluate(e.l, row);
      if (e.op === 'and' && l === false) return false;
      if (e.op === 'or' && l === true) return true;
      const r = evaluate(e.r, row);
      if (e.op === 'and') return l === true && r === true ? true : r === false ? false : null;
      return r === true ? true : l === false && r === false ? false : null;
    }
  }
}

/** KQL's default order puts nulls first when ascending and last when descending; strings compare ordinally. */
function compare(a: unknown, b: unknown): number {
  if (isNull(a) || isNull(b)) return isNull(a) === isNull(b) ? 0 : isNull(a) ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = kqlToString(a);
  const y = kqlToString(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function expand(rows: readonly Row[], column: string, bagexpansion: 'bag' | 'array'): Row[] {
  const out: Row[] = [];
  for (const row of rows) {
    const v = row[column];
    // As KQL's mv-expand does, a row whose array or bag is empty (or absent) gives no row at all.
    if (Array.isArray(v)) for (const item of v) out.push({ ...row, [column]: item });
    else if (isRecord(v)) for (const [key, value] of Object.entries(v)) out.push({ ...row, [column]: bagexpansion === 'array' ? [key, value] : { [key]: value } });
    else if (!isNull(v)) out.push(row);
  }
  return out;
}

function run(rows: readonly Row[], stage: Stage): readonly Row[] {
  switch (stage.op) {
    case 'where':
      return rows.filter((r) => evaluate(stage.predicate, r) === true);
    case 'extend':
      return rows.map((r) => {
        const out: Record<string, unknown> = { ...r };
        for (const c of stage.columns) out[c.name] = evaluate(c.expr, out);
        return out;
      });
    case 'project':
      return rows.map((r) => Object.fromEntries(stage.columns.map((c) => [c.name, evaluate(c.expr, r) ?? null])));
    case 'mv-expand':
      return expand(rows, stage.column, stage.bagexpansion);
    case 'order': {
      const keyed = rows.map((r) => ({ r, keys: stage.keys.map((k) => evaluate(k.expr, r)) }));
      keyed.sort((a, b) => {
        for (let i = 0; i < stage.keys.length; i += 1) {
          const c = compare(a.keys[i], b.keys[i]);
          if (c !== 0) return stage.keys[i]!.desc ? -c : c;
        }
        return 0;
      });
      return keyed.map((k) => k.r);
    }
    default:
      return rows.slice(0, stage.count);
  }
}

/** Every row of the result, each holding exactly the result's columns (missing values as null). */
export function runKql(compiled: CompiledQuery, table: readonly Row[]): Record<string, unknown>[] {
  let rows: readonly Row[] = table;
  for (const stage of compiled.query.stages) rows = run(rows, stage);
  return rows.map((r) => Object.fromEntries(compiled.columns.map((c) => [c, r[c] ?? null])));
}
