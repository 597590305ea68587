#!/usr/bin/env node
// Runs every compiled uvu test file (`*.test.js`) under the given directories in this one process,
// then prints uvu's report and writes the counts where scripts/test.mjs can read them.
// Usage: node scripts/run-uvu.mjs <dir>... [--result FILE] [--filter SUBSTRING]
import { readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const dirs = [];
let resultFile;
let filter;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--result') resultFile = args[++i];
  else if (args[i] === '--filter') filter = args[++i];
  else dirs.push(args[i]);
}

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) collect(full, out);
    else if (name.endsWith('.test.js') && (!filter || full.includes(filter))) out.push(resolve(full));
  }
  return out;
}

const files = dirs.flatMap((d) => collect(d, []));

// A hung test must not hang CI: the whole run is bounded.
const budgetMs = Number(process.env.TEST_BUDGET_MS ?? 20 * 60 * 1000);
const watchdog = setTimeout(() => {
  process.stdout.write(`\nTest run exceeded ${budgetMs} ms; aborting.\n`);
  if (resultFile) writeResult({ total: 0, passed: 0, skipped: 0, failed: 1, aborted: true });
  process.exit(1);
}, budgetMs);
watchdog.unref();

// uvu prints its totals; capture them so the aggregate line can be computed.
let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  if (captured.length > 1 << 20) captured = captured.slice(-4096);
  return write(chunk, ...rest);
};

function writeResult(r) {
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, JSON.stringify(r));
}

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
let idx = 0;
for (const file of files) {
  globalThis.UVU_INDEX = idx++;
  globalThis.UVU_QUEUE.push([file.slice(process.cwd().length + 1)]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);
process.stdout.write = write;

// eslint-disable-next-line no-control-regex
const plain = captured.replace(/\u001b\[[0-9;]*m/g, '');
const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
const failed = total - passed;
if (resultFile) writeResult({ total, passed, skipped, failed, files: files.length });
else process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || total === 0 ? 1 : 0);
