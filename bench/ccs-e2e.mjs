/**
 * End-to-end CCS client benchmark (issue 5, "Proof"): acked downstream messages per second over TLS
 * loopback, `CcsClient` (@ccs-xmpp/ccs) through each of its send APIs — `send()` / `trySend()`, a
 * promise per message (`ccs`), and `dispatch(message, callback)`, the promise-free send
 * (`ccs-dispatch`) — against a CCS client built on xmpp.js (@xmpp/client, the library node-xcs
 * uses; bench/lib/xmppjs-ccs-client.mjs), all against the same emulator, with the same flow control
 * (maxPending un-answered messages, a bounded queue), the same payloads and the same drivers. Then
 * memory per pending (in flight) and per queued message, through each API too.
 *
 * Processes: this file only orchestrates. Each measurement gets a fresh emulator (its CLI, a child
 * process) and a fresh client process (bench/lib/ccs-e2e-worker.mjs), so JIT/GC state never leaks
 * between clients; rounds alternate the order of the two clients.
 *
 *   node bench/ccs-e2e.mjs [--rounds 5] [--n 60000] [--warmup 300000] [--warmup-cpu-ms 10000] [--quick] [--no-memory]
 *                          [--json] [--clients ccs,ccs-dispatch,xmppjs] [--base-dir DIR]
 *
 * `--clients` picks the contenders (ratios are to the last one; the default is `ccs,ccs-dispatch,xmppjs`, which
 * bench/run.mjs names explicitly): `ccs`, `ccs-dispatch`, `xmppjs`, `ccs-traced` (CcsClient through `send()` with a
 * subscriber on every `ccs:*` diagnostics channel) and `ccs-base` (CcsClient through `send()` from another checkout,
 * `--base-dir`, already built: e.g. the commit before tracing). The cost of tracing: `--clients
 * ccs,ccs-traced,ccs-base --base-dir /tmp/base --no-memory`.
 *
 * `ccs-dispatch` is driven like `ccs` (bench/lib/ccs-e2e-worker.mjs): the queue driver dispatches until refused, then
 * `waitForCapacity()`, one callback shared by every message, as bench/ccs-client.mjs's `ccs-dispatch`; the window
 * driver keeps `maxPending` dispatched, one new dispatch per callback, and times dispatch()→callback per message as it
 * times send()→ACK for `ccs`.
 *
 * Warm-up and run length measure the steady state: V8 keeps tiering code up and sizing the young
 * generation for the first tens of thousands of messages. Each process warms up as bench/ccs-client.mjs's
 * do (one rule, bench/lib/run-meter.mjs `warmUp`): runs shaped exactly like the timed one (`--n` messages
 * each, the same driver, the same settlement callback) until `--warmup` messages, or until it has spent
 * `--warmup-cpu-ms` of its own CPU if that comes first — the same for every contender. The cap bounds a
 * run on a loaded machine: the xmpp.js client spends 20–35 µs/msg here, 6–10 s on its 300 000, `CcsClient`
 * 3–5. Before 2026-12-02 the warm-up was one run of 50 000 messages without the callback, and the timed
 * window held 23–34 TurboFan compilations of the hot path and 3–5 deoptimisations (the driver's callback
 * at its first call, the quarter meter) for `CcsClient`, 19–23 and 2–5 for the xmpp.js client; now 0–2
 * and none, 0–7 and none (`--trace-opt --trace-deopt`: bench/ANALYSIS.md, ninth pass). Shorter is not
 * enough: after 120 000 `CcsClient`'s window still held 3–16 compilations and a deoptimisation of the
 * driver's callback (each run's new callback, until V8 stops specialising on it); after one run of 60 000
 * (a 2 s cap) the xmpp.js client's held 19. Each run reports its CPU per message over the second and the third
 * quarter of the timed messages (bench/lib/run-meter.mjs): the second well above the third says the
 * warm-up was still too short; and its CPU split into the main thread and the others.
 *
 * Needs a build first (`npm run build`): it imports packages' dist/ and runs the emulator's CLI.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const EMULATOR_CLI = here('../packages/emulator/dist/src/cli.js');
const WORKER = here('./lib/ccs-e2e-worker.mjs');
const API_KEY = 'emulator-api-key'; // the emulator's default development key, not a secret

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' }, n: { type: 'string' }, warmup: { type: 'string' }, 'warmup-cpu-ms': { type: 'string' },
    quick: { type: 'boolean' }, 'no-memory': { type: 'boolean' }, 'no-throughput': { type: 'boolean' },
    json: { type: 'boolean' }, clients: { type: 'string' }, 'base-dir': { type: 'string' },
  },
});
const quick = args.quick === true;
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 5));
const N = Number(args.n ?? (quick ? 10_000 : 60_000));
// The warm-up (see the header): runs like the timed one until 300 000 messages or 10 s of the client's CPU.
const WARMUP = Number(args.warmup ?? (quick ? 2 * N : 300_000));
const WARMUP_CPU_MS = Number(args['warmup-cpu-ms'] ?? (quick ? 0 : 10_000));
const CLIENTS = (args.clients ?? 'ccs,ccs-dispatch,xmppjs').split(',');
const PEER = CLIENTS[CLIENTS.length - 1];
const LABEL = { ccs: '`CcsClient`, send()', 'ccs-dispatch': '`CcsClient`, dispatch()', xmppjs: 'xmpp.js', 'ccs-traced': '`CcsClient`, every channel subscribed', 'ccs-base': '`CcsClient` at --base-dir' };
const label = (client) => LABEL[client] ?? client;
if (CLIENTS.includes('ccs-base') && args['base-dir'] === undefined) throw new Error('--clients ccs-base needs --base-dir DIR');
const WINDOWS = [1000, 100];
const DRIVERS = ['queue', 'window'];
const log = (s) => process.stderr.write(`${s}\n`);

const CLK_TCK = 100; // Linux USER_HZ
/** CPU time (ms) a child used so far, from /proc; undefined where /proc is missing. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // utime + stime
  } catch {
    return undefined;
  }
}

/** Reads lines from a child's stdout; `next()` resolves with the next JSON line. */
function lineReader(stream) {
  let buf = '';
  const lines = [];
  const waiters = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  stream.on('end', () => {
    for (const w of waiters.splice(0)) w(undefined);
  });
  return {
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r))),
  };
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Starts the emulator's CLI (127.0.0.1, free port); resolves once it prints its listening line. */
async function startEmulator(extra = []) {
  const child = spawn(process.execPath, [EMULATOR_CLI, '--port', '0', '--devices', '10', '--no-deliveries', '--keepalive-ms', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  const lines = lineReader(child.stdout);
  const first = await withTimeout(lines.next(), 10_000, 'emulator start').catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  if (first === undefined) throw new Error('the emulator exited before listening');
  const info = JSON.parse(first);
  return {
    info,
    pid: child.pid,
    /** SIGTERM, then its `stopped` line (ledger totals); SIGKILL if it takes too long. */
    async stop() {
      child.kill('SIGTERM');
      let totals;
      try {
        for (let k = 0; k < 10; k++) {
          const line = await withTimeout(lines.next(), 5000, 'emulator stop');
          if (line === undefined) break;
          const o = JSON.parse(line);
          if (o.type === 'stopped') {
            totals = o;
            break;
          }
        }
      } catch {
        child.kill('SIGKILL');
      }
      await withTimeout(exited, 5000, 'emulator exit').catch(() => child.kill('SIGKILL'));
      return totals;
    },
  };
}

/** Runs one measurement in a fresh Node process; resolves with its JSON result. */
function runWorker(cfg, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    // ccs-base: the same worker file, from the other checkout (so it imports that build of the client).
    const base = cfg.client === 'ccs-base';
    const worker = base ? `${args['base-dir']}/bench/lib/ccs-e2e-worker.mjs` : WORKER;
    const child = spawn(process.execPath, [...nodeArgs, worker, JSON.stringify(base ? { ...cfg, client: 'ccs' } : cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`worker ${cfg.client} exited with ${code ?? signal}`));
      else resolve({ ...JSON.parse(line), client: cfg.client });
    });
  });
}

