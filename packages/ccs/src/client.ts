import { EventEmitter } from 'node:events';
import {
  ValidationError, validateDownstream, type DownstreamMessage, type NackError as StanzaNack, type NackCode,
  type ReceiptMessage, type UpstreamMessage, type DeviceGroupResult,
} from '@ccs-xmpp/stanza';
import { backoffDelay } from './backoff.js';
import { CCS_DOMAIN, CcsConnection, type CcsConnectionOptions, type ConnectionSink } from './connection.js';
import { DedupWindow } from './dedup.js';
import {
  AbortError, CcsError, ClosedError, DuplicateIdError, HandshakeError, NackError, QueueFullError, TimeoutError,
} from './errors.js';
import { MessageIdGenerator, sharedMessageIds } from './message-id.js';
import { OutState, Outbound, type AbortOwner, type SendResult } from './outbound.js';
import { RingBuffer } from './ring-buffer.js';
import { TimerHeap } from './timer-heap.js';

/** TLS settings. */
export interface CcsTlsOptions {
  /** Trusted CA certificate(s), PEM. Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Server name for SNI and the certificate check. Default: `host` (when it is not an IP). */
  servername?: string;
  /** Verify the server certificate. Default `true`; turn off only against a local emulator. */
  rejectUnauthorized?: boolean;
}

/** A handler for upstream messages. The ACK goes out once it returns (or its promise resolves). */
export type UpstreamHandler = (msg: UpstreamMessage) => void | Promise<void>;

/** Options of {@link CcsClient}. */
export interface CcsClientOptions {
  /** The sender ID (project number). */
  senderId: string;
  /** The API (server) key. Kept inside; never logged or put in an error. */
  apiKey: string;
  /** Default `gcm.googleapis.com`. */
  host?: string;
  /** Default 5235. */
  port?: number;
  tls?: CcsTlsOptions;
  /** Connections to keep open; sends are spread over them by free window. Default 1. */
  connections?: number;
  /** Un-answered downstream messages per connection (CCS: 1000 in the seed document, 100 later). Default 1000. */
  maxPending?: number;
  /** Messages that may wait for a window slot before `send` refuses with `CCS_ERR_QUEUE_FULL`. Default 10 000. */
  maxQueued?: number;
  /** Default per-call timeout of `send` in ms; 0 (default) for none. */
  sendTimeoutMs?: number;
  /** Retries for `SERVICE_UNAVAILABLE`, `INTERNAL_SERVER_ERROR`, unknown codes and rate limits. Default 8. */
  maxRetries?: number;
  /** First retry delay for retried NACK classes. Default 1000 ms (PROTOCOL.md: "from 1 s"). */
  retryBaseMs?: number;
  /** Largest retry delay. Default 60 000 ms. */
  retryMaxMs?: number;
  /** First reconnect delay after a connection is lost. Default 250 ms. */
  reconnectBaseMs?: number;
  /** Largest reconnect delay. Default 30 000 ms. */
  reconnectMaxMs?: number;
  /** Bound on each handshake step. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** Ping (XEP-0199) after this much silence from the server; 0 disables. Default 30 000 ms. */
  pingIntervalMs?: number;
  /** Declare the server dead after this long without a byte; 0 disables. Default 90 000 ms. */
  idleTimeoutMs?: number;
  /** Whitespace keepalive interval; 0 disables. Default 30 000 ms. */
  keepaliveIntervalMs?: number;
  /** Close a draining connection ourselves if CCS has not closed it after this long (its owed messages move over). Default 120 000 ms; 0: never. */
  drainTimeoutMs?: number;
  /** Send the session IQ: `'auto'` (default) when offered and not optional, or always / never. */
  session?: boolean | 'auto';
  /** Resource to bind. Default: none (the server picks). */
  resource?: string;
  /** The XMPP domain: the stream's `to`. Default `gcm.googleapis.com` (FCM kept GCM's). */
  domain?: string;
  /**
   * The SASL PLAIN authentication identity. Default `<senderId>@<domain>`, as CCS requires; other
   * XMPP servers (RFC 6120 §6.3.8) want the bare username.
   */
  authcid?: string;
  /** Upstream handler (same as `client.onUpstream(handler)`). */
  onUpstream?: UpstreamHandler;
  /** ACK upstream messages as soon as they arrive instead of after the handler succeeds. Default false. */
  ackOnReceipt?: boolean;
  /** (from, message_id) pairs remembered to drop resent upstream messages. Default 10 000. */
  dedupWindow?: number;
  /** A fixed `message_id` prefix (it must be unique per sender). Default: a process-unique one. */
  messageIdPrefix?: string;
  /** Random source for jitter (tests). Default `Math.random`. */
  random?: () => number;
}

/** Per-call options of `send`. */
export interface SendOptions {
  /** Aborts the send: a queued message is never sent; a written one is no longer waited for. */
  signal?: AbortSignal;
  /** Rejects with `CCS_ERR_TIMEOUT` after this long; overrides `sendTimeoutMs`. 0: none. */
  timeoutMs?: number;
}

/** Options of `close`. */
export interface CloseOptions {
  /** How long to wait for pending ACKs and running upstream handlers. Default 10 000 ms. */
  timeoutMs?: number;
}

