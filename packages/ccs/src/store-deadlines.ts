import type { Clock, ClockTimer, KeepAlive } from './clock.js';

/** One bounded wait for a store's answer. */
export interface StoreWait {
  /** When it gives up (clock ms). */
  readonly deadline: number;
  /** Called once when the deadline passes first. */
  readonly expired: () => void;
  /** The store answered (or the wait was dropped): the deadline no longer applies. */
  answered: boolean;
}

/**
 * The bounded waits of upstream messages for a store that answers with a promise: a dedup store's
 * `claim()` and the outbox store's `flush()` before an ACK. A store that never settles held its
 * message un-ACKed for good; each wait now ends at `timeoutMs` (the owner reports it and leaves the
 * message un-ACKed, so CCS delivers it again).
 *
 * Every wait has the same timeout, so they expire in the order they began: a FIFO with one clock
 * timer for the oldest, and waits answered at its head dropped at once (a store answers mostly in
 * order), so it holds about what is outstanding, not what passed. Only the promise paths use it:
 * the memory stores answer synchronously and never get here. Waiting is work: the timer keeps the
 * process alive unless the embedder `unref()`ed the client.
 */
export class StoreDeadlines {
  readonly #clock: Clock;
  readonly #keepAlive: KeepAlive;
  /** 0: no limit. */
  readonly timeoutMs: number;
  #waits: StoreWait[] = [];
  #head = 0;
  #timer: ClockTimer | undefined = undefined;
  #armedFor = 0;
  /** Cleared for good (the client closed): a wait that starts after it gets no deadline and no timer. */
  #closed = false;
  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.#head < this.#waits.length) {
      const w = this.#waits[this.#head] as StoreWait;
      if (!w.answered && w.deadline > now) break;
      this.#head++;
      if (!w.answered) {
        w.answered = true;
        w.expired();
      }
    }
    this.#compact();
    this.#arm();
  };

  constructor(clock: Clock, keepAlive: KeepAlive, timeoutMs: number) {
    this.#clock = clock;
    this.#keepAlive = keepAlive;
    this.timeoutMs = timeoutMs;
  }

  /** Waits currently held (answered ones not yet dropped included). */
  get size(): number {
    return this.#waits.length - this.#head;
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
    const w: StoreWait = { deadline: this.#clock.now() + this.timeoutMs, expired, answered: false };
    this.#waits.push(w);
    if (this.#timer === undefined) this.#arm();
    return w;
  }

  /** The store answered: true when the wait had not expired (the answer is still wanted). */
  answer(w: StoreWait | undefined): boolean {
    if (w === undefined) return true;
    if (w.answered) return false;
    w.answered = true;
    if (this.#waits[this.#head] === w) {
      while (this.#head < this.#waits.length && (this.#waits[this.#head] as StoreWait).answered) this.#head++;
      this.#compact();
      if (this.#head === this.#waits.length) this.#disarm();
    }
    return true;
  }

  /** Drops every wait without calling it, and bounds no later one (the client closed). */
  clear(): void {
    this.#closed = true;
    for (let i = this.#head; i < this.#waits.length; i++) (this.#waits[i] as StoreWait).answered = true;
    this.#waits = [];
    this.#head = 0;
    this.#disarm();
  }

  /** Re-applies the keep-alive rule (the embedder called `ref()`/`unref()`). */
  refreshKeepAlive(): void {
    if (this.#timer !== undefined) this.#keepAlive.apply(this.#timer, this.#keepAlive.embedderRef);
  }

  #compact(): void {
    if (this.#head === this.#waits.length) {
      this.#waits = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#waits.length) {
      this.#waits = this.#waits.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(): void {
    const first = this.#waits[this.#head];
    if (first === undefined) return;
    if (this.#timer !== undefined && this.#armedFor <= first.deadline) return;
    this.#disarm();
    this.#armedFor = first.deadline;
    this.#timer = this.#keepAlive.apply(this.#clock.setTimer(this.#fire, Math.max(0, first.deadline - this.#clock.now())), this.#keepAlive.embedderRef);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }
}
