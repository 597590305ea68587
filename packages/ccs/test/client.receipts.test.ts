// Receipts as promises: send(msg, { receipt: true }) resolves with the ACK and a `receipt` promise
// that settles when the dr2: receipt for that message_id arrives — over real TLS to the emulator
// (offline devices hold the receipt until they come back) or to the scripted server (exact
// ordering: a receipt before its ACK, a NACK, a cut), with a fake clock wherever time decides.
import * as dc from 'node:diagnostics_channel';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CcsClient, ClosedError, DuplicateIdError, NackError, ReceiptError, channelNames, type CcsClientOptions, type CcsError, type ReceiptMessage,
  type SendResultWithReceipt,
} from '../src/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { API_KEY, clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

const SENDER = '1234567890';

async function withEmulator(fn: (emu: CcsEmulator, opts: CcsClientOptions) => Promise<void>): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0 });
  await emu.start();
  const opts: CcsClientOptions = {
    senderId: SENDER, apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 5, reconnectMaxMs: 50, retryBaseMs: 5, retryMaxMs: 40, handshakeTimeoutMs: 5000,
  };
  try {
    await fn(emu, opts);
  } finally {
    await emu.stop();
  }
}

const until = async (pred: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Follows a promise without handling it for the caller: `state()` says where it is. */
function watch<T>(p: Promise<T>): { state: () => 'pending' | 'resolved' | 'rejected'; value: () => T | undefined; error: () => CcsError | undefined } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T | undefined;
  let error: CcsError | undefined;
  p.then((v) => {
    state = 'resolved';
    value = v;
  }, (e: unknown) => {
    state = 'rejected';
    error = e as CcsError;
  });
  return { state: () => state, value: () => value, error: () => error };
}

/** Records what is published on `names` while `fn` runs. */
async function traced(names: string[], fn: () => Promise<void>): Promise<Array<{ channel: string; msg: Record<string, unknown> }>> {
  const seen: Array<{ channel: string; msg: Record<string, unknown> }> = [];
  const subs = names.map((name) => {
    const sub = (msg: unknown): void => {
      seen.push({ channel: name, msg: msg as Record<string, unknown> });
    };
    dc.subscribe(name, sub);
    return () => dc.unsubscribe(name, sub);
  });
  try {
    await fn();
  } finally {
    for (const off of subs) off();
  }
  return seen;
}

test('emulator: the receipt promise resolves when the held message reaches the device; the receipt event still fires; the caller\'s object is left alone', () =>
  withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    const events: ReceiptMessage[] = [];
    client.on('receipt', (r) => events.push(r));
    try {
      await client.connect();
      emu.deviceModel.set('phone', 'offline');
      const msg = { to: 'phone', message_id: 'r-1', data: { k: 'v' } };
      let result: SendResultWithReceipt | undefined;
      const seen = await traced([channelNames.receipt], async () => {
        result = await client.send(msg, { receipt: true });
        assert.is(result.messageId, 'r-1');
        assert.is(msg.hasOwnProperty('delivery_receipt_requested'), false, 'the option set the flag on a copy');
        const receipt = watch(result.receipt);
        await new Promise((r) => setTimeout(r, 100));
        assert.is(receipt.state(), 'pending', 'held for the offline device: no receipt yet');
        assert.is(client.stats().receiptsWaiting, 1);
        emu.deviceModel.set('phone', 'online');
        const r = await result.receipt;
        assert.is(r.originalMessageId, 'r-1');
        assert.is(r.status, 'MESSAGE_SENT_TO_DEVICE');
        assert.ok(r.messageId.startsWith('dr2:'));
        await until(() => events.length === 1);
      });
      assert.is(events[0]?.originalMessageId, 'r-1', 'the receipt event fires for an awaited receipt too (as it always did for every receipt)');
      assert.is(client.stats().receiptsWaiting, 0);
      assert.equal(seen.map((s) => [s.msg['originalMessageId'], s.msg['awaited']]), [['r-1', true]]);
      // A generated id works the same way: the result's messageId is what the receipt names.
      const gen = await client.send({ to: 'phone' }, { receipt: true });
      assert.is((await gen.receipt).originalMessageId, gen.messageId);
      await until(() => emu.ledger().receiptsAcked === 2);
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }));

