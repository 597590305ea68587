// bench/lib/ccs-e2e-worker.mjs, the client process of bench/ccs-e2e.mjs: its `ccs-dispatch` contender sends through
// `dispatch(message, callback)` and nothing else, and settles every message exactly once, under both drivers, against
// a real emulator (its CLI, as the benchmark starts it) over TLS. A preload counts the calls the worker makes on
// `CcsClient` and wraps each dispatch's callback: a contender that quietly fell back to `send()` / `trySend()` (the
// table would then show the promise API twice, under two names) or lost or doubled a callback fails here. The `ccs`
// contender is the control: the same counts show its sends going through `trySend()`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = join(ROOT, 'bench', 'lib', 'ccs-e2e-worker.mjs');
const EMULATOR_CLI = join(ROOT, 'packages', 'emulator', 'dist', 'src', 'cli.js');
const API_KEY = 'emulator-api-key'; // the emulator's default development key, not a secret

interface EmulatorInfo {
  host: string;
  port: number;
  caFile: string;
  senders: string[];
  devices: Record<string, string[]>;
}
interface Totals {
  downstreamDelivered: number;
  downstreamDuplicates: number;
}
interface Calls {
  send: number;
  trySend: number;
  dispatch: number;
  taken: number;
  settled: number;
  twice: number;
  errors: number;
}
interface WorkerResult {
  client: string;
  api: string;
  failed: number;
  firstError?: string;
  ackedTotal: number;
  warmed: number;
  latency?: { p50: number; p99: number; max: number };
}

/** The emulator's CLI as bench/ccs-e2e.mjs starts it; `stop()` resolves with its ledger line. */
async function startEmulator(): Promise<{ info: EmulatorInfo; stop(): Promise<Totals | undefined> }> {
  const child = spawn(process.execPath, [EMULATOR_CLI, '--port', '0', '--devices', '10', '--no-deliveries', '--keepalive-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const first = await lines.next();
  if (first.done === true) throw new Error('the emulator exited before listening');
  const info = JSON.parse(first.value) as EmulatorInfo;
  return {
    info,
    async stop() {
      child.kill('SIGTERM');
      let totals: Totals | undefined;
      for (let line = await lines.next(); line.done !== true; line = await lines.next()) {
        const o = JSON.parse(line.value) as { type?: string } & Totals;
        if (o.type === 'stopped') totals = o;
      }
      await exited;
      return totals;
    },
  };
}

/**
 * The preload: counts `send`, `trySend` and `dispatch` on CcsClient's prototype (the module instance the worker
 * imports: the same file URL), wraps each dispatched callback to count its calls, and writes the counts at exit.
 */
function preload(dir: string, out: string): string {
  const ccs = import.meta.resolve('@ccs-xmpp/ccs');
  const file = join(dir, 'count-calls.mjs');
  writeFileSync(file, `import { writeFileSync } from 'node:fs';
const { CcsClient } = await import(${JSON.stringify(ccs)});
const P = CcsClient.prototype;
const calls = { send: 0, trySend: 0, dispatch: 0, taken: 0, settled: 0, twice: 0, errors: 0 };
for (const name of ['send', 'trySend']) {
  const original = P[name];
  P[name] = function (...args) { calls[name]++; return original.apply(this, args); };
}
const dispatch = P.dispatch;
P.dispatch = function (message, callback, options) {
  calls.dispatch++;
  let called = false;
  const taken = dispatch.call(this, message, (err, result) => {
    if (called) calls.twice++;
    called = true;
    calls.settled++;
    if (err !== undefined) calls.errors++;
    callback(err, result);
  }, options);
  if (taken) calls.taken++;
  return taken;
};
process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify(calls)));
`);
  return file;
}

/** One throughput run of the worker against a fresh emulator: its result, the calls it made, the emulator's ledger. */
async function run(client: string, driver: 'queue' | 'window'): Promise<{ res: WorkerResult; calls: Calls; totals: Totals | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-worker-'));
  const out = join(dir, 'calls.json');
  const emu = await startEmulator();
  let stopped = false;
  try {
    const senderId = emu.info.senders[0] as string;
    // A queue of 200 behind a window of 50: the queue driver is refused and waits for capacity many times per run.
    const cfg = {
      host: emu.info.host, port: emu.info.port, caFile: emu.info.caFile, senderId, apiKey: API_KEY, tokens: emu.info.devices[senderId],
      client, mode: 'throughput', n: 1500, warmup: 1500, warmupCpuMs: 0, maxPending: 50, maxQueued: 200, driver,
    };
    const child = spawn(process.execPath, ['--import', pathToFileURL(preload(dir, out)).href, WORKER, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.is(code, 0, `the ${client} worker (${driver}) exited with ${code}`);
    const res = JSON.parse(stdout.trim().split('\n').pop() as string) as WorkerResult;
    const calls = JSON.parse(readFileSync(out, 'utf8')) as Calls;
    stopped = true;
    return { res, calls, totals: await emu.stop() };
  } finally {
    if (!stopped) await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const driver of ['queue', 'window'] as const) {
  test(`the e2e worker's ccs-dispatch contender sends only through dispatch() and settles every message exactly once (${driver} driver)`, async () => {
    const { res, calls, totals } = await run('ccs-dispatch', driver);
    const total = 1500 + res.warmed;
    assert.is(res.warmed, 1500);
    // What the worker did, counted outside it, before what it says it did.
    assert.is(calls.send, 0, 'send() was called');
    assert.is(calls.trySend, 0, 'trySend() was called');
    assert.is(res.api, 'dispatch');
    assert.is(calls.taken, total, 'messages dispatch() took');
    assert.is(calls.settled, total, 'callbacks called');
    assert.is(calls.twice, 0, 'callbacks called twice');
    assert.is(calls.errors, 0);
    assert.is(res.failed, 0, res.firstError);
    assert.is(res.ackedTotal, total);
    assert.is(totals?.downstreamDelivered, total);
    assert.is(totals?.downstreamDuplicates, 0);
    if (driver === 'queue') assert.ok(calls.dispatch > calls.taken, 'the queue driver was never refused: the run did not exercise waitForCapacity()');
    else {
      // The window never exceeds maxPending: nothing is refused, and every message has its dispatch()→callback time.
      assert.is(calls.dispatch, total);
      assert.ok(res.latency !== undefined && Number.isFinite(res.latency.p50) && Number.isFinite(res.latency.max) && res.latency.p50 > 0);
    }
  });
}

test('the e2e worker\'s ccs contender, the control, sends through trySend() and never dispatch()', async () => {
  const { res, calls, totals } = await run('ccs', 'queue');
  const total = 1500 + res.warmed;
  assert.is(res.api, 'send');
  assert.is(calls.dispatch, 0);
  assert.ok(calls.trySend >= total, `trySend() called ${calls.trySend} times for ${total} messages`);
  assert.is(res.failed, 0, res.firstError);
  assert.is(res.ackedTotal, total);
  assert.is(totals?.downstreamDelivered, total);
});

test.run();
