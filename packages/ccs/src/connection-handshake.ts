import { ClientNegotiator, type SaslError } from '@ccs-xmpp/sasl';
import { bindIq, readBindResult, readIq, readStreamFeatures, sessionIq, type StreamFeatures } from '@ccs-xmpp/stanza';
import { NS_CLIENT, NS_STREAM, type StreamError, type XmlElement, type XmppConnection } from '@ccs-xmpp/stream';
import type { CcsConnectionOptions } from './connection.js';
import { HandshakeError, type HandshakeStep } from './errors.js';

/** Where the handshake is. */
const enum Phase {
  Tls,
  Features,
  Auth,
  Features2,
  Bind,
  Session,
  /** Online or failed: nothing more to negotiate. */
  Done,
}

const PHASE_STEP: Record<Phase, HandshakeStep> = {
  [Phase.Tls]: 'tls',
  [Phase.Features]: 'stream',
  [Phase.Auth]: 'auth',
  [Phase.Features2]: 'stream',
  [Phase.Bind]: 'bind',
  [Phase.Session]: 'session',
  [Phase.Done]: 'session',
};

/** About the size of an element as markup (UTF-16 code units): enough to bound a buffer of them. */
function approxSize(el: XmlElement): number {
  let n = 2 * el.name.length + 5;
  for (const k of Object.keys(el.attrs)) n += k.length + (el.attrs[k] as string).length + 4;
  for (const c of el.children) n += typeof c === 'string' ? c.length : approxSize(c);
  return n;
}

const BIND_ID = 'bind-1';
const SESSION_ID = 'sess-1';

/** What the handshake reports to its connection. */
export interface HandshakeHost {
  /** Negotiated: the connection is online. `early`: messages that came between bind and online. */
  online(early: XmlElement[]): void;
  /** Failed (once): the connection closes and `open()` rejects with `err`. */
  failed(err: HandshakeError): void;
}

/**
 * The CCS handshake as a state machine, one phase per step, each bounded by
 * `handshakeTimeoutMs`: TLS → stream features → SASL PLAIN → restart (RFC 6120 §6.4.6) → features
 * → bind → the session IQ when wanted. Each failure becomes one {@link HandshakeError} naming the
 * step, reported once.
 */
export class Handshake {
  readonly #options: CcsConnectionOptions;
  readonly #host: HandshakeHost;
  #phase = Phase.Tls;
  #xmpp: XmppConnection | undefined;
  #sasl: ClientNegotiator | undefined;
  #features: StreamFeatures | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Messages that arrived between bind and online (see `onStanza`). */
  #early: XmlElement[] = [];
  #earlyBytes = 0;
  /** Whether the step timer holds the process (the connection's `setRef`). */
  #ref = true;

  constructor(options: CcsConnectionOptions, host: HandshakeHost) {
    this.#options = options;
    this.#host = host;
  }

  /** The step under way (for errors). */
  get step(): HandshakeStep {
    return PHASE_STEP[this.#phase];
  }

  /**
   * Connecting is work: the step timer holds the process (the socket of an attempt that started
   * unref'd would not), unless the client was unref'd.
   */
  setRef(on: boolean): void {
    this.#ref = on;
    if (on) this.#timer?.ref();
    else this.#timer?.unref();
  }

  /** The TCP/TLS connection is being opened: its step timer starts. */
  start(): void {
    this.#arm();
  }

  /** TLS is up: open the stream. */
  connected(xmpp: XmppConnection): void {
    this.#xmpp = xmpp;
    this.#phase = Phase.Features;
    this.#arm();
    this.#openStream();
  }

  /** TCP or TLS failed. */
  tlsFailed(err: StreamError): void {
    this.fail(new HandshakeError('tls', err.message, { cause: err, timedOut: err.condition === 'connection-timeout', retryable: true }));
  }

  /**
   * The stream closed before the handshake finished. A `<not-authorized/>` stream error is the
   * server refusing the credentials (some send it instead of a SASL `<failure/>`): not retryable.
   * Anything else is the stream failing, whatever the step — during SASL too: a `system-shutdown`
   * (the server going away), a reset or a bare close mid-SASL says nothing about the credentials,
   * and read `CCS_ERR_AUTH` as if it did. So it is `CCS_ERR_STREAM` (step `stream`), retryable, as a
   * stream error right after SASL is. The condition a server sent is kept in `condition`.
   */
  closed(err: StreamError | undefined): void {
    const at = this.step;
    const why = err ? err.message : 'the server closed the connection';
    const refused = err?.condition === 'not-authorized';
    const condition = refused || err?.code === 'STREAM_ERR_RECEIVED' ? err?.condition : undefined;
    const step = at === 'auth' && !refused ? 'stream' : at;
    this.fail(new HandshakeError(step, `CCS connection closed during the "${at}" step: ${why}`, {
      cause: err, ...(condition !== undefined ? { condition } : {}), retryable: !refused,
    }));
  }

  /** Fails the handshake, once. */
  fail(err: HandshakeError): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sasl?.abort();
    this.#early = [];
    this.#host.failed(err);
  }

