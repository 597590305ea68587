/**
 * How a client worker warms up, and what it measures besides wall time and CPU (bench/lib/client-worker.mjs,
 * bench/lib/ccs-e2e-worker.mjs).
 *
 * `allocMeter`: bytes allocated on the JS heap over an interval, and the collector's pauses in it, from V8's own
 * per-GC heap statistics (`v8.GCProfiler`): what was allocated is the heap's growth between
 * collections (used before a GC minus used after the previous one), plus the growth since the last.
 * Nothing is sampled, so it counts every object, and it costs nothing between collections (a
 * `--heap-prof` run, by contrast, slows the client and sees one allocation in 512 KiB).
 *
 *   const m = allocMeter(); …work…; const { allocatedBytes, gcMs, gcs } = m.stop();
 */
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';

const CANARY_TEXT = Buffer.from('<message><data:gcm xmlns:data="google:mobile:data">{"from":"x","message_id":"t1a2b3","message_type":"ack"}</data:gcm></message>'.repeat(64), 'latin1');
const CANARY_KEY = Buffer.from('"message_id":"', 'latin1');
function canaryWork(iterations) {
  const m = new Map();
  let sum = 0;
  for (let i = 0; i < iterations; i++) {
    const id = `t${i.toString(36)}`;
    m.set(id, i);
    const text = `<message id=""><gcm xmlns="google:mobile:data">{"to":"x","message_id":"${id}","seq":"${i}"}</gcm></message>`;
    sum += text.length;
    const k = CANARY_TEXT.indexOf(CANARY_KEY, (i * 131) % 4000);
    if (k >= 0) sum += CANARY_TEXT.latin1Slice(k + 14, k + 20).length;
    m.delete(id);
  }
  return sum;
}

/**
 * A fixed piece of pure-JS work like a client's own (template strings, a `Map`, `indexOf` and `latin1Slice` on a
 * Buffer), timed in the process's CPU ms: a gauge of the machine's speed at that moment, taken by the workers just
 * before and just after the timed window (`canaryMs`). On the benchmark machine (a Firecracker microVM) JS code runs
 * at one of two speeds, 1.6–1.7× apart, in episodes of seconds to tens of seconds that slow every process at once —
 * the client, the stub, a process already running — and that nothing inside the VM causes or controls
 * (bench/ANALYSIS.md, ninth pass): a round whose canary reads high ran in a slow episode. ~6 ms at the fast speed
 * (the fastest of three blocks, 20 ms in all); call it once untimed first (compilation).
 */
export function canaryMs() {
  let best = Infinity;
  // Three blocks, the fastest; each block's time is the smaller of its wall time and the process's CPU time, so that
  // neither a preemption (wall) nor V8's helper threads finishing the warm-up's collections (CPU) inflate it.
  for (let k = 0; k < 3; k++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    canaryWork(20_000);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    best = Math.min(best, wall, (c.user + c.system) / 1000);
  }
  return best;
}

/**
 * With `on` (a worker's `markWindow` option), writes `[bench] timed window opens` or `… closes` straight to stdout
 * (fd 1, unbuffered), so that V8's `--trace-opt --trace-deopt` lines, made line-buffered with `stdbuf -oL`, can
 * be counted inside the window: `stdbuf -oL node --trace-opt --trace-deopt bench/lib/ccs-e2e-worker.mjs '{…,
 * "markWindow": true}'` (bench/ANALYSIS.md, ninth pass).
 */
export function markWindow(on, what) {
  if (on) writeSync(1, `[bench] timed window ${what}\n`);
}

/**
 * The warm-up of both client benchmarks, one rule for every client and driver: runs shaped exactly like the
 * timed one — `n` messages each, through the same driver, with the same settlement callback (a
 * `cpuQuarters(n).mark`, as the timed run gets) — until at least `warmup` messages, or fewer if the process
 * has spent `warmupCpuMs` of its own CPU first (0 or absent: no cap). `run(base, count, onSettled)` sends
 * messages `base` … `base + count - 1`, calls `onSettled(settled)` after each settlement and resolves once all
 * are settled. Resolves with the messages sent (`warmed`) and the CPU they took (`warmupCpuMs`).
 *
 * Why so shaped: with one run without the callback before, the timed window of bench/ccs-client.mjs held
 * ~25 TurboFan compilations of the hot path and the deoptimisation of the driver's settlement callback at its
 * first call ("insufficient type feedback for call"), and runs shorter than the timed one left the queue's
 * backpressure path cold (the window then deoptimised `submit`): work on V8's helper threads, which the
 * process's CPU counts, and slower code on the main thread, a different amount in each process
 * (bench/ANALYSIS.md, eighth and ninth passes). Why the cap: the same message count costs the slowest
 * client several times the CPU of the fastest; the cap keeps a run's length bounded, and it is the same
 * for every contender.
 */
