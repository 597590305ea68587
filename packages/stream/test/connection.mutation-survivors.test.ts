// XmppConnection behaviour that mutation testing (`npm run test:mutation -- stream`) found no test
// for: the wire trace, flush notifications, the write batching thresholds, the exact stream error
// bytes, what connect() tells the server (SNI, ALPN) and says when it fails. Real TLS on 127.0.0.1.
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConnectionError,
  NS_STREAM,
  accept,
  connect,
  generateDevCertificate,
  xml,
  type StreamError,
  type XmlElement,
  type XmppConnection,
} from '../src/index.js';
import { CLIENT_HEADER, listenLocal } from './helpers.js';
import { toy } from './toy-shortcut.js';

const { cert, key } = generateDevCertificate();
const RAW_SERVER_HEADER = `<?xml version='1.0'?><stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client' id='r1'>`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done()` or the deadline (generous: a loaded machine); never asserts speed. */
async function until(done: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !done(); ) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
}

/** A TLS server on 127.0.0.1 that records what each socket sends and hands it to `onSocket`. */
async function rawServer(onSocket: (socket: tls.TLSSocket, received: () => string) => void, options: tls.TlsOptions = {}) {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key, ...options }, (socket) => {
    sockets.add(socket);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket, () => received);
  });
  const port = await listenLocal(server);
  return {
    server,
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('onTrace sees each chunk read and each send() as it crosses, our stream header included', async () => {
  const srv = await rawServer((socket, received) => {
    let step = 0;
    socket.on('data', () => {
      if (step === 0 && received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER, () => step++);
      if (step === 1 && received().includes('<ping/>')) socket.write("<iq id='p1'/>", () => step++);
    });
  });
  const trace: Array<['in' | 'out', string]> = [];
  const stanzas: XmlElement[] = [];
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza: (el) => stanzas.push(el),
      onTrace: (direction, data) => trace.push([direction, typeof data === 'string' ? data : Buffer.from(data).toString('utf8')]),
    });
    conn.openStream(CLIENT_HEADER);
    await until(() => conn.remoteHeader !== undefined, 'the server header');
    conn.send(Buffer.from('<ping/>'));
    await until(() => stanzas.length === 1, 'the server stanza');
    const out = trace.filter(([d]) => d === 'out').map(([, s]) => s);
    assert.equal(out, [
      "<?xml version='1.0'?><stream:stream to=\"gcm.googleapis.com\" version=\"1.0\" xmlns=\"jabber:client\" xmlns:stream=\"http://etherx.jabber.org/streams\">",
      '<ping/>',
    ]);
    const inbound = trace.filter(([d]) => d === 'in').map(([, s]) => s).join('');
    assert.is(inbound, `${RAW_SERVER_HEADER}<iq id='p1'/>`);
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('onFlushed fires once what was sent has been handed to the operating system, and not before', async () => {
  const srv = await rawServer(() => {});
  try {
    let flushed = 0;
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onFlushed: () => flushed++,
    });
    conn.flush();
    await sleep(20);
    assert.is(flushed, 0, 'flushing nothing writes nothing and reports nothing');
    conn.openStream(CLIENT_HEADER);
    conn.send('<message id="1"/>');
    conn.send('<message id="2"/>');
    assert.is(flushed, 0, 'nothing is flushed within the tick that sent it');
    await until(() => flushed > 0, 'onFlushed');
    assert.is(flushed, 1, 'one tick, one write, one notification');
    conn.send('<message id="3"/>');
    await until(() => flushed > 1, 'the second onFlushed');
    assert.is(flushed, 2);
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('onFlushed waits for a stanza sent just after a write whose callback is still due (plain TCP, where a write completes at once)', async () => {
  // On TCP a write to an empty socket buffer completes within the call, and Node calls it back on
  // the next tick: a stanza sent in between is still in the batch, so nothing is flushed yet.
  const server = net.createServer((socket) => {
    socket.resume();
    socket.on('error', () => {});
  });
  const port = await listenLocal(server);
  try {
    let sent = 0;
    const seen: Array<[number, number]> = [];
    const conn: XmppConnection = await connect({ host: '127.0.0.1', port, transport: 'tcp', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onFlushed: () => void seen.push([conn.rawSocket.bytesWritten, sent]),
    });
    const send = (s: string): void => {
      sent += Buffer.byteLength(s);
      conn.send(s);
    };
    send('<a/>');
    // Queued before the end-of-tick write, so it runs after that write and before its callback.
    process.nextTick(() => send('<b/>'));
    await until(() => seen.length > 0 && seen[seen.length - 1]?.[1] === sent, 'onFlushed after both');
    await sleep(50);
    for (const [written, sentThen] of seen) assert.is(written, sentThen, 'onFlushed fired with a stanza still unwritten');
    conn.destroy();
    await conn.closed;
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a tick writes at its end, except that its first 8 KiB go out at once and then socket-sized writes', async () => {
  const srv = await rawServer(() => {});
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {} });
    const socket = conn.rawSocket;
    assert.instance(socket, tls.TLSSocket);
    conn.openStream(CLIENT_HEADER);
    await until(() => socket.writableLength === 0 && socket.bytesWritten > 0, 'the header write');
    const base = socket.bytesWritten;
    // `bytesWritten` counts what was handed to the socket, written yet or not.
    conn.send('a'.repeat(8191));
    assert.is(socket.bytesWritten, base, 'below 8 KiB the batch waits for the end of the tick');
    conn.send('b');
    assert.is(socket.bytesWritten, base + 8192, 'at 8 KiB it is written at once');
    const hwm = socket.writableHighWaterMark;
    conn.send('c'.repeat(hwm - 1));
    assert.is(socket.bytesWritten, base + 8192, 'after the first write, the batch grows to the socket high-water mark');
    conn.send('d');
    assert.is(socket.bytesWritten, base + 8192 + hwm);
    conn.send(Buffer.from('<e/>'));
    conn.flush();
    assert.is(socket.bytesWritten, base + 8192 + hwm + 4, 'flush() writes the rest now');
    await sleep(0);
    conn.send('x'.repeat(8191));
    assert.is(socket.bytesWritten, base + 8192 + hwm + 4, 'the next tick starts small again');
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('bytes and strings sent in one tick reach the peer in order, byte for byte', async () => {
  let received = (): string => '';
  const srv = await rawServer((_socket, r) => (received = r));
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {} });
    conn.send(Buffer.from('<a>é</a>'));
    conn.send(Buffer.from('<b/>'));
    conn.send('<c>€</c>');
    conn.send(Uint8Array.from(Buffer.from('<d>🎉</d>')));
    conn.send(xml('e', { k: 'v&' }));
    await sleep(0);
    conn.send(Buffer.from('<f/>'));
    conn.send(Buffer.from('<g>ü</g>'));
    await sleep(0);
    conn.send(Uint8Array.from(Buffer.from('<h>ñ</h>')));
    conn.send('<i/>');
    await until(() => received().endsWith('<i/>'), 'the stanzas');
    assert.is(received(), '<a>é</a><b/><c>€</c><d>🎉</d><e k="v&amp;"/><f/><g>ü</g><h>ñ</h><i/>');
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('streamError() writes exactly the error and the closing tag, with a stream header first when ours was not sent', async () => {
  const cases: Array<[string, (conn: XmppConnection) => void, string]> = [
    [
      'after our header, no text',
      (conn) => {
        conn.openStream({ id: 's9' });
        conn.streamError('conflict');
      },
      `<?xml version='1.0'?><stream:stream id="s9"><stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`,
    ],
    [
      'before our header, with text',
      (conn) => conn.streamError('host-unknown', 'who?'),
      `<?xml version='1.0'?><stream:stream version="1.0" xmlns:stream="http://etherx.jabber.org/streams"><stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">who?</text></stream:error></stream:stream>`,
    ],
  ];
  for (const [what, act, expected] of cases) {
    const server = tls.createServer({ cert, key }, (socket) => {
      const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 0 }, { onStreamOpen: () => act(conn), onStanza() {} });
    });
    const port = await listenLocal(server);
    try {
      let received = '';
      const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
      socket.on('data', (d: Buffer) => (received += d.toString()));
      await once(socket, 'secureConnect');
      socket.write(`<stream:stream xmlns:stream='${NS_STREAM}' xmlns='jabber:client'>`);
      await once(socket, 'close');
      assert.is(received, expected, what);
    } finally {
      server.close();
    }
  }
});

