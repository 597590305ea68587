import type { OutgoingMessage, SendResult } from './outbound.js';

/**
 * The store seam: where the client keeps what must survive (or be shared beyond) one process.
 *
 * A downstream message is split in two. Its **record** ({@link OutboxRecord}) is plain data that a
 * store may serialise: id, order, message, target, retry counts, state and `notBefore`. Its
 * **settlement** (the caller's promise, `AbortSignal`, timeout) lives only in the process that
 * accepted it and is never given to a store. A record adopted from another process (its owner's
 * lease expired) therefore has no caller waiting: its outcome is reported by the client instead.
 *
 * The default stores keep everything in memory and answer synchronously; the in-memory path costs
 * nothing beyond today's queue. A shared store (Redis, several app-server machines of one sender)
 * implements the same interfaces with these rules in mind:
 * - **Batchable**: every mutator returns nothing and may be buffered; a store flushes its buffer
 *   once per event-loop tick (one pipelined round trip for many messages), never one awaited round
 *   trip per message. {@link OutboxStore.flush} is the barrier for "everything so far is durable".
 * - **Async-capable without a promise per call**: a record appended to a durable store is not
 *   returned by `takeNext()` until it is recorded; the store then calls
 *   {@link OutboxStoreHost.wake} and the outbox dispatches again. So "in the store before it is
 *   written to a connection" holds without the hot path awaiting anything.
 * - **Lease-based ownership**: each store instance owns the records it appended under a lease
 *   (`ownerId`, renewed by the store itself). When an owner's lease expires, another instance adopts
 *   its records and hands them to {@link OutboxStoreHost.adopt}; they are sent again with the same
 *   `message_id`, in `seq` order per target.
 *
 * The outbox is the only caller of these methods, and it calls them on every state change, in the
 * order the changes happen.
 */

/** Where a record is. A settled message has no record: it was removed from the store. */
export type RecordState =
  /** Waiting for a window slot (new, or going out again after a loss, a retry delay or a hold). */
  | 'queued'
  /** Written to a connection; not yet answered. */
  | 'inflight'
  /** Parked until `notBefore`: a retry backoff, or held behind a rate-limited target's probe. */
  | 'waiting';

/**
 * The serialisable half of a downstream message. Every field but `storeSlot` is plain JSON data; a
 * durable store writes and reads back exactly these fields (see {@link recordFields}).
 */
export interface OutboxRecord {
  /** The `message_id` on the wire: the caller's, or the one the client assigned. */
  readonly id: string;
  /**
   * Submission order within its owner. Messages of one target always go out in `seq` order (a
   * resend never overtakes an older message of the same target). A record handed to
   * {@link OutboxStoreHost.adopt} carries its order among its owner's records — its owner's `seq`,
   * or the store's own order number when the owner had adopted it in turn (the `seq`s of two
   * processes' counters do not compare); adopters order adopted records by it per target before
   * anything newer.
   */
  readonly seq: number;
  /** The message as the caller gave it (top-level fields copied at `send()`); without `message_id` when the client assigned `id`. */
  readonly msg: OutgoingMessage;
  /** The device token or topic (`to`, else `condition`): the key of per-target ordering and throttling. */
  readonly target: string;
  /** NACK retries so far (backoff and rate-limit classes), counted against `maxRetries`. */
  retries: number;
  /** Every re-send (retries, connection losses, drains): `SendResult.retries`. */
  resends: number;
  /** True once written to some connection (a timeout then reports `written`). */
  written: boolean;
  /** Where the record is. */
  state: RecordState;
  /** Epoch ms before which it must not be written again (`0`: no delay). Meaningful while `waiting`. */
  notBefore: number;
  /**
   * Scratch space of the store that holds the record in memory (the memory store keeps the queue
   * position here for O(1) removal). Never serialised; `-1` when unused.
   */
  storeSlot: number;
}

/** The fields of {@link OutboxRecord} a durable store persists, in one place. */
export const recordFields = ['id', 'seq', 'msg', 'target', 'retries', 'resends', 'written', 'state', 'notBefore'] as const;

/** What the outbox offers a store that answers later than the call (see {@link OutboxStore}). */
export interface OutboxStoreHost {
  /** Records became takeable after the call that queued them (a durable append completed): dispatch again. */
  wake(): void;
  /**
   * Records of an owner whose lease expired, now owned by this store. The outbox queues them (in
   * `seq` order, before anything newer of the same target) with no caller waiting; their outcome is
   * reported by the client's `settled` event.
   */
  adopt(records: OutboxRecord[]): void;
  /**
   * The store failed: reported on the client's `error` event. Pass a `StoreError`; any other `Error`
   * reaches the event as the `cause` of one (`operation` `store`).
   */
  error(err: Error): void;
  /**
   * Records whose append could not be recorded (the store is down): the outbox fails their
   * callers' promises with `err` — they were never written, and nothing is held in memory instead.
   * Pass a `StoreError`; any other `Error` reaches the callers as the `cause` of one
   * (`operation` `append`), so that every refused send is a `CcsError` with a stable code.
   */
  refused(records: OutboxRecord[], err: Error): void;
}

