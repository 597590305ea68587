// Regression: `ccs --help | head -1` crashed with an unhandled EPIPE once the reader had gone.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('ccs --help exits 0 without an EPIPE crash when its stdout reader has gone', async () => {
  const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.is(err, '', 'nothing on stderr');
  assert.is(code, 0);
});

test.run();