/** A `stats()` snapshot. Counters only grow; gauges are current values. */
export interface CcsStats {
  /** Gauge: connections online (draining ones included), draining, and being opened. */
  connections: { online: number; draining: number; connecting: number };
  /** Gauge: downstream messages written and not answered. */
  pending: number;
  /** Gauge: messages waiting for a window slot. */
  queued: number;
  /** Gauge: messages waiting for a retry delay (backoff or rate limit). */
  waitingRetry: number;
  /** Gauge: devices and topics currently slowed down after a `*_MESSAGE_RATE_EXCEEDED` NACK. */
  throttledTargets: number;
  /** Downstream writes (retries and resends included). */
  sent: number;
  acked: number;
  /** NACKs (and stanza errors) by NACK code. */
  nacked: Partial<Record<NackCode, number>>;
  /** NACK-driven retries scheduled. */
  retries: number;
  /** Messages re-sent because their connection closed or drained before answering. */
  resent: number;
  /** Promises failed for good (NACK, timeout, abort, close). */
  failed: number;
  /** Reconnect attempts scheduled. */
  reconnects: number;
  /** `CONNECTION_DRAINING` controls received. */
  drainings: number;
  /** Upstream messages and receipts received (duplicates included). */
  upstreamReceived: number;
  /** Upstream messages left un-ACKed because nothing consumes them (no handler, iterator or `upstream` listener). */
  upstreamUnhandled: number;
  /** ACKs written for upstream messages and receipts. */
  upstreamAcked: number;
  /** Receipts received (duplicates included). */
  receipts: number;
  /** Resent upstream messages dropped by the de-duplication window. */
  duplicatesDropped: number;
}

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

interface UpEntry {
  done: boolean;
  /** Connections that delivered the message (or a duplicate) while the handler ran: each gets an ACK. */
  conns: CcsConnection[];
}

interface ConnectWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  promise: Promise<void>;
  failures: number;
  first: Error | undefined;
}

const DONE: UpEntry = Object.freeze({ done: true, conns: [] }) as unknown as UpEntry;

const enum ClientState {
  Idle,
  Connecting,
  Open,
  Closing,
  Closed,
}

/** A rate-limited device or topic: when its next message may go, and which ones wait. */
interface Throttle {
  /** Earliest time the next probe may be sent. */
  until: number;
  /** Backoff level: grows with each NACKed probe, eases with each ACKed one. */
  level: number;
  /** The one message of this target released (queued, in the retry heap, or in flight). */
  active: Outbound | undefined;
  /** The rest, in sending order. */
  held: Outbound[];
  /** The device token or topic (the key in #throttles). */
  target: string;
}

/** Settled messages left in the queue before a sweep is considered (see #noteDeadInQueue). */
const DEAD_SWEEP_MIN = 256;

