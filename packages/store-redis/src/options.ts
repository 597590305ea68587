import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { RedisOptions } from 'ioredis';

/** Which final outcomes are appended to the `ccs:{S}:outcomes` stream. */
export type OutcomesMode =
  /** Only messages adopted from a dead instance (no caller is waiting for them). */
  | 'adopted'
  /** Every message (an audit trail; costs one XADD per message). */
  | 'all'
  /** None. */
  | 'none';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`), or ioredis connection options. */
  redis: string | RedisOptions;
  /** The CCS sender ID: the hash tag of every key (`ccs:{SENDER}:…`), so one sender's keys share a cluster slot. */
  senderId: string;
  /** First part of every key. Default `ccs`. */
  keyNamespace?: string;
  /** This instance's name in keys and outcomes. Default `<hostname>-<pid>-<random>`: unique per process start. */
  instanceId?: string;
  /**
   * Lifetime of this instance's lease (ms). It is renewed every fifth of it; when it lapses, the
   * other instances adopt this instance's records. Default 5000: a live process must be stalled
   * for about 4 s before it is presumed dead.
   */
  leaseTtlMs?: number;
  /** How often an instance looks for dead instances' records (ms). Adoption happens within `leaseTtlMs + adoptIntervalMs` of a death. Default 1000. */
  adoptIntervalMs?: number;
  /**
   * Records adopted per scan at most (one script: Redis answers nothing else while it runs). A dead
   * instance with more is taken over several scans, one right after the other, by the one adopter
   * that began it. Default 10 000.
   */
  adoptMax?: number;
  /** Which outcomes go to the outcome stream. Default `'adopted'`. */
  outcomes?: OutcomesMode;
  /** The outcome stream is trimmed to about this many entries (`XADD MAXLEN ~`). Default 10 000. */
  outcomesMaxLen?: number;
  /** How long a handled upstream message is remembered (ms). Default 3 600 000 (one hour). */
  dedupWindowMs?: number;
  /** At most this many handled upstream messages are remembered (0: no count bound). Default 100 000. */
  dedupMaxCount?: number;
  /** While another live instance runs a message's handler, its state is polled this often (ms). Default 200. */
  claimPollMs?: number;
  /** Cap of the Redis reconnect backoff (ms). Default 2000. */
  reconnectMaxMs?: number;
  /**
   * The whole of `close()` at most (ms): Redis answering what is in flight, the lease release and
   * the connections' QUIT. Past it the connections are dropped and the lease lapses by itself. 0:
   * drop them at once. Default 2000.
   */
  closeTimeoutMs?: number;
  /**
   * A Redis that has not answered a lease renewal for this long (ms) is stalled (stopped, paused, a
   * partition without a reset: the connection stays up and nothing answers): the store raises
   * `down`, refuses appends and fails claims and completions at once, and raises `up` when Redis
   * answers again. Default 3000 (three renewals of the default lease), or three renewals of a
   * shorter lease. Must be below `leaseTtlMs` less one renewal period (a fifth of it), else a
   * `RangeError` naming both: the lease would lapse, and other instances adopt this one's records
   * and send them while this one still does, before `down`.
   */
  stallTimeoutMs?: number;
  /**
   * `ready()` at most (ms): connecting and taking the lease. A Redis that accepts the connection
   * and never answers (stopped, paused), or one that cannot be reached, fails it with
   * `CCS_ERR_STORE` (`connect`, `unavailable`, naming the host, never the password) and the store is
   * dropped. Default 10 000; raise it for a Redis that takes longer to load its data set.
   */
  readyTimeoutMs?: number;
}

/** {@link RedisStoreOptions} with every default applied. */
export interface ResolvedStoreOptions {
  redis: string | RedisOptions;
  senderId: string;
  keyNamespace: string;
  instanceId: string;
  leaseTtlMs: number;
  adoptIntervalMs: number;
  adoptMax: number;
  outcomes: OutcomesMode;
  outcomesMaxLen: number;
  dedupWindowMs: number;
  dedupMaxCount: number;
  claimPollMs: number;
  reconnectMaxMs: number;
  closeTimeoutMs: number;
  stallTimeoutMs: number;
  readyTimeoutMs: number;
}

/** The longest a timer can wait (Node fires a longer one after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const KNOWN = new Set([
  'redis', 'senderId', 'keyNamespace', 'instanceId', 'leaseTtlMs', 'adoptIntervalMs', 'adoptMax', 'outcomes',
  'outcomesMaxLen', 'dedupWindowMs', 'dedupMaxCount', 'claimPollMs', 'reconnectMaxMs',
  'closeTimeoutMs', 'stallTimeoutMs', 'readyTimeoutMs',
]);

/**
 * A refused option value as an error message shows it: NaN and Infinity as themselves (JSON wrote
 * `null` for both), a bigint with its `n` (JSON threw on it, an error naming no option), and no
 * object's contents.
 */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

function integer(options: RedisStoreOptions, name: keyof RedisStoreOptions, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${shown(value)}`);
  if (value < min) throw new RangeError(`${name} must be >= ${min}, got ${value}`);
  if (value > max) throw new RangeError(`${name} must be <= ${max}, got ${value}`);
  return value;
}

