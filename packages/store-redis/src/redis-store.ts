import { EventEmitter } from 'node:events';
import { Keys } from './keys.js';
import { RedisLink } from './redis-link.js';
import { TickBatcher } from './tick-batcher.js';
import { LeaseKeeper } from './lease-keeper.js';
import { OutboxJournal } from './outbox-journal.js';
import { RedisDedupStore } from './redis-dedup-store.js';
import { RedisOutboxStore } from './redis-outbox-store.js';
import { redactedRedis, redisHost, resolveStoreOptions, type RedisStoreOptions, type ResolvedStoreOptions } from './options.js';
import { StoreError, storeError } from './errors.js';
import { readOutcomes, type Outcome } from './outcomes.js';

/** Lifecycle events of a {@link RedisStore}. */
export interface RedisStoreEvents {
  /** Redis is reachable again (after `down`): reconnected, or answering again after a stall. */
  up: [];
  /**
   * Redis became unreachable — the connection was lost, or it stalled (a lease renewal unanswered
   * for `stallTimeoutMs` on a live connection) — appends are refused, claims and completions fail
   * until `up`.
   */
  down: [error: StoreError];
  /** Records of a dead instance were adopted. */
  adopted: [count: number, previousOwners: string[]];
  /** This instance's lease had lapsed before a renewal (a long pause, or Redis was away): its records may have been adopted. */
  leaseLapsed: [];
  /** A store failure with no caller to report it to (only emitted while someone listens). */
  error: [error: StoreError];
}

/**
 * One sender's outbox and upstream de-duplication on Redis, shared by every instance of the
 * sender. `outbox` and `dedup` are the two halves the client plugs in; they share one Redis
 * connection, one per-tick pipeline and this instance's lease.
 *
 * Created connected-in-the-background by {@link redisStore}; `ready()` resolves once the lease is
 * held. Anything asked of it before then, or while Redis is away, fails with `CCS_ERR_STORE`.
 */
export class RedisStore extends EventEmitter<RedisStoreEvents> {
  /** This instance's id (its lease, its `own:` set, the `instance` field of its outcomes). */
  readonly instanceId: string;
  /** The resolved options (`redis` as given, password included: not for logs — inspecting the store shows it without). */
  readonly options: Readonly<ResolvedStoreOptions>;
  /** The key layout of this sender. */
  readonly keys: Keys;
  /** The client's `OutboxStore`. */
  readonly outbox: RedisOutboxStore;
  /** The client's `UpstreamDedupStore`. */
  readonly dedup: RedisDedupStore;
  readonly #link: RedisLink;
  /** The lease's own connection: renewals never queue behind data or an adoption scan's answer. */
  readonly #control: RedisLink;
  /** Adoption scans' connection (a scan's answer holds every record of a dead instance). */
  readonly #scans: RedisLink;
  readonly #batcher: TickBatcher;
  readonly #lease: LeaseKeeper;
  readonly #journal: OutboxJournal;
  readonly #ready: Promise<void>;
  #down = false;
  #closed: Promise<void> | undefined = undefined;
  #adoptionOn = false;
  #started = false;
  /** Bounds ready() (readyTimeoutMs); cleared once it settles, or the store is dropped. */
  #readyTimer: NodeJS.Timeout | undefined = undefined;

