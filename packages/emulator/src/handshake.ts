/**
 * The server side of the XMPP handshake (PROTOCOL.md "Connection"; RFC 6120 §4, §6, §7): stream
 * header → features → SASL PLAIN → restart → bind (and the optional session IQ), then the IQs a
 * bound stream may still send (XEP-0199 ping, session). It writes through a narrow
 * {@link HandshakeHost}; the session owns the connection and decides what a stream error closes.
 */
import { NS_CLIENT, NS_STREAM, serialize, type StreamErrorCondition, type StreamHeader, type XmlElement } from '@ccs-xmpp/stream';
import { ServerNegotiator, plainServer } from '@ccs-xmpp/sasl';
import { bindResultIq, errorIq, isPing, isSessionRequest, readBindRequest, resultIq, streamFeatures } from '@ccs-xmpp/stanza';
import type { EmulatorEvent, Hub } from './hub.js';
import type { Prng } from './prng.js';

/** What CCS advertised (PROTOCOL.md "Connection"); only PLAIN is implemented, the others answer `invalid-mechanism`. */
const OFFERED_MECHANISMS = ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'] as const;

/** Where the handshake is. */
export type HandshakePhase = 'stream' | 'sasl' | 'restart' | 'bind' | 'bound';

/** What the handshake needs of its connection. */
export interface HandshakeHost {
  readonly id: number;
  /** True while the connection can still be written (not closing). */
  readonly writable: boolean;
  openStream(attrs: Record<string, string>): void;
  /** SASL succeeded: the parser expects a new stream header. */
  restart(): void;
  write(data: string): void;
  streamError(condition: StreamErrorCondition, text: string): void;
  event(e: EmulatorEvent): void;
  /** The resource is bound: CCS messages may flow. */
  bound(): void;
  /** The client answered an IQ of ours (`result` or `error`) with this id. */
  iqAnswered(id: string): void;
}

/** One connection's handshake. */
export class Handshake {
  phase: HandshakePhase = 'stream';
  /** The authenticated sender, once SASL succeeded. */
  senderId: string | undefined;
  /** The bound JID, once bound. */
  jid: string | undefined;
  readonly #hub: Hub;
  readonly #host: HandshakeHost;
  readonly #prng: Prng;
  readonly #sasl: ServerNegotiator;

  constructor(hub: Hub, host: HandshakeHost, prng: Prng, encrypted: boolean) {
    this.#hub = hub;
    this.#host = host;
    this.#prng = prng;
    this.#sasl = new ServerNegotiator(
      { mechanisms: [plainServer({ lookup: (authcid) => hub.password(authcid) })], offer: OFFERED_MECHANISMS, encrypted },
      {
        send: (el) => host.write(serialize(el)),
        onSuccess: ({ authcid }) => this.#onAuthenticated(authcid),
        onFailure: ({ condition, failures }) => host.event({ type: 'auth', connectionId: host.id, ok: false, condition, failures }),
        onTooManyFailures: () => host.streamError('policy-violation', 'too many authentication failures'),
      },
    );
  }

  /** The client's stream header (the first, or the one after SASL). */
  streamOpen(header: StreamHeader): void {
    const host = this.#host;
    const to = header.attrs['to'];
    const attrs = { from: this.#hub.domain, id: `${host.id}-${this.#prng.hex()}`, version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };
    // The emulator is closing this connection (stop(), a timeout) before the client's header came.
    if (!host.writable) return;
    // RFC 6120 §4.9.1.2: the error goes after our own header.
    host.openStream(attrs);
    if (header.attrs['xmlns'] !== NS_CLIENT) return host.streamError('invalid-namespace', 'the default namespace must be jabber:client');
    if (to !== undefined && to !== this.#hub.domain) return host.streamError('host-unknown', `this server is ${this.#hub.domain}`);
    if (this.phase === 'stream') {
      this.phase = 'sasl';
      host.write(serialize(streamFeatures({ mechanisms: this.#sasl.offered() })));
      host.event({ type: 'connection', connectionId: host.id });
    } else if (this.phase === 'restart') {
      this.phase = 'bind';
      host.write(serialize(streamFeatures({ bind: true, session: true })));
    }
  }

  /** A stanza before bind, or a non-`<message>` stanza after. */
  stanza(el: XmlElement): void {
    const host = this.#host;
    if (this.phase === 'sasl') {
      if (this.#sasl.handle(el)) return;
      // RFC 6120 §6.4: nothing but SASL before authentication.
      return host.streamError('not-authorized', 'authenticate first');
    }
    if (this.phase !== 'bind' && this.phase !== 'bound') return host.streamError('not-authorized', 'authenticate first');
    switch (el.local) {
      case 'iq':
        return this.#onIq(el);
      case 'message':
        // RFC 6120 §7.1: no stanzas before a resource is bound.
        return host.streamError('not-authorized', 'bind a resource first');
      case 'presence':
        return; // CCS ignores presence.
      default:
        return host.streamError('unsupported-stanza-type', `<${el.local}> is not a stanza`);
    }
  }

  #onAuthenticated(authcid: string): void {
    if (this.phase !== 'sasl') return;
    this.senderId = this.#hub.senderOf(authcid);
    // RFC 6120 §6.4.6: the client restarts the stream after <success/>; so do we.
    this.phase = 'restart';
    this.#host.restart();
    this.#host.event({ type: 'auth', connectionId: this.#host.id, ok: true, senderId: this.senderId });
  }

  #onIq(el: XmlElement): void {
    const host = this.#host;
    const id = el.attr('id') ?? '';
    const type = el.attr('type');
    if (type === 'result' || type === 'error') return host.iqAnswered(id);
    const resource = readBindRequest(el);
    if (resource !== undefined) {
      if (this.phase !== 'bind') return host.write(serialize(errorIq(id, 'not-allowed', 'cancel')));
      const res = resource === '' ? this.#prng.hex() + this.#prng.hex() : resource;
      this.jid = `${this.senderId ?? ''}@${this.#hub.domain}/${res}`;
      host.write(serialize(bindResultIq(id, this.jid)));
      this.phase = 'bound';
      host.event({ type: 'bind', connectionId: host.id, jid: this.jid });
      host.bound();
      return;
    }
    if (isSessionRequest(el) || isPing(el)) return host.write(serialize(resultIq(id)));
    // RFC 6120 §8.4: a request for something the server does not provide.
    host.write(serialize(errorIq(id, 'service-unavailable', 'cancel')));
  }
}
