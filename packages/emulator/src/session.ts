/**
 * One client connection, from the server's side (PROTOCOL.md "Connection", "Emulator behaviour"):
 * stream header → SASL PLAIN → restart → bind (and the optional session IQ) → CCS messages.
 * Everything a client sends arrives through `onStanza` synchronously from the socket's data tick;
 * answers are ready strings written through the connection, which corks them per tick.
 *
 * The session owns the stream, its output and its one timer; the handshake (handshake.ts), the
 * CCS answers (answers.ts), the faults' decisions (fault-injector.ts), answers held back (delayed-answers.ts),
 * tiny writes (tiny-writer.ts) and the upstream messages in flight (upstream-window.ts) are its
 * parts, each owning its own state. Upstream routing sees it as an `UpstreamOutlet`.
 */
import type * as net from 'node:net';
import { accept, type StreamError, type StreamErrorCondition, type XmppConnection, type XmlElement } from '@ccs-xmpp/stream';
import { findGcmChild, gcmShortcut, gcmText } from '@ccs-xmpp/stanza';
import { CcsAnswers } from './answers.js';
import { DelayedAnswers, type Owed } from './delayed-answers.js';
import { DrainClose } from './drain-close.js';
import { FlowControlCheck } from './flow-control.js';

export type { FlowControlStats } from './flow-control.js';
import { FaultInjector } from './fault-injector.js';
import type { Faults } from './faults.js';
import { Handshake } from './handshake.js';
import type { EmulatorEvent, Hub } from './hub.js';
import { Prng } from './prng.js';
import { TinyWriter } from './tiny-writer.js';
import type { UpstreamEntry, UpstreamOutlet } from './upstream-router.js';
import { UpstreamWindow } from './upstream-window.js';
import { DRAINING_STANZA, pingStanza } from './wire.js';

const hasOwn = Object.prototype.hasOwnProperty;
/** Period of the connection's one timer while it has timed work (delayed ACKs, re-sends, a stall, a drain). */
const TICK_MS = 10;

/** Where a connection is, as `connections()` reports it. */
export type SessionState = 'stream' | 'sasl' | 'bind' | 'ready' | 'draining' | 'closed';

/** Per-connection behaviour the emulator configures. */
export interface SessionOptions {
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  maxStanzaBytes: number;
  /** TLS done → bound within this long, or `connection-timeout`; 0 = no deadline. */
  handshakeTimeoutMs: number;
  seed: number;
}

/** One accepted connection. */
export class Session implements UpstreamOutlet {
  /** The emulator's connection id (1, 2, …). */
  readonly id: number;
  /** When the TLS connection was accepted (ms since the epoch). */
  readonly since = Date.now();
  /** True once CONNECTION_DRAINING was sent. */
  draining = false;

  readonly #hub: Hub;
  readonly #conn: XmppConnection;
  readonly #prng: Prng;
  readonly #handshake: Handshake;
  readonly #faults: FaultInjector;
  readonly #answers: CcsAnswers;
  readonly #window = new UpstreamWindow();
  readonly #delayed = new DelayedAnswers();
  readonly #tiny: TinyWriter;
  /** Cut, closing or closed: input is ignored. */
  #dead = false;
  /** Set while handling the stanza a cut fault fires on: its answers are never written. */
  #muted = false;
  #timer: NodeJS.Timeout | undefined;
  /** The handshake deadline, until bound. */
  #handshakeTimer: NodeJS.Timeout | undefined;
  #stallUntil = 0;
  #pendingStallMs = 0;
  /** Once drained: when the connection may close (drain-close.ts). */
  #drainClose: DrainClose | undefined;
  /** The socket's buffer is full: reading is paused until it drains. */
  #backpressured = false;
  readonly #closedPromise: Promise<void>;

