import type { DedupClaim, UpstreamDedupStore } from '@ccs-xmpp/ccs';
import { Keys } from './keys.js';
import type { TickBatcher } from './tick-batcher.js';
import { StoreError, storeError } from './errors.js';


const noop = (): void => {};

/** Releases kept for a retry while Redis is away. */
const MAX_RETRY_RELEASES = 100_000;

/** Claim script codes (a string answer: held by this instance, under that token). */
const NEW = 0;
const ELSEWHERE = 2;
const DONE = 3;

interface Waiter {
  readonly suffix: string;
  resolve: (claim: DedupClaim) => void;
  reject: (err: Error) => void;
  /** The client stopped waiting (see {@link RedisDedupStore.abandon}): no further poll for it. */
  readonly abandoned: boolean;
}

/** A caller's own claim (a poll's merged waiter derives `abandoned` from the callers it stands for). */
interface CallerWaiter extends Waiter {
  abandoned: boolean;
}

/** A claim of this instance: the batch it was made in and the token it holds the key under. */
interface Held {
  batch: number;
  token: string;
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
 *
 * Each claim carries a token of its own, and Redis holds a claim as `r:<instance>:<token>`. A
 * release removes only the claim it was made for: a resend that took the message again in the
 * meantime (in the same flush, or while the release waited for Redis to come back) holds it under
 * another token and keeps it, so a third copy is answered `running`, not `new`. A completion keeps
 * its claim's token (in a companion key: the `d` itself stays readable by the previous version),
 * and the release of a completion likewise removes only that completion, never a later one.
 */
export class RedisDedupStore implements UpstreamDedupStore {
  readonly #batcher: TickBatcher;
  /** Claims this instance holds (handlers running). */
  readonly #running = new Map<string, Held>();
  /**
   * Completions queued and not yet answered, with their claim's token. Claims run before
   * completions in one flush, so a claim in the same batch finds the message still held by this
   * instance, under that token.
   */
  readonly #completing = new Map<string, string>();
  /** Claims held by another live instance, polled. */
  readonly #waiting = new Map<string, Waiter[]>();
  /** The waiter behind each claim promise handed out, for {@link abandon}. */
  readonly #claims = new WeakMap<Promise<DedupClaim>, CallerWaiter>();
  /** Releases (mode, suffix, token) to send again when Redis is back. */
  #retryRelease: string[] = [];
  /** The last claim token handed out (tokens are this counter in base 36). */
  #tokens = 0;
  /**
   * Completions being undone (mode `d` releases queued, in flight or waiting for Redis), by key: a
   * claim that finds such a key done must not be ACKed — the reply that made it fail would be lost.
   */
  readonly #undoing = new Map<string, number>();
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
    const waiter: CallerWaiter = { suffix: Keys.upstream(from, messageId), resolve: noop, reject: noop, abandoned: false };
    const claim = new Promise<DedupClaim>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.#claims.set(claim, waiter);
    this.#ask(waiter);
    return claim;
  }

  /**
   * The client stopped waiting for `claim` (its `storeTimeoutMs` passed): it is no longer polled,
   * and it rejects. A claim of it already on its way to Redis is the last command sent for it; one
   * answered `new` then is released here (nobody runs its handler).
   */
  abandon(claim: Promise<DedupClaim>): void {
    const waiter = this.#claims.get(claim);
    if (waiter === undefined || waiter.abandoned) return;
    waiter.abandoned = true;
    const list = this.#waiting.get(waiter.suffix);
    const i = list?.indexOf(waiter) ?? -1;
    if (list !== undefined && i !== -1) {
      list.splice(i, 1);
      if (list.length === 0) this.#waiting.delete(waiter.suffix);
    }
    waiter.reject(new StoreError('claim', 'the client stopped waiting for this claim'));
  }

