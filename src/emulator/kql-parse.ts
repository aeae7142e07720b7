import { KqlError, tokenize, type KqlFailureCode, type Token } from './kql-tokens.js';

/**
 * The part of KQL (Kusto Query Language) the emulated Resource Graph understands, parsed into a
 * small tree. Anything outside it is refused with a position, never guessed at: an emulator that
 * answered a query it did not understand would let a wrong query pass its tests. The operators and
 * functions are the ones Microsoft's "Understanding the Azure Resource Graph query language" page
 * lists and tagwall sends (src/fleet/graph-query.ts).
 */

export { KqlError, type KqlFailureCode } from './kql-tokens.js';

export type CompareOp = '==' | '!=' | '=~' | '!~';
export type InOp = 'in' | 'in~' | '!in' | '!in~';

export type Expr =
  | { readonly k: 'lit'; readonly v: string | number | boolean | null }
  | { readonly k: 'col'; readonly name: string }
  | { readonly k: 'member'; readonly of: Expr; readonly key: string }
  | { readonly k: 'index'; readonly of: Expr; readonly index: Expr }
  | { readonly k: 'call'; readonly fn: string; readonly args: readonly Expr[] }
  | { readonly k: 'cmp'; readonly op: CompareOp; readonly l: Expr; readonly r: Expr }
  | { readonly k: 'in'; readonly op: InOp; readonly l: Expr; readonly list: readonly Expr[] }
  | { readonly k: 'logic'; readonly op: 'and' | 'or'; readonly l: Expr; readonly r: Expr };

export interface Column {
  readonly name: string;
  readonly expr: Expr;
}

export type Stage =
  | { readonly op: 'where'; readonly predicate: Expr }
  | { readonly op: 'extend'; readonly columns: readonly Column[] }
  | { readonly op: 'project'; readonly columns: readonly Column[] }
  | { readonly op: 'mv-expand'; readonly column: string; readonly bagexpansion: 'bag' | 'array' }
  | { readonly op: 'order'; readonly keys: readonly { readonly expr: Expr; readonly desc: boolean }[] }
  | { readonly op: 'take'; readonly count: number };

export interface KqlQuery {
  readonly table: 'resources' | 'resourcecontainers';
  readonly stages: readonly Stage[];
}

/** Each function's name and how many arguments it takes (min, max). */
export const FUNCTIONS: Readonly<Record<string, readonly [number, number]>> = {
  tostring: [1, 1],
  tolower: [1, 1],
  coalesce: [2, 64],
  array_length: [1, 1],
  hash_sha256: [1, 1],
  isnull: [1, 1],
  isnotnull: [1, 1],
  not: [1, 1],
  // case(predicate, then, ..., else): an odd count, checked where the call is parsed.
  case: [3, 63],
};

/** Operators of Resource Graph's KQL that the emulator does not evaluate: named as unsupported rather than as a syntax error. */
const KNOWN_OPERATORS = new Set(['summarize', 'count', 'distinct', 'join', 'union', 'top', 'parse', 'sort', 'mvexpand', 'project-away', 'project-keep', 'extend-keep']);

