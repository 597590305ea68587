import type { ReceiptMessage, UpstreamMessage } from '@ccs-xmpp/stanza';
import type { CcsConnection } from './connection.js';
import { DedupWindow } from './dedup.js';
import { ccsChannels } from './diagnostics.js';
import { CcsError, ClosedError, StoreError, quote } from './errors.js';
import type { UpstreamHandler } from './options.js';
import type { Counters } from './stats.js';
import type { DedupClaim, UpstreamDedupStore } from './store.js';
import type { StoreDeadlines } from './store-deadlines.js';
import { UpstreamIterator } from './upstream-iterator.js';

/** What the inbox reports to the client. */
export interface InboxEvents {
  /** Whether someone listens to the client's `upstream` event. */
  hasListener(): boolean;
  /** Emit `upstream` (no handler or iterator consumes it). */
  upstream(msg: UpstreamMessage): void;
  /** Emit `receipt`. */
  receipt(msg: ReceiptMessage): void;
  /**
   * A receipt arrived (duplicates too, before de-duplication: with a shared store the first copy
   * may have been claimed elsewhere): settle the promise waiting for it. True when one waited.
   */
  receiptArrived(msg: ReceiptMessage): boolean;
  /** A non-fatal error (a handler failed, the dedup store failed). */
  error(err: Error): void;
  /** A handler finished (the client may have been waiting for that to close). */
  progress(): void;
}

/** An upstream message whose handler runs here. */
interface Running {
  readonly key: string;
  readonly msg: UpstreamMessage;
  /** Connections that delivered it (or a duplicate) while the handler ran: each gets an ACK. */
  readonly conns: CcsConnection[];
}

/**
 * Upstream delivery: de-duplication through the {@link UpstreamDedupStore}, the handler or the
 * iterator, and the ACK after the handler succeeded, on every connection that delivered the message.
 * An ACK also waits for the outbox store's `flush()` (when one is pending), so nothing is
 * acknowledged before the replies sent before it are recorded.
 */
export class UpstreamInbox {
  readonly #dedup: UpstreamDedupStore;
  readonly #events: InboxEvents;
  readonly #counters: Counters;
  readonly #ackOnReceipt: boolean;
  readonly #flush: () => Promise<void> | undefined;
  readonly #deadlines: StoreDeadlines;
  readonly #running = new Map<string, Running>();
  /** The client is closing: no new upstream message is taken on. */
  #stopped = false;
  #handler: UpstreamHandler | undefined;
  #iterator: UpstreamIterator | undefined;
  #handlersRunning = 0;

  /** @param options.deadlines bounds the waits for a store's promise (`claim`, `flush`): see {@link StoreDeadlines}. */
  constructor(options: { dedup: UpstreamDedupStore; ackOnReceipt: boolean; handler: UpstreamHandler | undefined; flush: () => Promise<void> | undefined; deadlines: StoreDeadlines }, events: InboxEvents, counters: Counters) {
    this.#dedup = options.dedup;
    this.#deadlines = options.deadlines;
    this.#ackOnReceipt = options.ackOnReceipt;
    this.#handler = options.handler;
    this.#flush = options.flush;
    this.#events = events;
    this.#counters = counters;
  }

  /** Sets (or replaces) the handler. */
  set handler(handler: UpstreamHandler | undefined) {
    this.#handler = handler;
  }

  /** True while a handler runs or the iterator's consumer holds a message. */
  get busy(): boolean {
    return this.#handlersRunning > 0 || (this.#iterator?.busy ?? false);
  }

