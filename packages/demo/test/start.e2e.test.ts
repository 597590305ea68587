// `node scripts/start.mjs` (what `npm start` runs after the build) as a real process: a small run
// exits 0 with the summary; a bad flag exits 2 with one line on stderr.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const START = fileURLToPath(new URL('../../../../scripts/start.mjs', import.meta.url));

function run(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [START, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`start.mjs did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('node scripts/start.mjs --messages 200 --devices 20 exits 0 and prints the summary', async () => {
  const r = await run(['--messages', '200', '--devices', '20', '--rate', '1000', '--seed', '4']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^CCS echo demo: emulator on 127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /Summary — seed 4, 20 devices, 2 connections/);
  assert.match(r.stdout, /sent by devices\s+200/);
  assert.match(r.stdout, /ACKed by the app server\s+200\s+ledger: 0 un-ACKed/);
  assert.match(r.stdout, /drainings \/ cuts \/ reconnects\s+1 \/ 1 \/ \d+/);
  assert.match(r.stdout, /result: nothing lost/);
  assert.is(r.stderr, '');
});

test('node scripts/start.mjs with a bad flag exits 2 with one line on stderr', async () => {
  const r = await run(['--connections', '0']);
  assert.is(r.code, 2);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^ccs-demo: --connections must be an integer in \[1, 64\], got "0" \(try --help\)\n$/);
});

test.run();
