// Each connection's socket high-water mark is the client's 256 KiB split between its connections,
// 64 KiB at most and 16 KiB at least: 64 KiB takes the drain clock off the writes at one to four
// connections, and at 16 the 16 KiB clock is what keeps the collector's share down through send()
// (bench/ANALYSIS.md, fourteenth pass).
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient } from '../src/index.js';
import { clientOptions, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

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

test("a CcsClient's sockets take 64 KiB each at 1 and 4 connections, 32 KiB at 8, 16 KiB at 16", async () => {
  for (const [connections, mark] of [[1, 65_536], [4, 65_536], [8, 32_768], [16, 16_384]] as const) {
    const server = await startScriptedServer();
    const watch = watchClientSockets(server);
    const client = new CcsClient(clientOptions(server, { connections }));
    try {
      await client.connect({ all: true });
      assert.is(watch.sockets.size, connections);
      for (const socket of watch.sockets) assert.is(socket.writableHighWaterMark, mark, `${connections} connections`);
      // The mark is the socket's own: a message still goes through.
      await client.send({ to: 'hwm-tok', data: { n: '1' } });
    } finally {
      watch.stop();
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  }
});

test.run();
