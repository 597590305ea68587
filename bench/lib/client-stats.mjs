/**
 * The statistics of bench/ccs-client.mjs, shared with bench/report.mjs (which recomputes them from the measurements a
 * results file keeps, so that older files are read the same way). Pure functions of the numbers given.
 *
 * Why a trimmed mean and not the median (bench/ANALYSIS.md, fifteenth pass, "the client benchmark's noise"): the
 * machine's speed flickers in 0.1–1 s spells that slow every process by up to 1.7×, each measured window (0.1–0.3 s)
 * catches a different share of them, and a canary timed around the window says little about the window itself (before
 * and after correlate at r = 0.25), so no per-round filter keeps enough rounds (0–3 of 7 in the final runs). Every round
 * is then a noisy draw of the same ratio, and over 7 rounds the mean of the middle five (in logs) moves less between
 * runs than the median of all seven (30 rows of two runs of the same code: mean |run 1 − run 2| 5.8 points against
 * 6.8, the worst row 27 against 44), while one stray round at either end still cannot move it.
 */

/** The p-quantile (0…1) of the numbers among `xs`, interpolated between ranks; NaN when there are none. */
export function quantile(xs, p) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const at = (s.length - 1) * p;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** Median and interquartile range: `{ median, q1, q3 }`. */
export const spread = (xs) => ({ median: quantile(xs, 0.5), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) });

/**
 * Per round, `f(r) / f(b)` where `b` is the measurement of `base` in `r`'s round (NaN when that round has none): the
 * contenders of a round ran back to back.
 */
export const sameRound = (rs, base, f) => rs.map((r) => {
  const b = base.find((x) => x.round === r.round);
  return b === undefined ? NaN : f(r) / f(b);
});

/** The fewest rounds {@link trimmedRatio} gives a figure for: with fewer, dropping an end each side leaves too little. */
export const MIN_TRIMMED_ROUNDS = 5;

/**
 * The judged figure of a row: the geometric mean of the per-round ratios without the lowest and the highest round.
 * Returns `{ value, rounds, kept }` — `rounds` the ratios that were numbers, `kept` those the mean rests on — and
 * `value` NaN when fewer than {@link MIN_TRIMMED_ROUNDS} rounds gave a ratio (`tooFew: true`): a report then says so
 * rather than print a number.
 */
export function trimmedRatio(ratios, minRounds = MIN_TRIMMED_ROUNDS) {
  const logs = ratios.filter((x) => typeof x === 'number' && Number.isFinite(x) && x > 0).map(Math.log).sort((a, b) => a - b);
  if (logs.length < minRounds) return { value: NaN, rounds: logs.length, kept: 0, tooFew: true };
  const kept = logs.slice(1, -1);
  return { value: Math.exp(kept.reduce((a, b) => a + b, 0) / kept.length), rounds: logs.length, kept: kept.length };
}


/**
 * A process's figures from its timed runs (bench/lib/client-worker.mjs): the median msgs/s and the median CPU per message
 * of the runs, each on its own. The median, not the total over all runs, so that a run caught in a slow spell does not
 * weigh by its length.
 */
export function ofTimedRuns(runs) {
  return { msgsPerSec: median(runs.map((r) => r.msgsPerSec)), cpuUsPerMsg: median(runs.map((r) => r.cpuUsPerMsg)) };
}
