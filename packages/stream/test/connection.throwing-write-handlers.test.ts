import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accept, connect, generateDevCertificate, type StreamError, type XmppConnection } from '../src/index.js';
import { CLIENT_HEADER, SERVER_HEADER, listenLocal } from './helpers.js';

// onDrain and onFlushed run inside the socket's own write callbacks. A throw there was an uncaught
// exception out of the socket's write path (the process ended); it now ends only its connection,
// as a throwing data handler does.

const { cert, key } = generateDevCertificate();

async function sink() {
  const server = tls.createServer({ cert, key }, (socket) => {
    const conn: XmppConnection = accept(socket, {}, { onStreamOpen: () => conn.openStream(SERVER_HEADER), onStanza() {} });
  });
  const port = await listenLocal(server);
  return { port, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

for (const name of ['onDrain', 'onFlushed'] as const) {
  test(`an ${name} handler that throws ends only its connection, with STREAM_ERR_HANDLER and the cause kept`, async () => {
    const srv = await sink();
    let conn: XmppConnection | undefined;
    try {
      const boom = new Error(`${name} bug`);
      let resolveClosed!: (e: StreamError | undefined) => void;
      const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
      conn = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0, socketHighWaterMark: 4096 }, {
        onStanza() {},
        [name]: () => {
          throw boom;
        },
        onClose: (e: StreamError | undefined) => resolveClosed(e),
      });
      conn.openStream(CLIENT_HEADER);
      // 10 000 bytes go to the socket at once, over its 4 KiB mark: a drain follows, and the write's callback.
      conn.send(`<message>${'x'.repeat(10_000)}</message>`);
      const err = await closed;
      assert.is(err?.code, 'STREAM_ERR_HANDLER');
      assert.is(err?.condition, 'internal-server-error');
      assert.is(err?.message, `the ${name} handler threw`);
      assert.is(err?.cause, boom);
    } finally {
      conn?.destroy();
      await srv.stop();
    }
  });
}

test.run();
