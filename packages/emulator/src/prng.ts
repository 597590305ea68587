/**
 * A small seeded PRNG (mulberry32): fault decisions must be reproducible from a seed, and
 * `Math.random` cannot be seeded. Quality is ample for "fail 3% of messages". Exported so that
 * programs driving the emulator (the demo) can make their own choices replayable from one seed.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p` (never for p ≤ 0, always for p ≥ 1, and then no draw is spent). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /** Eight hex digits. */
  hex(): string {
    return Math.floor(this.next() * 4294967296).toString(16).padStart(8, '0');
  }
}

/** Derives an independent seed for a sub-stream (one per connection) from the emulator's seed. */
export function deriveSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}
