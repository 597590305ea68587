// Lifecycle: connect() and waitForCapacity() take an AbortSignal; connect({ all: true }) waits for
// every configured connection; waitForCapacity() rejects when the client is destroyed or closed;
// reconnectStrategy(attempt, error) decides reconnect delays; `await using` closes the client.
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, CcsError } from '../src/index.js';
import { clientOptions, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    assert.instance(err, CcsError);
    return (err as CcsError).code;
  }
  return 'resolved';
};

/**
 * A TCP relay in front of the server that holds back the connections whose (0-based) number is in
 * `hold` until `release()`: a second connection that is slow to come up, deterministically.
 */
async function relay(server: ScriptedServer, hold: Set<number>): Promise<{ port: number; release(): void; close(): Promise<void> }> {
  const held: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  let n = 0;
  const proxy = net.createServer((inbound) => {
    const i = n++;
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    inbound.pause();
    const pipe = (): void => {
      const outbound = net.connect(server.port, '127.0.0.1');
      sockets.add(outbound);
      outbound.on('close', () => sockets.delete(outbound));
      outbound.on('error', () => inbound.destroy());
      inbound.on('error', () => outbound.destroy());
      inbound.pipe(outbound).pipe(inbound);
      inbound.resume();
    };
    if (hold.has(i)) held.push(pipe);
    else pipe();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    release: () => {
      for (const p of held.splice(0)) p();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

test('connect({ all: true }) resolves only once every configured connection is online; connect() at the first', async () => {
  const server = await startScriptedServer();
  const gate = await relay(server, new Set([1, 3]));
  const first = new CcsClient(clientOptions(server, { port: gate.port, connections: 2 }));
  const all = new CcsClient(clientOptions(server, { port: gate.port, connections: 2 }));
  try {
    await first.connect();
    assert.is(first.stats().connections.online, 1, 'connect() resolved with the second connection still held');
    let resolved = false;
    const p = all.connect({ all: true }).then(() => (resolved = true));
    await server.until(() => all.stats().connections.online === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(resolved, false, 'still waiting for the held connection');
    gate.release();
    await p;
    assert.is(all.stats().connections.online, 2);
    assert.is(await code(all.connect({ all: true })), 'resolved', 'already all online');
  } finally {
    first.destroy();
    all.destroy();
    await gate.close();
    await server.stop();
  }
});

test('connect() with an AbortSignal: rejects with CCS_ERR_ABORTED; with nothing online yet, the attempt is given up', async () => {
  const server = await startScriptedServer({ stallAt: 'features' });
  const client = new CcsClient(clientOptions(server, { handshakeTimeoutMs: 60_000 }));
  try {
    assert.is(await code(client.connect({ signal: AbortSignal.abort() })), 'CCS_ERR_ABORTED');
    const ac = new AbortController();
    const p = client.connect({ signal: ac.signal });
    await server.until(() => server.conns.length === 1 || client.stats().connections.connecting === 1);
    const reason = new Error('user gave up');
    ac.abort(reason);
    const err = await p.catch((e: unknown) => e);
    assert.instance(err, CcsError);
    assert.is((err as CcsError).code, 'CCS_ERR_ABORTED');
    assert.is((err as CcsError).cause, reason);
    assert.equal(client.stats().connections, { online: 0, draining: 0, connecting: 0 }, 'the attempt is gone');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('connect({ all: true, signal }) aborted after the first is online only stops waiting; close() rejects a waiting connect({ all: true })', async () => {
  const server = await startScriptedServer();
  const gate = await relay(server, new Set([1, 3]));
  const a = new CcsClient(clientOptions(server, { port: gate.port, connections: 2 }));
  const b = new CcsClient(clientOptions(server, { port: gate.port, connections: 2 }));
  try {
    const ac = new AbortController();
    const p = a.connect({ all: true, signal: ac.signal });
    await server.until(() => a.stats().connections.online === 1);
    ac.abort();
    assert.is(await code(p), 'CCS_ERR_ABORTED');
    assert.is(a.stats().connections.online, 1, 'the client stays connected');
    const q = b.connect({ all: true });
    await server.until(() => b.stats().connections.online === 1);
    const closing = b.close({ timeoutMs: 500 });
    assert.is(await code(q), 'CCS_ERR_CLOSED');
    await closing;
  } finally {
    a.destroy();
    b.destroy();
    await gate.close();
    await server.stop();
  }
});

test('waitForCapacity() rejects with CCS_ERR_CLOSED on destroy() and close(), with CCS_ERR_ABORTED on its signal', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const fill = (client: CcsClient): void => {
    for (let i = 0; i < 3; i++) {
      const p = client.trySend({ to: 't' });
      if (p === undefined) return;
      p.catch(() => {});
    }
  };
  const a = new CcsClient(clientOptions(server, { maxPending: 1, maxQueued: 1 }));
  const b = new CcsClient(clientOptions(server, { maxPending: 1, maxQueued: 1 }));
  try {
    await a.connect();
    fill(a);
    assert.is(a.trySend({ to: 't' }), undefined, 'the queue is full');
    const ac = new AbortController();
    const aborted = a.waitForCapacity({ signal: ac.signal });
    const waiting = a.waitForCapacity();
    ac.abort();
    assert.is(await code(aborted), 'CCS_ERR_ABORTED');
    a.destroy();
    assert.is(await code(waiting), 'CCS_ERR_CLOSED');
    assert.is(await code(a.waitForCapacity()), 'CCS_ERR_CLOSED', 'and after');
    await b.connect();
    fill(b);
    const beforeClose = b.waitForCapacity();
    const closing = b.close({ timeoutMs: 100 });
    assert.is(await code(beforeClose), 'CCS_ERR_CLOSED');
    await closing;
  } finally {
    a.destroy();
    b.destroy();
    await server.stop();
  }
});

test('reconnectStrategy(attempt, error) sets each reconnect delay; a throwing hook falls back to the backoff and is reported', async () => {
  const opts = { refuse: false };
  const server = await startScriptedServer(opts);
  const calls: Array<[number, boolean]> = [];
  const client = new CcsClient(clientOptions(server, {
    reconnectStrategy: (attempt: number, error: Error | undefined) => {
      calls.push([attempt, error instanceof Error]);
      if (attempt === 3) throw new Error('hook bug');
      return 7 + attempt;
    },
    reconnectBaseMs: 1, reconnectMaxMs: 1, random: () => 1,
  }));
  const delays: number[] = [];
  const errors: string[] = [];
  client.on('reconnecting', (e) => delays.push(e.delayMs));
  client.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  try {
    await client.connect();
    opts.refuse = true;
    server.conns[0]?.cut();
    await server.until(() => delays.length >= 5);
    opts.refuse = false;
    assert.equal(delays.slice(0, 5), [7, 8, 9, 1, 11]);
    assert.equal(calls.slice(0, 5).map(([n]) => n), [0, 1, 2, 3, 4]);
    assert.ok(calls.every(([, hasError]) => hasError), 'each call gets the error that closed or refused the connection');
    assert.ok(errors.includes('CCS_ERR_INVALID_OPTION'), errors.join(','));
    await server.until(() => client.stats().connections.online === 1);
  } finally {
    client.destroy();
    await server.stop();
  }
  assert.throws(() => new CcsClient(clientOptions(server, { reconnectStrategy: 5 })), /option reconnectStrategy must be a function/);
});

test('await using: the client is closed gracefully when the scope ends', async () => {
  const server = await startScriptedServer();
  let escaped: CcsClient | undefined;
  {
    await using client = new CcsClient(clientOptions(server));
    escaped = client;
    await client.connect();
    const r = await client.send({ to: 't', message_id: 'in-scope' });
    assert.is(r.messageId, 'in-scope');
  }
  try {
    assert.is(await code((escaped as CcsClient).send({ to: 't' })), 'CCS_ERR_CLOSED');
    assert.is(typeof CcsClient.prototype[Symbol.asyncDispose], 'function');
  } finally {
    escaped?.destroy();
    await server.stop();
  }
});

test.run();
