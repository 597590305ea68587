// A minimal, scriptable CCS server over real TLS on 127.0.0.1, built from the same layers the
// emulator uses: stream `accept`, SASL `ServerNegotiator` + `plainServer`, the stanza codec. Unlike
// the emulator it answers nothing on its own unless asked (`autoAck`), so tests control exactly
// when each ACK, NACK, drain or cut happens.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ServerNegotiator, plainServer } from '@ccs-xmpp/sasl';
import {
  GcmEncoder, bindResultIq, errorIq, findGcmChild, gcmErrorMessage, gcmText, readBindRequest,
  isSessionRequest, isPing, resultIq, streamFeatures, type JsonObject,
} from '@ccs-xmpp/stanza';
import { NS_CLIENT, NS_STREAM, accept, generateDevCertificate, type StreamErrorCondition, type XmlElement, type XmppConnection } from '@ccs-xmpp/stream';

export const SENDER_ID = '1234567890';
export const API_KEY = 'test-api-key-Ω';

let cert: { cert: string; key: string } | undefined;
/** One development certificate per process (key generation is the slow part). */
export function devCert(): { cert: string; key: string } {
  cert ??= generateDevCertificate();
  return cert;
}

export interface ScriptedServerOptions {
  /** ACK every downstream message at once. Default true. */
  autoAck?: boolean;
  /** Answer the bind IQ with an error. */
  bindError?: boolean;
  /** Stop answering at this step (to test handshake timeouts). */
  stallAt?: 'header' | 'features' | 'auth' | 'bind' | 'session';
  /** Answer the client's SASL `<auth>` with this stream error (e.g. `system-shutdown`) instead of a SASL answer. */
  streamErrorAtAuth?: StreamErrorCondition;
  /** Offer a (non-optional) session feature. */
  session?: boolean;
  /** Drop new connections at once (mutable: tests flip it to simulate an outage). */
  refuse?: boolean;
  /** Upstream messages to send right after the bind result, before answering the session IQ. */
  upstreamAfterBind?: number;
  /** The `data` of those messages. Default `{}`. */
  upstreamAfterBindData?: JsonObject;
  /** Called when a connection comes online (bind, or session when offered), e.g. to fail or drain it at once. */
  onOnline?: (conn: ServerConn) => void;
  /** Called for every downstream message, after recording it. */
  onDownstream?: (conn: ServerConn, msg: JsonObject) => void;
  /** Called for every ACK the client sends for an upstream message. */
  onAck?: (conn: ServerConn, msg: JsonObject) => void;
}

/** The server's side of one client connection. */
export class ServerConn {
  readonly id: number;
  readonly xmpp: XmppConnection;
  /** Downstream messages in arrival order. */
  readonly received: JsonObject[] = [];
  /** ACKs the client sent (for upstream messages / receipts). */
  readonly acks: JsonObject[] = [];
  online = false;
  closed = false;
  pings = 0;
  readonly #encoder = new GcmEncoder();

  constructor(id: number, xmpp: XmppConnection) {
    this.id = id;
    this.xmpp = xmpp;
  }

