#!/usr/bin/env node
// The command Stryker's command runner runs in its sandbox (scripts/stryker.config.mjs), once for the
// dry run and once per mutant. Usage: node scripts/mutation-runner.mjs <test dir>
//
// Every mutant used to run the package's whole suite. Stryker's instrumented code records which
// mutants it reaches (`stryCov_…(id)` in front of each original expression, collected in
// `globalThis.__stryker__.mutantCoverage`), whichever test runner is used. So:
//
// - Dry run (no `__STRYKER_ACTIVE_MUTANT__`): each test file runs alone in its own process (the same
//   run-uvu.mjs) and writes the mutant ids it reached, module-level code included; the map
//   mutant → test files and each file's duration go to `.mutation-coverage.json` in the sandbox. The
//   Node processes a file starts (a keep-alive or garbage-collection test's child) add what they
//   reached (lib/mutation-cover-hook.mjs). A file that fails alone fails the dry run, and Stryker stops.
// - Mutant run: only the files that reached the mutant run, fastest first, and the process ends at
//   the first failing test (`--bail`, and UVU_EXIT_AT_FIRST_FAILURE for the guard). A mutant
//   no file reached in the dry run (or no map) gets the whole suite: a path reached only under some
//   timing must not be called "survived" because its test was skipped. test/README.md records the
//   check that narrowed verdicts equal whole-suite verdicts.
//
// MUTATION_FILES=a,b runs a mutant with only the reached files whose names start with `a` or `b`:
// a run of a module's own tests, on a machine too loaded for the slow socket files (a kill there
// is a kill by the whole suite; a survivor may still die in a file left out, and is recorded as
// such). The dry run then maps only those files too: the whole stanza suite, each file alone, took
// longer than Stryker's dry-run limit at load 16, and a mutant none of them reached gets the whole
// suite (as without a map), so leaving the other files out of the map can only cost time. MUTATION_NARROW=0 runs the whole suite for every mutant (to check the narrowing); MUTATION_LOG=file
// appends each mutant's id, verdict, time and test files to that file. The ids are
// Stryker's, fresh each run; the map lives and dies with the sandbox.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const runUvu = new URL('run-uvu.mjs', import.meta.url).pathname;
const coverHook = new URL('lib/mutation-cover-hook.mjs', import.meta.url).href;
const MAP = '.mutation-coverage.json';
const SHIM = join('node_modules', 'uvu', 'package.json');
const args = process.argv.slice(2);

if (args[0] === '--cover') {
  // A dry-run child: run one file in this process and leave the ids it reached in args[1].
  const out = args[1];
  process.on('exit', () => {
    const cov = globalThis.__stryker__?.mutantCoverage;
    const ids = new Set(Object.keys(cov?.static ?? {}));
    for (const perTest of Object.values(cov?.perTest ?? {})) for (const id of Object.keys(perTest)) ids.add(id);
    writeFileSync(out, JSON.stringify([...ids]));
  });
  await runTests(args.slice(2));
} else {
  const dir = args[0] ?? 'dist/test';
  const active = process.env.__STRYKER_ACTIVE_MUTANT__;
  if (active === undefined) dryRun(dir);
  else {
    const files = process.env.MUTATION_NARROW === '0' ? [dir] : filesFor(active, dir);
    const deadline = process.env.TEST_TIMEOUT_MS === undefined ? deadlineMs() : undefined;
    if (deadline !== undefined) process.env.TEST_TIMEOUT_MS = deadline;
    const log = process.env.MUTATION_LOG;
    // One line per mutant: id, exit code (0 = survived), ms since this process started, files run.
    if (log) process.on('exit', (code) => appendFileSync(log, `${active}\t${code}\t${Math.round(performance.now())}\t${files.join(' ')}\n`));
    // None of the chosen files (MUTATION_FILES) reaches it: nothing could kill it here.
    if (files.length === 0) process.exit(0);
    limitCpu(files);
    await endPropertiesAtFailure(files);
    // A verdict needs one failing test: a mutant that hangs a file's every test cost a deadline each.
    globalThis.UVU_EXIT_AT_FIRST_FAILURE = true;
    await runTests(files.concat('--bail'));
  }
}

