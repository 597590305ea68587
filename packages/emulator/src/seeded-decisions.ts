/**
 * Chance decisions that depend only on the seed and the message they are about, never on timing
 * or on which connection a message happened to take: `--seed N` then reproduces a run's faults
 * whatever the scheduler does. Each decision is a hash of (seed, kind, key, attempt) mapped to
 * [0, 1), where `key` names the message (sender and `message_id`) and `attempt` counts how many
 * times this decision already fired for it — so a message NACKed `SERVICE_UNAVAILABLE` gets a
 * fresh, equally reproducible draw when it is retried, and is not refused forever.
 *
 * Memory: only keys whose decision fired are remembered (with their count), at most `maxKeys`,
 * the oldest forgotten first; a forgotten key draws as if it had never fired.
 */
export class SeededDecisions {
  readonly #seed: number;
  readonly #maxKeys: number;
  readonly #fired = new Map<string, number>();

  /** @param seed the emulator's seed; @param maxKeys most keys remembered (default 100 000). */
  constructor(seed: number, maxKeys = 100_000) {
    this.#seed = seed >>> 0;
    this.#maxKeys = Math.max(1, maxKeys);
  }

  /**
   * True with probability `p` for this (kind, key) at its current attempt. `p ≤ 0` is never and
   * `p ≥ 1` always (neither is remembered). Same seed, same sequence of calls per key → same answers.
   */
  chance(kind: string, key: string, p: number): boolean {
    if (!(p > 0)) return false;
    if (p >= 1) return true;
    const k = `${kind}\u0000${key}`;
    const attempt = this.#fired.get(k) ?? 0;
    if (hashUnit(this.#seed, k, attempt) >= p) return false;
    // Re-inserted so that Map order is "least recently fired first" for eviction.
    this.#fired.delete(k);
    this.#fired.set(k, attempt + 1);
    if (this.#fired.size > this.#maxKeys) this.#fired.delete(this.#fired.keys().next().value as string);
    return true;
  }

  /** Keys remembered (for tests of the memory bound). */
  get size(): number {
    return this.#fired.size;
  }
}

/**
 * A float in [0, 1) from (seed, text, n): FNV-1a over the UTF-16 code units of `text`, seeded,
 * then n mixed in and a murmur3 finaliser for avalanche. Not cryptographic; uniform enough for
 * "refuse 1% of messages" (the test checks the rate over 20 000 keys).
 */
export function hashUnit(seed: number, text: string, n: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Math.imul(n + 1, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
