/**
 * One measurement of bench/ccs-e2e.mjs, in a fresh process (so JIT and GC state never leak from
 * one client to the other). Argument: one JSON object
 *   { client: 'ccs'|'ccs-dispatch'|'ccs-traced'|'xmppjs', mode: 'throughput'|'memory', host, port, caFile, senderId, apiKey,
 *     tokens: string[], n, warmup, warmupCpuMs, maxPending, maxQueued, driver: 'queue'|'window', steps: number[],
 *     markWindow }
 * Prints one JSON line with the result on stdout and exits.
 *
 * Throughput mode times `n` messages after the warm-up of bench/lib/run-meter.mjs `warmUp`, the same rule as
 * bench/lib/client-worker.mjs's: runs shaped exactly like the timed one (`n` messages, the same driver, the same
 * settlement callback) until `warmup` messages, or `warmupCpuMs` of the process's CPU if that comes first.
 * Until 2026-12-02 it was one run of `warmup` messages without the callback, and the timed window held
 * TurboFan compilations of the hot path and the deoptimisation of the driver's callback at its first call
 * (bench/ANALYSIS.md, ninth pass). It also reports the CPU split into the main thread and the others, and the
 * main thread's preemptions (run-meter.mjs `procMeter`).
 *
 * `ccs-dispatch` is `CcsClient` sent to with `dispatch(message, callback)`, the promise-free send (`false` when the
 * queue is full, then `waitForCapacity()`), instead of `send()` / `trySend()` and their promises; every other
 * contender sends with the promise API. A build of `CcsClient` without `dispatch` fails the run at once. Results
 * say which API sent (`api`: `'send'` or `'dispatch'`).
 *
 * Drivers (throughput mode):
 * - `queue`: keep the client's queue fed: `trySend()` (or `dispatch()`) until it refuses, then
 *   `waitForCapacity()` — how a bulk sender uses the API. Throughput only (latency would include
 *   queueing). One settlement callback shared by every send (`dispatch`: no closure per send;
 *   bench/lib/queue-driver.mjs `driveDispatch` itself).
 * - `window`: keep exactly `maxPending` sends outstanding, one new send per settlement, so nothing
 *   waits in a client queue and send()→ACK (dispatch()→callback) time is the ACK latency seen by the
 *   application. The latency needs each message's start time in its settlement: one closure per
 *   message through either API (`send`: the `then` pair on its promise; `dispatch`: the callback).
 *
 * Memory mode holds no settlement handler on `send`'s promises (`trySend`, the promise kept by the
 * client alone) and one no-op callback shared by every message on `dispatch`.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as dc from 'node:diagnostics_channel';
import { CcsClient } from '@ccs-xmpp/ccs';
import { XmppjsCcsClient } from './xmppjs-ccs-client.mjs';
import { canaryMs, cpuQuarters, markWindow, procMeter, warmUp } from './run-meter.mjs';
import { driveDispatch } from './queue-driver.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const ca = readFileSync(cfg.caFile, 'utf8');
/** `ccs-dispatch`: sends go through `dispatch(message, callback)`, never `send` / `trySend`. */
const DISPATCH = cfg.client === 'ccs-dispatch';

/** Messages the ccs-traced subscribers saw. */
let traced = 0;

function makeClient() {
  const common = {
    senderId: cfg.senderId, apiKey: cfg.apiKey, host: cfg.host, port: cfg.port,
    tls: { ca, servername: 'localhost' }, maxPending: cfg.maxPending, maxQueued: cfg.maxQueued,
  };
  if (cfg.client === 'ccs-traced') {
    // Every ccs:* channel has a subscriber (a counter): what tracing costs once someone listens.
    // The channel names are listed here, not imported, so that this worker also runs against a
    // build from before the channels existed (ccs-e2e.mjs --base-dir).
    const names = ['connection:connecting', 'connection:online', 'connection:draining', 'connection:closed', 'stream:error',
      'send:enqueued', 'send:written', 'send:acked', 'send:nacked', 'send:retried', 'send:resent', 'send:failed',
      'upstream:received', 'upstream:duplicate', 'upstream:handled', 'upstream:acked', 'receipt'];
    for (const name of names) dc.subscribe(`ccs:${name}`, () => void traced++);
  }
  if (cfg.client.startsWith('ccs')) {
    const client = new CcsClient({ ...common, connections: 1, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0 });
    if (DISPATCH && typeof client.dispatch !== 'function') throw new Error('ccs-dispatch: this build of CcsClient has no dispatch(message, callback)');
    return client;
  }
  return new XmppjsCcsClient(common);
}

