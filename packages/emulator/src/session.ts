/**
 * One client connection, from the server's side (PROTOCOL.md "Connection", "Emulator behaviour"):
 * stream header → SASL PLAIN → restart → bind (and the optional session IQ) → CCS messages.
 * Everything a client sends arrives through `onStanza` synchronously from the socket's data tick;
 * answers are ready strings written through the connection, which corks them per tick.
 */
import type * as net from 'node:net';
import {
  accept, NS_CLIENT, NS_STREAM, serialize,
  type StreamError, type StreamHeader, type XmppConnection, type XmlElement,
} from '@ccs-xmpp/stream';
import { ServerNegotiator, plainServer } from '@ccs-xmpp/sasl';
import {
  bindResultIq, errorIq, findGcmChild, gcmText, isPing, isSessionRequest, readBindRequest, resultIq,
  splitCcsError, streamFeatures, validateOutbound, type JsonObject,
} from '@ccs-xmpp/stanza';
import { gcmShortcut } from '@ccs-xmpp/stanza';
import { tinyRecordSize, type Faults } from './faults.js';
import type { EmulatorEvent, Hub, UpstreamEntry } from './hub.js';
import { Prng } from './prng.js';
import { DRAINING_STANZA, ackStanza, nackStanza, stanzaErrorStanza } from './wire.js';

/** What CCS advertised (PROTOCOL.md "Connection"); only PLAIN is implemented, the others answer `invalid-mechanism`. */
const OFFERED_MECHANISMS = ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'] as const;
const hasOwn = Object.prototype.hasOwnProperty;
/** How many dry-run ids a connection remembers to recognise an "ACK of an ACK" (delivered ids are in the ledger). */
const RECENT_DRY_RUNS = 4096;
/** Period of the connection's one timer while it has timed work (delayed ACKs, re-sends, a stall, a drain). */
const TICK_MS = 10;

const enum Phase {
  /** Waiting for the client's first stream header. */
  Header,
  /** SASL negotiation. */
  Sasl,
  /** SASL succeeded; waiting for the restarted stream's header. */
  Restart,
  /** Authenticated; waiting for the bind IQ. */
  Bind,
  /** Bound: CCS messages flow. */
  Ready,
  /** Cut, closing or closed: input is ignored. */
  Dead,
}

/** Per-connection behaviour the emulator configures. */
export interface SessionOptions {
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  maxStanzaBytes: number;
  /** TLS done → bound within this long, or `connection-timeout`; 0 = no deadline. */
  handshakeTimeoutMs: number;
  seed: number;
}

/** A delayed answer: the stanza, when it is due, and the receipt it triggers once written. */
interface Owed {
  due: number;
  stanza: string | Buffer;
  receiptFor: string | undefined;
  receiptToken: string;
}

/** One accepted connection. */
export class Session {
  /** The emulator's connection id (1, 2, …). */
  readonly id: number;
  /** The authenticated sender, once SASL succeeded. */
  senderId: string | undefined;
  /** The bound JID, once bound. */
  jid: string | undefined;
  /** True once CONNECTION_DRAINING was sent. */
  draining = false;

  readonly #hub: Hub;
  readonly #conn: XmppConnection;
  readonly #prng: Prng;
  readonly #sasl: ServerNegotiator;
  #phase = Phase.Header;
  #faults: Faults = {};
  #tiny = 0;
  #faultStanzas = 0;
  /** Set while handling the stanza a cut fault fires on: its answers are never written. */
  #muted = false;
  /** Upstream messages written here and not ACKed, in write order (re-sends move to the end). */
  readonly #inflight = new Map<string, UpstreamEntry>();
  /** Answers held back by `ackDelayMs`, in due order. */
  #owed: Owed[] = [];
  #owedHead = 0;
  /** Recently ACKed dry-run ids (ring + set), to refuse an ACK of their ACK (delivered ids are in the ledger). */
  readonly #dryRuns = new Set<string>();
  readonly #dryRunRing: Array<string | undefined> = new Array<string | undefined>(RECENT_DRY_RUNS);
  #dryRunPos = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The handshake deadline, until bound. */
  #handshakeTimer: NodeJS.Timeout | undefined;
  #stallUntil = 0;
  #pendingStallMs = 0;
  #drainDeadline = 0;
  /** The socket's buffer is full: reading is paused until it drains. */
  #backpressured = false;
  /** Tiny-writes fault: bytes still to write, one small record at a time. */
  #tinyQueue: Buffer[] = [];
  #tinyOffset = 0;
  #tinyPumping = false;
  readonly #closedPromise: Promise<void>;

