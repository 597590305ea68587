// destroy() while close() waits for what is pending: each store is closed once. The teardown closed
// them and close() closed them again afterwards, so a store whose second close() fails (a pool
// already ended, a file handle already released) made close() reject with CCS_ERR_STORE though
// nothing had gone wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryDedupStore, MemoryOutboxStore, type CcsError } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

/** A store whose close() may be called once. */
class CloseOnceOutbox extends MemoryOutboxStore {
  closes = 0;
  override close(): Promise<void> {
    this.closes++;
    return this.closes === 1 ? Promise.resolve() : Promise.reject(new Error('already closed'));
  }
}

class CloseOnceDedup extends MemoryDedupStore {
  closes = 0;
  override close(): void {
    this.closes++;
    if (this.closes > 1) throw new Error('already closed');
  }
}

test('destroy() during close()\'s wait: the pending send rejects with CCS_ERR_CLOSED, each store is closed once, close() resolves, nothing is reported', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const outbox = new CloseOnceOutbox();
  const dedup = new CloseOnceDedup(1000);
  const client = new CcsClient(clientOptions(server, { store: { outbox, dedup } }));
  const errors: CcsError[] = [];
  client.on('error', (e) => {
    errors.push(e as CcsError);
  });
  try {
    await client.connect();
    const pending = client.send({ to: 'tok', message_id: 'never-answered' }).then(() => 'resolved', (e: CcsError) => e.code);
    await server.until(() => server.received.length === 1);
    const closing = client.close({ timeoutMs: 10_000 }).then(() => 'resolved', (e: CcsError) => `${e.code}: ${e.message}`);
    await new Promise((r) => setTimeout(r, 50));
    client.destroy();
    assert.is(await pending, 'CCS_ERR_CLOSED');
    assert.is(await closing, 'resolved');
    assert.is(outbox.closes, 1, 'the outbox store closed once');
    assert.is(dedup.closes, 1, 'the dedup store closed once');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors.map((e) => e.message), []);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a store that fails to close, with destroy() during close()\'s wait: reported once, on the error event', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const outbox = new MemoryOutboxStore();
  outbox.close = () => Promise.reject(new Error('disk gone'));
  const client = new CcsClient(clientOptions(server, { store: outbox }));
  const errors: CcsError[] = [];
  client.on('error', (e) => {
    errors.push(e as CcsError);
  });
  try {
    await client.connect();
    void client.send({ to: 'tok', message_id: 'never-answered' }).catch(() => {});
    await server.until(() => server.received.length === 1);
    const closing = client.close({ timeoutMs: 10_000 }).then(() => 'resolved', (e: CcsError) => e.code);
    await new Promise((r) => setTimeout(r, 50));
    client.destroy();
    // destroy() has no caller to reject: its teardown reports the failure; close() does not again.
    assert.is(await closing, 'resolved');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors.map((e) => [e.code, (e as CcsError & { operation?: string }).operation]), [['CCS_ERR_STORE', 'close']]);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test.run();
