// Durations a Node timer cannot wait (NaN, negative, Infinity, past 2^31 - 1 ms): Node fires such a
// timer after 1 ms with only a warning, so a keepalive of Infinity would write a space every
// millisecond. connect(), accept() and close() refuse them with a RangeError naming the option.
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accept, connect, type XmppConnection } from '../src/index.js';

const BAD = [Number.POSITIVE_INFINITY, Number.NaN, -1, 2 ** 31, '30000'];
const OPTIONS = ['keepaliveIntervalMs', 'idleTimeoutMs', 'closeTimeoutMs', 'connectTimeoutMs'] as const;

/** A TCP listener on 127.0.0.1 that hands over each accepted socket, and a client socket connected to it. */
async function socketPair(): Promise<{ server: net.Server; serverSide: net.Socket; clientSide: net.Socket }> {
  let take: (s: net.Socket) => void = () => {};
  const accepted = new Promise<net.Socket>((r) => (take = r));
  const server = net.createServer((s) => take(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const clientSide = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  return { server, serverSide: await accepted, clientSide };
}

test('connect() rejects a duration no timer can wait with a RangeError naming it, before any socket opens', async () => {
  // Nothing listens here: without the check the promise fails later, with STREAM_ERR_CONNECT.
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    s.destroy();
  });
  const port = (server.address() as net.AddressInfo).port;
  try {
    for (const name of OPTIONS) {
      for (const bad of BAD) {
        const err = await connect({ host: '127.0.0.1', port, transport: 'tcp', [name]: bad }, { onStanza: () => {} }).then(
          (c: XmppConnection) => {
            c.destroy();
            return undefined;
          },
          (e: unknown) => e,
        );
        assert.instance(err, RangeError, `${name}: ${String(bad)}`);
        assert.match((err as Error).message, new RegExp(`^${name} must be a number of milliseconds from 0 to 2147483647`));
      }
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.is(connections, 0);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('accept() throws the same RangeError for a server-side duration; 0 (off) and the limit itself are accepted', async () => {
  const { server, serverSide, clientSide } = await socketPair();
  try {
    for (const name of ['keepaliveIntervalMs', 'idleTimeoutMs', 'closeTimeoutMs'] as const) {
      for (const bad of BAD) {
        assert.throws(() => accept(serverSide, { [name]: bad }, { onStanza: () => {} }), (e: unknown) => e instanceof RangeError && e.message.startsWith(`${name} must be`));
      }
    }
    const conn = accept(serverSide, { keepaliveIntervalMs: 0, idleTimeoutMs: 2 ** 31 - 1, closeTimeoutMs: 0 }, { onStanza: () => {} });
    conn.destroy();
  } finally {
    clientSide.destroy();
    serverSide.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('close(timeoutMs) rejects a duration no timer can wait and leaves the connection open; a good one then closes it', async () => {
  const { server, serverSide, clientSide } = await socketPair();
  try {
    const conn = accept(serverSide, { keepaliveIntervalMs: 0 }, { onStanza: () => {} });
    // null and '' passed the comparisons (as 0) and cut the connection after 1 ms; '30000' waited as a number.
    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN, -5, 2 ** 31, null, '', '30000']) {
      const err = await conn.close(bad as number).then(() => undefined, (e: unknown) => e);
      assert.instance(err, RangeError, String(bad));
      assert.ok(conn.writable, `still open after close(${String(bad)})`);
    }
    await conn.close(20);
    assert.not.ok(conn.writable);
  } finally {
    clientSide.destroy();
    serverSide.destroy();
    await new Promise((r) => server.close(r));
  }
});

test.run();
