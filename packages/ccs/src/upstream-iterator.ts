import type { UpstreamMessage } from '@ccs-xmpp/stanza';
import { RingBuffer } from './ring-buffer.js';

/** What the iterator reports about a message it handed out (the inbox ACKs or releases it). */
export interface IteratorOwner {
  /** The consumer finished with it: ACK it. */
  done(ticket: object): void;
  /** It will never be handled here (the iteration ended first): leave it un-ACKed. */
  dropped(ticket: object): void;
  /** The iteration ended. */
  ended(): void;
}

/** Stands in the outstanding queue for a message handed out without a ticket (already ACKed). */
const NO_TICKET = {};

/**
 * The async iterator behind `client.upstream()`. A message is done when the consumer asks for the
 * next one (the oldest it holds, when it called `next()` again before the last call settled), or
 * leaves the loop with `break`; messages buffered when the iteration ends are dropped
 * un-ACKed, so CCS resends them.
 */
export class UpstreamIterator implements AsyncIterableIterator<UpstreamMessage> {
  readonly #buffer = new RingBuffer<[UpstreamMessage, object | undefined]>();
  #takers: Array<(r: IteratorResult<UpstreamMessage>) => void> = [];
  /**
   * Handed out and not finished, oldest first (`NO_TICKET` for a message with none). A queue, not
   * one slot: a consumer that calls `next()` again before the last call settled (`Promise.all`, a
   * prefetching adapter) holds several, and a second one written over the first lost its ticket —
   * never ACKed, and its resends dropped as duplicates of a handler "running" for good.
   */
  readonly #outstanding: object[] = [];
  #holding = 0;
  #ended = false;
  #stopping = false;
  readonly #owner: IteratorOwner;

  constructor(owner: IteratorOwner) {
    this.#owner = owner;
  }

  /** Hands a message to the consumer; `ticket` (when given) is reported back through the owner. */
  push(msg: UpstreamMessage, ticket: object | undefined): void {
    if (this.#ended) {
      if (ticket) this.#owner.dropped(ticket);
      return;
    }
    const taker = this.#takers.shift();
    if (taker) {
      this.#handOut(ticket);
      taker({ value: msg, done: false });
    } else this.#buffer.push([msg, ticket]);
  }

  /** True while the consumer holds a message it has not finished (the next `next()` finishes it). */
  get busy(): boolean {
    return this.#holding > 0;
  }

  /** The client is closing: the message being handled still counts; no further ones are handed out. */
  stop(): void {
    this.#stopping = true;
    for (const t of this.#takers.splice(0)) t({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<UpstreamMessage>> {
    this.#finishOutstanding();
    if (this.#stopping) return Promise.resolve({ value: undefined, done: true });
    const item = this.#buffer.shift();
    if (item !== undefined) {
      this.#handOut(item[1]);
      return Promise.resolve({ value: item[0], done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  return(): Promise<IteratorResult<UpstreamMessage>> {
    // `break` out of `for await`: the last message was handled; the unread ones are not ACKed.
    while (this.#outstanding.length > 0) this.#finishOutstanding();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration; buffered messages are dropped un-ACKed (CCS resends them). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#owner.ended();
    for (const [, ticket] of this.#buffer.drain()) if (ticket) this.#owner.dropped(ticket);
    for (const t of this.#takers.splice(0)) t({ value: undefined, done: true });
  }

  #handOut(ticket: object | undefined): void {
    this.#outstanding.push(ticket ?? NO_TICKET);
    if (ticket) this.#holding++;
  }

  /** The consumer asked for another message: the oldest one it holds is finished. */
  #finishOutstanding(): void {
    const t = this.#outstanding.shift();
    if (t === undefined || t === NO_TICKET) return;
    this.#holding--;
    this.#owner.done(t);
  }
}
