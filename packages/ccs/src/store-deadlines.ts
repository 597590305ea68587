import type { Clock, ClockTimer, KeepAlive } from './clock.js';
import { TimerHeap } from './timer-heap.js';

/** One bounded wait for a store's answer. */
export interface StoreWait {
  /** Called once when the deadline passes first. */
  readonly expired: () => void;
  /** The store answered (or the wait was dropped): the deadline no longer applies. */
  answered: boolean;
  /** Position in the deadline heap (-1: none). */
  slot: number;
}

const setSlot = (w: StoreWait, slot: number): void => {
  w.slot = slot;
};

/**
 * The bounded waits of upstream messages for a store that answers with a promise: a dedup store's
 * `claim()` and the outbox store's `flush()` before an ACK. A store that never settles held its
 * message un-ACKed for good; each wait now ends at `timeoutMs` (the owner reports it and leaves the
 * message un-ACKed, so CCS delivers it again).
 *
 * The waits sit in a {@link TimerHeap} behind one clock timer for the earliest, as the outbox's
 * timeouts and the receipt waiters do; an answered wait leaves the heap at once, so it holds what is
 * outstanding, not what passed. Only the promise paths use it: the memory stores answer
 * synchronously and never get here. Waiting is work: the timer keeps the process alive unless the
 * embedder `unref()`ed the client.
 */
export class StoreDeadlines {
  readonly #clock: Clock;
  readonly #keepAlive: KeepAlive;
  /** 0: no limit. */
  readonly timeoutMs: number;
  readonly #waits = new TimerHeap<StoreWait>(setSlot);
  #timer: ClockTimer | undefined = undefined;
  #timerAt = Infinity;
  /** Cleared for good (the client closed): a wait that starts after it gets no deadline and no timer. */
  #closed = false;
  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (let w = this.#waits.popDue(now); w !== undefined; w = this.#waits.popDue(now)) {
      w.answered = true;
      w.expired();
    }
    this.#arm();
  };

  constructor(clock: Clock, keepAlive: KeepAlive, timeoutMs: number) {
    this.#clock = clock;
    this.#keepAlive = keepAlive;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Starts a wait; `expired` runs once if {@link answer} is not called within the timeout.
   * `undefined` with no limit, and once {@link clear}ed: a flush or a claim that begins after the
   * client closed (a handler that outlived `close({ timeoutMs })`, a receipt during the last
   * connections' close) armed a ref'd timer that kept the closed client's process alive for up to
   * `timeoutMs`, and reported a timeout after the close.
   */
  start(expired: () => void): StoreWait | undefined {
    if (this.timeoutMs === 0 || this.#closed) return undefined;
    const w: StoreWait = { expired, answered: false, slot: -1 };
    this.#waits.push(this.#clock.now() + this.timeoutMs, w);
    this.#arm();
    return w;
  }

  /** The store answered: true when the wait had not expired (the answer is still wanted). */
  answer(w: StoreWait | undefined): boolean {
    if (w === undefined) return true;
    if (w.answered) return false;
    w.answered = true;
    this.#waits.removeAt(w.slot);
    // Nothing left to time: an armed timer would hold the process for nothing.
    if (this.#waits.length === 0) this.#disarm();
    return true;
  }

  /** Drops every wait without calling it, and bounds no later one (the client closed). */
  clear(): void {
    this.#closed = true;
    for (let w = this.#waits.pop(); w !== undefined; w = this.#waits.pop()) w.answered = true;
    this.#disarm();
  }

  /** Re-applies the keep-alive rule (the embedder called `ref()`/`unref()`). */
  refreshKeepAlive(): void {
    if (this.#timer !== undefined) this.#keepAlive.apply(this.#timer, this.#keepAlive.embedderRef);
  }

  #arm(): void {
    const next = this.#waits.peekTime();
    if (next >= this.#timerAt) return;
    this.#disarm();
    if (next === Infinity) return;
    this.#timerAt = next;
    this.#timer = this.#keepAlive.apply(this.#clock.setTimer(this.#fire, Math.max(0, next - this.#clock.now())), this.#keepAlive.embedderRef);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
