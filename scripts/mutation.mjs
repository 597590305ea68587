#!/usr/bin/env node
// `npm run test:mutation -- [package...] [--survivors] [--stryker-flag...]`: StrykerJS over the
// packages whose suites are fast (default stanza, sasl, stream), one package at a time, with
// scripts/stryker.config.mjs. Prints the score of each package and the surviving mutants; the
// survivors and what was done about each are recorded in test/README.md. Not part of `npm test`.
//
// Stryker's command runner reports no per-test coverage, so an incremental rerun reuses every result
// whose code did not change, survivors included: a test written for a survivor does not rerun it.
// `--survivors` reruns exactly the mutants the incremental file records as survived or not covered
// (each one's location as a MUTATE range, with --force), and keeps every other result; with MUTATE
// set (`dist/src/a.js,dist/src/b.js`), only those files' survivors, and with a line range
// (`dist/src/a.js:75-304`) only the survivors that start on those lines, so two people can rerun
// their own files, or their own part of one file, of one package. Other
// arguments starting with `-` go to Stryker as they are (`--force` reruns everything in scope).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { survivorRanges } from './lib/mutation-survivors.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const survivorsOnly = args.includes('--survivors');
const flags = args.filter((a) => a.startsWith('-') && a !== '--survivors');
const named = args.filter((a) => !a.startsWith('-'));
const packages = named.length ? named : ['stanza', 'sasl', 'stream'];
const stryker = join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const config = join(root, 'scripts', 'stryker.config.mjs');

/**
 * The committed incremental file keeps each mutant's verdict; the test output Stryker stores as its
 * reason (the whole failing suite's report) is cut to its first lines, which name the test.
 */
function trimReasons(file) {
  if (!existsSync(file)) return;
  const data = JSON.parse(readFileSync(file, 'utf8'));
  for (const { mutants } of Object.values(data.files)) {
    for (const m of mutants) if (typeof m.statusReason === 'string' && m.statusReason.length > 400) m.statusReason = `${m.statusReason.slice(0, 400)}…`;
  }
  writeFileSync(file, `${JSON.stringify(data, null, 1)}\n`);
}

const rows = [];
let failed = false;
for (const pkg of packages) {
  const dir = join(root, 'packages', pkg);
  if (!existsSync(join(dir, 'dist', 'src'))) {
    console.log(`${pkg}: not built (run npm run build)`);
    failed = true;
    continue;
  }
  const env = { ...process.env };
  const extra = [...flags];
  if (survivorsOnly) {
    const ranges = survivorRanges(join(root, 'test', 'mutation', `${pkg}.incremental.json`), process.env.MUTATE);
    console.log(`${pkg}: rerunning ${ranges.length} survivor location(s)`);
    if (ranges.length === 0) continue;
    env.MUTATE = ranges.join(',');
    extra.push('--force');
  }
  const run = spawnSync(process.execPath, [stryker, 'run', config, ...extra], { cwd: dir, stdio: 'inherit', env });
  if (run.status !== 0) failed = true;
  trimReasons(join(root, 'test', 'mutation', `${pkg}.incremental.json`));
  const reportFile = join(root, '.tmp', 'mutation', `${pkg}.json`);
  if (!existsSync(reportFile)) continue;
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const count = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 };
  const survivors = [];
  for (const [file, { mutants, source }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    for (const m of mutants) {
      count[m.status] = (count[m.status] ?? 0) + 1;
      if (m.status === 'Survived' || m.status === 'NoCoverage') {
        const line = m.location.start.line;
        survivors.push(`${file}:${line} ${m.mutatorName}: ${(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 60)}  | ${lines[line - 1]?.trim().slice(0, 90)}`);
      }
    }
  }
  const detected = count.Killed + count.Timeout;
  const valid = detected + count.Survived + count.NoCoverage;
  rows.push({ pkg, score: valid ? ((100 * detected) / valid).toFixed(2) : 'n/a', ...count });
  if (survivors.length) console.log(`\nSurvivors in ${pkg}:\n  ${survivors.join('\n  ')}`);
}
console.log('\n| package | score % | killed | timeout | survived | no coverage |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.pkg} | ${r.score} | ${r.Killed} | ${r.Timeout} | ${r.Survived} | ${r.NoCoverage} |`);
process.exit(failed ? 1 : 0);
