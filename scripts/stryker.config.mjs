// StrykerJS settings shared by the packages' mutation runs (`npm run test:mutation`, see
// scripts/mutation.mjs and test/README.md). Stryker runs in a package directory with this file as
// its config; the package is the directory's name.
//
// - The compiled JavaScript in dist/src is mutated, not the TypeScript: tsc emits ES2022 nearly line
//   for line, and a mutant then needs no compile (a `tsc -b` per mutant would cost seconds each).
// - The command runner runs the package's compiled tests with our runner, `--bail`: a mutant is
//   killed by the first failing suite, and a mutant that hangs a test meets the per-test deadline.
// - Incremental: results are kept in test/mutation/<package>.incremental.json (committed), so a
//   rerun only tests mutants whose code or tests changed.
// - Concurrency 1: the machine is shared; MUTATION_CONCURRENCY raises it.
// - MUTATE (comma-separated globs relative to the package) narrows a run to some files.
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = basename(process.cwd());
const runUvu = join(root, 'scripts', 'run-uvu.mjs');

const mutate = process.env.MUTATE
  ? process.env.MUTATE.split(',')
  : ['dist/src/**/*.js', '!dist/src/cli*.js', '!dist/src/bin/**', '!dist/src/index.js'];

export default {
  testRunner: 'command',
  commandRunner: { command: `node ${JSON.stringify(runUvu)} dist/test --bail` },
  coverageAnalysis: 'off',
  mutate,
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 1),
  incremental: true,
  incrementalFile: join(root, 'test', 'mutation', `${pkg}.incremental.json`),
  // Generous: a loaded 2-core machine; a hung mutant is stopped by the per-test deadline first.
  timeoutMS: 60_000,
  timeoutFactor: 3,
  // A package's TLS tests open ports; one sandbox at a time, and the deadline below ends a stuck one.
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: join(root, '.tmp', 'mutation', `${pkg}.json`) },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['node_modules', '.stryker-tmp', 'coverage', '*.tsbuildinfo', 'reports'],
  thresholds: { high: 90, low: 80, break: null },
};
