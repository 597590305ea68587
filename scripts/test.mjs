#!/usr/bin/env node
// The README's test command after the build: every package's tests in one process under c8,
// the coverage threshold enforced, and the plain `N passed, N failed` line printed last.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const resultFile = join(root, '.tmp', 'test-result.json');
rmSync(resultFile, { force: true });

// The interop suite (test/) needs Prosody and slixmpp from Debian: install them when possible (the
// scripts print "… unavailable: <why>" and the suites skip visibly otherwise). test/ is a workspace,
// built by turbo with the packages.
spawnSync('sh', ['scripts/setup-prosody.sh'], { stdio: 'inherit' });
spawnSync('sh', ['scripts/setup-slixmpp.sh'], { stdio: 'inherit' });
// The emulator console's browser tests drive Debian's chromium through playwright-core.
spawnSync('sh', ['scripts/setup-chromium.sh'], { stdio: 'inherit' });
// packages/store-redis runs against a real redis-server from Debian (the tests start their own).
spawnSync('sh', ['scripts/setup-redis.sh'], { stdio: 'inherit' });

const packages = readdirSync('packages').filter((p) => existsSync(join('packages', p, 'dist', 'test')));
const testDirs = packages.map((p) => join('packages', p, 'dist', 'test'));
if (existsSync(join('test', 'dist', 'interop'))) testDirs.push(join('test', 'dist', 'interop'));
// The runner's own tests (per-test deadlines, fault attribution); test/dist/fixtures is never run directly.
if (existsSync(join('test', 'dist', 'runner'))) testDirs.push(join('test', 'dist', 'runner'));
// The soak suite's short versions (npm run test:soak runs the long ones).
if (existsSync(join('test', 'dist', 'soak'))) testDirs.push(join('test', 'dist', 'soak'));
// The benchmarks' own helpers that a wrong answer would hide in (bench/lib/floor-ccs-client.mjs).
if (existsSync(join('test', 'dist', 'bench'))) testDirs.push(join('test', 'dist', 'bench'));
// Packaging: the manifests agree, and the packed tarballs install and work in an empty project.
if (existsSync(join('test', 'dist', 'packaging'))) testDirs.push(join('test', 'dist', 'packaging'));
const extra = process.argv.slice(2);

const c8 = [
  'node_modules/c8/bin/c8.js',
  '--check-coverage', '--lines', process.env.COVERAGE_LINES ?? '90',
  '--reporter', 'text-summary',
  '--reporter', 'text',
  '--reporter', 'lcov',
  '--report-dir', 'coverage',
  '--temp-directory', '.tmp/c8',
  '--clean',
  '--include', 'packages/*/dist/src/**',
  '--exclude', 'packages/*/dist/src/cli*.js',
  '--exclude', 'packages/*/dist/src/bin/**',
  process.execPath, 'scripts/run-uvu.mjs', ...testDirs, '--result', resultFile, ...extra,
];
const run = spawnSync(process.execPath, c8, { stdio: 'inherit', env: process.env });

let result = { total: 0, passed: 0, failed: 0, skipped: 0 };
try {
  result = JSON.parse(readFileSync(resultFile, 'utf8'));
} catch {
  result.failed = 1;
  console.log('The test runner wrote no result (it crashed before reporting).');
}
let failed = result.failed;
if (run.status !== 0 && failed === 0) {
  console.log('Coverage is below the threshold (see above): counted as one failure.');
  failed = 1;
}
if (result.total === 0) console.log('No test ran.');
console.log(`${result.passed} passed, ${failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''}`);
process.exit(failed > 0 || result.total === 0 ? 1 : 0);