  send(payload: object, stanzaId?: string): void {
    if (this.xmpp.writable) this.xmpp.send(this.#encoder.encode(payload, stanzaId));
  }

  ack(messageId: string, extra: JsonObject = {}): void {
    const m = this.received.find((r) => r['message_id'] === messageId);
    this.send({ from: m?.['to'], message_id: messageId, message_type: 'ack', ...extra });
  }

  nack(messageId: string, error: string, description?: string): void {
    const m = this.received.find((r) => r['message_id'] === messageId);
    this.send({ from: m?.['to'], message_id: messageId, message_type: 'nack', error, ...(description ? { error_description: description } : {}) });
  }

  stanzaError(messageId: string, text: string, type: 'modify' | 'wait' | 'cancel' = 'modify'): void {
    if (this.xmpp.writable) this.xmpp.send(gcmErrorMessage(messageId, type === 'wait' ? 'resource-constraint' : 'bad-request', type, { text }));
  }

  upstream(from: string, messageId: string, data: JsonObject = {}): void {
    this.send({ category: 'com.example', data, message_id: messageId, from, time_to_live: 86400 });
  }

  receipt(originalId: string): void {
    this.send({
      message_type: 'receipt', message_id: `dr2:${originalId}`, from: 'gcm.googleapis.com', category: 'com.example',
      data: { message_status: 'MESSAGE_SENT_TO_DEVICE', original_message_id: originalId, device_registration_id: 'tok' },
    });
  }

  drain(): void {
    this.send({ message_type: 'control', control_type: 'CONNECTION_DRAINING' });
  }

  /** Drops the TCP connection without any goodbye. */
  cut(): void {
    this.xmpp.destroy();
  }

  /** Ends the stream cleanly from the server side. */
  end(): Promise<void> {
    return this.xmpp.close(500);
  }
}

export interface ScriptedServer {
  port: number;
  ca: string;
  conns: ServerConn[];
  /** Every downstream message on every connection, in arrival order. */
  received: Array<{ conn: number; msg: JsonObject }>;
  authFailures: number;
  /** Resolves when `pred()` holds (polled), rejects after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs?: number): Promise<void>;
  /** The newest online connection. */
  latest(): ServerConn;
  stop(): Promise<void>;
}

const STREAM_ATTRS = { version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM, from: 'gcm.googleapis.com' };

export async function startScriptedServer(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  const { cert: certPem, key } = devCert();
  const conns: ServerConn[] = [];
  const received: Array<{ conn: number; msg: JsonObject }> = [];
  const sockets = new Set<net.Socket>();
  let nextId = 1;
  const state = { authFailures: 0 };
  const autoAck = options.autoAck ?? true;

  const server = tls.createServer({ key, cert: certPem }, (socket) => {
    if (options.refuse) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let authenticated = false;
    let sc!: ServerConn;
    const sasl: ServerNegotiator = new ServerNegotiator(
      {
        mechanisms: [plainServer({ lookup: (id) => (id === `${SENDER_ID}@gcm.googleapis.com` ? API_KEY : undefined) })],
        offer: ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'],
        encrypted: true,
      },
      {
        send: (el) => xmpp.send(el),
        onSuccess: () => {
          authenticated = true;
          xmpp.restart();
        },
        onFailure: () => {
          state.authFailures++;
          xmpp.streamError('not-authorized');
        },
        onTooManyFailures: () => xmpp.streamError('policy-violation'),
      },
    );
    const xmpp: XmppConnection = accept(socket, { keepaliveIntervalMs: 0 }, {
      onStreamOpen: () => {
        if (options.stallAt === 'header') return;
        xmpp.openStream({ ...STREAM_ATTRS, id: `s${sc.id}-${authenticated ? 2 : 1}` });
        if (options.stallAt === 'features') return;
        xmpp.send(authenticated
          ? streamFeatures({ bind: true, session: options.session === true ? 'required' : false })
          : streamFeatures({ mechanisms: sasl.offered() }));
      },
      onStanza: (el: XmlElement) => {
        if (!authenticated) {
          if (options.stallAt === 'auth') return;
          if (options.streamErrorAtAuth !== undefined && el.local === 'auth') {
            xmpp.streamError(options.streamErrorAtAuth);
            return;
          }
          if (!sasl.handle(el)) xmpp.streamError('not-authorized');
          return;
        }
        if (el.local === 'iq') {
          if (readBindRequest(el) !== undefined) {
            if (options.stallAt === 'bind') return;
            const id = el.attr('id') ?? '';
            if (options.bindError) xmpp.send(errorIq(id, 'not-allowed', 'cancel'));
            else {
              xmpp.send(bindResultIq(id, `${SENDER_ID}@gcm.googleapis.com/r${sc.id}`));
              for (let i = 0; i < (options.upstreamAfterBind ?? 0); i++) sc.upstream('early-dev', `early-${sc.id}-${i}`, options.upstreamAfterBindData);
              if (!options.session) {
                sc.online = true;
                options.onOnline?.(sc);
              }
            }
          } else if (isSessionRequest(el)) {
            if (options.stallAt === 'session') return;
            xmpp.send(resultIq(el.attr('id') ?? ''));
            sc.online = true;
            options.onOnline?.(sc);
          } else if (isPing(el)) {
            sc.pings++;
            xmpp.send(resultIq(el.attr('id') ?? ''));
          }
          return;
        }
        if (el.local !== 'message') return;
        const gcm = findGcmChild(el);
        if (gcm === undefined) return;
        const payload = JSON.parse(gcmText(gcm)) as JsonObject;
        if (payload['message_type'] === 'ack') {
          sc.acks.push(payload);
          options.onAck?.(sc, payload);
          return;
        }
        sc.received.push(payload);
        received.push({ conn: sc.id, msg: payload });
        if (options.onDownstream) options.onDownstream(sc, payload);
        else if (autoAck) sc.ack(payload['message_id'] as string);
      },
      onClose: () => {
        sc.closed = true;
        sc.online = false;
      },
    });
    sc = new ServerConn(nextId++, xmpp);
    conns.push(sc);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const until = async (pred: () => boolean, timeoutMs = 20_000): Promise<void> => {
    const start = Date.now();
    while (!pred()) {
      if (Date.now() - start > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  return {
    port,
    ca: certPem,
    conns,
    received,
    get authFailures() {
      return state.authFailures;
    },
    until,
    latest() {
      const open = conns.filter((c) => c.online && !c.closed);
      const c = open[open.length - 1];
      if (c === undefined) throw new Error('no online connection');
      return c;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Client options for this server (short timers, no jitter surprises). */
export function clientOptions(server: ScriptedServer, extra: Record<string, unknown> = {}): {
  senderId: string; apiKey: string; host: string; port: number; tls: { ca: string; servername: string };
  reconnectBaseMs: number; retryBaseMs: number; handshakeTimeoutMs: number; [k: string]: unknown;
} {
  return {
    senderId: SENDER_ID,
    apiKey: API_KEY,
    host: '127.0.0.1',
    port: server.port,
    tls: { ca: server.ca, servername: 'localhost' },
    reconnectBaseMs: 10,
    reconnectMaxMs: 50,
    retryBaseMs: 10,
    retryMaxMs: 40,
    handshakeTimeoutMs: 2000,
    ...extra,
  };
}

/**
 * Marks a promise as handled (the test still awaits it): when an assertion fails mid-test, the
 * `finally` that closes the client rejects the remaining sends, and those must not surface as
 * unhandled rejections that kill the whole runner.
 */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
