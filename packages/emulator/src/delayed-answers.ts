/** A delayed answer: the stanza, when it is due, and the receipt it triggers once written. */
export interface Owed {
  due: number;
  stanza: string | Buffer;
  receiptFor: string | undefined;
  receiptToken: string;
}

/**
 * Answers held back by the `ackDelayMs` fault, in due order (one delay per connection at a time,
 * so appending keeps them sorted): an array with a moving head, reset whenever it empties.
 */
export class DelayedAnswers {
  #owed: Owed[] = [];
  #head = 0;

  /** Answers still held. */
  get size(): number {
    return this.#owed.length - this.#head;
  }

  hold(due: number, stanza: string | Buffer, receiptFor: string | undefined, receiptToken: string): void {
    this.#owed.push({ due, stanza, receiptFor, receiptToken });
  }

  /** Hands every answer due at `now` to `write`, in order. */
  release(now: number, write: (o: Owed) => void): void {
    const owed = this.#owed;
    while (this.#head < owed.length) {
      const o = owed[this.#head] as Owed;
      if (o.due > now) break;
      this.#head++;
      write(o);
    }
    if (this.#head === owed.length) this.clear();
  }

  clear(): void {
    this.#owed = [];
    this.#head = 0;
  }
}
