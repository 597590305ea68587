// XmppConnection's closing paths, keepalive timing and write ordering: stanzas batched in one tick
// against direct writes, close reasons, errors before our header (written from a review).
import * as net from 'node:net';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  StanzaParser,
  accept,
  connect,
  generateDevCertificate,
  type ConnectionOptions,
  type StreamError,
  type XmlElement,
  type XmppConnection,
} from '../src/index.js';
import { CLIENT_HEADER, SERVER_HEADER, listenLocal } from './helpers.js';

const { cert, key } = generateDevCertificate();
const RAW_SERVER_HEADER =
  "<?xml version='1.0'?><stream:stream from='gcm.googleapis.com' id='r1' version='1.0' " +
  "xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the promise's value, or with `timedOut` after `ms`. The timer never outlives it. */
async function within<T, U>(p: Promise<T>, ms: number, timedOut: U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<U>((r) => (timer = setTimeout(() => r(timedOut), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A TLS server on 127.0.0.1 that hands each accepted socket to `onSocket`; `stop` destroys them all.
 * `allowHalfOpen`: the raw socket does not answer our FIN with its own (a peer that keeps TCP open).
 */
async function tlsServer(onSocket: (socket: tls.TLSSocket) => void, allowHalfOpen = false) {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key, allowHalfOpen }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  const port = await listenLocal(server);
  return {
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A client connection that records what it gets. */
async function client(port: number, options: Partial<Parameters<typeof connect>[0]> = {}) {
  const stanzas: XmlElement[] = [];
  const closes: Array<StreamError | undefined> = [];
  let opened = 0;
  let resolveClosed!: (e: StreamError | undefined) => void;
  const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
  const conn = await connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', ...options }, {
    onStreamOpen: () => opened++,
    onStanza: (el) => stanzas.push(el),
    onClose: (e) => {
      closes.push(e);
      resolveClosed(e);
    },
  });
  return { conn, stanzas, closes, closed, opened: () => opened };
}

/** Collects everything a raw socket receives, parsed by a fresh StanzaParser as events. */
function rawRecorder(socket: net.Socket) {
  const events: string[] = [];
  let bytes = '';
  const parser = new StanzaParser({
    onStreamOpen: () => events.push('open'),
    onStanza: (el) => events.push(`${el.local}${el.attrs.id ? `#${el.attrs.id}` : ''}`),
    onStreamEnd: () => events.push('end'),
    onError: (e) => events.push(`error:${e.code}`),
  });
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.toString('utf8');
    parser.write(chunk);
  });
  return { events, bytes: () => bytes };
}

// ---------------------------------------------------------------------------------------------
// Bugs (fail until fixed)
// ---------------------------------------------------------------------------------------------

test('a peer that sends </stream:stream> but keeps TCP open still gets onClose within closeTimeoutMs', async () => {
  // The peer closes its stream and then never sends FIN (buggy or malicious server).
  const srv = await tlsServer((socket) => {
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('<stream:stream')) socket.write(`${RAW_SERVER_HEADER}</stream:stream>`);
    });
  }, true);
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { closeTimeoutMs: 150, keepaliveIntervalMs: 0 });
    c.conn.openStream(CLIENT_HEADER);
    const result = await within(c.closed, 600, 'timeout' as const);
    assert.is.not(result, 'timeout', 'onClose never fired: the connection hangs half-closed with no close timer');
    assert.is(c.closes.length, 1);
  } finally {
    c?.conn.destroy();
    await srv.stop();
  }
});

