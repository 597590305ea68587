// close() while a connection is still negotiating with a server that has stopped answering (TLS
// done, then silence): the attempt is cut at once. It was ended as an online stream is — our
// closing tag, then a wait for the server's — so close() took its whole stream-close wait (2 s,
// or timeoutMs when shorter) for a session that never existed.
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, ccsChannels, type CcsError, type ClosedMessage } from '../src/index.js';
import { clientOptions, devCert, startScriptedServer } from './helpers/scripted-server.js';

/** A TLS server that completes the handshake and then never writes a byte nor closes. */
async function silentServer(): Promise<{ port: number; ca: string; sockets: Set<tls.TLSSocket>; stop(): Promise<void> }> {
  const { cert, key } = devCert();
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume(); // reads (and drops) what the client writes, so its end is seen
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    ca: cert,
    sockets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const until = async (pred: () => boolean, ms = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('close() during a first connect stalled after TLS resolves at once, connect() rejects with CCS_ERR_CLOSED, the socket is closed', async () => {
  const server = await silentServer();
  const client = new CcsClient({
    senderId: '1234567890', apiKey: 'k', host: '127.0.0.1', port: server.port,
    tls: { ca: server.ca, servername: 'localhost' }, handshakeTimeoutMs: 10_000,
  });
  try {
    const connecting = client.connect().then(() => 'resolved', (e: unknown) => (e as CcsError).code);
    await until(() => server.sockets.size === 1);
    await new Promise((r) => setTimeout(r, 100)); // our stream header is out; the server says nothing
    const t0 = Date.now();
    await client.close();
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `close() took ${ms} ms (it waited 2000 for the silent server)`);
    assert.is(await connecting, 'CCS_ERR_CLOSED');
    await until(() => server.sockets.size === 0, 2000);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('close() of an online client whose replacement connection is stalled mid-handshake does not wait for it', async () => {
  const online = await startScriptedServer();
  const silent = await silentServer();
  // A relay: the first connection goes to the scripted server, every later one to the silent
  // server (same certificate), so the replacement of a cut connection never gets past its header.
  let n = 0;
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(n++ === 0 ? online.port : silent.port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const client = new CcsClient(clientOptions(online, { port: (relay.address() as AddressInfo).port, handshakeTimeoutMs: 10_000 }));
  try {
    await client.connect();
    assert.is((await client.send({ to: 'tok', message_id: 'm1' })).messageId, 'm1');
    online.latest().cut();
    await until(() => silent.sockets.size === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(client.stats().connections.connecting, 1);
    const t0 = Date.now();
    await client.close();
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `close() took ${ms} ms (it waited 2000 for the stalled replacement)`);
    await until(() => silent.sockets.size === 0, 2000);
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    await online.stop();
    await silent.stop();
  }
});

test('a connection close() cuts mid-handshake is reported on ccs:connection:closed as cancelled, not as closed by the server', async () => {
  const server = await silentServer();
  const client = new CcsClient({
    senderId: '1234567890', apiKey: 'k', host: '127.0.0.1', port: server.port,
    tls: { ca: server.ca, servername: 'localhost' }, handshakeTimeoutMs: 10_000,
  });
  const seen: ClosedMessage[] = [];
  const onClosed = (m: ClosedMessage): void => {
    seen.push(m);
  };
  ccsChannels.closed.subscribe(onClosed);
  try {
    const connecting = client.connect().catch(() => {});
    await until(() => server.sockets.size === 1);
    await new Promise((r) => setTimeout(r, 100)); // TLS up, our stream header out: the server says nothing
    await client.close();
    await connecting;
    await until(() => seen.length === 1, 2000);
    assert.is(seen[0]!.reason, 'failed');
    // It read 'CCS connection closed during the "stream" step: the server closed the connection'.
    assert.is(seen[0]!.error?.message, 'connection attempt cancelled');
    assert.is((seen[0]!.error as CcsError).code, 'CCS_ERR_STREAM');
  } finally {
    ccsChannels.closed.unsubscribe(onClosed);
    client.destroy();
    await server.stop();
  }
});

test.run();
