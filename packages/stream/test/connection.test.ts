import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConnectionError,
  NS_STREAM,
  StreamErrorReceived,
  StreamParseError,
  accept,
  connect,
  generateDevCertificate,
  xml,
  type ConnectionOptions,
  type StreamError,
  type XmlElement,
  type XmppConnection,
} from '../src/index.js';
import { CLIENT_HEADER, SERVER_HEADER, listenLocal } from './helpers.js';

const { cert, key } = generateDevCertificate();

interface Side {
  conn: XmppConnection;
  stanzas: XmlElement[];
  closed: Promise<StreamError | undefined>;
}

/** A TLS server on 127.0.0.1 whose accepted connections echo every stanza back. */
async function echoServer(options: ConnectionOptions = {}, raw?: (socket: tls.TLSSocket) => void) {
  const sides: Side[] = [];
  const server = tls.createServer({ cert, key }, (socket) => {
    if (raw) return raw(socket);
    const stanzas: XmlElement[] = [];
    let resolveClosed!: (e: StreamError | undefined) => void;
    const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
    const conn: XmppConnection = accept(socket, options, {
      onStreamOpen: () => conn.openStream(SERVER_HEADER),
      onStanza: (el) => {
        stanzas.push(el);
        if (conn.writable) conn.send(el);
      },
      onClose: (e) => resolveClosed(e),
    });
    sides.push({ conn, stanzas, closed });
  });
  const port = await listenLocal(server);
  return { server, port, sides, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

async function client(port: number, options: Partial<Parameters<typeof connect>[0]> = {}) {
  const stanzas: XmlElement[] = [];
  const waiters: Array<() => void> = [];
  let resolveClosed!: (e: StreamError | undefined) => void;
  const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
  let opened = false;
  const conn = await connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ...options }, {
    onStreamOpen: () => (opened = true),
    onStanza: (el) => {
      stanzas.push(el);
      waiters.splice(0).forEach((w) => w());
    },
    onClose: (e) => resolveClosed(e),
  });
  const waitFor = async (n: number): Promise<void> => {
    while (stanzas.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { conn, stanzas, closed, waitFor, opened: () => opened };
}

test('exchanges stanzas over TLS with certificate verification on by default', async () => {
  const srv = await echoServer();
  try {
    const c = await client(srv.port);
    assert.ok(c.conn.encrypted);
    c.conn.openStream(CLIENT_HEADER);
    c.conn.send(xml('message', { id: 'm1' }, xml('gcm', { xmlns: 'google:mobile:data' }, '{"a":"<&>"}')));
    await c.waitFor(1);
    assert.ok(c.opened());
    assert.is(c.stanzas[0]?.getChild('gcm')?.text(), '{"a":"<&>"}');
    assert.is(c.conn.remoteHeader?.attrs.id, 's1');
    await c.conn.close();
    assert.is(await c.closed, undefined, 'a clean close reports no error');
    assert.is(await srv.sides[0]?.closed, undefined);
  } finally {
    await srv.stop();
  }
});

test('refuses a server certificate it cannot verify with STREAM_ERR_CONNECT', async () => {
  const srv = await echoServer();
  try {
    const err = await connect({ host: '127.0.0.1', port: srv.port }, { onStanza() {} }).then(() => null, (e: unknown) => e);
    assert.instance(err, ConnectionError);
    assert.is((err as ConnectionError).code, 'STREAM_ERR_CONNECT');
    assert.match((err as Error).message, /self-signed|certificate/i);
    // …unless the caller explicitly turns verification off.
    const c = await client(srv.port, { ca: undefined, rejectUnauthorized: false });
    assert.ok(c.conn.encrypted);
    c.conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('fails to connect with STREAM_ERR_CONNECT when nothing listens, and honours an AbortSignal', async () => {
  const probe = net.createServer();
  const port = await listenLocal(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const refused = await connect({ host: '127.0.0.1', port }, { onStanza() {} }).catch((e: ConnectionError) => e);
  assert.is((refused as ConnectionError).code, 'STREAM_ERR_CONNECT');
  assert.match((refused as Error).message, /ECONNREFUSED/);
  const aborted = await connect({ host: '127.0.0.1', port, signal: AbortSignal.abort() }, { onStanza() {} }).catch((e: ConnectionError) => e);
  assert.is((aborted as ConnectionError).code, 'STREAM_ERR_CONNECT');
  assert.match((aborted as Error).message, /aborted/);
});

test('times out a connection attempt whose TLS handshake never completes', async () => {
  const silent = net.createServer(() => {});
  const port = await listenLocal(silent);
  try {
    const err = await connect({ host: '127.0.0.1', port, connectTimeoutMs: 150 }, { onStanza() {} }).catch((e: ConnectionError) => e);
    assert.is((err as ConnectionError).condition, 'connection-timeout');
  } finally {
    silent.close();
  }
});

test('speaks plain TCP only when transport tcp is asked for', async () => {
  const server = net.createServer((socket) => {
    const conn: XmppConnection = accept(socket, {}, {
      onStreamOpen: () => conn.openStream(SERVER_HEADER),
      onStanza: (el) => conn.send(el),
    });
  });
  const port = await listenLocal(server);
  try {
    const c = await client(port, { transport: 'tcp' });
    assert.not.ok(c.conn.encrypted);
    c.conn.openStream(CLIENT_HEADER);
    c.conn.send('<iq type="get" id="1"/>');
    await c.waitFor(1);
    await c.conn.close(500);
  } finally {
    server.close();
  }
});

test('gives the socket a 64 KiB high-water mark by default, over TLS and over TCP', async () => {
  const srv = await echoServer();
  const tcp = net.createServer((socket) => socket.on('error', () => {}));
  const tcpPort = await listenLocal(tcp);
  const conns: XmppConnection[] = [];
  try {
    const c = await client(srv.port, { keepaliveIntervalMs: 0 });
    conns.push(c.conn);
    assert.is(c.conn.rawSocket.writableHighWaterMark, 65_536);
    c.conn.openStream(CLIENT_HEADER);
    // 20 000 bytes in one write: over Node 20's 16 KiB mark, under 64 KiB.
    assert.ok(c.conn.send(`<message>${'x'.repeat(20_000)}</message>`), 'no backpressure below 64 KiB');
    const t = await client(tcpPort, { transport: 'tcp', keepaliveIntervalMs: 0 });
    conns.push(t.conn);
    assert.is(t.conn.rawSocket.writableHighWaterMark, 65_536);
  } finally {
    for (const conn of conns) conn.destroy();
    tcp.close();
    await srv.stop();
  }
});

test('honours socketHighWaterMark: the socket reads it and send() returns false once a write reaches it', async () => {
  const srv = await echoServer();
  const conns: XmppConnection[] = [];
  try {
    const { conn } = await client(srv.port, { keepaliveIntervalMs: 0, socketHighWaterMark: 4096 });
    conns.push(conn);
    assert.is(conn.rawSocket.writableHighWaterMark, 4096);
    const drained = once(conn.rawSocket, 'drain');
    conn.openStream(CLIENT_HEADER);
    // 10 000 bytes pass the first-flush size (8 KiB) and go to the socket at once, over its 4 KiB mark.
    assert.not.ok(conn.send(`<message>${'x'.repeat(10_000)}</message>`), 'backpressure at the mark asked for');
    await drained;
    const t = await client(srv.port, { keepaliveIntervalMs: 0, socketHighWaterMark: 131_072 });
    conns.push(t.conn);
    assert.is(t.conn.rawSocket.writableHighWaterMark, 131_072);
  } finally {
    for (const conn of conns) conn.destroy();
    await srv.stop();
  }
});

test('a lowered write mark: send() returns false past it under the socket\'s own mark, onDrain follows once the buffer empties, and restoring it lifts it (with a drain owed, onDrain on the next tick)', async () => {
  const srv = await echoServer();
  let drains = 0;
  let drained: (() => void) | undefined;
  const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, socketHighWaterMark: 65_536 }, {
    onStanza() {},
    onDrain: () => {
      drains++;
      drained?.();
    },
  });
  try {
    assert.is(conn.writeMark, 65_536, "the socket's mark unless lowered");
    conn.setWriteMark(1_000_000);
    assert.is(conn.writeMark, 65_536, "never above the socket's mark");
    for (const bad of [0, -1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY]) assert.throws(() => conn.setWriteMark(bad), (e: unknown) => e instanceof RangeError, String(bad));
    conn.setWriteMark(4096);
    conn.setWriteMark(Number.POSITIVE_INFINITY);
    assert.is(conn.writeMark, 65_536, 'Infinity restores the socket\'s mark');
    conn.setWriteMark(2 ** 60);
    assert.is(conn.writeMark, 65_536, 'an integer past 2^53 too');
    conn.openStream(CLIENT_HEADER);
    const big = `<message>${'x'.repeat(10_000)}</message>`;
    // 10 000 bytes pass the first-flush size (8 KiB) and go to the socket at once: under 64 KiB.
    assert.ok(conn.send(big), "under the socket's mark");
    await new Promise<void>((r) => (drained = r, setTimeout(r, 200)));
    assert.is(drains, 0, 'no drain owed');

    conn.setWriteMark(4096);
    assert.is(conn.writeMark, 4096);
    const owed = new Promise<void>((r) => (drained = r));
    assert.not.ok(conn.send(big), 'backpressure at the lowered mark');
    assert.not.ok(conn.rawSocket.writableNeedDrain, "the socket's own mark is not reached");
    await owed;
    assert.is(drains, 1, 'one onDrain, once the buffer is empty');
    assert.is(conn.rawSocket.writableLength, 0);

    conn.setWriteMark(65_536);
    assert.ok(conn.send(big), 'the mark restored');

    // Raised again while a drain is owed: onDrain on the next tick, and not a second time when the buffer empties.
    const empty = async (): Promise<void> => {
      for (const deadline = Date.now() + 5000; conn.rawSocket.writableLength > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    };
    await empty();
    assert.is(drains, 1, 'none owed at the socket\'s mark');
    conn.setWriteMark(4096);
    assert.not.ok(conn.send(big), 'backpressure at the lowered mark again');
    conn.setWriteMark(65_536);
    // The socket has not written those bytes yet (that takes an I/O callback): this is the raise's own onDrain.
    await new Promise<void>((r) => process.nextTick(r));
    assert.is(drains, 2, 'onDrain on the next tick');
    await empty();
    await new Promise((r) => setTimeout(r, 20));
    assert.is(drains, 2, 'no second onDrain for the same backpressure');
  } finally {
    conn.destroy();
    await srv.stop();
  }
});

test('refuses a socketHighWaterMark that is not a positive integer with a RangeError, before connecting', async () => {
  const srv = await echoServer();
  // TCP connections, counted before any TLS: a refused attempt must not have opened one.
  let accepted = 0;
  srv.server.on('connection', () => accepted++);
  const conns: XmppConnection[] = [];
  try {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '65536' as unknown as number]) {
      const err = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', socketHighWaterMark: bad }, { onStanza() {} }).then(
        (conn) => (conns.push(conn), null),
        (e: unknown) => e,
      );
      assert.instance(err, RangeError, `socketHighWaterMark ${String(bad)}`);
      assert.match((err as Error).message, /socketHighWaterMark must be a positive integer/);
    }
    // Then a good attempt (the smallest mark): the server sees that one connection and no other.
    const c = await client(srv.port, { keepaliveIntervalMs: 0, socketHighWaterMark: 1 });
    conns.push(c.conn);
    for (const deadline = Date.now() + 30_000; accepted === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    assert.is(accepted, 1, 'only the good attempt reached the server');
  } finally {
    for (const conn of conns) conn.destroy();
    await srv.stop();
  }
});

test('refuses parser limits that are not positive with a RangeError before connecting, not from inside the handshake', async () => {
  const srv = await echoServer();
  let accepted = 0;
  srv.server.on('connection', () => accepted++);
  const conns: XmppConnection[] = [];
  try {
    for (const limits of [{ maxStanzaBytes: 0 }, { maxDepth: -1 }, { maxStanzaBytes: Number.NaN }]) {
      // Before, the parser was made in the TLS callback and its RangeError escaped it (an uncaught exception).
      const err = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', ...limits }, { onStanza() {} }).then(
        (conn) => (conns.push(conn), null),
        (e: unknown) => e,
      );
      assert.instance(err, RangeError, JSON.stringify(limits));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.is(accepted, 0, 'no attempt reached the server');
  } finally {
    for (const conn of conns) conn.destroy();
    await srv.stop();
  }
});

test('sends whitespace keepalives when idle', async () => {
  let received = '';
  const server = tls.createServer({ cert, key }, (socket) => socket.on('data', (d: Buffer) => (received += d.toString())));
  const port = await listenLocal(server);
  try {
    const c = await client(port, { keepaliveIntervalMs: 40 });
    c.conn.openStream(CLIENT_HEADER);
    // Polled, not a fixed 200 ms: on a loaded machine the TLS write of the header alone can take that.
    for (let t0 = Date.now(); !/<stream:stream[^>]*> +$/.test(received) && Date.now() - t0 < 10_000; ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(received, /<stream:stream[^>]*> +$/, `got ${JSON.stringify(received.slice(-20))}`);
    c.conn.destroy();
  } finally {
    server.close();
  }
});

test('detects a dead peer: no bytes for idleTimeoutMs closes with STREAM_ERR_IDLE_TIMEOUT', async () => {
  const server = tls.createServer({ cert, key }, () => {});
  const port = await listenLocal(server);
  try {
    const c = await client(port, { idleTimeoutMs: 100, closeTimeoutMs: 100 });
    const err = await c.closed;
    assert.instance(err, ConnectionError);
    assert.is(err?.code, 'STREAM_ERR_IDLE_TIMEOUT');
  } finally {
    server.close();
  }
});

test('answers malformed input with the matching <stream:error> and closes', async () => {
  let received = '';
  const server = tls.createServer({ cert, key }, (socket) => {
    const conn: XmppConnection = accept(socket, {}, { onStreamOpen: () => conn.openStream(SERVER_HEADER), onStanza() {} });
  });
  const port = await listenLocal(server);
  try {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await once(socket, 'secureConnect');
    socket.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><!-- hello -->");
    await once(socket, 'close');
    assert.match(received, /<stream:error><restricted-xml xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><\/stream:error><\/stream:stream>$/);
  } finally {
    server.close();
  }
});

test('reports a <stream:error> from the peer as StreamErrorReceived with condition and text', async () => {
  const srv = await echoServer({}, (socket) => {
    socket.once('data', () => {
      socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' id='x'>`);
      socket.write("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>go away</text></stream:error>");
    });
  });
  try {
    const c = await client(srv.port);
    c.conn.openStream(CLIENT_HEADER);
    const err = await c.closed;
    assert.instance(err, StreamErrorReceived);
    assert.is(err?.condition, 'not-authorized');
    assert.is(err?.text, 'go away');
    assert.is(err?.code, 'STREAM_ERR_RECEIVED');
  } finally {
    await srv.stop();
  }
});

test('reports our parser verdict as the close reason and throws STREAM_ERR_CLOSED on send after close', async () => {
  const srv = await echoServer({}, (socket) => {
    socket.once('data', () => socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client'><a></b>`));
  });
  try {
    const c = await client(srv.port);
    c.conn.openStream(CLIENT_HEADER);
    const err = await c.closed;
    assert.instance(err, StreamParseError);
    assert.is(err?.condition, 'not-well-formed');
    assert.throws(() => c.conn.send('<x/>'), (e: ConnectionError) => e.code === 'STREAM_ERR_CLOSED');
  } finally {
    await srv.stop();
  }
});

test('answers the peer closing its stream with our closing tag', async () => {
  let received = '';
  const srv = await echoServer({}, (socket) => {
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      if (received.includes('<stream:stream')) socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client'></stream:stream>`);
    });
  });
  try {
    const c = await client(srv.port);
    let ended = false;
    c.conn.openStream(CLIENT_HEADER);
    await c.closed;
    ended = received.endsWith('</stream:stream>');
    assert.ok(ended, received);
  } finally {
    await srv.stop();
  }
});

test('reports a peer that ends the connection without closing the stream as STREAM_ERR_PEER_CLOSED', async () => {
  const srv = await echoServer({}, (socket) => {
    socket.once('data', () => {
      socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' id='x'>`);
      socket.end();
    });
  });
  try {
    const c = await client(srv.port);
    c.conn.openStream(CLIENT_HEADER);
    const err = await c.closed;
    assert.instance(err, ConnectionError);
    assert.is(err?.code, 'STREAM_ERR_PEER_CLOSED');
  } finally {
    await srv.stop();
  }
});

test('a handler that throws ends only its connection, with STREAM_ERR_HANDLER and the cause kept', async () => {
  const srv = await echoServer();
  try {
    const boom = new Error('handler bug');
    let resolveClosed!: (e: StreamError | undefined) => void;
    const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost' }, {
      onStanza: () => {
        throw boom;
      },
      onClose: (e) => resolveClosed(e),
    });
    conn.openStream(CLIENT_HEADER);
    conn.send('<iq type="get" id="1"/>');
    const err = await closed;
    assert.is(err?.code, 'STREAM_ERR_HANDLER');
    assert.is(err?.condition, 'internal-server-error');
    assert.is(err?.message, 'a handler threw while processing received data');
    assert.is(err?.cause, boom);
  } finally {
    await srv.stop();
  }
});

test('close() is bounded when the peer never answers', async () => {
  const server = tls.createServer({ cert, key }, () => {});
  const port = await listenLocal(server);
  try {
    const c = await client(port);
    const started = Date.now();
    await c.conn.close(100);
    assert.ok(Date.now() - started < 2000);
  } finally {
    server.close();
  }
});

test('send() signals backpressure and onDrain fires when the socket empties', async () => {
  let peer: tls.TLSSocket | undefined;
  const srv = await echoServer({}, (socket) => {
    peer = socket;
    socket.pause();
  });
  try {
    let drained = 0;
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost' }, {
      onStanza() {},
      onDrain: () => drained++,
    });
    const big = `<message><gcm xmlns="google:mobile:data">"${'x'.repeat(60_000)}"</gcm></message>`;
    let ok = true;
    let sent = 0;
    while (ok && sent < 2000) {
      ok = conn.send(big);
      sent++;
    }
    assert.not.ok(ok, 'the socket buffer filled up');
    assert.is(drained, 0);
    // connect() resolves on the client's side of the handshake; the server's connection callback
    // (which sets `peer`) can run later on a loaded machine: wait for it before resuming the peer.
    for (const deadline = Date.now() + 30_000; peer === undefined && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(peer !== undefined, 'the server saw the connection');
    peer.resume();
    await new Promise<void>((resolve) => {
      const wait = (): void => (drained > 0 ? resolve() : void setTimeout(wait, 5));
      wait();
    });
    conn.destroy();
  } finally {
    peer?.destroy();
    await srv.stop();
  }
});

