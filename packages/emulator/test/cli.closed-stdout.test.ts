// Regression: `ccs-emulator … | head -1` crashed with an unhandled EPIPE once the reader had gone.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => { text += d.toString(); });
  return () => text;
}

test('ccs-emulator --help exits 0 without an EPIPE crash when its stdout reader has gone', async () => {
  const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  const err = collect(child.stderr);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.is(err(), '', 'nothing on stderr');
  assert.is(code, 0);
});

test('a ccs-emulator whose reader left after the JSON line keeps serving and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--sender-id', '555', '--handshake-timeout-ms', '0'], {
    env: { ...process.env, CCS_API_KEY: 'closed-stdout-key' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  try {
    const err = collect(child.stderr);
    const lines = createInterface({ input: child.stdout });
    const first = await lines[Symbol.asyncIterator]().next();
    assert.ok(JSON.parse(String(first.value)).port > 0);
    lines.close();
    child.stdout.destroy();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM'); // the totals line now goes to a closed pipe
    assert.is(await exited, 0);
    assert.is(err(), '', 'nothing on stderr');
  } finally {
    clearTimeout(killer);
  }
});

test.run();
