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

/**
 * The async iterator behind `client.upstream()`. A message is done when the consumer asks for the
 * next one (or leaves the loop with `break`); messages buffered when the iteration ends are dropped
 * un-ACKed, so CCS resends them.
 */
export class UpstreamIterator implements AsyncIterableIterator<UpstreamMessage> {
  readonly #buffer = new RingBuffer<[UpstreamMessage, object | undefined]>();
  #takers: Array<(r: IteratorResult<UpstreamMessage>) => void> = [];
  #outstanding: object | undefined;
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
      this.#outstanding = ticket;
      taker({ value: msg, done: false });
    } else this.#buffer.push([msg, ticket]);
  }

  /** True while the consumer holds a message it has not finished (the next `next()` finishes it). */
  get busy(): boolean {
    return this.#outstanding !== undefined;
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
      this.#outstanding = item[1];
      return Promise.resolve({ value: item[0], done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  return(): Promise<IteratorResult<UpstreamMessage>> {
    // `break` out of `for await`: the last message was handled; the unread ones are not ACKed.
    this.#finishOutstanding();
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

  #finishOutstanding(): void {
    const t = this.#outstanding;
    this.#outstanding = undefined;
    if (t) this.#owner.done(t);
  }
}