/**
 * A mutant that loops without yielding (`i--` in a `for`) blocks the per-test deadline's timer, and
 * Stryker's own timeout is the dry run's net time × 3 + 60 s: 7–10 minutes a mutant at load 16.
 * MUTATION_CPU_S caps the CPU seconds of this process instead (SIGXCPU ends it: the mutant is
 * detected). A narrowed run (MUTATION_FILES) gets three times the dry-run wall time of the files
 * the mutant runs, at least 30 s: a flat 30 s was less than gcm-shortcut's own six files take
 * together, and would have counted a surviving mutant as detected. A mutant given the whole suite
 * gets no cap unless MUTATION_CPU_S sets one. On a loaded machine CPU time grows far less than
 * wall time, so the dry run's wall time bounds a file's CPU time under any load.
 */
function limitCpu(files) {
  const set = process.env.MUTATION_CPU_S;
  const cpu = set !== undefined ? Number(set) : process.env.MUTATION_FILES ? Math.max(30, Math.ceil((3 * dryRunMs(files)) / 1000)) : 0;
  if (!(cpu > 0) || !Number.isFinite(cpu)) return;
  const run = spawnSync('prlimit', [`--pid=${process.pid}`, `--cpu=${cpu}:${cpu + 5}`], { stdio: 'ignore' });
  if (run.status !== 0) process.stderr.write('mutation-runner: prlimit failed, no CPU cap\n');
}

/** Runs run-uvu.mjs in this process (one node start per mutant, not two); it exits with the verdict. */
async function runTests(runArgs) {
  globalThis.UVU_GUARD_RESOLVED = existsSync(SHIM);
  process.argv = [process.argv[0], runUvu, ...runArgs];
  await import(runUvu);
}

/**
 * run-uvu.mjs sends the test files' `import … from 'uvu'` to the guard through a module hook, which
 * Node 20 runs on a loader thread: ~0.2 s of every mutant's process. In the sandbox a package named
 * `uvu` does the same (the test files resolve it first; the guard, outside, still gets the real one).
 */
function installGuardPackage() {
  const guard = new URL('lib/uvu-guard.mjs', import.meta.url).href;
  const assert = import.meta.resolve('uvu/assert');
  mkdirSync(join(SHIM, '..'), { recursive: true });
  writeFileSync(join(SHIM, '..', 'index.mjs'), `export * from ${JSON.stringify(guard)};\n`);
  writeFileSync(join(SHIM, '..', 'assert.mjs'), `export * from ${JSON.stringify(assert)};\n`);
  writeFileSync(SHIM, JSON.stringify({ name: 'uvu', type: 'module', exports: { '.': './index.mjs', './assert': './assert.mjs' } }));
}

/**
 * A verdict needs one counterexample, not the smallest: fast-check's shrinking is skipped
 * (`endOnFailure`) where a property does not set it itself. Loaded only for files that use it.
 */
async function endPropertiesAtFailure(files) {
  const uses = (f) => statSync(f).isFile() && readFileSync(f, 'utf8').includes("from 'fast-check'");
  if (!files.some((f) => (f.endsWith('.test.js') ? uses(f) : testFiles(f).some(uses)))) return;
  const fc = await import('fast-check');
  fc.configureGlobal({ ...fc.readConfigureGlobal(), endOnFailure: true });
}

