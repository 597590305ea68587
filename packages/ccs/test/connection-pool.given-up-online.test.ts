// A connection the pool has given up on, whose handshake had already completed in the same tick:
// its `open()` had resolved, the pool's reaction to it (`#onOnline`, a microtask) had not run yet, and
// the connect() was aborted (its connections destroyed). The reaction then came anyway: it emitted
// `online` for the destroyed connection, resolved a connect() begun meanwhile with nothing of that
// attempt online (marking the pool open), and when the dead connection's socket closed the pool
// reported it `offline` and scheduled a replacement for it — one connection more than `connections`.
//
// The same-tick window is made deterministic with early upstream messages: the server answers bind,
// sends a message, and only then the session result; the connection keeps the message until it is
// online and delivers it synchronously right after resolving `open()` (connection.ts, #goOnline), so a
// `ccs:upstream:received` subscriber runs in exactly that window.
import * as dc from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, channelNames, type CcsError } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const again of [false, true]) {
  test(`a connection given up in the tick its handshake completed is never counted online${again ? ' (connect() called again in that tick)' : ''}`, async () => {
    const server = await startScriptedServer({ session: true, upstreamAfterBind: 1 });
    const client = new CcsClient(clientOptions(server, { connections: 1, reconnectBaseMs: 10, reconnectMaxMs: 20 }));
    const online: string[] = [];
    const offline: string[] = [];
    client.on('online', (e) => online.push(e.connectionId));
    client.on('offline', (e) => offline.push(e.connectionId));
    client.on('error', () => {});
    const ac = new AbortController();
    let stale: string | undefined;
    let second: Promise<string> | undefined;
    const onReceived = (m: unknown): void => {
      if (stale !== undefined) return;
      stale = (m as { connectionId: string }).connectionId;
      ac.abort();
      if (again) second = client.connect().then(() => 'resolved', (e: CcsError) => `${e.code}: ${e.message}`);
    };
    dc.subscribe(channelNames.upstreamReceived, onReceived);
    try {
      const first = await client.connect({ signal: ac.signal }).then(() => 'resolved', (e: CcsError) => e.code);
      assert.ok(stale !== undefined, 'the early message arrived in the handshake tick');
      assert.is(first, 'CCS_ERR_ABORTED');
      if (!again) {
        await sleep(200);
        assert.equal(online, [], 'no online for the given-up connection');
        assert.equal(offline, [], 'nor offline: it never was online');
        assert.is(client.stats().connections.online, 0);
        assert.is(client.stats().perConnection.length, 0);
        assert.is(server.conns.length, 1, 'no replacement for it');
        return;
      }
      assert.is(await second, 'resolved');
      // connect() resolved for a connection of its own attempt, online now.
      const s = client.stats();
      assert.is(s.connections.online, 1, 'connect() resolved with a connection online');
      assert.not.ok(online.includes(stale as string), `online was emitted for the given-up ${stale}`);
      await sleep(300); // the given-up connection's socket closes; its replacement would open within 20 ms
      assert.not.ok(offline.includes(stale as string), `offline was emitted for the given-up ${stale}`);
      assert.is(client.stats().perConnection.length, 1, 'one connection, as configured');
      assert.is(server.conns.filter((c) => !c.closed).length, 1, 'one connection open at the server');
      assert.is(server.conns.length, 2, 'the given-up one and the new attempt, no replacement for the given-up one');
    } finally {
      dc.unsubscribe(channelNames.upstreamReceived, onReceived);
      client.destroy();
      await server.stop();
    }
  });
}

test.run();
