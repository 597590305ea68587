// The store seam as the client uses it: a custom OutboxStore and UpstreamDedupStore passed in,
// records adopted from another owner sent again and their outcome reported by `settled`, and an
// upstream ACK held back until the outbox store's pending writes are recorded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CcsClient, MemoryDedupStore, MemoryOutboxStore, StoreError, type CcsError, type OutboxRecord, type OutboxStoreHost, type SettledEvent,
  type UpstreamMessage,
} from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';
import { FailingCloseOutbox } from './helpers/failing-close-store.js';

/** The memory store, keeping the host it is attached to (as a shared store would, to adopt and wake). */
class HostKeepingStore extends MemoryOutboxStore {
  host: OutboxStoreHost | undefined;
  pendingFlush: Promise<void> | undefined;
  closed = 0;
  override attach(host: OutboxStoreHost): void {
    this.host = host;
  }
  override flush(): undefined {
    return this.pendingFlush as undefined;
  }
  override close(): void {
    this.closed++;
  }
}

const record = (id: string, seq: number, to: string): OutboxRecord => ({
  id, seq, msg: { to, message_id: id }, target: to, retries: 1, resends: 1, written: true, state: 'inflight', notBefore: 0, storeSlot: -1,
});

test('records adopted from another owner go out again in their order with the same ids; settled reports each outcome once', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (id === 'a-2') c.nack(id, 'BAD_REGISTRATION');
      else c.ack(id);
    },
  });
  const store = new HostKeepingStore();
  const client = new CcsClient(clientOptions(server, { store }));
  const settled: SettledEvent[] = [];
  client.on('settled', (e: SettledEvent) => settled.push(e));
  try {
    await client.connect();
    store.host?.adopt([record('a-3', 30, 'tok'), record('a-1', 10, 'tok'), record('a-2', 20, 'tok')]);
    await server.until(() => settled.length === 3);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['a-1', 'a-2', 'a-3']);
    assert.equal(settled.map((e) => [e.messageId, e.result?.messageId, e.error?.name]), [
      ['a-1', 'a-1', undefined], ['a-2', undefined, 'NackError'], ['a-3', 'a-3', undefined],
    ]);
    // The caller's own sends are unaffected.
    assert.is((await client.send({ to: 'tok', message_id: 'own' })).messageId, 'own');
    assert.is(settled.length, 3);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
  assert.is(store.closed, 1, 'the client closes its store');
});

