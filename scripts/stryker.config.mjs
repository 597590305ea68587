// StrykerJS settings shared by the packages' mutation runs (`npm run test:mutation`, see
// scripts/mutation.mjs and test/README.md). Stryker runs in a package directory with this file as
// its config; the package is the directory's name.
//
// - The compiled JavaScript in dist/src is mutated, not the TypeScript: tsc emits ES2022 nearly line
//   for line, and a mutant then needs no compile (a `tsc -b` per mutant would cost seconds each).
// - The command runner runs scripts/mutation-runner.mjs in Stryker's sandbox: the dry run maps each
//   mutant to the test files that reach it (each file alone, from Stryker's own coverage counters),
//   and each mutant then runs only those files, fastest first, with `--bail` (a mutant no file
//   reached gets the whole suite). A mutant that hangs a test meets the per-test deadline.
// - Incremental: results are kept in test/mutation/<package>.incremental.json (committed), so a
//   rerun only tests mutants whose code changed. The command runner reports no per-test coverage,
//   so Stryker also reuses survivors after a test was added: `npm run test:mutation -- <pkg>
//   --survivors` reruns those (scripts/mutation.mjs).
// - Concurrency 2 on a machine with two cores or more (the sandbox's test files open only
//   ephemeral ports and temporary directories); MUTATION_CONCURRENCY=1 on a shared machine.
// - MUTATE (comma-separated globs or Stryker ranges, relative to the package) narrows a run.
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = basename(process.cwd());
const runner = join(root, 'scripts', 'mutation-runner.mjs');

const mutate = process.env.MUTATE
  ? process.env.MUTATE.split(',')
  : ['dist/src/**/*.js', '!dist/src/cli.js', '!dist/src/bin/**', '!dist/src/index.js', '!dist/src/testing.js'];

export default {
  testRunner: 'command',
  commandRunner: { command: `node ${JSON.stringify(runner)} dist/test` },
  coverageAnalysis: 'off',
  mutate,
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? Math.min(2, availableParallelism())),
  incremental: true,
  incrementalFile: join(root, 'test', 'mutation', `${pkg}.incremental.json`),
  // Generous: a loaded 2-core machine; a hung mutant is stopped by the per-test deadline first.
  timeoutMS: 60_000,
  timeoutFactor: 3,
  // The dry run runs every test file alone (mutation-runner.mjs); Stryker's default limit of 5 minutes
  // is too short for a whole package's suite on a loaded machine: MUTATION_DRY_RUN_MINUTES raises it
  // (or MUTATION_FILES maps only the named files).
  dryRunTimeoutMinutes: Number(process.env.MUTATION_DRY_RUN_MINUTES ?? 5),
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: join(root, '.tmp', 'mutation', `${pkg}.json`) },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['node_modules', '.stryker-tmp', 'coverage', '*.tsbuildinfo', 'reports'],
  thresholds: { high: 90, low: 80, break: null },
};
