import type { RedisLink } from './redis-link.js';
import type { ScriptName } from './scripts.js';
import { StoreError, storeError, type StoreOperation } from './errors.js';

/** Items per script call: big enough to amortise the call, small enough not to stall Redis. */
const CHUNK_ITEMS = 1000;

const noop = (): void => {};

/** A promise with its settle functions, shared by every item of one lane in one tick. */
interface Deferred {
  promise: Promise<unknown[]>;
  resolve: (value: unknown[]) => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve!: (value: unknown[]) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<unknown[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The store itself handles a failed lane (retries removals, releases claims); a caller that does
  // not look at the promise must not turn that into an unhandled rejection.
  promise.catch(noop);
  return { promise, resolve, reject };
}

/** One script's calls in the current tick. */
class Lane {
  readonly name: ScriptName;
  readonly operation: StoreOperation;
  /** KEYS and the fixed leading ARGV of every call. */
  readonly head: readonly (string | number)[];
  readonly chunks: Array<Array<string | number>> = [];
  current: Array<string | number> | undefined = undefined;
  itemsInCurrent = 0;
  /** Items queued in this tick (a claim's index into the lane's result). */
  items = 0;
  waiting: Deferred | undefined = undefined;

  constructor(name: ScriptName, operation: StoreOperation, head: readonly (string | number)[]) {
    this.name = name;
    this.operation = operation;
    this.head = head;
  }

  /** The array the next item's arguments go into. */
  args(): Array<string | number> {
    if (this.current === undefined) {
      this.current = this.head.slice();
      this.itemsInCurrent = 0;
    }
    return this.current;
  }

  /** Counts one item; closes the call at CHUNK_ITEMS. Returns the item's index in this tick. */
  added(): number {
    if (++this.itemsInCurrent >= CHUNK_ITEMS && this.current !== undefined) {
      this.chunks.push(this.current);
      this.current = undefined;
    }
    return this.items++;
  }

  promise(): Promise<unknown[]> {
    this.waiting ??= deferred();
    return this.waiting.promise;
  }

  /** Takes this tick's calls and promise, leaving the lane empty. */
  take(): { calls: Array<Array<string | number>>; waiting: Deferred | undefined } {
    if (this.current !== undefined) this.chunks.push(this.current);
    const calls = this.chunks.splice(0);
    const waiting = this.waiting;
    this.current = undefined;
    this.waiting = undefined;
    this.items = 0;
    return { calls, waiting };
  }
}

/** Lane order within one flush. Appends go first, so a completion later in the same flush is behind them. */
export type LaneName = 'append' | 'update' | 'remove' | 'settle' | 'claim' | 'complete' | 'release';

/**
 * Collects the store's writes of one event-loop tick and sends them as one pipeline: at most one
 * script call per lane per CHUNK_ITEMS items, in a fixed lane order, on the one connection. Redis
 * runs them in that order, so when a lane's promise resolves, everything queued before it in this
 * or an earlier tick has run too. Nothing is awaited per message: a tick's items share one promise
 * per lane.
 *
 * While Redis is not ready, a flush fails at once with a {@link StoreError} (`unavailable`):
 * nothing is held back to be sent later.
 */
export class TickBatcher {
  readonly #link: RedisLink;
  readonly #lanes: Record<LaneName, Lane>;
  readonly #order: Lane[];
  #scheduled: NodeJS.Immediate | undefined = undefined;
  /** Index of the batch being collected; flushes complete in index order. */
  #batch = 1;
  /** The last batch whose append lane failed (0: none). */
  #appendFailedAt = 0;
  /** Batches sent and not yet answered, oldest first. */
  readonly #inFlight: number[] = [];
  /** Settles when the most recently sent batch has been answered (whatever the answer). */
  #lastSent: Promise<void> | undefined = undefined;
  /** Settles when the batch being collected has been answered; created by {@link barrier}. */
  #currentDone: { promise: Promise<void>; resolve: () => void } | undefined = undefined;
  #queued = 0;
  /** Claim batches of the completions in the batch being collected (see {@link guard}). */
  #guards: number[] = [];
  /** Batches whose barrier must fail: a completion in them followed a failed append, or a lane failed. */
  readonly #failedBatches = new Set<number>();
  readonly #flushNow = (): void => {
    this.#scheduled = undefined;
    this.flush();
  };

