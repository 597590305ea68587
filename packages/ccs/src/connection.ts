import {
  GcmEncoder, decodeGcmMessage, decodeGcmText, pingIq, readIq, resultIq,
  type DeviceGroupResult, type NackError as StanzaNack, type ReceiptMessage, type UpstreamMessage,
} from '@ccs-xmpp/stanza';
import { connect, type StreamError, type XmlElement, type XmppConnection } from '@ccs-xmpp/stream';
import { gcmAckShortcut, type GcmParts } from '@ccs-xmpp/stanza';
import { Handshake } from './connection-handshake.js';
import { routeInbound } from './inbound-router.js';
import { CcsError, HandshakeError } from './errors.js';
import { InflightTable } from './inflight-table.js';
import { generatedPrefix } from './message-id.js';
import type { Outbound } from './outbound.js';
import { wireTracer } from './wire-trace.js';

/** The stream's `to` domain and the SASL authcid domain (FCM kept GCM's). */
export const CCS_DOMAIN = 'gcm.googleapis.com';

/** Settings of one connection (resolved from the client's options). */
export interface CcsConnectionOptions {
  senderId: string;
  apiKey: string;
  host: string;
  port: number;
  ca: string | Buffer | Array<string | Buffer> | undefined;
  servername: string | undefined;
  rejectUnauthorized: boolean;
  maxPending: number;
  /** Bound on each handshake step (TLS, stream, auth, bind, session). */
  handshakeTimeoutMs: number;
  /** Send a XEP-0199 ping when no stanza arrived for this long; 0 disables. */
  pingIntervalMs: number;
  /** Close (and replace) the connection when no byte arrived for this long; 0 disables. */
  idleTimeoutMs: number;
  /** Whitespace keepalive interval; 0 disables. */
  keepaliveIntervalMs: number;
  /** `true`: always send the session IQ; `false`: never; `'auto'`: when offered and not marked optional. */
  session: boolean | 'auto';
  /** Resource to bind, or none (the server picks). */
  resource: string | undefined;
  /** The stream's `to`. */
  domain: string;
  /** The SASL PLAIN authcid. */
  authcid: string;
  /** Messages kept between bind and online before the handshake fails with `CCS_ERR_EARLY_OVERFLOW`. */
  maxEarlyMessages: number;
  /** Their size (in UTF-16 code units of markup, about bytes) kept before the same failure. */
  maxEarlyBytes: number;
  /** The socket's high-water mark in bytes ({@link SOCKET_HIGH_WATER_MARK}). */
  socketHighWaterMark: number;
  /** The stream's write mark at connect (see `setWriteMark`). */
  writeMark: number;
}

/**
 * Every connection's socket is made with a 64 KiB high-water mark. With 1 000 pending per
 * connection a 16 KiB mark clocks the writes (a `drain` per write, ~60 messages each); 64 KiB took
 * 3–6% off the CPU per message at 1000 × 1 and 1000 × 4, and 4–5% at 1000 × 16 through `dispatch()`
 * (bench/ANALYSIS.md, thirteenth to fifteenth passes). Where the writes stop is the stream's write
 * mark, which follows what is outstanding ({@link promiseWriteMark}).
 */
export const SOCKET_HIGH_WATER_MARK = 64 * 1024;
/**
 * The write mark from a `send()` until nothing is outstanding: the client's 256 KiB split between its
 * connections, 64 KiB each at 1 to 4, 32 KiB at 8, 16 KiB from 16. At 1000 × 16 through `send()`
 * the full 64 KiB cost 10–15% more CPU per message: it puts ~2 300 more messages in flight (15 100
 * against 12 900, with ~9 300 queued), and with a promise each (~530 B that survive a scavenge
 * against ~150 B for a callback's record) the live set outgrows the young generation — 379 B/msg
 * promoted against 179, the scavenges' helper threads 4.6 µs/msg against 2.6 (bench/micro/client-gc.mjs,
 * fifteenth pass). A `dispatch()` record promotes nothing at either mark.
 */
