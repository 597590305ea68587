import type { ReceiptMessage, UpstreamMessage } from '@ccs-xmpp/stanza';
import { TypedEventEmitter } from '@ccs-xmpp/stream';
import { throwUncaught } from './callback-queue.js';
import { KeepAlive, type ClockTimer } from './clock.js';
import { ConnectionPool, PoolState, type ConnectionEvent, type ReconnectEvent } from './connection-pool.js';
import type { CcsConnection } from './connection.js';
import { CcsError, ClosedError, DuplicateIdError, QueueFullError, StoreError } from './errors.js';
import { MessageIdGenerator, sharedMessageIds } from './message-id.js';
import { renderPrometheus } from './metrics.js';
import { MAX_DURATION_MS, resolveOptions, type CcsClientOptions, type ResolvedOptions, type UpstreamHandler } from './options.js';
import type { OutgoingMessage, SendCallback, SendResult } from './outbound.js';
import { Outbox } from './outbox.js';
import { ReceiptWaiters } from './receipt-waiters.js';
import { Counters, type CcsStats } from './stats.js';
import type { OutboxRecord } from './store.js';
import { UpstreamInbox } from './upstream-inbox.js';
import { StoreDeadlines } from './store-deadlines.js';

/** Per-call options of `send`. */
export interface SendOptions {
  /** Aborts the send: a queued message is never sent; a written one is no longer waited for. */
  signal?: AbortSignal;
  /** Rejects with `CCS_ERR_TIMEOUT` after this long; overrides `sendTimeoutMs`. 0: none. */
  timeoutMs?: number;
  /**
   * Await the message's delivery receipt: `delivery_receipt_requested: true` is set on what is sent
   * (a message with `delivery_receipt_requested: false` or `dry_run: true` is refused with
   * `CCS_ERR_INVALID_OPTION`), and `send` resolves with a {@link SendResultWithReceipt} whose
   * `receipt` promise settles when the `dr2:` receipt for this `message_id` arrives. Default false:
   * `delivery_receipt_requested: true` alone only asks CCS for the receipt (the `receipt` event).
   */
  receipt?: boolean;
  /** With `receipt: true`: how long the receipt promise waits from the ACK; overrides `receiptTimeoutMs`. 0: none. */
  receiptTimeoutMs?: number;
}

/**
 * Per-call options of `dispatch`: those of `send` without the receipt ones (a receipt is a second
 * outcome, which one callback cannot carry: await it with `send(message, { receipt: true })`).
 */
export type DispatchOptions = Pick<SendOptions, 'signal' | 'timeoutMs'>;

/** What `send(msg, { receipt: true })` resolves with: the ACK, and a promise of the delivery receipt. */
export interface SendResultWithReceipt extends SendResult {
  /**
   * Resolves with the `dr2:` receipt whose `original_message_id` is this message's id, on whatever
   * connection it arrives (after a reconnect too). Rejects with `ReceiptError`
   * (`CCS_ERR_RECEIPT_TIMEOUT` after `receiptTimeoutMs` from the ACK; `CCS_ERR_RECEIPT_OVERFLOW` when
   * it was the oldest of `maxReceiptWaiters` waits) or `ClosedError` (`CCS_ERR_CLOSED`: the client
   * closed first). Marked handled: left unobserved, its rejection does not crash the process.
   */
  receipt: Promise<ReceiptMessage>;
}

/** Options of `connect`. */
export interface ConnectOptions {
  /**
   * Stops waiting: `connect()` rejects with `CCS_ERR_ABORTED`. While no connection is online yet,
   * the attempts are given up too (the client is idle again and `connect()` may be called anew),
   * unless another `connect()` call still waits for them: that one is not aborted.
   */
  signal?: AbortSignal;
  /** Resolve only once all `connections` are online, not at the first. Default false. */
  all?: boolean;
}

/** Options of `waitForCapacity`. */
export interface WaitOptions {
  /** Stops waiting: rejects with `CCS_ERR_ABORTED`. */
  signal?: AbortSignal;
}

/** Options of `close`. */
export interface CloseOptions {
  /**
   * How long to wait for pending ACKs and running upstream handlers: 0 to 2^31 - 1 ms (else `close`
   * rejects with `CCS_ERR_INVALID_OPTION` and nothing closes). Default 10 000 ms.
   */
  timeoutMs?: number;
}

