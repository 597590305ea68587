import { backoffDelay, JitterKind } from './backoff.js';
import type { ClockTimer, KeepAlive } from './clock.js';
import { ccsChannels } from './diagnostics.js';
import { CcsConnection, promiseWriteMark, SOCKET_HIGH_WATER_MARK, type CcsConnectionOptions, type ConnectionSink } from './connection.js';
import { CcsError, ClosedError, ReconnectStoppedError, type HandshakeError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Outbound } from './outbound.js';
import type { ConnectionGauges, Counters } from './stats.js';

/** Payload of `online` / `offline` / `draining` events. */
export interface ConnectionEvent {
  connectionId: string;
  /** `offline` only: why, when it was not our own close (nor CCS closing a drained connection). */
  error?: Error;
  /** `offline` only: the connection had been drained (CCS `CONNECTION_DRAINING`) before it closed. */
  drained?: boolean;
}

/** Payload of `reconnecting`. */
export interface ReconnectEvent {
  /** Consecutive failed attempts so far (0-based). */
  attempt: number;
  delayMs: number;
  error: Error | undefined;
}

/** The pool's lifecycle (the client's, as far as connections go). */
export const enum PoolState {
  Idle,
  Connecting,
  Open,
  Closing,
  Closed,
}

/** What the pool reports. The message-level callbacks go straight to the outbox and the inbox. */
export interface PoolEvents extends Pick<ConnectionSink, 'onAck' | 'onNack' | 'onUpstream' | 'onReceipt' | 'onWritable' | 'onProtocolError'> {
  online(event: ConnectionEvent): void;
  offline(event: ConnectionEvent): void;
  draining(event: ConnectionEvent): void;
  reconnecting(event: ReconnectEvent): void;
  error(err: Error): void;
  /** `reconnectStrategy` stopped reconnecting and no connection is left (`CCS_ERR_RECONNECT_STOPPED`): the client must close. */
  stopped(err: ReconnectStoppedError): void;
  /** A connection closed owing these messages (send order). */
  owed(owed: Outbound[]): void;
  /** Whether accepted work is still unfinished (while closing, lost connections are replaced only then). */
  busy(): boolean;
}

interface ConnectWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  promise: Promise<void>;
  /** `connect()` calls waiting on it: an abort gives the attempt up only when it was the last. */
  callers: number;
  failures: number;
  first: Error | undefined;
}

/**
 * The connections: opening `connections` of them, the connect waiter, replacement with one backoff
 * counter for the whole pool (so a dead server is not hammered N times per step), draining
 * handover, and `pick()` — the usable connection with the most free window.
 */
export class ConnectionPool {
  readonly #o: ResolvedOptions;
  readonly #events: PoolEvents;
  readonly #keepAlive: KeepAlive;
  readonly #counters: Counters;
  readonly #sink: ConnectionSink;
  readonly #conns: CcsConnection[] = [];
  readonly #reconnectTimers = new Set<ClockTimer>();
  /** The most free window of the usable connections the last `pick()` did not return (`pickAgain`). */
  #runnerUp = 0;
  /** The connections' write mark: the socket's, or {@link promiseWriteMark} from a `send()` until nothing is outstanding. */
  #writeMark = SOCKET_HIGH_WATER_MARK;
  #state = PoolState.Idle;
  #waiter: ConnectWaiter | undefined;
  /** `connect({ all: true })` callers waiting for every configured connection to be online. */
  #allWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #attempt = 0;
  /** Set once `reconnectStrategy` returned `false`: no connection is opened any more. */
  #stopped: ReconnectStoppedError | undefined = undefined;

