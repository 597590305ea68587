// Reconnect and drain storms damped (issue 11 §4), against hostile servers that count handshakes.
// The assertions are bounded counts over a fixed window, not speeds: what used to happen in the
// same window is an order of magnitude more (one handshake every ~200 ms per slot, forever).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, type ReconnectEvent } from '../src/index.js';
import { clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The shipped backoff settings (the test helper's are shortened for other tests). */
const DEFAULT_BACKOFF = { reconnectBaseMs: 250, reconnectMaxMs: 30_000 };
const WINDOW_MS = 3000;

for (const connections of [1, 4]) {
  test(`a server that fails every connection right after bind sees a handful of handshakes per slot, not a storm (${connections} connection${connections > 1 ? 's' : ''})`, async () => {
    const server = await startScriptedServer({ onOnline: (c) => void c.end() });
    const client = new CcsClient(clientOptions(server, { ...DEFAULT_BACKOFF, connections }));
    const attempts: number[] = [];
    client.on('reconnecting', (e: ReconnectEvent) => attempts.push(e.attempt));
    try {
      await client.connect();
      await sleep(WINDOW_MS);
      const handshakes = server.conns.length;
      process.stdout.write(`\n    ${connections} slot(s), server failing right after bind: ${handshakes} handshakes in ${WINDOW_MS} ms; attempts ${attempts.join(',')}\n`);
      // 250 ms·2^n with jitter: the initial ones, then about 2 per slot in 3 s.
      assert.ok(handshakes <= connections * 3 + 2, `${handshakes} handshakes`);
      assert.ok(Math.max(...attempts) >= connections, 'the backoff grows instead of starting over at every bind');
    } finally {
      client.destroy();
      await server.stop();
    }
  });
}

test('the backoff starts over only after a connection stayed online reconnectResetMs and heard from the server', async () => {
  let n = 0;
  const server = await startScriptedServer({
    onOnline: (c) => {
      // Connections 1–3 fail at once; 4 and 5 live for 400 ms, 4 with traffic and 5 without.
      if (++n <= 3) void c.end();
      else {
        if (n === 4) c.upstream('dev', 'hello');
        setTimeout(() => void c.end(), 400);
      }
    },
  });
  const client = new CcsClient(clientOptions(server, { reconnectBaseMs: 20, reconnectMaxMs: 100, reconnectResetMs: 300, onUpstream: () => {} }));
  const attempts: number[] = [];
  client.on('reconnecting', (e: ReconnectEvent) => attempts.push(e.attempt));
  try {
    await client.connect();
    await server.until(() => attempts.length >= 5, 10_000);
    // 1–3: 0, 1, 2 (growing); 4 was healthy: back to 0; 5 was online as long but silent: 1.
    assert.equal(attempts.slice(0, 5), [0, 1, 2, 0, 1]);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a server that drains every connection right after bind: connections stay capped (configured + draining) and replacements back off', async () => {
  const server = await startScriptedServer({ onOnline: (c) => c.drain() });
  const client = new CcsClient(clientOptions(server, { ...DEFAULT_BACKOFF, connections: 1 }));
  let most = 0;
  try {
    await client.connect();
    const pending = quiet(client.send({ to: 'tok' }));
    const t0 = Date.now();
    while (Date.now() - t0 < WINDOW_MS) {
      await sleep(20);
      const s = client.stats().connections;
      most = Math.max(most, s.online + s.connecting);
    }
    const handshakes = server.conns.length;
    process.stdout.write(`\n    drain after every bind: ${handshakes} handshakes in ${WINDOW_MS} ms, at most ${most} connections at once, ${client.stats().drainings} drainings\n`);
    assert.ok(handshakes <= 6, `${handshakes} handshakes`);
    assert.ok(most <= 3, `${most} connections at once (1 configured + 1 draining + 1 closing)`);
    assert.is(server.received.length, 0, 'nothing is ever sent on a draining connection');
    client.destroy();
    assert.is((await pending.then(() => undefined, (e: { code: string }) => e.code)), 'CCS_ERR_CLOSED');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a drain of a long-lived healthy connection is still a planned handover: the replacement opens at once, without backoff', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { ...DEFAULT_BACKOFF, reconnectResetMs: 200 }));
  const attempts: number[] = [];
  client.on('reconnecting', (e: ReconnectEvent) => attempts.push(e.attempt));
  try {
    await client.connect();
    await client.send({ to: 'tok' });
    await sleep(300);
    server.latest().drain();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.online, 5000);
    assert.equal(attempts, [], 'no backoff step: opened at once');
    await client.send({ to: 'tok' });
    assert.is(server.received[1]?.conn, 2);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
