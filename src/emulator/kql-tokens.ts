/**
 * The tokens of the emulator's KQL subset (kql-parse.ts): words, string literals with
 * backslash escapes, numbers and operators, each with its line and position for error texts.
 */

export type KqlFailureCode = 'ParserFailure' | 'UnsupportedOperator' | 'UnsupportedFunction' | 'SemanticError';

/** A refused query, with where it went wrong (1-based line, 0-based character as Resource Graph reports it). */
export class KqlError extends Error {
  constructor(
    readonly code: KqlFailureCode,
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

export interface Token {
  readonly t: 'id' | 'str' | 'num' | 'op' | 'eof';
  readonly v: string;
  readonly line: number;
  readonly col: number;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r' };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (message: string, at: number): never => {
    throw new KqlError('ParserFailure', message, line, at - lineStart);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      i += 1;
      line += 1;
      lineStart = i;
      continue;
    }
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i += 1;
      continue;
    }
    const col = i - lineStart;
    const push = (t: Token['t'], v: string, end: number): void => {
      tokens.push({ t, v, line, col });
      i = end;
    };
    if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') fail('A string literal cannot span lines.', i);
        if (text[j] === '\\') {
          const escaped = ESCAPES[text[j + 1] ?? ''];
          if (escaped === undefined) fail(`Unknown escape sequence \\${text[j + 1] ?? ''} in a string literal.`, j);
          value += escaped;
          j += 2;
        } else {
          value += text[j];
          j += 1;
        }
      }
      if (j >= text.length) fail('The string literal is not terminated.', i);
      push('str', value, j + 1);
      continue;
    }
    const num = /^\d+(\.\d+)?/.exec(text.slice(i, i + 40));
    if (num !== null) {
      push('num', num[0], i + num[0].length);
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 200));
    if (word !== null) {
      // `in~` and `mv-expand` are single words in KQL, though they hold punctuation.
      if (word[0] === 'in' && text[i + 2] === '~') push('id', 'in~', i + 3);
      else if (word[0] === 'mv' && text.startsWith('-expand', i + 2) && !/[A-Za-z0-9_]/.test(text[i + 9] ?? '')) push('id', 'mv-expand', i + 9);
      else push('id', word[0], i + word[0].length);
      continue;
    }
    const negatedIn = /^!in(~?)(?![A-Za-z0-9_])/.exec(text.slice(i, i + 5));
    if (negatedIn !== null) {
      push('op', negatedIn[0], i + negatedIn[0].length);
      continue;
    }
    const op = ['==', '=~', '!=', '!~', '|', '(', ')', ',', '[', ']', '.', '=', '-'].find((o) => text.startsWith(o, i));
    if (op === undefined) fail(`Unexpected character '${c}'.`, i);
    push('op', op!, i + op!.length);
  }
  tokens.push({ t: 'eof', v: '', line, col: i - lineStart });
  return tokens;
}