function workerConfig(info, extra) {
  const senderId = info.senders[0];
  return {
    host: info.host, port: info.port, caFile: info.caFile, senderId, apiKey: API_KEY, tokens: info.devices[senderId], ...extra,
  };
}

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function throughputRun(client, maxPending, driver) {
  const emu = await startEmulator();
  const cpu0 = cpuMs(emu.pid);
  let res;
  try {
    res = await runWorker(workerConfig(emu.info, { client, mode: 'throughput', n: N, warmup: WARMUP, warmupCpuMs: WARMUP_CPU_MS, maxPending, maxQueued: 10_000, driver }));
  } finally {
    const cpu1 = cpuMs(emu.pid);
    const totals = await emu.stop();
    if (res) {
      // A `ccs-base` worker from a checkout before the shared warm-up rule reports no `warmed`: it ran one warm-up
      // of exactly WARMUP (under its old rule, so such an A/B does not compare equal warm-ups: copy this
      // checkout's bench/lib there first).
      res.warmed ??= WARMUP;
      res.emulatorCpuUsPerMsg = cpu0 !== undefined && cpu1 !== undefined ? ((cpu1 - cpu0) * 1000) / (N + res.warmed) : undefined;
      res.emulatorTotals = totals;
    }
  }
  // Correctness: every message ACKed, none lost or duplicated on the way.
  const total = N + res.warmed;
  const problems = [];
  if (res.failed !== 0) problems.push(`${res.failed} failed (${res.firstError})`);
  if (res.ackedTotal !== total) problems.push(`acked ${res.ackedTotal} of ${total}`);
  if (res.emulatorTotals && (res.emulatorTotals.downstreamDelivered !== total || res.emulatorTotals.downstreamDuplicates !== 0)) {
    problems.push(`emulator delivered ${res.emulatorTotals.downstreamDelivered} (${res.emulatorTotals.downstreamDuplicates} duplicates) of ${total}`);
  }
  if (problems.length > 0) throw new Error(`${client} maxPending=${maxPending} ${driver}: ${problems.join('; ')}`);
  return res;
}