test('a received <stream:error> with an unknown or foreign condition is undefined-condition; other children are skipped', async () => {
  const cases: Array<[string, string, string | undefined]> = [
    ["<stream:error><bogus xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", 'undefined-condition', undefined],
    ["<stream:error><conflict xmlns='urn:other'/><text xmlns='urn:other'>no</text></stream:error>", 'undefined-condition', undefined],
    ["<stream:error>x<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>why</text><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", 'reset', 'why'],
  ];
  for (const [errorXml, condition, text] of cases) {
    const srv = await rawServer((socket) => socket.once('data', () => socket.write(`${RAW_SERVER_HEADER}${errorXml}`)));
    try {
      let resolveClosed!: (e: StreamError | undefined) => void;
      const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
      const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, closeTimeoutMs: 200 }, {
        onStanza() {},
        onClose: (e) => resolveClosed(e),
      });
      conn.openStream(CLIENT_HEADER);
      const err = await closed;
      assert.is(err?.code, 'STREAM_ERR_RECEIVED');
      assert.is(err?.condition, condition, errorXml);
      assert.is(err?.text, text, errorXml);
      assert.is(err?.message, `peer sent stream error <${condition}/>${text ? `: ${text}` : ''}`);
    } finally {
      await srv.stop();
    }
  }
});

