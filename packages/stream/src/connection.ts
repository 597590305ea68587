import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  ConnectionError,
  STREAM_ERROR_CONDITIONS,
  StreamError,
  StreamErrorReceived,
  type StreamErrorCondition,
} from './errors.js';
import { NS_STREAM, NS_STREAM_ERRORS } from './namespaces.js';
import type { StreamHeader } from './sink.js';
import { StanzaParser, checkParserLimits, type StanzaParserOptions } from './stanza-parser.js';
import { XmlElement } from './xml-element.js';
import { escapeText, serialize, startTag } from './xml-serialize.js';

/** Behaviour of a stream connection, either side; `P` is what its parser's shortcut hands over. */
export interface ConnectionOptions<P = never> extends StanzaParserOptions<P> {
  /**
   * Send a single space when nothing was written for this long (RFC 6120 §4.6.1 whitespace
   * keepalive), so NATs and the peer see a live connection. 0 disables. Default 30 000 ms.
   */
  keepaliveIntervalMs?: number;
  /**
   * Consider the peer dead after this long without a single byte from it and close with
   * `STREAM_ERR_IDLE_TIMEOUT`. 0 disables. Default 0 (a client usually pairs it with pings).
   */
  idleTimeoutMs?: number;
  /** How long `close()` waits for the peer's `</stream:stream>` before cutting. Default 5 000 ms. */
  closeTimeoutMs?: number;
}

/**
 * What a connection reports. Called synchronously from socket callbacks; must not throw — one that
 * does (a handler called with received data, `onDrain`, `onFlushed`) ends only its connection, with
 * `STREAM_ERR_HANDLER` (the throw as `cause`) on `onClose`.
 */
export interface ConnectionHandlers<P = never> {
  /** The peer's stream header (once per stream; again after `restart()`). */
  onStreamOpen?(header: StreamHeader): void;
  /** A depth-1 element other than `<stream:error>` (which ends the connection instead). */
  onStanza(stanza: XmlElement): void;
  /**
   * Optional: stanzas the `shortcut` option recognised, as its parts, without building elements.
   * Return false to get the stanza through `onStanza` instead. See `StanzaSink.onShortcut`.
   */
  onShortcut?(parts: P): boolean;
  /** The peer sent `</stream:stream>`; the connection answers with its own and closes. */
  onStreamEnd?(): void;
  /** The socket can take more after `send()` returned false. */
  onDrain?(): void;
  /**
   * Optional: everything sent so far has been handed to the operating system (the socket's write
   * callbacks came back and nothing waits to be written). For counting what really left, such as
   * ACKs, as opposed to what was queued. Asking for it costs one write callback per tick.
   */
  onFlushed?(): void;
  /**
   * The connection is gone, once. `error` says why when it was not a clean close we asked for:
   * the peer's `<stream:error>` ({@link StreamErrorReceived}), our parser's verdict on its input
   * (a {@link StreamParseError}, which was also sent to it), a socket failure or an idle timeout.
   */
  onClose?(error: StreamError | undefined): void;
  /**
   * Optional wire trace: each chunk read from the socket (`in`) and each `send()` (`out`, the
   * stream header included), as it crosses, before parsing or batching. Chunks follow the socket,
   * not stanza boundaries. Absent, it costs one property read per chunk and per send.
   */
  onTrace?(direction: 'in' | 'out', data: string | Uint8Array): void;
}

/** Where and how to connect, client side. */
export interface ConnectOptions<P = never> extends ConnectionOptions<P> {
  host: string;
  port: number;
  /** `tls` (default) connects with TLS from the first byte, as CCS does. `tcp` only when asked. */
  transport?: 'tls' | 'tcp';
  /** TLS server name for SNI and certificate checks. Default: `host`. */
  servername?: string;
  /** Trusted CA certificate(s) in PEM. Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate. Default true; turn off only for local development. */
  rejectUnauthorized?: boolean;
  /** Give up on TCP + TLS after this long. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
  /**
   * Whether the socket keeps the process alive from the start (`net.Socket`'s default). False:
   * it is `unref()`ed as soon as it exists; `XmppConnection.ref()` turns that back on later.
   * Default true.
   */
  ref?: boolean;
  /**
   * The socket's high-water mark in bytes (Node's `highWaterMark`, both directions): how much it
   * buffers before `send()` returns false and `onDrain` is awaited, and the size a busy tick's
   * writes grow to (`XmppConnection.setWriteMark` can lower both later). A positive integer;
   * anything else rejects with a `RangeError`. Default 65 536 (64 KiB) on every Node version
   * (Node 20's own default is 16 KiB).
   */
  socketHighWaterMark?: number;
}

