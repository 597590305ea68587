// Each connection's socket is made with a 64 KiB high-water mark: 64 KiB takes the drain clock off
// the writes (fewer, larger writes). Where the writes stop is the stream's write mark, which follows
// what is outstanding: the socket's 64 KiB while only `dispatch()` callbacks (or nothing) wait, and
// the client's 256 KiB split between its connections (64 KiB at 1 to 4, 32 KiB at 8, 16 KiB at 16)
// from a `send()` until nothing is outstanding — at 16 connections the full mark put more promises
// in flight than the young generation holds (bench/ANALYSIS.md, fourteenth and fifteenth passes).
import * as net from 'node:net';
import { XmppConnection } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient } from '../src/index.js';
import { clientOptions, quiet, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

/** The client's sockets to `server` (the stream's connection sets no-delay on each socket it wraps, either side). */
function watchClientSockets(server: ScriptedServer): { sockets: Set<net.Socket>; stop: () => void } {
  const proto = net.Socket.prototype;
  const original = proto.setNoDelay;
  const sockets = new Set<net.Socket>();
  proto.setNoDelay = function (this: net.Socket, noDelay?: boolean): net.Socket {
    if (this.remotePort === server.port) sockets.add(this);
    return original.call(this, noDelay);
  };
  return { sockets, stop: () => void (proto.setNoDelay = original) };
}

/** The client's stream connections to `server` (each is given its write mark once connected). */
function watchStreams(server: ScriptedServer): { streams: Set<XmppConnection>; marks: () => number[]; stop: () => void } {
  const proto = XmppConnection.prototype;
  const original = proto.setWriteMark;
  const streams = new Set<XmppConnection>();
  proto.setWriteMark = function (this: XmppConnection, bytes: number): void {
    if (this.rawSocket.remotePort === server.port) streams.add(this);
    original.call(this, bytes);
  };
  return { streams, marks: () => [...streams].map((s) => s.writeMark), stop: () => void (proto.setWriteMark = original) };
}

test("a CcsClient's sockets take 64 KiB each at 1, 4, 8 and 16 connections", async () => {
  for (const connections of [1, 4, 8, 16]) {
    const server = await startScriptedServer();
    const watch = watchClientSockets(server);
    const client = new CcsClient(clientOptions(server, { connections }));
    try {
      await client.connect({ all: true });
      assert.is(watch.sockets.size, connections);
      for (const socket of watch.sockets) assert.is(socket.writableHighWaterMark, 65_536, `${connections} connections`);
      // The mark is the socket's own: a message still goes through.
      await client.send({ to: 'hwm-tok', data: { n: '1' } });
    } finally {
      watch.stop();
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  }
});

test('the write mark is 64 KiB while nothing or only dispatch() waits, and 64 / 64 / 32 / 16 KiB at 1 / 4 / 8 / 16 connections from a send() until nothing is outstanding', async () => {
  for (const [connections, promiseMark] of [[1, 65_536], [4, 65_536], [8, 32_768], [16, 16_384]] as const) {
    const server = await startScriptedServer({ autoAck: false });
    const watch = watchStreams(server);
    const client = new CcsClient(clientOptions(server, { connections }));
    const all = (mark: number): number[] => Array.from({ length: connections }, () => mark);
    try {
      await client.connect({ all: true });
      assert.is(watch.streams.size, connections);
      assert.equal(watch.marks(), all(65_536), `${connections} connections, nothing outstanding`);

      // dispatch() alone: the record holds a callback, the mark stays the socket's.
      let dispatched: Error | undefined | null = null;
      assert.ok(client.dispatch({ to: 'hwm-tok', message_id: 'd-1', data: { n: '1' } }, (err) => (dispatched = err)));
      await server.until(() => server.received.length === 1);
      assert.equal(watch.marks(), all(65_536), `${connections} connections, a dispatch() outstanding`);

      // A send() promise outstanding lowers every connection's mark.
      const sent = quiet(client.send({ to: 'hwm-tok', message_id: 's-1', data: { n: '2' } }));
      assert.equal(watch.marks(), all(promiseMark), `${connections} connections, a send() outstanding`);
      await server.until(() => server.received.length === 2);
      const last = server.received[1];
      assert.ok(last !== undefined);
      server.conns.find((c) => c.id === last.conn)?.ack('s-1');
      await sent;
      // The promise settled, the dispatch() still waits: the mark stays lowered until nothing is
      // outstanding (the outbox does not count promises on the hot path).
      assert.is(dispatched, null, 'the dispatch() still waits');
      assert.equal(watch.marks(), all(promiseMark), `${connections} connections, the send() settled, a dispatch() outstanding`);
      const first = server.received[0];
      assert.ok(first !== undefined);
      server.conns.find((c) => c.id === first.conn)?.ack('d-1');
      await server.until(() => dispatched !== null);
      assert.is(dispatched, undefined);
      assert.equal(watch.marks(), all(65_536), `${connections} connections, nothing outstanding`);

      // A connection opened while a promise is outstanding gets the lowered mark too.
      if (connections === 16) {
        const again = quiet(client.send({ to: 'hwm-tok', message_id: 's-2', data: { n: '3' } }));
        await server.until(() => server.received.length === 3);
        const conn = server.conns.find((c) => c.id === server.received[2]?.conn);
        assert.ok(conn !== undefined);
        // Cut without an ACK: the message is resent on another connection, and a new one is opened.
        const before = watch.streams.size;
        conn.cut();
        await server.until(() => watch.streams.size === before + 1 && server.received.length === 4, 5000);
        assert.equal(watch.marks().slice(before), [promiseMark], 'the new connection, a promise outstanding');
        const resent = server.received[3];
        assert.ok(resent !== undefined);
        server.conns.find((c) => c.id === resent.conn)?.ack('s-2');
        await again;
      }
    } finally {
      watch.stop();
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  }
});

test.run();
