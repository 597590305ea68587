import { randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';
import type { RedisLink } from './redis-link.js';
import { StoreError, storeError } from './errors.js';
import { renewalPeriodMs } from './options.js';

/** A record taken over from a dead instance, as stored. */
export interface AdoptedRecord {
  /** The instance that owned it. */
  readonly previousOwner: string;
  /** Its `message_id`. */
  readonly id: string;
  /** The serialised record. */
  readonly record: string;
  /**
   * Its order number in this instance's own set (`own:<me>`): below every order number of a
   * message this instance accepted, above every record it adopted before. The serialised record's
   * `seq` is not an order here: it came from the counter of whichever process accepted it.
   */
  readonly order: number;
}

/**
 * Where adopted records' order numbers start (the first is one above): below any `seq` the client
 * gives (0 up), exact as a Redis score (a double) for 2^53 - 2 adoptions.
 */
const ADOPTED_ORDER = -Number.MAX_SAFE_INTEGER;

/** What the lease keeper reports. */
export interface LeaseSink {
  /** Records of dead instances, now owned here, in their owners' submission order. */
  adopted(records: AdoptedRecord[]): void;
  /** This instance's lease had lapsed before a renewal: others may have adopted its records. */
  leaseLapsed(): void;
  /** A heartbeat or adoption scan failed while Redis was connected. */
  error(err: StoreError): void;
  /** A renewal has had no answer for `stallTimeoutMs` while the connection is up: Redis is stalled. */
  stalled(err: StoreError): void;
  /** Redis answered a renewal again after {@link stalled}. */
  answering(): void;
}

/** Timing of the lease. */
export interface LeaseOptions {
  instanceId: string;
  leaseTtlMs: number;
  adoptIntervalMs: number;
  adoptMax: number;
  /** A renewal unanswered this long (ms) means Redis is stalled. */
  stallTimeoutMs: number;
}

/**
 * Owns this instance's lease (`lease:<instance>`, a key with a TTL renewed every fifth of it) and
 * the adoption scan (every `adoptIntervalMs`, a script moves the records of every registered
 * instance whose lease is gone to this one). A lapsed lease is the only sign of death, so:
 * - after connecting or reconnecting to Redis, this instance adopts nothing for one lease period —
 *   when Redis itself was down longer than a lease, every lease lapsed, and the live instances
 *   need one renewal round before anyone may be presumed dead;
 * - the scan takes at most `adoptMax` records per script (Redis runs nothing else meanwhile); a
 *   bigger dead instance is marked as this adopter's and taken over the next scans, which follow
 *   at once, so one adopter resends its records and their per-target order holds.
 *
 * Renewals run on a connection of their own: a renewal never waits behind megabytes of pipelined
 * appends on the data connection (measured: renewals queued there took up to 2.4 s under load, and
 * leases of live instances lapsed), nor behind an adoption scan's answer on the scan's connection —
 * every record of a dead instance in one reply (measured, 100 000 records of 1 KB: the renewal
 * behind it answered after 2.3 s, one on another connection after 1.35 s, the time Redis itself
 * ran the script). Renewals go out on a fixed cadence, not one round trip after the other, so a
 * slow answer does not delay the next.
 *
 * Its timers are unref'd: the store's Redis connection is what keeps a process alive while the
 * store is open, and closing the store stops them.
 */
export class LeaseKeeper {
  /** Renewals (and the stall watch) only. */
  readonly #link: RedisLink;
  /** Adoption scans: their answers (every record of a dead instance) never delay a renewal. */
  readonly #scanLink: RedisLink;
  readonly #keys: Keys;
  readonly #options: LeaseOptions;
  readonly #sink: LeaseSink;
  readonly #token: string;
  #beatTimer: NodeJS.Timeout | undefined = undefined;
  #scanTimer: NodeJS.Timeout | undefined = undefined;
  /** Monotonic ms before which no adoption runs (`Infinity` until the first renewal). */
  #adoptAfter = Number.POSITIVE_INFINITY;
  #beats = 0;
  /** Adoption scans made (each names its stage). */
  #scans = 0;
  /** Unique to this process: a restart with the same instanceId must not reuse a stage name left by the previous one. */
  readonly #stagePrefix = `${randomBytes(4).toString('hex')}.`;
  #beating = false;
  /** A renewal went unanswered for `stallTimeoutMs` and none has been answered since. */
  #stalled = false;
  /** The stall timer of the renewal in flight. */
  #watch: NodeJS.Timeout | undefined = undefined;
  #scanning = false;
  #stopped = false;
  /**
   * The last order number given to an adopted record in `own:<me>`. Adopted records are ordered
   * below every message this instance accepts (whose order is the client's `seq`, from 0 up), as the
   * client's outbox sends them (ahead of anything it accepted), and each scan's after the last
   * one's: a dead instance taken over several scans keeps its order, and a later adopter of this
   * instance resends them before the messages this one accepted, never a newer message to a target
   * before an older adopted one. (They were scored after the client's highest `seq` so far, and its
   * next messages, numbered by a counter that does not count adopted ones, came before them.)
   */
  #adoptedSeq = ADOPTED_ORDER;

  constructor(link: RedisLink, scanLink: RedisLink, keys: Keys, options: LeaseOptions, sink: LeaseSink) {
    this.#link = link;
    this.#scanLink = scanLink;
    this.#keys = keys;
    this.#options = options;
    this.#sink = sink;
    this.#token = `${options.instanceId}:${process.hrtime.bigint().toString(36)}`;
  }

  /** Takes the lease (the first heartbeat) and starts the timers; rejects with a StoreError when Redis fails it. */
  async start(): Promise<void> {
    await this.#beat();
    // What own:<me> holds now an earlier process with this instanceId left (nothing is appended
    // before ready()): handed to the adoption scan under a name of its own. Left there, nobody sent
    // it while this process lived — the others see a live lease, and the scan skips `me`.
    const me = this.#options.instanceId;
    await this.#link.script('ccsRetire', [this.#keys.own(me), this.#keys.instances, this.#keys.prefix, `${me}~${this.#stagePrefix}earlier`]);
    this.#adoptAfter = performance.now() + this.#options.leaseTtlMs;
    this.#scheduleBeat();
    this.#scheduleScan();
  }

  /** Redis is back: renew at once, and hold adoption for one lease period. */
  reconnected(): void {
    if (this.#stopped) return;
    this.#adoptAfter = performance.now() + this.#options.leaseTtlMs;
    this.#beat().catch(() => {});
  }

  /** Stops both timers (the lease then lapses by itself, or is dropped by {@link release}). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#beatTimer);
    clearTimeout(this.#scanTimer);
    clearTimeout(this.#watch);
    this.#watch = undefined;
  }

  /**
   * Ends the lease now (a clean shutdown): records still owned are adopted by the others at their
   * next scan instead of after a lease period.
   */
  async release(): Promise<void> {
    this.stop();
    if (this.#link.ready) await this.#link.redis.del(this.#keys.lease(this.#options.instanceId)).catch(() => 0);
  }

  /** Runs one adoption scan now (tests; the timer calls it too). Resolves with the number of records adopted. */
  async scan(): Promise<number> {
    if (this.#scanning || !this.#scanLink.ready || !this.#link.ready || performance.now() < this.#adoptAfter) return 0;
    this.#scanning = true;
    try {
      const me = this.#options.instanceId;
      // The records land in a stage of their own first (see the adopt script): if this answer is
      // lost, the stage lapses and they are adopted again rather than kept here unsent.
      const stage = `${me}~${this.#stagePrefix}${(++this.#scans).toString(36)}`;
      const base = this.#adoptedSeq;
      const reply = await this.#scanLink.script('ccsAdopt', [
        this.#keys.instances, this.#keys.out, this.#keys.own(me),
        me, this.#keys.prefix, base, this.#options.adoptMax, stage, this.#options.leaseTtlMs,
      ]);
      const flat = Array.isArray(reply) ? (reply as string[]) : [];
      if (flat.length === 0) return 0;
      this.#adoptedSeq = base + flat.length / 3;
      const records: AdoptedRecord[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        // The script scored them base + 1, base + 2… in this order.
        records.push({ previousOwner: flat[i] as string, id: flat[i + 1] as string, record: flat[i + 2] as string, order: base + 1 + i / 3 });
      }
      // Stopped (closing): not taken, the stage lapses and another instance adopts them.
      if (this.#stopped) return 0;
      this.#scanLink.script('ccsAdopted', [this.#keys.instances, this.#keys.out, this.#keys.own(me), this.#keys.prefix, stage]).catch((err: unknown) => {
        // The stage lapses and is adopted again: those records go out twice (at-least-once).
        if (this.#scanLink.ready) this.#sink.error(storeError('adopt', err));
      });
      this.#sink.adopted(records);
      return records.length;
    } catch (err) {
      if (this.#scanLink.ready) this.#sink.error(storeError('adopt', err));
      return 0;
    } finally {
      this.#scanning = false;
    }
  }

  /** True between {@link LeaseSink.stalled} and {@link LeaseSink.answering}. */
  get stalled(): boolean {
    return this.#stalled;
  }

  async #beat(): Promise<void> {
    const me = this.#options.instanceId;
    let reply: unknown;
    // The renewal is the stall probe: it runs on a connection of its own that never queues behind
    // data, on a fixed cadence, so an answer missing for stallTimeoutMs means Redis itself does not
    // answer (a connection that drops is reported by the link instead). Checked once more after the
    // I/O phase (setImmediate): an event loop blocked past the bound fires the timer before it reads
    // an answer already waiting in the socket.
    const watch = this.#beats > 0 && !this.#stalled
      ? setTimeout(() => setImmediate(() => this.#stall(watch)), this.#options.stallTimeoutMs).unref()
      : undefined;
    if (watch !== undefined) this.#watch = watch;
    try {
      reply = await this.#link.script('ccsHeartbeat', [
        this.#keys.lease(me), this.#keys.instances, me, this.#options.leaseTtlMs, this.#token,
      ]);
    } catch (err) {
      const e = storeError('heartbeat', err);
      // While Redis is away the link reports that once; a failing renewal on a live link is news.
      if (this.#beats > 0 && this.#link.ready) this.#sink.error(e);
      throw e;
    } finally {
      clearTimeout(watch);
      if (watch !== undefined && this.#watch === watch) this.#watch = undefined;
    }
    if (this.#stalled) {
      this.#stalled = false;
      // Redis's clock ran while it stalled: leases of live instances may have lapsed meanwhile.
      this.#adoptAfter = performance.now() + this.#options.leaseTtlMs;
      if (!this.#stopped) this.#sink.answering();
    }
    if (reply === 0 && this.#beats > 0 && !this.#stopped) this.#sink.leaseLapsed();
    this.#beats++;
  }

  #stall(watch: NodeJS.Timeout | undefined): void {
    if (this.#watch !== watch || this.#stalled || this.#stopped || !this.#link.ready) return;
    this.#stalled = true;
    this.#sink.stalled(new StoreError('heartbeat', `Redis has not answered for ${this.#options.stallTimeoutMs} ms (stalled: stopped, paused, or cut off without a reset)`, { unavailable: true }));
  }

  #scheduleBeat(): void {
    if (this.#stopped) return;
    this.#beatTimer = setTimeout(() => {
      this.#scheduleBeat();
      // One renewal in flight at a time; the cadence does not wait for it.
      if (this.#beating || !this.#link.ready) return;
      this.#beating = true;
      this.#beat().catch(() => {}).finally(() => {
        this.#beating = false;
      });
    }, renewalPeriodMs(this.#options.leaseTtlMs));
    this.#beatTimer.unref();
  }

  #scheduleScan(delayMs = this.#options.adoptIntervalMs): void {
    if (this.#stopped) return;
    this.#scanTimer = setTimeout(() => {
      // A full scan may have left a dead instance part-taken (marked as ours for a lease period):
      // the next one follows at once.
      this.scan().then((n) => this.#scheduleScan(n >= this.#options.adoptMax ? 0 : undefined), () => this.#scheduleScan());
    }, delayMs);
    this.#scanTimer.unref();
  }
}
