/**
 * One measurement of bench/ccs-client.mjs in a fresh process. Argument: one JSON object
 *   { client: 'ccs'|'xmppjs'|'trivial'|'floor', api: 'send'|'dispatch', mode: 'throughput'|'idle'|'memory', host, port, ca,
 *     senderId, apiKey, to, connections, maxPending, maxQueued, n, warmup, warmupCpuMs, counts, markWindow }
 * Prints one JSON line on stdout and exits.
 *
 * api (ccs and floor): `'send'` (the default) sends with `trySend`, a promise per message and one shared `then` pair;
 * `'dispatch'` with `dispatch(message, callback)`, the promise-free send, one callback shared by every message (no
 * closure per send) — bench/ccs-client.mjs's `ccs-dispatch` and `floor-dispatch`. A build of `CcsClient` without
 * `dispatch` fails the run at once.
 *
 * throughput: `n` messages after the warm-up (bench/lib/run-meter.mjs `warmUp`: runs of `n` shaped like the timed
 *   one until `warmup` messages or `warmupCpuMs` of CPU), each connection's window kept full (ccs, xmpp.js: the
 *   queue driver — `trySend` (or `dispatch`) until refused, then `waitForCapacity()`, `maxQueued` default 10 000; the API floor too, one
 *   client over all connections like `CcsClient`; trivial: its own loop), acked
 *   msgs/s and the process's CPU (user + system) per message.
 * idle: heap after GC with `counts[0]` and then `counts[1]` idle connections online; the slope (the
 *   step's connections opened and closed once before, so compiled code is not counted as theirs).
 * memory: the stub never ACKs; heap after GC at `counts[0]` and `counts[1]` messages pending (sent with the run's API,
 *   one settlement callback shared by all).
 */
import { performance } from 'node:perf_hooks';
import { CcsClient } from '@ccs-xmpp/ccs';
import { XmppjsCcsClient } from './xmppjs-ccs-client.mjs';
import { TrivialCcsClient } from './trivial-ccs-client.mjs';
import { FloorCcsClient } from './floor-ccs-client.mjs';
import { ofTimedRuns } from './client-stats.mjs';
import { allocMeter, canaryMs, cpuQuarters, markWindow, procMeter, warmUp } from './run-meter.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const DISPATCH = cfg.api === 'dispatch';
if (cfg.api !== undefined && cfg.api !== 'send' && !DISPATCH) throw new Error(`unknown api ${cfg.api}: send or dispatch`);
if (DISPATCH && cfg.client !== 'ccs' && cfg.client !== 'floor') throw new Error(`api dispatch: ccs or floor, not ${cfg.client}`);

function payload(i) {
  return { to: cfg.to, data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) } };
}

/** Anything with trySend / waitForCapacity; `k` connections as one sender. */
function makeSenders(connections, maxPending, maxQueued) {
  const common = { senderId: cfg.senderId, apiKey: cfg.apiKey, host: cfg.host, port: cfg.port, tls: { ca: cfg.ca, servername: 'localhost' }, maxPending, maxQueued };
  if (cfg.client === 'ccs') {
    const client = new CcsClient({ ...common, connections, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0 });
    if (DISPATCH && typeof client.dispatch !== 'function') throw new Error('api dispatch: this build of CcsClient has no dispatch(message, callback)');
    return [client];
  }
  // The API floor, like CcsClient: one client, one queue, `connections` windows.
  if (cfg.client === 'floor') return [new FloorCcsClient({ ...cfg, connections, maxPending, maxQueued })];
  // xmpp.js has no pool: one client per connection, messages dealt round-robin.
  return Array.from({ length: connections }, () => new XmppjsCcsClient(common));
}

async function driveQueue(clients, base, n, onSettled) {
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
    const c = clients[i % clients.length];
    let p = c.trySend(payload(base + i));
    if (p === undefined) {
      await c.waitForCapacity();
      p = c.trySend(payload(base + i));
      if (p === undefined) throw new Error('trySend refused after waitForCapacity');
    }
    p.then(ok, bad);
  }
  await all;
  return { failed, firstError };
}

