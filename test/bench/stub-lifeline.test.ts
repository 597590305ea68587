// bench/lib/start-stub.mjs: the stub CCS it starts (bench/lib/stub-ccs.mjs, a TLS server in its own process) ends
// with the process that started it, even when that process dies without calling stop() — a benchmark or test that
// crashed (an assertion thrown in a promise callback) used to leave its stub serving on 127.0.0.1 indefinitely.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const START_STUB = fileURLToPath(new URL('../../../bench/lib/start-stub.mjs', import.meta.url));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts a parent that starts a stub and prints its pid, then waits; resolves with both processes' pids. */
async function parentWithStub(): Promise<{ parent: ReturnType<typeof spawn>; stubPid: number }> {
  const code = `const { startStub } = await import(${JSON.stringify(START_STUB)});
const stub = await startStub('lifeline-token');
process.stdout.write(stub.pid + '\\n');
setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stubPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('the parent did not report its stub')), 20_000);
    parent.stdout.setEncoding('utf8');
    parent.stdout.on('data', (d: string) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        resolve(Number(out.slice(0, i)));
      }
    });
    parent.once('exit', () => reject(new Error('the parent exited before reporting its stub')));
  });
  return { parent, stubPid };
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

test('a stub outlives no parent: SIGKILL of the process that started it ends the stub', async () => {
  const { parent, stubPid } = await parentWithStub();
  try {
    assert.ok(Number.isInteger(stubPid) && stubPid > 0, `stub pid ${stubPid}`);
    assert.ok(alive(stubPid), 'the stub is running while its parent is');
    parent.kill('SIGKILL');
    assert.ok(await waitGone(stubPid, 10_000), 'the stub still runs 10 s after its parent was killed');
  } finally {
    if (alive(stubPid)) process.kill(stubPid, 'SIGKILL');
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  }
});

test('a parent that only started a stub and stopped it exits by itself (the lifeline pipe holds nothing open)', async () => {
  const code = `const { startStub } = await import(${JSON.stringify(START_STUB)});
const stub = await startStub('lifeline-token');
await stub.stop();`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 20_000);
    parent.once('exit', (codeOut) => {
      clearTimeout(t);
      resolve(codeOut === 0);
    });
  });
  if (!exited && parent.exitCode === null) parent.kill('SIGKILL');
  assert.ok(exited, 'the parent did not exit with 0 within 20 s');
});

test.run();
