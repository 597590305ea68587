// connect() again after a first connect() was aborted: the abandoned attempt's end is not counted
// against the new one. Its socket closes asynchronously when its TLS was already up, so its failure
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

test.run();
