/**
 * What a client worker measures besides wall time and CPU (bench/lib/client-worker.mjs,
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
import { readdirSync, readFileSync } from 'node:fs';
import v8 from 'node:v8';

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