  /** A new iterator (one at a time); `ended` makes it end at once (the client is closed). */
  iterator(ended: boolean): UpstreamIterator {
    if (this.#iterator !== undefined) throw new CcsError('CCS_ERR_PROTOCOL', 'an upstream iterator is already active');
    const it: UpstreamIterator = new UpstreamIterator({
      done: (t) => this.#done(t as Running),
      dropped: (t) => this.#failed(t as Running, (t as Running).msg, new ClosedError('the upstream iterator ended')),
      ended: () => {
        if (this.#iterator === it) this.#iterator = undefined;
      },
    });
    this.#iterator = it;
    if (ended) it.end();
    return it;
  }

  /**
   * Closing: the iterator's consumer finishes what it holds but gets nothing more, and a new upstream
   * message is left un-ACKed — its handler could not send a reply any more (`send` refuses while
   * closing), so CCS delivers it again to another connection or process instead.
   */
  stop(): void {
    this.#stopped = true;
    this.#iterator?.stop();
  }

  /** Closed: the iteration ends, and no store's answer is waited for any more. */
  end(): void {
    this.#iterator?.end();
    this.#deadlines.clear();
  }

  onUpstream(conn: CcsConnection, msg: UpstreamMessage): void {
    this.#counters.upstreamReceived++;
    if (ccsChannels.upstreamReceived.hasSubscribers) ccsChannels.upstreamReceived.publish({ connectionId: conn.id, from: msg.from, messageId: msg.messageId, category: msg.category });
    const key = DedupWindow.key(msg.from, msg.messageId);
    const running = this.#running.get(key);
    if (running !== undefined) {
      // Its handler runs here: ACK it on this connection too when done.
      this.#counters.duplicatesDropped++;
      if (ccsChannels.upstreamDuplicate.hasSubscribers) ccsChannels.upstreamDuplicate.publish({ connectionId: conn.id, from: msg.from, messageId: msg.messageId });
      if (!running.conns.includes(conn)) running.conns.push(conn);
      return;
    }
    if (this.#stopped || (this.#iterator === undefined && this.#handler === undefined && !this.#events.hasListener())) {
      // Nobody receives upstream messages here (e.g. a send-only tool): acknowledging one would
      // tell CCS it was handled and lose it. Left un-ACKed, CCS delivers it again later.
      this.#counters.upstreamUnhandled++;
      return;
    }
    const claim = this.#claim(msg);
    if (typeof claim === 'string') this.#claimed(conn, msg, key, claim);
    else if (claim !== undefined) this.#awaitClaim(claim, msg, (c) => this.#claimed(conn, msg, key, c));
  }

  onReceipt(conn: CcsConnection, msg: ReceiptMessage): void {
    this.#counters.upstreamReceived++;
    this.#counters.receipts++;
    const awaited = this.#events.receiptArrived(msg);
    const claimed = (claim: DedupClaim): void => {
      if (ccsChannels.receipt.hasSubscribers) {
        ccsChannels.receipt.publish({ connectionId: conn.id, messageId: msg.messageId, originalMessageId: msg.originalMessageId, status: msg.status, duplicate: claim !== 'new', awaited });
      }
      if (claim === 'new') {
        this.#complete(msg);
        this.#events.receipt(msg);
      } else this.#counters.duplicatesDropped++;
      this.#ack(conn, msg.from, msg.messageId);
    };
    const claim = this.#claim(msg);
    if (typeof claim === 'string') claimed(claim);
    else if (claim !== undefined) this.#awaitClaim(claim, msg, claimed);
  }

  /**
   * Waits for a claim's promise, at most the store timeout: past it the message is reported and
   * left un-ACKed (CCS delivers it again), and the store is told to stop working for it (`abandon`). A claim answered `new` after that is handed back (nothing
   * runs it here), any other late answer is dropped, and a late failure was already reported.
   */
  #awaitClaim(claim: Promise<DedupClaim>, msg: UpstreamMessage | ReceiptMessage, then: (claim: DedupClaim) => void): void {
    const wait = this.#deadlines.start(() => {
      // Nobody waits for it any more: a store that polls for it stops (bounded work after giving up).
      // One failure, one report: an abandon() that throws is the timed-out claim's cause (it was a
      // second error event, "could not claim", for the same message).
      let abandonFailed: { cause: unknown } | undefined;
      try {
        this.#dedup.abandon?.(claim);
      } catch (err) {
        abandonFailed = { cause: err };
      }
      this.#timedOut('claim', msg, abandonFailed);
    });
    claim.then((c) => {
      if (this.#deadlines.answer(wait)) {
        if (this.#claimAnswered(msg, c)) then(c);
      } else if (c === 'new') this.#release(msg);
    }, (err: unknown) => {
      if (this.#deadlines.answer(wait)) this.#storeFailed('claim', msg, err);
    });
  }

  /**
   * The dedup store's claim: an answer, a promise of one, or `undefined` when the store threw or
   * answered something else (reported; the message is left un-ACKed, so CCS delivers it again).
   */
  #claim(msg: UpstreamMessage | ReceiptMessage): DedupClaim | Promise<DedupClaim> | undefined {
    let claim: DedupClaim | Promise<DedupClaim>;
    try {
      claim = this.#dedup.claim(msg.from, msg.messageId);
    } catch (err) {
      this.#storeFailed('claim', msg, err);
      return undefined;
    }
    if (typeof claim === 'string') return this.#claimAnswered(msg, claim) ? claim : undefined;
    if (claim !== null && typeof claim === 'object' && typeof (claim as { then?: unknown }).then === 'function') return claim;
    this.#claimAnswered(msg, claim);
    return undefined;
  }