/** Payload of `settled`: the outcome of a message adopted from another instance of a shared store (no caller waits for it). */
export interface SettledEvent {
  messageId: string;
  /** The ACK, or the error it failed with (`NackError`, `ClosedError`…). */
  result: SendResult | undefined;
  error: Error | undefined;
  /** NACK retries it took. */
  retries: number;
}

/**
 * The events of {@link CcsClient} and what their listeners receive; `client.on()` accepts these
 * names only, with these argument types.
 */
export interface CcsClientEvents {
  /** A connection finished its handshake and takes messages. */
  online: [event: ConnectionEvent];
  /** A connection closed (`error` says why, unless it was ours or CCS closed a drained one). */
  offline: [event: ConnectionEvent];
  /** CCS sent `CONNECTION_DRAINING` on a connection: nothing new goes there; a replacement opens. */
  draining: [event: ConnectionEvent];
  /** A connection will be reopened after `delayMs`. */
  reconnecting: [event: ReconnectEvent];
  /** A delivery receipt (ACKed for you). */
  receipt: [receipt: ReceiptMessage];
  /** An upstream message, when no handler or iterator consumes them (ACKed at once). */
  upstream: [message: UpstreamMessage];
  /** The queue has room again after `send` refused with `CCS_ERR_QUEUE_FULL`. */
  drain: [];
  /** The outcome of a message adopted from another instance of a shared store. */
  settled: [event: SettledEvent];
  /** A non-fatal error (emitted only when someone listens; a teardown's store close failure is a process warning then). */
  error: [error: Error];
}

/**
 * A CCS client: a pool of connections, a flow-controlled send path with typed ACK/NACK promises,
 * retries by NACK class, in-order resend on connection loss, and upstream delivery with ACK after
 * the handler and de-duplication across reconnects. A facade over the {@link Outbox} (message
 * state), the `ConnectionPool` (connections) and the `UpstreamInbox` (upstream).
 *
 * Events: `online`, `offline`, `draining` (`ConnectionEvent`), `reconnecting` (`ReconnectEvent`),
 * `receipt` (`ReceiptMessage`), `upstream` (`UpstreamMessage`, only when no handler or iterator
 * consumes them), `drain` (queue has room again), `settled` ({@link SettledEvent}, adopted messages
 * only), `error` (non-fatal `CcsError`s; emitted only when someone listens, so an unhandled one
 * never crashes the process). A listener that throws leaves the client's processing whole; its
 * error is re-thrown on its own, an uncaught exception.
 *
 * Like a `net.Socket`, a client with work (connecting, connected, reconnecting, messages queued or
 * pending, handlers running) keeps the process alive and an idle closed one does not; `unref()`
 * lets an embedder opt out.
 */
export class CcsClient extends TypedEventEmitter<CcsClientEvents> {
  readonly #o: ResolvedOptions;
  readonly #counters = new Counters();
  readonly #keepAlive: KeepAlive;
  readonly #outbox: Outbox;
  readonly #pool: ConnectionPool;
  readonly #inbox: UpstreamInbox;
  readonly #receipts: ReceiptWaiters;
  /** Upstream messages' bounded waits for a store's promise (claim, flush). */
  readonly #storeDeadlines: StoreDeadlines;
  #capacityWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #idleWaiter: (() => void) | undefined;
  #closePromise: Promise<void> | undefined;
  /** `close()`'s bounded wait for pending work: work, so it holds the process unless unref()'d. */
  #closeTimer: ClockTimer | undefined;
  /** The stores' close, once begun (by `close()` or by a teardown): they are closed once. */
  #storesClosing: Promise<CcsError[]> | undefined;

