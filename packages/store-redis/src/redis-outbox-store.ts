import { ClosedError, type OutboxRecord, type OutboxStore, type OutboxStoreHost, type SendResult } from '@ccs-xmpp/ccs';
import type { OutboxJournal, RecordOutcome } from './outbox-journal.js';
import type { TickBatcher } from './tick-batcher.js';
import type { OutcomesMode } from './options.js';
import type { AdoptedRecord } from './lease-keeper.js';
import { StoreError } from './errors.js';
import { parseRecord, serializeRecord } from './record.js';

/** `storeSlot` values: where a queued record waits in this store. */
const NONE = -1;
const FRESH = 1;
const FRONT = 2;
const PENDING = 3;

/** Holes left by records removed while queued before the fresh queue is compacted. */
const COMPACT_MIN = 256;

/** What the outbox store needs from the store that owns the connection. */
export interface OutboxOwner {
  /** The outbox attached: adoption may start (records need somewhere to go). */
  outboxAttached(): void;
  /** Releases the shared store (ref-counted with the dedup store). */
  closeShared(): Promise<void>;
}

/**
 * The client's `OutboxStore` on Redis. The queue itself (ordering, takeNext) lives in this
 * process's memory, as in the memory store; Redis holds the records durably and decides who owns
 * them:
 * - `append` writes the record (batched per tick with every other append); the record becomes
 *   takeable only when Redis has it, and the outbox is woken then (`host.wake()`). So a message is in
 *   Redis before it is written to a connection, and nothing on the hot path awaits a round trip.
 *   When the append fails, the records are handed back (`host.refused`): the send is refused, not
 *   held in memory.
 * - `remove` deletes the record at its final answer (and appends the outcome to the stream);
 *   `park` rewrites it (retry counts survive an adoption); `requeue`/`takeNext` are memory-only (a
 *   record found in flight after its owner died is simply resent).
 * - Records adopted from a dead instance arrive through `host.adopt`, already owned here.
 */
export class RedisOutboxStore implements OutboxStore {
  readonly ownerId: string;
  readonly #journal: OutboxJournal;
  readonly #batcher: TickBatcher;
  readonly #owner: OutboxOwner;
  readonly #outcomes: OutcomesMode;
  #host: OutboxStoreHost | undefined = undefined;
  #queued = 0;
  readonly #front: OutboxRecord[] = [];
  #fresh: Array<OutboxRecord | undefined> = [];
  #head = 0;
  #holes = 0;
  /** Appends of the batch being collected, and that batch's number. */
  #pending: OutboxRecord[] = [];
  #pendingBatch = 0;
  /** Appended batches not yet answered. */
  readonly #unanswered = new Set<OutboxRecord[]>();
  /** Ids of adopted records not yet settled (the outbox builds its own objects for them). */
  readonly #adopted = new Set<string>();

  constructor(ownerId: string, journal: OutboxJournal, batcher: TickBatcher, owner: OutboxOwner, outcomes: OutcomesMode) {
    this.ownerId = ownerId;
    this.#journal = journal;
    this.#batcher = batcher;
    this.#owner = owner;
    this.#outcomes = outcomes;
  }

  /** Records in state `queued`, takeable or not yet recorded. */
  get queued(): number {
    return this.#queued;
  }

  /** Called once by the outbox that drives this store. */
  attach(host: OutboxStoreHost): void {
    this.#host = host;
    this.#owner.outboxAttached();
  }

