#!/usr/bin/env node
// Runs every compiled uvu test file (`*.test.js`) under the given directories in this one process,
// then prints uvu's report and writes the counts where scripts/test.mjs can read them.
// Usage: node scripts/run-uvu.mjs <dir or test file>... [--result FILE] [--filter SUBSTRING] [--bail]
// (--bail stops at the first failing suite with exit 1: the mutation runs want a verdict, not a report;
// files run in the order given, which scripts/mutation-runner.mjs uses to run the fastest first)
//
// Test files import 'uvu' and get scripts/lib/uvu-guard.mjs (through the resolve hook registered
// below): every test has a deadline (TEST_TIMEOUT_MS, default 60 s; `timeoutMs` on a handler), a test
// that passes it fails by name with what it left open, which is then ended, and an unhandled
// rejection or uncaught exception fails the test that was running. See that file for how.
import { existsSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const dirs = [];
let resultFile;
let filter;
let bail = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--result') resultFile = args[++i];
  else if (args[i] === '--filter') filter = args[++i];
  else if (args[i] === '--bail') bail = true;
  else dirs.push(args[i]);
}

function collect(dir, out) {
  if (dir.endsWith('.test.js') && existsSync(dir) && statSync(dir).isFile()) return add(dir, out);
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) collect(full, out);
    else if (name.endsWith('.test.js')) add(full, out);
  }
  return out;
}

function add(file, out) {
  if (filter && !file.includes(filter)) return out;
  if (sourceIsGone(resolve(file))) stale.push(file);
  else out.push(resolve(file));
  return out;
}

// tsc never deletes an output whose source was removed or renamed (and turbo's cache restores
// them), so a compiled test can outlive its .ts: `<root>/dist/<dir>/x.test.js` comes from
// `<root>/<dir>/x.test.ts`. Such a file is not run. When `<root>/<dir>` itself is absent, nothing
// can be told, and the file runs.
const stale = [];
function sourceIsGone(file) {
  const at = file.lastIndexOf(`${sep}dist${sep}`);
  if (at < 0) return false;
  const rel = file.slice(at + 6);
  const top = rel.split(sep)[0];
  if (top === rel || !existsSync(join(file.slice(0, at), top))) return false;
  const base = join(file.slice(0, at), rel.slice(0, -'.js'.length));
  return !['.ts', '.mts', '.tsx', '.js', '.mjs'].some((ext) => existsSync(base + ext));
}

const files = dirs.flatMap((d) => collect(d, []));
if (stale.length > 0) {
  process.stdout.write(`Not run: ${stale.length} compiled test file(s) whose source is gone (stale build output): ${stale.join(', ')}\n`);
}

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
// (scripts/mutation-runner.mjs resolves 'uvu' to the guard through a package in its sandbox instead,
// and says so: the hook runs on a loader thread that costs every short-lived process ~0.2 s.)
if (!globalThis.UVU_GUARD_RESOLVED) register('./lib/uvu-hooks.mjs', import.meta.url);
const uvu = await import('./lib/uvu-guard.mjs');
let idx = 0;
for (const file of files) {
  const name = file.slice(process.cwd().length + 1);
  globalThis.UVU_INDEX = idx++;
  globalThis.UVU_QUEUE.push([name]);
  uvu.setCurrentFile(name, true);
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    // A file that cannot load (a syntax error, a missing dependency) is one failure; the rest runs.
    uvu.reportStray(`${name} could not be loaded`, err);
  }
  // Each queued suite runner learns which file it belongs to, for faults outside any test.
  const group = globalThis.UVU_QUEUE[globalThis.UVU_INDEX];
  for (let i = 1; i < group.length; i++) {
    const run = group[i];
    group[i] = () => {
      uvu.setCurrentFile(name);
      return run();
    };
  }
}
await uvu.exec(bail);
process.stdout.write = write;

// eslint-disable-next-line no-control-regex
const plain = captured.replace(/\u001b\[[0-9;]*m/g, '');
const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
// Faults outside any test (and after hooks that threw) are failures of their own.
const stray = uvu.strays.count;
const total = num('Total') + stray;
const passed = num('Passed');
const skipped = num('Skipped');
const failed = total - passed;
if (stray) process.stdout.write(`${stray} failure(s) outside any test (see ✘ above)\n`);
if (resultFile) writeResult({ total, passed, skipped, failed, files: files.length });
else process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || total === 0 ? 1 : 0);