const PROMISE_BUFFER_BUDGET = 256 * 1024;
const MIN_PROMISE_WRITE_MARK = 16 * 1024;

/** The write mark for a client of `connections` connections from a `send()` until nothing is outstanding. */
export function promiseWriteMark(connections: number): number {
  return Math.min(SOCKET_HIGH_WATER_MARK, Math.max(MIN_PROMISE_WRITE_MARK, Math.floor(PROMISE_BUFFER_BUDGET / connections)));
}

/** What a connection reports to the client. Called synchronously from socket callbacks. */
export interface ConnectionSink {
  /** `group`: the success/failure counts of a device-group (notification key) ACK; `undefined` for a plain ACK. */
  onAck(conn: CcsConnection, out: Outbound, from: string | undefined, registrationId: string | undefined, group: DeviceGroupResult | undefined): void;
  onNack(conn: CcsConnection, out: Outbound, nack: StanzaNack, stanzaError: boolean): void;
  onUpstream(conn: CcsConnection, msg: UpstreamMessage): void;
  onReceipt(conn: CcsConnection, msg: ReceiptMessage): void;
  /** `CONNECTION_DRAINING`: the connection takes no new messages from now on. */
  onDraining(conn: CcsConnection): void;
  /** ACKs of upstream messages that have now been handed to the operating system (not just queued). */
  onAcksWritten(conn: CcsConnection, count: number): void;
  /** The socket accepts writes again after a full buffer. */
  onWritable(conn: CcsConnection): void;
  /** An online connection closed; `takeOwed()` gives what it still owed. Not called when `open()` failed. */
  onClosed(conn: CcsConnection, error: Error | undefined): void;
  /** Something the server sent that this client cannot use (not fatal). */
  onProtocolError(conn: CcsConnection, error: CcsError): void;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Downstream stanzas are handed to the stream as one buffer per this many bytes, and at the end of
 * the tick: the stream writes a tick's first 8 KiB at once, so that the peer starts on them while
 * the rest is encoded, and the socket's state (full or not) is seen as often as before. Not when
 * the connection's free window cannot make two more runs this size (`RUN_FLUSH_REST`): the tick's
 * rest is then one run at most, and handing the run over early only split the tick into two
 * writes where one would do, each a TLS write and, from the peer, a read of its own. With room for
 * one more run the rule still split every tick of 64 stanzas or more at maxPending 100 into 32 + 32,
 * and the window settled into three batches of ~33 in flight instead of the floor's two (36 + 64):
 * 39–46 messages per write against 50 (bench/ANALYSIS.md, ninth and eleventh passes).
 */
const RUN_FLUSH_BYTES = 8192;
/** What the free window must be able to make, after a run, for the run to go to the stream early. */
const RUN_FLUSH_REST = 2 * RUN_FLUSH_BYTES;
/**
 * What the whole window (maxPending stanzas of this size) must be able to make for any run to go
 * early: four runs. A smaller window is refilled in a tick of at most ~24 KiB more, which goes as one
 * write. At maxPending 100 and 16 connections the early handoff split every refill of ~92 stanzas or
 * more into 8 KiB and the rest (a read that ACKed two batches at once): 12% of the writes, and the
 * connections' batches drifted off the floor's — 10% more TLS writes and 9% more reads per message
 * (`bench/micro/wire-counts.mjs`); without it the write sizes are the floor's. Not a larger
 * `RUN_FLUSH_REST` instead: at maxPending 1000 through `send()` (a 16 KiB write mark) that cost
 * 2–8% more CPU per message (bench/ANALYSIS.md, sixteenth pass).
 */
const RUN_FLUSH_WINDOW = 4 * RUN_FLUSH_BYTES;

/** Where a connection is: negotiating (see {@link Handshake}), online, or closed. */
const enum Phase {
  Handshake,
  Online,
  Closed,
}

let nextConnectionId = 1;

/**
 * One CCS connection: the handshake (a {@link Handshake} until online), then the hot path: downstream writes tracked in an in-flight `Map`
 * (insertion order = send order, which is the resend order), ACK/NACK matching by `message_id`,
 * upstream ACKs written on this connection, pings answered.
 */
export class CcsConnection {
  /** Process-unique id, for events and logs (`c1`, `c2`…). */
  readonly id: string;
  /** `CONNECTION_DRAINING` received: no new downstream messages go here. */
  draining = false;
  /** The socket's buffer is full; no downstream writes until `onWritable`. */
  blocked = false;
  /** Un-answered downstream messages, by `message_id`. */
  readonly inflight = new InflightTable();
  /** When the handshake completed, by the owner's clock (the pool sets it), 0 before. */
  onlineAt = 0;
  /** The server sent a stanza after the handshake: with `onlineAt`, what makes a connection healthy. */
  heardOnline = false;

