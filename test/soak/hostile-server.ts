// A CCS server that misbehaves after authentication, for the soak suite's hostile-server scenarios
// (issue 11 §3–§4): built from the same layers as the emulator (stream `accept`, SASL, stanza codec).
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { ServerNegotiator, plainServer } from '@ccs-xmpp/sasl';
import { GcmEncoder, bindResultIq, readBindRequest, isSessionRequest, resultIq, streamFeatures } from '@ccs-xmpp/stanza';
import { NS_CLIENT, NS_STREAM, accept, generateDevCertificate, type XmlElement, type XmppConnection } from '@ccs-xmpp/stream';

export const HOSTILE_SENDER = '1234567890';
export const HOSTILE_KEY = 'hostile-key';

/** What the server does once the client is authenticated. */
export type Hostility =
  /** Never answers the bind IQ, and floods `<message>`s meanwhile. */
  | 'withhold-bind-and-flood'
  /** Binds, then floods upstream messages and never reads from the socket again. */
  | 'flood-and-never-read'
  /** Binds, then closes the connection at once. */
  | 'close-after-bind'
  /** Binds, then sends CONNECTION_DRAINING at once (and never closes). */
  | 'drain-after-bind';

export interface HostileServer {
  port: number;
  ca: string;
  /** Bind results sent (handshakes completed). */
  binds: number;
  /** Connections open now, and the most at once. */
  open: number;
  peakOpen: number;
  stop(): Promise<void>;
}

let cert: { cert: string; key: string } | undefined;
const STREAM_ATTRS = { version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM, from: 'gcm.googleapis.com' };

export async function startHostileServer(hostility: Hostility): Promise<HostileServer> {
  cert ??= generateDevCertificate();
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state = { binds: 0, open: 0, peakOpen: 0 };
  const encoder = new GcmEncoder();
  let seq = 0;
  const flood = (xmpp: XmppConnection, socket: net.Socket, payload: () => object): void => {
    // Writes as fast as the socket takes it, ignoring backpressure up to a cap per tick: the point is
    // a peer that does not care about the client's memory.
    const t = setInterval(() => {
      if (!xmpp.writable) return;
      for (let i = 0; i < 200 && xmpp.writable && socket.writableLength < 64 * 1024 * 1024; i++) xmpp.send(encoder.encode(payload()));
    }, 1);
    timers.add(t);
    socket.on('close', () => {
      clearInterval(t);
      timers.delete(t);
    });
  };
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (socket) => {
    sockets.add(socket);
    state.open++;
    state.peakOpen = Math.max(state.peakOpen, state.open);
    socket.on('close', () => {
      sockets.delete(socket);
      state.open--;
    });
    socket.on('error', () => undefined);
    let authenticated = false;
    const sasl: ServerNegotiator = new ServerNegotiator(
      { mechanisms: [plainServer({ lookup: (id) => (id === `${HOSTILE_SENDER}@gcm.googleapis.com` ? HOSTILE_KEY : undefined) })], offer: ['PLAIN'], encrypted: true },
      {
        send: (el) => xmpp.send(el),
        onSuccess: () => {
          authenticated = true;
          xmpp.restart();
        },
        onFailure: () => xmpp.streamError('not-authorized'),
        onTooManyFailures: () => xmpp.streamError('policy-violation'),
      },
    );
    const xmpp: XmppConnection = accept(socket, { keepaliveIntervalMs: 0, idleTimeoutMs: 0 }, {
      onStreamOpen: () => {
        xmpp.openStream({ ...STREAM_ATTRS, id: `h${++seq}` });
        xmpp.send(authenticated ? streamFeatures({ bind: true, session: false }) : streamFeatures({ mechanisms: sasl.offered() }));
        if (authenticated && hostility === 'withhold-bind-and-flood') {
          flood(xmpp, socket, () => ({ category: 'c', data: { pad: 'x'.repeat(200) }, message_id: `pre-${++seq}`, from: 'dev', time_to_live: 0 }));
        }
      },
      onStanza: (el: XmlElement) => {
        if (!authenticated) {
          if (!sasl.handle(el)) xmpp.streamError('not-authorized');
          return;
        }
        if (el.local === 'iq' && readBindRequest(el) !== undefined) {
          if (hostility === 'withhold-bind-and-flood') return;
          xmpp.send(bindResultIq(el.attr('id') ?? '', `${HOSTILE_SENDER}@gcm.googleapis.com/h${seq}`));
          state.binds++;
          if (hostility === 'close-after-bind') socket.destroy();
          else if (hostility === 'drain-after-bind') xmpp.send(encoder.encode({ message_type: 'control', control_type: 'CONNECTION_DRAINING' }));
          else if (hostility === 'flood-and-never-read') {
            socket.pause();
            flood(xmpp, socket, () => ({ category: 'c', data: { n: seq }, message_id: `up-${++seq}`, from: `dev-${seq % 8}`, time_to_live: 0 }));
          }
          return;
        }
        if (el.local === 'iq' && isSessionRequest(el)) xmpp.send(resultIq(el.attr('id') ?? ''));
      },
      onClose: () => undefined,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    ca: cert.cert,
    get binds() {
      return state.binds;
    },
    get open() {
      return state.open;
    },
    get peakOpen() {
      return state.peakOpen;
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