  constructor(socket: net.Socket, id: number, hub: Hub, options: SessionOptions) {
    this.id = id;
    this.#hub = hub;
    this.#prng = new Prng(options.seed);
    this.#faults = new FaultInjector(hub.decisions);
    this.#conn = accept(
      socket,
      {
        keepaliveIntervalMs: options.keepaliveIntervalMs,
        idleTimeoutMs: options.idleTimeoutMs,
        maxStanzaBytes: options.maxStanzaBytes,
        closeTimeoutMs: 2000,
        shortcut: gcmShortcut,
      },
      {
        onStreamOpen: (header) => this.#handshake.streamOpen(header),
        onStanza: (el) => this.#onStanza(el),
        onShortcut: (gcm) => this.#onGcm(gcm.json, gcm.attrs),
        onDrain: () => this.#onDrain(),
        onClose: (err) => this.#onClose(err),
      },
    );
    this.#tiny = new TinyWriter(this.#conn);
    // The parts see this connection through narrow hosts, not the session itself.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const session = this;
    this.#handshake = new Handshake(hub, {
      id,
      get writable() {
        return !session.#dead && session.#conn.writable;
      },
      openStream: (attrs) => this.#conn.openStream(attrs),
      restart: () => this.#conn.restart(),
      write: (data) => this.#out(data),
      streamError: (condition, text) => this.#streamError(condition, text),
      event: (e) => this.#event(e),
      bound: () => this.#onBound(),
      iqAnswered: (iqId) => this.#drainClose?.answer(iqId),
    }, this.#prng, this.#conn.encrypted);
    this.#answers = new CcsAnswers(hub, {
      id,
      get senderId() {
        return session.senderId as string;
      },
      get draining() {
        return session.draining;
      },
      write: (data) => this.#out(data),
      answer: (stanza, receiptFor, token) => this.#answer(stanza, receiptFor, token),
      upstreamAcked: (messageId) => this.#upstreamAcked(messageId),
      flowControl: () => {
        const verdict = this.flow.arrive(this.owedAnswers + 1);
        if (verdict !== 'ok') hub.ledger.flowControlViolations++;
        if (verdict !== 'close') return false;
        this.#streamError('policy-violation', this.flow.closeText);
        return true;
      },
      event: (e) => this.#event(e),
    }, this.#faults);
    this.flow = new FlowControlCheck(hub.flowControl);
    this.#closedPromise = this.#conn.closed;
    if (options.handshakeTimeoutMs > 0) {
      // Unref'd: the listening server is what keeps an emulator's process alive, not a handshake.
      this.#handshakeTimer = setTimeout(() => {
        this.#handshakeTimer = undefined;
        this.#streamError('connection-timeout', `SASL and bind not finished within ${options.handshakeTimeoutMs} ms`);
      }, options.handshakeTimeoutMs).unref();
    }
  }

  /** Where the connection is. */
  get state(): SessionState {
    if (this.#dead) return 'closed';
    const phase = this.#handshake.phase;
    if (phase === 'bound') return this.draining ? 'draining' : 'ready';
    return phase === 'restart' ? 'bind' : phase;
  }

  /** The authenticated sender, once SASL succeeded. */
  get senderId(): string | undefined {
    return this.#handshake.senderId;
  }

  /** The bound JID, once bound. */
  get jid(): string | undefined {
    return this.#handshake.jid;
  }

  /** Upstream messages written here and not yet ACKed. */
  get pendingUpstream(): number {
    return this.#window.size;
  }

  /**
   * True when an upstream message with this id is already waiting for its ACK here: a second one
   * must wait, since the client's ACK names only the id and could not say which copy it covers.
   */
  hasUpstream(id: string): boolean {
    return this.#window.has(id);
  }

  /** True when the emulator may write one more upstream message here. */
  get canTakeUpstream(): boolean {
    return this.#ready && !this.draining && !this.#backpressured &&
      this.#window.size < this.#hub.maxPendingUpstream;
  }

  /** Resolves when the socket has closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** This connection's flow-control record (the downstream window). */
  readonly flow: FlowControlCheck;

  /** Number of answers still held back by `ackDelayMs`. */
  get owedAnswers(): number {
    return this.#delayed.size;
  }

  /** The faults in effect on this connection. */
  get faults(): Faults {
    return this.#faults.faults;
  }

  /** Applies (new) effective faults; counters for `cutAfterStanzas` restart here. */
  applyFaults(faults: Faults): void {
    const stallMs = this.#faults.apply(faults);
    this.#tiny.size = this.#faults.tinyRecordSize;
    if (stallMs > 0) {
      if (this.#ready) this.#stall(stallMs);
      else this.#pendingStallMs = stallMs;
    }
  }

  /** Writes an upstream message (or receipt) and tracks it until ACKed. */
  sendUpstream(entry: UpstreamEntry, now: number): void {
    this.#window.written(entry, now);
    this.#hub.ledger.upstreamSent++;
    this.#out(entry.stanza);
    this.#ensureTick();
    if (this.#hub.emitting) this.#event({ type: entry.receipt ? 'receipt' : 'upstream', connectionId: this.id, messageId: entry.id, sends: entry.sends });
  }

  /**
   * Sends CONNECTION_DRAINING and then a ping; from now on new downstream messages are NACKed, and
   * the connection closes once it owes nothing and the ping is answered (everything the client
   * wrote before that answer has then been read and answered), or at `drainTimeoutMs`.
   */
  drain(): boolean {
    if (!this.#ready || this.draining) return false;
    this.draining = true;
    const hub = this.#hub;
    const close = new DrainClose(Date.now(), hub.drainTimeoutMs, hub.drainMinMs, `drain-${this.id}`);
    this.#drainClose = close;
    this.#out(DRAINING_STANZA);
    this.#out(pingStanza(close.pingId, hub.domain, this.jid as string));
    this.#event({ type: 'drain', connectionId: this.id });
    this.#ensureTick();
    return true;
  }

  /** Closes the stream (`</stream:stream>`), waiting briefly for the client's; resolves when the socket is gone. */
  shutdown(timeoutMs: number): Promise<void> {
    if (!this.#dead) {
      this.#dead = true;
      this.#tiny.flush();
      void this.#conn.close(timeoutMs);
    }
    return this.#closedPromise;
  }

  /** Cuts the socket at once (no stream close). */
  destroy(): void {
    this.#dead = true;
    this.#conn.destroy();
  }

  // --- handshake ----------------------------------------------------------------------------

  /** Bound and not closing: CCS messages flow. */
  get #ready(): boolean {
    return !this.#dead && this.#handshake.phase === 'bound';
  }

  #onStanza(el: XmlElement): void {
    if (this.#dead) return;
    if (el.local === 'message' && this.#handshake.phase === 'bound') {
      const gcm = findGcmChild(el);
      return this.#onMessage(el.attr('type'), el.attr('id'), gcm === undefined ? undefined : gcmText(gcm));
    }
    this.#handshake.stanza(el);
  }

  #onBound(): void {
    this.#clearHandshakeTimer();
    if (this.#pendingStallMs > 0) {
      this.#stall(this.#pendingStallMs);
      this.#pendingStallMs = 0;
    }
    this.#hub.bound(this);
  }

  // --- CCS messages ---------------------------------------------------------------------------

  /** The parser's shortcut for the usual stanza (no element built); the same as `#onMessage`. */
  #onGcm(json: string, attrs: Readonly<Record<string, string>>): boolean {
    if (!this.#ready) return false;
    this.#onMessage(hasOwn.call(attrs, 'type') ? attrs['type'] : undefined, hasOwn.call(attrs, 'id') ? attrs['id'] : undefined, json);
    return true;
  }

  /** A `<message>` on a bound stream: answered, and the connection cut after it when a fault says so. */
  #onMessage(type: string | undefined, stanzaId: string | undefined, text: string | undefined): void {
    const cut = this.#faults.cut(this.senderId, text ?? stanzaId ?? '');
    if (cut !== undefined) {
      // The answers already written this tick were "sent" before this stanza arrived: flush them.
      // This stanza is handled (and delivered), but its answer never leaves: the socket dies first.
      this.#conn.flush();
      this.#muted = true;
    }
    this.#answers.message(type, stanzaId, text);
    if (cut !== undefined) {
      this.#event({ type: 'fault', connectionId: this.id, fault: cut });
      // Abrupt, like a network failure: no stream close; what the client still sends meets a reset.
      this.destroy();
    }
  }

  /** An ACK of an upstream message in flight here: settled, and the router told when there is room again. */
  #upstreamAcked(messageId: string): boolean {
    const hub = this.#hub;
    const entry = this.#window.take(messageId);
    if (entry === undefined) return false;
    hub.acked(entry);
    if (hub.emitting) this.#event({ type: 'upstream-ack', connectionId: this.id, messageId, receipt: entry.receipt });
    if (this.#window.size + 1 === hub.maxPendingUpstream || this.#window.size === 0) hub.capacity(this);
    return true;
  }

  /** Writes an answer to a downstream message now, or holds it for `ackDelayMs`. */
  #answer(stanza: string | Buffer, receiptFor: string | undefined, token: string): void {
    const delay = this.#faults.ackDelayMs;
    if (delay > 0) {
      this.#delayed.hold(Date.now() + delay, stanza, receiptFor, token);
      this.#ensureTick();
      return;
    }
    this.#out(stanza);
    if (receiptFor !== undefined) this.#hub.receipt(this, receiptFor, token);
  }

  readonly #writeOwed = (o: Owed): void => {
    this.#out(o.stanza);
    if (o.receiptFor !== undefined) this.#hub.receipt(this, o.receiptFor, o.receiptToken);
  };

  #stall(ms: number): void {
    this.#stallUntil = Date.now() + ms;
    this.#conn.pause();
    this.#event({ type: 'fault', connectionId: this.id, fault: 'stall', ms });
    this.#ensureTick();
  }

  // --- output, timer, close -------------------------------------------------------------------

  #out(data: string | Buffer): void {
    if (this.#muted || !this.#conn.writable) return;
    if (this.#tiny.active) return this.#tiny.write(data);
    if (!this.#conn.send(data) && !this.#backpressured) {
      // The client is not reading: stop reading it too (no more answers to queue) until it drains.
      this.#backpressured = true;
      this.#conn.pause();
    }
  }

  #onDrain(): void {
    if (!this.#backpressured) return;
    this.#backpressured = false;
    // What waited for the client to read again gets a full resend interval from now.
    this.#window.touchAll(Date.now());
    if (this.#stallUntil === 0 && !this.#dead) this.#conn.resume();
    this.#hub.capacity(this);
  }

  #ensureTick(): void {
    if (this.#timer === undefined && !this.#dead) this.#timer = setInterval(this.#tick, TICK_MS).unref();
  }

  /** The connection's one periodic timer: due answers, same-connection re-sends, stall end, drain end. */
  readonly #tick = (): void => {
    if (this.#dead) return this.#stopTick();
    const now = Date.now();
    this.#delayed.release(now, this.#writeOwed);
    let busy = this.#delayed.size > 0;
    // Same-connection re-sends of un-ACKed upstream messages, oldest first.
    if (this.#window.size > 0) {
      busy = true;
      // Not into a client that is not reading: it would only queue copies in our socket.
      if (!this.draining && !this.#backpressured) {
        for (const entry of this.#window.due(now, this.#hub.upstreamResendMs)) this.sendUpstream(entry, now);
      }
    }
    if (this.#stallUntil !== 0) {
      if (now >= this.#stallUntil) {
        this.#stallUntil = 0;
        if (!this.#backpressured) this.#conn.resume();
      } else busy = true;
    }
    const drainClose = this.#drainClose;
    if (drainClose !== undefined) {
      // Held answers are written first whatever the deadline (ackDelayMs bounds them).
      if (this.#delayed.size === 0 && drainClose.due(now, this.#window.size === 0)) {
        void this.shutdown(2000);
        return this.#stopTick();
      }
      busy = true;
    }
    if (!busy) this.#stopTick();
  };

  #stopTick(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #streamError(condition: StreamErrorCondition, text: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#event({ type: 'stream-error', connectionId: this.id, condition });
    this.#conn.streamError(condition, text);
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  #onClose(err: StreamError | undefined): void {
    this.#dead = true;
    this.#stopTick();
    this.#clearHandshakeTimer();
    this.#delayed.clear();
    this.#tiny.clear();
    this.#hub.closed(this.id, this, this.#window.takeAll());
    this.#event({ type: 'close', connectionId: this.id, ...(err === undefined ? {} : { error: err.code, condition: err.condition }) });
  }

  #event(e: EmulatorEvent): void {
    if (this.#hub.emitting) this.#hub.emit(e);
  }
}
