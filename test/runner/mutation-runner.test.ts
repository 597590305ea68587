// scripts/mutation-runner.mjs, the command Stryker runs per mutant (`npm run test:mutation`): the
// dry run maps each mutant to the test files that reach it, and a mutant then runs only those. A
// fixture package stands in for Stryker's sandbox: its "instrumented" module records coverage and
// switches mutants exactly as Stryker's does (`globalThis.__stryker__`, `__STRYKER_ACTIVE_MUTANT__`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RUNNER = join(ROOT, 'scripts', 'mutation-runner.mjs');

const instrumented = `const ns = (globalThis.__stryker__ ??= {});
ns.activeMutant ??= process.env.__STRYKER_ACTIVE_MUTANT__;
export function reach(...ids) {
  const cov = (ns.mutantCoverage ??= { static: {}, perTest: {} }).static;
  for (const id of ids) cov[id] = true;
}
export const active = (id) => ns.activeMutant === id;
`;
// a reaches mutants 1, 2 and 5, kills 1, and under 5 shows its deadline; b reaches 2 and 3 and
// kills neither. b also checks that its 'uvu' is the guard, however the runner resolved it.
const a = `import { test } from 'uvu';
import { reach, active } from '../src/m.js';
test('a', () => {
  reach('1', '2', '5');
  if (active('1')) throw new Error('mutant 1 is caught by a');
  if (active('5')) throw new Error(\`deadline \${process.env.TEST_TIMEOUT_MS}\`);
});
test.run();
`;
const b = `import * as uvu from 'uvu';
import { reach } from '../src/m.js';
uvu.test('b', () => { reach('2', '3'); if (!('defaultTimeoutMs' in uvu)) throw new Error('not the guard'); });
uvu.test.run();
`;

function fixture(files: Record<string, string>): string {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'mutation-runner-'));
  mkdirSync(join(dir, 'dist', 'src'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'test'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'src', 'm.js'), instrumented);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'dist', 'test', name), text);
  return dir;
}

