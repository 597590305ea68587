// `ccs-emulator exec -- COMMAND`: the command finds the emulator in its environment, the exit
// status is the command's, the ledger totals go to stderr; `ccs send` needs no connection flags.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { splitExecArgs } from '../src/exec.js';
import { EmulatorError } from '../src/index.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const CCS_BIN = fileURLToPath(new URL('../../../ccs/bin/ccs.js', import.meta.url));

/** Runs the CLI to completion. */
function run(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    for (const k of ['CCS_HOST', 'CCS_PORT', 'CCS_CA_FILE', 'CCS_SENDER_ID', 'CCS_API_KEY', 'CCS_EMULATOR_ADMIN_URL']) delete clean[k];
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('`ccs-emulator exec -- ccs send --to t --data {}` works with no connection flags and prints the ledger on stderr', async () => {
  const r = await run(['exec', '--', process.execPath, CCS_BIN, 'send', '--to', 't', '--data', '{}']);
  assert.is(r.code, 0, r.stderr);
  const ack = JSON.parse(r.stdout.trim().split('\n').pop()!) as { event: string };
  assert.is(ack.event, 'ack');
  const ledger = /ccs-emulator: ledger (\{.*\})/.exec(r.stderr);
  assert.ok(ledger, r.stderr);
  assert.is((JSON.parse(ledger[1]!) as { downstreamDelivered: number }).downstreamDelivered, 1);
  assert.not.match(r.stderr + r.stdout, /emulator-api-key/);
});

test('exec hands the command CCS_HOST, CCS_PORT, CCS_CA_FILE and CCS_EMULATOR_ADMIN_URL, and exits with its status', async () => {
  const script = `
    const e = process.env;
    const res = await fetch(e.CCS_EMULATOR_ADMIN_URL + '/api/status');
    const s = await res.json();
    const ok = e.CCS_HOST === '127.0.0.1' && Number(e.CCS_PORT) === s.port && (await import('node:fs')).existsSync(e.CCS_CA_FILE) && e.CCS_SENDER_ID === '77';
    process.exit(ok ? 3 : 1);
  `;
  const r = await run(['exec', '--sender-id', '77', '--', process.execPath, '--input-type=module', '-e', script]);
  assert.is(r.code, 3, r.stderr);
});

test('exec reports a command that cannot start (127) and refuses a missing command', async () => {
  const r = await run(['exec', '--', '/nonexistent/command-xyz']);
  assert.is(r.code, 127);
  assert.match(r.stderr, /cannot run/);
  assert.throws(() => splitExecArgs(['--port', '0']), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG');
  assert.throws(() => splitExecArgs(['--']), (e: unknown) => e instanceof EmulatorError);
  const usage = await run(['exec', '--port', '0']);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /usage: ccs-emulator exec/);
  // A value the emulator refuses is named by its flag, as without exec.
  const refused = await run(['exec', '--cut-probability', '2', '--', process.execPath, '-e', '']);
  assert.is(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--cut-probability must be a number in \[0, 1\]/);
});

test('exec ends with the status of a command killed by a signal (128 + n)', async () => {
  const r = await run(['exec', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGTERM")']);
  assert.is(r.code, 143);
});

test.run();