test('stanzas that follow a received <stream:error> are not delivered to onStanza', async () => {
  // RFC 6120 §4.9.1.1: a stream error is unrecoverable and ends the stream; whatever the peer
  // writes after it is not a stanza of a live stream. (An app answering it with send() would
  // even get STREAM_ERR_CLOSED thrown out of its onStanza.)
  const srv = await tlsServer((socket) => {
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('<stream:stream')) {
        socket.write(
          `${RAW_SERVER_HEADER}<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>` +
            `<message id='after-error'><body>x</body></message>`,
        );
      }
    });
  }, true);
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { closeTimeoutMs: 150, keepaliveIntervalMs: 0 });
    c.conn.openStream(CLIENT_HEADER);
    const err = await within(c.closed, 1500, undefined);
    assert.is(err?.code, 'STREAM_ERR_RECEIVED');
    assert.is(err?.condition, 'conflict');
    assert.equal(c.stanzas.map((s) => s.attrs.id), [], 'a stanza after the stream error was delivered');
  } finally {
    c?.conn.destroy();
    await srv.stop();
  }
});

test('a whitespace keepalive is never written before our stream header (it would precede <?xml)', async () => {
  // Server side: accept() starts the keepalive timer at once, but the server only writes its header
  // when the client's arrives. A client slower than one keepalive interval receives ' <?xml …',
  // which is not well-formed (the XML declaration must come first), and our own parser says so.
  let server: XmppConnection | undefined;
  const srv = await tlsServer((socket) => {
    const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 20 } satisfies ConnectionOptions, {
      onStreamOpen: () => conn.openStream(SERVER_HEADER),
      onStanza: () => {},
    });
    server = conn;
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0 });
    await sleep(120); // a few server keepalive intervals before the client opens its stream
    c.conn.openStream(CLIENT_HEADER);
    const err = await within(c.closed, 300, 'still-open' as const);
    assert.is(err, 'still-open', `client stream failed: ${(err as StreamError | undefined)?.code}`);
    assert.is(c.opened(), 1, 'the server header was not accepted');
  } finally {
    c?.conn.destroy();
    server?.destroy();
    await srv.stop();
  }
});

test('a keepalive is not written between SASL-style restart() and the new stream header', async () => {
  // Same cause after a restart: the server sends <success/>, restarts and waits for the client's
  // new header; if a keepalive interval passes first, the client (whose parser was reset on
  // <success/>) sees ' <?xml …' and fails.
  let server: XmppConnection | undefined;
  const srv = await tlsServer((socket) => {
    let streams = 0;
    const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 20 }, {
      onStreamOpen: () => {
        streams++;
        conn.openStream(SERVER_HEADER);
        if (streams === 1) {
          conn.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
          conn.restart();
        }
      },
      onStanza: () => {},
    });
    server = conn;
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0 });
    const conn = c.conn;
    const got = c.stanzas;
    conn.openStream(CLIENT_HEADER);
    for (let i = 0; i < 50 && !got.some((s) => s.local === 'success'); i++) await sleep(10);
    assert.ok(got.some((s) => s.local === 'success'), 'no <success/>');
    conn.restart();
    await sleep(120); // slow client: a few server keepalive intervals pass
    conn.openStream(CLIENT_HEADER);
    const err = await within(c.closed, 300, 'still-open' as const);
    assert.is(err, 'still-open', `client stream failed after restart: ${(err as StreamError | undefined)?.code}`);
    assert.is(c.opened(), 2);
  } finally {
    c?.conn.destroy();
    server?.destroy();
    await srv.stop();
  }
});