async function memoryRun(client, kind) {
  // The emulator holds every ACK for 10 minutes: nothing is answered while we measure.
  const emu = await startEmulator(['--ack-delay', '600000']);
  try {
    const cfg = kind === 'inflight'
      ? { maxPending: 20_000, maxQueued: 10_000 } // everything goes on the wire and stays pending
      : { maxPending: 1000, maxQueued: 20_000 }; // 1000 in flight, the rest queued
    return await runWorker(workerConfig(emu.info, { client, mode: 'memory', ...cfg, steps: [2000, 12_000] }), ['--expose-gc']);
  } finally {
    await emu.stop();
  }
}

const results = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, date: new Date().toISOString(), n: N, warmup: WARMUP, warmupCpuMs: WARMUP_CPU_MS, rounds: ROUNDS, throughput: [], memory: [] };

if (!args['no-throughput']) {
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? CLIENTS : [...CLIENTS].reverse();
    for (const maxPending of WINDOWS) {
      for (const driver of DRIVERS) {
        for (const client of order) {
          const r = await throughputRun(client, maxPending, driver);
          r.round = round;
          results.throughput.push(r);
          const lat = r.latency ? ` p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms` : '';
          log(`round ${round} ${client.padEnd(12)} maxPending ${String(maxPending).padStart(4)} ${driver.padEnd(6)} ${Math.round(r.msgsPerSec).toString().padStart(6)} msg/s  client ${r.cpuUsPerMsg.toFixed(1)} µs/msg (quarters 2, 3: ${r.cpuUsPerMsgQ2?.toFixed(1)} / ${r.cpuUsPerMsgQ3?.toFixed(1)}; main thread ${r.mainCpuUsPerMsg?.toFixed(1)} + others ${r.otherThreadsCpuUsPerMsg?.toFixed(1)}, ${r.involuntarySwitches} preempted, after ${r.warmed} warm-up, canary ${r.canaryMs?.map((x) => x.toFixed(1)).join(' / ')} ms)  emulator ${r.emulatorCpuUsPerMsg?.toFixed(1)} µs/msg${lat}`);
        }
      }
    }
  }
}

if (!args['no-memory']) {
  for (const kind of ['inflight', 'queued']) {
    for (const client of CLIENTS) {
      const r = await memoryRun(client, kind);
      r.kind = kind;
      results.memory.push(r);
      log(`memory ${client.padEnd(12)} ${kind.padEnd(8)} ${Math.round(r.heapBytesPerMsg)} B heap/msg, ${Math.round(r.externalBytesPerMsg)} B external/msg`);
    }
  }
}

// Summary: medians over rounds.
const f0 = (x) => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f2 = (x) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const out = [];
if (results.throughput.length > 0) {
  out.push('| maxPending | driver | client | acked msgs/s (median) | ratio (client CPU/msg ratio) | client CPU µs/msg | emulator CPU µs/msg | ACK latency p50 / p99 ms |');
  out.push('|---:|---|---|---:|---:|---:|---:|---:|');
  for (const maxPending of WINDOWS) {
    for (const driver of DRIVERS) {
      const pick = (client) => results.throughput.filter((r) => r.client === client && r.maxPending === maxPending && r.driver === driver);
      const base = median(pick(PEER).map((r) => r.msgsPerSec));
      for (const client of CLIENTS) {
        const rs = pick(client);
        const rate = median(rs.map((r) => r.msgsPerSec));
        const lat = driver === 'window' ? `${f2(median(rs.map((r) => r.latency?.p50)))} / ${f2(median(rs.map((r) => r.latency?.p99)))}` : '–';
        const cpu = median(rs.map((r) => r.cpuUsPerMsg));
        const cpuRatio = median(pick(PEER).map((r) => r.cpuUsPerMsg)) / cpu;
        out.push(`| ${maxPending} | ${driver} | ${label(client)} | ${f0(rate)} | ${client !== PEER ? `**${(rate / base).toFixed(2)}×** (CPU ${cpuRatio.toFixed(2)}×)` : '1×'} | ${f2(cpu)} | ${f2(median(rs.map((r) => r.emulatorCpuUsPerMsg)))} | ${lat} |`);
      }
    }
  }
}
if (results.memory.length > 0) {
  out.push('');
  out.push('| client | messages | heap bytes / message | external bytes / message |');
  out.push('|---|---|---:|---:|');
  for (const r of results.memory) {
    out.push(`| ${label(r.client)} | ${r.kind === 'inflight' ? 'pending (written, un-ACKed)' : 'queued (waiting for the window)'} | ${f0(r.heapBytesPerMsg)} | ${f0(r.externalBytesPerMsg)} |`);
  }
}
process.stdout.write(args.json ? `${JSON.stringify(results)}\n` : `\n${results.node}, ${results.cores}× ${results.cpu}, ${results.date}; n=${N} (+ up to ${WARMUP} warm-up${WARMUP_CPU_MS > 0 ? ` or ${WARMUP_CPU_MS} ms of CPU` : ''}), ${ROUNDS} round(s)\n\n${out.join('\n')}\n`);