  constructor(options: ResolvedOptions, events: PoolEvents, keepAlive: KeepAlive, counters: Counters) {
    this.#o = options;
    this.#events = events;
    this.#keepAlive = keepAlive;
    this.#counters = counters;
    this.#sink = {
      onAck: events.onAck, onNack: events.onNack, onUpstream: events.onUpstream, onReceipt: events.onReceipt,
      onWritable: events.onWritable,
      onProtocolError: (conn, err) => {
        if (ccsChannels.streamError.hasSubscribers) ccsChannels.streamError.publish({ connectionId: conn.id, error: err, fatal: false });
        events.onProtocolError(conn, err);
      },
      onDraining: (conn) => this.#onDraining(conn),
      onAcksWritten: (_conn, n) => {
        this.#counters.upstreamAcked += n;
      },
      onClosed: (conn, err) => this.#onClosed(conn, err),
    };
  }

  get state(): PoolState {
    return this.#state;
  }

  /** Opens the connections; resolves when the first is online, rejects with the first failure when none could be. */
  connect(): Promise<void> {
    if (this.#state === PoolState.Closing || this.#state === PoolState.Closed) return Promise.reject(new ClosedError());
    if (this.#state === PoolState.Open) return Promise.resolve();
    if (this.#waiter) {
      this.#waiter.callers++;
      return this.#waiter.promise;
    }
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#waiter = { resolve, reject, promise, callers: 1, failures: 0, first: undefined };
    this.#state = PoolState.Connecting;
    for (let i = 0; i < this.#o.connections; i++) this.#open();
    return promise;
  }

  /**
   * Resolves once `connections` connections are online and not draining (after `connect()` has
   * resolved); rejects with `CCS_ERR_CLOSED` when the client closes first.
   */
  allOnline(): Promise<void> {
    if (this.#state === PoolState.Closing || this.#state === PoolState.Closed) return Promise.reject(new ClosedError());
    if (this.#usableCount() >= this.#o.connections) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#allWaiters.push({ resolve, reject }));
  }

  /**
   * Gives up a first `connect()` that has nothing online yet (its signal fired): the attempts are
   * destroyed and the pool is idle again, so `connect()` may be called anew. Once a connection is
   * online this does nothing: the caller only stops waiting. So too while another `connect()` call
   * still waits for this attempt: its promise rejected with the other caller's abort.
   */
  abortConnect(err: Error): void {
    if (this.#state !== PoolState.Connecting) return;
    if (this.#waiter !== undefined && --this.#waiter.callers > 0) return;
    this.#state = PoolState.Idle;
    for (const c of this.#conns.splice(0)) c.destroy();
    this.#rejectWaiter(err);
  }

  /** The usable connection with the most free window (the first of equals), or undefined. */
  pick(): CcsConnection | undefined {
    const conns = this.#conns;
    let best: CcsConnection | undefined;
    let bestFree = 0;
    // The most free window of the others (`pickAgain`): only connections above it are asked for
    // `usable`, so with every other window full (a busy client's steady state) no socket is asked.
    let runnerUp = 0;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i] as CcsConnection;
      // The window first: a counter, where `usable` reads the socket's state through several
      // getters. This runs once per ACK over every connection, and with every window full (a busy
      // client's steady state) no socket is asked at all (CPU profile, bench/ccs-client.mjs at 16
      // connections: pick() 1.5% of the client's time before, 0.8% after).
      const free = c.free;
      if (free > runnerUp && c.usable) {
        if (free > bestFree) {
          runnerUp = bestFree;
          best = c;
          bestFree = free;
        } else runnerUp = free;
      }
    }
    this.#runnerUp = runnerUp;
    return best;
  }

  /**
   * Whether `pick()` would return `conn`, what the last `pick()` returned, again now: still usable and
   * its window still larger than any other's was then (a tie goes back to `pick()`, which takes the
   * first of equals). For the outbox's dispatch loop, right after a write to `conn`: within one
   * synchronous loop no other window grows (ACKs come from socket reads), so the answer is `pick()`'s
   * with one connection asked instead of all — at 100 × 16 through `dispatch()` the `free` getter
   * over 16 connections per message was the top line of the outbox's dispatch (bench/ANALYSIS.md,
   * sixteenth pass). Misused, it can only pick less evenly: `conn` must still be usable and have room.
   */
  pickAgain(conn: CcsConnection): boolean {
    return conn.free > this.#runnerUp && conn.usable;
  }

  /** The message with this id in some connection's in-flight map. */
  inFlight(id: string): Outbound | undefined {
    for (const c of this.#conns) {
      const o = c.inflight.get(id);
      if (o !== undefined) return o;
    }
    return undefined;
  }

  /** Gauges: connections by state and messages in flight. */
  gauges(): { online: number; draining: number; connecting: number; pending: number; perConnection: ConnectionGauges[] } {
    let online = 0;
    let draining = 0;
    let connecting = 0;
    let pending = 0;
    const perConnection: ConnectionGauges[] = [];
    const now = this.#o.clock.now();
    for (const c of this.#conns) {
      if (c.closed) continue;
      if (c.online) {
        online++;
        if (c.draining) draining++;
      } else connecting++;
      pending += c.inflight.size;
      perConnection.push({
        connectionId: c.id, state: !c.online ? 'connecting' : c.draining ? 'draining' : 'online',
        pending: c.inflight.size, free: c.usable ? c.free : 0, onlineMs: c.onlineAt > 0 ? now - c.onlineAt : 0,
      });
    }
    return { online, draining, connecting, pending, perConnection };
  }

  /** Graceful shutdown begins: no connect() any more; lost connections are replaced only while work remains. */
  beginClose(): void {
    this.#state = PoolState.Closing;
    this.#rejectWaiter(new ClosedError('the client was closed before it came online'));
  }

  /** Stops everything: no reconnects; `connect()` waiters get `error`; returns what the connections still owe (the caller fails it). */
  stop(error: Error): Outbound[] {
    this.#state = PoolState.Closed;
    this.#rejectWaiter(error);
    for (const t of this.#reconnectTimers) this.#o.clock.clearTimer(t);
    this.#reconnectTimers.clear();
    const owed: Outbound[] = [];
    for (const c of this.#conns) owed.push(...c.takeOwed());
    return owed;
  }

  /** Ends every connection's stream (bounded). */
  async closeAll(timeoutMs: number): Promise<void> {
    await Promise.all(this.#conns.map((c) => c.close(timeoutMs)));
    this.#conns.length = 0;
  }

  /** Closes every connection at once. */
  destroyAll(): void {
    for (const c of this.#conns.splice(0)) c.destroy();
  }

  /** True when nothing is open, opening or scheduled. */
  get empty(): boolean {
    return this.#conns.length === 0 && this.#reconnectTimers.size === 0;
  }

  /**
   * Re-applies the keep-alive rule to the reconnect timers, and the embedder's `ref()`/`unref()`
   * to the connections: a connection's socket holds the process as a `net.Socket` does, so an
   * unref'd client's sockets are unref'd too.
   */
  refreshKeepAlive(): void {
    for (const t of this.#reconnectTimers) this.#keepAlive.apply(t);
    for (const c of this.#conns) c.setRef(this.#keepAlive.embedderRef);
  }

  /**
   * A `send()` promise was taken (`true`), or nothing is outstanding any more after one was
   * (`false`): every connection's write mark follows (see {@link promiseWriteMark}), new ones included.
   */
  promisesOutstanding(on: boolean): void {
    const mark = on ? promiseWriteMark(this.#o.connections) : SOCKET_HIGH_WATER_MARK;
    if (mark === this.#writeMark) return;
    this.#writeMark = mark;
    for (const c of this.#conns) c.setWriteMark(mark);
  }

  #open(): void {
    const o = this.#o;
    const options: CcsConnectionOptions = {
      senderId: o.senderId, apiKey: o.apiKey, host: o.host, port: o.port,
      ca: o.tls.ca, servername: o.tls.servername, rejectUnauthorized: o.tls.rejectUnauthorized ?? true,
      maxPending: o.maxPending, handshakeTimeoutMs: o.handshakeTimeoutMs, pingIntervalMs: o.pingIntervalMs,
      idleTimeoutMs: o.idleTimeoutMs, keepaliveIntervalMs: o.keepaliveIntervalMs, session: o.session, resource: o.resource, domain: o.domain, authcid: o.authcid,
      maxEarlyMessages: o.maxEarlyMessages, maxEarlyBytes: o.maxEarlyBytes, socketHighWaterMark: SOCKET_HIGH_WATER_MARK,
      writeMark: this.#writeMark,
    };
    const conn = new CcsConnection(options, this.#sink);
    if (ccsChannels.connecting.hasSubscribers) ccsChannels.connecting.publish({ connectionId: conn.id, host: o.host, port: o.port });
    if (!this.#keepAlive.embedderRef) conn.setRef(false);
    this.#conns.push(conn);
    conn.open().then(
      () => this.#onOnline(conn),
      (err: HandshakeError) => this.#onOpenFailed(conn, err),
    );
  }

  #onOnline(conn: CcsConnection): void {
    // A connection given up after its handshake completed but before this reaction ran (the same
    // tick: an abortConnect() from something the handshake's last read delivered) is no longer
    // ours. Counted, it emitted `online` for a destroyed connection and resolved a connect() begun
    // meanwhile with nothing of that attempt online.
    if (this.#state === PoolState.Closed || !this.#conns.includes(conn)) {
      conn.destroy();
      return;
    }
    conn.onlineAt = this.#o.clock.now();
    // Coming online does not reset the reconnect backoff (a server may fail right after bind every
    // time: 51 handshakes in 10 s once); staying online and healthy does (see #healthy).
    if (this.#state === PoolState.Connecting) {
      this.#state = PoolState.Open;
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.resolve();
    }
    if (ccsChannels.online.hasSubscribers) ccsChannels.online.publish({ connectionId: conn.id });
    this.#events.online({ connectionId: conn.id });
    if (this.#allWaiters.length > 0 && this.#usableCount() >= this.#o.connections) {
      const waiters = this.#allWaiters;
      this.#allWaiters = [];
      for (const w of waiters) w.resolve();
    }
    this.#fill();
    this.#events.onWritable(conn);
  }

  #onOpenFailed(conn: CcsConnection, err: HandshakeError): void {
    const given = !this.#remove(conn);
    if (ccsChannels.closed.hasSubscribers) ccsChannels.closed.publish({ connectionId: conn.id, reason: 'failed', error: err, owed: 0 });
    // An attempt given up (abortConnect(), a failed first connect, a teardown) reports nothing, nor
    // does anything in Idle. Its end may come after a new connect() began (its socket closes
    // asynchronously): counted as that attempt's failure, it tore the new attempt down and
    // rejected it with its own error, 9 ms in.
    if (given || this.#state === PoolState.Closed || this.#state === PoolState.Idle) return;
    if (this.#state === PoolState.Connecting) {
      const w = this.#waiter as ConnectWaiter;
      w.failures++;
      w.first ??= err;
      if (w.failures >= this.#o.connections && !this.#conns.some((c) => c.online)) {
        // Nothing came online: report the first failure; the caller decides whether to retry.
        for (const c of this.#conns.splice(0)) c.destroy();
        this.#state = PoolState.Idle;
        this.#waiter = undefined;
        w.reject(w.first);
      }
      return;
    }
    this.#events.error(err);
    this.#scheduleReconnect(err);
    this.#endIfStopped();
  }

  #onClosed(conn: CcsConnection, err: Error | undefined): void {
    const given = !this.#remove(conn);
    const owed = conn.takeOwed();
    if (given && conn.onlineAt === 0) {
      // Given up before the pool took it online (see #onOnline): what it was written meanwhile goes
      // back to the queue, but it was never online, so no `offline` and no replacement — one was
      // scheduled for it, a connection more than `connections`.
      if (ccsChannels.closed.hasSubscribers) ccsChannels.closed.publish({ connectionId: conn.id, reason: 'closed', error: undefined, owed: owed.length });
      this.#events.owed(owed);
      return;
    }
    // CCS closing a connection it drained is the end of the plan, not a loss.
    const planned = conn.draining && (err === undefined || (err instanceof CcsError && err.code === 'CCS_ERR_CONNECTION_LOST' && err.cause === undefined));
    const error = planned || err === undefined || err instanceof CcsError ? (planned ? undefined : err) : new CcsError('CCS_ERR_CONNECTION_LOST', `connection ${conn.id} lost: ${err.message}`, { cause: err });
    if (ccsChannels.closed.hasSubscribers) {
      ccsChannels.closed.publish({ connectionId: conn.id, reason: planned ? 'drained' : error === undefined ? 'closed' : 'lost', error, owed: owed.length });
    }
    if (err !== undefined && !planned && ccsChannels.streamError.hasSubscribers) ccsChannels.streamError.publish({ connectionId: conn.id, error: err, fatal: true });
    this.#events.owed(owed);
    this.#events.offline(error === undefined ? { connectionId: conn.id, drained: conn.draining } : { connectionId: conn.id, error });
    if (this.#healthy(conn)) this.#attempt = 0;
    if (this.#state !== PoolState.Closed && !conn.draining) this.#scheduleReconnect(error);
    this.#endIfStopped();
  }

  #onDraining(conn: CcsConnection): void {
    this.#counters.drainings++;
    if (ccsChannels.draining.hasSubscribers) ccsChannels.draining.publish({ connectionId: conn.id });
    this.#events.draining({ connectionId: conn.id });
    conn.closeDrainedAfter(this.#o.drainTimeoutMs);
    // At most `connections` drained connections wait for their owed answers: past that the oldest
    // is closed now (what it owes moves over). A server that drains every connection right after
    // bind once made the client hold 398 connections after 20 s.
    let draining = 0;
    for (const c of this.#conns) if (c.draining && !c.closed) draining++;
    for (let i = 0; draining > this.#o.connections && i < this.#conns.length; i++) {
      const c = this.#conns[i] as CcsConnection;
      if (c !== conn && c.draining && !c.closed) {
        draining--;
        void c.close();
      }
    }
    if ((this.#state !== PoolState.Open && this.#state !== PoolState.Closing) || this.#stopped !== undefined) return;
    if (this.#healthy(conn)) {
      // A planned handover (CCS drains long-lived connections): the replacement opens now.
      this.#attempt = 0;
      this.#open();
    } else {
      // Drained soon after it came online: a failure like any other, replaced with backoff.
      this.#scheduleReconnect(undefined);
    }
  }

  /** Online for `reconnectResetMs` and heard from the server: the backoff may start over. */
  #healthy(conn: CcsConnection): boolean {
    return conn.heardOnline && conn.onlineAt > 0 && this.#o.clock.now() - conn.onlineAt >= this.#o.reconnectResetMs;
  }

  /** Slots = connections not draining (online or opening) + scheduled reconnects. */
  #fill(): void {
    if (this.#state !== PoolState.Open) return;
    let slots = this.#reconnectTimers.size;
    for (const c of this.#conns) if (!c.draining) slots++;
    for (; slots < this.#o.connections; slots++) this.#scheduleReconnect(undefined);
  }

  #scheduleReconnect(error: Error | undefined): void {
    if (this.#state !== PoolState.Open && this.#state !== PoolState.Closing) return;
    if ((this.#state === PoolState.Closing && !this.#events.busy()) || this.#stopped !== undefined) return;
    const attempt = this.#attempt++;
    const o = this.#o;
    const delayMs = this.#reconnectDelay(attempt, error);
    if (delayMs === false) {
      const why = error === undefined ? '' : `; the last error: ${error.message}`;
      this.#stopped = new ReconnectStoppedError(`reconnectStrategy stopped reconnecting at attempt ${attempt}${why}`, { cause: error });
      // Given up for good: a replacement already scheduled is not opened either.
      for (const t of this.#reconnectTimers) o.clock.clearTimer(t);
      this.#reconnectTimers.clear();
      return;
    }
    this.#counters.reconnects++;
    this.#events.reconnecting({ attempt, delayMs, error });
    const timer = o.clock.setTimer(() => {
      this.#reconnectTimers.delete(timer);
      if (this.#state === PoolState.Open || (this.#state === PoolState.Closing && this.#events.busy())) this.#open();
    }, delayMs);
    this.#keepAlive.apply(timer);
    this.#reconnectTimers.add(timer);
  }

  /**
   * After a stop, once no connection is left (online, opening or draining), the client gives up:
   * nothing could send what it holds any more.
   */
  #endIfStopped(): void {
    if (this.#stopped !== undefined && this.#conns.length === 0 && this.#state !== PoolState.Closed) this.#events.stopped(this.#stopped);
  }

  /**
   * The hook's delay when it gives a usable one, `false` when it stops reconnecting, else the
   * default backoff (a bad hook is reported, never thrown out of a timer).
   */
  #reconnectDelay(attempt: number, error: Error | undefined): number | false {
    const o = this.#o;
    const fallback = (): number => backoffDelay(attempt, { baseMs: o.reconnectBaseMs, maxMs: o.reconnectMaxMs }, o.jitter(JitterKind.Reconnect, '', attempt));
    if (o.reconnectStrategy === undefined) return fallback();
    let delay: unknown;
    try {
      delay = o.reconnectStrategy(attempt, error);
    } catch (err) {
      this.#events.error(new CcsError('CCS_ERR_INVALID_OPTION', `reconnectStrategy threw: ${err instanceof Error ? err.message : String(err)}; the default backoff is used`, { cause: err }));
      return fallback();
    }
    if (delay === undefined) return fallback();
    if (delay === false) return false;
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      this.#events.error(new CcsError('CCS_ERR_INVALID_OPTION', `reconnectStrategy returned ${String(delay)}, not a delay in ms; the default backoff is used`));
      return fallback();
    }
    return delay;
  }

  #usableCount(): number {
    let n = 0;
    for (const c of this.#conns) if (c.online && !c.draining) n++;
    return n;
  }

  /** Takes `conn` out of the pool; false when it was no longer there (given up). */
  #remove(conn: CcsConnection): boolean {
    const i = this.#conns.indexOf(conn);
    if (i === -1) return false;
    this.#conns.splice(i, 1);
    return true;
  }

  #rejectWaiter(err: Error): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
    const all = this.#allWaiters;
    this.#allWaiters = [];
    for (const a of all) a.reject(err);
  }
}