  append(record: OutboxRecord): void {
    record.state = 'queued';
    record.storeSlot = PENDING;
    this.#queued++;
    const batch = this.#batcher.batch;
    const promise = this.#journal.append(record.id, record.seq, serializeRecord(record));
    if (batch !== this.#pendingBatch) {
      this.#pendingBatch = batch;
      const list: OutboxRecord[] = (this.#pending = []);
      this.#unanswered.add(list);
      promise.then(() => this.#recorded(list), (err: StoreError) => this.#refused(list, err));
    }
    this.#pending.push(record);
  }

  takeNext(): OutboxRecord | undefined {
    let record = this.#front.shift();
    if (record === undefined) {
      const fresh = this.#fresh;
      while (this.#head < fresh.length) {
        const r = fresh[this.#head];
        fresh[this.#head++] = undefined;
        if (r !== undefined && r.storeSlot === FRESH) {
          record = r;
          break;
        }
        this.#holes--;
      }
      if (this.#head >= 1024 && this.#head * 2 >= fresh.length) {
        this.#fresh = fresh.slice(this.#head);
        this.#head = 0;
      }
      if (record === undefined) return undefined;
    }
    record.state = 'inflight';
    record.storeSlot = NONE;
    this.#queued--;
    return record;
  }

  requeue(record: OutboxRecord): void {
    record.state = 'queued';
    record.storeSlot = FRONT;
    const front = this.#front;
    let i = front.length;
    while (i > 0 && (front[i - 1] as OutboxRecord).seq > record.seq) i--;
    front.splice(i, 0, record);
    this.#queued++;
  }

  park(record: OutboxRecord): void {
    record.state = 'waiting';
    // Retry counts and the not-before time survive an adoption.
    this.#journal.update(record.id, serializeRecord(record));
  }

  /**
   * The final answer: the record leaves Redis, and its outcome goes to the outcome stream when it
   * was adopted (or always, with `outcomes: 'all'`). A `ClosedError` is not an answer: the record
   * stays for another instance.
   */
  remove(record: OutboxRecord, outcome?: SendResult | Error): void {
    if (record.storeSlot !== NONE) this.#unqueue(record);
    if (outcome instanceof ClosedError) {
      // This process is closing (a redeploy, a shutdown), not the message failing: the record stays
      // in Redis, and another instance adopts it once this one's lease is dropped.
      this.#adopted.delete(record.id);
      return;
    }
    const adopted = this.#adopted.delete(record.id);
    const report = this.#outcomes === 'all' || (this.#outcomes === 'adopted' && adopted);
    this.#journal.remove(record.id, report ? toOutcome(record, outcome, adopted) : undefined);
  }

  *queuedRecords(): IterableIterator<OutboxRecord> {
    yield* this.#front;
    for (let i = this.#head; i < this.#fresh.length; i++) {
      const r = this.#fresh[i];
      if (r !== undefined && r.storeSlot === FRESH) yield r;
    }
    for (const list of this.#unanswered) for (const r of list) if (r.storeSlot === PENDING) yield r;
  }

  /** Resolves when everything so far is in Redis; rejects when an append since the oldest open batch failed. */
  flush(): Promise<void> | undefined {
    return this.#batcher.barrier();
  }

  close(): Promise<void> {
    return this.#owner.closeShared();
  }

  /** True when the record was adopted from a dead instance (and is not settled yet). */
  isAdopted(record: OutboxRecord): boolean {
    return this.#adopted.has(record.id);
  }

  /** Records adopted by the lease keeper: parsed and handed to the outbox. */
  adopt(adopted: AdoptedRecord[]): void {
    const records: OutboxRecord[] = [];
    for (const a of adopted) {
      const r = parseRecord(a.record);
      if (r === undefined) {
        this.#host?.error(new StoreError('adopt', `record ${JSON.stringify(a.id.slice(0, 100))} of ${a.previousOwner} is not readable; removed`));
        this.#journal.remove(a.id, undefined);
        continue;
      }
      this.#adopted.add(r.id);
      // Its order here, not the stored `seq`: that came from the counter of whichever process
      // accepted it (a record adopted twice mixes two counters), and the outbox sorts by it.
      records.push({ ...r, seq: a.order });
    }
    if (records.length > 0) this.#host?.adopt(records);
  }

  #unqueue(record: OutboxRecord): void {
    this.#queued--;
    const slot = record.storeSlot;
    record.storeSlot = NONE;
    if (slot === FRONT) {
      const i = this.#front.indexOf(record);
      if (i !== -1) this.#front.splice(i, 1);
    } else if (slot === FRESH) {
      if (++this.#holes >= COMPACT_MIN && this.#holes * 2 > this.#fresh.length - this.#head) this.#compact();
    }
    // PENDING: its batch skips it when Redis answers; the removal is queued behind the append.
  }

  #recorded(list: OutboxRecord[]): void {
    this.#unanswered.delete(list);
    let any = false;
    for (const r of list) {
      if (r.storeSlot !== PENDING) continue;
      r.storeSlot = FRESH;
      this.#fresh.push(r);
      any = true;
    }
    if (any) this.#host?.wake();
  }

  #refused(list: OutboxRecord[], err: StoreError): void {
    this.#unanswered.delete(list);
    const refused: OutboxRecord[] = [];
    for (const r of list) {
      if (r.storeSlot !== PENDING) continue;
      r.storeSlot = NONE;
      this.#queued--;
      refused.push(r);
    }
    // The append may have run before the connection dropped: those records must not outlive the refusal.
    this.#journal.discard(list.map((r) => r.id));
    if (refused.length > 0) this.#host?.refused(refused, err);
  }

  #compact(): void {
    const live: Array<OutboxRecord | undefined> = [];
    for (let i = this.#head; i < this.#fresh.length; i++) {
      const r = this.#fresh[i];
      if (r !== undefined && r.storeSlot === FRESH) live.push(r);
    }
    this.#fresh = live;
    this.#head = 0;
    this.#holes = 0;
  }
}

/** The outcome-stream entry for a settled record. */
function toOutcome(record: OutboxRecord, outcome: SendResult | Error | undefined, adopted: boolean): RecordOutcome {
  if (outcome === undefined || !(outcome instanceof Error)) {
    return { status: outcome === undefined ? 'failed' : 'ack', code: '', retries: outcome?.retries ?? record.resends, adopted };
  }
  const nackCode = (outcome as { nackCode?: unknown }).nackCode;
  if (typeof nackCode === 'string') return { status: 'nack', code: nackCode, retries: record.resends, adopted };
  const code = (outcome as { code?: unknown }).code;
  return { status: 'failed', code: typeof code === 'string' ? code : outcome.name, retries: record.resends, adopted };
}