/** The same realistic small payload for both clients: a notification-like `data` object. */
function payload(i) {
  return {
    to: cfg.tokens[i % cfg.tokens.length],
    data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) },
  };
}

function sentCount(c) {
  return cfg.client.startsWith('ccs') ? c.stats().sent : c.stats.sent;
}

/** Queue-fed driver through `trySend`: resolves with { failed, lat } once all n are settled. */
async function driveQueue(c, base, n, onSettled) {
  let settled = 0;
  let failed = 0;
  let firstError;
  let done;
  const all = new Promise((r) => (done = r));
  const ok = () => {
    settled++;
    onSettled?.(settled);
    if (settled === n) done();
  };
  const bad = (err) => {
    failed++;
    firstError ??= String(err?.code ?? err?.message ?? err);
    settled++;
    onSettled?.(settled);
    if (settled === n) done();
  };
  for (let i = 0; i < n; i++) {
    let p = c.trySend(payload(base + i));
    if (p === undefined) {
      await c.waitForCapacity();
      p = c.trySend(payload(base + i));
      if (p === undefined) throw new Error('trySend refused after waitForCapacity');
    }
    p.then(ok, bad);
  }
  await all;
  return { failed, firstError, lat: undefined };
}

/** Window driver: maxPending outstanding; per-message send()→ACK latency in ms. */
function driveWindow(c, base, n, window, onSettled) {
  const lat = new Float64Array(n);
  let next = 0;
  let settled = 0;
  let failed = 0;
  let firstError;
  return new Promise((resolve) => {
    const launch = () => {
      const i = next++;
      const t = performance.now();
      c.send(payload(base + i)).then(() => {
        lat[i] = performance.now() - t;
        settled++;
        onSettled?.(settled);
        if (settled === n) resolve({ failed, firstError, lat });
        else if (next < n) launch();
      }, (err) => {
        failed++;
        firstError ??= String(err?.code ?? err?.message ?? err);
        lat[i] = NaN;
        settled++;
        onSettled?.(settled);
        if (settled === n) resolve({ failed, firstError, lat });
        else if (next < n) launch();
      });
    };
    for (let k = 0; k < Math.min(window, n); k++) launch();
  });
}

/**
 * {@link driveWindow} through `dispatch(message, callback)`: per-message dispatch()→callback latency in ms. The
 * window never holds more than `maxPending`, so a refusal (a full queue) is a fault of the run, not backpressure.
 */
