import type { UpstreamMessage } from '@ccs-xmpp/stanza';
import { escapeAttr } from '@ccs-xmpp/stream';
import { seededJitter, streamJitter, type JitterSource } from './backoff.js';
import { realClock, type Clock } from './clock.js';
import { CCS_DOMAIN } from './connection.js';
import { MemoryDedupStore, MemoryOutboxStore } from './memory-store.js';
import type { OutboxStore, StoreBundle, UpstreamDedupStore } from './store.js';

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

/**
 * The `reconnectStrategy` option: the delay in ms before reconnect number `attempt` (0-based),
 * `undefined` for the default backoff, or `false` to stop reconnecting.
 */
export type ReconnectStrategy = (attempt: number, error: Error | undefined) => number | undefined | false;

/** Options of `CcsClient`. Unknown names and out-of-range values throw in the constructor. */
export interface CcsClientOptions {
  /** The sender ID (project number). */
  senderId: string;
  /** The API (server) key. Kept inside; never logged or put in an error. */
  apiKey: string;
  /** Default `gcm.googleapis.com`. */
  host?: string;
  /** An integer 1–65535. Default 5235. */
  port?: number;
  tls?: CcsTlsOptions;
  /** Connections to keep open (1–1000, CCS's limit per sender ID); sends are spread over them by free window. Default 1. */
  connections?: number;
  /** Un-answered downstream messages per connection (CCS: 1000 in the seed document, 100 later). Default 1000. */
  maxPending?: number;
  /** Messages that may wait for a window slot before `send` refuses with `CCS_ERR_QUEUE_FULL`. Default 10 000. */
  maxQueued?: number;
  /** Default per-call timeout of `send` in ms; 0 (default) for none. */
  sendTimeoutMs?: number;
  /**
   * How long the `receipt` promise of `send(…, { receipt: true })` waits, from the ACK, before it
   * rejects with `CCS_ERR_RECEIPT_TIMEOUT`; 0 for no timeout. Default 600 000 ms (10 minutes): a
   * device offline for longer gets its receipt later, as the `receipt` event. Per send: `receiptTimeoutMs`.
   */
  receiptTimeoutMs?: number;
  /**
   * Most receipts awaited at once (bounded memory whatever CCS withholds). Past it the oldest wait
   * rejects with `CCS_ERR_RECEIPT_OVERFLOW` (counted in `stats().receiptsEvicted`). Default 10 000.
   */
  maxReceiptWaiters?: number;
  /** Retries for `SERVICE_UNAVAILABLE`, `INTERNAL_SERVER_ERROR`, unknown codes and rate limits. Default 8. */
  maxRetries?: number;
  /**
   * The first retry's delay before jitter, for retried NACK classes: retry n waits between half and
   * all of `min(retryMaxMs, retryBaseMs·2^n)`, so by default the first after 0.5–1 s, the second
   * after 1–2 s. Default 1000 ms.
   */
  retryBaseMs?: number;
  /** Largest retry delay. Default 60 000 ms. */
  retryMaxMs?: number;
  /** The first reconnect's delay before jitter (half to all of it, doubling per failed attempt, as `retryBaseMs`). Default 250 ms. */
  reconnectBaseMs?: number;
  /** Largest reconnect delay. Default 30 000 ms. */
  reconnectMaxMs?: number;
  /**
   * Decides the delay before each reconnect, like ioredis's `retryStrategy`: called with the
   * consecutive failed attempts so far (0-based) and the error that closed or refused the
   * connection (`undefined` for a planned refill). Return the delay in ms, `undefined` for the
   * default backoff (`reconnectBaseMs`…`reconnectMaxMs` with jitter), or `false` to stop
   * reconnecting: no connection is opened any more, those still online carry on, and once none is
   * left the client closes — every queued and pending message and every awaited receipt rejects
   * with a `ReconnectStoppedError` (`CCS_ERR_RECONNECT_STOPPED`, a `ClosedError`; its `cause`: the
   * error passed to this call), which is also emitted on `error`. A throw or any other value falls back to the default and is reported on
   * `error`.
   */
  reconnectStrategy?: ReconnectStrategy;
  /**
   * The reconnect backoff starts over only after a connection has stayed online this long and
   * heard from the server; a connection that fails (or is drained) sooner counts as one more failed
   * attempt, so a server that fails right after bind is not hammered. Default 30 000 ms.
   */
  reconnectResetMs?: number;
  /**
   * Messages the server may send between the bind and the connection being online (kept until
   * then). More fails the handshake with `CCS_ERR_EARLY_OVERFLOW` (and the connection is retried
   * with backoff). Default 1000.
   */
  maxEarlyMessages?: number;
  /** Their total size (about bytes of markup) before the same failure. Default 4 MiB. */
  maxEarlyBytes?: number;
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
  /** (from, message_id) pairs remembered to drop resent upstream messages (memory dedup store). Default 10 000. */
  dedupWindow?: number;
  /**
   * How long an upstream message waits for a store that answers with a promise: the dedup store's
   * `claim()`, and the outbox store's `flush()` before its ACK. Past it a `StoreError` (`operation`
   * `claim` or `flush`, `unavailable`) goes to the `error` event and the message is left un-ACKed,
   * so CCS delivers it again; a claim answered `new` later is released, a late flush ACKs nothing.
   * 0: no limit. Default 30 000 ms. (The memory stores answer at once and never wait.)
   */
  storeTimeoutMs?: number;
  /**
   * A fixed `message_id` prefix (it must be unique per sender). Default: a process-unique one.
   * A process keeps the pending ids of up to 256 distinct plain-ASCII prefixes (the default one
   * included) as counters; those of a prefix past that, or of one with other characters, are made
   * and kept as strings: still correct, slightly slower.
   */
  messageIdPrefix?: string;
  /**
   * Random source for jitter (tests), drawn in call order by every retry, probe pause and reconnect
   * alike. Default `Math.random`. Not together with `jitterSeed`. A draw outside [0, 1] is clamped
   * into it (NaN counts as 0).
   */
  random?: () => number;
  /**
   * Makes jitter reproducible: each draw is a hash of this seed (an integer from 0 to 2^32 − 1), what
   * it is for and its attempt — a message's retry of its `message_id` and retry count, a target's
   * probe pause of the target and its level, a reconnect of the pool's attempt number — so a rerun
   * with the same seed and the same NACKs and failures pauses each one exactly as long, in whatever
   * order they happen. Default: none (`random`).
   */
  jitterSeed?: number;
  /**
   * Where downstream message records live. Default: a new `MemoryOutboxStore`. A {@link StoreBundle}
   * (`{ outbox, dedup }`, what `redisStore()` returns) provides `dedupStore` too.
   */
  store?: OutboxStore | StoreBundle;
  /** The upstream de-duplication window. Default: a `MemoryDedupStore` of `dedupWindow` pairs. */
  dedupStore?: UpstreamDedupStore;
  /** Time and timers (tests). Default: the real clock. */
  clock?: Clock;
}