test('restart() during onStanza parses the rest of the chunk as a new stream', async () => {
  const srv = await echoServer({}, (socket) => {
    socket.once('data', () =>
      socket.write(
        `<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' id='a'><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
          `<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' id='b'><stream:features/>`,
      ),
    );
  });
  try {
    const seen: string[] = [];
    let conn!: XmppConnection;
    const done = new Promise<void>((resolve) => {
      void connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost' }, {
        onStreamOpen: (h) => seen.push(`open:${h.attrs.id}`),
        onStanza: (el) => {
          seen.push(el.local);
          if (el.local === 'success') conn.restart();
          if (el.local === 'features') resolve();
        },
      }).then((c) => {
        conn = c;
        c.openStream(CLIENT_HEADER);
      });
    });
    await done;
    assert.equal(seen, ['open:a', 'success', 'open:b', 'features']);
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('streamError() sends the condition with escaped text and closes', async () => {
  let received = '';
  const server = tls.createServer({ cert, key }, (socket) => {
    const conn: XmppConnection = accept(socket, {}, {
      onStreamOpen: () => {
        conn.openStream(SERVER_HEADER);
        conn.streamError('host-unknown', 'no <such> host');
      },
      onStanza() {},
    });
  });
  const port = await listenLocal(server);
  try {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await once(socket, 'secureConnect');
    socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' to='x'>`);
    await once(socket, 'close');
    assert.match(received, /<host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">no &lt;such&gt; host<\/text>/);
  } finally {
    server.close();
  }
});

test.run();
