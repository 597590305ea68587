// End to end over real TLS on 127.0.0.1: @ccs-xmpp/stream on both ends, the client negotiator on
// one, the server negotiator (as the CCS emulator uses it) on the other, with the stream restart
// after success done by the connection owners, as the README says.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import {
  NS_CLIENT,
  NS_STREAM,
  accept,
  connect,
  xml,
  type StreamError,
  type XmlElement,
  type XmppConnection,
} from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from './helpers.js';
import {
  ClientNegotiator,
  ServerNegotiator,
  plainServer,
  type SaslIdentity,
  type SaslSuccess,
} from '../src/index.js';

const SENDER = '123456789012';
const AUTHCID = `${SENDER}@gcm.googleapis.com`;
// Non-ASCII on purpose: the key is sent as UTF-8, which btoa-based clients get wrong.
const API_KEY = 'AIzaSy-ключ-密钥-🔐';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const STREAM_ATTRS = { version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };

let dir = '';
let key = '';
let cert = '';

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sasl-e2e-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface ServerSide {
  port: number;
  identities: SaslIdentity[];
  closeReasons: string[];
  stop(): Promise<void>;
}

/** A minimal emulator front: stream header, SASL, restart, then a bind feature. */
async function startServer(options: { tls: boolean; maxFailures?: number }): Promise<ServerSide> {
  const identities: SaslIdentity[] = [];
  const closeReasons: string[] = [];
  const conns = new Set<XmppConnection>();
  const onSocket = (socket: net.Socket): void => {
    let authenticated = false;
    let sasl: ServerNegotiator;
    const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 0 }, {
      onStreamOpen: () => {
        conn.openStream({ ...STREAM_ATTRS, from: 'gcm.googleapis.com', id: `s-${Math.random().toString(36).slice(2)}` });
        const feature = authenticated ? xml('bind', { xmlns: NS_BIND }) : sasl.mechanismsElement();
        conn.send(xml('stream:features', null, feature));
      },
      onStanza: (el) => {
        if (!authenticated && sasl.handle(el)) return;
        conn.streamError('not-authorized');
      },
      onClose: (err) => {
        closeReasons.push(err?.condition ?? 'clean');
        conns.delete(conn);
      },
    });
    conns.add(conn);
    sasl = new ServerNegotiator(
      {
        mechanisms: [plainServer({ lookup: async (id) => (id === AUTHCID ? API_KEY : undefined) })],
        offer: ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'],
        encrypted: conn.encrypted,
        allowPlaintextUnencrypted: !options.tls,
        ...(options.maxFailures === undefined ? {} : { maxFailures: options.maxFailures }),
      },
      {
        send: (el) => conn.send(el),
        onSuccess: (identity) => {
          identities.push(identity);
          authenticated = true;
          // RFC 6120 §6.4.6: the server discards the old stream and waits for a new header.
          conn.restart();
        },
        onTooManyFailures: () => conn.streamError('policy-violation'),
      },
    );
  };
  const server = options.tls ? tls.createServer({ key, cert }, onSocket) : net.createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    identities,
    closeReasons,
    stop: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ClientSide {
  conn: XmppConnection;
  /** Runs one SASL attempt on the current stream's features. */
  authenticate(password: string): Promise<SaslSuccess>;
  /** Resolves with the features of the restarted stream. */
  restarted: Promise<XmlElement>;
  closed: Promise<StreamError | undefined>;
}