function driveWindowDispatch(c, base, n, window, onSettled) {
  const lat = new Float64Array(n);
  let next = 0;
  let settled = 0;
  let failed = 0;
  let firstError;
  return new Promise((resolve, reject) => {
    const launch = () => {
      const i = next++;
      const t = performance.now();
      const taken = c.dispatch(payload(base + i), (err) => {
        if (err === undefined) lat[i] = performance.now() - t;
        else {
          failed++;
          firstError ??= String(err?.code ?? err?.message ?? err);
          lat[i] = NaN;
        }
        settled++;
        onSettled?.(settled);
        if (settled === n) resolve({ failed, firstError, lat });
        else if (next < n) launch();
      });
      if (!taken) reject(new Error(`dispatch refused with ${window} outstanding: the queue is smaller than the window`));
    };
    for (let k = 0; k < Math.min(window, n); k++) launch();
  });
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function throughput() {
  const c = makeClient();
  await c.connect();
  const drive = cfg.driver === 'window'
    ? (DISPATCH ? (b, n, h) => driveWindowDispatch(c, b, n, cfg.maxPending, h) : (b, n, h) => driveWindow(c, b, n, cfg.maxPending, h))
    : (DISPATCH ? (b, n, h) => driveDispatch(c, payload, b, n, h) : (b, n, h) => driveQueue(c, b, n, h));
  // Warm-up: runs shaped exactly like the timed one (bench/lib/run-meter.mjs `warmUp`: the rule and why).
  const { warmed, warmupCpuMs } = await warmUp(drive, cfg);
  // The machine's speed just before and just after the window (run-meter.mjs `canaryMs`); the first call compiles.
  canaryMs();
  const canaryBefore = canaryMs();
  const proc = procMeter();
  const cpu0 = process.cpuUsage();
  const quarters = cpuQuarters(cfg.n);
  markWindow(cfg.markWindow, 'opens');
  const t0 = performance.now();
  const r = await drive(warmed, cfg.n, quarters.mark);
  const wall = performance.now() - t0;
  markWindow(cfg.markWindow, 'closes');
  const cpu = process.cpuUsage(cpu0);
  const threads = proc.stop(cfg.n);
  const canaryAfter = canaryMs();
  const acked = cfg.client.startsWith('ccs') ? c.stats().acked : c.stats.acked;
  let latency;
  if (r.lat) {
    const s = Array.from(r.lat).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    latency = { p50: pct(s, 0.5), p99: pct(s, 0.99), max: s[s.length - 1] };
  }
  await c.close();
  return {
    client: cfg.client, api: DISPATCH ? 'dispatch' : 'send', driver: cfg.driver, maxPending: cfg.maxPending, n: cfg.n, warmed, warmupCpuMs, canaryMs: [canaryBefore, canaryAfter], failed: r.failed, firstError: r.firstError, traced,
    ackedTotal: acked, wallMs: wall, msgsPerSec: cfg.n / (wall / 1000),
    cpuUsPerMsg: (cpu.user + cpu.system) / cfg.n, latency, ...quarters.result(), ...threads,
  };
}

const gc = globalThis.gc;
async function settleHeap() {
  for (let k = 0; k < 4; k++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * Memory mode: the emulator never ACKs (huge ackDelay). Send up to each step count, wait until
 * everything the window allows is written, GC, and read the heap. Per-message cost is the slope
 * between steps, which cancels fixed costs (code, first-use allocations).
 */
async function memory() {
  if (typeof gc !== 'function') throw new Error('run with --expose-gc');
  const c = makeClient();
  await c.connect();
  // No handler is attached to the promises (that would add a closure, a reaction and a derived
  // promise per message to both clients alike): what is measured is what the client itself keeps.
  // `dispatch` takes one no-op callback for every message, as an application that shares one would.
  // Nothing settles while we measure, and the process exits without closing the client.
  const ignore = () => {};
  const take = DISPATCH ? (m) => c.dispatch(m, ignore) : (m) => c.trySend(m) !== undefined;
  const points = [];
  let i = 0;
  for (const step of cfg.steps) {
    for (; i < step; i++) {
      if (!take(payload(i))) throw new Error(`queue full at ${i}`);
    }
    const expectSent = Math.min(step, cfg.maxPending);
    for (let k = 0; k < 500 && sentCount(c) < expectSent; k++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200)); // let the socket flush what was written
    points.push({ messages: step, sent: sentCount(c), ...(await settleHeap()) });
  }
  const first = points[0];
  const last = points[points.length - 1];
  const dn = last.messages - first.messages;
  const res = {
    client: cfg.client, api: DISPATCH ? 'dispatch' : 'send', maxPending: cfg.maxPending, points,
    heapBytesPerMsg: (last.heapUsed - first.heapUsed) / dn,
    externalBytesPerMsg: (last.external - first.external) / dn,
  };
  return res;
}

try {
  const res = cfg.mode === 'memory' ? await memory() : await throughput();
  process.stdout.write(`${JSON.stringify(res)}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`worker: ${err?.stack ?? err}\n`);
  process.exit(1);
}