const DEFAULT_KEEPALIVE_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * The longest a Node timer waits. Past it (or for NaN) Node fires after 1 ms with only a warning:
 * a keepalive of `Infinity` would write a space every millisecond, a close timeout of 3e9 ms cut at
 * once. Durations are checked against it before any socket or timer exists.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DURATION_OPTIONS = ['keepaliveIntervalMs', 'idleTimeoutMs', 'closeTimeoutMs', 'connectTimeoutMs'] as const;

/** @throws {RangeError} naming the first duration option that is not a number from 0 to {@link MAX_TIMER_MS}. */
function checkDurations(options: ConnectionOptions<unknown> & { connectTimeoutMs?: number }): void {
  for (const name of DURATION_OPTIONS) {
    const ms: unknown = options[name];
    if (ms !== undefined) checkDuration(name, ms);
  }
}

/** @throws {RangeError} naming `name` when `ms` is not a number from 0 to {@link MAX_TIMER_MS}. */
function checkDuration(name: string, ms: unknown): void {
  if (typeof ms !== 'number' || !(ms >= 0 && ms <= MAX_TIMER_MS)) {
    throw new RangeError(`${name} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${typeof ms === 'number' ? String(ms) : typeof ms}`);
  }
}
/**
 * 64 KiB rather than Node 20's 16 KiB, and the same on every Node version (Node 22 made 64 KiB its
 * own default): with many small stanzas in flight a 16 KiB mark clocks the writes, a `drain` per
 * write. At 64 KiB a `CcsClient` with 1 000 pending per connection made 2.8× fewer writes and 4×
 * fewer drains, and at one and four connections spent 3–6% less CPU per message (bench/ANALYSIS.md,
 * thirteenth and fourteenth passes). A client whose pending work costs per message in flight can
 * stop its writes lower without a smaller socket (`XmppConnection.setWriteMark`).
 */
const DEFAULT_SOCKET_HIGH_WATER_MARK = 65_536;
/** The socket option @types/node does not declare for `net.connect` and `tls.connect`. */
interface WithHighWaterMark {
  highWaterMark: number;
}
/** How much of a tick's stanzas is written before the tick ends (the rest goes in larger writes). */
const FIRST_FLUSH_BYTES = 8192;
const STREAM_CLOSE = Buffer.from('</stream:stream>');
const KEEPALIVE = Buffer.from(' ');
const XML_DECL = "<?xml version='1.0'?>";

/**
 * The batch as one buffer. Stanzas that an encoder carved one after another from the same slab
 * (GcmEncoder: every downstream message and ACK of a connection) already lie back to back in
 * memory: those runs become one view each, with no copy; only when the batch spans several slabs
 * are the runs copied together. `Buffer.concat` of every stanza was a fresh external buffer and a
 * copy call per stanza on each write (3% of the client's time with 16 connections,
 * bench/ccs-client.mjs profile).
 */
function joinBuffers(batch: readonly Uint8Array[]): Uint8Array {
  const runs: Uint8Array[] = [];
  let first = batch[0] as Uint8Array;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < batch.length; i++) {
    const b = batch[i] as Uint8Array;
    if (b.buffer === first.buffer && b.byteOffset === end) {
      end += b.byteLength;
      continue;
    }
    runs.push(Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset));
    first = b;
    end = b.byteOffset + b.byteLength;
  }
  const last = Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
  if (runs.length === 0) return last;
  runs.push(last);
  return Buffer.concat(runs);
}

