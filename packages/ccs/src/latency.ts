import { performance } from 'node:perf_hooks';

/** `tickMs()`'s reading for the current tick; -1 when none was taken yet. */
let tickReading = -1;
const forgetTickReading = (): void => {
  tickReading = -1;
};

/**
 * Milliseconds on a monotonic clock with sub-millisecond resolution, for latencies only, read once
 * per tick of the event loop (and again once the tick's `nextTick` callbacks began). The client's
 * `Clock` (`Date.now()`) keeps scheduling; an ACK on loopback takes well under a millisecond and
 * `Date.now()` would round every one of them to 0 or 1, and it jumps with the wall clock. Once per
 * tick: the messages written in one tick reach the socket together, at its end, and the ACKs of one
 * socket read arrived together, before the first was parsed; a reading per message timed the
 * client's own work between them, at two clock calls per message (each ~55 ns and a heap number
 * in Node 20, about 2% of `CcsClient`'s CPU per message in bench/ccs-client.mjs).
 */
export function tickMs(): number {
  if (tickReading < 0) {
    tickReading = performance.now();
    process.nextTick(forgetTickReading);
  }
  return tickReading;
}

/** `tickStamp()` units per millisecond: 1/64 ms (~16 µs), finer than the histogram's first bound (0.1 ms). */
const STAMPS_PER_MS = 64;
/** Stamps wrap at 2^30 (every ~4.7 hours of the clock): always a small integer. */
const STAMP_MASK = 0x3fffffff;

/**
 * `tickMs()` as a small integer (1/64 ms units, wrapping every ~4.7 hours), for a message's record.
 * A field that holds fractional milliseconds keeps a number object of its own in every message
 * (V8 boxes a double held in an object's field): one more object per pending message for the
 * collector to copy, and one more memory access per ACK (bench/ANALYSIS.md, seventh pass).
 */
export function tickStamp(): number {
  return (tickMs() * STAMPS_PER_MS) & STAMP_MASK;
}

/** Milliseconds from stamp `from` to stamp `to` (default: this tick's), right for any span under the wrap. */
export function elapsedMs(from: number, to: number = tickStamp()): number {
  return ((to - from) & STAMP_MASK) / STAMPS_PER_MS;
}

/** Smallest bucket bound (ms). */
const FIRST_MS = 0.1;
/** Buckets per doubling: bounds grow by √2, so a percentile read from a bound is within 41 %. */
const PER_DOUBLING = 2;
/** 0.1 ms · √2^39 ≈ 74 s: the last finite bound; anything slower lands in +Inf. */
const FINITE = 40;

/** The upper bounds (ms) of the histogram's buckets, ascending (the last bucket, +Inf, is implicit). */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: FINITE }, (_, i) => Number((FIRST_MS * 2 ** (i / PER_DOUBLING)).toPrecision(4)));

/** A `stats()` view of the ACK-latency histogram. */
export interface LatencySnapshot {
  /** ACKs measured. */
  count: number;
  /** Sum of their latencies (ms). */
  sumMs: number;
  /** The slowest (ms, not rounded to a bucket: to the clock's 1/64 ms); 0 when none. */
  maxMs: number;
  /** Percentiles (ms): the upper bound of the bucket that holds the rank (capped at `maxMs`); 0 when none. */
  p50: number;
  p90: number;
  p99: number;
  /** Cumulative counts per bucket, as Prometheus wants them: `le` (ms, `Infinity` last) and how many were ≤ it. */
  buckets: Array<{ le: number; count: number }>;
}

/** The bucket of `ms` (see `LatencyHistogram.record`). */
function bucketOf(ms: number): number {
  // Bucket i holds (bound[i-1], bound[i]]: i = ceil(2·log2(ms / 0.1)), clamped.
  let i = ms <= FIRST_MS ? 0 : Math.ceil(PER_DOUBLING * Math.log2(ms / FIRST_MS) - 1e-9);
  if (i > FINITE) i = FINITE;
  // The bounds are rounded to 4 digits: a value just over its rounded bound moves up one.
  else if (i < FINITE && ms > (LATENCY_BOUNDS_MS[i] as number)) i++;
  return i;
}

/** Latencies below this many stamps (256 ms) have their bucket looked up rather than computed. */
const TABLED_STAMPS = 256 * STAMPS_PER_MS;
/**
 * `bucketOf(s / STAMPS_PER_MS)` for every stamp count `s` below {@link TABLED_STAMPS} (16 KiB for the
 * process). An ACK's latency is a whole number of stamps (`elapsedMs`), so recording it is one
 * load instead of a logarithm (a call out of optimised code) per ACK (bench/ANALYSIS.md, eighth pass).
 */
const BUCKET_OF_STAMPS = Uint8Array.from({ length: TABLED_STAMPS }, (_, s) => bucketOf(s / STAMPS_PER_MS));

/**
 * A fixed log-scale histogram: 40 buckets from 0.1 ms to ~74 s, √2 apart, plus +Inf. Recording
 * is a table lookup (a latency of whole stamps under 256 ms) or a logarithm, and an array
 * increment (no allocation, no sorting); percentiles are read from the bucket counts.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(FINITE + 1);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records one latency (ms). */
  record(ms: number): void {
    const stamps = ms * STAMPS_PER_MS;
    // `>>> 0` keeps a whole, non-negative count as it is (and changes anything else).
    const tabled = stamps >>> 0 === stamps && stamps < TABLED_STAMPS;
    const i = tabled ? (BUCKET_OF_STAMPS[stamps] as number) : bucketOf(ms);
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** How many were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The value at quantile `q` (0..1): the upper bound of its bucket, at most the maximum. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i <= FINITE; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return i < FINITE ? Math.min(LATENCY_BOUNDS_MS[i] as number, this.#max) : this.#max;
    }
    return this.#max;
  }

  /** A snapshot for `stats()`. */
  snapshot(): LatencySnapshot {
    const buckets: Array<{ le: number; count: number }> = [];
    let cumulative = 0;
    for (let i = 0; i <= FINITE; i++) {
      cumulative += this.#counts[i] as number;
      buckets.push({ le: i < FINITE ? (LATENCY_BOUNDS_MS[i] as number) : Infinity, count: cumulative });
    }
    return { count: this.#count, sumMs: this.#sum, maxMs: this.#max, p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99), buckets };
  }
}
