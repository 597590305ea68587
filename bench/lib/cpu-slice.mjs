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

/** CPU µs of one call of `fn(arg)`. */
function cpuOnce(fn, arg) {
  const c0 = process.cpuUsage();
  fn(arg);
  const u = process.cpuUsage(c0);
  return u.user + u.system;
}

/**
 * Single calls of `a(arg)` and `b(arg)` back to back, their order alternating, each timed by CPU
 * time, for about `seconds` of CPU: per pair, b's time over a's (a's rate over b's), sorted. Two
 * calls tens of milliseconds apart meet the same load, where slices a second apart do not
 * (bench/ANALYSIS.md, eleventh pass): the median of many pairs resolves a percent or two on a
 * shared machine.
 */
export function pairedRatios(a, b, arg, seconds) {
  const ratios = [];
  const c0 = process.cpuUsage();
  for (let k = 0; ; k++) {
    let ta;
    let tb;
    if (k % 2 === 0) {
      ta = cpuOnce(a, arg);
      tb = cpuOnce(b, arg);
    } else {
      tb = cpuOnce(b, arg);
      ta = cpuOnce(a, arg);
    }
    ratios.push(tb / ta);
    const u = process.cpuUsage(c0);
    if (u.user + u.system > seconds * 1e6) break;
  }
  return ratios.sort((x, y) => x - y);
}

/** The `p` quantile (0–1) of sorted numbers, nearest rank. */
export function quantile(sorted, p) {
  return sorted[Math.round(p * (sorted.length - 1))];
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
