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
 * CPU per message over the first and the second half of `n` timed messages, from
 * `process.cpuUsage()` readings at the start (`cpu` is the delta at the end, `half` at the halfway
 * message): a first half well above the second means the warm-up was too short and the figure
 * still holds part of it. `{}` when there was no halfway reading.
 */
export function cpuHalves(cpu, half, n) {
  if (half === undefined) return {};
  const first = half.user + half.system;
  return { cpuUsPerMsgFirstHalf: first / (n >> 1), cpuUsPerMsgSecondHalf: (cpu.user + cpu.system - first) / (n - (n >> 1)) };
}
