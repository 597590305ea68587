// A fake Clock for the outbox model: time moves only when the test says so, and the timers fire
// in time order while it does. It records whether each pending timer holds the process (ref).
import type { Clock, ClockTimer } from '../../src/clock.js';

export class FakeTimer implements ClockTimer {
  refed = true;
  cleared = false;
  constructor(readonly at: number, readonly callback: () => void, readonly seq: number) {}
  ref(): this {
    this.refed = true;
    return this;
  }
  unref(): this {
    this.refed = false;
    return this;
  }
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly timers = new Set<FakeTimer>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): FakeTimer {
    const t = new FakeTimer(this.#now + Math.max(0, delayMs), callback, this.#seq++);
    this.timers.add(t);
    return t;
  }

  clearTimer(timer: ClockTimer): void {
    const t = timer as FakeTimer;
    t.cleared = true;
    this.timers.delete(t);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.timers) if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (next === undefined) break;
      this.timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = end;
  }
}
