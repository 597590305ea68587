// connect() again after a first connect() was aborted: the abandoned attempt's end is not counted
// against the new one. And connect() called twice, one call aborted: the other still gets the
// connection (the abort gave the shared attempt up, and the other call rejected with CCS_ERR_ABORTED
// though it had no signal). Below, the first case: Its socket closes asynchronously when its TLS was already up, so its failure
// came after the new connect() had begun, was taken for the new attempt's, tore it down and
// rejected it (CCS_ERR_STREAM "the server closed the connection", 9 ms in) though the server was fine.
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, type CcsError } from '../src/index.js';
import { clientOptions, devCert, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

/**
 * The first connection goes to a TLS server that completes the handshake and then says nothing;
 * every later one to the scripted server.
 */
async function firstStalls(server: ScriptedServer): Promise<{ port: number; stalled(): boolean; stop(): Promise<void> }> {
  const { cert, key } = devCert();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  let stalled = 0;
  const silent = tls.createServer({ cert, key }, (s) => {
    track(s);
    stalled++;
    s.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  let n = 0;
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(n++ === 0 ? (silent.address() as AddressInfo).port : server.port, '127.0.0.1');
    track(inbound);
    track(outbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    stalled: () => stalled > 0,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([relay, silent].map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    },
  };
}

for (const when of ['after the aborted connect() rejected', 'in the same tick as the abort']) {
  test(`connect() again ${when}: the new attempt comes online, the abandoned one is not counted against it`, async () => {
    const server = await startScriptedServer();
    const front = await firstStalls(server);
    const client = new CcsClient(clientOptions(server, { port: front.port, handshakeTimeoutMs: 10_000 }));
    const errors: Error[] = [];
    client.on('error', (e) => {
      errors.push(e);
    });
    try {
      const ac = new AbortController();
      const first = client.connect({ signal: ac.signal }).then(() => 'resolved', (e: CcsError) => e.code);
      const t0 = Date.now();
      while (!front.stalled()) {
        if (Date.now() - t0 > 10_000) throw new Error('no first connection');
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 100)); // TLS is up, our stream header out: the server says nothing
      ac.abort();
      let second: Promise<string>;
      if (when.startsWith('after')) {
        assert.is(await first, 'CCS_ERR_ABORTED');
        second = client.connect().then(() => 'resolved', (e: CcsError) => `${e.code}: ${e.message}`);
      } else {
        second = client.connect().then(() => 'resolved', (e: CcsError) => `${e.code}: ${e.message}`);
        assert.is(await first, 'CCS_ERR_ABORTED');
      }
      assert.is(await second, 'resolved');
      assert.is((await client.send({ to: 'tok', message_id: 'after-retry' })).messageId, 'after-retry');
      assert.equal(errors.map((e) => e.message), [], 'the abandoned attempt reports nothing');
      await client.close({ timeoutMs: 1000 });
    } finally {
      client.destroy();
      await front.stop();
      await server.stop();
    }
  });
}

/** A relay to the scripted server that holds the first connection (accepted, nothing passed on) until `release()`. */
async function holdFirst(server: ScriptedServer): Promise<{ port: number; held(): boolean; release(): void; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let pending: (() => void) | undefined;
  let n = 0;
  const relay = net.createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    inbound.on('error', () => {});
    inbound.pause();
    const pipe = (): void => {
      const outbound = net.connect(server.port, '127.0.0.1');
      sockets.add(outbound);
      outbound.on('close', () => sockets.delete(outbound));
      outbound.on('error', () => inbound.destroy());
      inbound.on('close', () => outbound.destroy());
      inbound.pipe(outbound).pipe(inbound);
      inbound.resume();
    };
    if (n++ === 0) pending = pipe;
    else pipe();
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    held: () => pending !== undefined,
    release: () => {
      const p = pending;
      pending = undefined;
      p?.();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

test('two connect() calls, one aborted while nothing is online: the other still comes online on the same attempt; both aborted, it is given up', async () => {
  const server = await startScriptedServer();
  const front = await holdFirst(server);
  const client = new CcsClient(clientOptions(server, { port: front.port, handshakeTimeoutMs: 10_000 }));
  try {
    const ac = new AbortController();
    const aborted = client.connect({ signal: ac.signal }).then(() => 'resolved', (e: CcsError) => e.code);
    const plain = client.connect().then(() => 'resolved', (e: CcsError) => `${e.code}: ${e.message}`);
    const t0 = Date.now();
    while (!front.held()) {
      if (Date.now() - t0 > 10_000) throw new Error('no connection');
      await new Promise((r) => setTimeout(r, 5));
    }
    ac.abort();
    assert.is(await aborted, 'CCS_ERR_ABORTED');
    front.release();
    assert.is(await plain, 'resolved', 'the call without a signal was not aborted');
    assert.is(server.conns.length, 1, 'one attempt, kept');
    assert.is((await client.send({ to: 'tok', message_id: 'shared' })).messageId, 'shared');
    await client.close({ timeoutMs: 1000 });
  } finally {
    client.destroy();
    await front.stop();
  }
  // Every caller aborted: the attempt is given up, as with one.
  const front2 = await holdFirst(server);
  const client2 = new CcsClient(clientOptions(server, { port: front2.port, handshakeTimeoutMs: 10_000 }));
  try {
    const a = new AbortController();
    const b = new AbortController();
    const pa = client2.connect({ signal: a.signal }).then(() => 'resolved', (e: CcsError) => e.code);
    const pb = client2.connect({ signal: b.signal }).then(() => 'resolved', (e: CcsError) => e.code);
    const t0 = Date.now();
    while (!front2.held()) {
      if (Date.now() - t0 > 10_000) throw new Error('no connection');
      await new Promise((r) => setTimeout(r, 5));
    }
    a.abort();
    assert.equal(client2.stats().connections.connecting, 1, 'still waited for by the other call');
    b.abort();
    assert.equal([await pa, await pb], ['CCS_ERR_ABORTED', 'CCS_ERR_ABORTED']);
    assert.equal(client2.stats().connections, { online: 0, draining: 0, connecting: 0 }, 'the attempt is gone');
  } finally {
    client2.destroy();
    await front2.stop();
    await server.stop();
  }
});

test.run();
