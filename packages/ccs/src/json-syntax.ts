/**
 * Where a JSON text breaks, for the CLI's `--data`/`--notification` messages. `JSON.parse` says
 * "Unexpected end of JSON input" or "Unexpected token 'x'" with no position on Node 20, which leaves
 * the user counting braces; this scanner follows RFC 8259's grammar and stops at the first offence.
 */

/** The first offence in a JSON text: its 0-based offset and what the grammar wanted there. */
export interface JsonSyntaxProblem {
  offset: number;
  expected: string;
}

// Sticky: matches at lastIndex only, without copying the rest of the text.
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Stop {
  constructor(readonly offset: number, readonly expected: string) {}
}

/** Returns where `text` stops being JSON, or `undefined` when it is valid JSON. */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) throw new Stop(i, `"${word}"`);
      i++;
    }
  };
  const string = (): void => {
    if (text[i] !== '"') throw new Stop(i, 'a string in double quotes');
    i++;
    for (;;) {
      const ch = text[i];
      if (ch === undefined) throw new Stop(i, 'the closing " of the string');
      if (ch === '"') {
        i++;
        return;
      }
      if (ch < ' ') throw new Stop(i, 'no control character inside a string (escape it)');
      if (ch === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) throw new Stop(i + 1, 'four hex digits after \\u');
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else {
          throw new Stop(i, 'an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
        }
      } else {
        i++;
      }
    }
  };
  const number = (): void => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) throw new Stop(text[i] === '-' ? i + 1 : i, 'a digit');
    i += m[0].length;
    // "1." and "1e" are numbers cut short, not a number followed by something else.
    if (text[i] === '.' || text[i] === 'e' || text[i] === 'E') throw new Stop(i + 1, 'a digit');
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ':') throw new Stop(i, "':' after the property name");
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Stop(i, "',' or '}' after the property value");
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Stop(i, "',' or ']' after the array element");
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number();
    throw new Stop(i, 'a value');
  };
  try {
    value();
    ws();
    if (i < text.length) throw new Stop(i, 'nothing after the JSON value');
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, expected: err.expected };
    throw err;
  }
}

/**
 * One line saying where `text` breaks: `at character 10 (the text ends there): expected a value,
 * after {"hello":`. Quotes at most 40 characters before the offence.
 */
export function describeJsonSyntaxProblem(text: string, problem: JsonSyntaxProblem): string {
  const { offset, expected } = problem;
  const before = text.slice(Math.max(0, offset - 40), offset);
  const found = offset >= text.length ? 'the text ends there' : `found ${JSON.stringify(text[offset])}`;
  const context = before === '' ? 'at the start' : `after ${offset > 40 ? '…' : ''}${before}`;
  return `at character ${offset + 1} (${found}): expected ${expected}, ${context}`;
}