  constructor(socket: net.Socket, id: number, hub: Hub, options: SessionOptions) {
    this.id = id;
    this.#hub = hub;
    this.#prng = new Prng(options.seed);
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
        onStreamOpen: (header) => this.#onStreamOpen(header),
        onStanza: (el) => this.#onStanza(el),
        onShortcut: (gcm) => this.#onGcm(gcm.json, gcm.attrs),
        onDrain: () => this.#onDrain(),
        onClose: (err) => this.#onClose(err),
      },
    );
    this.#sasl = new ServerNegotiator(
      {
        mechanisms: [plainServer({ lookup: (authcid) => hub.password(authcid) })],
        offer: OFFERED_MECHANISMS,
        encrypted: this.#conn.encrypted,
      },
      {
        send: (el) => this.#out(serialize(el)),
        onSuccess: ({ authcid }) => this.#onAuthenticated(authcid),
        onFailure: ({ condition, failures }) => this.#event({ type: 'auth', connectionId: this.id, ok: false, condition, failures }),
        onTooManyFailures: () => this.#streamError('policy-violation', 'too many authentication failures'),
      },
    );
    this.#closedPromise = this.#conn.closed;
    if (options.handshakeTimeoutMs > 0) {
      // Unref'd: the listening server is what keeps an emulator's process alive, not a handshake.
      this.#handshakeTimer = setTimeout(() => {
        this.#handshakeTimer = undefined;
        this.#streamError('connection-timeout', `SASL and bind not finished within ${options.handshakeTimeoutMs} ms`);
      }, options.handshakeTimeoutMs).unref();
    }
  }

  /** Upstream messages written here and not yet ACKed. */
  get pendingUpstream(): number {
    return this.#inflight.size;
  }

  /**
   * True when an upstream message with this id is already waiting for its ACK here: a second one
   * must wait, since the client's ACK names only the id and could not say which copy it covers.
   */
  hasUpstream(id: string): boolean {
    return this.#inflight.has(id);
  }

  /** True when the emulator may write one more upstream message here. */
  get canTakeUpstream(): boolean {
    return this.#phase === Phase.Ready && !this.draining && !this.#backpressured &&
      this.#inflight.size < this.#hub.maxPendingUpstream;
  }

  /** Resolves when the socket has closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Number of answers still held back by `ackDelayMs`. */
  get owedAnswers(): number {
    return this.#owed.length - this.#owedHead;
  }

  /** Applies (new) effective faults; counters for `cutAfterStanzas` restart here. */
  applyFaults(faults: Faults): void {
    this.#faults = faults;
    this.#faultStanzas = 0;
    this.#tiny = tinyRecordSize(faults);
    if (faults.stallMs !== undefined && faults.stallMs > 0) {
      if (this.#phase === Phase.Ready) this.#stall(faults.stallMs);
      else this.#pendingStallMs = faults.stallMs;
    }
  }

  /** Writes an upstream message (or receipt) and tracks it until ACKed. */
  sendUpstream(entry: UpstreamEntry, now: number): void {
    entry.sentAt = now;
    entry.sends++;
    this.#inflight.set(entry.id, entry);
    this.#hub.ledger.upstreamSent++;
    this.#out(entry.stanza);
    this.#ensureTick();
    if (this.#hub.emitting) this.#event({ type: entry.receipt ? 'receipt' : 'upstream', connectionId: this.id, messageId: entry.id, sends: entry.sends });
  }

  /** Sends CONNECTION_DRAINING; from now on new downstream messages are NACKed and the connection closes once it owes nothing. */
  drain(): boolean {
    if (this.#phase !== Phase.Ready || this.draining) return false;
    this.draining = true;
    this.#drainDeadline = Date.now() + this.#hub.drainTimeoutMs;
    this.#out(DRAINING_STANZA);
    this.#event({ type: 'drain', connectionId: this.id });
    this.#ensureTick();
    return true;
  }

  /** Closes the stream (`</stream:stream>`), waiting briefly for the client's; resolves when the socket is gone. */
  shutdown(timeoutMs: number): Promise<void> {
    if (this.#phase !== Phase.Dead) {
      this.#phase = Phase.Dead;
      this.#flushTiny();
      void this.#conn.close(timeoutMs);
    }
    return this.#closedPromise;
  }

  /** Cuts the socket at once (no stream close). */
  destroy(): void {
    this.#phase = Phase.Dead;
    this.#conn.destroy();
  }

  // --- stream and authentication --------------------------------------------------------------

  #onStreamOpen(header: StreamHeader): void {
    const to = header.attrs['to'];
    const attrs = { from: this.#hub.domain, id: `${this.id}-${this.#prng.hex()}`, version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };
    // The emulator is closing this connection (stop(), a timeout) before the client's header came.
    if (this.#phase === Phase.Dead || !this.#conn.writable) return;
    // RFC 6120 §4.9.1.2: the error goes after our own header.
    this.#conn.openStream(attrs);
    if (header.attrs['xmlns'] !== NS_CLIENT) return this.#streamError('invalid-namespace', 'the default namespace must be jabber:client');
    if (to !== undefined && to !== this.#hub.domain) return this.#streamError('host-unknown', `this server is ${this.#hub.domain}`);
    if (this.#phase === Phase.Header) {
      this.#phase = Phase.Sasl;
      this.#out(serialize(streamFeatures({ mechanisms: this.#sasl.offered() })));
      this.#event({ type: 'connection', connectionId: this.id });
    } else if (this.#phase === Phase.Restart) {
      this.#phase = Phase.Bind;
      this.#out(serialize(streamFeatures({ bind: true, session: true })));
    }
  }

  #onAuthenticated(authcid: string): void {
    if (this.#phase !== Phase.Sasl) return;
    this.senderId = this.#hub.senderOf(authcid);
    // RFC 6120 §6.4.6: the client restarts the stream after <success/>; so do we.
    this.#phase = Phase.Restart;
    this.#conn.restart();
    this.#event({ type: 'auth', connectionId: this.id, ok: true, senderId: this.senderId });
  }

  #onStanza(el: XmlElement): void {
    const phase = this.#phase;
    if (phase === Phase.Ready && el.local === 'message') return this.#onMessage(el);
    if (phase === Phase.Dead) return;
    if (phase === Phase.Sasl) {
      if (this.#sasl.handle(el)) return;
      // RFC 6120 §6.4: nothing but SASL before authentication.
      return this.#streamError('not-authorized', 'authenticate first');
    }
    if (phase !== Phase.Bind && phase !== Phase.Ready) return this.#streamError('not-authorized', 'authenticate first');
    switch (el.local) {
      case 'iq':
        return this.#onIq(el);
      case 'message':
        // RFC 6120 §7.1: no stanzas before a resource is bound.
        return this.#streamError('not-authorized', 'bind a resource first');
      case 'presence':
        return; // CCS ignores presence.
      default:
        return this.#streamError('unsupported-stanza-type', `<${el.local}> is not a stanza`);
    }
  }

  #onIq(el: XmlElement): void {
    const id = el.attr('id') ?? '';
    const type = el.attr('type');
    if (type === 'result' || type === 'error') return;
    const resource = readBindRequest(el);
    if (resource !== undefined) {
      if (this.#phase !== Phase.Bind) return this.#out(serialize(errorIq(id, 'not-allowed', 'cancel')));
      const res = resource === '' ? this.#prng.hex() + this.#prng.hex() : resource;
      this.jid = `${this.senderId ?? ''}@${this.#hub.domain}/${res}`;
      this.#out(serialize(bindResultIq(id, this.jid)));
      this.#phase = Phase.Ready;
      this.#clearHandshakeTimer();
      this.#event({ type: 'bind', connectionId: this.id, jid: this.jid });
      if (this.#pendingStallMs > 0) {
        this.#stall(this.#pendingStallMs);
        this.#pendingStallMs = 0;
      }
      this.#hub.bound(this);
      return;
    }
    if (isSessionRequest(el) || isPing(el)) return this.#out(serialize(resultIq(id)));
    // RFC 6120 §8.4: a request for something the server does not provide.
    this.#out(serialize(errorIq(id, 'service-unavailable', 'cancel')));
  }

  // --- CCS messages ---------------------------------------------------------------------------

  /** The parser's shortcut for the usual stanza (no element built); the same as `#onMessage`. */
  #onGcm(json: string, attrs: Readonly<Record<string, string>>): boolean {
    if (this.#phase !== Phase.Ready) return false;
    this.#onMessageParts(hasOwn.call(attrs, 'type') ? attrs['type'] : undefined, hasOwn.call(attrs, 'id') ? attrs['id'] : undefined, json);
    return true;
  }

  #onMessage(el: XmlElement): void {
    const gcm = findGcmChild(el);
    this.#onMessageParts(el.attr('type'), el.attr('id'), gcm === undefined ? undefined : gcmText(gcm));
  }

  /** A `<message>`: its `type` and `id` attributes and the text of its `<gcm>` child (undefined: none). */
  #onMessageParts(type: string | undefined, stanzaId: string | undefined, text: string | undefined): void {
    const cut = this.#cutDecision(text ?? stanzaId ?? '');
    if (cut !== undefined) {
      // The answers already written this tick were "sent" before this stanza arrived: flush them.
      // This stanza is handled (and delivered), but its answer never leaves: the socket dies first.
      this.#conn.flush();
      this.#muted = true;
    }
    if (type !== 'error') {
      if (text === undefined) {
        this.#stanzaError(stanzaId, 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: gcm', undefined);
      } else {
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch {
          payload = undefined;
        }
        if (payload === undefined) this.#stanzaError(stanzaId, 'InvalidJson: JSON_PARSING_ERROR : Malformed JSON', text);
        else this.#onPayload(payload, text, stanzaId);
      }
    }
    if (cut !== undefined) {
      this.#event({ type: 'fault', connectionId: this.id, fault: cut });
      // Abrupt, like a network failure: no stream close; what the client still sends meets a reset.
      this.destroy();
    }
  }

  #onPayload(payload: unknown, text: string, stanzaId: string | undefined): void {
    const err = validateOutbound(payload);
    const msg = payload as JsonObject;
    if (err !== undefined) {
      if (err.stanzaError) {
        // No usable message_id: CCS answers with a 400 stanza error (CCS document §"Stanza error").
        const { reason, detail } = splitCcsError(err.ccsError);
        return this.#stanzaError(stanzaId, `InvalidJson: ${reason ?? 'JSON_PARSING_ERROR'} : ${detail}`, text);
      }
      const target = typeof msg['to'] === 'string' ? msg['to'] : undefined;
      const code = err.nackCode;
      return this.#nack(target, err.messageId as string, code, code === 'INVALID_JSON' ? err.ccsError : err.ccsError.trimEnd(), false);
    }
    const messageId = msg['message_id'] as string;
    if (msg['message_type'] === 'ack') return this.#onAck(messageId, msg['to'] as string, text, stanzaId);
    this.#onDownstream(msg, messageId);
  }

  #onDownstream(msg: JsonObject, messageId: string): void {
    const to = msg['to'] as string | undefined;
    if (this.draining) return this.#nack(to, messageId, 'CONNECTION_DRAINING', 'This connection is being drained.', true);
    const f = this.#faults;
    const hub = this.#hub;
    const senderId = this.senderId as string;
    // Keyed by the message, not drawn from this connection's stream: the same seed refuses the
    // same messages whichever connection they take and whenever they arrive.
    if (f.serviceUnavailableRate !== undefined && hub.decisions.chance('su', `${senderId}\u0000${messageId}`, f.serviceUnavailableRate)) {
      return this.#nack(to, messageId, 'SERVICE_UNAVAILABLE', 'The server is temporarily unavailable.', true);
    }
    if (f.internalErrorRate !== undefined && hub.decisions.chance('ise', `${senderId}\u0000${messageId}`, f.internalErrorRate)) {
      return this.#nack(to, messageId, 'INTERNAL_SERVER_ERROR', 'The server encountered an error.', true);
    }
    const verdict = hub.registry.resolve(senderId, to, msg['condition'] as string | undefined, Date.now());
    if (!verdict.ok) return this.#nack(to, messageId, verdict.code, verdict.description, true);
    let receiptFor: string | undefined;
    // A delivered id is in the ledger, which answers an ACK of it (ACK_OF_ACK); a dry run's is not.
    if (msg['dry_run'] === true) this.#rememberDryRun(messageId);
    else {
      const data = msg['data'] as object | undefined;
      const duplicate = hub.ledger.deliver(senderId, verdict.deliverTo, messageId, data);
      if (msg['delivery_receipt_requested'] === true) receiptFor = messageId;
      if (hub.emitting) this.#event({ type: 'downstream', connectionId: this.id, messageId, to: verdict.deliverTo, duplicate });
    }
    this.#answer(ackStanza(to, messageId, verdict.registrationId), receiptFor, verdict.deliverTo);
    if (hub.emitting) this.#event({ type: 'ack', connectionId: this.id, messageId });
  }

  #onAck(messageId: string, to: string, text: string, stanzaId: string | undefined): void {
    const hub = this.#hub;
    const entry = this.#inflight.get(messageId);
    if (entry !== undefined) {
      this.#inflight.delete(messageId);
      hub.acked(this, entry);
      if (hub.emitting) this.#event({ type: 'upstream-ack', connectionId: this.id, messageId, receipt: entry.receipt });
      if (this.#inflight.size + 1 === hub.maxPendingUpstream || this.#inflight.size === 0) hub.capacity(this);
      return;
    }
    const senderId = this.senderId as string;
    if (hub.wasAcked(senderId, messageId)) {
      hub.ledger.upstreamDuplicatesAcked++;
      if (hub.emitting) this.#event({ type: 'upstream-ack', connectionId: this.id, messageId, duplicate: true });
      return;
    }
    if (hub.ledger.wasDelivered(senderId, messageId) || this.#dryRuns.has(messageId)) {
      // The app server ACKed our ACK of its own downstream message (PROTOCOL.md: "an ACK for an ACK earns a 406").
      return this.#stanzaError(stanzaId ?? messageId, `BadAck: ACK_OF_ACK : message_id ${messageId} is a downstream message; only upstream messages and receipts are ACKed`, text, 'not-acceptable');
    }
    this.#nack(to, messageId, 'BAD_ACK', `No upstream message with message_id ${JSON.stringify(messageId)} is pending on this connection.`, false);
  }

  #rememberDryRun(messageId: string): void {
    const old = this.#dryRunRing[this.#dryRunPos];
    if (old !== undefined) this.#dryRuns.delete(old);
    this.#dryRunRing[this.#dryRunPos] = messageId;
    this.#dryRuns.add(messageId);
    this.#dryRunPos = (this.#dryRunPos + 1) % RECENT_DRY_RUNS;
  }

  /** NACKs go through `#answer` (and so `ackDelayMs`) when they answer a downstream message. */
  #nack(from: string | undefined, messageId: string, code: string, description: string, downstream: boolean): void {
    this.#hub.ledger.nack(code);
    const stanza = nackStanza(from, messageId, code, description);
    if (downstream) this.#answer(stanza, undefined, '');
    else this.#out(stanza);
    if (this.#hub.emitting) this.#event({ type: 'nack', connectionId: this.id, messageId, code });
  }

  #stanzaError(id: string | undefined, text: string, json: string | undefined, condition: 'bad-request' | 'not-acceptable' = 'bad-request'): void {
    this.#hub.ledger.stanzaErrors++;
    this.#out(stanzaErrorStanza(id, condition, 'modify', text, json));
    if (this.#hub.emitting) this.#event({ type: 'stanza-error', connectionId: this.id, id, condition, text });
  }

  /** Writes an answer to a downstream message now, or holds it for `ackDelayMs`. */
  #answer(stanza: string | Buffer, receiptFor: string | undefined, token: string): void {
    const delay = this.#faults.ackDelayMs;
    if (delay !== undefined && delay > 0) {
      this.#owed.push({ due: Date.now() + delay, stanza, receiptFor, receiptToken: token });
      this.#ensureTick();
      return;
    }
    this.#out(stanza);
    if (receiptFor !== undefined) this.#hub.receipt(this, receiptFor, token);
  }

  // --- faults ---------------------------------------------------------------------------------

  /** Whether this stanza is the one after which the connection is cut, and why. */
  #cutDecision(content: string): string | undefined {
    const f = this.#faults;
    if (f.cutAfterStanzas !== undefined && f.cutAfterStanzas > 0 && ++this.#faultStanzas >= f.cutAfterStanzas) return 'cutAfterStanzas';
    // Keyed by what the stanza carries (its JSON): the same seed cuts after the same messages; a
    // resend of one draws again (the attempt count), so it is not cut forever.
    if (f.cutProbability !== undefined && this.#hub.decisions.chance('cut', `${String(this.senderId)}\u0000${content}`, f.cutProbability)) return 'cutProbability';
    return undefined;
  }

  #stall(ms: number): void {
    this.#stallUntil = Date.now() + ms;
    this.#conn.pause();
    this.#event({ type: 'fault', connectionId: this.id, fault: 'stall', ms });
    this.#ensureTick();
  }

  // --- output, timer, close -------------------------------------------------------------------

  #out(data: string | Buffer): void {
    if (this.#muted || !this.#conn.writable) return;
    if (this.#tiny > 0 || this.#tinyQueue.length > 0) {
      this.#tinyQueue.push(Buffer.from(data));
      if (!this.#tinyPumping) {
        this.#tinyPumping = true;
        setImmediate(this.#pumpTiny);
      }
      return;
    }
    if (!this.#conn.send(data) && !this.#backpressured) {
      // The client is not reading: stop reading it too (no more answers to queue) until it drains.
      this.#backpressured = true;
      this.#conn.pause();
    }
  }

  /**
   * Tiny-writes fault: one small write at a time, the next only once the socket has flushed the
   * previous one, so that each becomes its own TLS record (corked or queued writes would be
   * coalesced into one record by the TLS layer).
   */
  readonly #pumpTiny = (): void => {
    const socket = this.#conn.rawSocket;
    if (!this.#conn.writable) {
      this.#tinyPumping = false;
      this.#tinyQueue = [];
      return;
    }
    if (socket.writableLength === 0) {
      const head = this.#tinyQueue[0];
      if (head === undefined) {
        this.#tinyPumping = false;
        return;
      }
      const size = Math.max(1, this.#tiny || 7);
      const end = Math.min(head.length, this.#tinyOffset + size);
      this.#conn.send(head.subarray(this.#tinyOffset, end));
      this.#tinyOffset = end;
      if (end >= head.length) {
        this.#tinyQueue.shift();
        this.#tinyOffset = 0;
      }
    }
    setImmediate(this.#pumpTiny);
  };

  /** Writes what the tiny-writes fault still holds in one go (before a clean close). */
  #flushTiny(): void {
    if (this.#tinyQueue.length === 0 || !this.#conn.writable) return;
    const head = this.#tinyQueue[0] as Buffer;
    this.#tinyQueue[0] = head.subarray(this.#tinyOffset);
    this.#conn.send(Buffer.concat(this.#tinyQueue));
    this.#tinyQueue = [];
    this.#tinyOffset = 0;
  }

  #onDrain(): void {
    if (!this.#backpressured) return;
    this.#backpressured = false;
    // What waited for the client to read again gets a full resend interval from now.
    const now = Date.now();
    for (const entry of this.#inflight.values()) entry.sentAt = now;
    if (this.#stallUntil === 0 && this.#phase !== Phase.Dead) this.#conn.resume();
    this.#hub.capacity(this);
  }

  #ensureTick(): void {
    if (this.#timer === undefined && this.#phase !== Phase.Dead) this.#timer = setInterval(this.#tick, TICK_MS).unref();
  }

  /** The connection's one periodic timer: due answers, same-connection re-sends, stall end, drain end. */
  readonly #tick = (): void => {
    if (this.#phase === Phase.Dead) return this.#stopTick();
    const now = Date.now();
    let busy = false;
    // Due answers, in order.
    const owed = this.#owed;
    while (this.#owedHead < owed.length) {
      const o = owed[this.#owedHead] as Owed;
      if (o.due > now) break;
      this.#owedHead++;
      this.#out(o.stanza);
      if (o.receiptFor !== undefined) this.#hub.receipt(this, o.receiptFor, o.receiptToken);
    }
    if (this.#owedHead === owed.length) {
      this.#owed = [];
      this.#owedHead = 0;
    } else busy = true;
    // Same-connection re-sends of un-ACKed upstream messages, oldest first (Map order = write order).
    if (this.#inflight.size > 0) {
      busy = true;
      // Not into a client that is not reading: it would only queue copies in our socket.
      if (!this.draining && !this.#backpressured) {
        const resendMs = this.#hub.upstreamResendMs;
        for (const entry of this.#inflight.values()) {
          if (now - entry.sentAt < resendMs) break;
          this.#inflight.delete(entry.id);
          this.sendUpstream(entry, now);
        }
      }
    }
    if (this.#stallUntil !== 0) {
      if (now >= this.#stallUntil) {
        this.#stallUntil = 0;
        if (!this.#backpressured) this.#conn.resume();
      } else busy = true;
    }
    if (this.draining) {
      if (this.owedAnswers === 0 && (this.#inflight.size === 0 || now >= this.#drainDeadline)) {
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

  #streamError(condition: Parameters<XmppConnection['streamError']>[0], text: string): void {
    if (this.#phase === Phase.Dead) return;
    this.#phase = Phase.Dead;
    this.#event({ type: 'stream-error', connectionId: this.id, condition });
    this.#conn.streamError(condition, text);
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  #onClose(err: StreamError | undefined): void {
    this.#phase = Phase.Dead;
    this.#stopTick();
    this.#clearHandshakeTimer();
    this.#owed = [];
    this.#tinyQueue = [];
    const inflight = [...this.#inflight.values()];
    this.#inflight.clear();
    this.#hub.closed(this, inflight);
    this.#event({ type: 'close', connectionId: this.id, ...(err === undefined ? {} : { error: err.code, condition: err.condition }) });
  }

  #event(e: EmulatorEvent): void {
    if (this.#hub.emitting) this.#hub.emit(e);
  }
}