// The connection's states, as plain numbers: they are only compared with each other (an enum's
// names would be emitted and never read).
const OPEN = 0;
/** We sent `</stream:stream>` (or a stream error) and wait for the peer to finish. */
const CLOSING = 1;
const CLOSED = 2;
type State = typeof OPEN | typeof CLOSING | typeof CLOSED;

/**
 * One XMPP stream over a socket, either side: writes stream headers and stanzas, parses what
 * arrives, keeps the connection alive, and closes it properly.
 *
 * ```ts
 * const conn = await connect({ host: '127.0.0.1', port: 5235, ca }, {
 *   onStanza: (el) => console.log(el.name),
 *   onClose: (err) => console.log('closed', err?.code),
 * });
 * conn.openStream({ to: 'gcm.googleapis.com', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM });
 * ```
 */
export class XmppConnection {
  /** The peer's current stream header, once received. */
  remoteHeader: StreamHeader | undefined;

  private readonly socket: net.Socket;
  private readonly handlers: ConnectionHandlers<unknown>;
  private readonly parser: StanzaParser<unknown>;
  private readonly closeTimeoutMs: number;
  private state: State = OPEN;
  private closeError: StreamError | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private wroteSinceKeepalive = false;
  /** Our header for the current stream is out (keepalives and stream errors must follow it). */
  private headerSent = false;
  /** Reading is paused by our consumer: the idle check must not blame the peer. */
  private paused = false;
  /** A `<stream:error>` was received or sent: the stream is over, nothing more is delivered. */
  private streamOver = false;
  private lastReceived = Date.now();
  /** Stanzas sent during this tick, written as one buffer at its end. */
  private batch: Array<string | Uint8Array> = [];
  private batchBytes = 0;
  private batchAllBuffers = true;
  private batchScheduled = false;
  /** Batch size that is written before the tick ends (see `write`). */
  private flushAt = FIRST_FLUSH_BYTES;
  /**
   * Where `send()` turns false and a busy tick's writes are cut (`setWriteMark`): the socket's own
   * high-water mark unless lowered.
   */
  private mark: number;
  /** `send()` returned false at a lowered mark: `onDrain` is owed once the socket's buffer is empty. */
  private markBlocked = false;
  /** The end of a tick that sent something: write the rest, and the next tick starts small again. */
  private readonly endOfTick = (): void => {
    this.flushAt = FIRST_FLUSH_BYTES;
    this.flushBatch();
  };
  /** Socket writes whose callback has not come yet (counted only when `onFlushed` is wanted or the mark is lowered). */
  private writesPending = 0;
  private readonly afterWrite = (err?: Error | null): void => {
    // `destroyed` too: a socket destroyed with writes still queued calls them back without an
    // error (Node 20), though they never left.
    if (--this.writesPending === 0 && this.batch.length === 0 && !err && !this.socket.destroyed) this.notify('onFlushed');
    this.lowMarkDrain();
  };
  /** The closing tag's callback, asked for only while a lowered mark's `onDrain` is owed (see `close`). */
  private readonly afterClosingTag = (): void => this.lowMarkDrain();
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  /**
   * Writes what was sent this tick. One `socket.write` per tick instead of one per stanza: Node's
   * per-write bookkeeping was the largest single cost of sending many small stanzas
   * (bench/ccs-e2e.mjs profile), and one buffer becomes as few TLS records as possible.
   */
  private readonly flushBatch = (): void => {
    this.batchScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const allBuffers = this.batchAllBuffers;
    this.batchBytes = 0;
    this.batchAllBuffers = true;
    const socket = this.socket;
    if (!socket.writable) return;
    const data = batch.length === 1 ? (batch[0] as string | Uint8Array) : allBuffers ? joinBuffers(batch as Uint8Array[]) : batch.join('');
    this.socketWrite(data);
  };