  /** A stanza before online. */
  onStanza(el: XmlElement): void {
    if (el.local === 'message' && (this.#phase === Phase.Bind || this.#phase === Phase.Session)) {
      // A server may start sending upstream messages as soon as the resource is bound, before it
      // answers the session IQ: keep them for when we are online instead of dropping them — up to
      // a bound, or a server that withholds the answer and floods takes all our memory (1.5 GB in
      // 10 s once).
      const size = approxSize(el);
      const o = this.#options;
      if (this.#early.length >= o.maxEarlyMessages || this.#earlyBytes + size > o.maxEarlyBytes) {
        const step = this.step;
        this.fail(new HandshakeError(step, `the server sent more than ${o.maxEarlyMessages} messages or ${o.maxEarlyBytes} bytes before the "${step}" step completed`, { code: 'CCS_ERR_EARLY_OVERFLOW', retryable: true }));
        return;
      }
      this.#earlyBytes += size;
      this.#early.push(el);
      return;
    }
    switch (this.#phase) {
      case Phase.Features: {
        const features = readStreamFeatures(el);
        if (features === undefined) return this.#unexpected(el);
        this.#phase = Phase.Auth;
        this.#arm();
        this.#authenticate(el, this.#xmpp as XmppConnection);
        return;
      }
      case Phase.Auth:
        if (!this.#sasl?.handle(el)) this.#unexpected(el);
        return;
      case Phase.Features2: {
        const features = readStreamFeatures(el);
        if (features === undefined) return this.#unexpected(el);
        if (!features.bind) {
          return this.fail(new HandshakeError('bind', 'the server does not offer resource binding after authentication', { retryable: false }));
        }
        this.#features = features;
        this.#phase = Phase.Bind;
        this.#arm();
        const xmpp = this.#xmpp as XmppConnection;
        this.#write(() => xmpp.send(bindIq(BIND_ID, this.#options.resource)));
        return;
      }
      case Phase.Bind: {
        const iq = readIq(el);
        if (iq === undefined || iq.id !== BIND_ID) return; // not the answer we wait for; ignore
        if (iq.type === 'error') {
          const condition = iq.error?.condition ?? 'undefined-condition';
          return this.fail(new HandshakeError('bind', `resource binding failed: ${condition}`, { condition, retryable: true }));
        }
        if (readBindResult(el) === undefined) {
          return this.fail(new HandshakeError('bind', 'the bind result carries no JID', { retryable: true }));
        }
        const f = this.#features as StreamFeatures;
        const wantSession = this.#options.session === true || (this.#options.session === 'auto' && f.session && !f.sessionOptional);
        if (!wantSession) return this.#done();
        this.#phase = Phase.Session;
        this.#arm();
        const xmpp = this.#xmpp as XmppConnection;
        this.#write(() => xmpp.send(sessionIq(SESSION_ID)));
        return;
      }
      case Phase.Session: {
        const iq = readIq(el);
        if (iq === undefined || iq.id !== SESSION_ID) return;
        if (iq.type === 'error') {
          const condition = iq.error?.condition ?? 'undefined-condition';
          return this.fail(new HandshakeError('session', `session establishment failed: ${condition}`, { condition, retryable: true }));
        }
        return this.#done();
      }
      default:
        return;
    }
  }

  #authenticate(features: XmlElement, xmpp: XmppConnection): void {
    const sasl = new ClientNegotiator({
      credentials: { authcid: this.#options.authcid, password: this.#options.apiKey },
      encrypted: xmpp.encrypted,
      mechanism: 'PLAIN',
      send: (out) => xmpp.send(out),
    });
    this.#sasl = sasl;
    sasl.start(features).then(
      () => {
        if (this.#phase !== Phase.Auth) return;
        // RFC 6120 §6.4.6: both sides start a fresh stream after SASL success.
        if (!xmpp.writable) return; // closed meanwhile: the close reports it
        xmpp.restart();
        this.#phase = Phase.Features2;
        this.#arm();
        this.#openStream();
      },
      (err: SaslError) => {
        const condition = err.condition;
        this.fail(new HandshakeError('auth', `CCS authentication failed for sender ${this.#options.senderId}: ${condition ?? err.code}`, {
          cause: err, ...(condition ? { condition } : {}),
          retryable: condition === 'temporary-auth-failure',
        }));
      },
    );
  }

  #done(): void {
    this.#phase = Phase.Done;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    this.#host.online(early);
  }

  #openStream(): void {
    this.#write(() => (this.#xmpp as XmppConnection).openStream({ to: this.#options.domain, version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM }));
  }

  /** A handshake write; the stream may have closed under us (its close then reports why). */
  #write(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const step = this.step;
      this.fail(new HandshakeError(step, `the connection closed during the "${step}" step`, { cause: err, retryable: true }));
    }
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    const step = this.step;
    this.#timer = setTimeout(() => {
      this.fail(new HandshakeError(step, `CCS handshake step "${step}" timed out after ${this.#options.handshakeTimeoutMs} ms`, { timedOut: true, retryable: true }));
    }, this.#options.handshakeTimeoutMs);
    if (!this.#ref) this.#timer.unref();
  }

  #unexpected(el: XmlElement): void {
    const step = this.step;
    this.fail(new HandshakeError(step, `unexpected <${el.name}> from the server during the "${step}" step`, { retryable: true }));
  }
}
