/**
 * A FIFO queue over an array with a moving head (STYLE "ring buffers for queues"): `shift` is O(1)
 * instead of `Array.prototype.shift`'s O(n); the consumed prefix is dropped once it is half the array.
 */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Appends one item. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts these items, in this order, before everything queued (rare: a connection closed). */
  prepend(items: readonly T[]): void {
    this.#items = items.concat(this.#items.slice(this.#head));
    this.#head = 0;
  }

  /** Items in order (a copy). */
  toArray(): T[] {
    return this.#items.slice(this.#head);
  }
}