test('emulator: a receipt that arrives after a reconnect, on the new connection, settles the promise', () =>
  withEmulator(async (emu, opts) => {
    const client = new CcsClient(opts);
    const online: string[] = [];
    client.on('online', (e) => online.push(e.connectionId));
    try {
      await client.connect();
      emu.deviceModel.set('tablet', 'offline');
      const result = await client.send({ to: 'tablet', message_id: 'rc-1', time_to_live: 600 }, { receipt: true });
      const first = emu.connections()[0]?.id as number;
      // Cut that connection after its next message; the client reconnects and resends that one.
      emu.setFaults({ cutAfterStanzas: 1 }, { connectionId: first });
      await client.send({ to: 'other', message_id: 'cutter' });
      await until(() => online.length === 2);
      const seen = await traced([channelNames.receipt], async () => {
        emu.deviceModel.set('tablet', 'online');
        const r = await result.receipt;
        assert.is(r.originalMessageId, 'rc-1');
      });
      assert.equal(seen.map((s) => s.msg['connectionId']), [online[1]], 'it came on the second connection');
      assert.is(client.stats().reconnects >= 1, true);
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }));

test('emulator: past maxReceiptWaiters the oldest wait rejects first with CCS_ERR_RECEIPT_OVERFLOW, counted in stats() and metrics(); its receipt still fires the event', () =>
  withEmulator(async (emu, opts) => {
    const client = new CcsClient({ ...opts, maxReceiptWaiters: 2 });
    const events: string[] = [];
    client.on('receipt', (r) => events.push(r.originalMessageId ?? ''));
    try {
      await client.connect();
      emu.deviceModel.set('watch', 'offline');
      const failed = await traced([channelNames.receiptFailed], async () => {
        const a = await client.send({ to: 'watch', message_id: 'cap-a' }, { receipt: true });
        const b = await client.send({ to: 'watch', message_id: 'cap-b' }, { receipt: true });
        const ra = watch(a.receipt);
        const c = await client.send({ to: 'watch', message_id: 'cap-c' }, { receipt: true });
        await until(() => ra.state() === 'rejected');
        assert.instance(ra.error(), ReceiptError);
        assert.is(ra.error()?.code, 'CCS_ERR_RECEIPT_OVERFLOW');
        assert.match(ra.error()?.message ?? '', /"cap-a"/);
        assert.is((ra.error() as ReceiptError).messageId, 'cap-a');
        const stats = client.stats();
        assert.is(stats.receiptsEvicted, 1);
        assert.is(stats.receiptsWaiting, 2);
        assert.match(client.metrics(), /\nccs_receipts_evicted_total 1\n/);
        assert.match(client.metrics(), /\nccs_receipts_waiting 2\n/);
        emu.deviceModel.set('watch', 'online');
        assert.equal([(await b.receipt).originalMessageId, (await c.receipt).originalMessageId], ['cap-b', 'cap-c']);
      });
      await until(() => events.length === 3);
      assert.equal(events.sort(), ['cap-a', 'cap-b', 'cap-c'], 'the given-up wait\'s receipt still reaches the event');
      assert.equal(failed.map((f) => [f.msg['messageId'], (f.msg['error'] as CcsError).code]), [['cap-a', 'CCS_ERR_RECEIPT_OVERFLOW']]);
      assert.is(client.stats().receiptsWaiting, 0);
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }));

test('emulator: a NACKed send rejects exactly as without receipt: true, and leaves no wait behind', () =>
  withEmulator(async (_emu, opts) => {
    const client = new CcsClient(opts);
    try {
      await client.connect();
      const err = await client.send({ to: 'unregistered-1', message_id: 'nk-1' }, { receipt: true }).catch((e: unknown) => e);
      assert.instance(err, NackError);
      assert.is((err as NackError).nackCode, 'DEVICE_UNREGISTERED');
      assert.is((err as NackError).messageId, 'nk-1');
      assert.is(client.stats().receiptsWaiting, 0, 'the receipt will never come: nothing waits for it');
      // The id is free again for a new wait.
      const ok = await client.send({ to: 'dev', message_id: 'nk-1' }, { receipt: true });
      assert.is((await ok.receipt).originalMessageId, 'nk-1');
    } finally {
      await client.close({ timeoutMs: 2000 });
    }
  }));

test('the receipt promise rejects with CCS_ERR_RECEIPT_TIMEOUT after receiptTimeoutMs from the ACK (fake clock); a per-send value overrides it, 0 waits forever', async () => {
  const clock = new FakeClock();
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { clock, receiptTimeoutMs: 5000 }));
  const events: string[] = [];
  client.on('receipt', (r) => events.push(r.originalMessageId ?? ''));
  try {
    await client.connect();
    const slow = await client.send({ to: 'tok', message_id: 't-default' }, { receipt: true });
    const fast = await client.send({ to: 'tok', message_id: 't-fast' }, { receipt: true, receiptTimeoutMs: 100 });
    const never = await client.send({ to: 'tok', message_id: 't-never' }, { receipt: true, receiptTimeoutMs: 0 });
    assert.is(server.received.every((r) => r.msg['delivery_receipt_requested'] === true), true, 'CCS was asked for each receipt');
    const [s, f, n] = [watch(slow.receipt), watch(fast.receipt), watch(never.receipt)];
    const failed = await traced([channelNames.receiptFailed], async () => {
      clock.advance(99);
      await new Promise((r) => setTimeout(r, 10));
      assert.is(f.state(), 'pending');
      clock.advance(1);
      await until(() => f.state() === 'rejected');
      assert.is(s.state(), 'pending', 'the client default is longer');
      assert.instance(f.error(), ReceiptError);
      assert.is(f.error()?.code, 'CCS_ERR_RECEIPT_TIMEOUT');
      assert.match(f.error()?.message ?? '', /"t-fast" within 100 ms/);
      assert.not.match(f.error()?.message ?? '', new RegExp(API_KEY));
      clock.advance(4899);
      await new Promise((r) => setTimeout(r, 10));
      assert.is(s.state(), 'pending');
      clock.advance(1);
      await until(() => s.state() === 'rejected');
      assert.is(s.error()?.code, 'CCS_ERR_RECEIPT_TIMEOUT');
      clock.advance(10 * 24 * 3600_000);
      await new Promise((r) => setTimeout(r, 10));
      assert.is(n.state(), 'pending', 'receiptTimeoutMs: 0 never times out');
    });
    assert.equal(failed.map((x) => x.msg['messageId']), ['t-fast', 't-default']);
    const stats = client.stats();
    assert.is(stats.receiptTimeouts, 2);
    assert.is(stats.receiptsWaiting, 1);
    assert.match(client.metrics(), /\nccs_receipt_timeouts_total 2\n/);
    // A receipt after its wait gave up still reaches the event; the one still awaited settles.
    const seen = await traced([channelNames.receipt], async () => {
      server.conns[0]?.receipt('t-fast');
      server.conns[0]?.receipt('t-never');
      assert.is((await never.receipt).originalMessageId, 't-never');
      await until(() => events.length === 2);
    });
    assert.equal(events, ['t-fast', 't-never']);
    assert.equal(seen.map((x) => [x.msg['originalMessageId'], x.msg['awaited']]), [['t-fast', false], ['t-never', true]]);
    assert.is(client.stats().receiptsWaiting, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('one clock timer for all receipt deadlines: armed while a receipt is awaited, following ref()/unref(), gone once the last one settles', async () => {
  const clock = new FakeClock();
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { clock, receiptTimeoutMs: 60_000 }));
  try {
    await client.connect();
    assert.is(clock.timers.size, 0, 'connected and idle: no timer');
    const a = await client.send({ to: 'tok', message_id: 'tm-a' }, { receipt: true });
    const b = await client.send({ to: 'tok', message_id: 'tm-b' }, { receipt: true, receiptTimeoutMs: 1000 });
    assert.is(clock.timers.size, 1, 'one timer, however many receipts wait');
    const timer = [...clock.timers][0];
    assert.is(timer?.at, clock.now() + 1000, 'armed for the earliest deadline');
    assert.is(timer?.refed, true, 'awaited receipts are work: the timer holds the process');
    client.unref();
    assert.is(timer?.refed, false);
    client.ref();
    assert.is(timer?.refed, true);
    server.conns[0]?.receipt('tm-b');
    await b.receipt;
    // The timer may stay at b's deadline (settling is not worth a re-arm); when it fires, a is not due.
    const ra = watch(a.receipt);
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 10));
    assert.is(ra.state(), 'pending');
    assert.is(clock.timers.size, 1);
    assert.is([...clock.timers][0]?.at, clock.now() - 1000 + 60_000, 'armed for the one left');
    server.conns[0]?.receipt('tm-a');
    await a.receipt;
    assert.is(clock.timers.size, 0, 'nothing awaited: no timer left to hold the process');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a receipt that overtakes its ACK settles the promise handed out with the ACK', async () => {
  const server = await startScriptedServer({
    autoAck: false,
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      c.receipt(id);
      setTimeout(() => c.ack(id), 30);
    },
  });
  const client = new CcsClient(clientOptions(server));
  const events: string[] = [];
  client.on('receipt', (r) => events.push(r.originalMessageId ?? ''));
  try {
    await client.connect();
    const result = await client.send({ to: 'tok', message_id: 'early-1' }, { receipt: true });
    assert.equal(events, ['early-1'], 'the receipt came first');
    assert.is((await result.receipt).originalMessageId, 'early-1');
    assert.is(client.stats().receiptsWaiting, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a retried NACK keeps the wait: the receipt of the message ACKed on the retry settles it', async () => {
  let n = 0;
  const server = await startScriptedServer({
    autoAck: false,
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (n++ === 0) c.nack(id, 'SERVICE_UNAVAILABLE');
      else {
        c.ack(id);
        c.receipt(id);
      }
    },
  });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const result = await client.send({ to: 'tok', message_id: 'retry-1' }, { receipt: true });
    assert.is(result.retries, 1);
    assert.is((await result.receipt).originalMessageId, 'retry-1');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('close() rejects every waiting receipt with CCS_ERR_CLOSED after the pending ACKs, and a receipt during the wait still settles its own', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const pa = client.send({ to: 'tok', message_id: 'c-a' }, { receipt: true });
    const pb = client.send({ to: 'tok', message_id: 'c-b' }, { receipt: true });
    const pc = client.send({ to: 'tok', message_id: 'c-c' }, { receipt: true });
    await server.until(() => server.received.length === 3);
    server.conns[0]?.ack('c-a');
    const a = await pa;
    const ra = watch(a.receipt);
    const closing = client.close({ timeoutMs: 5000 });
    // During the graceful wait: c-b is ACKed and its receipt comes; c-c is ACKed, its receipt never.
    server.conns[0]?.ack('c-b');
    server.conns[0]?.receipt('c-b');
    const b = await pb;
    assert.is((await b.receipt).originalMessageId, 'c-b');
    server.conns[0]?.ack('c-c');
    const c = await pc;
    const rc = watch(c.receipt);
    await closing;
    await until(() => ra.state() === 'rejected' && rc.state() === 'rejected');
    for (const r of [ra, rc]) {
      assert.instance(r.error(), ClosedError);
      assert.is(r.error()?.code, 'CCS_ERR_CLOSED');
    }
    assert.is(client.stats().receiptsWaiting, 0);
    const refused = await client.send({ to: 'tok' }, { receipt: true }).catch((e: unknown) => e);
    assert.is((refused as CcsError).code, 'CCS_ERR_CLOSED');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('destroy() rejects waiting receipts (ACKed or not yet) with CCS_ERR_CLOSED; the unACKed send rejects as it always did', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const pa = client.send({ to: 'tok', message_id: 'd-a' }, { receipt: true });
    const pb = quiet(client.send({ to: 'tok', message_id: 'd-b' }, { receipt: true }));
    await server.until(() => server.received.length === 2);
    server.conns[0]?.ack('d-a');
    const a = await pa;
    client.destroy();
    assert.is((await a.receipt.catch((e: unknown) => e) as CcsError).code, 'CCS_ERR_CLOSED');
    const errB = await pb.catch((e: unknown) => e);
    assert.instance(errB, ClosedError);
    assert.is(client.stats().receiptsWaiting, 0);
  } finally {
    await server.stop();
  }
});

test('a wait given up before its ACK (the cap) hands out an already rejected receipt promise with the ACK', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxReceiptWaiters: 1 }));
  try {
    await client.connect();
    const pa = client.send({ to: 'tok', message_id: 'o-a' }, { receipt: true });
    const pb = client.send({ to: 'tok', message_id: 'o-b' }, { receipt: true });
    await server.until(() => server.received.length === 2);
    assert.is(client.stats().receiptsEvicted, 1);
    server.conns[0]?.ack('o-a');
    server.conns[0]?.ack('o-b');
    const a = await pa;
    assert.is((await a.receipt.catch((e: unknown) => e) as CcsError).code, 'CCS_ERR_RECEIPT_OVERFLOW');
    const b = await pb;
    server.conns[0]?.receipt('o-b');
    assert.is((await b.receipt).originalMessageId, 'o-b');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('bad receipt options and contradictions are refused with CCS_ERR_INVALID_OPTION before anything is sent; a second wait for one id with CCS_ERR_DUPLICATE_ID', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const code = (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (e: unknown) => (e as CcsError).code);
    const bad: Array<[string, Promise<unknown>]> = [
      ['receipt: "yes"', client.send({ to: 'tok' }, { receipt: 'yes' as unknown as boolean })],
      ['receiptTimeoutMs: -1', client.send({ to: 'tok' }, { receipt: true, receiptTimeoutMs: -1 })],
      ['receiptTimeoutMs: NaN', client.send({ to: 'tok' }, { receipt: true, receiptTimeoutMs: Number.NaN })],
      ['receiptTimeoutMs: "5"', client.send({ to: 'tok' }, { receipt: true, receiptTimeoutMs: '5' as unknown as number })],
      ['receiptTimeoutMs without receipt', client.send({ to: 'tok' }, { receiptTimeoutMs: 5 })],
      ['dry_run', client.send({ to: 'tok', dry_run: true }, { receipt: true })],
      ['delivery_receipt_requested: false', client.send({ to: 'tok', delivery_receipt_requested: false }, { receipt: true })],
    ];
    for (const [what, p] of bad) assert.is(await code(p), 'CCS_ERR_INVALID_OPTION', what);
    // Invalid messages are still refused by validation.
    assert.is(await code(client.send({ to: 'tok', time_to_live: -1 }, { receipt: true })), 'CCS_ERR_INVALID_MESSAGE');
    assert.is(await code(client.send(null as unknown as { to: string }, { receipt: true })), 'CCS_ERR_INVALID_MESSAGE');
    // receipt: false is a plain send.
    const plain = await client.send({ to: 'tok', message_id: 'plain' }, { receipt: false });
    assert.is('receipt' in plain, false);
    const first = await client.send({ to: 'tok', message_id: 'dup' }, { receipt: true });
    const err = await client.send({ to: 'tok', message_id: 'dup' }, { receipt: true }).catch((e: unknown) => e);
    assert.instance(err, DuplicateIdError);
    assert.match((err as Error).message, /delivery receipt/);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['plain', 'dup'], 'nothing refused was written');
    assert.is(client.stats().receiptsWaiting, 1);
    server.conns[0]?.receipt('dup');
    await first.receipt;
    assert.is(client.stats().receiptsWaiting, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
