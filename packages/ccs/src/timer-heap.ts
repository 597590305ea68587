/**
 * A binary min-heap of (time, item) pairs: the client's single sorted timer for per-call timeouts,
 * retry backoffs and rate-limit delays. One `setTimeout` is armed for the earliest entry, instead
 * of a timer per message. Entries are not removed when their item settles early: the owner checks
 * the item when it pops (lazy deletion), which keeps `push` and `pop` O(log n) and allocation-free
 * beyond the arrays.
 */
export class TimerHeap<T> {
  #times: number[] = [];
  #items: T[] = [];

  /** Number of entries (including ones whose items have since settled). */
  get size(): number {
    return this.#times.length;
  }

  /** The earliest time, or `Infinity` when empty. */
  peekTime(): number {
    return this.#times.length === 0 ? Infinity : (this.#times[0] as number);
  }

  /** Adds an entry. */
  push(time: number, item: T): void {
    const times = this.#times;
    const items = this.#items;
    let i = times.length;
    times.push(time);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      items[i] = items[parent] as T;
      i = parent;
    }
    times[i] = time;
    items[i] = item;
  }

  /** Removes and returns the earliest item whose time is `<= now`, or `undefined`. */
  popDue(now: number): T | undefined {
    if (this.#times.length === 0 || (this.#times[0] as number) > now) return undefined;
    return this.pop();
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const times = this.#times;
    const items = this.#items;
    const n = times.length;
    if (n === 0) return undefined;
    const top = items[0] as T;
    const lastTime = times.pop() as number;
    const lastItem = items.pop() as T;
    if (n > 1) {
      const size = n - 1;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && (times[r] as number) < (times[l] as number) ? r : l;
        if ((times[c] as number) >= lastTime) break;
        times[i] = times[c] as number;
        items[i] = items[c] as T;
        i = c;
      }
      times[i] = lastTime;
      items[i] = lastItem;
    }
    return top;
  }

  /** Every item, in no particular order (including ones whose items have since settled). */
  items(): readonly T[] {
    return this.#items;
  }

  /** Drops every entry. */
  clear(): void {
    this.#times = [];
    this.#items = [];
  }
}