  constructor(options: RedisStoreOptions) {
    super();
    const o = resolveStoreOptions(options);
    this.options = o;
    this.instanceId = o.instanceId;
    this.keys = new Keys(o.senderId, o.keyNamespace);
    const k = this.keys;
    const me = o.instanceId;
    this.#link = new RedisLink({ redis: o.redis, reconnectMaxMs: o.reconnectMaxMs, connectionName: `ccs-${me}` }, {
      onUp: () => this.#up(),
      onDown: (err) => this.#goneDown(err),
    });
    this.#control = new RedisLink({ redis: o.redis, reconnectMaxMs: o.reconnectMaxMs, connectionName: `ccs-${me}-lease` }, {
      onUp: () => {
        if (this.#started) this.#lease.reconnected();
      },
      // The data connection reports Redis going away; this one only stops renewing meanwhile.
      onDown: () => {},
    });
    this.#scans = new RedisLink({ redis: o.redis, reconnectMaxMs: o.reconnectMaxMs, connectionName: `ccs-${me}-adopt` }, {
      // Back after a cut: no adoption for one lease period, as after any reconnect.
      onUp: () => {
        if (this.#started) this.#lease.reconnected();
      },
      onDown: () => {},
    });
    this.#batcher = new TickBatcher(this.#link, {
      append: [k.out, k.own(me), k.instances, me],
      update: [k.out],
      remove: [k.out, k.own(me)],
      settle: [k.out, k.own(me), k.outcomes, o.outcomesMaxLen, me],
      claim: [k.instances, me, k.prefix, o.dedupWindowMs],
      complete: [k.done, k.prefix, o.dedupWindowMs, o.dedupMaxCount, me],
      release: [k.instances, me, k.prefix],
    });
    this.#journal = new OutboxJournal(this.#batcher, this.#link, k, me, o.outcomesMaxLen, { error: (err) => this.#report(err) });
    this.outbox = new RedisOutboxStore(me, this.#journal, this.#batcher, {
      outboxAttached: () => {
        this.#adoptionOn = true;
      },
      closeShared: () => this.close(),
    }, o.outcomes);
    this.dedup = new RedisDedupStore(this.#batcher, o.claimPollMs, () => this.close());
    this.#lease = new LeaseKeeper(this.#control, this.#scans, k, {
      instanceId: me, leaseTtlMs: o.leaseTtlMs, adoptIntervalMs: o.adoptIntervalMs, adoptMax: o.adoptMax, stallTimeoutMs: o.stallTimeoutMs,
    }, {
      adopted: (records) => {
        this.outbox.adopt(records);
        this.emit('adopted', records.length, [...new Set(records.map((r) => r.previousOwner))]);
      },
      leaseLapsed: () => this.emit('leaseLapsed'),
      error: (err) => this.#report(err),
      // Stalled: what is in flight waits for Redis (or for the caller's own bound); new work is
      // refused at once, as while Redis is down.
      stalled: (err) => {
        this.#link.hold(true);
        this.#goneDown(err);
      },
      answering: () => {
        this.#link.hold(false);
        if (this.#link.ready) this.#up();
      },
    });
    this.#ready = this.#start();
    this.#ready.catch(() => {});
  }

  // The options hold the Redis URL and its password: util.inspect / console.log of the store must not show them.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisStore { instanceId: ${JSON.stringify(this.instanceId)}, senderId: ${JSON.stringify(this.options.senderId)}, redis: ${JSON.stringify(redactedRedis(this.options.redis))} }`;
  }

  /**
   * Resolves when connected and holding the lease; rejects with a StoreError (`connect`) when the
   * first connection fails, or when Redis has not answered within `readyTimeoutMs` (stopped,
   * paused, unreachable): the store is then dropped.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** True while Redis answers (appends are accepted). */
  get available(): boolean {
    return this.#started && this.#link.ready && this.#closed === undefined;
  }

  /** Runs one adoption scan now instead of waiting for the timer (tests, tools). */
  adoptNow(): Promise<number> {
    if (!this.#adoptionOn) return Promise.resolve(0);
    return this.#lease.scan();
  }

  /** Reads up to `count` entries of the outcome stream after `afterId` (`'0'`: from the start). */
  readOutcomes(afterId = '0', count = 1000): Promise<Outcome[]> {
    return readOutcomes(this.#link.redis, this.keys.outcomes, afterId, count);
  }

  /**
   * Stops the lease and closes the connection. Records still owned here stay in Redis and are
   * adopted by another instance right away (the lease is dropped, not left to lapse). Idempotent;
   * the outbox's and the dedup store's `close()` both land here. Bounded by `closeTimeoutMs`
   * (default 2000) as a whole: when Redis has not answered what is in flight, the lease release and
   * the QUITs by then, the connections are dropped at once and the lease lapses by itself (adoption
   * then follows within `leaseTtlMs + adoptIntervalMs`).
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const deadline = performance.now() + this.options.closeTimeoutMs;
      this.dedup.stop();
      this.#batcher.flush();
      const drained = (async () => {
        await this.#batcher.barrier()?.catch(() => {});
        await this.#lease.release().catch(() => {});
        await Promise.all([this.#link.close(), this.#control.close(), this.#scans.close()]);
        return true;
      })();
      // Bounded: a Redis that does not answer (stopped, stalled, a partition without a reset) held
      // close() — and the client's close() with it — until it answered, for good. Past the bound the
      // connections are dropped: what was in flight may or may not have run (at-least-once), and the
      // lease lapses by itself instead of being dropped. One deadline for the drain and the QUITs
      // (each had 2 s of its own: up to 4 s in all).
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([drained, new Promise<false>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), false); })]);
      clearTimeout(timer);
      if (!inTime) {
        this.#lease.stop();
        this.#link.destroy();
        this.#control.destroy();
        this.#scans.destroy();
      }
    })();
    return this.#closed;
  }

  /** Drops the connection at once; the lease lapses by itself. */
  destroy(): void {
    this.#closed ??= Promise.resolve();
    clearTimeout(this.#readyTimer);
    this.#lease.stop();
    this.dedup.stop();
    this.#batcher.cancel(new StoreError('connect', 'the store was destroyed', { unavailable: true }));
    this.#link.destroy();
    this.#control.destroy();
    this.#scans.destroy();
  }

  async #start(): Promise<void> {
    const o = this.options;
    // Bounded: a Redis that accepts the connection and never answers (stopped, paused, a partition
    // without a reset) kept ready() pending for good (measured: still pending after 12 s), and a
    // library user's startup with it. Past the bound the store is dropped as after a failed connect.
    const late = new Promise<never>((_, reject) => {
      this.#readyTimer = setTimeout(() => reject(new StoreError('connect',
        `Redis at ${redisHost(o.redis)} did not answer within ${o.readyTimeoutMs} ms (readyTimeoutMs): stopped, paused, unreachable or still loading?`,
        { unavailable: true })), o.readyTimeoutMs);
    });
    const started = (async () => {
      await Promise.all([this.#link.open(), this.#control.open(), this.#scans.open()]);
      await this.#lease.start();
    })();
    // Whatever it ends in after the bound is moot: the connections are gone by then.
    started.catch(() => {});
    try {
      await Promise.race([started, late]);
      this.#started = true;
    } catch (err) {
      this.#lease.stop();
      this.#link.destroy();
      this.#control.destroy();
      this.#scans.destroy();
      throw storeError('connect', err);
    } finally {
      clearTimeout(this.#readyTimer);
      this.#readyTimer = undefined;
    }
  }

  #up(): void {
    if (!this.#started) return;
    // Written before anything the batcher sends later: removals that failed, appends that must not outlive their refusal.
    this.#journal.resend();
    this.dedup.reconnected();
    if (this.#down) {
      this.#down = false;
      this.emit('up');
    }
  }

  #goneDown(err: StoreError): void {
    if (!this.#started || this.#down || this.#closed !== undefined) return;
    this.#down = true;
    this.emit('down', err);
  }

  #report(err: StoreError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/**
 * A Redis-backed store for `CcsClient`'s `store` option: `{ outbox, dedup }` shared by every
 * instance of one sender. Connects in the background; `await store.ready()` to know it holds its
 * lease. See the package README for the key layout and the guarantees.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