/** Validates every option (unknown names included) and applies the defaults. */
export function resolveStoreOptions(options: RedisStoreOptions): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('redisStore options must be an object');
  for (const name of Object.keys(options)) if (!KNOWN.has(name)) throw new TypeError(`unknown redisStore option ${JSON.stringify(name)}`);
  const { redis } = options;
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) throw new TypeError('redis must be a redis:// or rediss:// URL');
    // Checked here, as ioredis parses it: its own refusal was a raw TypeError whose `input` held the
    // whole URL, password included, for any logger that prints an error's fields.
    if (!URL.canParse(redis)) throw new TypeError('redis is not a valid URL (not shown: it may hold a password)');
  } else if (typeof redis !== 'object' || redis === null) {
    throw new TypeError('redis must be a redis:// URL or an ioredis options object');
  }
  const instanceId = options.instanceId ?? `${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  if (typeof instanceId !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(instanceId)) {
    throw new TypeError(`instanceId must be 1-100 letters, digits, '_', '.' or '-', got ${shown(instanceId)}`);
  }
  const outcomes = options.outcomes ?? 'adopted';
  if (outcomes !== 'adopted' && outcomes !== 'all' && outcomes !== 'none') throw new TypeError(`outcomes must be 'adopted', 'all' or 'none', got ${shown(outcomes)}`);
  const leaseTtlMs = integer(options, 'leaseTtlMs', 5000, 100);
  return {
    redis,
    senderId: options.senderId,
    keyNamespace: options.keyNamespace ?? 'ccs',
    instanceId,
    leaseTtlMs,
    adoptIntervalMs: integer(options, 'adoptIntervalMs', 1000, 10),
    adoptMax: integer(options, 'adoptMax', 10_000, 1),
    outcomes,
    outcomesMaxLen: integer(options, 'outcomesMaxLen', 10_000, 1),
    dedupWindowMs: integer(options, 'dedupWindowMs', 3_600_000, 1),
    dedupMaxCount: integer(options, 'dedupMaxCount', 100_000, 0),
    claimPollMs: integer(options, 'claimPollMs', 200, 1),
    reconnectMaxMs: integer(options, 'reconnectMaxMs', 2000, 10),
    closeTimeoutMs: integer(options, 'closeTimeoutMs', 2000, 0, MAX_TIMER_MS),
    stallTimeoutMs: stallTimeout(options, leaseTtlMs),
    readyTimeoutMs: integer(options, 'readyTimeoutMs', 10_000, 1, MAX_TIMER_MS),
  };
}

/**
 * `stallTimeoutMs`, checked against the lease: a stall must be noticed (`down`, new sends refused)
 * while this instance's lease still holds. The renewal that goes unanswered is sent one renewal
 * period (a fifth of the lease) after the last answered one, and its watch fires `stallTimeoutMs`
 * later; at `leaseTtlMs - period` or more the lease lapses first, another instance adopts this
 * one's records and sends them, and this one — not knowing it is cut off — sends them too. Its
 * default is three renewal periods, at most 3000 ms, so a short lease alone stays valid.
 */
function stallTimeout(options: RedisStoreOptions, leaseTtlMs: number): number {
  const period = renewalPeriodMs(leaseTtlMs);
  const stallTimeoutMs = integer(options, 'stallTimeoutMs', Math.max(10, Math.min(3000, 3 * period)), 10, MAX_TIMER_MS);
  if (stallTimeoutMs >= leaseTtlMs - period) {
    throw new RangeError(`stallTimeoutMs (${stallTimeoutMs}) must be below leaseTtlMs (${leaseTtlMs}) less one renewal period (${period} ms), so below ${leaseTtlMs - period}: `
      + 'a stall would be noticed only after the lease lapsed, when other instances may already have adopted this one\'s messages and sent them twice');
  }
  return stallTimeoutMs;
}

/** How often the lease is renewed: a fifth of its lifetime. */
export function renewalPeriodMs(leaseTtlMs: number): number {
  return Math.max(1, Math.floor(leaseTtlMs / 5));
}

/**
 * The `redis` option as it may be shown (inspect, logs, the `ccs` CLI's messages): a URL with its
 * password as `***`, or an options object as its host and port only. ioredis also takes any of its
 * options from the query (`?password=…`, `?sentinelPassword=…`): every query value whose name holds
 * "pass" is hidden too. A string that is not a URL is `(not shown)`.
 */
export function redactedRedis(redis: string | RedisOptions): string {
  if (typeof redis !== 'string') return `{ host: ${JSON.stringify(redis.host ?? '127.0.0.1')}, port: ${redis.port ?? 6379} }`;
  try {
    const url = new URL(redis);
    if (url.password !== '') url.password = '***';
    for (const name of [...url.searchParams.keys()]) if (/pass/i.test(name)) url.searchParams.set(name, '***');
    return url.href;
  } catch {
    return '(not shown)';
  }
}

/**
 * The Redis server the `redis` option names, as `host:port` (or a socket path): for error
 * messages, which name where Redis was looked for and never the URL (its user, password, query).
 */
export function redisHost(redis: string | RedisOptions): string {
  if (typeof redis !== 'string') return redis.path ?? `${redis.host ?? 'localhost'}:${redis.port ?? 6379}`;
  try {
    const url = new URL(redis);
    return `${url.hostname === '' ? 'localhost' : url.hostname}:${url.port === '' ? 6379 : url.port}`;
  } catch {
    return '(not shown)';
  }
}
