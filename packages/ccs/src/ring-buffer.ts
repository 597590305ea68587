/**
 * A growable FIFO queue on a power-of-two ring: O(1) `push` and `shift`, no per-element
 * allocation, no `Array.prototype.shift` (which is O(n) once an array leaves V8's fast mode). The
 * upstream iterator buffers messages here.
 */
export class RingBuffer<T> {
  #buf: Array<T | undefined>;
  #head = 0;
  #length = 0;
  #mask: number;
  readonly #initialCapacity: number;

  constructor(initialCapacity = 16) {
    let cap = 4;
    while (cap < initialCapacity) cap *= 2;
    this.#initialCapacity = cap;
    this.#buf = new Array<T | undefined>(cap);
    this.#mask = cap - 1;
  }

  /** Number of elements. */
  get length(): number {
    return this.#length;
  }

  /** Current storage size (grows by doubling; never shrinks). */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Appends at the back. */
  push(value: T): void {
    if (this.#length === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#length) & this.#mask] = value;
    this.#length++;
  }

  /** Removes and returns the front element. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const value = this.#buf[this.#head];
    this.#buf[this.#head] = undefined; // let it be collected
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return value;
  }

  /** The front element, not removed. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#buf[this.#head];
  }

  /** Removes everything, returning the elements front to back. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#length > 0) out.push(this.shift() as T);
    return out;
  }

  /**
   * Removes everything and lets go of the grown storage: back to the initial capacity. `drain`
   * keeps the storage (a queue that filled once is likely to fill again); this is for an owner
   * that is done with the queue, whose grown array would otherwise outlive its use (the outbox's
   * spare records, 16 384 slots, 128 KiB at the default limits).
   */
  clear(): void {
    this.#buf = new Array<T | undefined>(this.#initialCapacity);
    this.#mask = this.#initialCapacity - 1;
    this.#head = 0;
    this.#length = 0;
  }

  /** Front-to-back iteration (does not remove). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#buf[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const old = this.#buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#buf = next;
    this.#head = 0;
    this.#mask = next.length - 1;
  }
}
