// An OutboxStore that answers later, the way a networked store does: appended records become
// takeable only once "recorded" — at the next flush or macrotask — and the store then wakes the
// outbox. It wraps MemoryOutboxStore, so the conformance suite can prove the outbox's async path
// (append → wake → dispatch) without a server.
import { MemoryOutboxStore } from '../../src/memory-store.js';
import type { OutboxRecord, OutboxStore, OutboxStoreHost } from '../../src/store.js';

export class DeferredOutboxStore implements OutboxStore {
  readonly ownerId = 'deferred';
  readonly #inner = new MemoryOutboxStore();
  #pending: OutboxRecord[] = [];
  #host: OutboxStoreHost | undefined;
  #flushing: Promise<void> | undefined;
  /** How many times the store woke the outbox. */
  wakes = 0;

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

  remove(record: OutboxRecord): void {
    const i = this.#pending.indexOf(record);
    if (i === -1) this.#inner.remove(record);
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
      for (const r of batch) this.#inner.append(r);
      resolve();
      if (batch.length > 0) {
        this.wakes++;
        this.#host?.wake();
      }
    }));
  }
}
