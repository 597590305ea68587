// The CLI's JSON locator (src/json-syntax.ts) agrees with JSON.parse on what is JSON, and points at
// the first offence: never past a cut, at the end when the text merely stops.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeJsonSyntaxProblem, findJsonSyntaxProblem } from '../src/json-syntax.js';

const RUNS = process.env['FUZZ'] ? 20_000 : 400;
const SEED = 20261201;

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

test('agrees with JSON.parse on arbitrary text and on mutated JSON', () => {
  const mutated = fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\\', '-', '.', 'e', '\u0001', ' ', 'x')).map(([j, at, ins]) => {
    const k = at % (j.length + 1);
    return j.slice(0, k) + ins + j.slice(k + (at % 2));
  });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), mutated), (text) => {
      assert.is(findJsonSyntaxProblem(text) === undefined, parses(text), JSON.stringify(text));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('a cut JSON text breaks no later than the cut', () => {
  fc.assert(
    fc.property(fc.json(), fc.nat(), (json, n) => {
      const cut = json.slice(0, n % (json.length + 1));
      const problem = findJsonSyntaxProblem(cut);
      if (problem !== undefined) assert.ok(problem.offset <= cut.length, `${JSON.stringify(cut)} → ${problem.offset}`);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('names the place and what was expected there', () => {
  const cases: Array<[string, string]> = [
    ['{"hello":', 'at character 10 (the text ends there): expected a value, after {"hello":'],
    ['{"a":1,}', 'at character 8 (found "}"): expected a string in double quotes, after {"a":1,'],
    ['{"a" 1}', `at character 6 (found "1"): expected ':' after the property name, after {"a" `],
    ['[1 2]', `at character 4 (found "2"): expected ',' or ']' after the array element, after [1 `],
    ['{"a":tru}', 'at character 9 (found "}"): expected "true", after {"a":tru'],
    ['{"a":"\\x"}', 'at character 8 (found "x"): expected an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX, after {"a":"\\'],
    ['{"a":1.}', 'at character 8 (found "}"): expected a digit, after {"a":1.'],
    ['{} {}', 'at character 4 (found "{"): expected nothing after the JSON value, after {} '],
    ['', 'at character 1 (the text ends there): expected a value, at the start'],
  ];
  for (const [text, message] of cases) {
    const problem = findJsonSyntaxProblem(text);
    assert.ok(problem !== undefined, text);
    assert.is(describeJsonSyntaxProblem(text, problem), message);
  }
  const long = `{"k":"${'v'.repeat(60)}",}`;
  assert.match(describeJsonSyntaxProblem(long, findJsonSyntaxProblem(long)!), /after …v{38}",$/);
  assert.is(findJsonSyntaxProblem(`[${'9'.repeat(500)}]`), undefined, 'a long number is one number');
});

test.run();
