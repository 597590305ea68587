/**
 * Timing for the interleaved A/B benchmarks under bench/micro: CPU time (`process.cpuUsage`), not
 * wall time — on a shared machine a wall-clock slice also counts other processes' turns.
 */

/** Runs `fn(arg)` repeatedly for about `sliceMs` of this process's CPU time; `perPass` units per CPU second. */
export function cpuSlice(fn, arg, sliceMs, perPass) {
  let passes = 0;
  const c0 = process.cpuUsage();
  let us;
  do {
    fn(arg);
    passes++;
    const u = process.cpuUsage(c0);
    us = u.user + u.system;
  } while (us < sliceMs * 1e3);
  return (passes * perPass) / (us / 1e6);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
