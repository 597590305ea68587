// bench/lib/client-stats.mjs, the statistics bench/ccs-client.mjs and bench/report.mjs judge the client rows by: the
// trimmed per-round mean of a row's ratios (no figure when too few rounds gave one), the per-round pairing, and a
// process's figures from its timed runs.
import { pathToFileURL, fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const BENCH = fileURLToPath(new URL('../../../bench/lib/', import.meta.url));

interface Trimmed {
  value: number;
  rounds: number;
  kept: number;
  tooFew?: boolean;
}
interface Measurement {
  round: number;
  msgsPerSec: number;
}
interface StatsModule {
  MIN_TRIMMED_ROUNDS: number;
  median(xs: number[]): number;
  trimmedRatio(ratios: number[], minRounds?: number): Trimmed;
  sameRound(rs: Measurement[], base: Measurement[], f: (r: Measurement) => number): number[];
  ofTimedRuns(runs: Array<{ msgsPerSec: number; cpuUsPerMsg: number }>): { msgsPerSec: number; cpuUsPerMsg: number };
}
// bench/ is plain JavaScript outside this workspace: loaded by path, typed by the interface above.
const load = async (): Promise<StatsModule> => (await import(pathToFileURL(`${BENCH}client-stats.mjs`).href)) as StatsModule;
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

test('trimmedRatio is the geometric mean of the per-round ratios without the lowest and the highest round', async () => {
  const { trimmedRatio, median } = await load();
  const ratios = [0.4, 0.5, 0.55, 0.6, 0.7, 0.72, 1.5];
  const t = trimmedRatio(ratios);
  const expected = Math.exp([0.5, 0.55, 0.6, 0.7, 0.72].reduce((a, b) => a + Math.log(b), 0) / 5);
  assert.ok(close(t.value, expected), `${t.value} vs ${expected}`);
  assert.is(t.rounds, 7);
  assert.is(t.kept, 5);
  assert.is(t.tooFew, undefined);
  // Not the median: the middle rounds all count.
  assert.is(median(ratios), 0.6);
  assert.ok(!close(t.value, 0.6));
});

test('trimmedRatio is not moved by one stray round at either end', async () => {
  const { trimmedRatio } = await load();
  const base = [0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7];
  const low = trimmedRatio([0.01, ...base.slice(1)]).value;
  const high = trimmedRatio([...base.slice(0, -1), 50]).value;
  assert.ok(close(low, trimmedRatio(base).value));
  assert.ok(close(high, trimmedRatio(base).value));
});

test('trimmedRatio gives no figure when fewer than five rounds gave a ratio, and counts only the rounds that did', async () => {
  const { trimmedRatio, MIN_TRIMMED_ROUNDS } = await load();
  assert.is(MIN_TRIMMED_ROUNDS, 5);
  const four = trimmedRatio([0.6, 0.7, 0.8, 0.9]);
  assert.ok(Number.isNaN(four.value));
  assert.is(four.tooFew, true);
  assert.is(four.rounds, 4);
  assert.is(four.kept, 0);
  // Seven rounds, three without a ratio (a round whose trivial client did not run): four count, too few.
  const holes = trimmedRatio([0.6, NaN, 0.7, Number.POSITIVE_INFINITY, 0.8, 0, 0.9]);
  assert.is(holes.tooFew, true);
  assert.is(holes.rounds, 4);
  // Five is enough: three kept.
  const five = trimmedRatio([0.5, 0.6, 0.7, 0.8, 0.9]);
  assert.is(five.kept, 3);
  assert.ok(close(five.value, Math.exp((Math.log(0.6) + Math.log(0.7) + Math.log(0.8)) / 3)));
  assert.is(trimmedRatio([], 5).tooFew, true);
});

test('sameRound pairs each measurement with its own round\'s, not by position, and gives NaN for a round without one', async () => {
  const { sameRound } = await load();
  const rs = [{ round: 1, msgsPerSec: 300 }, { round: 2, msgsPerSec: 200 }, { round: 3, msgsPerSec: 100 }];
  const base = [{ round: 2, msgsPerSec: 400 }, { round: 1, msgsPerSec: 600 }];
  const out = sameRound(rs, base, (r) => r.msgsPerSec);
  assert.equal(out.slice(0, 2), [0.5, 0.5]);
  assert.ok(Number.isNaN(out[2]));
});

test('ofTimedRuns takes the median of the runs\' msgs/s and of their CPU per message, each on its own', async () => {
  const { ofTimedRuns } = await load();
  const runs = [
    { msgsPerSec: 400_000, cpuUsPerMsg: 2.0 },
    { msgsPerSec: 250_000, cpuUsPerMsg: 3.3 }, // caught in a slow spell
    { msgsPerSec: 410_000, cpuUsPerMsg: 2.1 },
  ];
  assert.equal(ofTimedRuns(runs), { msgsPerSec: 400_000, cpuUsPerMsg: 2.1 });
  assert.equal(ofTimedRuns([{ msgsPerSec: 5, cpuUsPerMsg: 7 }]), { msgsPerSec: 5, cpuUsPerMsg: 7 });
});

test.run();