  readonly #options: CcsConnectionOptions;
  readonly #sink: ConnectionSink;
  readonly #encoder = new GcmEncoder();
  #xmpp: XmppConnection | undefined;
  #phase = Phase.Handshake;
  readonly #handshake: Handshake;
  #pingTimer: NodeJS.Timeout | undefined;
  /** A stanza arrived since the ping timer last looked (cheaper than a timestamp per stanza). */
  #heard = false;
  #pingSeq = 0;
  #resolveOpen: (() => void) | undefined;
  #rejectOpen: ((err: HandshakeError) => void) | undefined;
  #abort = new AbortController();
  #closedByUs = false;
  #drainTimer: NodeJS.Timeout | undefined;
  /** Whether this connection keeps the process alive (see `setRef`). */
  #ref = true;
  /** ACKs queued since everything was last flushed (counted as written once it is). */
  #acksUnflushed = 0;
  /** Reading stopped because our writes are over the socket's high-water mark (see #written). */
  #readPaused = false;
  /** Bytes of downstream stanzas in the encoder's run, not yet handed to the stream. */
  #runBytes = 0;
  /** The stream's write mark (`setWriteMark`), kept for a stream not made yet. */
  #writeMark: number;
  #runScheduled = false;
  readonly #endOfTick = (): void => {
    this.#runScheduled = false;
    this.#sendRun();
  };