  /**
   * A lowered mark's `drain`: the socket emits its own only past its own mark. When the buffer is
   * empty, as Node's 'drain' (which, when the socket's mark was passed too, came first: Node emits
   * it before the write's callback). Closing too, as Node's: an owner that stopped reading on
   * `send()`'s false resumes here, and must, to read the peer's closing tag.
   */
  private lowMarkDrain(): void {
    if (this.markBlocked && this.socket.writableLength === 0 && !this.socket.writableNeedDrain && !this.socket.destroyed) {
      this.markBlocked = false;
      this.notify('onDrain');
    }
  }

  /** A write to the socket, called back when someone waits for it (`onFlushed`, or a lowered mark's `onDrain`). */
  private socketWrite(data: string | Uint8Array): void {
    if (this.handlers.onFlushed === undefined && this.mark === this.socket.writableHighWaterMark) this.socket.write(data);
    else {
      this.writesPending++;
      this.socket.write(data, this.afterWrite);
    }
  }

  /**
   * Wraps a connected socket (server side: an accepted `tls.TLSSocket`, or a `net.Socket` when
   * plain TCP was explicitly chosen). The caller writes the stream header with `openStream()`.
   */
  constructor(socket: net.Socket, options: ConnectionOptions<unknown>, handlers: ConnectionHandlers<unknown>) {
    this.socket = socket;
    this.handlers = handlers;
    this.mark = socket.writableHighWaterMark;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.parser = new StanzaParser(
      {
        onStreamOpen: (header) => {
          this.remoteHeader = header;
          this.handlers.onStreamOpen?.(header);
        },
        onStanza: (el) => this.onStanza(el),
        // Only when asked for: its presence is what tells the parser to skip the elements.
        ...(handlers.onShortcut === undefined ? {} : { onShortcut: (parts: unknown) => this.onShortcut(parts) }),
        onStreamEnd: () => this.onStreamEnd(),
        onError: (err) => this.fail(err, err.condition),
      },
      options,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.lastReceived = Date.now();
      try {
        const trace = this.handlers.onTrace;
        if (trace !== undefined) trace('in', chunk);
        this.parser.write(chunk);
      } catch (err) {
        // A handler threw. Nothing may escape a socket callback (it would crash the process and
        // every other connection with it): this connection ends, reported once, with the cause.
        this.fail(new ConnectionError('STREAM_ERR_HANDLER', 'internal-server-error', 'a handler threw while processing received data', { cause: err }), 'internal-server-error');
      }
    });
    socket.on('drain', () => {
      this.markBlocked = false;
      this.notify('onDrain');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeError ??= new ConnectionError('STREAM_ERR_SOCKET', 'remote-connection-failed', `socket error: ${err.code ?? err.message}`, { cause: err });
    });
    socket.on('end', () => {
      // The peer half-closed: nothing more will come. Without its closing tag first (and without
      // our asking), that is a lost connection, not a clean close.
      if (this.state === OPEN && !this.parser.done) {
        this.closeError ??= new ConnectionError('STREAM_ERR_PEER_CLOSED', 'remote-connection-failed', 'the peer ended the connection without closing the stream');
      }
      socket.end();
    });
    socket.on('close', () => this.onSocketClose());

