import type { Keys } from './keys.js';
import type { RedisLink } from './redis-link.js';
import type { TickBatcher } from './tick-batcher.js';
import { storeError, type StoreError } from './errors.js';

/** A message's final outcome, as written to the outcome stream. */
export interface RecordOutcome {
  /** `ack`: CCS accepted it; `nack`: CCS refused it for good; `failed`: it ended otherwise (expired, aborted, closed…). */
  status: 'ack' | 'nack' | 'failed';
  /** The NACK code or the error code (`''` for an ACK). */
  code: string;
  /** Re-sends before the outcome. */
  retries: number;
  /** True when this instance adopted the message from a dead one. */
  adopted: boolean;
}

/** Where the journal reports what it could not do. */
export interface JournalSink {
  error(err: StoreError): void;
}

/** Removals kept for a retry at most; beyond it the oldest are dropped (they are then adopted and resent, at-least-once). */
const MAX_RETRY_REMOVALS = 1_000_000;

/**
 * The durable half of the outbox: records in the `out` hash and this instance's `own:` set.
 * `append` records a message (a tick's appends share one promise), `update` rewrites one that
 * still exists, `remove` deletes one at its final answer and may append its outcome to the stream.
 *
 * A removal that fails (Redis away) is kept and sent again when Redis is back, so no settled message
 * stays owned here to be adopted and sent again after this instance dies. An append that failed
 * while in flight may still have run: its id is removed when Redis is back, because the caller was
 * told the send was refused.
 */
export class OutboxJournal {
  readonly #batcher: TickBatcher;
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #me: string;
  readonly #sink: JournalSink;
  readonly #outcomesMaxLen: number;
  /** Removal items (id, status, code, retries, adopted) of the batch being collected. */
  #removals: string[] = [];
  #removalsBatch = 0;
  /** Ids removed without an outcome in the batch being collected. */
  #plain: string[] = [];
  #plainBatch = 0;
  /** Removal items to send again once Redis answers. */
  #retry: string[] = [];

  constructor(batcher: TickBatcher, link: RedisLink, keys: Keys, me: string, outcomesMaxLen: number, sink: JournalSink) {
    this.#outcomesMaxLen = outcomesMaxLen;
    this.#batcher = batcher;
    this.#link = link;
    this.#keys = keys;
    this.#me = me;
    this.#sink = sink;
  }

  /** Removals waiting for Redis to come back. */
  get retrying(): number {
    return this.#retry.length / 5;
  }

  /** Records `id`. Returns the tick's append promise (shared by every append of this tick). */
  append(id: string, seq: number, record: string): Promise<unknown[]> {
    const args = this.#batcher.args('append');
    args.push(id, seq, record);
    this.#batcher.added('append');
    return this.#batcher.promise('append');
  }

  /** Rewrites `id` if it is still recorded (retry counts, not-before times). */
  update(id: string, record: string): void {
    this.#batcher.args('update').push(id, record);
    this.#batcher.added('update');
  }

  /** Deletes `id` (settled); appends `outcome` to the outcome stream when given. */
  remove(id: string, outcome: RecordOutcome | undefined): void {
    // Most records settle with no outcome to report: one argument each, on a lane of their own.
    const batch = this.#batcher.batch;
    if (outcome === undefined) {
      this.#batcher.args('remove').push(id);
      if (batch !== this.#plainBatch) {
        this.#plainBatch = batch;
        const ids = (this.#plain = []);
        this.#batcher.promise('remove').catch(() => this.#failed(ids.flatMap((i) => [i, '', '', '', '0'])));
      }
      this.#plain.push(id);
      this.#batcher.added('remove');
      return;
    }
    const status = outcome?.status ?? '';
    const code = outcome?.code ?? '';
    const retries = outcome === undefined ? '' : String(outcome.retries);
    const adopted = outcome?.adopted ? '1' : '0';
    this.#batcher.args('settle').push(id, status, code, retries, adopted);
    if (batch !== this.#removalsBatch) {
      this.#removalsBatch = batch;
      const items = (this.#removals = []);
      this.#batcher.promise('settle').catch(() => this.#failed(items));
    }
    this.#removals.push(id, status, code, retries, adopted);
    this.#batcher.added('settle');
  }

  /** Ids whose append failed while it may have run: removed without an outcome when Redis is back. */
  discard(ids: readonly string[]): void {
    const items: string[] = [];
    for (const id of ids) items.push(id, '', '', '', '0');
    this.#failed(items);
    if (this.#link.ready) this.resend();
  }

  /**
   * Sends the kept removals as one script call of their own, written before anything the batcher
   * sends later (called when Redis is ready again).
   */
  resend(): void {
    if (this.#retry.length === 0 || !this.#link.ready) return;
    const all = this.#retry;
    this.#retry = [];
    const k = this.#keys;
    for (let i = 0; i < all.length; i += 5000) {
      const items = all.slice(i, i + 5000);
      this.#link.script('ccsSettle', [k.out, k.own(this.#me), k.outcomes, this.#outcomesMaxLen, this.#me, ...items]).catch((err: unknown) => {
        this.#failed(items);
        if (this.#link.ready) this.#sink.error(storeError('remove', err));
      });
    }
  }

  #failed(items: string[]): void {
    for (const v of items) this.#retry.push(v);
    const excess = this.#retry.length - MAX_RETRY_REMOVALS * 5;
    if (excess > 0) this.#retry.splice(0, excess);
  }
}