function run(dir: string, env: Record<string, string> = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env };
  delete base['NODE_V8_COVERAGE'];
  if (!('__STRYKER_ACTIVE_MUTANT__' in env)) delete base['__STRYKER_ACTIVE_MUTANT__'];
  const r = spawnSync(process.execPath, [RUNNER, 'dist/test'], { cwd: dir, env: base, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Runs mutant `id` and returns its exit status and the test files it ran (from MUTATION_LOG). */
function mutant(dir: string, id: string, env: Record<string, string> = {}) {
  const log = join(dir, 'log.tsv');
  rmSync(log, { force: true });
  const r = run(dir, { __STRYKER_ACTIVE_MUTANT__: id, MUTATION_LOG: log, ...env });
  const [logged, status, , files] = readFileSync(log, 'utf8').trimEnd().split('\t');
  assert.is(logged, id);
  assert.is(Number(status), r.status, r.out);
  return { status: r.status, files: (files ?? '').split(' ').sort(), out: r.out };
}

test('the dry run maps each mutant to the test files that reach it; a mutant runs only those', () => {
  const dir = fixture({ 'a.test.js': a, 'b.test.js': b });
  try {
    const dry = run(dir);
    assert.is(dry.status, 0, dry.out);
    assert.match(dry.out, /2 test files, 2 tests, 4 mutants reached/);
    const map = JSON.parse(readFileSync(join(dir, '.mutation-coverage.json'), 'utf8')) as {
      files: Array<{ file: string }>;
      byMutant: Record<string, number[]>;
    };
    const named = (id: string) => (map.byMutant[id] ?? []).map((i) => map.files[i]?.file).sort();
    assert.equal(named('1'), ['dist/test/a.test.js']);
    assert.equal(named('2'), ['dist/test/a.test.js', 'dist/test/b.test.js']);
    assert.equal(named('3'), ['dist/test/b.test.js']);
    assert.ok(existsSync(join(dir, 'node_modules', 'uvu', 'package.json')), 'the guard package is in the sandbox');

    const killed = mutant(dir, '1');
    assert.is(killed.status, 1);
    assert.equal(killed.files, ['dist/test/a.test.js']);
    assert.match(killed.out, /mutant 1 is caught by a/);

    const survived = mutant(dir, '3');
    assert.is(survived.status, 0, survived.out);
    assert.equal(survived.files, ['dist/test/b.test.js']);
    assert.equal(mutant(dir, '2').files, ['dist/test/a.test.js', 'dist/test/b.test.js']);

    // The per-test deadline: five times the slowest file's dry run, at least 10 s.
    const slow = JSON.parse(readFileSync(join(dir, '.mutation-coverage.json'), 'utf8')) as { files: Array<{ ms: number }> };
    for (const [i, ms] of [4_000, 1_000].entries()) (slow.files[i] as { ms: number }).ms = ms;
    writeFileSync(join(dir, '.mutation-coverage.json'), JSON.stringify(slow));
    assert.match(mutant(dir, '5').out, /deadline 20000/);
    for (const f of slow.files) f.ms = 100;
    writeFileSync(join(dir, '.mutation-coverage.json'), JSON.stringify(slow));
    assert.match(mutant(dir, '5').out, /deadline 10000/);
    assert.match(mutant(dir, '5', { TEST_TIMEOUT_MS: '12345' }).out, /deadline 12345/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a mutant no file reached, or any mutant with MUTATION_NARROW=0, gets the whole suite', () => {
  const dir = fixture({ 'a.test.js': a, 'b.test.js': b });
  try {
    assert.is(run(dir).status, 0);
    const unreached = mutant(dir, '9');
    assert.equal(unreached.files, ['dist/test']);
    assert.is(unreached.status, 0, unreached.out);
    assert.equal(mutant(dir, '3', { MUTATION_NARROW: '0' }).files, ['dist/test']);
    // Without a map (no dry run in this directory) every mutant gets the whole suite too.
    rmSync(join(dir, '.mutation-coverage.json'));
    const killed = mutant(dir, '1');
    assert.equal(killed.files, ['dist/test']);
    assert.is(killed.status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// c reports, under mutant 7, the CPU limit of its process (prlimit's work in limitCpu).
const c = `import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import { reach, active } from '../src/m.js';
test('c', () => {
  reach('3', '7');
  const line = readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max cpu time'));
  if (active('7')) throw new Error(\`cpu \${line?.split(/ {2,}/)[1]}\`);
});
test.run();
`;

test('with MUTATION_FILES the dry run maps only those files; a mutant none of them reached gets the whole suite', () => {
  const dir = fixture({ 'a.test.js': a, 'b.test.js': b });
  try {
    const dry = run(dir, { MUTATION_FILES: 'a' });
    assert.is(dry.status, 0, dry.out);
    assert.match(dry.out, /1 test files, 1 tests, 3 mutants reached/);
    assert.equal(mutant(dir, '1', { MUTATION_FILES: 'a' }).files, ['dist/test/a.test.js']);
    // 3 is b's alone: b was not mapped, so it may not be called survived on a's word.
    assert.equal(mutant(dir, '3', { MUTATION_FILES: 'a' }).files, ['dist/test']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a narrowed mutant's CPU cap is three times its files' dry-run time, at least 30 s; MUTATION_CPU_S overrides it; the whole suite has none", () => {
  if (process.platform !== 'linux' || spawnSync('prlimit', ['--version']).status !== 0) return;
  const dir = fixture({ 'a.test.js': a, 'c.test.js': c });
  try {
    assert.is(run(dir).status, 0);
    const mapFile = join(dir, '.mutation-coverage.json');
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { files: Array<{ file: string; ms: number }> };
    for (const f of map.files) f.ms = f.file.endsWith('c.test.js') ? 40_000 : 5_000;
    writeFileSync(mapFile, JSON.stringify(map));
    assert.match(mutant(dir, '7', { MUTATION_FILES: 'c' }).out, /cpu 120\b/);
    assert.match(mutant(dir, '7', { MUTATION_FILES: 'a,c' }).out, /cpu 120\b/, 'only the files the mutant runs count');
    for (const f of map.files) f.ms = 1_000;
    writeFileSync(mapFile, JSON.stringify(map));
    assert.match(mutant(dir, '7', { MUTATION_FILES: 'c' }).out, /cpu 30\b/);
    assert.match(mutant(dir, '7', { MUTATION_FILES: 'c', MUTATION_CPU_S: '45' }).out, /cpu 45\b/);
    assert.match(mutant(dir, '7').out, /cpu unlimited/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a test file that fails when run alone fails the dry run, by name', () => {
  const broken = "import { test } from 'uvu';\ntest('alone', () => { throw new Error('needs another file'); });\ntest.run();\n";
  const dir = fixture({ 'a.test.js': a, 'c.test.js': broken });
  try {
    const dry = run(dir);
    assert.is(dry.status, 1, dry.out);
    assert.match(dry.out, /dist\/test\/c\.test\.js fails when run alone/);
    assert.match(dry.out, /needs another file/);
    assert.not.ok(existsSync(join(dir, '.mutation-coverage.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