    // These timers are unref'd on purpose, as net.Socket's own timeout is: they never outlive the
    // socket, and the socket alone (ref()/unref()) decides whether the process stays alive.
    const keepaliveMs = options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS;
    if (keepaliveMs > 0) {
      this.keepaliveTimer = setInterval(() => {
        if (this.state !== OPEN) return;
        // Never before our header: whitespace ahead of `<?xml` makes the stream not well-formed.
        if (!this.wroteSinceKeepalive && this.headerSent) {
          this.flushBatch();
          // Called back like the batches: under a lowered mark, the write that empties the
          // buffer is what owes `onDrain`.
          this.socketWrite(KEEPALIVE);
        }
        this.wroteSinceKeepalive = false;
      }, keepaliveMs).unref();
    }
    const idleMs = options.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      // One periodic check instead of re-arming a timer for every chunk received.
      this.idleTimer = setInterval(() => {
        if (!this.paused && Date.now() - this.lastReceived >= idleMs) {
          this.fail(new ConnectionError('STREAM_ERR_IDLE_TIMEOUT', 'connection-timeout', `no data from peer for ${idleMs} ms`), 'connection-timeout');
        }
      }, Math.max(10, Math.floor(idleMs / 4))).unref();
    }
  }

  /** True while stanzas can be sent. */
  get writable(): boolean {
    return this.state === OPEN && this.socket.writable;
  }

  /**
   * True when the connection runs over TLS. `connect()` resolves, and a TLS server hands over a
   * socket, only once the handshake is done.
   */
  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** The underlying socket (for TLS details such as the peer certificate). */
  get rawSocket(): net.Socket {
    return this.socket;
  }

  /** Resolves when the socket has closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Writes `<?xml version='1.0'?><stream:stream …>` with these attributes. */
  openStream(attrs: Record<string, string>): void {
    this.write(`${XML_DECL}${startTag('stream:stream', attrs)}`);
    this.headerSent = true;
  }

  /**
   * Starts a new stream on the same socket (RFC 6120 §4.3.3, after SASL success): resets the
   * parser. Safe to call from `onStanza`; bytes after the current element belong to the new stream.
   */
  restart(): void {
    this.remoteHeader = undefined;
    this.headerSent = false;
    this.parser.reset();
  }

  /**
   * Sends a stanza (an element, or ready XML as a string or bytes — the caller guarantees it is
   * well-formed). Writes issued in one tick are coalesced into one socket write at the end of the
   * tick, so bytes passed in must not be modified before then (a GcmEncoder rewinds after `onFlushed`).
   * @returns false when the socket's buffer is full (at its mark, or at a lower `setWriteMark`): wait
   * for `onDrain` before sending more.
   * @throws {ConnectionError} `STREAM_ERR_CLOSED` when the stream is closing or closed.
   */
  send(stanza: XmlElement | string | Uint8Array): boolean {
    return this.write(stanza instanceof XmlElement ? serialize(stanza) : stanza);
  }

  private write(data: string | Uint8Array): boolean {
    if (!this.writable) {
      throw new ConnectionError('STREAM_ERR_CLOSED', 'reset', 'cannot send: the stream is closing or closed');
    }
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      process.nextTick(this.endOfTick);
    }
    this.wroteSinceKeepalive = true;
    const trace = this.handlers.onTrace;
    if (trace !== undefined) trace('out', data);
    if (typeof data === 'string') {
      if (this.batchAllBuffers) {
        // Mixed: turn what is there (bytes only, so far) into strings so join() keeps the order
        // (rare: handshakes).
        this.batch = this.batch.map((b) => Buffer.from(b as Uint8Array).toString('utf8'));
      }
      this.batchAllBuffers = false;
      this.batch.push(data);
    } else {
      this.batch.push(this.batchAllBuffers ? data : Buffer.from(data).toString('utf8'));
    }
    this.batchBytes += data.length;
    if (this.batchBytes >= this.flushAt) {
      // A large tick. The first few KiB go out at once, so the peer starts on them while we
      // encode the rest (bench/ccs-e2e.mjs: +10% acked msgs/s with 100 in flight, where the two
      // sides otherwise take turns); after that, socket-sized writes (fewer TLS records and
      // syscalls), and backpressure shows.
      this.flushBatch();
      this.flushAt = this.mark;
    }
    const socket = this.socket;
    if (socket.writableNeedDrain) return false;
    if (socket.writableLength < this.mark) return true;
    // Past a lowered mark (at the socket's own, `writableNeedDrain` said so above).
    this.markBlocked = true;
    return false;
  }

  /** Where `send()` turns false: the socket's high-water mark, or the lower mark `setWriteMark` set. */
  get writeMark(): number {
    return this.mark;
  }

  /**
   * Lowers the mark at which `send()` returns false (and `onDrain` follows, once the socket's buffer
   * is empty) below the socket's own high-water mark, or restores it: `bytes` at or above the
   * socket's mark is the socket's mark. The socket's mark is fixed when it is made; this one can
   * follow what the caller has outstanding — a caller whose pending work is cheap to hold lets the
   * buffer grow to the socket's mark (fewer, larger writes), one whose pending work costs lowers it
   * (fewer pending at once). It applies from the next `send()`; a lower mark does not take back
   * what was accepted.
   * `Infinity` (or any integer past the socket's mark) restores it.
   * @throws {RangeError} when `bytes` is not a positive integer or `Infinity`.
   */
  setWriteMark(bytes: number): void {
    if (!(Number.isInteger(bytes) || bytes === Number.POSITIVE_INFINITY) || bytes <= 0) {
      throw new RangeError(`the write mark must be a positive integer (bytes) or Infinity, got ${String(bytes)}`);
    }
    const mark = Math.min(bytes, this.socket.writableHighWaterMark);
    if (mark === this.mark) return;
    this.mark = mark;
    if (this.flushAt > mark) this.flushAt = mark;
    // Raised with a lowered mark's `onDrain` still owed: the buffer may already be under the new
    // mark, and the owner waits for `onDrain` before it sends again.
    if (this.markBlocked && this.socket.writableLength < mark && !this.socket.writableNeedDrain) {
      this.markBlocked = false;
      process.nextTick(this.drainNow);
    }
  }

  /** The raise's `onDrain`: while closing too, as Node's 'drain' and `lowMarkDrain` (a close() in the same tick lost it). */
  private readonly drainNow = (): void => {
    if (!this.socket.destroyed) this.notify('onDrain');
  };

  /**
   * Hands what was sent during this tick to the socket now instead of at the end of the tick
   * (for example before deliberately cutting the connection).
   */
  flush(): void {
    this.flushBatch();
  }

  /** Stops reading from the socket (the consumer is behind); `resume()` continues. */
  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  /**
   * The socket keeps the process alive again (the default), like `net.Socket.ref()`. The stream's
   * own timers (keepalive, idle check, close deadline) never do: they live only as long as the
   * socket, so the socket alone decides.
   */
  ref(): void {
    this.socket.ref();
  }

  /** The socket no longer keeps the process alive, like `net.Socket.unref()`. */
  unref(): void {
    this.socket.unref();
  }

  /** Resumes reading after `pause()`. */
  resume(): void {
    this.paused = false;
    // The silence while we were not reading says nothing about the peer.
    this.lastReceived = Date.now();
    this.socket.resume();
  }

  /**
   * Sends `<stream:error>` with this condition (and optional text, which must not hold secrets),
   * closes the stream and the connection (RFC 6120 §4.9.1.1).
   */
  streamError(condition: StreamErrorCondition, text?: string): void {
    if (this.state !== OPEN) return;
    this.writeStreamError(condition, text);
    this.beginClose();
    // RFC 6120 §4.9.1.1: after the error and the closing tag, terminate the connection.
    this.socket.end();
  }

  /**
   * Closes cleanly: sends `</stream:stream>`, waits (bounded by `closeTimeoutMs`, or `timeoutMs`)
   * for the peer's, then ends the connection. Resolves once the socket is closed.
   */
  close(timeoutMs?: number): Promise<void> {
    // A number first: null and '' pass the comparisons as 0 (a timer of 1 ms cut the connection).
    if (timeoutMs !== undefined) {
      try {
        checkDuration('close() timeoutMs', timeoutMs);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.state === OPEN) {
      this.flushBatch();
      // Without our header there is no stream of ours to close: a lone closing tag is not XML.
      // With a lowered mark's `onDrain` owed, the closing tag is the write that empties the
      // buffer: called back, or the owner that waits for `onDrain` (to read again) never hears.
      if (this.headerSent && this.socket.writable) {
        if (this.markBlocked) this.socket.write(STREAM_CLOSE, this.afterClosingTag);
        else this.socket.write(STREAM_CLOSE);
      }
      this.beginClose(timeoutMs);
    }
    return this.closedPromise;
  }

  /** Closes at once without the closing handshake. */
  destroy(error?: StreamError): void {
    this.closeError ??= error;
    this.state = CLOSING;
    this.socket.destroy();
  }

  private beginClose(timeoutMs = this.closeTimeoutMs): void {
    this.state = CLOSING;
    this.clearTimers();
    this.closeTimer = setTimeout(() => {
      this.socket.destroy();
    }, timeoutMs).unref();
  }

  private writeStreamError(condition: StreamErrorCondition, text?: string): void {
    this.streamOver = true;
    if (!this.socket.writable) return;
    const textEl = text ? `<text xmlns="${NS_STREAM_ERRORS}">${escapeText(text)}</text>` : '';
    this.flushBatch();
    // RFC 6120 §4.9.1.2: an error about (or before) our stream still goes inside a stream element.
    const header = this.headerSent ? '' : `${XML_DECL}${startTag('stream:stream', { version: '1.0', 'xmlns:stream': NS_STREAM })}`;
    this.headerSent = true;
    this.socket.write(`${header}<stream:error><${condition} xmlns="${NS_STREAM_ERRORS}"/>${textEl}</stream:error></stream:stream>`);
  }

  /**
   * Calls `onDrain` or `onFlushed` from the socket's own callback. One that throws ends this
   * connection as a throwing data handler does (STREAM_ERR_HANDLER, the throw as `cause`, reported
   * once by `onClose`): thrown on, it was an uncaught exception out of the socket's write path.
   */
  private notify(name: 'onDrain' | 'onFlushed'): void {
    try {
      this.handlers[name]?.();
    } catch (err) {
      this.fail(new ConnectionError('STREAM_ERR_HANDLER', 'internal-server-error', `the ${name} handler threw`, { cause: err }), 'internal-server-error');
    }
  }

  /** A protocol violation or dead peer: tell the peer (when still possible) and close. */
  private fail(error: StreamError, condition: StreamErrorCondition): void {
    this.closeError ??= error;
    if (this.state === OPEN) {
      this.writeStreamError(condition);
      this.beginClose();
    }
    this.socket.end();
  }

  private onStanza(el: XmlElement): void {
    if (el.local === 'error' && el.uri === NS_STREAM) {
      let condition: StreamErrorCondition = 'undefined-condition';
      let text: string | undefined;
      for (const child of el.children) {
        if (typeof child === 'string' || child.uri !== NS_STREAM_ERRORS) continue;
        if (child.local === 'text') text = child.text();
        else if (STREAM_ERROR_CONDITIONS.has(child.local)) condition = child.local as StreamErrorCondition;
      }
      this.closeError ??= new StreamErrorReceived(condition, text);
      this.streamOver = true;
      // RFC 6120 §4.9.1.1: the stream is closed; answer with our closing tag.
      if (this.state === OPEN) {
        this.flushBatch();
        if (this.headerSent && this.socket.writable) this.socket.write(STREAM_CLOSE);
        this.beginClose();
      }
      this.socket.end();
      return;
    }
    if (this.streamOver) return;
    this.handlers.onStanza(el);
  }

  private onShortcut(parts: unknown): boolean {
    // Swallowed like any stanza once the stream is over (see onStanza).
    if (this.streamOver) return true;
    return (this.handlers.onShortcut as NonNullable<ConnectionHandlers<unknown>['onShortcut']>)(parts);
  }

  private onStreamEnd(): void {
    this.handlers.onStreamEnd?.();
    if (this.state === OPEN) {
      // RFC 6120 §4.4: answer the closing tag with ours, then terminate the connection.
      this.flushBatch();
      if (this.headerSent && this.socket.writable) this.socket.write(STREAM_CLOSE);
      // Bounded like every other close: a peer that keeps TCP open after its closing tag is cut.
      this.beginClose();
    }
    this.socket.end();
  }

  private onSocketClose(): void {
    if (this.state === OPEN && !this.parser.done) {
      // Reset or destroyed under us without an 'end' or an 'error'.
      this.closeError ??= new ConnectionError('STREAM_ERR_PEER_CLOSED', 'remote-connection-failed', 'the connection closed without the stream being closed');
    }
    this.state = CLOSED;
    this.clearTimers();
    clearTimeout(this.closeTimer);
    // Resolved first (its waiters run later, after onClose all the same): an onClose that threw
    // left `closed` and every `close()` waiting for good.
    this.resolveClosed();
    this.handlers.onClose?.(this.closeError);
  }

  private clearTimers(): void {
    clearInterval(this.keepaliveTimer);
    clearInterval(this.idleTimer);
    this.keepaliveTimer = undefined;
    this.idleTimer = undefined;
  }
}