test('a stream error for a bad initial header is sent inside a stream header (RFC 6120 §4.9.1.2)', async () => {
  // The server's parser refuses the client's header (wrong stream namespace). The connection
  // writes <stream:error> straight away although it never opened its own stream, so the client
  // cannot parse it: it sees an unbound `stream:` prefix instead of <invalid-namespace/>.
  let server: XmppConnection | undefined;
  let serverClose: StreamError | undefined;
  const srv = await tlsServer((socket) => {
    const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 0 }, {
      onStreamOpen: () => conn.openStream(SERVER_HEADER),
      onStanza: () => {},
      onClose: (e) => (serverClose = e),
    });
    server = conn;
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0, closeTimeoutMs: 200 });
    c.conn.openStream({ ...CLIENT_HEADER, 'xmlns:stream': 'urn:not-the-stream-namespace' });
    const err = await within(c.closed, 1500, undefined);
    for (let i = 0; i < 50 && serverClose === undefined; i++) await sleep(10);
    assert.is(serverClose?.code, 'STREAM_ERR_INVALID_NAMESPACE');
    assert.is(err?.code, 'STREAM_ERR_RECEIVED', `client saw ${err?.code} instead of the server's stream error`);
    assert.is(err?.condition, 'invalid-namespace');
  } finally {
    c?.conn.destroy();
    server?.destroy();
    await srv.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// Regression guards (pass today)
// ---------------------------------------------------------------------------------------------

test('stanzas sent in the same tick as close() reach the peer before </stream:stream>', async () => {
  let rec: ReturnType<typeof rawRecorder> | undefined;
  const srv = await tlsServer((socket) => {
    rec = rawRecorder(socket);
    socket.on('data', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
      if (s.includes('</stream:stream>')) socket.end('</stream:stream>');
    });
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0, closeTimeoutMs: 500 });
    c.conn.openStream(CLIENT_HEADER);
    for (let i = 0; i < 50 && c.opened() === 0; i++) await sleep(10);
    c.conn.send('<message id="a"/>');
    c.conn.send(Buffer.from('<message id="b"/>'));
    const closing = c.conn.close();
    assert.throws(() => c!.conn.send('<message id="late"/>'), (e: StreamError) => e.code === 'STREAM_ERR_CLOSED');
    await within(closing, 1500, undefined);
    assert.equal(rec?.events, ['open', 'message#a', 'message#b', 'end']);
    assert.equal(c.closes, [undefined], 'onClose once, clean');
  } finally {
    c?.conn.destroy();
    await srv.stop();
  }
});

test('buffers sent in one tick arrive byte for byte and in order, back to back in one slab or not', async () => {
  let rec: ReturnType<typeof rawRecorder> | undefined;
  const srv = await tlsServer((socket) => {
    rec = rawRecorder(socket);
    socket.on('data', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
      if (s.includes('</stream:stream>')) socket.end('</stream:stream>');
    });
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0, closeTimeoutMs: 500 });
    c.conn.openStream(CLIENT_HEADER);
    for (let i = 0; i < 50 && c.opened() === 0; i++) await sleep(10);
    // Stanzas carved one after another from one slab, as GcmEncoder does, interleaved with others.
    const slab = Buffer.alloc(256);
    const views: Buffer[] = [];
    let at = 0;
    for (const id of ['a', 'b', 'c', 'e']) {
      const n = slab.write(`<message id="${id}"/>`, at, 'latin1');
      views.push(slab.subarray(at, at + n));
      at += n;
    }
    const [a, b, c0, e] = views as [Buffer, Buffer, Buffer, Buffer];
    // A tick of back-to-back views only: one write of the slab's own memory, no copy.
    const socket = c.conn.rawSocket;
    const written: unknown[] = [];
    const write = socket.write;
    socket.write = function (this: typeof socket, data: unknown, ...rest: unknown[]) {
      written.push(data);
      return (write as (...args: unknown[]) => boolean).call(this, data, ...rest);
    } as typeof socket.write;
    for (const v of [a, b, c0]) c.conn.send(v);
    await sleep(0);
    assert.is(written.length, 1);
    assert.ok(written[0] instanceof Uint8Array && written[0].buffer === slab.buffer && written[0].byteLength === a.length + b.length + c0.length, 'a view of the slab');
    // Two memories where the second view starts at the offset where the first ends: not one run.
    const g = Buffer.from('<message id="g"/>');
    const h = Buffer.from('<message id="h"/>');
    const gView = new Uint8Array(new ArrayBuffer(64), 0, g.length);
    gView.set(g);
    const hView = new Uint8Array(new ArrayBuffer(64), g.length, h.length);
    hView.set(h);
    const sent = [a, b, c0, Buffer.from('<message id="d"/>'), e, slab.subarray(at, at), a, new Uint8Array(Buffer.from('<message id="f"/>')), gView, hView];
    for (const v of sent) c.conn.send(v);
    await within(c.conn.close(), 1500, undefined);
    assert.equal(rec?.events, ['open', 'message#a', 'message#b', 'message#c', 'message#a', 'message#b', 'message#c', 'message#d', 'message#e', 'message#a', 'message#f', 'message#g', 'message#h', 'end']);
    assert.ok(rec?.bytes().includes(Buffer.concat([a, b, c0, ...sent]).toString('latin1')), 'the exact bytes, in order');
  } finally {
    c?.conn.destroy();
    await srv.stop();
  }
});