function testFiles(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) testFiles(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

/** The chosen test files' prefixes (MUTATION_FILES), or undefined for all. */
function onlyPrefixes() {
  const only = process.env.MUTATION_FILES?.split(',').filter((p) => p !== '');
  return only === undefined || only.length === 0 ? undefined : only;
}

/** The dry run's wall time of `files` together (Infinity for a directory or a file not in the map). */
function dryRunMs(files) {
  if (!existsSync(MAP)) return Infinity;
  const byFile = new Map(JSON.parse(readFileSync(MAP, 'utf8')).files.map((f) => [f.file, f.ms]));
  return files.reduce((sum, f) => sum + (byFile.get(f) ?? Infinity), 0);
}

function dryRun(dir) {
  installGuardPackage();
  const only = onlyPrefixes();
  const tmp = mkdtempSync(join(tmpdir(), 'mutation-cover-'));
  const files = [];
  const byMutant = {};
  try {
    for (const file of testFiles(dir)) {
      if (only !== undefined && !only.some((p) => basename(file).startsWith(p))) continue;
      const ids = join(tmp, 'ids.json');
      const result = join(tmp, 'result.json');
      // The Node processes the file starts report what they reached too (lib/mutation-cover-hook.mjs).
      const children = mkdtempSync(join(tmp, 'children-'));
      const env = { ...process.env, MUTATION_COVER_DIR: children, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${JSON.stringify(coverHook)}`.trim() };
      const started = process.hrtime.bigint();
      const run = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--cover', ids, file, '--result', result], {
        encoding: 'utf8',
        env,
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const counts = existsSync(result) ? JSON.parse(readFileSync(result, 'utf8')) : null;
      if (counts?.files === 0) continue; // stale build output, which run-uvu.mjs does not run either
      if (run.status !== 0 || counts === null || counts.failed > 0) {
        process.stdout.write(`${file} fails when run alone (exit ${run.status}):\n${run.stdout}${run.stderr}`);
        process.exit(1);
      }
      const index = files.push({ file, ms: Math.round(ms), tests: counts.total }) - 1;
      const reached = new Set(JSON.parse(readFileSync(ids, 'utf8')));
      for (const name of readdirSync(children)) for (const id of JSON.parse(readFileSync(join(children, name), 'utf8'))) reached.add(id);
      for (const id of reached) (byMutant[id] ??= []).push(index);
      rmSync(children, { recursive: true, force: true });
      rmSync(ids);
      rmSync(result);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(MAP, JSON.stringify({ files, byMutant }));
  const total = files.reduce((n, f) => n + f.tests, 0);
  process.stdout.write(`${files.length} test files, ${total} tests, ${Object.keys(byMutant).length} mutants reached\n`);
}

/**
 * The per-test deadline under mutation: a mutant that leaves a test waiting forever is killed by
 * it, and the default 60 s made each such mutant cost a minute or more. No test takes longer than
 * its whole file took alone in the dry run (process start included), so five times the slowest
 * file, and at least 10 s, stays clear of a test that is merely slow on a loaded machine.
 */
function deadlineMs() {
  if (!existsSync(MAP)) return undefined;
  const { files } = JSON.parse(readFileSync(MAP, 'utf8'));
  return String(Math.max(10_000, 5 * Math.max(0, ...files.map((f) => f.ms))));
}

/**
 * The test files to run for mutant `id`: those that reached it, the mutated module's own first
 * (`x.*.test.js` for `x.js`), each group fastest first; else all of them. Module-level code (a
 * regular expression, a table) is reached by every file that imports the module, and its own
 * tests are the ones that kill it: without this, each such mutant ran most of the suite first.
 */
function filesFor(id, dir) {
  if (!existsSync(MAP)) return [dir];
  const { files, byMutant } = JSON.parse(readFileSync(MAP, 'utf8'));
  const reached = byMutant[id];
  if (reached === undefined) return [dir];
  const source = sourceOf(id);
  const own = (f) => (source !== undefined && basename(f.file).startsWith(`${source}.`) ? 0 : 1);
  const only = onlyPrefixes();
  const chosen = reached.map((i) => files[i]).filter((f) => only === undefined || only.some((p) => basename(f.file).startsWith(p)));
  return chosen.sort((a, b) => own(a) - own(b) || a.ms - b.ms).map((f) => f.file);
}

/** The name (without `.js`) of the instrumented module in the sandbox's dist/src that holds mutant `id`. */
function sourceOf(id) {
  const mark = new RegExp(`stryMutAct_\\w+\\(${JSON.stringify(String(id)).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`);
  const walk = (d) => {
    for (const name of existsSync(d) ? readdirSync(d) : []) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) {
        const found = walk(full);
        if (found !== undefined) return found;
      } else if (name.endsWith('.js') && mark.test(readFileSync(full, 'utf8'))) return name.slice(0, -3);
    }
    return undefined;
  };
  return walk(join('dist', 'src'));
}
