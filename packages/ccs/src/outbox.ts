import { ValidationError, validateDownstream, type DeviceGroupResult, type NackError as StanzaNack } from '@ccs-xmpp/stanza';
import { AbortSignals } from './abort-signals.js';
import { CallbackQueue } from './callback-queue.js';
import { backoffDelay, JitterKind } from './backoff.js';
import type { Clock, ClockTimer, KeepAlive } from './clock.js';
import { ccsChannels } from './diagnostics.js';
import { AbortError, CcsError, DuplicateIdError, NackError, StoreError, TimeoutError, InvalidMessageError, quote } from './errors.js';
import { elapsedMs, tickStamp } from './latency.js';
import { LiveIds } from './live-ids.js';
import { RingBuffer } from './ring-buffer.js';
import { MemoryOutboxStore } from './memory-store.js';
import type { MessageIdGenerator } from './message-id.js';
import { Outbound, sendResult, type OutgoingMessage, type SendCallback, type SendResult } from './outbound.js';
import { decide, type RetryOptions } from './retry-policy.js';
import type { Counters } from './stats.js';
import type { OutboxRecord, OutboxStore } from './store.js';
import { Gate, TargetThrottle } from './target-throttle.js';
import { TimerHeap } from './timer-heap.js';

/** What the outbox needs of a connection: a write that records the message as in flight there. */
export interface OutboxConnection {
  /** True: written and in flight; false: not written (the stream went away); TypeError: it can never be written. */
  write(out: Outbound): boolean | TypeError;
  /** Its id, for the trace channels (`c1`…). */
  readonly id?: string;
}

/** What the outbox asks of its owner. Called synchronously. */
export interface OutboxHost {
  /** The usable connection with the most free window, or undefined. */
  pick(): OutboxConnection | undefined;
  /**
   * Whether `pick()` would return `conn` again now (called right after a write to the connection
   * the last `pick()` returned; false sends the caller back to `pick()`). Lets a dispatch fill the
   * picked connection without asking every connection for its window per message.
   */
  pickAgain(conn: OutboxConnection): boolean;
  /** The message with this id in some connection's in-flight map (duplicate-id checks), if any. */
  inFlight(id: string): Outbound | undefined;
  /** The queue was full and is back under half: senders may go on. */
  capacity(): void;
  /** No message is outstanding any more. */
  idle(): void;
  /**
   * A `send()` promise was taken since nothing was last outstanding (`true`, once), or nothing is
   * outstanding any more after one was (`false`, just before `idle()`).
   */
  promises(outstanding: boolean): void;
  /** The outcome of a message adopted from another owner (no caller waits for it). */
  settled(record: OutboxRecord, outcome: SendResult | Error): void;
  /** The store reported a failure. */
  error(err: Error): void;
}

/** Settings of the outbox (resolved from the client's options). */
export interface OutboxOptions extends RetryOptions {
  /** Messages that may wait for a window slot. */
  maxQueued: number;
  /** Default per-call timeout (0: none). */
  sendTimeoutMs: number;
  store: OutboxStore;
  clock: Clock;
  keepAlive: KeepAlive;
  ids: MessageIdGenerator;
  counters: Counters;
  /** Records of ACKed messages kept for reuse (see `Outbox`'s spare records); default 0, none. */
  spareRecords?: number;
}

/** Per-call options of `submit`. */
export interface SubmitOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

const ADOPTED_SEQ = Number.MIN_SAFE_INTEGER;

/** What `validateDownstream` is given for a generated id kept as a counter (it reads the id only to put it in an error). */
const GENERATED_ID_STANDIN = '-';

/** ACKs between two looks at the spare records' low-water mark (at least; see `Outbox#trimSpares`). */
const SPARE_TRIM_ACKS = 4096;

const setTimeoutSlot = (o: Outbound, slot: number): void => {
  o.timeoutSlot = slot;
};
const setRetrySlot = (o: Outbound, slot: number): void => {
  o.retrySlot = slot;
};