  /**
   * The handler succeeded: remembered as done. Queued behind what the handler sent; when that or
   * the completion is not recorded, the outbox store's `flush()` fails (no ACK) and the claim is
   * released again.
   */
  complete(from: string, messageId: string): void {
    const suffix = Keys.upstream(from, messageId);
    const held = this.#running.get(suffix);
    const since = held?.batch ?? this.#batcher.batch;
    // No claim held (not called after 'new'): a token of its own names the completion, so a failure
    // releases that completion and no claim.
    const token = held?.token ?? (++this.#tokens).toString(36);
    this.#running.delete(suffix);
    this.#completing.set(suffix, token);
    this.#batcher.args('complete').push(suffix, token);
    this.#batcher.added('complete');
    this.#batcher.guard(since);
    const settled = (): void => {
      if (this.#completing.get(suffix) === token) this.#completing.delete(suffix);
    };
    this.#batcher.promise('complete').then(() => {
      settled();
      if (this.#batcher.appendFailedSince(since)) this.#release(suffix, 'd', token);
    }, () => {
      settled();
      // It may have run before the connection dropped: forget the completion too.
      this.#release(suffix, 'd', token);
    });
  }

  /** The handler failed: the claim is dropped, so the resend is handled again. */
  release(from: string, messageId: string): void {
    const suffix = Keys.upstream(from, messageId);
    const held = this.#running.get(suffix);
    if (held === undefined) return;
    this.#running.delete(suffix);
    this.#release(suffix, 'r', held.token);
  }

  /** Redis is back: sends the releases that failed. */
  reconnected(): void {
    if (this.#retryRelease.length === 0) return;
    const items = this.#retryRelease;
    this.#retryRelease = [];
    for (let i = 0; i + 2 < items.length; i += 3) {
      const suffix = items[i + 1] as string;
      const mode = items[i] as 'r' | 'd';
      // Counted once more by #release.
      if (mode === 'd') this.#undone(suffix);
      this.#release(suffix, mode, items[i + 2] as string);
    }
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

  /**
   * Mode `r`: our running claim made under `token`; `d`: also a completion whose replies were not
   * recorded.
   */
  #release(suffix: string, mode: 'r' | 'd', token: string): void {
    this.#batcher.args('release').push(mode, suffix, token);
    this.#batcher.added('release');
    if (mode === 'd') this.#undoing.set(suffix, (this.#undoing.get(suffix) ?? 0) + 1);
    this.#batcher.promise('release').then(() => {
      if (mode === 'd') this.#undone(suffix);
    }, () => {
      // Bounded: a claim left behind expires with the window anyway; this only makes it go sooner.
      if (this.#retryRelease.length < MAX_RETRY_RELEASES * 3) this.#retryRelease.push(mode, suffix, token);
      else if (mode === 'd') this.#undone(suffix);
    });
  }

  #undone(suffix: string): void {
    const n = (this.#undoing.get(suffix) ?? 1) - 1;
    if (n > 0) this.#undoing.set(suffix, n);
    else this.#undoing.delete(suffix);
  }

  /** Asks Redis for the claim under a new token; `stale`: our token on that key that nothing runs under any more. */
  #ask(waiter: Waiter, stale = ''): void {
    const token = (++this.#tokens).toString(36);
    this.#batcher.args('claim').push(waiter.suffix, token, stale);
    const index = this.#batcher.added('claim');
    const batch = this.#batcher.batch;
    this.#batcher.promise('claim').then(
      (codes) => this.#answer(waiter, codes[index], batch, token),
      (err: unknown) => {
        // It may have run before the connection dropped, its answer lost: handed back (retried when
        // Redis is back), as a failed completion is. Left, it held the message under this live
        // instance with no handler running, and every other instance waited on it for dedupWindowMs.
        this.#release(waiter.suffix, 'r', token);
        waiter.reject(storeError('claim', err));
      },
    );
  }

  #answer(waiter: Waiter, code: unknown, batch: number, token: string): void {
    if (waiter.abandoned) {
      // Nobody waits for it: nothing more is asked, and a claim taken for it is handed back.
      if (code === NEW) this.#release(waiter.suffix, 'r', token);
      return;
    }
    if (typeof code === 'string') {
      // Held by this instance under `code`: a handler runs under it here (or its completion is
      // on its way, queued after this claim), or it is left over by a handler that failed, a
      // completion that failed to record, or an earlier process with this instanceId. Then
      // nothing runs it any more: it is taken again under a new token, in Redis, so the pending
      // release of the old token (maybe already queued behind this claim) cannot drop it.
      if (this.#running.get(waiter.suffix)?.token === code || this.#completing.get(waiter.suffix) === code) {
        waiter.resolve('running');
      } else {
        this.#ask(waiter, code);
      }
      return;
    }
    switch (code) {
      case NEW:
        this.#running.set(waiter.suffix, { batch, token });
        waiter.resolve('new');
        return;
      case DONE:
        // Done, unless its completion is being undone (a reply it sent was not recorded): then CCS
        // must resend it once the release has landed, and it runs again.
        waiter.resolve(this.#undoing.has(waiter.suffix) ? 'running' : 'done');
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
      for (const all of waiting) {
        const waiters = all.filter((w) => !w.abandoned);
        const first = waiters[0];
        if (first === undefined) continue;
        // One claim per key; the other waiters of the same key (a resend on a second connection)
        // follow its answer: the first still waited for runs it (`new`), the others see `running`.
        this.#ask({
          suffix: first.suffix,
          get abandoned() {
            return waiters.every((w) => w.abandoned);
          },
          resolve: (claim) => {
            let taken = claim !== 'new';
            for (const w of waiters) {
              if (w.abandoned) continue;
              w.resolve(taken ? (claim === 'new' ? 'running' : claim) : claim);
              taken = true;
            }
          },
          reject: (err) => {
            for (const w of waiters) w.reject(err);
          },
        });
      }
    }, this.#pollMs);
  }
}
