// A connection's encoder writes each burst from the start of its slab again once the socket has
// written (and called back) everything handed to it, instead of filling the slab and taking a fresh
// one; and never while a buffer of the slab may still be read: stanzas queued behind a full socket
// arrive intact and in order.
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const OPEN = Buffer.from('<message id="');

/** The ArrayBuffers of the client's downstream writes (`<message id="…` with a `"to":"slab-`), as they reach the socket. */
function watchDownstreamWrites(): { slabs: Set<ArrayBufferLike>; writes: () => number; stop: () => void } {
  // `_writeGeneric` is where both a write and a writev of queued chunks reach the handle.
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (writev: boolean, data: unknown, ...rest: unknown[]) => unknown };
  const original = proto._writeGeneric;
  const slabs = new Set<ArrayBufferLike>();
  let writes = 0;
  const see = (data: unknown): void => {
    if (Buffer.isBuffer(data) && data.subarray(0, OPEN.length).equals(OPEN) && data.includes('"to":"slab-')) {
      slabs.add(data.buffer);
      writes++;
    }
  };
  proto._writeGeneric = function (this: net.Socket, writev: boolean, data: unknown, ...rest: unknown[]): unknown {
    if (writev) for (const c of data as Array<{ chunk: unknown }>) see(c.chunk);
    else see(data);
    return original.call(this, writev, data, ...rest);
  };
  return { slabs, writes: () => writes, stop: () => void (proto._writeGeneric = original) };
}

test('bursts written and called back in between all go out of one slab, from its start', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { maxPending: 100 }));
  const watch = watchDownstreamWrites();
  try {
    await client.connect();
    // 80 bursts of 50 stanzas of ~150 bytes: 600 KB, nine 64 KiB slabs without the reuse.
    for (let burst = 0; burst < 80; burst++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => client.send({ to: 'slab-tok', data: { n: `${burst}-${i}` } })));
    }
    assert.ok(watch.writes() >= 80, `${watch.writes()} writes`);
    // One slab; two if a burst ever began before the last one's write was called back.
    assert.ok(watch.slabs.size <= 2, `${watch.slabs.size} slabs`);
    assert.is(server.received.length, 4000);
  } finally {
    watch.stop();
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('stanzas queued behind a socket the server does not read arrive intact and in order', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 10_000 }));
  try {
    await client.connect();
    const conn = server.latest();
    conn.xmpp.pause();
    // ~10 MB: more than the loopback socket buffers take, so writes queue in the socket meanwhile.
    const pad = 'x'.repeat(1000);
    const n = 10_000;
    const sent = Array.from({ length: n }, (_, i) => client.send({ to: 'slab-tok', message_id: `q${i}`, data: { n: String(i), pad } }));
    await new Promise((r) => setTimeout(r, 100));
    conn.xmpp.resume();
    await server.until(() => conn.received.length === n, 60_000);
    for (let i = 0; i < n; i++) {
      const msg = conn.received[i];
      assert.is(msg?.['message_id'], `q${i}`);
      assert.equal(msg?.['data'], { n: String(i), pad });
    }
    for (let i = 0; i < n; i++) conn.ack(`q${i}`);
    await Promise.all(sent);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