async function startClient(port: number, options: { tls: boolean }): Promise<ClientSide> {
  let features: XmlElement | undefined;
  let featuresWaiter: ((f: XmlElement) => void) | undefined;
  let negotiator: ClientNegotiator | undefined;
  let onRestartFeatures!: (f: XmlElement) => void;
  const restarted = new Promise<XmlElement>((resolve) => { onRestartFeatures = resolve; });
  let onClosed!: (e: StreamError | undefined) => void;
  const closed = new Promise<StreamError | undefined>((resolve) => { onClosed = resolve; });
  let authenticated = false;
  const conn = await connect(
    { host: '127.0.0.1', port, servername: 'localhost', ca: cert, transport: options.tls ? 'tls' : 'tcp', keepaliveIntervalMs: 0 },
    {
      onStanza: (el) => {
        if (el.local === 'features' && el.uri === NS_STREAM) {
          if (authenticated) return onRestartFeatures(el);
          features = el;
          featuresWaiter?.(el);
          return;
        }
        if (negotiator?.handle(el)) return;
        throw new Error(`unexpected <${el.name}>`);
      },
      onClose: (err) => onClosed(err),
    },
  );
  conn.openStream({ ...STREAM_ATTRS, to: 'gcm.googleapis.com' });
  const getFeatures = (): Promise<XmlElement> =>
    features ? Promise.resolve(features) : new Promise((resolve) => { featuresWaiter = resolve; });
  return {
    conn,
    restarted,
    closed,
    authenticate: async (password) => {
      const f = await getFeatures();
      negotiator = new ClientNegotiator({
        credentials: { authcid: AUTHCID, password },
        encrypted: conn.encrypted,
        send: (el) => conn.send(el),
      });
      const result = await negotiator.start(f);
      authenticated = true;
      // RFC 6120 §6.4.6: after <success/> the client opens a new stream over the same socket.
      conn.restart();
      conn.openStream({ ...STREAM_ATTRS, to: 'gcm.googleapis.com' });
      return result;
    },
  };
}

test('authenticates with PLAIN and a non-ASCII API key over TLS, then restarts the stream', async () => {
  const server = await startServer({ tls: true });
  const client = await startClient(server.port, { tls: true });
  try {
    assert.ok(client.conn.encrypted);
    const result = await client.authenticate(API_KEY);
    assert.equal(result, { mechanism: 'PLAIN', additionalData: undefined });
    const features = await client.restarted;
    assert.ok(features.getChild('bind', NS_BIND));
    assert.equal(server.identities, [{ mechanism: 'PLAIN', authcid: AUTHCID, authzid: undefined }]);
    await client.conn.close();
  } finally {
    await server.stop();
  }
});

test('reports a wrong API key as SASL_ERR_NOT_AUTHORIZED without the key, and the server closes after maxFailures', async () => {
  const server = await startServer({ tls: true, maxFailures: 2 });
  const client = await startClient(server.port, { tls: true });
  try {
    const wrong = `${API_KEY}-wrong`;
    const first = await rejection(client.authenticate(wrong));
    assert.is(first.code, 'SASL_ERR_NOT_AUTHORIZED');
    assert.is(first.condition, 'not-authorized');
    for (const view of [first.message, String(first), first.stack ?? '', JSON.stringify(first)]) {
      assert.not.ok(view.includes(wrong));
      assert.not.ok(view.includes(API_KEY));
    }
    // A retry on the same stream is allowed (RFC 6120 §6.4.5) up to the limit.
    const second = await rejection(client.authenticate('also-wrong'));
    assert.is(second.code, 'SASL_ERR_NOT_AUTHORIZED');
    const closedWith = await client.closed;
    assert.is(closedWith?.condition, 'policy-violation');
    assert.equal(server.identities, []);
  } finally {
    client.conn.destroy();
    await server.stop();
  }
});

test('refuses to send PLAIN over plain TCP, even when that server would accept it', async () => {
  const server = await startServer({ tls: false });
  const client = await startClient(server.port, { tls: false });
  try {
    assert.not.ok(client.conn.encrypted);
    const err = await rejection(client.authenticate(API_KEY));
    assert.is(err.code, 'SASL_ERR_PLAIN_UNENCRYPTED');
    assert.equal(server.identities, []);
    await client.conn.close();
  } finally {
    await server.stop();
  }
});

test.run();