  /** True for one of the three answers a claim can have; anything else is the store's fault, reported. */
  #claimAnswered(msg: UpstreamMessage | ReceiptMessage, claim: unknown): claim is DedupClaim {
    if (claim === 'new' || claim === 'running' || claim === 'done') return true;
    const what = typeof claim === 'string' ? JSON.stringify(claim.slice(0, 40)) : typeof claim;
    this.#storeFailed('claim', msg, new TypeError(`a claim must be answered 'new', 'running' or 'done', not ${what}`));
    return false;
  }

  /** Tells the dedup store the message was handled; a store that fails is reported (the ACK still goes: the work is done). */
  #complete(msg: UpstreamMessage | ReceiptMessage): void {
    let done: void | Promise<void>;
    try {
      done = this.#dedup.complete(msg.from, msg.messageId);
    } catch (err) {
      this.#storeFailed('complete', msg, err);
      return;
    }
    if (done !== undefined) Promise.resolve(done).then(undefined, (err: unknown) => this.#storeFailed('complete', msg, err));
  }

  /** Hands a claim back (the handler failed, the client closes, the claim came too late); a store that fails is reported. */
  #release(msg: UpstreamMessage | ReceiptMessage): void {
    let done: void | Promise<void>;
    try {
      done = this.#dedup.release(msg.from, msg.messageId);
    } catch (err) {
      this.#storeFailed('release', msg, err);
      return;
    }
    if (done !== undefined) Promise.resolve(done).then(undefined, (err: unknown) => this.#storeFailed('release', msg, err));
  }

  #claimed(conn: CcsConnection, msg: UpstreamMessage, key: string, claim: DedupClaim): void {
    if (claim === 'new' && this.#stopped) {
      // Claimed (asynchronously) after close() began: handed back, left un-ACKed (see `stop`).
      this.#release(msg);
      this.#counters.upstreamUnhandled++;
      return;
    }
    if (claim !== 'new') {
      this.#counters.duplicatesDropped++;
      if (ccsChannels.upstreamDuplicate.hasSubscribers) ccsChannels.upstreamDuplicate.publish({ connectionId: conn.id, from: msg.from, messageId: msg.messageId });
      // Handled already: ACK it where it came in. Running elsewhere: CCS resends it until that ends.
      if (claim === 'done') this.#ack(conn, msg.from, msg.messageId);
      return;
    }
    const iterator = this.#iterator;
    const handler = this.#handler;
    if (this.#ackOnReceipt || (iterator === undefined && handler === undefined)) {
      this.#complete(msg);
      this.#ack(conn, msg.from, msg.messageId);
      if (iterator) iterator.push(msg, undefined);
      else if (handler) this.#run(handler, msg, undefined);
      else {
        this.#events.upstream(msg);
        if (ccsChannels.upstreamHandled.hasSubscribers) ccsChannels.upstreamHandled.publish({ from: msg.from, messageId: msg.messageId, error: undefined });
      }
      return;
    }
    const r: Running = { key, msg, conns: [conn] };
    this.#running.set(key, r);
    if (iterator) iterator.push(msg, r);
    else this.#run(handler as UpstreamHandler, msg, r);
  }

  #run(handler: UpstreamHandler, msg: UpstreamMessage, r: Running | undefined): void {
    let result: void | Promise<void>;
    try {
      result = handler(msg);
    } catch (err) {
      this.#failed(r, msg, err);
      return;
    }
    // `null` (from untyped code) is a synchronous success like `undefined`: reading `.then` off it
    // threw into the socket read and ended the connection. A thenable goes through Promise.resolve
    // (the same object for a native promise), so a `then` that throws fails the handler instead.
    if (result !== undefined && result !== null && typeof (result as Promise<void>).then === 'function') {
      this.#handlersRunning++;
      Promise.resolve(result).then(
        () => {
          this.#handlersRunning--;
          this.#done(r, msg);
        },
        (err: unknown) => {
          this.#handlersRunning--;
          this.#failed(r, msg, err);
        },
      );
    } else this.#done(r, msg);
  }

  /** The consumer finished: ACK on every connection that delivered it. */
  #done(r: Running | undefined, msg?: UpstreamMessage): void {
    const m = r?.msg ?? msg;
    if (m !== undefined && ccsChannels.upstreamHandled.hasSubscribers) ccsChannels.upstreamHandled.publish({ from: m.from, messageId: m.messageId, error: undefined });
    if (r !== undefined && this.#running.get(r.key) === r) {
      this.#running.delete(r.key);
      this.#complete(r.msg);
      for (const c of r.conns) this.#ack(c, r.msg.from, r.msg.messageId);
    }
    this.#events.progress();
  }

  /** The consumer failed: no ACK, and forget it so that CCS's resend is handled again. */
  #failed(r: Running | undefined, msg: UpstreamMessage, err: unknown): void {
    if (ccsChannels.upstreamHandled.hasSubscribers) ccsChannels.upstreamHandled.publish({ from: msg.from, messageId: msg.messageId, error: err });
    if (r !== undefined && this.#running.get(r.key) === r) {
      this.#running.delete(r.key);
      this.#release(r.msg);
    }
    if (!(err instanceof ClosedError)) this.#events.error(new CcsError('CCS_ERR_HANDLER', `the upstream handler failed for message ${quote(msg.messageId)}; it was not ACKed`, { cause: err }));
    this.#events.progress();
  }

  #ack(conn: CcsConnection, to: string, messageId: string): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#flush();
    } catch (err) {
      this.#storeFailed('flush', { messageId }, err);
      return;
    }
    // `null` (untyped code) is nothing pending, as `undefined` is; anything else goes through
    // Promise.resolve (the same object for a native promise): `.then` read off null, or a `then`
    // that threw, ran into the socket read and ended the connection.
    if (pending === undefined || pending === null) {
      // Counted in upstreamAcked once flushed to the socket (the pool's onAcksWritten), not here.
      if (conn.ack(to, messageId) && ccsChannels.upstreamAcked.hasSubscribers) ccsChannels.upstreamAcked.publish({ connectionId: conn.id, to, messageId });
      return;
    }
    // Bounded (see #awaitClaim): a flush that answers after the timeout ACKs nothing.
    const wait = this.#deadlines.start(() => this.#timedOut('flush', { messageId }));
    Promise.resolve(pending).then(() => {
      if (this.#deadlines.answer(wait) && conn.ack(to, messageId) && ccsChannels.upstreamAcked.hasSubscribers) ccsChannels.upstreamAcked.publish({ connectionId: conn.id, to, messageId });
    }, (err: unknown) => {
      if (this.#deadlines.answer(wait)) this.#storeFailed('flush', { messageId }, err);
    });
  }

  /** A store's promise did not settle within the store timeout: reported, the message left un-ACKed. */
  #timedOut(operation: 'claim' | 'flush', msg: { readonly messageId: string }, abandonFailed?: { cause: unknown }): void {
    const id = quote(msg.messageId);
    const ms = this.#deadlines.timeoutMs;
    this.#events.error(new StoreError(operation, operation === 'claim'
      ? `the dedup store did not answer the claim of upstream message ${id} within ${ms} ms (storeTimeoutMs): the store is unreachable or stalled, or a shared store's other instance is still handling the same message; it was neither handled nor ACKed here (CCS delivers it again)${abandonFailed === undefined ? '' : '; its abandon() threw (the cause)'}`
      : `the outbox store did not record what was sent before upstream message ${id}'s ACK within ${ms} ms (storeTimeoutMs); it was not ACKed (CCS delivers it again)`,
    abandonFailed === undefined ? { unavailable: true } : { unavailable: true, cause: abandonFailed.cause }));
  }

  /**
   * A store failed on an upstream message's behalf: reported on the client's `error` event as a
   * `StoreError` (a store's own `CcsError` as it is), never thrown into the connection's read path or
   * left as an unhandled rejection. The store's error is the `cause`; its text stays out of the message.
   */
  #storeFailed(operation: 'claim' | 'complete' | 'release' | 'flush', msg: { readonly messageId: string }, err: unknown): void {
    if (err instanceof CcsError) {
      this.#events.error(err);
      return;
    }
    const id = quote(msg.messageId);
    const what = operation === 'claim'
      ? `the dedup store could not claim upstream message ${id}; it was neither handled nor ACKed (CCS delivers it again)`
      : operation === 'complete'
        ? `the dedup store could not record upstream message ${id} as handled; a resend of it would be handled again`
        : operation === 'release'
          ? `the dedup store could not release its claim on upstream message ${id}`
          : `the outbox store could not record what was sent before upstream message ${id}'s ACK; it was not ACKed (CCS delivers it again)`;
    this.#events.error(new StoreError(operation, what, { cause: err }));
  }
}
