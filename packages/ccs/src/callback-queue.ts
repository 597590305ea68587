import type { CcsError } from './errors.js';
import type { SendCallback, SendResult } from './outbound.js';

/**
 * An application callback or listener that threw, its error re-thrown on its own from
 * `process.nextTick` (an uncaught exception), so that the client's processing it ran inside stays
 * whole (see {@link CallbackQueue}, and `CcsClient`'s event emission).
 */
export function throwUncaught(err: unknown): void {
  process.nextTick(rethrow, err);
}

/** Named, so no closure is made per error. */
function rethrow(err: unknown): never {
  throw err;
}

/** The ring's slots kept between batches (two arrays of them: 64 KiB); a larger ring is given back once drained. */
const KEEP_SLOTS = 4096;

/**
 * The settlements of `dispatch()`'s callbacks, waiting to be run: a reused ring of callback/outcome
 * pairs (two parallel arrays, grown by doubling, never per message) and one `queueMicrotask` per
 * burst with a pre-bound function. The outbox settles a message inside `dispatch()` (an invalid
 * one), inside an ACK or NACK being processed, inside `close()`; a callback run right there could
 * re-enter the client halfway through a transition. Queued, every callback runs once the current
 * synchronous work (a whole socket read) is done — when a promise's reactions would run — in
 * settlement order, with the client's state complete.
 *
 * A callback that throws does not stop the others: the rest of the batch runs, and the error is
 * re-thrown from `process.nextTick`, on its own, where it surfaces as an uncaught exception as an
 * `EventEmitter` listener's throw would (the process dies unless something handles
 * `uncaughtException`); the client is untouched by it.
 */
export class CallbackQueue {
  // Set by #reset, from the constructor on.
  #fns!: Array<SendCallback | undefined>;
  #outcomes!: Array<SendResult | Error | undefined>;
  #head = 0;
  #length = 0;
  #mask!: number;
  #scheduled = false;
  readonly #runNow = (): void => {
    this.#run();
  };

  readonly #initial: number;

  constructor(initialCapacity = 64) {
    let cap = 4;
    while (cap < initialCapacity) cap *= 2;
    this.#initial = cap;
    this.#reset(cap);
  }

  /** Callbacks waiting to run. */
  get length(): number {
    return this.#length;
  }

  /** Queues `fn(outcome)` to run after the current synchronous work; never calls it now. */
  push(fn: SendCallback, outcome: SendResult | Error): void {
    if (this.#length === this.#fns.length) this.#grow();
    const i = (this.#head + this.#length) & this.#mask;
    this.#fns[i] = fn;
    this.#outcomes[i] = outcome;
    this.#length++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#runNow);
    }
  }

  /** Runs every queued callback, those queued meanwhile (by a callback) included, in order. */
  #run(): void {
    while (this.#length > 0) {
      // The fields are read each time round: a callback that queued more may have grown the arrays.
      const i = this.#head;
      const fn = this.#fns[i] as SendCallback;
      const outcome = this.#outcomes[i];
      this.#fns[i] = undefined;
      this.#outcomes[i] = undefined;
      this.#head = (i + 1) & this.#mask;
      this.#length--;
      try {
        if (outcome instanceof Error) fn(outcome as CcsError, undefined);
        else fn(undefined, outcome as SendResult);
      } catch (err) {
        throwUncaught(err);
      }
    }
    this.#scheduled = false;
    // A storm (a close() failing ten thousand queued messages, a burst of timeouts) grew the ring;
    // a busy client's batches are a read's ACKs, tens to hundreds. Past KEEP_SLOTS the storage goes
    // back, so the client does not hold the storm's arrays (16 384 slots each: 256 KiB) for good.
    if (this.#fns.length > KEEP_SLOTS) this.#reset(this.#initial);
  }

  /** Slots the ring has (for tests: what it holds on to between batches). */
  get capacity(): number {
    return this.#fns.length;
  }

  #reset(cap: number): void {
    this.#fns = new Array<SendCallback | undefined>(cap).fill(undefined);
    this.#outcomes = new Array<SendResult | Error | undefined>(cap).fill(undefined);
    this.#head = 0;
    this.#mask = cap - 1;
  }

  #grow(): void {
    const cap = this.#fns.length;
    const fns = new Array<SendCallback | undefined>(cap * 2).fill(undefined);
    const outcomes = new Array<SendResult | Error | undefined>(cap * 2).fill(undefined);
    for (let k = 0; k < this.#length; k++) {
      const j = (this.#head + k) & this.#mask;
      fns[k] = this.#fns[j];
      outcomes[k] = this.#outcomes[j];
    }
    this.#fns = fns;
    this.#outcomes = outcomes;
    this.#head = 0;
    this.#mask = cap * 2 - 1;
  }
}
