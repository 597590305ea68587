import type { DedupClaim, UpstreamDedupStore } from '@ccs-xmpp/ccs';
import { Keys } from './keys.js';
import type { TickBatcher } from './tick-batcher.js';
import { StoreError, storeError } from './errors.js';


/** Releases kept for a retry while Redis is away. */
const MAX_RETRY_RELEASES = 100_000;

/** Claim script codes. */
const NEW = 0;
const MINE = 1;
const ELSEWHERE = 2;
const DONE = 3;

interface Waiter {
  suffix: string;
  resolve: (claim: DedupClaim) => void;
  reject: (err: Error) => void;
}

/**
 * Upstream de-duplication shared by every instance of a sender (`up:<from>\n<id>` keys).
 *
 * `claim` is atomic across the fleet (one script). A message whose handler is running on another
 * live instance is not answered at once: the claim stays pending, and is polled (all such keys in one
 * call every `claimPollMs`) until that instance completes it (`done`: ACK, run nothing) or its lease
 * lapses (`new`: run it here). Until then the message is not ACKed here, so it is never lost with a
 * dying instance, and never handled twice by two live ones.
 *
 * `complete` is queued behind everything the handler sent, in the same pipeline; the outbox
 * store's `flush()` — which the upstream ACK waits on — fails when the completion or anything
 * appended since the claim (a reply) was not recorded. The claim is then released (retried when
 * Redis is back), so CCS's resend is handled again, here or elsewhere; no reply is lost to a crash
 * or a Redis failure between the handler and the ACK.
 */
export class RedisDedupStore implements UpstreamDedupStore {
  readonly #batcher: TickBatcher;
  /** Claims this instance holds, with the batch they were made in. */
  readonly #running = new Map<string, number>();
  /**
   * Completions queued and not yet answered, with their batch. Claims run before completions in one
   * flush, so a claim in the same batch finds the message still held by this instance.
   */
  readonly #completing = new Map<string, number>();
  /** Claims held by another live instance, polled. */
  readonly #waiting = new Map<string, Waiter[]>();
  /** Releases (mode, suffix) to send again when Redis is back. */
  #retryRelease: string[] = [];
  #poll: NodeJS.Timeout | undefined = undefined;
  readonly #pollMs: number;
  readonly #closeShared: () => Promise<void>;
  #closed = false;

  /** @param closeShared closes the store this half belongs to (the client closes both halves). */
  constructor(batcher: TickBatcher, pollMs: number, closeShared: () => Promise<void>) {
    this.#batcher = batcher;
    this.#pollMs = pollMs;
    this.#closeShared = closeShared;
  }

  /** Claims held here (handlers running). */
  get running(): number {
    return this.#running.size;
  }

