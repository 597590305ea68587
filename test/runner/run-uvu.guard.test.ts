// scripts/run-uvu.mjs as a product: a hanging test fails by name at its deadline and is ended, a fault
// fails the test that was running, and the rest of the run goes on with exact counts. The fixtures in
// test/fixtures/runner are run by a real child runner; this test reads its report.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/runner', import.meta.url));

interface Run {
  code: number | null;
  out: string;
}

function runFixtures(): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_TIMEOUT_MS: '2000', NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env['NODE_V8_COVERAGE']; // the fixtures are not the project's code
  delete env['FUZZ'];
  const child = spawn(process.execPath, ['scripts/run-uvu.mjs', FIXTURES], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  // Bounded even if the guard itself were broken: the fixtures' own deadlines add up to ~5 s.
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out: out.replace(/\u001b\[[0-9;]*m/g, '') });
    });
  });
}

let run: Run | undefined;
const report = async (): Promise<Run> => (run ??= await runFixtures());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('counts every fixture test, the stray fault and the file that cannot load exactly: "4 passed, 7 failed", exit 1', async () => {
  const r = await report();
  const lines = r.out.trimEnd().split('\n');
  assert.is(lines.at(-1), '4 passed, 7 failed', r.out);
  assert.is(r.code, 1);
});

test('runs every test after the hangs and the faults, in order', async () => {
  const r = await report();
  const ran = [...r.out.matchAll(/\[fixture\] ran: (.*)/g)].map((m) => m[1]);
  assert.equal(ran, [
    'passes in the file that left a stray rejection',
    'passes after the hangs',
    'passes after the faults',
    'runs in a later file',
  ]);
});

test('fails a hanging test by name at its own deadline and lists what it still had open', async () => {
  const { out } = await report();
  const block = /FAIL\s+"hangs on a socket that never answers"\s*\n\s*(.*)/.exec(out);
  assert.ok(block, out);
  const why = block[1]!;
  assert.match(why, 'timed out after 1500 ms (its own timeoutMs)');
  assert.match(why, /Server listening on 127\.0\.0\.1:\d+/);
  assert.match(why, /Socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \(read 0 B, wrote 6 B\)/);
  assert.match(why, /child process pid \d+ \(.*node.* -e setInterval/);
  assert.match(why, /setInterval\(5000 ms\) set at .*1-hang\.test\.js:\d+/);
});

test('kills the child process a timed-out test left running', async () => {
  const { out } = await report();
  const pid = Number(/\[fixture\] child pid (\d+)/.exec(out)?.[1]);
  assert.ok(pid > 0, out);
  assert.not.ok(alive(pid), `pid ${pid} still alive`);
});

test('fails a test with nothing open at the default deadline and says so', async () => {
  const { out } = await report();
  assert.match(
    out,
    /FAIL\s+"hangs with nothing open under the default deadline"\s*\n\s*timed out after 2000 ms \(the default deadline[^)]*\); nothing it opened is still open/,
  );
});

test('fails the test that left a rejection unhandled, with the reason', async () => {
  const { out } = await report();
  assert.match(out, /FAIL\s+"leaves a rejection unhandled"\s*\n\s*unhandled rejection: Error: planted rejection/);
  assert.match(out, /FAIL\s+"returns before its rejection is reported"\s*\n\s*unhandled rejection: Error: planted late rejection/);
});

test('fails the test whose timer threw, with the exception', async () => {
  const { out } = await report();
  assert.match(out, /FAIL\s+"throws from a timer callback"\s*\n\s*uncaught exception: Error: planted exception/);
});

test('reports a fault outside any test as a failure of its own', async () => {
  const { out } = await report();
  assert.match(out, /✘ unhandled rejection outside any test \(while the test files were imported, at [^)]*\.test\.js\)/);
  assert.match(out, 'planted stray rejection while loading');
  assert.match(out, '2 failure(s) outside any test');
});

test('reports a test file that cannot be loaded as one failure and runs the others', async () => {
  const { out } = await report();
  assert.match(out, /✘ [^\n]*4-broken\.test\.js could not be loaded:\n\s*Error \[ERR_MODULE_NOT_FOUND\]/);
});

test.run();