  constructor(options: CcsClientOptions) {
    super();
    const o = resolveOptions(options);
    this.#o = o;
    // Awaited receipts are work too: their timeout timer holds the process while they wait.
    this.#keepAlive = new KeepAlive(() => (this.#pool.state !== PoolState.Idle && this.#pool.state !== PoolState.Closed) || !this.#idle() || this.#receipts.size > 0);
    this.#receipts = new ReceiptWaiters({ max: o.maxReceiptWaiters, clock: o.clock, keepAlive: this.#keepAlive, counters: this.#counters });
    const ids = o.messageIdPrefix === undefined ? sharedMessageIds : new MessageIdGenerator(o.messageIdPrefix);
    // Spare records (see Outbox): as many as can be outstanding at once, and only with one
    // connection, whose ACKs come back in the order the messages went out (bench/ANALYSIS.md, ninth pass).
    // Only over the store the client made itself: a store the caller passed in, even a
    // MemoryOutboxStore, is the caller's to watch (a spy, a proxy), and may still hold a removed record.
    const spareRecords = o.connections === 1 && options.store === undefined ? o.maxQueued + o.maxPending : 0;
    this.#outbox = new Outbox({ ...o, ids, counters: this.#counters, keepAlive: this.#keepAlive, spareRecords }, {
      pick: () => this.#pool.pick(),
      // The outbox passes back only what pick() returned: the pool's connections.
      pickAgain: (conn) => this.#pool.pickAgain(conn as CcsConnection),
      inFlight: (id) => this.#pool.inFlight(id),
      capacity: () => {
        this.#resolveCapacityWaiters();
        this.#emit('drain');
      },
      idle: () => this.#checkIdle(),
      // A send() lowers the connections' write mark until nothing is outstanding (connection.ts, promiseWriteMark).
      promises: (outstanding) => this.#pool.promisesOutstanding(outstanding),
      settled: (record, outcome) => this.#emitSettled(record, outcome),
      error: (err) => this.#emitError(err),
    });
    this.#storeDeadlines = new StoreDeadlines(o.clock, this.#keepAlive, o.storeTimeoutMs);
    this.#inbox = new UpstreamInbox({ dedup: o.dedupStore, ackOnReceipt: o.ackOnReceipt, handler: o.onUpstream, flush: () => o.store.flush(), deadlines: this.#storeDeadlines }, {
      hasListener: () => this.listenerCount('upstream') > 0,
      upstream: (msg) => this.#emit('upstream', msg),
      receipt: (msg) => this.#emit('receipt', msg),
      receiptArrived: (msg) => this.#receipts.arrived(msg),
      error: (err) => this.#emitError(err),
      progress: () => this.#checkIdle(),
    }, this.#counters);
    this.#pool = new ConnectionPool(o, {
      onAck: (_c, out, from, registrationId, group) => this.#outbox.ack(out, from, registrationId, group),
      onNack: (_c, out, nack, stanzaError) => this.#outbox.nack(out, nack, stanzaError),
      onUpstream: (c, msg) => this.#inbox.onUpstream(c, msg),
      onReceipt: (c, msg) => this.#inbox.onReceipt(c, msg),
      onWritable: () => this.#outbox.dispatch(),
      onProtocolError: (_c, err) => this.#emitError(err),
      online: (e) => this.#emit('online', e),
      offline: (e) => this.#emit('offline', e),
      draining: (e) => this.#emit('draining', e),
      reconnecting: (e) => this.#emit('reconnecting', e),
      error: (err) => this.#emitError(err),
      stopped: (err) => {
        this.#emitError(err);
        this.#shutDown(err, err);
      },
      owed: (owed) => this.#outbox.requeueOwed(owed),
      busy: () => !this.#idle(),
    }, this.#keepAlive, this.#counters);
  }

  // The API key must not leak through util.inspect / console.log of the client.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CcsClient { senderId: ${JSON.stringify(this.#o.senderId)}, host: ${JSON.stringify(this.#o.host)}, port: ${this.#o.port} }`;
  }

  /**
   * Opens `connections` connections. Resolves when the first is online (with `all: true`, when
   * all of them are); rejects with the typed `HandshakeError` of the first failure when none could
   * be opened (the client is then idle again and `connect()` may be retried), with `CCS_ERR_ABORTED`
   * when `signal` fires first, and with `CCS_ERR_CLOSED` when the client closes first. Once online,
   * lost connections are replaced on their own, with backoff (or `reconnectStrategy`).
   */
  connect(options: ConnectOptions = {}): Promise<void> {
    const { signal, all = false } = options ?? {};
    // Checked before anything starts: a signal that cannot be listened to once threw after the
    // connections were opened, leaving their outcome unobserved.
    if (signal !== undefined && !isAbortSignal(signal)) return Promise.reject(invalidOption(notASignal('connect', signal)));
    if (signal?.aborted) return Promise.reject(aborted('connect()', signal));
    const first = this.#pool.connect();
    const done = all ? first.then(() => this.#pool.allOnline()) : first;
    if (signal === undefined) return done;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const err = aborted('connect()', signal);
        this.#pool.abortConnect(err);
        reject(err);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      done.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /**
   * Sets (or replaces) the upstream handler. The ACK goes out after it succeeds. `undefined` (or
   * `null`) removes it.
   * @throws TypeError when `handler` is not a function — taken as it came, it failed at every
   *   upstream message instead (`CCS_ERR_HANDLER`, never ACKed), as the `onUpstream` option is checked at construction.
   */
  onUpstream(handler: UpstreamHandler | undefined): this {
    if (handler !== undefined && handler !== null && typeof handler !== 'function') {
      throw new TypeError(`onUpstream() needs a function (or undefined to remove the handler), got ${typeof handler}`);
    }
    this.#inbox.handler = handler ?? undefined;
    return this;
  }

  /**
   * Upstream messages as an async iterator (opt-in; takes precedence over the handler while in
   * use). A message is ACKed when the consumer asks for the next one (it has then been handled),
   * or at once when the loop ends with `break`. One iterator at a time. An exception thrown out of
   * the loop's body ends it as `break` does (`for await` calls `return()` either way, and the
   * iterator cannot tell them apart): the message in hand is ACKed, so CCS does not deliver it
   * again. Where a failure must leave it un-ACKed, use `onUpstream(handler)`, whose rejection does.
   */
  upstream(): AsyncIterableIterator<UpstreamMessage> {
    return this.#inbox.iterator(this.#pool.state === PoolState.Closed);
  }

  /**
   * Sends a downstream message. Validates it first (rejecting with the stanza package's
   * `ValidationError`), assigns a `message_id` when there is none, and resolves with the ACK or
   * rejects with a `NackError` (or `TimeoutError`, `AbortError`, `QueueFullError`, `ClosedError`,
   * `DuplicateIdError`). Retried NACK classes and connection losses are handled inside; the promise
   * settles exactly once. With `receipt: true` the result also carries the `receipt` promise
   * ({@link SendResultWithReceipt}); a send that fails has no result, so no receipt is awaited.
   */
  send(message: OutgoingMessage, options: SendOptions & { receipt: true }): Promise<SendResultWithReceipt>;
  send(message: OutgoingMessage, options?: SendOptions): Promise<SendResult>;
  send(message: OutgoingMessage, options?: SendOptions): Promise<SendResult> {
    return this.trySend(message, options) ?? Promise.reject(new QueueFullError(this.#o.maxQueued));
  }

  /**
   * Like `send`, but returns `undefined` (instead of a rejected promise) when the queue is full:
   * wait for `drain` or `waitForCapacity()` and try again.
   */
  trySend(message: OutgoingMessage, options: SendOptions & { receipt: true }): Promise<SendResultWithReceipt> | undefined;
  trySend(message: OutgoingMessage, options?: SendOptions): Promise<SendResult> | undefined;
  trySend(message: OutgoingMessage, options?: SendOptions): Promise<SendResult> | undefined {
    const state = this.#pool.state;
    if (state >= PoolState.Closing) return Promise.reject(this.#closedError());
    // `null` from untyped code means no options, as `undefined` does.
    if (options === undefined || options === null) return this.#outbox.submit(message, undefined);
    const problem = perSendProblem('send', options);
    if (problem !== undefined) return Promise.reject(invalidOption(problem));
    if (options.receipt === undefined && options.receiptTimeoutMs === undefined) return this.#outbox.submit(message, options);
    return this.#submitAwaitingReceipt(message, options);
  }

  /** `send(…, { receipt })`: checks the receipt options, then waits for the receipt beside the send (see {@link ReceiptWaiters}). */
  #submitAwaitingReceipt(message: OutgoingMessage, options: SendOptions): Promise<SendResult> | undefined {
    const { receipt, receiptTimeoutMs } = options;
    if (receipt !== undefined && typeof receipt !== 'boolean') return Promise.reject(invalidOption(`send option receipt must be a boolean, got ${typeof receipt}`));
    if (receiptTimeoutMs !== undefined && (typeof receiptTimeoutMs !== 'number' || !(receiptTimeoutMs >= 0) || !Number.isFinite(receiptTimeoutMs))) {
      return Promise.reject(invalidOption(`send option receiptTimeoutMs must be a number of milliseconds >= 0, got ${typeof receiptTimeoutMs === 'number' ? receiptTimeoutMs : typeof receiptTimeoutMs}`));
    }
    if (receipt !== true) {
      if (receiptTimeoutMs !== undefined) return Promise.reject(invalidOption('send option receiptTimeoutMs applies only with receipt: true'));
      return this.#outbox.submit(message, options);
    }
    // Not an object, or an id of the wrong type: the outbox refuses it as an invalid message.
    if (typeof message !== 'object' || message === null || (message.message_id !== undefined && typeof message.message_id !== 'string')) return this.#outbox.submit(message, options);
    if (message.dry_run === true) return Promise.reject(invalidOption('send option receipt: a dry_run message is never delivered, so no receipt would come'));
    if (message.delivery_receipt_requested === false) return Promise.reject(invalidOption('send option receipt: true contradicts delivery_receipt_requested: false'));
    const id = message.message_id ?? this.#outbox.nextId();
    // Receipts are matched by message_id: two waits for one id could not tell their receipts apart.
    if (message.message_id !== undefined && this.#receipts.has(id)) return Promise.reject(new DuplicateIdError(id, 'receipt'));
    // Asked through the option: CCS is asked too (a copy; the caller's object is left alone).
    const sent = message.delivery_receipt_requested === undefined ? { ...message, delivery_receipt_requested: true } : message;
    const accepted = this.#outbox.submit(sent, options, undefined, message.message_id === undefined ? id : undefined);
    if (accepted === undefined) return undefined;
    const waiter = this.#receipts.add(id, receiptTimeoutMs ?? this.#o.receiptTimeoutMs);
    return accepted.then((result) => {
      (result as SendResultWithReceipt).receipt = this.#receipts.acked(waiter);
      return result;
    }, (err: unknown) => {
      this.#receipts.dropped(waiter);
      throw err;
    });
  }

  /**
   * Sends a downstream message without a promise: `callback(error, result)` is called once, later,
   * with what `send()` would settle with — `(undefined, SendResult)` on the ACK, or `(CcsError,
   * undefined)`: `NackError`, `TimeoutError`, `AbortError`, `ClosedError` (`ReconnectStoppedError`),
   * `InvalidMessageError`, `DuplicateIdError`, `StoreError`. Returns `true` when the message was
   * taken (the callback will be called, refusals included), `false` when the queue is full (nothing
   * taken, the callback is never called: wait for `drain` or `waitForCapacity()` and try again).
   *
   * The callback never runs inside `dispatch()` nor inside the client's own processing: outcomes
   * are queued and their callbacks run once the current synchronous work (a socket read, a
   * `close()`) is done, in settlement order, when a promise's reactions would run — so a callback
   * may call `dispatch`, `send`, `close` or `destroy`. One that throws does not stop the others of
   * its batch; its error is re-thrown on its own, as an uncaught exception. Unlike a promise's
   * reaction it does not run in the async context of the `dispatch()` call (`AsyncLocalStorage`):
   * bind it (`AsyncResource.bind`) if it must.
   *
   * What it saves: each pending message of `send()` keeps its promise and the caller's reaction
   * (~250 bytes); a pending dispatched one keeps its record and a reference to the callback — one
   * function shared by every send, at best. Resends, retries, timeouts, signals, `close()` and the
   * keep-alive rule are those of `send()`.
   *
   * @throws TypeError when `callback` is not a function, or (`code` `CCS_ERR_INVALID_OPTION`) for a
   *   `receipt` or `receiptTimeoutMs` option — await a receipt with `send(message, { receipt: true })`.
   */
  dispatch(message: OutgoingMessage, callback: SendCallback, options?: DispatchOptions): boolean {
    if (typeof callback !== 'function') throw new TypeError(`dispatch() needs a callback function, got ${callback === null ? 'null' : typeof callback}`);
    if (options !== undefined && options !== null) {
      const { receipt, receiptTimeoutMs } = options as SendOptions;
      if ((receipt !== undefined && receipt !== false) || receiptTimeoutMs !== undefined) {
        throw invalidOptionType('dispatch() does not await delivery receipts (options receipt, receiptTimeoutMs): use send(message, { receipt: true })');
      }
      const problem = perSendProblem('dispatch', options);
      if (problem !== undefined) throw invalidOptionType(problem);
    }
    const state = this.#pool.state;
    if (state >= PoolState.Closing) {
      this.#outbox.refuse(callback, this.#closedError());
      return true;
    }
    return this.#outbox.submit(message, options ?? undefined, callback);
  }

  /**
   * Resolves once a `send` would be accepted without `CCS_ERR_QUEUE_FULL`. Rejects with
   * `CCS_ERR_CLOSED` when the client is (or gets) closed or destroyed — a send would be refused
   * then anyway — and with `CCS_ERR_ABORTED` when `signal` fires.
   */
  waitForCapacity(options: WaitOptions = {}): Promise<void> {
    const { signal } = options ?? {};
    if (signal !== undefined && !isAbortSignal(signal)) return Promise.reject(invalidOption(notASignal('waitForCapacity', signal)));
    if (this.#pool.state >= PoolState.Closing) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(aborted('waitForCapacity()', signal));
    if (this.#outbox.hasRoom) return Promise.resolve();
    this.#outbox.wantCapacity();
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#capacityWaiters.push(waiter);
      if (signal === undefined) return;
      const onAbort = (): void => {
        const i = this.#capacityWaiters.indexOf(waiter);
        if (i !== -1) this.#capacityWaiters.splice(i, 1);
        reject(aborted('waitForCapacity()', signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.resolve = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      waiter.reject = (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      };
    });
  }

  /** A snapshot of gauges and counters, for a metrics exporter. */
  stats(): CcsStats {
    const { online, draining, connecting, pending, perConnection } = this.#pool.gauges();
    return this.#counters.snapshot({
      connections: { online, draining, connecting },
      perConnection,
      pending,
      queued: this.#outbox.queued,
      waitingRetry: this.#outbox.waiting,
      throttledTargets: this.#outbox.throttledTargets,
      receiptsWaiting: this.#receipts.size,
    });
  }

  /**
   * `stats()` in the Prometheus text exposition format (`ccs_…_total` counters, gauges, the
   * `ccs_ack_latency_seconds` histogram), for a `/metrics` endpoint. `labels` are added to every
   * sample (e.g. `{ instance: 'eu-1' }`).
   */
  metrics(labels?: Readonly<Record<string, string>>): string {
    return renderPrometheus(this.stats(), labels);
  }

  /** Lets the process exit even while this client has work (like `socket.unref()`). */
  unref(): this {
    this.#keepAlive.embedderRef = false;
    this.#refreshKeepAlive();
    return this;
  }

  /** Undoes `unref()`: a client with work keeps the process alive again (the default). */
  ref(): this {
    this.#keepAlive.embedderRef = true;
    this.#refreshKeepAlive();
    return this;
  }

  /**
   * Graceful shutdown: refuses new sends, waits (up to `timeoutMs`) until every accepted message is
   * answered and every running upstream handler has finished (and its ACK went out), then ends the
   * streams. Whatever is still unanswered then rejects with `CCS_ERR_CLOSED`, and so does every
   * receipt promise still waiting (receipts that arrive during the wait settle theirs; close does
   * not wait for receipts — await them first if they matter). Rejects with a `StoreError`
   * (`CCS_ERR_STORE`, `operation` `close`) when a store fails to close; the client is closed all the same.
   */
  close(options: CloseOptions = {}): Promise<void> {
    // Checked before anything starts, as send's: `null` threw a TypeError out of close() itself, and
    // a timeoutMs of -1, NaN or '5000' waited for nothing (a timer of 1 ms) without a word.
    const timeoutMs = options?.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > MAX_DURATION_MS) {
      return Promise.reject(invalidOption(`close option timeoutMs must be a number from 0 to ${MAX_DURATION_MS} ms, got ${typeof timeoutMs === 'number' ? timeoutMs : typeof timeoutMs}`));
    }
    if (this.#closePromise) return this.#closePromise;
    if (this.#pool.state === PoolState.Closed) return Promise.resolve();
    // Never connected (or connect() failed): there is nothing to wait for.
    const neverOnline = this.#pool.state === PoolState.Idle || this.#pool.state === PoolState.Connecting;
    this.#pool.beginClose();
    this.#rejectCapacityWaiters(new ClosedError('the client is closing'));
    // The iterator's consumer finishes the message it holds (and it is ACKed) but gets no more.
    this.#inbox.stop();
    this.#closePromise = (async () => {
      if (!neverOnline && !this.#idle()) {
        const clock = this.#o.clock;
        await new Promise<void>((resolve) => {
          const timer = this.#keepAlive.apply(clock.setTimer(resolve, timeoutMs));
          this.#closeTimer = timer;
          this.#idleWaiter = () => {
            clock.clearTimer(timer);
            resolve();
          };
          this.#outbox.dispatch();
        });
        this.#idleWaiter = undefined;
        if (this.#closeTimer !== undefined) this.#o.clock.clearTimer(this.#closeTimer);
        this.#closeTimer = undefined;
      }
      this.#outbox.failAll(new ClosedError('the client closed before this message was answered'), this.#pool.stop(new ClosedError('the client was closed')));
      this.#receipts.failAll(new ClosedError('the client closed before the delivery receipt arrived'));
      this.#inbox.end();
      await this.#pool.closeAll(Math.min(timeoutMs, 2000));
      // A destroy() during the wait closed the stores already (and reported what failed there).
      if (this.#storesClosing !== undefined) {
        await this.#storesClosing;
        return;
      }
      const [first, ...more] = await this.#closeStores();
      for (const err of more) this.#emitError(err);
      if (first !== undefined) throw first;
    })();
    return this.#closePromise;
  }

  /** `await using client = new CcsClient(…)`: a graceful `close()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Closes everything at once; every unsettled promise rejects with `CCS_ERR_CLOSED`. The stores are
   * closed too; one that fails is reported on `error`, or as a process warning when nobody listens.
   */
  destroy(): void {
    if (this.#pool.state === PoolState.Closed && this.#pool.empty) return;
    this.#shutDown(new ClosedError('the client was destroyed'), new ClosedError('the client was destroyed before the delivery receipt arrived'));
  }

  /** Closes everything at once: every unsettled promise rejects with `error` (receipt waits with `receiptError`). */
  #shutDown(error: Error, receiptError: Error): void {
    const owed = this.#pool.stop(error);
    this.#outbox.failAll(error, owed);
    this.#receipts.failAll(receiptError);
    this.#rejectCapacityWaiters(error);
    this.#inbox.end();
    this.#idleWaiter?.();
    this.#pool.destroyAll();
    // No caller to reject here (destroy(), or reconnecting given up): a store that fails to close is
    // reported. Once: a destroy() after close() began closing them leaves that close to report it.
    if (this.#storesClosing !== undefined) return;
    void this.#closeStores().then((errs) => {
      for (const err of errs) this.#reportUnawaited(err);
    });
  }

  /**
   * A failure no call will ever reject with: a store that failed to close in a teardown (`destroy()`,
   * reconnecting stopped). On `error` when someone listens, as every background failure; with no
   * listener, a process warning (`process.emitWarning`: printed on stderr, `process.on('warning')`
   * sees the error with its `code` and `cause`) — never a throw, and never nothing: a store that did
   * not close may not have written its last records, and after a teardown no `stats()`, promise or
   * later event can say so (a `close()` after `destroy()` resolves: there is nothing left to close).
   * The warning shows the error's own message, never its `cause`'s text.
   */
  #reportUnawaited(err: CcsError): void {
    if (this.listenerCount('error') > 0) this.#emit('error', err);
    else process.emitWarning(err);
  }

  /**
   * Closes both stores, each whatever the other does; resolves with their failures as `StoreError`s
   * (`operation` `close`, the store's error the `cause`; a store's own `CcsError` as it is), never
   * rejects. A store's `close()` that threw escaped `destroy()` (the dedup store then never closed),
   * one whose promise rejected was an unhandled rejection there, and `close()` rejected with the
   * store's plain error. Called once per client: a `destroy()` during `close()`'s wait closed each
   * store twice (a store whose second close fails made `close()` reject though all was well).
   */
  #closeStores(): Promise<CcsError[]> {
    const closed = (store: { close(): Promise<void> | void }, which: 'outbox' | 'dedup'): Promise<CcsError | undefined> => {
      const failed = (err: unknown): CcsError => err instanceof CcsError ? err : new StoreError('close', `the ${which} store failed to close`, { cause: err });
      try {
        return Promise.resolve(store.close()).then(() => undefined, failed);
      } catch (err) {
        return Promise.resolve(failed(err));
      }
    };
    this.#storesClosing = Promise.all([closed(this.#o.store, 'outbox'), closed(this.#o.dedupStore, 'dedup')]).then((errs) => errs.filter((e): e is CcsError => e !== undefined));
    return this.#storesClosing;
  }

  #idle(): boolean {
    return this.#outbox.outstanding === 0 && !this.#inbox.busy;
  }

  #checkIdle(): void {
    if (this.#idleWaiter !== undefined && this.#idle()) this.#idleWaiter();
  }

  #refreshKeepAlive(): void {
    if (this.#closeTimer !== undefined) this.#keepAlive.apply(this.#closeTimer);
    this.#outbox.refreshKeepAlive();
    this.#pool.refreshKeepAlive();
    this.#receipts.refreshKeepAlive();
    this.#storeDeadlines.refreshKeepAlive();
  }

  /** What a call on a closing or closed client is refused with (checked by the caller: the state is at least `Closing`). */
  #closedError(): ClosedError {
    return new ClosedError(this.#pool.state === PoolState.Closing ? 'the client is closing' : 'the client is closed');
  }

  #resolveCapacityWaiters(): void {
    const waiters = this.#capacityWaiters;
    this.#capacityWaiters = [];
    for (const w of waiters) w.resolve();
  }

  #rejectCapacityWaiters(err: Error): void {
    const waiters = this.#capacityWaiters;
    this.#capacityWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  #emitSettled(record: OutboxRecord, outcome: SendResult | Error): void {
    const event: SettledEvent = outcome instanceof Error
      ? { messageId: record.id, result: undefined, error: outcome, retries: record.retries }
      : { messageId: record.id, result: outcome, error: undefined, retries: record.retries };
    this.#emit('settled', event);
  }

  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.#emit('error', err);
  }

  /**
   * Emits an event from inside the client's own processing (a socket read, an ACK, a reconnect). A
   * listener that throws must not unwind that processing: thrown into a socket read it ended the
   * connection (a throwing `receipt` listener closed the connection at every receipt, which was never
   * ACKed), and thrown out of the pool it skipped the rest of a transition (a throwing `offline`
   * listener left the connection never replaced; a throwing `online` one left `connect({ all: true })`
   * waiting for good). So its error is re-thrown on its own from `process.nextTick`, an uncaught
   * exception as a `dispatch()` callback's is (see CallbackQueue); the listeners after it do not run,
   * as with any `EventEmitter`.
   */
  #emit<K extends keyof CcsClientEvents>(event: K, ...args: CcsClientEvents[K]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      throwUncaught(err);
    }
  }
}