test('an upstream ACK waits until the outbox store has recorded what was sent before it', async () => {
  const server = await startScriptedServer();
  const store = new HostKeepingStore();
  let recorded!: () => void;
  const client = new CcsClient(clientOptions(server, {
    store,
    dedupStore: new MemoryDedupStore(100),
    onUpstream: (m: UpstreamMessage) => {
      // The handler's reply is "being recorded" when the handler returns.
      store.pendingFlush = new Promise<void>((r) => {
        recorded = r;
      });
      void client.send({ to: m.from, data: { echo: 'yes' } }).catch(() => {});
    },
  }));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => server.received.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(c.acks.length, 0, 'no ACK while the reply is not recorded');
    store.pendingFlush = undefined;
    recorded();
    await server.until(() => c.acks.length === 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a dedup store that says "running elsewhere" leaves the message un-ACKed and the handler not run; "done" ACKs it', async () => {
  const server = await startScriptedServer();
  const answers: Array<'running' | 'done'> = ['running', 'done'];
  const ran: string[] = [];
  const client = new CcsClient(clientOptions(server, {
    dedupStore: {
      claim: () => Promise.resolve(answers.shift() ?? 'new'),
      complete: () => {},
      release: () => {},
      close: () => {},
    },
    onUpstream: (m: UpstreamMessage) => {
      ran.push(m.messageId);
    },
  }));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await new Promise((r) => setTimeout(r, 30));
    assert.is(c.acks.length, 0);
    c.upstream('dev-1', 'u1');
    await server.until(() => c.acks.length === 1);
    c.upstream('dev-1', 'u2');
    await server.until(() => c.acks.length === 2);
    assert.equal(ran, ['u2']);
    assert.is(client.stats().duplicatesDropped, 2);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a memory store the caller passed in is the caller\'s: the records it was given keep their ids and messages after they settle (never reused)', async () => {
  const server = await startScriptedServer();
  // The caller's own MemoryOutboxStore, watched as a spy would: the records `remove` was given.
  const store = new MemoryOutboxStore();
  const removed: OutboxRecord[] = [];
  const remove = store.remove.bind(store);
  store.remove = (r, outcome) => {
    removed.push(r);
    remove(r, outcome);
  };
  const client = new CcsClient(clientOptions(server, { store }));
  try {
    await client.connect();
    const first = await client.send({ to: 'tok-1' });
    const second = await client.send({ to: 'tok-2' });
    assert.equal(removed.map((r) => [r.id, r.msg.to]), [[first.messageId, 'tok-1'], [second.messageId, 'tok-2']]);
    assert.is.not(removed[1], removed[0]);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a store that refuses an append with a plain Error: send() rejects and dispatch() calls back with a StoreError (CCS_ERR_STORE), the store\'s error as its cause', async () => {
  const plain = new Error('the disk is full');
  class RefusingStore extends HostKeepingStore {
    override append(r: OutboxRecord): void {
      super.append(r);
      queueMicrotask(() => this.host?.refused([r], plain));
    }
  }
  // Never connected: the messages wait in the queue, where a durable store's refusal finds them.
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port: 1, store: new RefusingStore() });
  try {
    const rejected = await client.send({ to: 'tok' }).then(() => undefined, (e: unknown) => e);
    assert.instance(rejected, StoreError);
    assert.is((rejected as StoreError).code, 'CCS_ERR_STORE');
    assert.is((rejected as StoreError).operation, 'append');
    assert.is((rejected as StoreError).cause, plain);
    const called = await new Promise<CcsError | undefined>((resolve) => {
      assert.ok(client.dispatch({ to: 'tok' }, (error) => resolve(error)));
    });
    assert.instance(called, StoreError);
    assert.is((called as StoreError).cause, plain);
    assert.is(client.stats().queued, 0);
  } finally {
    await client.close({ timeoutMs: 100 });
  }
});

test('a dedup store that throws, rejects or answers nonsense: each failure is a StoreError on the error event, nothing crashes, a failed claim leaves the message un-ACKed, a failed complete still ACKs', async () => {
  const server = await startScriptedServer();
  const plain = new Error('the network is down');
  const claims: Array<() => unknown> = [
    () => {
      throw plain;
    },
    () => Promise.reject(plain),
    () => 'maybe',
    () => 'new',
    () => 'new',
    () => Promise.resolve('new'),
  ];
  const errors: unknown[] = [];
  const handled: string[] = [];
  const client = new CcsClient(clientOptions(server, {
    dedupStore: {
      claim: () => (claims.shift() ?? (() => 'new'))(),
      complete: (_from: string, messageId: string) => (messageId === 'u4' ? Promise.reject(plain) : undefined),
      release: () => {
        throw plain;
      },
      close: () => {},
    },
    onUpstream: (m: UpstreamMessage) => {
      handled.push(m.messageId);
      if (m.messageId === 'u5') throw new Error('the handler failed');
    },
  }));
  client.on('error', (e) => errors.push(e));
  try {
    await client.connect();
    const c = server.latest();
    for (const id of ['u1', 'u2', 'u3', 'u4', 'u5']) c.upstream('dev-1', id);
    // The receipt's claim resolves 'new'; it is ACKed like any handled message.
    c.receipt('m1');
    await server.until(() => c.acks.length === 2 && errors.length === 6);
    assert.equal(c.acks.map((a) => a.message_id), ['u4', 'dr2:m1'], 'u1–u3 (claim failed) and u5 (handler failed) are not ACKed');
    assert.equal(handled, ['u4', 'u5']);
    const stores = errors.filter((e): e is StoreError => e instanceof StoreError);
    assert.equal(stores.map((e) => e.operation).sort(), ['claim', 'claim', 'claim', 'complete', 'release']);
    for (const e of stores) assert.is(e.code, 'CCS_ERR_STORE');
    assert.is(stores.filter((e) => e.cause === plain).length, 4, 'the store\'s own error is the cause');
    const nonsense = stores.find((e) => e.operation === 'claim' && e.cause instanceof TypeError);
    assert.ok(nonsense, 'an answer that is not a claim is reported');
    assert.match(String((nonsense as StoreError).cause), /not "maybe"/);
    for (const e of stores) assert.not.match(e.message, /network is down/, 'the store\'s text stays in the cause');
    assert.is(errors.filter((e) => (e as CcsError).code === 'CCS_ERR_HANDLER').length, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('an outbox store that reports a plain Error: the client\'s error event gets a StoreError (operation "store") with it as the cause', async () => {
  const store = new HostKeepingStore();
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port: 1, store });
  const errors: unknown[] = [];
  client.on('error', (e) => errors.push(e));
  try {
    const plain = new Error('lease lost');
    store.host?.error(plain);
    const typed = new StoreError('heartbeat', 'the lease could not be renewed');
    store.host?.error(typed);
    assert.is(errors.length, 2);
    assert.instance(errors[0], StoreError);
    assert.is((errors[0] as StoreError).operation, 'store');
    assert.is((errors[0] as StoreError).cause, plain);
    assert.is(errors[1], typed, 'a StoreError is passed on as it is');
  } finally {
    await client.close({ timeoutMs: 100 });
  }
});

test('a store whose close() rejects: close() rejects with a StoreError (operation close, the store\'s error as cause, its text out of the message)', async () => {
  const server = await startScriptedServer();
  const store = new FailingCloseOutbox('reject');
  const client = new CcsClient(clientOptions(server, { store }));
  await client.connect();
  const err = await client.close({ timeoutMs: 500 }).then(() => undefined, (e: unknown) => e);
  await server.stop();
  assert.instance(err, StoreError);
  assert.is((err as StoreError).code, 'CCS_ERR_STORE');
  assert.is((err as StoreError).operation, 'close');
  assert.is(((err as StoreError).cause as Error).message, 'outbox close: password=hunter2');
  assert.not.match((err as StoreError).message, /hunter2/);
  assert.is(store.closes, 1);
});

for (const how of ['throw', 'reject'] as const) {
  test(`destroy() over an outbox store whose close() ${how === 'throw' ? 'throws' : 'rejects'}: destroy() returns, the dedup store is closed too, the failure is a StoreError on the error event (no unhandled rejection)`, async () => {
    const server = await startScriptedServer();
    const store = new FailingCloseOutbox(how);
    let dedupClosed = 0;
    const dedupStore = new MemoryDedupStore(100);
    dedupStore.close = () => {
      dedupClosed++;
    };
    const client = new CcsClient(clientOptions(server, { store, dedupStore }));
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    try {
      await client.connect();
      client.destroy();
      await new Promise((r) => setTimeout(r, 20));
      assert.is(store.closes, 1);
      assert.is(dedupClosed, 1);
      assert.is(errors.length, 1);
      assert.instance(errors[0], StoreError);
      assert.is((errors[0] as StoreError).operation, 'close');
      assert.not.match((errors[0] as StoreError).message, /hunter2/);
    } finally {
      await server.stop();
    }
  });
}


/** The memory store, one of whose methods throws while `armed` (as a store with a bug would). */
function throwingStore(method: 'append' | 'takeNext' | 'requeue' | 'park' | 'remove'): MemoryOutboxStore & { armed: boolean } {
  const store = Object.assign(new MemoryOutboxStore(), { armed: false });
  const real = (store[method] as (...a: unknown[]) => unknown).bind(store);
  (store as unknown as Record<string, unknown>)[method] = (...a: unknown[]): unknown => {
    if (store.armed) throw new Error(`${method}: password=hunter2`);
    return real(...a);
  };
  return store;
}

for (const method of ['append', 'takeNext', 'remove', 'requeue', 'park'] as const) {
  test(`an outbox store whose ${method}() throws: a StoreError (operation ${method}), never a throw out of send(), a hang or a crash; the next send is ACKed and close() does not wait`, async () => {
    let nack = method === 'park';
    const server = await startScriptedServer({
      autoAck: false,
      onDownstream: (c, m) => {
        const id = m['message_id'] as string;
        if (method === 'requeue' && store.armed) return; // left unanswered: the connection is cut
        if (nack) {
          nack = false;
          c.nack(id, 'SERVICE_UNAVAILABLE');
        } else c.ack(id);
      },
    });
    const store = throwingStore(method);
    const client = new CcsClient(clientOptions(server, { store }));
    const errors: Error[] = [];
    client.on('error', (e: Error) => errors.push(e));
    try {
      await client.connect();
      store.armed = true;
      const outcome = client.send({ to: 'tok' }).then((r) => r, (e: unknown) => e);
      if (method === 'requeue') {
        await server.until(() => server.received.length === 1);
        server.latest().cut();
      }
      const got = await outcome;
      store.armed = false;
      const failure = method === 'remove' ? errors[0] : got;
      if (method === 'remove') assert.is((got as { from: string }).from, 'tok', 'the caller still gets its ACK');
      assert.instance(failure, StoreError);
      assert.is((failure as StoreError).operation, method);
      assert.is(((failure as StoreError).cause as Error).message, `${method}: password=hunter2`);
      assert.not.match((failure as StoreError).message, /hunter2/);
      assert.is((await client.send({ to: 'tok-2' })).from, 'tok-2');
      assert.is(client.stats().pending + client.stats().queued, 0);
    } finally {
      const t0 = Date.now();
      await client.close({ timeoutMs: 3000 });
      assert.ok(Date.now() - t0 < 1000, `close() waited ${Date.now() - t0} ms for a message it had lost`);
      await server.stop();
    }
  });
}


test('an outbox store whose queuedRecords() throws at teardown: destroy() returns, the in-flight message rejects with CCS_ERR_CLOSED, the connection closes, a StoreError (queuedRecords) on the error event', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const store = new MemoryOutboxStore();
  store.queuedRecords = function* (): Generator<OutboxRecord> {
    throw new Error('queuedRecords: password=hunter2');
  };
  const client = new CcsClient(clientOptions(server, { store, maxPending: 1 }));
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  try {
    await client.connect();
    const inflight = client.send({ to: 'tok' }).then(() => undefined, (e: unknown) => (e as CcsError).code);
    await server.until(() => server.received.length === 1);
    client.destroy();
    assert.is(await inflight, 'CCS_ERR_CLOSED');
    await server.until(() => server.conns[0]!.closed);
    assert.instance(errors[0], StoreError);
    assert.is((errors[0] as StoreError).operation, 'queuedRecords');
    assert.not.match(errors[0]!.message, /hunter2/);
  } finally {
    await server.stop();
  }
});

test('a caller id with the generator\'s prefix and a store whose queuedRecords() throws: send() rejects and dispatch() calls back with a StoreError (queuedRecords), nothing is counted, close() does not wait', async () => {
  const server = await startScriptedServer();
  const store = new MemoryOutboxStore();
  store.queuedRecords = function* (): Generator<OutboxRecord> {
    throw new Error('queuedRecords: password=hunter2');
  };
  const client = new CcsClient(clientOptions(server, { store, messageIdPrefix: 'gen-' }));
  client.on('error', () => {});
  try {
    await client.connect();
    const sent = await client.send({ to: 'tok', message_id: 'gen-7' }).then(() => undefined, (e: unknown) => e);
    assert.instance(sent, StoreError);
    assert.is((sent as StoreError).code, 'CCS_ERR_STORE');
    assert.is((sent as StoreError).operation, 'queuedRecords');
    assert.not.match((sent as Error).message, /hunter2/);
    assert.match(((sent as Error).cause as Error).message, /hunter2/);
    const called = await new Promise<unknown>((resolve) => {
      client.dispatch({ to: 'tok', message_id: 'gen-8' }, (err) => resolve(err));
    });
    assert.instance(called, StoreError);
    assert.is(client.stats().pending + client.stats().queued, 0);
    // A caller id without the prefix, and a generated id, never look in the store.
    assert.is((await client.send({ to: 'tok', message_id: 'own-1' })).messageId, 'own-1');
    assert.ok((await client.send({ to: 'tok' })).messageId.startsWith('gen-'));
    const started = Date.now();
    await client.close({ timeoutMs: 5000 });
    assert.ok(Date.now() - started < 2000, 'nothing left counted for close() to wait on');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test.run();