/** Options with every default applied and every value checked. */
export interface ResolvedOptions {
  senderId: string;
  apiKey: string;
  host: string;
  port: number;
  tls: CcsTlsOptions;
  connections: number;
  maxPending: number;
  maxQueued: number;
  sendTimeoutMs: number;
  receiptTimeoutMs: number;
  maxReceiptWaiters: number;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  reconnectResetMs: number;
  reconnectStrategy: ReconnectStrategy | undefined;
  maxEarlyMessages: number;
  maxEarlyBytes: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  idleTimeoutMs: number;
  keepaliveIntervalMs: number;
  drainTimeoutMs: number;
  session: boolean | 'auto';
  resource: string | undefined;
  domain: string;
  authcid: string;
  onUpstream: UpstreamHandler | undefined;
  ackOnReceipt: boolean;
  dedupWindow: number;
  storeTimeoutMs: number;
  messageIdPrefix: string | undefined;
  /** The jitter draws (from `jitterSeed`, else `random`). */
  jitter: JitterSource;
  store: OutboxStore;
  dedupStore: UpstreamDedupStore;
  clock: Clock;
}

const KNOWN = new Set<string>([
  'senderId', 'apiKey', 'host', 'port', 'tls', 'connections', 'maxPending', 'maxQueued', 'sendTimeoutMs', 'receiptTimeoutMs', 'maxReceiptWaiters', 'maxRetries',
  'retryBaseMs', 'retryMaxMs', 'reconnectBaseMs', 'reconnectMaxMs', 'reconnectResetMs', 'reconnectStrategy', 'maxEarlyMessages', 'maxEarlyBytes', 'handshakeTimeoutMs', 'pingIntervalMs',
  'idleTimeoutMs', 'keepaliveIntervalMs', 'drainTimeoutMs', 'session', 'resource', 'domain', 'authcid', 'onUpstream',
  'ackOnReceipt', 'dedupWindow', 'storeTimeoutMs', 'messageIdPrefix', 'random', 'jitterSeed', 'store', 'dedupStore', 'clock',
] satisfies Array<keyof CcsClientOptions>);