export async function warmUp(run, { n, warmup, warmupCpuMs = 0 }) {
  const c0 = process.cpuUsage();
  const spent = () => {
    const u = process.cpuUsage(c0);
    return (u.user + u.system) / 1000;
  };
  let warmed = 0;
  while (warmed < warmup && !(warmupCpuMs > 0 && spent() >= warmupCpuMs)) {
    await run(warmed, n, cpuQuarters(n).mark);
    warmed += n;
  }
  return { warmed, warmupCpuMs: spent() };
}

export function allocMeter() {
  const used0 = v8.getHeapStatistics().used_heap_size;
  const profiler = new v8.GCProfiler();
  profiler.start();
  return {
    stop() {
      const { statistics } = profiler.stop();
      const usedEnd = v8.getHeapStatistics().used_heap_size;
      let allocatedBytes = 0;
      let after = used0;
      let gcMs = 0;
      for (const s of statistics) {
        allocatedBytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - after);
        after = s.afterGC.heapStatistics.usedHeapSize;
        gcMs += s.cost / 1000;
      }
      allocatedBytes += Math.max(0, usedEnd - after);
      return { allocatedBytes, gcMs, gcs: statistics.length };
    },
  };
}

/**
 * Readings of `process.cpuUsage()` as the timed messages settle, for a warm-up check: `mark(settled)`
 * after each settlement, `result(n)` at the end. It compares the CPU per message of the second and
 * the third quarter of the settlements. Not the first half against the second: a driver that keeps
 * a queue full submits up to maxQueued + maxPending messages ahead of the settlements, so the first
 * half holds that many more submissions than the second (in bench/ccs-client.mjs's setting 11 000 of
 * 60 000: the first half measured ~1.5× the second with no warm-up left in it). In the middle
 * quarters the lead is steady, so both hold the same work; the second well above the third means
 * the warm-up was too short. Needs n/4 above that lead.
 */
export function cpuQuarters(n) {
  const marks = [];
  const at = [n >> 2, n >> 1, (3 * n) >> 2];
  const c0 = process.cpuUsage();
  return {
    mark(settled) {
      if (settled === at[marks.length]) marks.push(process.cpuUsage(c0));
    },
    result() {
      if (marks.length < 3) return {};
      const us = (u) => u.user + u.system;
      return {
        cpuUsPerMsgQ2: (us(marks[1]) - us(marks[0])) / (at[1] - at[0]),
        cpuUsPerMsgQ3: (us(marks[2]) - us(marks[1])) / (at[2] - at[1]),
      };
    },
  };
}

/**
 * Where the process's CPU went over an interval, from /proc (Linux; elsewhere `stop()` gives `{}`),
 * to tell the client's own work from the rest of what `process.cpuUsage()` counts: the main
 * thread's time on a CPU (schedstat, ns, exact where cpuUsage has ticks) apart from every other
 * thread's (V8's compilers and its concurrent/parallel GC, libuv's pool), and the involuntary
 * context switches — the main thread's runs cut short because another runnable thread wanted its
 * CPU (another process on a loaded machine, the stub, its own helpers) —, and the read and write
 * syscalls, which say whether the client and the stub settled into the same batching.
 *
 *   const m = procMeter(); …work…; const { mainCpuUsPerMsg, … } = m.stop(messages);
 */
export function procMeter() {
  const read = (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const snap = () => {
    let threads = 0;
    let main = 0;
    let tids = [];
    try {
      tids = readdirSync('/proc/self/task');
    } catch {
      return undefined;
    }
    // A running thread's schedstat is brought up to date only at a tick or a context switch: read as is, the main
    // thread's (which is running) lags by up to a tick, 4 ms here, ±5–10% of a 60 000-message window. getrusage(),
    // under process.cpuUsage(), brings the calling thread's runtime up to date first.
    process.cpuUsage();
    for (const tid of tids) {
      const ns = Number(read(`/proc/self/task/${tid}/schedstat`).split(' ')[0]) || 0;
      threads += ns;
      if (tid === String(process.pid)) main = ns;
    }
    const io = read('/proc/self/io');
    const status = read(`/proc/self/task/${process.pid}/status`);
    const num = (text, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1]);
    return { threads, main, syscr: num(io, 'syscr'), syscw: num(io, 'syscw'), involuntary: num(status, 'nonvoluntary_ctxt_switches') };
  };
  const a = snap();
  return {
    stop(messages) {
      const b = snap();
      if (a === undefined || b === undefined) return {};
      return {
        mainCpuUsPerMsg: (b.main - a.main) / 1000 / messages,
        otherThreadsCpuUsPerMsg: (b.threads - b.main - (a.threads - a.main)) / 1000 / messages,
        involuntarySwitches: b.involuntary - a.involuntary,
        readsPerMsg: (b.syscr - a.syscr) / messages,
        writesPerMsg: (b.syscw - a.syscw) / messages,
      };
    },
  };
}