  /** Claims waiting for another instance. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Claims (`from`, `messageId`) for this instance; see the class comment for `running`. */
  claim(from: string, messageId: string): Promise<DedupClaim> {
    if (this.#closed) return Promise.reject(new StoreError('claim', 'the store is closed'));
    const suffix = Keys.upstream(from, messageId);
    return new Promise<DedupClaim>((resolve, reject) => {
      this.#ask({ suffix, resolve, reject });
    });
  }

  /**
   * The handler succeeded: remembered as done. Queued behind what the handler sent; when that or
   * the completion is not recorded, the outbox store's `flush()` fails (no ACK) and the claim is
   * released again.
   */
  complete(from: string, messageId: string): void {
    const suffix = Keys.upstream(from, messageId);
    const since = this.#running.get(suffix) ?? this.#batcher.batch;
    const batch = this.#batcher.batch;
    this.#running.delete(suffix);
    this.#completing.set(suffix, batch);
    this.#batcher.args('complete').push(suffix);
    this.#batcher.added('complete');
    this.#batcher.guard(since);
    const settled = (): void => {
      if (this.#completing.get(suffix) === batch) this.#completing.delete(suffix);
    };
    this.#batcher.promise('complete').then(() => {
      settled();
      if (this.#batcher.appendFailedSince(since)) this.#release(suffix, 'd');
    }, () => {
      settled();
      // It may have run before the connection dropped: forget the completion too.
      this.#release(suffix, 'd');
    });
  }

  /** The handler failed: the claim is dropped, so the resend is handled again. */
  release(from: string, messageId: string): void {
    const suffix = Keys.upstream(from, messageId);
    this.#running.delete(suffix);
    this.#release(suffix, 'r');
  }

  /** Redis is back: sends the releases that failed. */
  reconnected(): void {
    if (this.#retryRelease.length === 0) return;
    const items = this.#retryRelease;
    this.#retryRelease = [];
    for (let i = 0; i + 1 < items.length; i += 2) this.#release(items[i + 1] as string, items[i] as 'r' | 'd');
  }

  /** Closes the shared store (see {@link RedisStore.close}). */
  close(): Promise<void> {
    return this.#closeShared();
  }

  /** Stops polling; pending claims fail (their messages stay un-ACKed, and CCS resends them). */
  stop(): void {
    this.#closed = true;
    clearTimeout(this.#poll);
    this.#poll = undefined;
    const err = new StoreError('claim', 'the store is closed');
    for (const waiters of this.#waiting.values()) for (const w of waiters) w.reject(err);
    this.#waiting.clear();
  }

  /** Mode `r`: a running claim of ours; `d`: also a completion whose replies were not recorded. */
  #release(suffix: string, mode: 'r' | 'd'): void {
    this.#batcher.args('release').push(mode, suffix);
    this.#batcher.added('release');
    this.#batcher.promise('release').catch(() => {
      // Bounded: a claim left behind expires with the window anyway; this only makes it go sooner.
      if (this.#retryRelease.length < MAX_RETRY_RELEASES * 2) this.#retryRelease.push(mode, suffix);
    });
  }

  #ask(waiter: Waiter): void {
    this.#batcher.args('claim').push(waiter.suffix);
    const index = this.#batcher.added('claim');
    const batch = this.#batcher.batch;
    this.#batcher.promise('claim').then(
      (codes) => this.#answer(waiter, codes[index], batch),
      (err: unknown) => waiter.reject(storeError('claim', err)),
    );
  }

  #answer(waiter: Waiter, code: unknown, batch: number): void {
    switch (code) {
      case NEW:
        this.#running.set(waiter.suffix, batch);
        waiter.resolve('new');
        return;
      case MINE:
        // Held by this instance: running here, completed in this very batch (the completion runs
        // after the claim), or left over by a completion that failed to record (then nothing runs
        // it any more, and it is taken again).
        if (this.#running.has(waiter.suffix) || (this.#completing.get(waiter.suffix) ?? 0) >= batch) {
          waiter.resolve('running');
        } else {
          this.#running.set(waiter.suffix, batch);
          waiter.resolve('new');
        }
        return;
      case DONE:
        waiter.resolve('done');
        return;
      case ELSEWHERE: {
        if (this.#closed) {
          waiter.reject(new StoreError('claim', 'the store is closed'));
          return;
        }
        const list = this.#waiting.get(waiter.suffix);
        if (list === undefined) this.#waiting.set(waiter.suffix, [waiter]);
        else list.push(waiter);
        this.#schedulePoll();
        return;
      }
      default:
        waiter.reject(new StoreError('claim', `unexpected reply ${JSON.stringify(code)}`));
    }
  }

  #schedulePoll(): void {
    if (this.#poll !== undefined) return;
    // Ref'd: a message waiting for another instance's handler is work in progress.
    this.#poll = setTimeout(() => {
      this.#poll = undefined;
      const waiting = [...this.#waiting.values()];
      this.#waiting.clear();
      for (const waiters of waiting) {
        const [first, ...rest] = waiters;
        if (first === undefined) continue;
        // One claim per key; the other waiters of the same key (a resend on a second connection) follow its answer.
        this.#ask({
          suffix: first.suffix,
          resolve: (claim) => {
            first.resolve(claim);
            for (const w of rest) w.resolve(claim === 'new' ? 'running' : claim);
          },
          reject: (err) => {
            first.reject(err);
            for (const w of rest) w.reject(err);
          },
        });
      }
    }, this.#pollMs);
  }
}
