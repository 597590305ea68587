import type { ReceiptMessage } from '@ccs-xmpp/stanza';
import type { Clock, ClockTimer, KeepAlive } from './clock.js';
import { ccsChannels } from './diagnostics.js';
import { ReceiptError } from './errors.js';
import type { Counters } from './stats.js';
import { TimerHeap } from './timer-heap.js';

const noop = (): void => {};

/**
 * One awaited delivery receipt: from `send(…, { receipt: true })` until the receipt, its timeout,
 * the cap, `close()`, or the send's own failure. A record of its own (not a field of the message's
 * pending record), so a send that asks for no receipt costs nothing here.
 */
export class ReceiptWaiter {
  /** The `message_id` the receipt's `original_message_id` names. */
  readonly id: string;
  /** Its timeout once the message is ACKed (0: none). */
  readonly timeoutMs: number;
  /** Position in the deadline heap (-1: none). */
  slot = -1;
  /** The caller's promise, made when the message is ACKed (the caller has no result to hold it before). */
  promise: Promise<ReceiptMessage> | undefined = undefined;
  resolve: (receipt: ReceiptMessage) => void = noop;
  reject: (error: Error) => void = noop;
  /** Settled before the ACK was seen: the receipt (it may overtake the ACK on another connection) or the error. */
  early: ReceiptMessage | Error | undefined = undefined;

  constructor(id: string, timeoutMs: number) {
    this.id = id;
    this.timeoutMs = timeoutMs;
  }
}

const setSlot = (w: ReceiptWaiter, slot: number): void => {
  w.slot = slot;
};

/** Settings of {@link ReceiptWaiters} (from the client's options). */
export interface ReceiptWaitersOptions {
  /** Most waits open at once; a new one past it gives up the oldest (`CCS_ERR_RECEIPT_OVERFLOW`). */
  max: number;
  clock: Clock;
  keepAlive: KeepAlive;
  counters: Counters;
}

/**
 * The receipts `send(…, { receipt: true })` waits for, by `message_id` (a `Map`, so the oldest wait
 * is the first entry; empty when nobody asks), with one clock timer for the earliest deadline.
 * A wait is registered when the message is accepted (a receipt can overtake its ACK when they come
 * on different connections) and its promise is handed out with the ACK; its timeout runs from then.
 * Every promise handed out is marked handled: a caller who never looks at it is not crashed by an
 * unhandled rejection when the client closes.
 */
export class ReceiptWaiters {
  readonly #o: ReceiptWaitersOptions;
  readonly #waiting = new Map<string, ReceiptWaiter>();
  readonly #deadlines = new TimerHeap<ReceiptWaiter>(setSlot);
  #timer: ClockTimer | undefined;
  #timerAt = Infinity;

  constructor(options: ReceiptWaitersOptions) {
    this.#o = options;
  }

  /** Gauge: receipts awaited (messages not yet ACKed included). */
  get size(): number {
    return this.#waiting.size;
  }

  /** Whether a receipt for `id` is awaited. */
  has(id: string): boolean {
    return this.#waiting.has(id);
  }

  /** Starts waiting for the receipt of `id` (accepted, not yet ACKed). At the cap, the oldest wait is given up first. */
  add(id: string, timeoutMs: number): ReceiptWaiter {
    if (this.#waiting.size >= this.#o.max) {
      const oldest = this.#waiting.values().next().value as ReceiptWaiter;
      this.#o.counters.receiptsEvicted++;
      this.#fail(oldest, new ReceiptError('CCS_ERR_RECEIPT_OVERFLOW', oldest.id, this.#o.max));
    }
    const w = new ReceiptWaiter(id, timeoutMs);
    this.#waiting.set(id, w);
    return w;
  }

  /** The message was ACKed: the caller's promise, settled already when the receipt (or an error) came first. */
  acked(w: ReceiptWaiter): Promise<ReceiptMessage> {
    const early = w.early;
    if (early === undefined) {
      w.promise = new Promise<ReceiptMessage>((resolve, reject) => {
        w.resolve = resolve;
        w.reject = reject;
      });
      if (w.timeoutMs > 0) {
        this.#deadlines.push(this.#o.clock.now() + w.timeoutMs, w);
        this.#arm();
      }
    } else {
      w.early = undefined;
      w.promise = early instanceof Error ? Promise.reject(early) : Promise.resolve(early);
    }
    w.promise.catch(noop);
    return w.promise;
  }

  /** The send itself failed (NACK, timeout, abort, close, refused): no result, no promise, and no receipt will come. */
  dropped(w: ReceiptWaiter): void {
    if (this.#waiting.get(w.id) === w) this.#remove(w);
  }

  /** A receipt arrived (on any connection, duplicates included): settles its wait, if any. True when one waited. */
  arrived(msg: ReceiptMessage): boolean {
    const id = msg.originalMessageId;
    const w = id === undefined ? undefined : this.#waiting.get(id);
    if (w === undefined) return false;
    this.#remove(w);
    if (w.promise === undefined) w.early = msg;
    else w.resolve(msg);
    return true;
  }

  /** Rejects every wait with `err` (the client closed or was destroyed). */
  failAll(err: Error): void {
    for (const w of [...this.#waiting.values()]) this.#fail(w, err);
    this.#disarm();
  }

  /** Re-applies the keep-alive rule to the timer (`ref()`/`unref()`). */
  refreshKeepAlive(): void {
    if (this.#timer !== undefined) this.#o.keepAlive.apply(this.#timer);
  }

  #fail(w: ReceiptWaiter, err: Error): void {
    this.#remove(w);
    if (ccsChannels.receiptFailed.hasSubscribers) ccsChannels.receiptFailed.publish({ messageId: w.id, error: err });
    if (w.promise === undefined) w.early = err;
    else w.reject(err);
  }

  #remove(w: ReceiptWaiter): void {
    this.#waiting.delete(w.id);
    if (w.slot >= 0) {
      this.#deadlines.removeAt(w.slot);
      // Nothing left to time: an armed timer would hold the process for nothing.
      if (this.#deadlines.length === 0) this.#disarm();
    }
  }

  #arm(): void {
    const next = this.#deadlines.peekTime();
    if (next >= this.#timerAt) return;
    this.#disarm();
    if (next === Infinity) return;
    this.#timerAt = next;
    // The real clock clamps a delay past Node's timer limit; an early wake finds nothing due and re-arms.
    const delay = Math.max(0, next - this.#o.clock.now());
    this.#timer = this.#o.keepAlive.apply(this.#o.clock.setTimer(() => this.#onTimer(), delay));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#o.clock.now();
    for (let w = this.#deadlines.popDue(now); w !== undefined; w = this.#deadlines.popDue(now)) {
      this.#o.counters.receiptTimeouts++;
      this.#fail(w, new ReceiptError('CCS_ERR_RECEIPT_TIMEOUT', w.id, w.timeoutMs));
    }
    this.#arm();
  }
}
