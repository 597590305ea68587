// Starts bench/lib/stub-ccs.mjs as a child process and waits for the one line of JSON it prints
// once it listens ({ port, ca, … }). Shared by bench/ccs-client.mjs and bench/micro/client-ab.mjs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const STUB = fileURLToPath(new URL('./stub-ccs.mjs', import.meta.url));

/**
 * @param {string} token the device token the stub answers ACKs for (its `--from`)
 * @param {string[]} extra more arguments for the stub (e.g. `--no-ack`)
 * @returns the stub's startup line's fields, its `pid`, and `stop()` (SIGTERM, resolves at exit)
 */
export async function startStub(token, extra = []) {
  // stdin is the stub's lifeline (`--lifeline`): it ends with this process, so a run that crashes
  // before stop() leaves no server behind. Unref'd: the pipe alone does not keep this process alive.
  const child = spawn(process.execPath, [STUB, '--from', token, '--lifeline', ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.unref?.();
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('stub did not start')), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        resolve(out.slice(0, i));
      }
    });
  });
  const info = JSON.parse(line);
  return { ...info, pid: child.pid, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}