/**
 * The outbox: the only code that changes a downstream message's state. A message is `queued` (in
 * the store), `inflight` (in a connection's map), `waiting` (in the retry heap, or held behind a
 * rate-limited target's probe) or settled (gone from all of them at once). The outbox owns the
 * store's queue, the retry and timeout heaps behind one clock timer, the live-id map, the
 * per-target throttle and the counters of these states; the retry decisions are the pure
 * {@link decide}. Connections are reached through {@link OutboxHost.pick} only.
 */
export class Outbox {
  readonly #o: OutboxOptions;
  readonly #host: OutboxHost;
  readonly #store: OutboxStore;
  readonly #clock: Clock;
  readonly #throttle = new TargetThrottle();
  readonly #timeouts = new TimerHeap<Outbound>(setTimeoutSlot);
  readonly #retries = new TimerHeap<Outbound>(setRetrySlot);
  #timer: ClockTimer | undefined;
  #timerAt = Infinity;
  readonly #live: LiveIds;
  readonly #signals = new AbortSignals<Outbound>((members, signal) => {
    for (const o of members) if (!o.settled) this.#settle(o, new AbortError(o.id, o.written, signal.reason));
    this.dispatch();
  });
  #seq = 0;
  /** The outcomes of `dispatch()`ed messages, waiting for their callbacks to run (never from inside the outbox). */
  readonly #callbacks = new CallbackQueue();
  /**
   * Records of ACKed messages, reused by the next sends in the order they were ACKed (none unless
   * the owner asks for some, and only over the memory store). A busy client keeps thousands of
   * messages queued (the default queue alone holds 10 000), and a fresh record per send lived
   * through a scavenge and was copied with them; a reused one was promoted once and stays put: at
   * 100 × 1 the collector copied 285 instead of 534 bytes per message and scavenged a third less
   * often (bench/ANALYSIS.md, ninth pass). First in, first out: with one connection the ACKs come
   * back in the order the messages went out, so the records keep the order they were allocated in
   * and the client visits them in that order, as it would fresh ones. Reused last in, first out —
   * or with several connections, whose ACKs interleave — they were visited out of order and the
   * client's own code cost more than the collector saved (7–21% more CPU per message at 1000 × 16),
   * which is why the client asks for spare records only with one connection. At most
   * `spareRecords`, ~120 bytes each, holding nothing of their messages; `failAll` drops them with
   * the ring's grown array, and keeps none from then on.
   */
  readonly #spare = new RingBuffer<Outbound>(64);
  #maxSpare: number;
  /** The fewest spare records there were since the last trim: that many were never needed. */
  #spareLow = 0;
  #acksToTrim: number;
  #adopted = 0;
  #waiting = 0;
  #outstanding = 0;
  /**
   * A promise was taken since nothing was last outstanding. Not a count of promises: kept until
   * the outbox is idle, so the hot path pays one test on `send()` and nothing at the settlement.
   */
  #promising = false;
  #wantCapacity = false;
  #dispatching = false;
  #redispatch = false;
  #dispatchScheduled = false;
  readonly #dispatchScheduledNow = (): void => {
    this.#dispatchScheduled = false;
    this.dispatch();
  };

  constructor(options: OutboxOptions, host: OutboxHost) {
    this.#o = options;
    this.#host = host;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#live = new LiveIds(options.ids);
    // Only the memory store is known to let go of a record when it is removed: another store may
    // still read it (a durable store serialises removals at the end of the tick).
    this.#maxSpare = options.store.constructor === MemoryOutboxStore ? (options.spareRecords ?? 0) : 0;
    this.#acksToTrim = Math.max(SPARE_TRIM_ACKS, 2 * this.#maxSpare);
    this.#store.attach({
      wake: () => this.dispatch(),
      adopt: (records) => this.adopt(records),
      // Reported as a CcsError with a stable code, as the store interface asks; a plain Error is its cause.
      error: (err) => host.error(err instanceof CcsError ? err : new StoreError('store', 'the outbox store failed', { cause: err })),
      refused: (records, err) => {
        // Every rejection of a send is a CcsError with a stable code: a store's plain Error becomes
        // the cause of one (its text stays there, out of the message).
        const refusal = err instanceof CcsError ? err : new StoreError('append', 'the store could not record the message', { cause: err });
        for (const r of records) if (r instanceof Outbound && !r.settled) this.#settle(r, refusal);
        this.dispatch();
      },
    });
  }

  /** Gauge: messages accepted and not settled. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Gauge: messages waiting for a window slot. */
  get queued(): number {
    return this.#store.queued;
  }

  /** Gauge: messages waiting for a retry delay or behind a rate-limited probe. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Gauge: rate-limited targets. */
  get throttledTargets(): number {
    return this.#throttle.size;
  }

  /** True while the queue has room for another message. */
  get hasRoom(): boolean {
    return this.#store.queued < this.#o.maxQueued;
  }

  /** Asks for a `capacity()` call once the queue is back under half. */
  wantCapacity(): void {
    this.#wantCapacity = true;
  }

  /** A fresh generated id, for an owner that must know a message's id before `submit` (pass it as `assignedId`). */
  nextId(): string {
    return this.#live.next();
  }

  /**
   * Accepts a message: validates it, assigns its id (`assignedId`, from `nextId()`, when given), and writes it at once when a connection has
   * room and nothing waits before it, else queues it. Who is told the outcome is the settlement
   * target: without `callback`, a promise (`undefined` when the queue is full); with one, the
   * callback, later (`true`: taken, every refusal included; `false`: the queue is full, nothing taken).
   */
  submit(message: OutgoingMessage, options: SubmitOptions | undefined, callback?: undefined, assignedId?: string): Promise<SendResult> | undefined;
  submit(message: OutgoingMessage, options: SubmitOptions | undefined, callback: SendCallback): boolean;
  submit(message: OutgoingMessage, options: SubmitOptions | undefined, callback?: SendCallback, assignedId?: string): Promise<SendResult> | boolean | undefined {
    // Not an object at all (null from untyped code): refused like any invalid message, not thrown.
    if (typeof message !== 'object' || message === null) return this.#refuse(new InvalidMessageError(validateDownstream(message) as ValidationError), callback);
    const callerId = message.message_id !== undefined;
    // A generated id is taken as its counter (`Outbound.key`): its string is made only where it is read.
    const key = callerId ? (message.message_id as string) : (assignedId ?? this.#live.nextKey());
    // Validation reads the id only for its errors: an invalid message is validated again with the id's text.
    let invalid = validateDownstream(message, typeof key === 'string' ? key : GENERATED_ID_STANDIN);
    if (invalid !== undefined && typeof key === 'number') invalid = validateDownstream(message, this.#idText(key));
    if (invalid !== undefined) return this.#refuse(new InvalidMessageError(invalid), callback);
    if (callerId) {
      const taken = this.#idTaken(key as string);
      if (taken !== undefined) return this.#refuse(taken, callback);
    }
    const store = this.#store;
    // The common case goes straight to a connection; only the queue is bounded.
    const direct = store.queued === 0 && this.#throttle.size === 0 ? this.#host.pick() : undefined;
    // What `direct` was picked against: the sends made and the writes done so far (see below).
    const seq = this.#seq;
    const sent = this.#o.counters.sent;
    if (direct === undefined && store.queued >= this.#o.maxQueued) {
      this.#wantCapacity = true;
      return callback === undefined ? undefined : false;
    }
    const signal = options?.signal;
    if (signal?.aborted) return this.#refuse(new AbortError(typeof key === 'string' ? key : this.#idText(key), false, signal.reason), callback);
    // A shallow copy: the top-level fields are what they were at send() however the caller reuses
    // its object (a loop that sets `to` and sends again). The assigned id stays beside it and is
    // written by the encoder, so the copy keeps the caller's shape (one hidden class for all). A
    // spread, not Object.assign({}, …): V8 clones a plain object with its own map, sized to its
    // fields (an empty literal reserves four), so the copy is smaller and made faster.
    const copy = { ...message };
    const spare = this.#spare.shift();
    if (this.#spare.length < this.#spareLow) this.#spareLow = this.#spare.length;
    const slot = typeof key === 'number' ? this.#o.ids.slot : 0;
    const out = spare === undefined ? new Outbound(copy, key, this.#seq++, slot) : spare.reuse(copy, key, this.#seq++, slot);
    // The one test the new settlement target costs the promise path; the first promise since the
    // outbox was idle lowers the connections' write mark (connection.ts, promiseWriteMark).
    let accepted: Promise<SendResult> | true;
    if (callback !== undefined) accepted = out.callback(callback);
    else {
      accepted = out.promise();
      if (!this.#promising) {
        this.#promising = true;
        this.#host.promises(true);
      }
    }
    this.#outstanding++;
    if (callerId) this.#live.add(out);
    const timeoutMs = options?.timeoutMs ?? this.#o.sendTimeoutMs;
    if (timeoutMs > 0) {
      out.timeoutMs = timeoutMs;
      this.#timeouts.push(this.#clock.now() + timeoutMs, out);
      this.#armTimer();
    }
    if (signal !== undefined) {
      try {
        this.#signals.add(out, signal);
      } catch (err) {
        // A signal-like object (it passed the client's check) whose addEventListener threw: refused
        // like any unusable option. Thrown on, it escaped send() with the message counted, and
        // close() waited its whole timeout for a message that was never going to be written.
        this.#settle(out, new CcsError('CCS_ERR_INVALID_OPTION', 'the send option signal could not be listened to (addEventListener threw)', { cause: err }));
        return accepted;
      }
    }
    if (ccsChannels.enqueued.hasSubscribers) ccsChannels.enqueued.publish({ messageId: out.id, to: out.target });
    try {
      store.append(out);
    } catch (err) {
      // A store that throws instead of calling `refused`: the same refusal. Thrown on, it escaped
      // send() after the message was counted, and close() then waited its whole timeout for it.
      this.#settle(out, storeError('append', out, err));
      return accepted;
    }
    if (direct !== undefined) {
      // Nothing was queued: the store hands this one straight back (a durable store once recorded).
      let next: OutboxRecord | undefined;
      try {
        next = store.takeNext();
      } catch (err) {
        // Failed rather than left in a store that cannot hand it out (a send after it then hung).
        this.#settle(out, storeError('takeNext', out, err));
        return accepted;
      }
      // A send() made from inside this one — an `enqueued` subscriber (a metrics hook), the store's
      // append or takeNext — or a write since the pick, and `direct` is stale: the other send may
      // have taken its last slot (written here too, this one was one more than maxPending in flight:
      // CCS's window), or been queued behind this one while the connection has room. And a send()
      // made while the outbox dispatches (from a store's takeNext there) leaves the connection the
      // dispatch picked to that dispatch, which writes next. The queue decides instead, in order, on
      // windows as they are now (what the store handed back goes back ahead of anything newer).
      // Three reads and a compare per send, nothing allocated.
      if (this.#seq !== seq + 1 || this.#o.counters.sent !== sent || this.#dispatching) {
        if (next !== undefined) this.#storeRequeue(next as Outbound);
        this.dispatch();
        return accepted;
      }
      if (next !== undefined) this.#write(direct, next as Outbound);
    } else if (this.#throttle.size > 0) this.dispatch();
    // Otherwise nothing could be written: the queue was not empty or no connection had room, and
    // every event that makes room (an ACK or NACK, a drained socket, a connection online, a timer,
    // a resend, a store's wake) dispatches itself — the model test checks after every step that
    // nothing waits in the queue while a connection has room. A busy client's queue is never
    // empty, and this was a dispatch() per send that asked every connection for room in vain.
    return accepted;
  }

  /** A refusal before anything was taken: a rejected promise, or the error for the callback (later) and `true`. */
  #refuse(err: CcsError, callback: SendCallback | undefined): Promise<SendResult> | true {
    if (callback === undefined) return Promise.reject(err);
    this.refuse(callback, err);
    return true;
  }

  /** Hands `err` to a `dispatch()` callback the owner refused (a closed client), when the queued callbacks run. */
  refuse(callback: SendCallback, err: CcsError): void {
    this.#callbacks.push(callback, err);
  }

  /**
   * Records of another owner (its lease expired), to send again with no caller waiting: queued
   * ahead of anything new, in their owner's order.
   */
  adopt(records: readonly OutboxRecord[]): void {
    const sorted = [...records].sort((a, b) => a.seq - b.seq);
    const now = this.#clock.now();
    for (const r of sorted) {
      // Below every local seq: an adopted message is older than anything this process accepted.
      const out = new Outbound(r.msg, r.id, ADOPTED_SEQ + this.#adopted++);
      out.retries = r.retries;
      out.resends = r.resends;
      out.written = r.written;
      this.#outstanding++;
      // A retry delay its owner had set still holds.
      if (r.notBefore > now) this.#park(out, r.notBefore);
      else this.#storeRequeue(out);
    }
    this.dispatch();
  }

  /** Moves queued messages onto connections with free window. */
  dispatch(): void {
    if (this.#dispatching) {
      this.#redispatch = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#redispatch = false;
        const store = this.#store;
        const host = this.#host;
        let conn: OutboxConnection | undefined;
        while (store.queued > 0) {
          // pick() asks every connection for its window; after a write, pickAgain() asks the one
          // written to whether pick() would give it again (the same choice, one connection asked).
          if (conn === undefined || !host.pickAgain(conn)) {
            conn = host.pick();
            if (conn === undefined) break;
          }
          let head: Outbound | undefined;
          try {
            head = store.takeNext() as Outbound | undefined;
          } catch (err) {
            // Reported, not thrown into the ACK or socket event that dispatched; the records stay
            // queued for the next dispatch (their timeouts still run).
            this.#host.error(storeError('takeNext', undefined, err));
            break;
          }
          if (head === undefined) break;
          if (this.#throttle.size > 0) {
            const gate = this.#throttle.gate(head);
            if (gate !== Gate.Go) {
              // A rate-limited target: its messages wait in order behind the one probing it.
              this.#park(head, 0);
              if (gate === Gate.Hold) {
                this.#throttle.hold(head);
                this.#release(head.target);
              } else {
                // An older message of this target came back (a lost connection) after this one was
                // released: it goes first, this one waits again.
                this.#requeue(this.#throttle.swapOlder(head) as Outbound);
              }
              continue;
            }
          }
          this.#write(conn, head);
        }
      } while (this.#redispatch);
    } finally {
      this.#dispatching = false;
    }
    if (this.#wantCapacity && this.#store.queued <= this.#o.maxQueued >> 1) {
      this.#wantCapacity = false;
      this.#host.capacity();
    }
  }

  /**
   * `dispatch()` once the current tick's synchronous work is done, however many ACKs ask for it:
   * the ACKs of one socket read (40–100 on a busy connection) each freed a slot, and a dispatch per
   * ACK asked every connection for room and found it again and again, or found the socket still
   * full. The freed slots are filled in the same tick, after the read's ACKs are all settled.
   */
  #dispatchSoon(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    process.nextTick(this.#dispatchScheduledNow);
  }

  /** CCS ACKed `out` (on the connection it was written to). */
  ack(out: Outbound, from: string | undefined, registrationId: string | undefined, group?: DeviceGroupResult): void {
    const counters = this.#o.counters;
    counters.acked++;
    const latencyMs = elapsedMs(out.writtenAt);
    counters.ackLatency.record(latencyMs);
    if (ccsChannels.acked.hasSubscribers) ccsChannels.acked.publish({ messageId: out.id, latencyMs, retries: out.resends, registrationId });
    // Nothing but the caller's promise refers to a plain record once it is ACKed (the connection took
    // it out of its in-flight table, no heap, signal, live-id entry or throttle holds it; a dispatch()
    // callback is queued with the result, not the record) — unless a target is throttled, or nobody
    // waits for it (an adopted record goes to the `settled` event).
    const spare = this.#spare.length < this.#maxSpare && out.plain && out.caller !== undefined && this.#throttle.size === 0;
    if (this.#throttle.size > 0 && this.#throttle.acked(out)) this.#release(out.target);
    if (!out.settled) {
      const result = sendResult(out.id, from, registrationId, out.resends);
      // Only device-group ACKs carry it: plain results keep their four fields.
      if (group !== undefined) result.deviceGroup = group;
      this.#settle(out, result);
      if (spare) {
        out.release();
        this.#spare.push(out);
      }
      if (this.#maxSpare !== 0 && --this.#acksToTrim === 0) this.#trimSpares();
    }
    this.#dispatchSoon();
  }

  /** CCS NACKed `out` (or answered it with a stanza error): retry or fail it, by {@link decide}. */
  nack(out: Outbound, nack: StanzaNack, stanzaError: boolean): void {
    const o = this.#o;
    o.counters.nack(nack.code);
    const traced = ccsChannels.nacked.hasSubscribers;
    if (out.settled) {
      if (traced) ccsChannels.nacked.publish({ messageId: out.id, code: nack.code, latencyMs: elapsedMs(out.writtenAt), stanzaError, outcome: 'ignored' });
      this.dispatch(); // its promise already settled (timeout / abort): nothing to retry for
      return;
    }
    const now = this.#clock.now();
    const decision = decide(nack, out, o, now);
    if (traced) ccsChannels.nacked.publish({ messageId: out.id, code: nack.code, latencyMs: elapsedMs(out.writtenAt), stanzaError, outcome: decision.kind });
    switch (decision.kind) {
      case 'requeue':
        o.counters.retries++;
        this.#requeue(out);
        break;
      case 'wait':
        o.counters.retries++;
        out.retries++;
        this.#park(out, decision.at);
        break;
      case 'throttle':
        o.counters.retries++;
        out.retries++;
        this.#throttle.slowDown(out, now, (level) => backoffDelay(level, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs }, o.jitter(JitterKind.Probe, out.target, level)));
        this.#park(out, this.#throttle.readyAt(out.target), true);
        this.#release(out.target);
        break;
      case 'fail':
        this.#settle(out, new NackError({
          nackCode: nack.code, reason: nack.reason, description: nack.description, retryClass: nack.retry,
          message: out.sent(), retries: out.retries, stanzaError, raw: nack.raw,
        }));
        break;
    }
    if (decision.kind !== 'fail' && ccsChannels.retried.hasSubscribers) {
      ccsChannels.retried.publish({ messageId: out.id, code: nack.code, retries: out.retries, delayMs: out.state === 'waiting' && out.notBefore > now ? out.notBefore - now : 0 });
    }
    this.dispatch();
  }

  /** A connection closed owing these (in send order): each unsettled one goes out again, in order. */
  requeueOwed(owed: readonly Outbound[]): void {
    for (const out of owed) {
      if (out.settled) continue; // timed out / aborted: the caller gave up on it
      this.#requeue(out);
      this.#o.counters.resent++;
      if (ccsChannels.resent.hasSubscribers) ccsChannels.resent.publish({ messageId: out.id });
    }
    this.dispatch();
  }

  /** Settles every unsettled message (teardown) with `err`; `owed` are the connections' in-flight ones. */
  failAll(err: Error, owed: Iterable<Outbound>): void {
    let all: Outbound[];
    try {
      all = [...(this.#store.queuedRecords() as Iterable<Outbound>)];
    } catch (cause) {
      // The teardown goes on without them (reported): thrown on, it escaped close() or destroy()
      // halfway, leaving the in-flight messages unsettled and the connections open.
      this.#host.error(new StoreError('queuedRecords', 'the outbox store could not list its queued messages at teardown; those are left unsettled', { cause }));
      all = [];
    }
    all.push(...this.#retries.items(), ...(this.#throttle.heldRecords() as Iterable<Outbound>));
    for (const out of owed) if (out.state === 'inflight') all.push(out);
    for (const out of all) if (!out.settled) this.#settle(out, err);
    // The owner is done with the outbox (close, destroy): the spare records and the ring's grown
    // array (as large as the most ever outstanding) go now, not with the client. And none is kept
    // from here on: an ACK being settled when this runs (a subscriber of the `acked` channel that
    // destroys the client) would otherwise add its record after the ring was emptied.
    this.#spare.clear();
    this.#maxSpare = 0;
    this.#throttle.clear();
    this.#timeouts.clear();
    this.#retries.clear();
    this.#disarm();
  }

  /** Re-applies the keep-alive rule to the timer (the embedder called `ref()`/`unref()`, or work began or ended). */
  refreshKeepAlive(): void {
    if (this.#timer !== undefined) this.#o.keepAlive.apply(this.#timer);
  }

  /** Every unsettled message the outbox holds outside connections (tests recount the gauges from these). */
  *records(): IterableIterator<Outbound> {
    yield* this.#store.queuedRecords() as Iterable<Outbound>;
    yield* this.#retries.items();
    yield* this.#throttle.heldRecords() as Iterable<Outbound>;
  }

  /**
   * Lets go of the spare records that were never needed since the last trim (the low-water mark),
   * oldest first, and of the ring's room beyond what is left. A client that once had thousands of
   * messages outstanding and now has a few keeps only what it uses; a client whose load comes in
   * waves empties the pool in every wave (the mark is ~0) and keeps it whole. Every
   * max(4096, 2 × spareRecords) ACKs: one compare per send and one count per ACK in between.
   */
  #trimSpares(): void {
    this.#acksToTrim = Math.max(SPARE_TRIM_ACKS, 2 * this.#maxSpare);
    const surplus = this.#spareLow;
    if (surplus > 0) {
      const kept = this.#spare.drain().slice(surplus);
      this.#spare.clear();
      for (const r of kept) this.#spare.push(r);
    }
    this.#spareLow = this.#spare.length;
  }

  // --- transitions ------------------------------------------------------------------------------

  /** Back to the queue, ahead of anything newer. From inflight or waiting. */
  #requeue(out: Outbound): void {
    if (out.state === 'waiting') {
      this.#waiting--;
      if (out.retrySlot >= 0) this.#retries.removeAt(out.retrySlot);
    }
    this.#storeRequeue(out);
  }

  /**
   * The store's `requeue`. One that throws fails the message with a `StoreError` (it is then in no
   * queue: left alone its caller would wait for good); thrown on, it ran into a socket read, a
   * timer or a connection's close, where it was an uncaught exception.
   */
  #storeRequeue(out: Outbound): void {
    try {
      this.#store.requeue(out);
    } catch (err) {
      this.#settle(out, storeError('requeue', out, err));
    }
  }

  /** From inflight to waiting: until `at` in the retry heap, or (`at` 0 or `held`) held by the throttle. */
  #park(out: Outbound, at: number, held = false): void {
    out.notBefore = at;
    try {
      this.#store.park(out);
    } catch (err) {
      // As #storeRequeue: failed, not left nowhere nor thrown into the NACK being processed.
      this.#settle(out, storeError('park', out, err));
      return;
    }
    this.#waiting++;
    if (at > 0 && !held) {
      this.#retries.push(at, out);
      this.#armTimer();
    }
  }

  /** Releases the next held message of a rate-limited target, now or when its pause ends. */
  #release(target: string): void {
    const next = this.#throttle.release(target) as Outbound | undefined;
    if (next === undefined) return;
    const at = this.#throttle.readyAt(target);
    if (at > this.#clock.now()) {
      next.notBefore = at;
      this.#retries.push(at, next);
      this.#armTimer();
    } else this.#requeue(next);
  }

  /** Settles once, wherever the message is, and removes it from every structure at once. */
  #settle(out: Outbound, outcome: SendResult | Error): void {
    out.settled = true;
    // A plain message (no caller id, timeout, signal or retry delay) while no target is throttled is
    // in none of the structures #unlink looks in (it can only wait held by the throttle: a wait in
    // the retry heap sets `notBefore`, a rare field), so the common ACK skips them.
    const wasProbe = out.plain && this.#throttle.size === 0 ? false : this.#unlink(out);
    // Nothing left to time: an armed timer would only hold the process for nothing.
    if (this.#timer !== undefined && this.#timeouts.length === 0 && this.#retries.length === 0) this.#disarm();
    try {
      this.#store.remove(out, outcome);
    } catch (err) {
      // The caller still gets its outcome: thrown on, the settlement stopped here and its promise
      // never settled (and close() waited its whole timeout for it).
      this.#host.error(storeError('remove', out, err));
    }
    this.#outstanding--;
    if (outcome instanceof Error) {
      this.#o.counters.failed++;
      if (ccsChannels.failed.hasSubscribers) ccsChannels.failed.publish({ messageId: out.id, error: outcome });
    }
    if (wasProbe) this.#release(out.target);
    if (!out.settleCaller(outcome, this.#callbacks)) this.#host.settled(out, outcome);
    if (this.#outstanding === 0) {
      if (this.#promising) {
        this.#promising = false;
        this.#host.promises(false);
      }
      this.#host.idle();
    }
  }

  /**
   * Takes a settling message out of the live ids, the timeout and retry heaps, its signal's
   * members and the throttle. True when it was a rate-limited target's probe (settled without an
   * ACK: the next held message takes its turn).
   */
  #unlink(out: Outbound): boolean {
    this.#live.delete(out);
    if (out.timeoutSlot >= 0) this.#timeouts.removeAt(out.timeoutSlot);
    if (out.state === 'waiting') {
      this.#waiting--;
      if (out.retrySlot >= 0) this.#retries.removeAt(out.retrySlot);
    }
    if (out.signal !== undefined) this.#signals.remove(out);
    return this.#throttle.size > 0 && this.#throttle.forget(out);
  }

  #write(conn: OutboxConnection, out: Outbound): void {
    const written = conn.write(out);
    if (written === true) {
      if (out.written) out.resends++;
      out.written = true;
      out.writtenAt = tickStamp();
      this.#o.counters.sent++;
      if (ccsChannels.written.hasSubscribers) ccsChannels.written.publish({ messageId: out.id, connectionId: conn.id, attempt: out.resends + 1 });
    } else if (written === false) {
      // The stream went away under us: back to the front, in order.
      this.#storeRequeue(out);
    } else {
      this.#settle(out, new InvalidMessageError(new ValidationError('', 'INVALID_JSON', 'JSON_TYPE_ERROR', `Message cannot be written as JSON: ${written.message}`, out.id)));
    }
  }

  // --- timers ------------------------------------------------------------------------

  #armTimer(): void {
    const next = Math.min(this.#timeouts.peekTime(), this.#retries.peekTime());
    if (next >= this.#timerAt) return;
    this.#disarm();
    if (next === Infinity) return;
    this.#timerAt = next;
    this.#timer = this.#o.keepAlive.apply(this.#clock.setTimer(() => this.#onTimer(), Math.max(0, next - this.#clock.now())));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (let out = this.#timeouts.popDue(now); out !== undefined; out = this.#timeouts.popDue(now)) {
      this.#settle(out, new TimeoutError(out.id, out.timeoutMs, out.written));
    }
    for (let out = this.#retries.popDue(now); out !== undefined; out = this.#retries.popDue(now)) {
      this.#waiting--;
      this.#storeRequeue(out);
    }
    this.#armTimer();
    this.dispatch();
  }

  /** The text of a generated id taken as a counter (`LiveIds.nextKey`). */
  #idText(counter: number): string {
    return this.#o.ids.idOf(counter);
  }

  /**
   * Why a caller's id cannot be taken: an unsettled message has it (`DuplicateIdError`), or the
   * store failed to list its queued records for the check (a caller id with the generator's prefix
   * is looked for there) — a `StoreError` (`queuedRecords`), never a throw out of `send()`.
   */
  #idTaken(id: string): CcsError | undefined {
    try {
      return this.#live.has(id, this.#find) ? new DuplicateIdError(id) : undefined;
    } catch (err) {
      return err instanceof CcsError ? err : new StoreError('queuedRecords', `the outbox store could not list its queued messages to check message ${quote(id)} for a duplicate; it was not sent`, { cause: err });
    }
  }

  /** Whether an unsettled message with this id is anywhere (a connection, the queue, a heap, the throttle). */
  readonly #find = (id: string): boolean => {
    const o = this.#host.inFlight(id);
    if (o !== undefined && !o.settled) return true;
    for (const r of this.records()) if (r.id === id) return true;
    return false;
  };
}

/**
 * An outbox store's method that threw, as the `StoreError` the store interface asks for (a store's
 * own `CcsError` as it is): the store's error is the cause, its text stays out of the message.
 */
function storeError(operation: 'append' | 'takeNext' | 'requeue' | 'park' | 'remove', out: Outbound | undefined, err: unknown): CcsError {
  if (err instanceof CcsError) return err;
  const which = out === undefined ? 'a queued message' : `message ${quote(out.id)}`;
  return new StoreError(operation, `the outbox store failed to ${operation} ${which}`, { cause: err });
}