test('stanzas sent in the same tick as streamError() precede the <stream:error>', async () => {
  let rec: ReturnType<typeof rawRecorder> | undefined;
  const srv = await tlsServer((socket) => {
    rec = rawRecorder(socket);
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('<stream:stream')) socket.write(RAW_SERVER_HEADER);
    });
  });
  let c: Awaited<ReturnType<typeof client>> | undefined;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 0, closeTimeoutMs: 200 });
    c.conn.openStream(CLIENT_HEADER);
    for (let i = 0; i < 50 && c.opened() === 0; i++) await sleep(10);
    c.conn.send('<message id="a"/>');
    c.conn.streamError('policy-violation');
    c.conn.streamError('conflict'); // no-op once closing
    await within(c.closed, 1500, undefined);
    for (let i = 0; i < 50 && !rec?.events.includes('end'); i++) await sleep(10);
    assert.equal(rec?.events, ['open', 'message#a', 'error', 'end']);
    assert.ok(rec?.bytes().includes('<policy-violation'));
    assert.not.ok(rec?.bytes().includes('<conflict'));
    assert.is(c.closes.length, 1);
  } finally {
    c?.conn.destroy();
    await srv.stop();
  }
});

test('a peer that sends <stream:error> and keeps TCP open is closed after closeTimeoutMs, reported once', async () => {
  let rec: ReturnType<typeof rawRecorder> | undefined;
  const srv = await tlsServer((socket) => {
    rec = rawRecorder(socket);
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('<stream:stream')) {
        socket.write(`${RAW_SERVER_HEADER}<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`);
      }
    });
  }, true);
  let c: Awaited<ReturnType<typeof client>> | undefined;
  // The idle check reads Date.now(): frozen until the close, so a slow machine cannot time the
  // peer out before its stream error arrives; then moved far past idleTimeoutMs.
  const realNow = Date.now;
  const frozen = realNow();
  Date.now = () => frozen;
  try {
    c = await client(srv.port, { keepaliveIntervalMs: 10, idleTimeoutMs: 40, closeTimeoutMs: 150 });
    c.conn.openStream(CLIENT_HEADER);
    const err = await within(c.closed, 20_000, undefined);
    assert.is(err?.code, 'STREAM_ERR_RECEIVED');
    assert.is(err?.condition, 'system-shutdown');
    Date.now = () => frozen + 1000;
    await sleep(60); // no second report from the idle or keepalive timers
    assert.is(c.closes.length, 1);
    assert.equal(rec?.events, ['open', 'end'], 'we answer with </stream:stream> and no keepalive junk matters');
    assert.throws(() => c!.conn.send('<x/>'), (e: StreamError) => e.code === 'STREAM_ERR_CLOSED');
  } finally {
    Date.now = realNow;
    c?.conn.destroy();
    await srv.stop();
  }
});


test('an onClose handler that throws: the connection still counts as closed (closed and close() resolve); the error is an uncaught exception', async () => {
  const srv = await tlsServer((socket) => {
    socket.on('data', () => socket.destroy());
  });
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  try {
    const conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza: () => {},
      onClose: () => {
        throw new Error('boom from onClose');
      },
    });
    conn.openStream(CLIENT_HEADER);
    assert.is(await within(conn.closed, 2000, 'timeout' as const), undefined, 'closed never resolved');
    assert.is(await within(conn.close(), 500, 'timeout' as const), undefined);
    await sleep(10);
    assert.equal(uncaught.map((e) => e.message), ['boom from onClose']);
  } finally {
    process.off('uncaughtException', onUncaught);
    await srv.stop();
  }
});

test.run();