/**
 * The outbox's storage of message records. The outbox hands each record to the store as an object
 * of its own (its settlement rides on it) and keeps using that same object; records passed to
 * {@link OutboxStoreHost.adopt} are re-created by the outbox with the same `id` (and a `seq` below
 * every local one), so a store must find adopted records by `id`, not by identity. The outbox owns the ordering rules, the timers and every
 * counter; the store owns the records of the queue and their durability. Calls are synchronous and
 * return nothing (a durable store buffers them and flushes per tick); the only reads on the hot path
 * are `takeNext()` and `queued`.
 *
 * A method that throws (against this contract: report through the host) never unwinds the client:
 * the message an `append`, `requeue` or `park` (or a send's own `takeNext`) threw for fails with a
 * `StoreError` (`operation` the method, the store's error as its `cause`); a `takeNext` that throws
 * while dispatching, and a `remove` that throws (its caller still gets its outcome), are reported on
 * the client's `error` event; so is a `queuedRecords` that throws at `close()`/`destroy()`, which
 * then finish without the records it could not list (their callers are left waiting). A
 * `queuedRecords` that throws while a send's caller id with the generator's prefix is checked for a
 * duplicate refuses that send with a `StoreError` (`queuedRecords`).
 */
export interface OutboxStore {
  /** Identifies this owner (its lease) among the instances sharing the store. */
  readonly ownerId: string;
  /** Records in state `queued` (takeable or not yet durable). */
  readonly queued: number;
  /** Called once, before any other call, by the outbox that drives this store. */
  attach(host: OutboxStoreHost): void;
  /** A new message, state `queued`, behind everything queued so far. */
  append(record: OutboxRecord): void;
  /**
   * The next record to write, now state `inflight`: records going out again first (ascending
   * `seq`), then new ones in append order. `undefined` when none is takeable. The outbox updates
   * `written`/`resends` as it writes; the next `requeue`/`park`/`remove` carries them (a durable
   * store need not record every write: a record found `inflight` after its owner died is resent).
   */
  takeNext(): OutboxRecord | undefined;
  /** A record goes out again (connection lost, retry due, released by a throttle): state `queued`, ahead of anything newer. */
  requeue(record: OutboxRecord): void;
  /** A record waits until `record.notBefore` (retry backoff) or behind a rate-limited target's probe: state `waiting`. The outbox keeps the timer. */
  park(record: OutboxRecord): void;
  /**
   * The message has its final answer: the record leaves the store. `outcome` is what the caller got
   * — the ACK's result, or the error (`NackError` with its `nackCode`, `TimeoutError`, `AbortError`,
   * `ClosedError`…) — for a store that reports outcomes (an adopted message has no caller).
   */
  remove(record: OutboxRecord, outcome: SendResult | Error): void;
  /** The queued records, oldest first (duplicate-id checks; teardown). */
  queuedRecords(): Iterable<OutboxRecord>;
  /**
   * Resolves once every change made so far is recorded durably; `undefined` when nothing is pending
   * (the memory store always). Upstream ACKs wait on it, so nothing is acknowledged to CCS — above
   * all a reply a handler sent — before it is recorded. At most the client's `storeTimeoutMs`: a
   * promise not settled by then leaves the message un-ACKed (a `StoreError`, `flush`, on `error`).
   */
  flush(): Promise<void> | undefined;
  /** Releases the store's own resources (lease heartbeat, connections). Records stay for adoption. */
  close(): Promise<void> | void;
}

/** The result of {@link UpstreamDedupStore.claim}. */
export type DedupClaim =
  /** First time seen: the caller now owns it and runs the handler, then `complete` or `release`. */
  | 'new'
  /** A handler is running on it (elsewhere): do not ACK yet; CCS resends it until someone does. */
  | 'running'
  /** Handled already: ACK it again, run nothing. */
  | 'done';

/**
 * The upstream de-duplication window, keyed by (`from`, `message_id`). CCS resends an un-ACKed
 * upstream message, on another connection if need be — with several app servers, often another
 * machine's; the window makes its handler run once. A shared store makes `claim` atomic across the
 * fleet and ties `running` claims to the claimer's lease, so a claim of a dead instance is claimed
 * again as `new`.
 *
 * A method that throws, a promise that rejects, or a claim answered with anything but the three
 * {@link DedupClaim}s is reported on the client's `error` event as a `StoreError` (`operation` `claim`,
 * `complete` or `release`; the store's error as its `cause`) and never crashes the client: a failed
 * claim leaves the message un-ACKed (CCS delivers it again); a failed `complete` still ACKs it. A
 * claim's promise is waited for at most the client's `storeTimeoutMs` (then the same as a failed
 * claim; one answered `new` after that is handed back with `release`).
 */
export interface UpstreamDedupStore {
  /** Claims the message for this instance. Synchronous for the memory store; a shared store may answer with a promise. */
  claim(from: string, messageId: string): DedupClaim | Promise<DedupClaim>;
  /** The handler succeeded: remembered as `done` (within the window) so resends are only ACKed. */
  complete(from: string, messageId: string): void | Promise<void>;
  /** The handler failed: forgotten, so CCS's resend is handled again. */
  release(from: string, messageId: string): void | Promise<void>;
  /**
   * Optional. The client stopped waiting for `claim`, a promise this store returned (it did not
   * settle within `storeTimeoutMs`; the message was left un-ACKed): a store that keeps working for
   * it — polls a claim held by another instance — stops, and may reject it. Whatever it answers
   * later is ignored, and a `new` is handed back with `release`. A store without it is left to settle
   * the promise when it can, with the same result. One that throws is reported with the timed-out
   * claim, as its `cause` (one error event for the message, not two).
   */
  abandon?(claim: Promise<DedupClaim>): void;
  /** Releases the store's own resources. */
  close(): Promise<void> | void;
}

/**
 * Both halves of a shared store in one object, as `@ccs-xmpp/store-redis`'s `redisStore()` returns
 * them: pass it as the client's `store` option and it provides `dedupStore` too.
 */
export interface StoreBundle {
  readonly outbox: OutboxStore;
  readonly dedup: UpstreamDedupStore;
}
