import { DedupWindow } from './dedup.js';
import type { SendResult } from './outbound.js';
import type { DedupClaim, OutboxRecord, OutboxStore, OutboxStoreHost, UpstreamDedupStore } from './store.js';

/** Holes left by removed records before a compaction is considered (see `remove`). */
const COMPACT_MIN = 256;

/**
 * The default {@link OutboxStore}: the queue in this process's memory, synchronous, nothing per
 * message beyond a slot in a ring. New records wait in a power-of-two ring addressed by absolute
 * position (kept in `storeSlot`), so removing one that settled while queued (timeout, abort) clears
 * its slot at once instead of keeping it reachable until dispatch reaches it; holes are compacted
 * once they outnumber the living. Records going out again wait in a small array in `seq` order,
 * ahead of the ring (they are all older than anything in it).
 */
export class MemoryOutboxStore implements OutboxStore {
  /** Memory is not shared: one owner, this process. */
  readonly ownerId = 'memory';
  #ring: Array<OutboxRecord | undefined> = new Array<OutboxRecord | undefined>(64);
  #mask = 63;
  /** Absolute positions: the ring holds [#head, #tail). */
  #head = 0;
  #tail = 0;
  #holes = 0;
  readonly #front: OutboxRecord[] = [];
  #queued = 0;

  get queued(): number {
    return this.#queued;
  }

  attach(_host: OutboxStoreHost): void {
    // Everything is recorded at the call: nothing to wake later, nothing to adopt.
  }

  append(record: OutboxRecord): void {
    record.state = 'queued';
    if (this.#tail - this.#head === this.#ring.length) this.#grow();
    this.#ring[this.#tail & this.#mask] = record;
    record.storeSlot = this.#tail++;
    this.#queued++;
  }

  takeNext(): OutboxRecord | undefined {
    let record = this.#front.shift();
    if (record === undefined) {
      const ring = this.#ring;
      while (this.#head < this.#tail) {
        const slot = this.#head++ & this.#mask;
        record = ring[slot];
        ring[slot] = undefined;
        if (record !== undefined) break;
        this.#holes--;
      }
      if (record === undefined) return undefined;
    }
    record.state = 'inflight';
    record.storeSlot = -1;
    this.#queued--;
    return record;
  }

  requeue(record: OutboxRecord): void {
    record.state = 'queued';
    record.storeSlot = -1;
    const front = this.#front;
    let i = front.length;
    while (i > 0 && (front[i - 1] as OutboxRecord).seq > record.seq) i--;
    front.splice(i, 0, record);
    this.#queued++;
  }

  park(record: OutboxRecord): void {
    record.state = 'waiting';
  }

  remove(record: OutboxRecord, _outcome?: SendResult | Error): void {
    if (record.state !== 'queued') return;
    if (record.storeSlot >= 0) {
      this.#queued--;
      this.#ring[record.storeSlot & this.#mask] = undefined;
      record.storeSlot = -1;
      // No connection may take messages for a long time while new sends keep taking the freed
      // room: compacting once the holes outnumber the living keeps the ring within twice maxQueued.
      if (++this.#holes >= COMPACT_MIN && this.#holes > this.#tail - this.#head - this.#holes) this.#compact();
    } else {
      const i = this.#front.indexOf(record);
      // Not here at all (an append that failed, see Outbox.submit): nothing to count down — counted,
      // `queued` went below 0 and the outbox stopped writing new messages at once.
      if (i === -1) return;
      this.#front.splice(i, 1);
      this.#queued--;
    }
  }

  *queuedRecords(): IterableIterator<OutboxRecord> {
    yield* this.#front;
    for (let p = this.#head; p < this.#tail; p++) {
      const r = this.#ring[p & this.#mask];
      if (r !== undefined) yield r;
    }
  }

  flush(): undefined {
    return undefined;
  }

  close(): void {
    // Nothing outlives the process.
  }

  #compact(): void {
    const ring = this.#ring;
    let to = this.#head;
    for (let p = this.#head; p < this.#tail; p++) {
      const r = ring[p & this.#mask];
      if (r === undefined) continue;
      ring[p & this.#mask] = undefined;
      ring[to & this.#mask] = r;
      r.storeSlot = to++;
    }
    this.#tail = to;
    this.#holes = 0;
  }

  #grow(): void {
    const old = this.#ring;
    const next = new Array<OutboxRecord | undefined>(old.length * 2);
    const mask = next.length - 1;
    for (let p = this.#head; p < this.#tail; p++) next[p & mask] = old[p & this.#mask];
    this.#ring = next;
    this.#mask = mask;
  }
}

/**
 * The default {@link UpstreamDedupStore}: a window of the last `capacity` (from, message_id) pairs
 * in memory. Claims still running are never evicted (forgetting one would let a resend run the
 * handler twice), so the window exceeds `capacity` by at most the handlers running at once.
 */
export class MemoryDedupStore implements UpstreamDedupStore {
  readonly #window: DedupWindow<boolean>;

  /** @param capacity pairs remembered (the client's `dedupWindow`). */
  constructor(capacity: number) {
    this.#window = new DedupWindow<boolean>(capacity, (done) => done);
  }

  claim(from: string, messageId: string): DedupClaim {
    const key = DedupWindow.key(from, messageId);
    const done = this.#window.get(key);
    if (done !== undefined) return done ? 'done' : 'running';
    this.#window.add(key, false);
    return 'new';
  }

  complete(from: string, messageId: string): void {
    this.#window.add(DedupWindow.key(from, messageId), true);
  }

  release(from: string, messageId: string): void {
    this.#window.delete(DedupWindow.key(from, messageId));
  }

  close(): void {
    // Nothing to release.
  }
}