  constructor(link: RedisLink, heads: Record<LaneName, readonly (string | number)[]>) {
    this.#link = link;
    this.#lanes = {
      append: new Lane('ccsAppend', 'append', heads.append),
      update: new Lane('ccsUpdate', 'update', heads.update),
      remove: new Lane('ccsRemove', 'remove', heads.remove),
      settle: new Lane('ccsSettle', 'remove', heads.settle),
      claim: new Lane('ccsClaim', 'claim', heads.claim),
      complete: new Lane('ccsComplete', 'complete', heads.complete),
      release: new Lane('ccsRelease', 'release', heads.release),
    };
    this.#order = [
      this.#lanes.append, this.#lanes.update, this.#lanes.remove, this.#lanes.settle, this.#lanes.claim, this.#lanes.complete, this.#lanes.release,
    ];
  }

  /** The index of the batch now being collected. */
  get batch(): number {
    return this.#batch;
  }

  /** True when an append of batch `since` or later failed: something sent after that point was not recorded. */
  appendFailedSince(since: number): boolean {
    return this.#appendFailedAt >= since;
  }

  /**
   * Makes this batch's barrier fail if an append of batch `since` or later fails: a completion
   * queued now must not let its upstream ACK through when a reply sent since its claim was not
   * recorded.
   */
  guard(since: number): void {
    this.#guards.push(since);
  }

  /** The argument array of `lane`'s current call, to push one item's arguments onto. */
  args(lane: LaneName): Array<string | number> {
    return this.#lanes[lane].args();
  }

  /**
   * Ends one item pushed with {@link args}; schedules the flush. Returns the item's index in this
   * tick's results of the lane.
   */
  added(lane: LaneName): number {
    this.#scheduled ??= setImmediate(this.#flushNow);
    this.#queued++;
    return this.#lanes[lane].added();
  }

  /** The promise of `lane` for this tick (resolves with the per-call results, concatenated). */
  promise(lane: LaneName): Promise<unknown[]> {
    return this.#lanes[lane].promise();
  }

  /**
   * Resolves once everything queued so far has been answered by Redis; rejects with a
   * {@link StoreError} when an append among the batches still open at the call failed (a message
   * sent before this point is not recorded). `undefined` when nothing is queued or in flight.
   */
  barrier(): Promise<void> | undefined {
    const since = this.#inFlight[0] ?? this.#batch;
    let done: Promise<void>;
    if (this.#queued > 0) {
      if (this.#currentDone === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((res) => { resolve = res; });
        this.#currentDone = { promise, resolve };
      }
      done = this.#currentDone.promise;
    } else if (this.#lastSent !== undefined && this.#inFlight.length > 0) {
      done = this.#lastSent;
    } else {
      return this.#appendFailedAt >= since ? Promise.reject(notRecorded()) : undefined;
    }
    const batch = this.#queued > 0 ? this.#batch : this.#batch - 1;
    return done.then(() => {
      if (this.#appendFailedAt >= since || this.#failedBatches.has(batch)) throw notRecorded();
    });
  }

  /** Sends everything queued now (also called by the tick's immediate). */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    const batch = this.#batch++;
    const taken = this.#order.map((lane) => ({ lane, ...lane.take() }));
    const currentDone = this.#currentDone;
    this.#currentDone = undefined;
    this.#queued = 0;
    const guards = this.#guards;
    this.#guards = [];
    // Kept for the barriers of this batch only (a barrier asks right after the batch is answered).
    this.#failedBatches.delete(batch - 64);
    if (taken.every((t) => t.calls.length === 0)) {
      for (const t of taken) t.waiting?.resolve([]);
      currentDone?.resolve();
      return;
    }
    if (!this.#link.ready) {
      this.#failedBatches.add(batch);
      for (const t of taken) {
        if (t.calls.length === 0) continue;
        if (t.lane.name === 'ccsAppend') this.#appendFailedAt = batch;
        t.waiting?.reject(new StoreError(t.lane.operation, 'Redis is not connected', { unavailable: true }));
      }
      currentDone?.resolve();
      return;
    }
    const pipeline = this.#link.pipeline();
    for (const t of taken) for (const call of t.calls) pipeline.script(t.lane.name, call);
    this.#inFlight.push(batch);
    const answered = (): void => {
      this.#inFlight.shift();
      for (const since of guards) if (this.#appendFailedAt >= since) this.#failedBatches.add(batch);
      currentDone?.resolve();
    };
    this.#lastSent = pipeline.exec().then(
      (replies) => {
        let i = 0;
        for (const t of taken) {
          let failed: Error | undefined;
          const values: unknown[] = [];
          for (let c = 0; c < t.calls.length; c++) {
            const [err, value] = replies[i++] ?? [new Error('no reply'), undefined];
            if (err) failed ??= err;
            else if (Array.isArray(value)) for (const v of value) values.push(v);
            else values.push(value);
          }
          if (failed !== undefined) {
            if (t.lane.name === 'ccsAppend') this.#appendFailedAt = batch;
            if (t.lane.name === 'ccsComplete') this.#failedBatches.add(batch);
            t.waiting?.reject(storeError(t.lane.operation, failed));
          } else {
            t.waiting?.resolve(values);
          }
        }
        answered();
      },
      (err: unknown) => {
        this.#failedBatches.add(batch);
        for (const t of taken) {
          if (t.calls.length === 0) continue;
          if (t.lane.name === 'ccsAppend') this.#appendFailedAt = batch;
          t.waiting?.reject(storeError(t.lane.operation, err));
        }
        answered();
      },
    );
  }

  /** Drops the scheduled flush (the store is being destroyed); queued items fail. */
  cancel(error: StoreError): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#queued = 0;
    for (const lane of this.#order) lane.take().waiting?.reject(error);
    this.#currentDone?.resolve();
    this.#currentDone = undefined;
  }
}

function notRecorded(): StoreError {
  return new StoreError('append', 'a message sent before this point could not be recorded in Redis');
}