/**
 * Connects to an XMPP server: TCP, then TLS from the first byte unless `transport: 'tcp'`.
 * Resolves with the connection once the TLS handshake (certificate verified by default) is done;
 * the caller then calls `openStream()`.
 * @throws {ConnectionError} `STREAM_ERR_CONNECT` with the reason (refused, certificate, timeout).
 * @throws {RangeError} when `socketHighWaterMark` is not a positive integer, `maxStanzaBytes` or
 *   `maxDepth` not positive, or a duration (`keepaliveIntervalMs`, `idleTimeoutMs`,
 *   `closeTimeoutMs`, `connectTimeoutMs`) not from 0 to 2^31 - 1 ms (the promise rejects, before a
 *   socket is opened).
 */
export function connect<P = never>(options: ConnectOptions<P>, handlers: ConnectionHandlers<P>): Promise<XmppConnection> {
  const { host, port } = options;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const highWaterMark = options.socketHighWaterMark ?? DEFAULT_SOCKET_HIGH_WATER_MARK;
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark <= 0) {
    return Promise.reject(new RangeError(`socketHighWaterMark must be a positive integer (bytes), got ${String(highWaterMark)}`));
  }
  try {
    checkDurations(options);
    checkParserLimits(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<XmppConnection>((resolve, reject) => {
    let settled = false;
    let socket: net.Socket;
    const where = `${host}:${port}`;
    const fail = (condition: StreamErrorCondition, message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new ConnectionError('STREAM_ERR_CONNECT', condition, message, { cause }));
    };
    const onAbort = (): void => fail('reset', `connection to ${where} aborted`, options.signal?.reason);
    const ready = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(new XmppConnection(socket, options, handlers));
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      const what = options.transport === 'tcp' ? 'TCP' : 'TLS';
      fail('remote-connection-failed', `${what} connection to ${where} failed: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '), err);
    };
    // `highWaterMark` is a documented option of `tls.connect`, and `net.connect` hands it to the
    // socket's Duplex (the tests read it back on both); @types/node declares it for neither.
    if (options.transport === 'tcp') {
      const tcpOptions: net.NetConnectOpts & WithHighWaterMark = { host, port, highWaterMark };
      socket = net.connect(tcpOptions, ready);
    } else {
      const tlsOptions: tls.ConnectionOptions & WithHighWaterMark = {
        host,
        port,
        servername: options.servername ?? (net.isIP(host) ? undefined : host),
        ca: options.ca,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        ALPNProtocols: ['xmpp-client'],
        highWaterMark,
      };
      socket = tls.connect(tlsOptions, ready);
    }
    if (options.ref === false) socket.unref();
    socket.on('error', onError);
    // Unref'd: the connecting socket holds the process (or not, see `ref`); this only bounds it.
    const timer = setTimeout(() => fail('connection-timeout', `connection to ${where} timed out after ${timeoutMs} ms`), timeoutMs);
    timer.unref();
    if (options.signal) {
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener('abort', onAbort);
    }
  });
}

/**
 * Server side: wraps an accepted socket. The caller answers the client's header with `openStream()`.
 * @throws {RangeError} when a duration option is not from 0 to 2^31 - 1 ms (the socket is left to the caller).
 */
export function accept<P = never>(socket: net.Socket, options: ConnectionOptions<P>, handlers: ConnectionHandlers<P>): XmppConnection {
  checkDurations(options);
  return new XmppConnection(socket, options, handlers);
}
