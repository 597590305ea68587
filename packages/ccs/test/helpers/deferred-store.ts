// An OutboxStore that answers later, the way a networked store does: appended records become
// takeable only once "recorded" — at the next flush or macrotask — and the store then wakes the
// outbox. It wraps MemoryOutboxStore, so the conformance suite can prove the outbox's async path
// (append → wake → dispatch) without a server.
import { MemoryOutboxStore } from '../../src/memory-store.js';
import type { SendResult } from '../../src/outbound.js';
import type { OutboxRecord, OutboxStore, OutboxStoreHost } from '../../src/store.js';

export class DeferredOutboxStore implements OutboxStore {
  readonly ownerId = 'deferred';
  readonly #inner = new MemoryOutboxStore();
  #pending: OutboxRecord[] = [];
  #host: OutboxStoreHost | undefined;
  #flushing: Promise<void> | undefined;
  /** How many times the store woke the outbox. */
  wakes = 0;
  #batches = 0;
  #refusing: Set<OutboxRecord> | undefined;
  /** @param refuseEvery refuse every n-th batch as a store that is down would (0: never). */
  constructor(readonly refuseEvery = 0) {}

  get queued(): number {
    return this.#inner.queued + this.#pending.length;
  }

  attach(host: OutboxStoreHost): void {
    this.#host = host;
  }

  append(record: OutboxRecord): void {
    record.state = 'queued';
    this.#pending.push(record);
    this.#schedule();
  }

  takeNext(): OutboxRecord | undefined {
    return this.#inner.takeNext();
  }

  requeue(record: OutboxRecord): void {
    this.#inner.requeue(record);
  }

  park(record: OutboxRecord): void {
    this.#inner.park(record);
  }

  remove(record: OutboxRecord, outcome: SendResult | Error): void {
    if (this.#refusing?.has(record)) return;
    const i = this.#pending.indexOf(record);
    if (i === -1) this.#inner.remove(record, outcome);
    else this.#pending.splice(i, 1);
  }

  *queuedRecords(): IterableIterator<OutboxRecord> {
    yield* this.#inner.queuedRecords();
    yield* this.#pending;
  }

  flush(): Promise<void> | undefined {
    return this.#flushing;
  }

  close(): void {
    this.#pending = [];
  }

  #schedule(): void {
    // One "round trip" per tick for everything appended in it.
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(() => {
      this.#flushing = undefined;
      const batch = this.#pending;
      this.#pending = [];
      if (batch.length > 0 && this.refuseEvery > 0 && ++this.#batches % this.refuseEvery === 0) {
        resolve();
        // Not recorded: the store no longer holds them (remove() must not count them again).
        this.#refusing = new Set(batch);
        this.#host?.refused(batch, new Error('store down'));
        this.#refusing = undefined;
        return;
      }
      for (const r of batch) this.#inner.append(r);
      resolve();
      if (batch.length > 0) {
        this.wakes++;
        this.#host?.wake();
      }
    }));
  }
}