/**
 * {@link driveQueue} through `dispatch(message, callback)`: `false` is the refusal, and ONE callback settles every
 * message (as bench/lib/queue-driver.mjs `driveDispatch`, with `onSettled` and several clients like driveQueue).
 */
async function driveDispatch(clients, base, n, onSettled) {
  let settled = 0;
  let failed = 0;
  let firstError;
  let done;
  const all = new Promise((r) => (done = r));
  const settle = (err) => {
    if (err !== undefined) {
      failed++;
      firstError ??= String(err?.code ?? err?.message ?? err);
    }
    settled++;
    onSettled?.(settled);
    if (settled === n) done();
  };
  for (let i = 0; i < n; i++) {
    const c = clients[i % clients.length];
    if (!c.dispatch(payload(base + i), settle)) {
      await c.waitForCapacity();
      if (!c.dispatch(payload(base + i), settle)) throw new Error('dispatch refused after waitForCapacity');
    }
  }
  await all;
  return { failed, firstError };
}

async function throughput() {
  let run;
  let close;
  if (cfg.client === 'trivial') {
    const t = new TrivialCcsClient({ ...cfg });
    await t.connect();
    run = async (base, n) => {
      await t.run(base, n);
      return { failed: 0 };
    };
    close = () => t.close();
  } else {
    const clients = makeSenders(cfg.connections, cfg.maxPending, cfg.maxQueued ?? 10_000);
    await Promise.all(clients.map((c) => c.connect()));
    if (cfg.client === 'ccs') {
      // connect() resolves with the first connection online: wait for all of them.
      for (let k = 0; k < 500 && clients[0].stats().connections.online < cfg.connections; k++) await new Promise((r) => setTimeout(r, 10));
    }
    const drive = DISPATCH ? driveDispatch : driveQueue;
    run = (base, n, onSettled) => drive(clients, base, n, onSettled);
    close = () => Promise.all(clients.map((c) => c.close()));
  }
  // Warm-up: runs shaped exactly like the timed one (bench/lib/run-meter.mjs `warmUp`: the rule and why).
  const { warmed, warmupCpuMs } = await warmUp(run, cfg);
  // The machine's speed just before and just after the window (run-meter.mjs `canaryMs`); the first call compiles.
  canaryMs();
  const canaryBefore = canaryMs();
  const meter = allocMeter();
  const proc = procMeter();
  const cpu0 = process.cpuUsage();
  const quarters = cpuQuarters(cfg.n);
  markWindow(cfg.markWindow, 'opens');
  // Timed runs of `n` back to back until `timedMs` of wall time (at least one): each a figure of its own, the process's
  // figure their median (bench/ccs-client.mjs's header: the machine's speed flickers within a single run).
  const runs = [];
  let failed = 0;
  let firstError;
  let spent = 0;
  do {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    // The later runs get a quarter meter of their own, unread: every run is then shaped like the warm-up's (a callback
    // that changes shape deoptimises the driver, bench/ANALYSIS.md ninth pass).
    const r = await run(warmed + runs.length * cfg.n, cfg.n, runs.length === 0 ? quarters.mark : cpuQuarters(cfg.n).mark);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    spent += wall;
    failed += r.failed;
    firstError ??= r.firstError;
    runs.push({ msgsPerSec: cfg.n / (wall / 1000), cpuUsPerMsg: (c.user + c.system) / cfg.n });
  } while (spent < (cfg.timedMs ?? 0));
  markWindow(cfg.markWindow, 'closes');
  const timed = runs.length * cfg.n;
  const cpu = process.cpuUsage(cpu0);
  const threads = proc.stop(timed);
  const alloc = meter.stop();
  const canaryAfter = canaryMs();
  await close();
  return {
    client: cfg.client, api: DISPATCH ? 'dispatch' : 'send', connections: cfg.connections, maxPending: cfg.maxPending, n: cfg.n, warmed, warmupCpuMs, canaryMs: [canaryBefore, canaryAfter], failed, firstError,
    ...ofTimedRuns(runs),
    ...(runs.length > 1 && { runs, cpuUsPerMsgAll: (cpu.user + cpu.system) / timed }),
    allocBytesPerMsg: alloc.allocatedBytes / timed, gcPauseUsPerMsg: (alloc.gcMs * 1000) / timed, gcs: alloc.gcs, ...quarters.result(), ...threads,
  };
}

