/**
 * A binary min-heap of (time, item) pairs: the outbox's sorted timers for per-call timeouts and
 * retry delays, behind one clock timer armed for the earliest entry instead of a timer per message.
 * Each item's position is written back through `setSlot`, so an item that settles early is removed
 * at once in O(log n): a settled message is not kept reachable until its deadline (300 000 ACKed
 * sends with a 120 s timeout once held 254 MB that way).
 */
export class TimerHeap<T> {
  #times: number[] = [];
  #items: T[] = [];
  readonly #setSlot: (item: T, slot: number) => void;

  /** @param setSlot records an item's position (`-1` once it left the heap). */
  constructor(setSlot: (item: T, slot: number) => void) {
    this.#setSlot = setSlot;
  }

  /** Number of entries. */
  get length(): number {
    return this.#times.length;
  }

  /** The earliest time, or `Infinity` when empty. */
  peekTime(): number {
    return this.#times.length === 0 ? Infinity : (this.#times[0] as number);
  }

  /** Adds an entry. */
  push(time: number, item: T): void {
    this.#times.push(time);
    this.#items.push(item);
    this.#up(this.#times.length - 1, time, item);
  }

  /** Removes and returns the earliest item whose time is `<= now`, or `undefined`. */
  popDue(now: number): T | undefined {
    if (this.#times.length === 0 || (this.#times[0] as number) > now) return undefined;
    return this.pop();
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    if (this.#times.length === 0) return undefined;
    const top = this.#items[0] as T;
    this.removeAt(0);
    return top;
  }

  /** Removes the entry at `slot` (as given to `setSlot`). */
  removeAt(slot: number): void {
    const times = this.#times;
    const items = this.#items;
    if (slot < 0 || slot >= times.length) return;
    this.#setSlot(items[slot] as T, -1);
    const lastTime = times.pop() as number;
    const lastItem = items.pop() as T;
    if (slot === times.length) return;
    // Put the last entry in the hole and let it find its place, down or up.
    const parent = (slot - 1) >> 1;
    if (slot > 0 && (times[parent] as number) > lastTime) this.#up(slot, lastTime, lastItem);
    else this.#down(slot, lastTime, lastItem);
  }

  /** Every item, in no particular order. */
  items(): readonly T[] {
    return this.#items;
  }

  /** Drops every entry. */
  clear(): void {
    for (const item of this.#items) this.#setSlot(item, -1);
    this.#times = [];
    this.#items = [];
  }

  #up(i: number, time: number, item: T): void {
    const times = this.#times;
    const items = this.#items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      items[i] = items[parent] as T;
      this.#setSlot(items[i] as T, i);
      i = parent;
    }
    times[i] = time;
    items[i] = item;
    this.#setSlot(item, i);
  }

  #down(i: number, time: number, item: T): void {
    const times = this.#times;
    const items = this.#items;
    const size = times.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && (times[r] as number) < (times[l] as number) ? r : l;
      if ((times[c] as number) >= time) break;
      times[i] = times[c] as number;
      items[i] = items[c] as T;
      this.#setSlot(items[i] as T, i);
      i = c;
    }
    times[i] = time;
    items[i] = item;
    this.#setSlot(item, i);
  }
}
