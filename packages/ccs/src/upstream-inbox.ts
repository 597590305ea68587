import type { ReceiptMessage, UpstreamMessage } from '@ccs-xmpp/stanza';
import type { CcsConnection } from './connection.js';
import { DedupWindow } from './dedup.js';
import { ccsChannels } from './diagnostics.js';
import { CcsError, ClosedError } from './errors.js';
import type { UpstreamHandler } from './options.js';
import type { Counters } from './stats.js';
import type { DedupClaim, UpstreamDedupStore } from './store.js';
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
  readonly #running = new Map<string, Running>();
  /** The client is closing: no new upstream message is taken on. */
  #stopped = false;
  #handler: UpstreamHandler | undefined;
  #iterator: UpstreamIterator | undefined;
  #handlersRunning = 0;

  constructor(options: { dedup: UpstreamDedupStore; ackOnReceipt: boolean; handler: UpstreamHandler | undefined; flush: () => Promise<void> | undefined }, events: InboxEvents, counters: Counters) {
    this.#dedup = options.dedup;
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

  /** Closed: the iteration ends. */
  end(): void {
    this.#iterator?.end();
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
    const claim = this.#dedup.claim(msg.from, msg.messageId);
    if (typeof claim === 'string') this.#claimed(conn, msg, key, claim);
    else claim.then((c) => this.#claimed(conn, msg, key, c), (err: unknown) => this.#storeFailed(err));
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
        void this.#dedup.complete(msg.from, msg.messageId);
        this.#events.receipt(msg);
      } else this.#counters.duplicatesDropped++;
      this.#ack(conn, msg.from, msg.messageId);
    };
    const claim = this.#dedup.claim(msg.from, msg.messageId);
    if (typeof claim === 'string') claimed(claim);
    else claim.then(claimed, (err: unknown) => this.#storeFailed(err));
  }

  #claimed(conn: CcsConnection, msg: UpstreamMessage, key: string, claim: DedupClaim): void {
    if (claim === 'new' && this.#stopped) {
      // Claimed (asynchronously) after close() began: handed back, left un-ACKed (see `stop`).
      void this.#dedup.release(msg.from, msg.messageId);
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
      void this.#dedup.complete(msg.from, msg.messageId);
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
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      this.#handlersRunning++;
      (result as Promise<void>).then(
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
      void this.#dedup.complete(r.msg.from, r.msg.messageId);
      for (const c of r.conns) this.#ack(c, r.msg.from, r.msg.messageId);
    }
    this.#events.progress();
  }

  /** The consumer failed: no ACK, and forget it so that CCS's resend is handled again. */
  #failed(r: Running | undefined, msg: UpstreamMessage, err: unknown): void {
    if (ccsChannels.upstreamHandled.hasSubscribers) ccsChannels.upstreamHandled.publish({ from: msg.from, messageId: msg.messageId, error: err });
    if (r !== undefined && this.#running.get(r.key) === r) {
      this.#running.delete(r.key);
      void this.#dedup.release(r.msg.from, r.msg.messageId);
    }
    if (!(err instanceof ClosedError)) this.#events.error(new CcsError('CCS_ERR_HANDLER', `the upstream handler failed for message ${JSON.stringify(msg.messageId)}; it was not ACKed`, { cause: err }));
    this.#events.progress();
  }

  #ack(conn: CcsConnection, to: string, messageId: string): void {
    const pending = this.#flush();
    if (pending === undefined) {
      // Counted in upstreamAcked once flushed to the socket (the pool's onAcksWritten), not here.
      if (conn.ack(to, messageId) && ccsChannels.upstreamAcked.hasSubscribers) ccsChannels.upstreamAcked.publish({ connectionId: conn.id, to, messageId });
      return;
    }
    pending.then(() => {
      if (conn.ack(to, messageId) && ccsChannels.upstreamAcked.hasSubscribers) ccsChannels.upstreamAcked.publish({ connectionId: conn.id, to, messageId });
    }, (err: unknown) => this.#storeFailed(err));
  }

  #storeFailed(err: unknown): void {
    this.#events.error(err instanceof Error ? err : new CcsError('CCS_ERR_PROTOCOL', String(err)));
  }
}