test('connect() names the server for SNI (not an IP address) and offers ALPN xmpp-client', async () => {
  const seen: Array<[unknown, unknown]> = [];
  const srv = await rawServer((socket) => seen.push([socket.servername, socket.alpnProtocol]), { ALPNProtocols: ['xmpp-client'] });
  try {
    const byName = await connect({ host: 'localhost', port: srv.port, ca: cert, keepaliveIntervalMs: 0 }, { onStanza() {} });
    assert.ok(byName.encrypted, 'the certificate checked against the host name');
    const byIp = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, keepaliveIntervalMs: 0 }, { onStanza() {} });
    await until(() => seen.length === 2, 'both server sockets');
    assert.equal(seen, [['localhost', 'xmpp-client'], [false, 'xmpp-client']]);
    byName.destroy();
    byIp.destroy();
  } finally {
    await srv.stop();
  }
});

test('connect() failures say which transport failed where, and keep the cause', async () => {
  const probe = net.createServer();
  const port = await listenLocal(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  for (const transport of ['tls', 'tcp'] as const) {
    const err = await connect({ host: '127.0.0.1', port, transport }, { onStanza() {} }).catch((e: unknown) => e);
    assert.instance(err, ConnectionError);
    const e = err as ConnectionError;
    assert.is(e.condition, 'remote-connection-failed');
    assert.match(e.message, new RegExp(`^${transport.toUpperCase()} connection to 127\\.0\\.0\\.1:${port} failed: ECONNREFUSED connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    assert.is((e.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  }
});

test('connect() that times out or is aborted mid-handshake says so, with the abort reason as cause', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  const port = await listenLocal(silent);
  try {
    const timedOut = (await connect({ host: '127.0.0.1', port, connectTimeoutMs: 100 }, { onStanza() {} }).then(() => undefined, (e: unknown) => e)) as ConnectionError;
    assert.is(timedOut.message, `connection to 127.0.0.1:${port} timed out after 100 ms`);
    assert.not.ok('cause' in timedOut, 'no cause property without a cause');
    const controller = new AbortController();
    const pending = connect({ host: '127.0.0.1', port, signal: controller.signal, connectTimeoutMs: 60_000 }, { onStanza() {} }).then(() => undefined, (e: unknown) => e as ConnectionError);
    await until(() => sockets.length === 2, 'the second connection to arrive');
    const reason = new Error('stop');
    controller.abort(reason);
    const aborted = (await pending) as ConnectionError;
    assert.is(aborted.code, 'STREAM_ERR_CONNECT');
    assert.is(aborted.condition, 'reset');
    assert.is(aborted.message, `connection to 127.0.0.1:${port} aborted`);
    assert.is(aborted.cause, reason);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('an abort after connect() resolved does nothing to the connection', async () => {
  const srv = await rawServer((socket) => socket.once('data', () => socket.write(RAW_SERVER_HEADER)));
  try {
    const controller = new AbortController();
    let opened = 0;
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', signal: controller.signal, keepaliveIntervalMs: 0 }, {
      onStreamOpen: () => opened++,
      onStanza() {},
      onClose: (e) => closes.push(e),
    });
    controller.abort();
    conn.openStream(CLIENT_HEADER);
    await until(() => opened === 1, 'the server header');
    assert.ok(conn.writable);
    assert.equal(closes, []);
    await conn.close(200);
    assert.is(closes.length, 1);
  } finally {
    await srv.stop();
  }
});

test('pause() stops delivery until resume(); the idle timeout names its limit', async () => {
  const srv = await rawServer((socket, received) => {
    socket.on('data', () => {
      if (received().includes('<go/>')) socket.write("<message id='held'/>");
      else if (received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  // Date.now() (the idle clock) frozen until the test moves it: no idle verdict before it wants one.
  const realNow = Date.now;
  const frozen = realNow();
  Date.now = () => frozen;
  try {
    const stanzas: string[] = [];
    const closes: Array<StreamError | undefined> = [];
    let opened = 0;
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, idleTimeoutMs: 60 }, {
      onStreamOpen: () => opened++,
      onStanza: (el) => stanzas.push(el.attrs.id ?? ''),
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    for (const deadline = performance.now() + 20_000; opened === 0 && performance.now() < deadline; ) await sleep(5);
    conn.pause();
    conn.send('<go/>');
    await sleep(300); // the answer is in our socket's buffer by now, unread
    assert.equal(stanzas, [], 'nothing is delivered while paused');
    conn.resume();
    for (const deadline = performance.now() + 20_000; stanzas.length === 0 && performance.now() < deadline; ) await sleep(5);
    assert.equal(stanzas, ['held']);
    assert.equal(closes, []);
    Date.now = () => frozen + 1000;
    for (const deadline = performance.now() + 20_000; closes.length === 0 && performance.now() < deadline; ) await sleep(5);
    assert.is(closes[0]?.code, 'STREAM_ERR_IDLE_TIMEOUT');
    assert.is(closes[0]?.message, 'no data from peer for 60 ms');
  } finally {
    Date.now = realNow;
    await srv.stop();
  }
});

test('the getters: rawSocket is the socket, closed resolves once it closed, writable goes false on close', async () => {
  const srv = await rawServer(() => {});
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {} });
    assert.instance(conn.rawSocket, tls.TLSSocket);
    assert.ok(conn.writable);
    let done = false;
    void conn.closed.then(() => (done = true));
    conn.destroy();
    assert.not.ok(conn.writable);
    await conn.closed;
    assert.ok(done);
    assert.ok(conn.rawSocket.destroyed);
  } finally {
    await srv.stop();
  }
});

test('a shortcut hands its parts to onShortcut (false: the element to onStanza), or elements when there is no onShortcut', async () => {
  const server = (socket: tls.TLSSocket, received: () => string): void => {
    socket.on('data', () => {
      if (received().includes('<stream:stream')) socket.write(`${RAW_SERVER_HEADER}<x>ab</x><x>odd</x><y/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><x>late</x>`);
    });
  };
  for (const withHandler of [true, false]) {
    const srv = await rawServer(server);
    try {
      const seen: string[] = [];
      let resolveClosed!: (e: StreamError | undefined) => void;
      const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
      const conn = await connect<string>({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, closeTimeoutMs: 200, shortcut: toy }, {
        onStanza: (el) => seen.push(`element:${el.local}:${el.text()}`),
        ...(withHandler ? { onShortcut: (parts: string) => (seen.push(`parts:${parts}`), parts.length % 2 === 0) } : {}),
        onClose: (e) => resolveClosed(e),
      });
      conn.openStream(CLIENT_HEADER);
      const err = await closed;
      assert.is(err?.condition, 'conflict');
      assert.equal(
        seen,
        withHandler ? ['parts:ab', 'parts:odd', 'element:x:odd', 'element:y:'] : ['element:x:ab', 'element:x:odd', 'element:y:'],
        'nothing after the stream error',
      );
    } finally {
      await srv.stop();
    }
  }
});

test('close() waits for the peer\'s closing tag by default (5 s), then reports a clean close', async () => {
  const srv = await rawServer((socket, received) => {
    socket.on('data', () => {
      if (received().includes('</stream:stream>')) setTimeout(() => socket.end('</stream:stream>'), 300);
      else if (received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  try {
    let ended = 0;
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onStreamEnd: () => ended++,
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    await until(() => conn.remoteHeader !== undefined, 'the server header');
    await conn.close();
    assert.is(ended, 1, 'the peer\'s </stream:stream> arrived before the connection was cut');
    assert.equal(closes, [undefined]);
  } finally {
    await srv.stop();
  }
});

test('what is sent in the tick of destroy() is dropped quietly: the close reports no error', async () => {
  const srv = await rawServer(() => {});
  try {
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onClose: (e) => closes.push(e),
    });
    conn.send('<message id="lost"/>');
    conn.destroy();
    await conn.closed;
    await sleep(50);
    assert.equal(closes, [undefined]);
  } finally {
    await srv.stop();
  }
});

test('onFlushed does not fire for writes still queued when the socket is destroyed', async () => {
  let peer: tls.TLSSocket | undefined;
  const srv = await rawServer((socket) => {
    peer = socket;
    socket.pause();
  });
  try {
    let flushed = 0;
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onFlushed: () => flushed++,
    });
    await until(() => peer !== undefined, 'the server socket');
    conn.send('<m/>');
    await until(() => flushed === 1, 'the first flush');
    // More than the socket buffers can take while the peer reads nothing: writes stay pending.
    const big = 'x'.repeat(1 << 20);
    for (let i = 0; i < 8; i++) conn.send(big);
    await sleep(50);
    conn.rawSocket.destroy(new Error('cut'));
    await conn.closed;
    await sleep(50);
    assert.is(flushed, 1, 'the failed writes were not reported as flushed');
  } finally {
    await srv.stop();
  }
});

test('no keepalive while every event-loop turn sends something, none at all with keepaliveIntervalMs 0', async () => {
  for (const keepaliveIntervalMs of [20, 0]) {
    let received = (): string => '';
    const srv = await rawServer((_socket, r) => (received = r));
    try {
      const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs }, { onStanza() {} });
      conn.openStream({ id: 'k' });
      const started = Date.now();
      if (keepaliveIntervalMs > 0) {
        // One send per turn of the event loop (setImmediate), so every keepalive tick finds a write
        // since the last one, however slow the machine; ten intervals of wall time pass meanwhile.
        await new Promise<void>((resolve) => {
          const step = (): void => {
            conn.send('<m/>');
            if (Date.now() - started < 10 * keepaliveIntervalMs) setImmediate(step);
            else resolve();
          };
          setImmediate(step);
        });
      } else {
        await sleep(100);
      }
      await until(() => received().length > 0, 'the header');
      conn.destroy();
      await conn.closed;
      const afterHeader = received().slice(received().indexOf('id="k">') + 'id="k">'.length);
      assert.ok(afterHeader.startsWith(keepaliveIntervalMs > 0 ? '<m/>' : ''), afterHeader.slice(0, 20));
      assert.not.ok(afterHeader.includes(' '), `a keepalive space was written (interval ${keepaliveIntervalMs})`);
    } finally {
      await srv.stop();
    }
  }
});

test('a peer half-closing an accepted half-open socket gets our end too, and the close is STREAM_ERR_PEER_CLOSED with its text', async () => {
  const closes: Array<StreamError | undefined> = [];
  const server = tls.createServer({ cert, key, allowHalfOpen: true }, (socket) => {
    accept(socket, { keepaliveIntervalMs: 0 }, { onStanza() {}, onClose: (e) => closes.push(e) });
  });
  const port = await listenLocal(server);
  try {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', allowHalfOpen: true } as tls.ConnectionOptions);
    let ended = false;
    socket.on('end', () => (ended = true));
    await once(socket, 'secureConnect');
    socket.end();
    socket.resume();
    await until(() => ended, 'the server side to end too'); // a half-open server socket does not by itself
    socket.destroy();
    await until(() => closes.length === 1, 'the server close');
    assert.is(closes[0]?.code, 'STREAM_ERR_PEER_CLOSED');
    assert.is(closes[0]?.message, 'the peer ended the connection without closing the stream');
    assert.is(closes[0]?.condition, 'remote-connection-failed');
  } finally {
    server.close();
  }
});

test('a reset connection is STREAM_ERR_SOCKET naming the error; a socket destroyed under us is STREAM_ERR_PEER_CLOSED', async () => {
  // TLS over a TCP socket we hold, so that the TCP socket itself can be reset.
  const raws: net.Socket[] = [];
  const tcp = net.createServer((raw) => {
    raws.push(raw);
    const socket = new tls.TLSSocket(raw, { isServer: true, cert, key });
    socket.on('error', () => {});
    socket.once('data', () => raw.resetAndDestroy());
  });
  const srv = { port: await listenLocal(tcp), stop: () => new Promise<void>((r) => { for (const s of raws) s.destroy(); tcp.close(() => r()); }) };
  try {
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    await conn.closed;
    assert.is(closes[0]?.code, 'STREAM_ERR_SOCKET');
    assert.is(closes[0]?.condition, 'remote-connection-failed');
    assert.is(closes[0]?.message, 'socket error: ECONNRESET');
    assert.is((closes[0]?.cause as NodeJS.ErrnoException).code, 'ECONNRESET');

    const other: Array<StreamError | undefined> = [];
    const conn2 = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onClose: (e) => other.push(e),
    });
    conn2.rawSocket.destroy();
    await conn2.closed;
    assert.is(other[0]?.code, 'STREAM_ERR_PEER_CLOSED');
    assert.is(other[0]?.condition, 'remote-connection-failed');
    assert.is(other[0]?.message, 'the connection closed without the stream being closed');
  } finally {
    await srv.stop();
  }
});

test('a stanza named error outside the stream namespace is a stanza, not a stream error', async () => {
  const srv = await rawServer((socket) => socket.once('data', () => socket.write(`${RAW_SERVER_HEADER}<error xmlns='jabber:client' id='e1'/><stream:features/>`)));
  try {
    const stanzas: XmlElement[] = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza: (el) => stanzas.push(el) });
    conn.openStream(CLIENT_HEADER);
    await until(() => stanzas.length === 2, 'both stanzas');
    assert.equal(stanzas.map((el) => el.name), ['error', 'stream:features']);
    assert.ok(conn.writable);
    conn.destroy();
  } finally {
    await srv.stop();
  }
});

test('without our stream header, no lone closing tag is written: close(), the peer\'s stream error or its closing tag', async () => {
  const cases: Array<[string, string | undefined]> = [
    ['close() before openStream()', undefined],
    ['the peer\'s stream error first', "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"],
    ['the peer\'s closing tag first', '</stream:stream>'],
  ];
  for (const [what, peerSends] of cases) {
    let received = (): string => '';
    let ended = false;
    const srv = await rawServer((socket, r) => {
      received = r;
      socket.on('end', () => (ended = true));
      if (peerSends !== undefined) socket.write(`${RAW_SERVER_HEADER}${peerSends}`);
    });
    try {
      const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, closeTimeoutMs: 5000 }, { onStanza() {} });
      if (peerSends === undefined) void conn.close();
      await until(() => ended, `the client's end (${what})`);
      assert.is(received(), '', what);
      conn.destroy();
    } finally {
      await srv.stop();
    }
  }
});

test('bad input after our closing tag ends the connection without writing anything more', async () => {
  let received = (): string => '';
  const srv = await rawServer((socket, r) => {
    received = r;
    socket.on('data', () => {
      if (r().includes('</stream:stream>')) socket.write('<a></b>');
      else if (r().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  try {
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    await until(() => conn.remoteHeader !== undefined, 'the server header');
    await conn.close(10_000);
    assert.is(closes[0]?.code, 'STREAM_ERR_NOT_WELL_FORMED');
    assert.ok(received().endsWith('"></stream:stream>'), received().slice(-40));
  } finally {
    await srv.stop();
  }
});

test('the idle check on a fake clock: data and resume() restart it, pause() stops it, exactly idleTimeoutMs of silence ends it', async () => {
  // Date.now() is the connection's clock (its check interval is real time, idleTimeoutMs / 4): the
  // test moves it by hand, so what counts as silence never depends on how loaded the machine is.
  const realNow = Date.now;
  const t0 = realNow();
  let now = t0;
  Date.now = () => now;
  const realUntil = async (done: () => boolean, what: string): Promise<void> => {
    for (const deadline = performance.now() + 20_000; !done(); await sleep(5)) {
      if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    }
  };
  const checks = (): Promise<void> => sleep(600); // six check intervals of real time
  let wire = (): string => '';
  const srv = await rawServer((socket, received) => {
    wire = received;
    socket.on('data', () => {
      if (received().includes('<go/>')) socket.write("<m id='1'/>");
      else if (received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  try {
    const stanzas: XmlElement[] = [];
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, idleTimeoutMs: 400 }, {
      onStanza: (el) => stanzas.push(el),
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    await realUntil(() => conn.remoteHeader !== undefined, 'the server header');
    now = t0 + 300;
    conn.send('<go/>');
    await realUntil(() => stanzas.length === 1, 'the answer');
    now = t0 + 600; // 300 since the answer arrived
    await checks();
    assert.equal(closes, [], 'received data restarts the idle clock');
    conn.pause();
    now = t0 + 5000;
    await checks();
    assert.equal(closes, [], 'no idle verdict while we are not reading');
    conn.resume();
    await checks();
    assert.equal(closes, [], 'resume() restarts the idle clock');
    now = t0 + 5399;
    await checks();
    assert.equal(closes, [], 'one millisecond short of idleTimeoutMs');
    now = t0 + 5400;
    await realUntil(() => closes.length > 0, 'the idle timeout');
    assert.is(closes[0]?.code, 'STREAM_ERR_IDLE_TIMEOUT');
    assert.is(closes[0]?.condition, 'connection-timeout');
    await realUntil(() => wire().endsWith('</stream:stream>'), 'the stream error');
    assert.ok(wire().endsWith('<stream:error><connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>'), wire().slice(-120));
  } finally {
    Date.now = realNow;
    await srv.stop();
  }
});

test('send() after close() throws STREAM_ERR_CLOSED; a second close() or a streamError() writes nothing more; destroy(error) reports that error', async () => {
  let received = (): string => '';
  const srv = await rawServer((socket, r) => {
    received = r;
    socket.on('data', () => {
      if (r().includes('<stream:stream') && !r().includes('</stream:stream>')) socket.write(RAW_SERVER_HEADER);
    });
  });
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {} });
    conn.openStream(CLIENT_HEADER);
    await until(() => conn.remoteHeader !== undefined, 'the server header');
    const closing = conn.close(60_000);
    void conn.close(60_000);
    // Our stream is closed: a stream error now would be bytes after our closing tag.
    conn.streamError('policy-violation');
    assert.throws(
      () => conn.send('<late/>'),
      (e: StreamError) => e instanceof ConnectionError && e.code === 'STREAM_ERR_CLOSED' && e.condition === 'reset' && e.message === 'cannot send: the stream is closing or closed',
    );
    await until(() => received().includes('</stream:stream>'), 'our closing tag');
    await sleep(50);
    assert.is(received().split('</stream:stream>').length, 2, 'one closing tag');
    assert.not.ok(received().includes('<stream:error>'), 'no stream error after our closing tag');
    const reason = new ConnectionError('STREAM_ERR_SOCKET', 'reset', 'given up');
    const closes: Array<StreamError | undefined> = [];
    const other = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {}, onClose: (e) => closes.push(e) });
    other.destroy(reason);
    await other.closed;
    assert.equal(closes, [reason]);
    conn.destroy();
    await closing;
  } finally {
    await srv.stop();
  }
});

test('a clean close that takes longer than idleTimeoutMs is still clean', async () => {
  const srv = await rawServer((socket, received) => {
    socket.on('data', () => {
      if (received().includes('</stream:stream>')) setTimeout(() => socket.end('</stream:stream>'), 400);
      else if (received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  // The idle check reads Date.now(): frozen while the stream opens (a slow machine cannot time
  // the peer out), then moved past idleTimeoutMs once the close began.
  const realNow = Date.now;
  const frozen = realNow();
  Date.now = () => frozen;
  try {
    const closes: Array<StreamError | undefined> = [];
    let ended = 0;
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, idleTimeoutMs: 50 }, {
      onStanza() {},
      onStreamEnd: () => ended++,
      onClose: (e) => closes.push(e),
    });
    conn.openStream(CLIENT_HEADER);
    for (const deadline = performance.now() + 20_000; conn.remoteHeader === undefined && performance.now() < deadline; ) await sleep(5);
    const closing = conn.close(30_000);
    Date.now = () => frozen + 1000;
    await closing;
    assert.is(ended, 1);
    assert.equal(closes, [undefined], 'the idle check stopped when the close began');
  } finally {
    Date.now = realNow;
    await srv.stop();
  }
});

test('after our streamError(), what the peer still sends is not delivered', async () => {
  const srv = await rawServer((socket, received) => {
    socket.on('data', () => {
      if (received().includes('<stream:error>')) socket.write("<message id='after'/>");
      else if (received().includes('<stream:stream')) socket.write(`${RAW_SERVER_HEADER}<message id='before'/>`);
    });
  }, { allowHalfOpen: true });
  try {
    const ids: string[] = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, closeTimeoutMs: 1000 }, {
      onStanza: (el) => {
        ids.push(el.attrs.id ?? '');
        if (el.attrs.id === 'before') conn.streamError('policy-violation');
      },
    });
    conn.openStream(CLIENT_HEADER);
    await conn.closed;
    assert.equal(ids, ['before']);
  } finally {
    await srv.stop();
  }
});

test('the connection ends at once (FIN, not the close timer) after a parse error, a peer stream error, the peer\'s closing tag or a handler that threw; replies sent meanwhile go first', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a parse error', "<message id='q'/><a></b>", /<message id="r"\/><stream:error><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><\/stream:error><\/stream:stream>$/],
    ['a stream error', "<message id='q'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", /<message id="r"\/><\/stream:stream>$/],
    ['the peer closing', "<message id='q'/></stream:stream>", /<message id="r"\/><\/stream:stream>$/],
    ['a handler that threw', "<message id='q'/><message id='boom'/>", /<message id="r"\/><stream:error><internal-server-error xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><\/stream:error><\/stream:stream>$/],
  ];
  for (const [what, peerSends, expected] of cases) {
    let received = (): string => '';
    let ended = false;
    const srv = await rawServer((socket, r) => {
      received = r;
      socket.on('end', () => (ended = true));
      socket.on('data', () => {
        if (r().includes('<stream:stream') && !r().includes('<message')) socket.write(`${RAW_SERVER_HEADER}${peerSends}`);
      });
    }, { allowHalfOpen: true });
    try {
      const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, closeTimeoutMs: 60_000 }, {
        onStanza: (el) => {
          if (el.attrs.id === 'q') conn.send('<message id="r"/>');
          if (el.attrs.id === 'boom') throw new Error('handler bug');
        },
      });
      conn.openStream(CLIENT_HEADER);
      await until(() => ended, `our FIN after ${what}`);
      assert.match(received(), expected, what);
      conn.destroy();
    } finally {
      await srv.stop();
    }
  }
});

test('while we close, the peer\'s closing tag or stream error gets no second closing tag from us', async () => {
  for (const answer of ['</stream:stream>', "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"]) {
    let received = (): string => '';
    let ended = false;
    const srv = await rawServer((socket, r) => {
      received = r;
      socket.on('end', () => (ended = true));
      socket.on('data', () => {
        if (r().includes('</stream:stream>')) socket.write(answer);
        else if (r().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
      });
    }, { allowHalfOpen: true });
    try {
      const closes: Array<StreamError | undefined> = [];
      const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {}, onClose: (e) => closes.push(e) });
      conn.openStream(CLIENT_HEADER);
      await until(() => conn.remoteHeader !== undefined, 'the server header');
      void conn.close(60_000);
      await until(() => ended, 'our FIN');
      assert.is(received().split('</stream:stream>').length, 2, `one closing tag (peer answered ${answer})`);
      conn.destroy();
      await conn.closed;
      assert.is(closes[0]?.code, answer.startsWith('<stream:error') ? 'STREAM_ERR_RECEIVED' : undefined);
    } finally {
      await srv.stop();
    }
  }
});

test('a peer that answers our close with FIN alone still gives a clean close: we asked for it', async () => {
  const srv = await rawServer((socket, received) => {
    socket.on('data', () => {
      if (received().includes('</stream:stream>')) socket.end();
      else if (received().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  try {
    const closes: Array<StreamError | undefined> = [];
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, { onStanza() {}, onClose: (e) => closes.push(e) });
    conn.openStream(CLIENT_HEADER);
    await until(() => conn.remoteHeader !== undefined, 'the server header');
    await conn.close(60_000);
    assert.equal(closes, [undefined]);
  } finally {
    await srv.stop();
  }
});

test.run();