const TLS_KNOWN = new Set<string>(['ca', 'servername', 'rejectUnauthorized'] satisfies Array<keyof CcsTlsOptions>);

/**
 * CCS's documented limit of connections per sender ID. More is never useful, and it once meant
 * opening them until the process ran out of file descriptors, then reconnecting for good.
 */
export const MAX_CONNECTIONS = 1000;

/** A count: an integer from `min` to `max`. */
function integer(name: string, v: unknown, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  if (typeof v !== 'number') throw new TypeError(`option ${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`option ${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/** A duration in ms: a finite number ≥ `min`. */
/**
 * The longest delay a Node timer can wait (2^31 - 1 ms, about 24.8 days): beyond it `setTimeout`
 * fires after 1 ms, which would turn a generous timeout into an immediate one.
 */
/** The longest a Node timer waits (about 24.8 days): the bound of every duration option, and of a send's `timeoutMs`. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

function duration(name: string, v: unknown, def: number, min = 0): number {
  if (v === undefined) return def;
  if (typeof v !== 'number') throw new TypeError(`option ${name} must be a number of milliseconds, got ${typeof v}`);
  if (!Number.isFinite(v) || v < min) throw new RangeError(`option ${name} must be a number >= ${min}, got ${v}`);
  if (v > MAX_DURATION_MS) throw new RangeError(`option ${name} must be at most ${MAX_DURATION_MS} ms (about 24.8 days, the longest a timer can wait), got ${v}`);
  return v;
}

function string(name: string, v: unknown, required: boolean): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new TypeError(required ? `option ${name} is required (a non-empty string)` : `option ${name} must be a non-empty string`);
  return v;
}

/**
 * An optional string the handshake writes as XML (`domain` in the stream header, `resource` in the
 * bind): one with a character XML 1.0 cannot carry fails here. Taken as it came, the serializer
 * refused it at connect(), reported as "the connection closed during the step".
 */
function xmlString(name: string, v: unknown): string | undefined {
  const s = string(name, v, false);
  if (s === undefined) return undefined;
  try {
    escapeAttr(s);
  } catch (err) {
    const at = /U\+[0-9A-F]{4}/.exec((err as Error).message)?.[0] ?? 'a character';
    throw new TypeError(`option ${name} contains ${at}, which XML 1.0 cannot carry`, { cause: err });
  }
  return s;
}

function boolean(name: string, v: unknown, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new TypeError(`option ${name} must be a boolean, got ${typeof v}`);
  return v;
}

function fn<T>(name: string, v: unknown): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw new TypeError(`option ${name} must be a function`);
  return v as T;
}

function object<T>(name: string, v: unknown, methods: readonly string[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) throw new TypeError(`option ${name} must be an object`);
  for (const m of methods) {
    if (typeof (v as Record<string, unknown>)[m] !== 'function') throw new TypeError(`option ${name} must have a ${m}() method`);
  }
  return v as T;
}

/** The jitter draws: seeded (`jitterSeed`), or drawn in call order from `random`. */
function jitterSource(options: CcsClientOptions): JitterSource {
  const random = fn<() => number>('random', options.random);
  if (options.jitterSeed === undefined) return streamJitter(random ?? Math.random);
  if (random !== undefined) throw new TypeError('options random and jitterSeed exclude each other: the seed makes the draws, random would be ignored');
  return seededJitter(integer('jitterSeed', options.jitterSeed, 0, 0, 2 ** 32 - 1));
}

/**
 * Checks every option and applies the defaults. Throws a `TypeError` (wrong type, unknown name) or
 * `RangeError` (out of range) naming the option, so a typo or `port: 'abc'` fails at construction
 * instead of at `connect()`. The API key is never part of a message.
 */
export function resolveOptions(options: CcsClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
  }
  const senderId = string('senderId', options.senderId, true) as string;
  const apiKey = string('apiKey', options.apiKey, true) as string;
  const tls = object<CcsTlsOptions>('tls', options.tls, []) ?? {};
  for (const name of Object.keys(tls)) {
    if (!TLS_KNOWN.has(name)) throw new TypeError(`unknown option ${JSON.stringify(`tls.${name}`)}`);
  }
  if (tls.rejectUnauthorized !== undefined) boolean('tls.rejectUnauthorized', tls.rejectUnauthorized, true);
  if (tls.servername !== undefined) string('tls.servername', tls.servername, false);
  const session = options.session ?? 'auto';
  if (session !== 'auto' && typeof session !== 'boolean') throw new TypeError(`option session must be true, false or 'auto'`);
  const domain = xmlString('domain', options.domain) ?? CCS_DOMAIN;
  const dedupWindow = integer('dedupWindow', options.dedupWindow, 10_000, 1);
  const store = options.store as Partial<StoreBundle> | undefined;
  const bundle = typeof store === 'object' && store !== null && 'outbox' in store ? store as StoreBundle : undefined;
  return {
    senderId,
    apiKey,
    host: string('host', options.host, false) ?? 'gcm.googleapis.com',
    port: integer('port', options.port, 5235, 1, 65_535),
    tls,
    connections: integer('connections', options.connections, 1, 1, MAX_CONNECTIONS),
    maxPending: integer('maxPending', options.maxPending, 1000, 1),
    maxQueued: integer('maxQueued', options.maxQueued, 10_000, 0),
    sendTimeoutMs: duration('sendTimeoutMs', options.sendTimeoutMs, 0),
    receiptTimeoutMs: duration('receiptTimeoutMs', options.receiptTimeoutMs, 600_000),
    maxReceiptWaiters: integer('maxReceiptWaiters', options.maxReceiptWaiters, 10_000, 1),
    maxRetries: integer('maxRetries', options.maxRetries, 8, 0),
    retryBaseMs: duration('retryBaseMs', options.retryBaseMs, 1000),
    retryMaxMs: duration('retryMaxMs', options.retryMaxMs, 60_000),
    reconnectBaseMs: duration('reconnectBaseMs', options.reconnectBaseMs, 250),
    reconnectMaxMs: duration('reconnectMaxMs', options.reconnectMaxMs, 30_000),
    reconnectStrategy: fn<ReconnectStrategy>('reconnectStrategy', options.reconnectStrategy),
    reconnectResetMs: duration('reconnectResetMs', options.reconnectResetMs, 30_000),
    maxEarlyMessages: integer('maxEarlyMessages', options.maxEarlyMessages, 1000, 0),
    maxEarlyBytes: integer('maxEarlyBytes', options.maxEarlyBytes, 4 << 20, 0),
    handshakeTimeoutMs: duration('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000, 1),
    pingIntervalMs: duration('pingIntervalMs', options.pingIntervalMs, 30_000),
    idleTimeoutMs: duration('idleTimeoutMs', options.idleTimeoutMs, 90_000),
    keepaliveIntervalMs: duration('keepaliveIntervalMs', options.keepaliveIntervalMs, 30_000),
    drainTimeoutMs: duration('drainTimeoutMs', options.drainTimeoutMs, 120_000),
    session,
    resource: xmlString('resource', options.resource),
    domain,
    authcid: string('authcid', options.authcid, false) ?? `${senderId}@${domain}`,
    onUpstream: fn<UpstreamHandler>('onUpstream', options.onUpstream),
    ackOnReceipt: boolean('ackOnReceipt', options.ackOnReceipt, false),
    dedupWindow,
    storeTimeoutMs: duration('storeTimeoutMs', options.storeTimeoutMs, 30_000),
    messageIdPrefix: string('messageIdPrefix', options.messageIdPrefix, false),
    jitter: jitterSource(options),
    store: object<OutboxStore>(bundle ? 'store.outbox' : 'store', bundle ? bundle.outbox : options.store, ['attach', 'append', 'takeNext', 'requeue', 'park', 'remove', 'queuedRecords', 'flush', 'close']) ?? new MemoryOutboxStore(),
    dedupStore: object<UpstreamDedupStore>(bundle && options.dedupStore === undefined ? 'store.dedup' : 'dedupStore', options.dedupStore ?? bundle?.dedup, ['claim', 'complete', 'release', 'close']) ?? new MemoryDedupStore(dedupWindow),
    clock: object<Clock>('clock', options.clock, ['now', 'setTimer', 'clearTimer']) ?? realClock,
  };
}
