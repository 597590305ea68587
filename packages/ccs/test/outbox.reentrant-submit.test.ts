// A send() made from inside another send(): from a `ccs:send:enqueued` subscriber (a metrics or
// diagnostics hook) or from the store's append. The outer send had already picked its connection;
// the inner one picked the same connection and took its last window slot, and the outer one was then
// written there too — maxPending + 1 in flight on one connection, past CCS's flow-control window. Or
// (a store that calls back after recording the outer message) the inner one was queued behind it and
// left there while the connection had room, until some later ACK.
import * as dc from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, MemoryOutboxStore, channelNames, type SendResult } from '../src/index.js';
import type { OutboxRecord } from '../src/store.js';
import { clientOptions, quiet, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Checks the window at the server: never more than `max` un-answered on a connection (it ACKs nothing until told). */
async function settleInOrder(server: ScriptedServer, client: CcsClient, sends: Array<Promise<SendResult>>, max: number): Promise<void> {
  let acked = 0;
  while (acked < sends.length) {
    await sleep(100); // whatever the client would write now has arrived by then (127.0.0.1)
    const conn = server.latest();
    const pending = conn.received.length - acked;
    assert.ok(pending <= max, `${pending} un-answered messages on a connection with maxPending ${max}`);
    const stats = client.stats();
    for (const s of stats.perConnection) assert.ok(s.pending <= max && s.free >= 0, `client side: ${JSON.stringify(s)}`);
    assert.not.ok(stats.queued > 0 && stats.perConnection.some((s) => s.free > 0), `${stats.queued} queued beside free window`);
    assert.ok(pending > 0, `nothing in flight with ${sends.length - acked} sends unsettled: a message was left queued beside free window`);
    conn.ack(conn.received[acked]?.['message_id'] as string);
    acked++;
  }
  const results = await Promise.all(sends);
  assert.is(results.length, sends.length);
}

test('a send() from a ccs:send:enqueued subscriber never puts more than maxPending in flight on a connection', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { connections: 1, maxPending: 1 }));
  const sends: Array<Promise<SendResult>> = [];
  let hooked = false;
  const onEnqueued = (): void => {
    if (hooked) return;
    hooked = true;
    sends.push(quiet(client.send({ to: 'tok-inner', data: { via: 'the enqueued hook' } })));
  };
  try {
    await client.connect();
    dc.subscribe(channelNames.enqueued, onEnqueued);
    sends.push(quiet(client.send({ to: 'tok-outer', data: {} })));
    dc.unsubscribe(channelNames.enqueued, onEnqueued);
    assert.ok(hooked);
    await settleInOrder(server, client, sends, 1);
  } finally {
    dc.unsubscribe(channelNames.enqueued, onEnqueued);
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

/** A memory store that makes one send() from inside append, before or after recording the record. */
class ReentrantStore extends MemoryOutboxStore {
  hook: (() => void) | undefined;
  readonly when: 'before' | 'after';
  constructor(when: 'before' | 'after') {
    super();
    this.when = when;
  }
  override append(record: OutboxRecord): void {
    const hook = this.hook;
    this.hook = undefined;
    if (this.when === 'before') hook?.();
    super.append(record);
    if (this.when === 'after') hook?.();
  }
}

// [when the store calls send(), maxPending, messages already in flight]
for (const [when, maxPending, inFlight] of [['before', 1, 0], ['before', 3, 2], ['after', 1, 0], ['after', 3, 0]] as const) {
  test(`a send() from the store's append (${when} it records, ${maxPending - inFlight} of ${maxPending} free) keeps the window and leaves nothing queued beside free window`, async () => {
    const server = await startScriptedServer({ autoAck: false });
    const store = new ReentrantStore(when);
    const client = new CcsClient(clientOptions(server, { connections: 1, maxPending, store }));
    const sends: Array<Promise<SendResult>> = [];
    try {
      await client.connect();
      for (let i = 0; i < inFlight; i++) sends.push(quiet(client.send({ to: `tok-${i}`, data: {} })));
      store.hook = () => {
        sends.push(quiet(client.send({ to: 'tok-inner', data: { via: 'append' } })));
      };
      sends.push(quiet(client.send({ to: 'tok-outer', data: {} })));
      assert.is(store.hook, undefined, 'the hook ran');
      await settleInOrder(server, client, sends, maxPending);
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

/** A memory store that makes one send() from inside takeNext, once it has taken the record (its queue then empty). */
class TakeHookStore extends MemoryOutboxStore {
  hook: (() => void) | undefined;
  override takeNext(): OutboxRecord | undefined {
    const record = super.takeNext();
    if (record !== undefined) {
      const hook = this.hook;
      this.hook = undefined;
      hook?.();
    }
    return record;
  }
}

test("a send() from the store's takeNext in a send() that writes at once keeps the window", async () => {
  const server = await startScriptedServer({ autoAck: false });
  const store = new TakeHookStore();
  const client = new CcsClient(clientOptions(server, { connections: 1, maxPending: 1, store }));
  const sends: Array<Promise<SendResult>> = [];
  try {
    await client.connect();
    store.hook = () => {
      sends.push(quiet(client.send({ to: 'tok-inner', data: { via: 'takeNext' } })));
    };
    sends.push(quiet(client.send({ to: 'tok-outer', data: {} })));
    assert.is(store.hook, undefined, 'the hook ran');
    await settleInOrder(server, client, sends, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test("a send() from the store's takeNext while the outbox dispatches (an ACK freed the slot) keeps the window", async () => {
  const server = await startScriptedServer({ autoAck: false });
  const store = new TakeHookStore();
  const client = new CcsClient(clientOptions(server, { connections: 1, maxPending: 1, store }));
  const sends: Array<Promise<SendResult>> = [];
  try {
    await client.connect();
    sends.push(quiet(client.send({ to: 'tok-first', data: {} })));
    sends.push(quiet(client.send({ to: 'tok-outer', data: {} })));
    assert.is(client.stats().queued, 1, 'the second one waits for the window');
    // Taken by the dispatch that the first one's ACK starts.
    store.hook = () => {
      sends.push(quiet(client.send({ to: 'tok-inner', data: { via: 'takeNext in dispatch' } })));
    };
    await settleInOrder(server, client, sends, 1);
    assert.is(store.hook, undefined, 'the hook ran');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