/** A per-call option that cannot be used. */
function invalidOption(message: string): CcsError {
  return new CcsError('CCS_ERR_INVALID_OPTION', message);
}

/**
 * What is wrong with a send's `timeoutMs` or `signal`, or `undefined`. Checked here because the
 * outbox takes them as they come: a `timeoutMs` of `'5000'`, `-1` or `NaN` meant no timeout at
 * all, silently, and a `signal` that is not an `AbortSignal` threw from inside the outbox halfway
 * through accepting the message.
 */
function perSendProblem(call: 'send' | 'dispatch', options: DispatchOptions): string | undefined {
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined) {
    if (typeof timeoutMs !== 'number') return `${call} option timeoutMs must be a number of milliseconds, got ${typeof timeoutMs}`;
    if (!(timeoutMs >= 0) || timeoutMs > MAX_DURATION_MS) return `${call} option timeoutMs must be from 0 (no timeout) to ${MAX_DURATION_MS} ms (about 24.8 days, the longest a timer can wait), got ${timeoutMs}`;
  }
  if (signal !== undefined && !isAbortSignal(signal)) return notASignal(call, signal);
  return undefined;
}

function notASignal(call: string, signal: unknown): string {
  return `${call} option signal must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`;
}

/** An `AbortSignal`, or anything that behaves as one where the outbox uses it (`aborted`, `reason`, the listener methods). */
function isAbortSignal(v: unknown): v is AbortSignal {
  if (v instanceof AbortSignal) return true;
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<AbortSignal>;
  return typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function';
}

/** An unusable per-call option, thrown where a call returns no promise to reject (`dispatch`). */
function invalidOptionType(message: string): TypeError & { code: 'CCS_ERR_INVALID_OPTION' } {
  return Object.assign(new TypeError(message), { code: 'CCS_ERR_INVALID_OPTION' as const });
}

/** The rejection of a wait whose `AbortSignal` fired; the signal's reason is the cause. */
function aborted(what: string, signal: AbortSignal): CcsError {
  return new CcsError('CCS_ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}