class Parser {
  #at = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.#at]!;
  }

  next(): Token {
    const t = this.tokens[this.#at]!;
    if (t.t !== 'eof') this.#at += 1;
    return t;
  }

  is(v: string, t: Token['t'] = 'op'): boolean {
    const p = this.peek();
    return p.t === t && p.v === v;
  }

  fail(message: string, at: Token = this.peek(), code: KqlFailureCode = 'ParserFailure'): never {
    throw new KqlError(code, message, at.line, at.col);
  }

  expect(v: string, t: Token['t'] = 'op'): Token {
    if (!this.is(v, t)) this.fail(`Expected '${v}' but found '${this.peek().v || 'end of query'}'.`);
    return this.next();
  }

  name(): string {
    const t = this.peek();
    if (t.t !== 'id') this.fail(`Expected a column name but found '${t.v || 'end of query'}'.`);
    return this.next().v;
  }

  query(): KqlQuery {
    const first = this.peek();
    // Table names are case-insensitive in Resource Graph: Microsoft's own examples write `Resources`.
    const table = first.t === 'id' ? first.v.toLowerCase() : '';
    if (table !== 'resources' && table !== 'resourcecontainers') this.fail(`Unknown table '${first.v}': the emulator has 'resources' and 'resourcecontainers'.`, first, 'SemanticError');
    this.next();
    const stages: Stage[] = [];
    while (this.is('|')) {
      this.next();
      stages.push(this.stage());
    }
    if (this.peek().t !== 'eof') this.fail(`Unexpected '${this.peek().v}' after the end of an operator.`);
    return { table: table as KqlQuery['table'], stages };
  }

  stage(): Stage {
    const at = this.peek();
    const op = at.t === 'id' ? this.next().v : '';
    switch (op) {
      case 'where':
        return { op, predicate: this.expr() };
      case 'extend':
        return { op, columns: this.columns(false) };
      case 'project':
        return { op, columns: this.columns(true) };
      case 'mv-expand': {
        let bagexpansion: 'bag' | 'array' = 'bag';
        if (this.is('bagexpansion', 'id')) {
          this.next();
          this.expect('=');
          const kind = this.peek();
          if (kind.t !== 'id' || (kind.v !== 'array' && kind.v !== 'bag')) this.fail("bagexpansion is 'bag' or 'array'.");
          bagexpansion = this.next().v as 'bag' | 'array';
        }
        return { op, column: this.name(), bagexpansion };
      }
      case 'order': {
        this.expect('by', 'id');
        const keys: { expr: Expr; desc: boolean }[] = [];
        do {
          const expr = this.expr();
          // KQL sorts descending unless told otherwise.
          let desc = true;
          if (this.is('asc', 'id') || this.is('desc', 'id')) desc = this.next().v === 'desc';
          keys.push({ expr, desc });
        } while (this.is(',') && this.next() !== undefined);
        return { op, keys };
      }
      case 'take':
      case 'limit': {
        const n = this.peek();
        if (n.t !== 'num' || n.v.includes('.')) this.fail(`${op} takes a whole number of rows.`);
        this.next();
        return { op: 'take', count: Number(n.v) };
      }
      default:
        if (KNOWN_OPERATORS.has(op)) this.fail(`The operator '${op}' is not supported by the emulator.`, at, 'UnsupportedOperator');
        return this.fail(`Expected a query operator after '|' but found '${at.v || 'end of query'}'.`, at);
    }
  }

  columns(bareAllowed: boolean): Column[] {
    const columns: Column[] = [];
    do {
      const at = this.peek();
      const ahead = this.tokens[this.#at + 1];
      if (at.t === 'id' && ahead?.t === 'op' && ahead.v === '=') {
        this.next();
        this.next();
        columns.push({ name: at.v, expr: this.expr() });
      } else if (bareAllowed && at.t === 'id' && (ahead?.v === ',' || ahead?.v === '|' || ahead?.t === 'eof')) {
        this.next();
        columns.push({ name: at.v, expr: { k: 'col', name: at.v } });
      } else {
        this.fail(bareAllowed ? 'Expected a column name, or name = expression.' : 'Expected name = expression (the emulator does not name extended columns itself).', at);
      }
    } while (this.is(',') && this.next() !== undefined);
    return columns;
  }

  expr(): Expr {
    let l = this.conjunction();
    while (this.is('or', 'id')) {
      this.next();
      l = { k: 'logic', op: 'or', l, r: this.conjunction() };
    }
    return l;
  }

  conjunction(): Expr {
    let l = this.comparison();
    while (this.is('and', 'id')) {
      this.next();
      l = { k: 'logic', op: 'and', l, r: this.comparison() };
    }
    return l;
  }

  comparison(): Expr {
    const l = this.postfix();
    const p = this.peek();
    if (p.t === 'op' && (p.v === '==' || p.v === '!=' || p.v === '=~' || p.v === '!~')) {
      this.next();
      return { k: 'cmp', op: p.v, l, r: this.postfix() };
    }
    if ((p.t === 'id' && (p.v === 'in' || p.v === 'in~')) || (p.t === 'op' && (p.v === '!in' || p.v === '!in~'))) {
      this.next();
      this.expect('(');
      const list: Expr[] = [this.postfix()];
      while (this.is(',')) {
        this.next();
        list.push(this.postfix());
      }
      this.expect(')');
      return { k: 'in', op: p.v as InOp, l, list };
    }
    return l;
  }

  postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.is('.')) {
        this.next();
        e = { k: 'member', of: e, key: this.name() };
      } else if (this.is('[')) {
        this.next();
        const index = this.primary();
        if (index.k !== 'lit' || (typeof index.v !== 'number' && typeof index.v !== 'string')) this.fail('An index is a number or a string literal.');
        this.expect(']');
        e = { k: 'index', of: e, index };
      } else {
        return e;
      }
    }
  }

  primary(): Expr {
    const t = this.peek();
    if (t.t === 'str') return this.next() && { k: 'lit', v: t.v };
    if (t.t === 'num') return this.next() && { k: 'lit', v: Number(t.v) };
    if (t.t === 'op' && t.v === '-' && this.tokens[this.#at + 1]?.t === 'num') {
      this.next();
      return { k: 'lit', v: -Number(this.next().v) };
    }
    if (t.t === 'op' && t.v === '(') {
      this.next();
      const inner = this.expr();
      this.expect(')');
      return inner;
    }
    if (t.t !== 'id') return this.fail(`Expected an expression but found '${t.v || 'end of query'}'.`);
    this.next();
    if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
    if (t.v === 'null') return { k: 'lit', v: null };
    if (!this.is('(')) return { k: 'col', name: t.v };
    if (t.v === 'dynamic') return this.dynamicLiteral();
    const arity = FUNCTIONS[t.v];
    if (arity === undefined) this.fail(`The function '${t.v}' is not supported by the emulator.`, t, 'UnsupportedFunction');
    this.next();
    const args: Expr[] = [];
    if (!this.is(')')) {
      args.push(this.expr());
      while (this.is(',')) {
        this.next();
        args.push(this.expr());
      }
    }
    this.expect(')');
    if (args.length < arity![0] || args.length > arity![1]) this.fail(`The function '${t.v}' takes ${arity![0] === arity![1] ? arity![0] : `${arity![0]} to ${arity![1]}`} arguments, not ${args.length}.`, t, 'SemanticError');
    if (t.v === 'case' && args.length % 2 === 0) this.fail("case() takes predicate and value pairs and then the value for when none holds: an odd number of arguments.", t, 'SemanticError');
    return { k: 'call', fn: t.v, args };
  }

  /**
   * `dynamic(...)` holds a literal, not an expression (KQL's "dynamic" page). The emulator takes
   * a scalar one (null, a number, a string, true or false), and refuses an array or a bag.
   */
  dynamicLiteral(): Expr {
    this.expect('(');
    const t = this.peek();
    let v: string | number | boolean | null;
    if (t.t === 'str') v = t.v;
    else if (t.t === 'num') v = Number(t.v);
    else if (t.t === 'id' && (t.v === 'null' || t.v === 'true' || t.v === 'false')) v = t.v === 'null' ? null : t.v === 'true';
    else return this.fail(`The emulator takes dynamic() of a scalar literal only, not '${t.v || 'end of query'}'.`, t, 'UnsupportedFunction');
    this.next();
    this.expect(')');
    return { k: 'lit', v };
  }
}

/** The query's tree, or a KqlError naming the first thing the emulator does not understand. */
export function parseKql(text: string): KqlQuery {
  return new Parser(tokenize(text)).query();
}