  constructor(options: CcsConnectionOptions, sink: ConnectionSink) {
    this.id = `c${nextConnectionId++}`;
    this.#options = options;
    this.#sink = sink;
    this.#writeMark = options.writeMark;
    this.#handshake = new Handshake(options, {
      online: (early) => this.#goOnline(early),
      failed: (err) => this.#failed(err),
    });
  }

  /**
   * Where the stream's `send()` turns false from now on (at most the socket's mark): the pool lowers
   * it from a `send()` until nothing is outstanding ({@link promiseWriteMark}).
   */
  setWriteMark(bytes: number): void {
    this.#writeMark = bytes;
    this.#xmpp?.setWriteMark(bytes);
  }

  /**
   * Whether this connection keeps the process alive (the client's `ref()`/`unref()`). The socket
   * carries the ref, as with `net.Socket`; the connection's timers (ping, drain) are unref'd
   * because they never outlive the socket — and the handshake's step timer follows this too, so
   * it holds the process while connecting in case the socket of an attempt started unref'd.
   */
  setRef(on: boolean): void {
    this.#ref = on;
    this.#handshake.setRef(on);
    if (on) this.#xmpp?.ref();
    else this.#xmpp?.unref();
  }

  /** True while online and not draining, closed or blocked: it may take downstream messages. */
  get usable(): boolean {
    return this.#phase === Phase.Online && !this.draining && !this.blocked && this.#xmpp !== undefined && this.#xmpp.writable;
  }

  /** True once the handshake completed (and until the connection closes). */
  get online(): boolean {
    return this.#phase === Phase.Online;
  }

  /** True after the connection has closed (or failed to open). */
  get closed(): boolean {
    return this.#phase === Phase.Closed;
  }

  /** Free window: how many more downstream messages may be in flight here. */
  get free(): number {
    return this.#options.maxPending - this.inflight.size;
  }

  /**
   * Runs the handshake. Resolves when online; rejects with a {@link HandshakeError} naming the
   * step that failed (the connection is then closed, and `onClosed` is never called).
   */
  open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#resolveOpen = resolve;
      this.#rejectOpen = reject;
      this.#handshake.start();
      const o = this.#options;
      connect(
        {
          host: o.host,
          port: o.port,
          ca: o.ca,
          servername: o.servername,
          rejectUnauthorized: o.rejectUnauthorized,
          connectTimeoutMs: o.handshakeTimeoutMs,
          keepaliveIntervalMs: o.keepaliveIntervalMs,
          idleTimeoutMs: o.idleTimeoutMs,
          signal: this.#abort.signal,
          shortcut: gcmAckShortcut,
          ref: this.#ref,
          socketHighWaterMark: o.socketHighWaterMark,
        },
        {
          onStanza: (el) => this.#onStanza(el),
          onShortcut: (gcm) => this.#onGcm(gcm),
          onDrain: () => {
            if (this.#readPaused) {
              this.#readPaused = false;
              this.#xmpp?.resume();
            }
            if (this.blocked) {
              this.blocked = false;
              this.#sink.onWritable(this);
            }
          },
          onFlushed: () => {
            // Every buffer handed to the stream was written and called back: nothing reads the
            // encoder's slab any more, and the next stanzas go to its start again, memory that is
            // still in the cache, instead of filling it and taking a fresh one (bench/ANALYSIS.md,
            // eighth pass: a 64 KiB slab per ~250 messages, cold, and external memory the collector
            // is told about).
            this.#encoder.rewind();
            const n = this.#acksUnflushed;
            if (n === 0) return;
            this.#acksUnflushed = 0;
            this.#sink.onAcksWritten(this, n);
          },
          onClose: (err) => this.#onClose(err),
          // The wire trace (`ccs:wire`): returns at once unless someone subscribed.
          onTrace: wireTracer(() => this.id, o.apiKey, o.authcid),
        },
      ).then(
        (xmpp) => {
          if (this.#phase === Phase.Closed) {
            xmpp.destroy();
            return;
          }
          this.#xmpp = xmpp;
          xmpp.setWriteMark(this.#writeMark);
          // ref()/unref() may have been called while the attempt was under way.
          if (this.#ref) xmpp.ref();
          else xmpp.unref();
          this.#handshake.connected(xmpp);
        },
        (err: StreamError) => {
          if (this.#phase === Phase.Closed) return;
          this.#handshake.tlsFailed(err);
        },
      );
    });
  }

  /**
   * Encodes a downstream message into the connection's run and records it as in flight; the run
   * reaches the stream every 8 KiB while the free window can make another 16 KiB (this stanza's size
   * times the free slots) and the whole window 32 KiB, at the end of the tick, or before anything else is sent
   * (`#sendRun`). Returns false (and records nothing) when the stream can no longer be written: the
   * caller requeues it; the encoder's TypeError when the message cannot be written as JSON at all:
   * the caller fails it.
   */
  write(out: Outbound): boolean | TypeError {
    const xmpp = this.#xmpp;
    // The stream is closing or closed: not written.
    if (xmpp === undefined || !xmpp.writable) return false;
    let bytes: number;
    try {
      // Into the encoder's run, handed to the stream as one buffer (#sendRun): a view per message
      // was ~100 bytes of garbage each (bench/ccs-client.mjs, allocated bytes per message).
      // A generated id kept as its counter goes out from its prefix's bytes and digits: no string.
      const key = out.key;
      bytes = typeof key === 'string' ? this.#encoder.appendDownstream(out.msg, key) : this.#encoder.appendGenerated(out.msg, generatedPrefix(out.slot), key);
    } catch (err) {
      // JSON.stringify refused it (a BigInt, a cycle somewhere validation does not look): it can
      // never be sent, on any connection.
      return err instanceof TypeError ? err : new TypeError(String(err));
    }
    this.inflight.add(out);
    this.#runBytes += bytes;
    if (this.#runBytes >= RUN_FLUSH_BYTES && this.free * bytes >= RUN_FLUSH_REST && this.#options.maxPending * bytes >= RUN_FLUSH_WINDOW) this.#sendRun();
    else if (!this.#runScheduled) {
      this.#runScheduled = true;
      process.nextTick(this.#endOfTick);
    }
    return true;
  }

  /**
   * Hands the run of downstream stanzas to the stream. Before anything else is sent on this
   * connection (an ACK, a ping, the close), so the order on the wire is the order of the calls.
   * When the stream has started closing meanwhile (a stream error in the same read), the bytes go
   * nowhere and their messages stay in flight: the close hands them back (`takeOwed`), in order.
   */
  #sendRun(): void {
    if (this.#runBytes === 0) return;
    this.#runBytes = 0;
    const run = this.#encoder.takeRun();
    const xmpp = this.#xmpp;
    if (run === undefined || xmpp === undefined || !xmpp.writable) return;
    try {
      if (!xmpp.send(run)) this.blocked = true;
    } catch {
      // Closing after all (send throws then): as above, the close hands the messages back.
    }
  }

  /**
   * Sends the ACK of an upstream message or receipt. Never held back by the window; it is counted
   * (`onAcksWritten`) once flushed to the socket. False when the stream is gone.
   */
  ack(to: string, messageId: string): boolean {
    const xmpp = this.#xmpp;
    if (xmpp === undefined || !xmpp.writable || this.#phase !== Phase.Online) return false;
    this.#sendRun();
    try {
      this.#written(xmpp.send(this.#encoder.encodeAck(to, messageId)));
      this.#acksUnflushed++;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Backpressure for what the server makes us write (ACKs, ping replies): when the socket is over
   * its high-water mark, stop reading until it drains. A server that floods and never reads used
   * to grow our write buffer without bound (745 MB in 30 s); now it fills the socket buffers and
   * stops, since we read no more of what we would have to answer.
   */
  #written(ok: boolean): void {
    if (ok || this.#readPaused) return;
    this.#readPaused = true;
    this.#xmpp?.pause();
  }

  /**
   * CCS closes a drained connection itself; should it not, close it after `ms` so that what it
   * still owes moves to another connection instead of waiting forever.
   */
  closeDrainedAfter(ms: number): void {
    if (this.#drainTimer || ms <= 0) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      void this.close();
    }, ms).unref();
  }

  /** Removes and returns every message still in flight, oldest (`seq`) first: the order they go out again in. */
  takeOwed(): Outbound[] {
    return this.inflight.takeAll();
  }

  /**
   * Ends the stream cleanly (bounded); resolves when the socket is closed. A connection still
   * negotiating is cut at once: it has no session to end, and a server that had stopped answering
   * mid-handshake held `client.close()` for its whole stream-close wait (2 s, or `timeoutMs`).
   */
  close(timeoutMs?: number): Promise<void> {
    this.#closedByUs = true;
    const xmpp = this.#xmpp;
    if (xmpp === undefined || this.#phase === Phase.Handshake) {
      this.destroy();
      // Settles once the socket is closed (the stream's close() after destroy() only waits for that).
      return xmpp === undefined ? Promise.resolve() : xmpp.close();
    }
    this.#sendRun();
    return xmpp.close(timeoutMs);
  }

  /** Closes at once. */
  destroy(): void {
    this.#closedByUs = true;
    if (this.#xmpp === undefined) {
      if (this.#phase !== Phase.Closed) {
        this.#abort.abort();
        this.#cancelled();
      }
      return;
    }
    this.#xmpp.destroy();
  }

  /** The handshake ends as cut by us (close() or destroy() while negotiating). */
  #cancelled(): void {
    this.#handshake.fail(new HandshakeError(this.#handshake.step, 'connection attempt cancelled', { retryable: true }));
  }

  /** The handshake failed: the connection closes, `open()` rejects. */
  #failed(err: HandshakeError): void {
    this.#phase = Phase.Closed;
    this.#abort.abort();
    this.#xmpp?.destroy();
    const reject = this.#rejectOpen;
    this.#rejectOpen = undefined;
    this.#resolveOpen = undefined;
    reject?.(err);
  }

  #goOnline(early: XmlElement[]): void {
    this.#phase = Phase.Online;
    this.#heard = false;
    const interval = this.#options.pingIntervalMs;
    if (interval > 0) {
      // One periodic check per connection: ping only when the server has been silent.
      this.#pingTimer = setInterval(() => {
        // Silent for a whole interval: ask. Otherwise start listening for the next one.
        if (this.#phase !== Phase.Online || this.#heard) {
          this.#heard = false;
          return;
        }
        const xmpp = this.#xmpp;
        this.#sendRun();
        if (xmpp?.writable) xmpp.send(pingIq(`ping-${++this.#pingSeq}`));
      }, interval).unref();
    }
    const resolve = this.#resolveOpen;
    this.#resolveOpen = undefined;
    this.#rejectOpen = undefined;
    resolve?.();
    for (const el of early) if (this.#phase === Phase.Online) this.#onMessage(el);
  }

  #onClose(err: StreamError | undefined): void {
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    if (this.#phase !== Phase.Online) {
      // Cut by us while negotiating (close() or destroy(): a client closing, a connect() given up):
      // cancelled, as before TLS is up. It read "the server closed the connection" on the `closed`
      // channel, for a socket we had destroyed ourselves.
      if (this.#phase !== Phase.Closed) {
        if (this.#closedByUs) this.#cancelled();
        else this.#handshake.closed(err);
      }
      return;
    }
    this.#phase = Phase.Closed;
    // A close we did not ask for is a lost connection even when the server said nothing.
    this.#sink.onClosed(this, err ?? (this.#closedByUs ? undefined : new CcsError('CCS_ERR_CONNECTION_LOST', `connection ${this.id} was closed by the server`)));
  }

  /**
   * The hot path, from the parser's shortcut: a CCS message as JSON text and `<message>`
   * attributes, no element built. Anything but a plain message while online takes the element path.
   */
  #onGcm(gcm: GcmParts): boolean {
    if (this.#phase !== Phase.Online) return false;
    const attrs = gcm.attrs;
    const type = hasOwn.call(attrs, 'type') ? attrs['type'] : undefined;
    if (type !== undefined && type !== 'normal') return false;
    this.#heard = true;
    this.heardOnline = true;
    // Nearly every message is the canonical ACK of one of ours: its id and its from (usually the
    // very token we sent to) are all it takes, without a decoded record. The shortcut read the id
    // from the bytes (canonicalAckId's answer, mostly without its regular expression), and the
    // payload's text is never made for it: `json` is read only when the ACK is not taken here.
    const ackId = gcm.ackId;
    if (ackId !== undefined) {
      const out = this.inflight.take(ackId);
      if (out !== undefined) {
        this.#sink.onAck(this, out, gcm.ackFrom(out.msg.to), undefined, undefined);
        return true;
      }
    }
    routeInbound(this, decodeGcmText(gcm.json, hasOwn.call(attrs, 'id') ? attrs['id'] : undefined), this.#sink);
    return true;
  }

  #onStanza(el: XmlElement): void {
    this.#heard = true;
    if (this.#phase === Phase.Online) {
      this.heardOnline = true;
      if (el.local === 'message') this.#onMessage(el);
      else if (el.local === 'iq') this.#onIq(el);
      return;
    }
    if (this.#phase === Phase.Handshake) this.#handshake.onStanza(el);
  }

  #onIq(el: XmlElement): void {
    const type = el.attr('type');
    if (type === 'get' || type === 'set') {
      const iq = readIq(el);
      if (iq === undefined) return;
      // XEP-0199: answer pings (and, politely, any get/set we do not know) so the server sees us alive.
      if (iq.payload?.local === 'ping' && this.#xmpp?.writable) {
        this.#sendRun();
        this.#written(this.#xmpp.send(resultIq(iq.id, iq.from)));
      }
    }
  }

  #onMessage(el: XmlElement): void {
    routeInbound(this, decodeGcmMessage(el), this.#sink);
  }
}
