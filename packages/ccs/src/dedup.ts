/**
 * A bounded "seen" set for upstream messages, keyed by (`from`, `message_id`): CCS resends an
 * upstream message until it is ACKed, on the next connection if need be, so the same message can
 * arrive twice. The window keeps the most recent `capacity` keys (insertion order; `Map` keeps it
 * for us), and forgets the oldest beyond that, so memory is bounded however long the client runs.
 *
 * Each entry carries a value (the client stores whether the handler has finished, and which
 * connections still wait for an ACK of a duplicate).
 */
export class DedupWindow<V> {
  readonly capacity: number;
  readonly #map = new Map<string, V>();
  readonly #evictable: (value: V) => boolean;

  /**
   * @param evictable which entries may be forgotten when the window is full (default: all). The
   *   client keeps entries whose handler is still running: forgetting one would let a resend run
   *   the handler a second time. The window then exceeds `capacity` by at most the number of
   *   handlers running at once.
   */
  constructor(capacity: number, evictable: (value: V) => boolean = () => true) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('dedup window capacity must be a positive integer');
    this.capacity = capacity;
    this.#evictable = evictable;
  }

  /** The key for a (from, message_id) pair; NUL cannot occur in either on the wire. */
  static key(from: string, messageId: string): string {
    return `${from}\u0000${messageId}`;
  }

  /** Number of keys remembered. */
  get size(): number {
    return this.#map.size;
  }

  /** The value stored for `key`, or `undefined` when it is not (or no longer) in the window. */
  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  /** True when `key` is in the window. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Remembers `key`, evicting the oldest key when the window is full. */
  add(key: string, value: V): void {
    if (this.#map.has(key)) {
      this.#map.set(key, value);
      return;
    }
    if (this.#map.size >= this.capacity) {
      // The oldest entry that may go; almost always the very first.
      for (const [k, v] of this.#map) {
        if (this.#evictable(v)) {
          this.#map.delete(k);
          break;
        }
      }
    }
    this.#map.set(key, value);
  }

  /** Forgets `key` (the handler failed, so a resend must be processed again). */
  delete(key: string): void {
    this.#map.delete(key);
  }
}
