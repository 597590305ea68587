// What an upstream handler returns, from untyped code too: `null` is a synchronous success like
// `undefined`, and a thenable whose `then` throws is a failed handler — neither ends the connection.
// The same for what an outbox store's flush() returns before an upstream ACK.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryOutboxStore, type CcsError, type ConnectionEvent, type UpstreamHandler } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

test('a handler that returns null: the message is ACKed and the connection stays up', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { onUpstream: (() => null) as unknown as UpstreamHandler }));
  const offline: ConnectionEvent[] = [];
  client.on('offline', (e) => offline.push(e));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    c.upstream('dev-1', 'u2');
    await server.until(() => c.acks.length === 2);
    assert.equal(offline, []);
    assert.is(server.conns.length, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a handler that returns a thenable whose then() throws: CCS_ERR_HANDLER, the message un-ACKed, the connection up; the next message is handled', async () => {
  const server = await startScriptedServer();
  let bad = true;
  const client = new CcsClient(clientOptions(server, {
    onUpstream: (() => {
      if (!bad) return undefined;
      bad = false;
      return {
        then() {
          throw new Error('a broken thenable');
        },
      };
    }) as unknown as UpstreamHandler,
  }));
  const offline: ConnectionEvent[] = [];
  const errors: CcsError[] = [];
  client.on('offline', (e) => offline.push(e));
  client.on('error', (e) => errors.push(e as CcsError));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => errors.length === 1);
    assert.is(errors[0]?.code, 'CCS_ERR_HANDLER');
    c.upstream('dev-1', 'u2');
    await server.until(() => c.acks.length === 1);
    assert.is(c.acks[0]?.['message_id'], 'u2');
    assert.equal(offline, []);
    assert.is(client.stats().upstreamAcked, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

for (const [what, flush] of [['null', () => null], ['a thenable whose then() throws', () => ({ then: () => { throw new Error('flush: password=hunter2'); } })]] as const) {
  test(`an outbox store whose flush() returns ${what}: no crash into the read path, the connection stays up`, async () => {
    const server = await startScriptedServer();
    const store = new MemoryOutboxStore();
    store.flush = flush as unknown as () => undefined;
    const client = new CcsClient(clientOptions(server, { store, onUpstream: () => {} }));
    const offline: ConnectionEvent[] = [];
    const errors: CcsError[] = [];
    client.on('offline', (e) => offline.push(e));
    client.on('error', (e) => errors.push(e as CcsError));
    try {
      await client.connect();
      const c = server.latest();
      c.upstream('dev-1', 'u1');
      if (what === 'null') await server.until(() => c.acks.length === 1);
      else {
        await server.until(() => errors.length === 1);
        assert.is(errors[0]?.code, 'CCS_ERR_STORE');
        assert.not.match(errors[0]!.message, /hunter2/);
        assert.is(c.acks.length, 0, 'not ACKed: what was sent before it may not be recorded');
      }
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(offline, []);
      assert.is(server.conns.length, 1);
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

test.run();
