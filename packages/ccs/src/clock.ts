/**
 * Time as the client sees it: read and scheduled through one small interface, so the outbox, the
 * retry policy and the reconnect loop run under a fake clock in tests (no sleeping, no sockets), and
 * `Date.now()` is read in exactly one place.
 */

/** A scheduled callback. Node's `Timeout` is one; a fake clock returns its own. */
export interface ClockTimer {
  /** Keep the process alive while this timer is pending (the default of a new timer). */
  ref(): unknown;
  /** Do not keep the process alive for this timer alone. */
  unref(): unknown;
}

/** A source of time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `callback` once after `delayMs`. The timer keeps the process alive (like `setTimeout`);
   * the caller `unref()`s it when it has no work that needs it (see {@link KeepAlive}).
   */
  setTimer(callback: () => void, delayMs: number): ClockTimer;
  /** Cancels a timer from `setTimer` (no-op when it already ran). */
  clearTimer(timer: ClockTimer): void;
}

/** Node's timer limit: a longer delay fires after 1 ms instead (with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock: `Date.now()` and `setTimeout`. A delay past the timer limit is clamped: the
 * owner wakes early, finds nothing due and arms again, instead of firing everything at once.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, Math.min(delayMs, MAX_TIMER_MS)),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * The `net.Socket` rule for timers, in one place: a timer keeps the process alive only while its
 * owner has work (connections up or being replaced, messages queued or pending, handlers running)
 * and the embedder has not opted out with `unref()`. A blanket `unref()` once let a client exit in
 * the middle of a reconnect with messages pending; a blanket `ref()` keeps an idle one alive.
 */
export class KeepAlive {
  #embedderRef = true;
  readonly #hasWork: () => boolean;

  /** @param hasWork whether the owner has work right now (read each time a timer is applied). */
  constructor(hasWork: () => boolean) {
    this.#hasWork = hasWork;
  }

  /** The embedder's choice (`client.ref()` / `client.unref()`). */
  set embedderRef(on: boolean) {
    this.#embedderRef = on;
  }

  get embedderRef(): boolean {
    return this.#embedderRef;
  }

  /** Whether timers should hold the process now. */
  get active(): boolean {
    return this.#embedderRef && this.#hasWork();
  }

  /** Refs or unrefs `timer` by the rule; returns it. */
  apply<T extends ClockTimer>(timer: T, active = this.active): T {
    if (active) timer.ref();
    else timer.unref();
    return timer;
  }
}