// One shared executor instead of a closure per send(): Promise calls it synchronously, so the
// resolving functions are picked up right after `new Promise` (one allocation fewer per message).
let capturedResolve: (result: SendResult) => void = () => {};
let capturedReject: (error: Error) => void = () => {};
function captureResolvers(resolve: (result: SendResult) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A CCS client: a pool of connections, a flow-controlled send path with typed ACK/NACK promises,
 * retries by NACK class, in-order resend on connection loss, and upstream delivery with ACK after
 * the handler and de-duplication across reconnects.
 *
 * Events: `online`, `offline`, `draining` ({@link ConnectionEvent}), `reconnecting`
 * ({@link ReconnectEvent}), `receipt` (`ReceiptMessage`), `upstream` (`UpstreamMessage`, only when
 * no handler or iterator consumes them), `drain` (queue has room again), `error` (non-fatal
 * `CcsError`s; emitted only when someone listens, so an unhandled one never crashes the process).
 */
export class CcsClient extends EventEmitter implements AbortOwner {
  readonly #o: Required<Omit<CcsClientOptions, 'tls' | 'onUpstream' | 'resource' | 'messageIdPrefix' | 'authcid'>> & { tls: CcsTlsOptions; resource: string | undefined; authcid: string };
  readonly #ids: MessageIdGenerator;
  readonly #sink: ConnectionSink;
  readonly #conns: CcsConnection[] = [];
  readonly #queue = new RingBuffer<Outbound>(64);
  #queuedLive = 0;
  #waiting = 0;
  #outstanding = 0;
  readonly #timeouts = new TimerHeap<Outbound>();
  readonly #retryHeap = new TimerHeap<Outbound>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  /**
   * Messages going out again (resent after a lost or drained connection, retried, released by a
   * rate limit), ascending by submission order. They are all older than anything in #queue, so
   * #dispatch takes them first: whatever path brings a message back, the original order holds.
   */
  readonly #front: Outbound[] = [];
  /** Unsettled messages whose id the caller gave, by message_id: a second live send with the same id is refused (see #isLive). */
  readonly #live = new Map<string, Outbound>();
  /** Settled messages still in #queue (see #noteDeadInQueue). */
  #deadInQueue = 0;
  /** How many of those carry the id generator's prefix (then generated ids are checked against #live). */
  #prefixedLive = 0;
  /** Rate-limited devices and topics (DEVICE_/TOPICS_MESSAGE_RATE_EXCEEDED): see #hold / #pump. */
  readonly #throttles = new Map<string, Throttle>();
  #seq = 0;
  readonly #dedup: DedupWindow<UpEntry>;
  #handler: UpstreamHandler | undefined;
  #iterator: UpstreamIterator | undefined;
  #handlersRunning = 0;
  #state = ClientState.Idle;
  #connectWaiter: ConnectWaiter | undefined;
  #reconnectAttempt = 0;
  readonly #reconnectTimers = new Set<NodeJS.Timeout>();
  #wantDrain = false;
  #capacityWaiters: Array<() => void> = [];
  #idleWaiter: (() => void) | undefined;
  #closePromise: Promise<void> | undefined;
  #dispatching = false;
  #redispatch = false;
  readonly #stats = {
    sent: 0, acked: 0, retries: 0, resent: 0, failed: 0, reconnects: 0, drainings: 0,
    upstreamReceived: 0, upstreamUnhandled: 0, upstreamAcked: 0, receipts: 0, duplicatesDropped: 0,
  };
  readonly #nacked: Partial<Record<NackCode, number>> = {};

  constructor(options: CcsClientOptions) {
    super();
    if (typeof options.senderId !== 'string' || options.senderId === '') throw new TypeError('senderId is required');
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('apiKey is required');
    const positive = (name: string, v: number | undefined, def: number, min = 1): number => {
      const n = v ?? def;
      if (!Number.isFinite(n) || n < min) throw new RangeError(`${name} must be a number >= ${min}`);
      return n;
    };
    this.#o = {
      senderId: options.senderId,
      apiKey: options.apiKey,
      host: options.host ?? 'gcm.googleapis.com',
      port: options.port ?? 5235,
      tls: options.tls ?? {},
      connections: Math.floor(positive('connections', options.connections, 1)),
      maxPending: Math.floor(positive('maxPending', options.maxPending, 1000)),
      maxQueued: Math.floor(positive('maxQueued', options.maxQueued, 10_000, 0)),
      sendTimeoutMs: positive('sendTimeoutMs', options.sendTimeoutMs, 0, 0),
      maxRetries: Math.floor(positive('maxRetries', options.maxRetries, 8, 0)),
      retryBaseMs: positive('retryBaseMs', options.retryBaseMs, 1000, 0),
      retryMaxMs: positive('retryMaxMs', options.retryMaxMs, 60_000, 0),
      reconnectBaseMs: positive('reconnectBaseMs', options.reconnectBaseMs, 250, 0),
      reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs, 30_000, 0),
      handshakeTimeoutMs: positive('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000),
      pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs, 30_000, 0),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 90_000, 0),
      keepaliveIntervalMs: positive('keepaliveIntervalMs', options.keepaliveIntervalMs, 30_000, 0),
      drainTimeoutMs: positive('drainTimeoutMs', options.drainTimeoutMs, 120_000, 0),
      session: options.session ?? 'auto',
      resource: options.resource,
      domain: options.domain ?? CCS_DOMAIN,
      authcid: options.authcid ?? `${options.senderId}@${options.domain ?? CCS_DOMAIN}`,
      ackOnReceipt: options.ackOnReceipt ?? false,
      dedupWindow: Math.floor(positive('dedupWindow', options.dedupWindow, 10_000)),
      random: options.random ?? Math.random,
    };
    this.#ids = options.messageIdPrefix === undefined ? sharedMessageIds : new MessageIdGenerator(options.messageIdPrefix);
    // Entries whose handler is still running stay, so a resend cannot run the handler twice.
    this.#dedup = new DedupWindow<UpEntry>(this.#o.dedupWindow, (e) => e.done);
    this.#handler = options.onUpstream;
    this.#sink = {
      onAck: (conn, out, from, registrationId, group) => this.#onAck(conn, out, from, registrationId, group),
      onNack: (conn, out, nack, stanzaError) => this.#onNack(conn, out, nack, stanzaError),
      onUpstream: (conn, msg) => this.#onUpstream(conn, msg),
      onReceipt: (conn, msg) => this.#onReceipt(conn, msg),
      onDraining: (conn) => this.#onDraining(conn),
      onWritable: () => this.#dispatch(),
      onClosed: (conn, err) => this.#onClosed(conn, err),
      onProtocolError: (_conn, err) => this.#emitError(err),
    };
  }

  // The API key must not leak through util.inspect / console.log of the client.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CcsClient { senderId: ${JSON.stringify(this.#o.senderId)}, host: ${JSON.stringify(this.#o.host)}, port: ${this.#o.port} }`;
  }

  /**
   * Opens `connections` connections. Resolves when the first is online; rejects with the typed
   * {@link HandshakeError} of the first failure when none could be opened (the client is then
   * idle again and `connect()` may be retried). Once online, lost connections are replaced on
   * their own, with backoff.
   */
  connect(): Promise<void> {
    if (this.#state === ClientState.Closing || this.#state === ClientState.Closed) return Promise.reject(new ClosedError());
    if (this.#state === ClientState.Open) return Promise.resolve();
    if (this.#connectWaiter) return this.#connectWaiter.promise;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#connectWaiter = { resolve, reject, promise, failures: 0, first: undefined };
    this.#state = ClientState.Connecting;
    for (let i = 0; i < this.#o.connections; i++) this.#openConnection();
    return promise;
  }

  /** Sets (or replaces) the upstream handler. The ACK goes out after it succeeds. */
  onUpstream(handler: UpstreamHandler | undefined): this {
    this.#handler = handler;
    return this;
  }

  /**
   * Upstream messages as an async iterator (opt-in; takes precedence over the handler while in
   * use). A message is ACKed when the consumer asks for the next one (it has then been handled),
   * or at once when the loop ends with `break`. One iterator at a time.
   */
  upstream(): AsyncIterableIterator<UpstreamMessage> {
    if (this.#iterator !== undefined) throw new CcsError('CCS_ERR_PROTOCOL', 'an upstream iterator is already active');
    const it = new UpstreamIterator(() => {
      if (this.#iterator === it) this.#iterator = undefined;
    });
    this.#iterator = it;
    if (this.#state === ClientState.Closed) it.end();
    return it;
  }

  /**
   * Sends a downstream message. Validates it first (rejecting with the stanza package's
   * `ValidationError`), assigns a `message_id` when there is none, and resolves with the ACK or
   * rejects with a {@link NackError} (or `TimeoutError`, `AbortError`, `QueueFullError`,
   * `ClosedError`). Retried NACK classes and connection losses are handled inside; the promise
   * settles exactly once.
   */
  send(message: Omit<DownstreamMessage, 'message_id'> & { message_id?: string }, options?: SendOptions): Promise<SendResult> {
    const r = this.#submit(message, options);
    return r ?? Promise.reject(new QueueFullError(this.#o.maxQueued));
  }

  /**
   * Like `send`, but returns `undefined` (instead of a rejected promise) when the queue is full:
   * wait for `drain` or `waitForCapacity()` and try again.
   */
  trySend(message: Omit<DownstreamMessage, 'message_id'> & { message_id?: string }, options?: SendOptions): Promise<SendResult> | undefined {
    return this.#submit(message, options);
  }

  /** Resolves once a `send` would be accepted without `CCS_ERR_QUEUE_FULL`. */
  waitForCapacity(): Promise<void> {
    if (this.#queuedLive < this.#o.maxQueued || this.#state >= ClientState.Closing) return Promise.resolve();
    this.#wantDrain = true;
    return new Promise<void>((resolve) => this.#capacityWaiters.push(resolve));
  }

  /** A snapshot of gauges and counters, for a metrics exporter. */
  stats(): CcsStats {
    let online = 0;
    let draining = 0;
    let connecting = 0;
    let pending = 0;
    for (const c of this.#conns) {
      if (c.online) {
        online++;
        if (c.draining) draining++;
      } else if (!c.closed) connecting++;
      pending += c.inflight.size;
    }
    return {
      connections: { online, draining, connecting },
      pending,
      queued: this.#queuedLive,
      waitingRetry: this.#waiting,
      throttledTargets: this.#throttles.size,
      ...this.#stats,
      nacked: { ...this.#nacked },
    };
  }

  /**
   * Graceful shutdown: refuses new sends, waits (up to `timeoutMs`) until every accepted message is
   * answered and every running upstream handler has finished (and its ACK went out), then ends the
   * streams. Whatever is still unanswered then rejects with `CCS_ERR_CLOSED`.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    if (this.#state === ClientState.Closed) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 10_000;
    // Never connected (or connect() failed): there is nothing to wait for.
    const neverOnline = this.#state === ClientState.Idle || this.#state === ClientState.Connecting;
    this.#state = ClientState.Closing;
    this.#rejectConnectWaiter(new ClosedError('the client was closed before it came online'));
    this.#resolveCapacityWaiters();
    // The iterator's consumer finishes the message it holds (and it is ACKed) but gets no more.
    this.#iterator?.stop();
    this.#closePromise = (async () => {
      if (!neverOnline && !this.#idle()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          timer.unref();
          this.#idleWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
          this.#dispatch();
        });
        this.#idleWaiter = undefined;
      }
      this.#state = ClientState.Closed;
      this.#failAll(new ClosedError('the client closed before this message was answered'));
      this.#clearTimers();
      this.#iterator?.end();
      await Promise.all(this.#conns.map((c) => c.close(Math.min(timeoutMs, 2000))));
      this.#conns.length = 0;
    })();
    return this.#closePromise;
  }

  /** Closes everything at once; every unsettled promise rejects with `CCS_ERR_CLOSED`. */
  destroy(): void {
    if (this.#state === ClientState.Closed && this.#conns.length === 0) return;
    this.#state = ClientState.Closed;
    this.#rejectConnectWaiter(new ClosedError('the client was destroyed'));
    this.#failAll(new ClosedError('the client was destroyed'));
    this.#clearTimers();
    this.#resolveCapacityWaiters();
    this.#iterator?.end();
    this.#idleWaiter?.();
    for (const c of this.#conns.splice(0)) c.destroy();
  }

  /** `AbortOwner`: the message's signal fired. */
  abortMessage(out: Outbound): void {
    if (out.state === OutState.Settled) return;
    this.#fail(out, new AbortError(out.id, out.written, out.signal?.reason));
  }

  // --- send path --------------------------------------------------------------------------------

  #submit(message: Omit<DownstreamMessage, 'message_id'> & { message_id?: string }, options: SendOptions | undefined): Promise<SendResult> | undefined {
    if (this.#state >= ClientState.Closing) return Promise.reject(new ClosedError(this.#state === ClientState.Closing ? 'the client is closing' : 'the client is closed'));
    const callerId = message.message_id !== undefined;
    let id: string;
    if (callerId) id = message.message_id as string;
    else {
      id = this.#ids.next();
      // A caller may use ids with the generator's prefix itself: never hand out one that is live.
      if (this.#prefixedLive > 0) while (this.#live.has(id)) id = this.#ids.next();
    }
    const invalid = validateDownstream(message, id);
    if (invalid !== undefined) return Promise.reject(invalid);
    // The common case goes straight to a connection; only the queue is bounded.
    if (callerId && this.#isLive(id)) return Promise.reject(new DuplicateIdError(id));
    const conn = this.#queue.length === 0 && this.#front.length === 0 && this.#throttles.size === 0 ? this.#pick() : undefined;
    if (conn === undefined && this.#queuedLive >= this.#o.maxQueued) {
      this.#wantDrain = true;
      return undefined;
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(id, false, signal.reason));
    // A shallow copy: the top-level fields are what they were at send() however the caller reuses
    // its object (a loop that sets `to` and sends again). The assigned id stays beside it and is
    // written by the encoder, so the copy keeps the caller's shape (one hidden class for all).
    const out = new Outbound(this, Object.assign({}, message), id, this.#seq++);
    const promise = new Promise<SendResult>(captureResolvers);
    out.resolve = capturedResolve;
    out.reject = capturedReject;
    this.#outstanding++;
    if (callerId) {
      out.callerId = true;
      this.#live.set(out.id, out);
      if (id.startsWith(this.#ids.prefix)) this.#prefixedLive++;
    }
    const timeoutMs = options?.timeoutMs ?? this.#o.sendTimeoutMs;
    if (timeoutMs > 0) {
      out.timeoutMs = timeoutMs;
      this.#timeouts.push(Date.now() + timeoutMs, out);
      this.#armTimer();
    }
    if (signal !== undefined) {
      out.signal = signal;
      signal.addEventListener('abort', out);
    }
    if (conn !== undefined) this.#write(conn, out);
    else {
      this.#queue.push(out);
      this.#queuedLive++;
      this.#dispatch();
    }
    return promise;
  }

  /**
   * Whether a message with this caller-given id is accepted and unsettled. Generated ids stay out
   * of #live (they never collide with one another, and a map entry per message costs a hash insert
   * and delete on the hot path); a caller can only hold one of them after its message settled,
   * unless it writes ids with the generator's prefix itself — then this looks wherever a message
   * can be.
   */
  #isLive(id: string): boolean {
    if (this.#live.has(id)) return true;
    if (!id.startsWith(this.#ids.prefix)) return false;
    for (const c of this.#conns) {
      const o = c.inflight.get(id);
      if (o !== undefined && o.state !== OutState.Settled) return true;
    }
    const same = (o: Outbound): boolean => o.id === id && o.state !== OutState.Settled;
    if (this.#front.some(same) || this.#retryHeap.items().some(same)) return true;
    for (const o of this.#queue) if (same(o)) return true;
    for (const t of this.#throttles.values()) if (t.held.some(same)) return true;
    return false;
  }

  /**
   * A message in #queue settled (timed out, aborted) and stays there until #dispatch reaches it.
   * While no connection takes messages that may be never, and new sends take the freed room: once
   * the dead outnumber the living, they are swept out, so the queue stays within twice maxQueued.
   */
  #noteDeadInQueue(): void {
    if (++this.#deadInQueue < DEAD_SWEEP_MIN || this.#deadInQueue <= this.#queuedLive) return;
    this.#queue.removeWhere((o) => o.state === OutState.Settled);
    this.#deadInQueue = 0;
  }

  #forgetLive(out: Outbound): void {
    if (this.#live.get(out.id) !== out) return;
    this.#live.delete(out.id);
    if (out.id.startsWith(this.#ids.prefix)) this.#prefixedLive--;
  }

  /** The usable connection with the most free window, or undefined. */
  #pick(): CcsConnection | undefined {
    const conns = this.#conns;
    let best: CcsConnection | undefined;
    let bestFree = 0;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i] as CcsConnection;
      if (!c.usable) continue;
      const free = c.free;
      if (free > bestFree) {
        best = c;
        bestFree = free;
      }
    }
    return best;
  }

  #write(conn: CcsConnection, out: Outbound): void {
    out.state = OutState.InFlight;
    const written = conn.write(out);
    if (written !== true) {
      if (written === false) {
        // The stream went away under us: back to the front, in order.
        this.#requeue(out);
      } else {
        this.#fail(out, new ValidationError('', 'INVALID_JSON', 'JSON_TYPE_ERROR', `Message cannot be written as JSON: ${written.message}`, out.id));
      }
      return;
    }
    if (out.written) out.resends++;
    out.written = true;
    this.#stats.sent++;
  }

  /** Moves queued messages onto connections with free window. */
  #dispatch(): void {
    if (this.#dispatching) {
      this.#redispatch = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#redispatch = false;
        const queue = this.#queue;
        const front = this.#front;
        for (;;) {
          const fromFront = front.length > 0;
          const head = fromFront ? (front[0] as Outbound) : queue.peek();
          if (head === undefined) break;
          if (head.state !== OutState.Queued) {
            // Settled while queued (timeout / abort): dropped lazily.
            if (fromFront) front.shift();
            else {
              queue.shift();
              if (this.#deadInQueue > 0) this.#deadInQueue--;
            }
            continue;
          }
          if (this.#throttles.size > 0) {
            const t = this.#throttles.get(head.target);
            if (t !== undefined) {
              if (t.active !== head) {
                // A rate-limited target: its messages wait in order behind the one probing it.
                if (fromFront) front.shift();
                else queue.shift();
                this.#queuedLive--;
                this.#hold(t, head);
                this.#pump(t);
                continue;
              }
              const older = t.held[0];
              if (older !== undefined && older.seq < head.seq) {
                // An older message of this target came back (a lost connection) after this one
                // was released: it goes first, this one waits again.
                if (fromFront) front.shift();
                else queue.shift();
                this.#queuedLive--;
                this.#hold(t, head);
                t.held.shift();
                this.#waiting--;
                t.active = older;
                this.#requeue(older);
                continue;
              }
            }
          }
          const conn = this.#pick();
          if (conn === undefined) break;
          if (fromFront) front.shift();
          else queue.shift();
          this.#queuedLive--;
          this.#write(conn, head);
        }
      } while (this.#redispatch);
    } finally {
      this.#dispatching = false;
    }
    if (this.#wantDrain && this.#queuedLive <= this.#o.maxQueued >> 1) {
      this.#wantDrain = false;
      this.#resolveCapacityWaiters();
      this.emit('drain');
    }
    if (this.#idleWaiter !== undefined && this.#idle()) this.#idleWaiter();
  }

  #idle(): boolean {
    return this.#outstanding === 0 && this.#handlersRunning === 0 && !(this.#iterator?.busy ?? false);
  }

  /** Holds a message of a rate-limited target, keeping the target's messages in sending order. */
  #hold(t: Throttle, out: Outbound): void {
    out.state = OutState.Waiting;
    this.#waiting++;
    const held = t.held;
    let i = held.length;
    while (i > 0 && (held[i - 1] as Outbound).seq > out.seq) i--;
    held.splice(i, 0, out);
  }

  /** Releases the next held message of a rate-limited target when none is on its way. */
  #pump(t: Throttle): void {
    if (t.active !== undefined && t.active.state !== OutState.Settled) return;
    t.active = undefined;
    let next = t.held.shift();
    // Messages that timed out or were aborted while held are dropped here.
    while (next !== undefined && next.state === OutState.Settled) next = t.held.shift();
    if (next === undefined) {
      // Nothing of this target is waiting or on its way: forget it (a later NACK starts anew).
      this.#throttles.delete(t.target);
      return;
    }
    t.active = next;
    this.#waiting--;
    const now = Date.now();
    if (t.until > now) this.#wait(next, t.until);
    else this.#requeue(next);
  }

  /** Puts a message back to go out again, in submission order before anything new. */
  #requeue(out: Outbound): void {
    out.state = OutState.Queued;
    const front = this.#front;
    let i = front.length;
    while (i > 0 && (front[i - 1] as Outbound).seq > out.seq) i--;
    front.splice(i, 0, out);
    this.#queuedLive++;
  }

  /** Parks a message until `at` (retry backoff or rate limit). */
  #wait(out: Outbound, at: number): void {
    out.state = OutState.Waiting;
    this.#waiting++;
    this.#retryHeap.push(at, out);
    this.#armTimer();
  }

  #armTimer(): void {
    const next = Math.min(this.#timeouts.peekTime(), this.#retryHeap.peekTime());
    if (next >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = next;
    if (next === Infinity) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, next - Date.now()));
    this.#timer.unref();
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (let out = this.#timeouts.popDue(now); out !== undefined; out = this.#timeouts.popDue(now)) {
      if (out.state !== OutState.Settled) this.#fail(out, new TimeoutError(out.id, out.timeoutMs, out.written));
    }
    for (let out = this.#retryHeap.popDue(now); out !== undefined; out = this.#retryHeap.popDue(now)) {
      if (out.state !== OutState.Waiting) continue;
      this.#waiting--;
      this.#requeue(out);
    }
    this.#armTimer();
    this.#dispatch();
  }

  /** Settles with an error, once, and lets the next queued message take the freed slot. */
  #fail(out: Outbound, err: Error): void {
    this.#reject(out, err);
    if (this.#throttles.size > 0) {
      // A rate-limited target's probe failed for good: the next held message takes its turn.
      const t = this.#throttles.get(out.target);
      if (t !== undefined && t.active === out) this.#pump(t);
    }
    this.#dispatch();
  }

  #reject(out: Outbound, err: Error): void {
    if (out.callerId) this.#forgetLive(out);
    if (out.state === OutState.Queued) {
      this.#queuedLive--;
      if (!this.#front.includes(out)) this.#noteDeadInQueue();
    }
    else if (out.state === OutState.Waiting) this.#waiting--;
    out.state = OutState.Settled;
    out.signal?.removeEventListener('abort', out);
    this.#outstanding--;
    this.#stats.failed++;
    out.reject(err);
  }

  // --- answers from connections ---------------------------------------------------------------

  #onAck(_conn: CcsConnection, out: Outbound, from: string | undefined, registrationId: string | undefined, group: DeviceGroupResult | undefined): void {
    this.#stats.acked++;
    if (this.#throttles.size > 0) {
      const t = this.#throttles.get(out.target);
      if (t !== undefined && t.active === out) {
        // The probe got through: the next held message may go at once, and the pace eases.
        t.active = undefined;
        t.until = 0;
        t.level = Math.max(0, t.level - 1);
        if (t.held.length === 0) this.#throttles.delete(out.target);
        else this.#pump(t);
      }
    }
    if (out.state === OutState.InFlight) {
      out.state = OutState.Settled;
      if (out.callerId) this.#forgetLive(out);
      out.signal?.removeEventListener('abort', out);
      this.#outstanding--;
      const result: SendResult = { messageId: out.id, from, registrationId, retries: out.resends };
      // Only device-group ACKs carry it: plain results keep their four fields.
      if (group !== undefined) result.deviceGroup = group;
      out.resolve(result);
    }
    this.#dispatch();
  }

  #onNack(_conn: CcsConnection, out: Outbound, nack: StanzaNack, stanzaError: boolean): void {
    this.#nacked[nack.code] = (this.#nacked[nack.code] ?? 0) + 1;
    if (out.state !== OutState.InFlight) {
      this.#dispatch(); // its promise already settled (timeout / abort): nothing to retry for
      return;
    }
    const o = this.#o;
    switch (nack.retry) {
      case 'other-connection':
        // Not counted against maxRetries: the message did nothing wrong, the connection is going.
        this.#stats.retries++;
        this.#requeue(out);
        break;
      case 'backoff':
        if (out.retries < o.maxRetries) {
          this.#stats.retries++;
          const delay = backoffDelay(out.retries++, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs }, o.random);
          this.#wait(out, Date.now() + delay);
          break;
        }
        this.#failNack(out, nack, stanzaError);
        return;
      case 'slow-down-device':
      case 'slow-down-topic': {
        if (out.retries >= o.maxRetries) {
          this.#failNack(out, nack, stanzaError);
          return;
        }
        // Only this device / topic slows down. Its messages are held in the order they were sent
        // and released one at a time — a probe — after an exponential pause; each ACK of a probe
        // lets the next one go, each NACK of one lengthens the pause. Nothing overtakes, and the
        // target is never sent more than one message at a time while it is limited.
        this.#stats.retries++;
        out.retries++;
        let t = this.#throttles.get(out.target);
        if (t === undefined) {
          t = { until: 0, level: 0, active: undefined, held: [], target: out.target };
          this.#throttles.set(out.target, t);
        } else if (t.active === out) {
          t.level++;
        }
        if (t.active === out || t.until <= Date.now()) {
          t.until = Date.now() + backoffDelay(t.level, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs }, o.random);
        }
        if (t.active === out) t.active = undefined;
        this.#hold(t, out);
        this.#pump(t);
        break;
      }
      default:
        this.#failNack(out, nack, stanzaError);
        return;
    }
    this.#dispatch();
  }

  #failNack(out: Outbound, nack: StanzaNack, stanzaError: boolean): void {
    this.#fail(out, new NackError({
      nackCode: nack.code, reason: nack.reason, description: nack.description, retryClass: nack.retry,
      message: out.sent(), retries: out.retries, stanzaError, raw: nack.raw,
    }));
  }

  // --- upstream ---------------------------------------------------------------------------------

  #onUpstream(conn: CcsConnection, msg: UpstreamMessage): void {
    this.#stats.upstreamReceived++;
    const key = DedupWindow.key(msg.from, msg.messageId);
    const seen = this.#dedup.get(key);
    if (seen !== undefined) {
      this.#stats.duplicatesDropped++;
      // Already handled: ACK on the connection it came in on. Still running: ACK it there too when done.
      if (seen.done) this.#ack(conn, msg.from, msg.messageId);
      else if (!seen.conns.includes(conn)) seen.conns.push(conn);
      return;
    }
    const consumer = this.#iterator ?? this.#handler;
    if (consumer === undefined && this.listenerCount('upstream') === 0) {
      // Nobody receives upstream messages here (e.g. a send-only tool): acknowledging one would
      // tell CCS it was handled and lose it. Left un-ACKed, CCS delivers it again later.
      this.#stats.upstreamUnhandled++;
      return;
    }
    if (this.#o.ackOnReceipt || consumer === undefined) {
      this.#dedup.add(key, DONE);
      this.#ack(conn, msg.from, msg.messageId);
      if (this.#iterator) this.#iterator.push(msg, undefined);
      else if (this.#handler) this.#runHandler(this.#handler, msg, undefined, key);
      else this.emit('upstream', msg);
      return;
    }
    const entry: UpEntry = { done: false, conns: [conn] };
    this.#dedup.add(key, entry);
    if (this.#iterator) this.#iterator.push(msg, { client: this, entry, key, msg });
    else this.#runHandler(consumer as UpstreamHandler, msg, entry, key);
  }

  #runHandler(handler: UpstreamHandler, msg: UpstreamMessage, entry: UpEntry | undefined, key: string): void {
    let result: void | Promise<void>;
    try {
      result = handler(msg);
    } catch (err) {
      this.upstreamFailed(entry, key, msg, err);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      this.#handlersRunning++;
      (result as Promise<void>).then(
        () => {
          this.#handlersRunning--;
          this.upstreamDone(entry, msg);
        },
        (err: unknown) => {
          this.#handlersRunning--;
          this.upstreamFailed(entry, key, msg, err);
        },
      );
    } else this.upstreamDone(entry, msg);
  }

  /** @internal The consumer finished with `msg`: ACK it on every connection that delivered it. */
  upstreamDone(entry: UpEntry | undefined, msg: UpstreamMessage): void {
    if (entry !== undefined && !entry.done) {
      entry.done = true;
      for (const c of entry.conns) this.#ack(c, msg.from, msg.messageId);
      entry.conns.length = 0;
    }
    if (this.#idleWaiter !== undefined && this.#idle()) this.#idleWaiter();
  }

  /** @internal The consumer failed: no ACK, and forget it so that CCS's resend is handled again. */
  upstreamFailed(entry: UpEntry | undefined, key: string, msg: UpstreamMessage, err: unknown): void {
    if (entry !== undefined) this.#dedup.delete(key);
    if (!(err instanceof ClosedError)) this.#emitError(new CcsError('CCS_ERR_HANDLER', `the upstream handler failed for message ${JSON.stringify(msg.messageId)}; it was not ACKed`, { cause: err }));
    if (this.#idleWaiter !== undefined && this.#idle()) this.#idleWaiter();
  }

  #onReceipt(conn: CcsConnection, msg: ReceiptMessage): void {
    this.#stats.upstreamReceived++;
    this.#stats.receipts++;
    const key = DedupWindow.key(msg.from, msg.messageId);
    if (this.#dedup.has(key)) this.#stats.duplicatesDropped++;
    else {
      this.#dedup.add(key, DONE);
      this.emit('receipt', msg);
    }
    this.#ack(conn, msg.from, msg.messageId);
  }

  #ack(conn: CcsConnection, to: string, messageId: string): void {
    if (conn.ack(to, messageId)) this.#stats.upstreamAcked++;
  }

  // --- connections --------------------------------------------------------------------------------

  #openConnection(): void {
    const o = this.#o;
    const options: CcsConnectionOptions = {
      senderId: o.senderId, apiKey: o.apiKey, host: o.host, port: o.port,
      ca: o.tls.ca, servername: o.tls.servername, rejectUnauthorized: o.tls.rejectUnauthorized ?? true,
      maxPending: o.maxPending, handshakeTimeoutMs: o.handshakeTimeoutMs, pingIntervalMs: o.pingIntervalMs,
      idleTimeoutMs: o.idleTimeoutMs, keepaliveIntervalMs: o.keepaliveIntervalMs, session: o.session, resource: o.resource, domain: o.domain, authcid: o.authcid,
    };
    const conn = new CcsConnection(options, this.#sink);
    this.#conns.push(conn);
    conn.open().then(
      () => this.#onOnline(conn),
      (err: HandshakeError) => this.#onOpenFailed(conn, err),
    );
  }

  #onOnline(conn: CcsConnection): void {
    if (this.#state === ClientState.Closed) {
      conn.destroy();
      return;
    }
    this.#reconnectAttempt = 0;
    if (this.#state === ClientState.Connecting) {
      this.#state = ClientState.Open;
      const w = this.#connectWaiter;
      this.#connectWaiter = undefined;
      w?.resolve();
    }
    this.emit('online', { connectionId: conn.id } satisfies ConnectionEvent);
    this.#ensurePool();
    this.#dispatch();
  }

  #onOpenFailed(conn: CcsConnection, err: HandshakeError): void {
    this.#removeConn(conn);
    if (this.#state === ClientState.Closed) return;
    if (this.#state === ClientState.Connecting) {
      const w = this.#connectWaiter as ConnectWaiter;
      w.failures++;
      w.first ??= err;
      if (w.failures >= this.#o.connections && !this.#conns.some((c) => c.online)) {
        // Nothing came online: report the first failure; the caller decides whether to retry.
        for (const c of this.#conns.splice(0)) c.destroy();
        this.#state = ClientState.Idle;
        this.#connectWaiter = undefined;
        w.reject(w.first);
      }
      return;
    }
    this.#emitError(err);
    this.#scheduleReconnect(err);
  }

  #onClosed(conn: CcsConnection, err: Error | undefined): void {
    this.#removeConn(conn);
    const owed = conn.takeOwed();
    let requeued = 0;
    for (const out of owed) {
      if (out.state !== OutState.InFlight) continue; // timed out / aborted: the caller gave up on it
      this.#requeue(out);
      requeued++;
    }
    this.#stats.resent += requeued;
    // CCS closing a connection it drained is the end of the plan, not a loss (PROTOCOL.md, Control).
    const planned = conn.draining && (err === undefined || (err instanceof CcsError && err.code === 'CCS_ERR_CONNECTION_LOST' && err.cause === undefined));
    const error = planned || err === undefined || err instanceof CcsError ? (planned ? undefined : err) : new CcsError('CCS_ERR_CONNECTION_LOST', `connection ${conn.id} lost: ${err.message}`, { cause: err });
    this.emit('offline', error === undefined ? { connectionId: conn.id, drained: conn.draining } : { connectionId: conn.id, error } satisfies ConnectionEvent);
    if (this.#state !== ClientState.Closed && !conn.draining) this.#scheduleReconnect(error);
    this.#dispatch();
  }

  #onDraining(conn: CcsConnection): void {
    this.#stats.drainings++;
    this.emit('draining', { connectionId: conn.id } satisfies ConnectionEvent);
    conn.closeDrainedAfter(this.#o.drainTimeoutMs);
    // A planned handover: the replacement opens now, without backoff.
    if (this.#state === ClientState.Open || this.#state === ClientState.Closing) this.#openConnection();
  }

  /** Slots = connections not draining (online or opening) + scheduled reconnects. */
  #ensurePool(): void {
    if (this.#state !== ClientState.Open) return;
    let slots = this.#reconnectTimers.size;
    for (const c of this.#conns) if (!c.draining) slots++;
    for (; slots < this.#o.connections; slots++) this.#scheduleReconnect(undefined);
  }

  #scheduleReconnect(error: Error | undefined): void {
    if (this.#state !== ClientState.Open && this.#state !== ClientState.Closing) return;
    if (this.#state === ClientState.Closing && this.#idle()) return;
    const attempt = this.#reconnectAttempt++;
    // One counter for the whole pool: when several connections fail together, each further
    // attempt waits longer, so a dead server is not hammered N times per backoff step.
    const delayMs = backoffDelay(attempt, { baseMs: this.#o.reconnectBaseMs, maxMs: this.#o.reconnectMaxMs }, this.#o.random);
    this.#stats.reconnects++;
    this.emit('reconnecting', { attempt, delayMs, error } satisfies ReconnectEvent);
    const timer = setTimeout(() => {
      this.#reconnectTimers.delete(timer);
      if (this.#state === ClientState.Open || (this.#state === ClientState.Closing && !this.#idle())) this.#openConnection();
    }, delayMs);
    timer.unref();
    this.#reconnectTimers.add(timer);
  }

  #removeConn(conn: CcsConnection): void {
    const i = this.#conns.indexOf(conn);
    if (i !== -1) this.#conns.splice(i, 1);
  }

  // --- teardown -----------------------------------------------------------------------------------

  #failAll(err: Error): void {
    const all: Outbound[] = [];
    for (const out of this.#front.splice(0)) if (out.state === OutState.Queued) all.push(out);
    for (const out of this.#queue.drain()) if (out.state === OutState.Queued) all.push(out);
    for (let out = this.#retryHeap.pop(); out !== undefined; out = this.#retryHeap.pop()) if (out.state === OutState.Waiting) all.push(out);
    for (const c of this.#conns) for (const out of c.takeOwed()) if (out.state === OutState.InFlight) all.push(out);
    for (const t of this.#throttles.values()) for (const out of t.held) if (out.state === OutState.Waiting) all.push(out);
    this.#throttles.clear();
    for (const out of all) this.#reject(out, err);
    this.#queuedLive = 0;
    this.#deadInQueue = 0;
    this.#waiting = 0;
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#timeouts.clear();
    this.#retryHeap.clear();
    for (const t of this.#reconnectTimers) clearTimeout(t);
    this.#reconnectTimers.clear();
  }

  #rejectConnectWaiter(err: Error): void {
    const w = this.#connectWaiter;
    this.#connectWaiter = undefined;
    w?.reject(err);
  }

  #resolveCapacityWaiters(): void {
    const waiters = this.#capacityWaiters;
    this.#capacityWaiters = [];
    for (const w of waiters) w();
  }

  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

/** What the iterator needs to ACK a message once the consumer is done with it. */
interface IteratorAck {
  client: CcsClient;
  entry: UpEntry;
  key: string;
  msg: UpstreamMessage;
}

/** The async iterator behind `client.upstream()`. */
class UpstreamIterator implements AsyncIterableIterator<UpstreamMessage> {
  readonly #buffer = new RingBuffer<[UpstreamMessage, IteratorAck | undefined]>();
  #takers: Array<(r: IteratorResult<UpstreamMessage>) => void> = [];
  #outstanding: IteratorAck | undefined;
  #ended = false;
  #stopping = false;
  readonly #onEnd: () => void;

  constructor(onEnd: () => void) {
    this.#onEnd = onEnd;
  }

  push(msg: UpstreamMessage, ack: IteratorAck | undefined): void {
    if (this.#ended) {
      if (ack) ack.client.upstreamFailed(ack.entry, ack.key, msg, new ClosedError('the upstream iterator ended'));
      return;
    }
    const taker = this.#takers.shift();
    if (taker) {
      this.#outstanding = ack;
      taker({ value: msg, done: false });
    } else this.#buffer.push([msg, ack]);
  }

  /** True while the consumer holds a message it has not finished (the next `next()` ACKs it). */
  get busy(): boolean {
    return this.#outstanding !== undefined;
  }

  /** The client is closing: the message being handled still counts; no further ones are handed out. */
  stop(): void {
    this.#stopping = true;
    for (const t of this.#takers.splice(0)) t({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<UpstreamMessage>> {
    this.#settleOutstanding();
    if (this.#stopping) return Promise.resolve({ value: undefined, done: true });
    const item = this.#buffer.shift();
    if (item !== undefined) {
      this.#outstanding = item[1];
      return Promise.resolve({ value: item[0], done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  return(): Promise<IteratorResult<UpstreamMessage>> {
    // `break` out of `for await`: the last message was handled; the unread ones are not ACKed.
    this.#settleOutstanding();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration; buffered messages are left un-ACKed (CCS resends them). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
    for (const [msg, ack] of this.#buffer.drain()) {
      if (ack) ack.client.upstreamFailed(ack.entry, ack.key, msg, new ClosedError('the upstream iterator ended'));
    }
    for (const t of this.#takers.splice(0)) t({ value: undefined, done: true });
  }

  #settleOutstanding(): void {
    const a = this.#outstanding;
    this.#outstanding = undefined;
    if (a) a.client.upstreamDone(a.entry, a.msg);
  }
}
