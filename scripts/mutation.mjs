#!/usr/bin/env node
// `npm run test:mutation [package...]`: StrykerJS over the packages whose suites are fast (default
// stanza, sasl, stream), one package at a time, with scripts/stryker.config.mjs. Prints the score of
// each package and the surviving mutants; the survivors and what was done about each are recorded
// in test/README.md. Not part of `npm test`: a full run takes hours on a 2-core machine (incremental
// reruns take minutes).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = process.argv.slice(2).length ? process.argv.slice(2) : ['stanza', 'sasl', 'stream'];
const stryker = join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const config = join(root, 'scripts', 'stryker.config.mjs');

const rows = [];
let failed = false;
for (const pkg of packages) {
  const dir = join(root, 'packages', pkg);
  if (!existsSync(join(dir, 'dist', 'src'))) {
    console.log(`${pkg}: not built (run npm run build)`);
    failed = true;
    continue;
  }
  const run = spawnSync(process.execPath, [stryker, 'run', config], { cwd: dir, stdio: 'inherit', env: process.env });
  if (run.status !== 0) failed = true;
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
