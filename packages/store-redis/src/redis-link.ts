import { Redis, type RedisOptions } from 'ioredis';
import { SCRIPTS, type ScriptName } from './scripts.js';
import { StoreError, storeError } from './errors.js';

/** What the link tells its owner: the connection came up (again) or went down. */
export interface LinkSink {
  /** Redis is ready: the first time and after every reconnect. */
  onUp(): void;
  /** The connection was lost or could not be made; it is retried with backoff. */
  onDown(error: StoreError): void;
}

/** A pipeline that knows the store's scripts. */
export interface ScriptPipeline {
  /** Queues one script call. */
  script(name: ScriptName, args: readonly (string | number)[]): void;
  /** Sends the queued calls in one write; resolves with one `[error, result]` per call. */
  exec(): Promise<Array<[Error | null, unknown]>>;
}

type ScriptFn = (...args: Array<string | number>) => unknown;
type WithScripts = Record<ScriptName, ScriptFn>;

/** Connection options of the link. */
export interface LinkOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`, or an ioredis options object. */
  redis: string | RedisOptions;
  /** Cap of the reconnect backoff (ms). */
  reconnectMaxMs: number;
  /** Name shown in `CLIENT LIST`, to find an instance's connection. */
  connectionName: string;
}

/**
 * The one ioredis connection of a store. Offline queueing and per-request retries are off on
 * purpose: a command issued while Redis is unreachable fails at once, and one in flight when the
 * connection drops fails when it drops, so the store refuses work instead of holding it silently in
 * memory. ioredis reconnects by itself with the backoff below; `onUp` then tells the store.
 */
export class RedisLink {
  readonly redis: Redis;
  readonly #sink: LinkSink;
  #everReady = false;
  #closed = false;
  /** Redis is connected but stalled (see {@link hold}). */
  #held = false;
  /** The last connection error before the first ready: why `open()` failed. */
  #openError: unknown = undefined;

  constructor(options: LinkOptions, sink: LinkSink) {
    this.#sink = sink;
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // ioredis's disconnect() half-closes the socket and waits this long (a ref'd timer) for Redis
      // to close its side before destroying it: a stopped Redis never does, so a destroyed link (or
      // a close() past closeTimeoutMs) kept the process alive 2 s more, and 4 s when a failed start
      // dropped it twice. Nothing is lost by cutting at once: a polite close has had its QUIT answered.
      disconnectTimeout: 0,
      connectionName: options.connectionName,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), options.reconnectMaxMs),
    };
    this.redis = typeof options.redis === 'string'
      ? new Redis(options.redis, base)
      : new Redis({ ...options.redis, ...base });
    for (const [name, def] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, def);
    this.redis.on('ready', () => {
      this.#everReady = true;
      // A new connection that passed its ready check answers: whatever stall was seen is over.
      this.#held = false;
      this.#sink.onUp();
    });
    // Without an 'error' listener ioredis prints every connection error to the console; the store
    // reports them once, on its own channel.
    this.redis.on('error', (err: unknown) => {
      if (!this.#everReady) this.#openError = err;
      if (!this.#closed) this.#sink.onDown(storeError('connect', err));
    });
    this.redis.on('close', () => {
      if (!this.#closed && this.#everReady) this.#sink.onDown(new StoreError('connect', 'the connection to Redis was lost', { unavailable: true }));
    });
  }

  /** True while commands can be sent: connected, and not held as stalled. */
  get ready(): boolean {
    return this.redis.status === 'ready' && !this.#held;
  }

  /**
   * Held: Redis is connected but does not answer (the store's stall watch). `ready` is false
   * meanwhile, so new work is refused at once instead of queueing behind what Redis does not answer.
   */
  hold(held: boolean): void {
    this.#held = held;
  }

  /**
   * Connects; rejects with a {@link StoreError} when the first attempt fails (ioredis keeps
   * retrying), with the reason ioredis reported (`WRONGPASS …`, `connect ECONNREFUSED …`): its
   * `connect()` itself only rejects with "Connection is closed."
   */
  async open(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (err) {
      throw storeError('connect', this.#openError ?? err);
    }
  }

  /** A new pipeline. */
  pipeline(): ScriptPipeline {
    const p = this.redis.pipeline();
    const scripts = p as unknown as WithScripts;
    return {
      script: (name, args) => {
        scripts[name](...args);
      },
      exec: async () => (await p.exec()) ?? [],
    };
  }

  /** One script call on its own (the rare paths: heartbeat, adoption scan). */
  async script(name: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    return (this.redis as unknown as WithScripts)[name](...args);
  }

  /** Closes politely (QUIT). Unbounded here: the store bounds its whole close() and calls {@link destroy} past it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.redis.status !== 'ready' || this.#held) {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#closed = true;
    this.redis.disconnect();
  }
}