/** Heap used after GC, and memory outside the heap that JS objects hold (Buffers' bytes: `external`). */
async function settledMemory() {
  for (let k = 0; k < 4; k++) {
    await new Promise((r) => setTimeout(r, 30));
    globalThis.gc();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

async function settledHeap() {
  return (await settledMemory()).heap;
}

async function idle() {
  const [a, b] = cfg.counts;
  const open = async (k) => {
    if (cfg.client === 'trivial') {
      const t = new TrivialCcsClient({ ...cfg, connections: k });
      await t.connect();
      return [t];
    }
    const clients = makeSenders(k, cfg.maxPending, 10_000);
    await Promise.all(clients.map((c) => c.connect()));
    if (cfg.client === 'ccs') {
      for (let i = 0; i < 500 && clients[0].stats().connections.online < k; i++) await new Promise((r) => setTimeout(r, 10));
    }
    return clients;
  };
  const base = await settledMemory();
  const first = await open(a);
  // As many connections as the measured step, opened and closed once before the first reading: the
  // code V8 compiles while the handshakes get hot (baseline code, feedback) is then in both readings
  // instead of being counted as connection state — without this, a heap snapshot diff of the step
  // showed ~35 KB per `CcsClient` connection of code objects.
  const rehearsal = await open(b - a);
  await Promise.all(rehearsal.map((c) => c.close()));
  const m1 = await settledMemory();
  const second = await open(b - a);
  const m2 = await settledMemory();
  void first;
  void second;
  return {
    client: cfg.client, mode: 'idle', counts: cfg.counts, baseHeap: base.heap, bytesPerConnection: (m2.heap - m1.heap) / (b - a), firstBytes: m1.heap - base.heap,
    // TLS sockets' OpenSSL state is native memory V8 is not told about: it is in neither figure.
    externalBytesPerConnection: (m2.external - m1.external) / (b - a),
  };
}

async function memory() {
  const [a, b] = cfg.counts;
  if (cfg.client === 'trivial') throw new Error('the trivial client keeps no per-message state worth measuring');
  const [c] = makeSenders(1, 1_000_000, 1_000_000);
  await c.connect();
  const sent = () => (cfg.client === 'ccs' ? c.stats().sent : cfg.client === 'floor' ? c.inflight : c.stats.sent);
  const points = [];
  let i = 0;
  // No `then` on trySend's promises (the client holds each until its ACK); dispatch's callback is one for all.
  const settled = () => {};
  const take = DISPATCH ? (m) => c.dispatch(m, settled) : (m) => c.trySend(m) !== undefined;
  for (const step of [a, b]) {
    for (; i < step; i++) if (!take(payload(i))) throw new Error(`refused at ${i}`);
    for (let k = 0; k < 500 && sent() < step; k++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    points.push(await settledHeap());
  }
  return { client: cfg.client, api: DISPATCH ? 'dispatch' : 'send', mode: 'memory', counts: cfg.counts, bytesPerPending: (points[1] - points[0]) / (b - a) };
}

try {
  const res = cfg.mode === 'idle' ? await idle() : cfg.mode === 'memory' ? await memory() : await throughput();
  process.stdout.write(`${JSON.stringify(res)}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`worker: ${err?.stack ?? err}\n`);
  process.exit(1);
}
