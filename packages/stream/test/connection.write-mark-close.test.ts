// A lowered write mark's onDrain across close() (written from a review of setWriteMark): an owner
// whose send() returned false may have stopped reading (CcsConnection does when its ACKs' send()
// returns false) and resumes on onDrain. Lost, it never read the peer's closing tag, and close()
// waited its whole timeout — as Node's own 'drain' at the socket's mark, it must come while closing.
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accept, connect, generateDevCertificate, type StreamError, type XmppConnection } from '../src/index.js';
import { CLIENT_HEADER, SERVER_HEADER, listenLocal } from './helpers.js';

const { cert, key } = generateDevCertificate();
const BIG = `<message>${'x'.repeat(10_000)}</message>`;

/** A TLS server on 127.0.0.1 whose stream reads everything and answers our closing tag with its own. */
async function server() {
  const conns = new Set<XmppConnection>();
  const srv = tls.createServer({ cert, key }, (socket) => {
    const conn: XmppConnection = accept(socket, { keepaliveIntervalMs: 0 }, {
      onStreamOpen: () => conn.openStream(SERVER_HEADER),
      onStanza: () => {},
      onClose: () => conns.delete(conn),
    });
    conns.add(conn);
  });
  const port = await listenLocal(srv);
  return {
    port,
    stop: async (): Promise<void> => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

for (const [what, raise] of [
  ['the closing tag is the write that empties the buffer', false],
  ['the mark is raised with the drain owed, in the same tick', true],
] as const) {
  test(`a lowered mark's onDrain still comes when close() follows the send() that returned false (${what}): reading resumes and the close ends on the peer's closing tag, not at its timeout`, async () => {
    const srv = await server();
    let drains = 0;
    let resolveClosed!: (e: StreamError | undefined) => void;
    const closed = new Promise<StreamError | undefined>((r) => (resolveClosed = r));
    const conn: XmppConnection = await connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 0 }, {
      onStanza() {},
      onDrain: () => {
        drains++;
        conn.resume();
      },
      onClose: (e) => resolveClosed(e),
    });
    try {
      conn.openStream(CLIENT_HEADER);
      conn.setWriteMark(4096);
      // As CcsConnection does when an ACK's send() returns false: no reading until onDrain.
      conn.pause();
      assert.not.ok(conn.send(BIG), 'backpressure at the lowered mark');
      assert.not.ok(conn.rawSocket.writableNeedDrain, "under the socket's own mark: only the stream owes onDrain");
      if (raise) conn.setWriteMark(65_536);
      const started = Date.now();
      await conn.close(3000);
      const ms = Date.now() - started;
      assert.is(drains, 1, 'one onDrain');
      assert.ok(ms < 1500, `closed on the peer's closing tag, not cut at the 3000 ms timeout (${ms} ms)`);
      assert.is(await closed, undefined);
    } finally {
      conn.destroy();
      await srv.stop();
    }
  });
}

test.run();
