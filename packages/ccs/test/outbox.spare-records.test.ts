// The outbox's spare records: the record of an ACKed plain message carries a later send, so that a
// busy client's records are allocated once and promoted once instead of copied by every scavenge
// they live through (bench/ANALYSIS.md, ninth pass), reused in the order they were ACKed. Reuse is
// safe only for a record nothing else refers to any more: these tests pin down which records are
// reused and which never are.
import { nackRetryClass, type NackCode, type NackError as StanzaNack } from '@ccs-xmpp/stanza';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeepAlive } from '../src/clock.js';
import { MemoryOutboxStore } from '../src/memory-store.js';
import { MessageIdGenerator } from '../src/message-id.js';
import type { Outbound, SendResult } from '../src/outbound.js';
import { Outbox, type OutboxConnection } from '../src/outbox.js';
import { Counters } from '../src/stats.js';
import type { OutboxRecord, OutboxStore } from '../src/store.js';
import { FakeClock } from './helpers/fake-clock.js';

const nackOf = (code: NackCode): StanzaNack => ({ code, reason: undefined, description: code, retry: nackRetryClass(code), known: true, raw: code });
const outcome = (p: Promise<SendResult> | undefined): Promise<string> => (p as Promise<SendResult>).then((r) => `ok:${r.messageId}:${r.retries}`, (e: { code?: string }) => `err:${e.code}`);

/** An outbox over one fake connection that takes every write; `written` lists the records written, in order. */
function setup(options: { store?: OutboxStore; spareRecords?: number } = {}) {
  const written: Outbound[] = [];
  const settled: OutboxRecord[] = [];
  const conn: OutboxConnection = {
    write(out) {
      written.push(out);
      return true;
    },
  };
  const clock = new FakeClock();
  let outbox!: Outbox;
  outbox = new Outbox({
    maxQueued: 100, sendTimeoutMs: 0, maxRetries: 3, retryBaseMs: 100, retryMaxMs: 1000, jitter: () => 0.5, spareRecords: 'spareRecords' in options ? options.spareRecords : 100,
    store: options.store ?? new MemoryOutboxStore(), clock, keepAlive: new KeepAlive(() => outbox.outstanding > 0), ids: new MessageIdGenerator('g-'), counters: new Counters(),
  }, {
    pick: () => conn,
    pickAgain: () => true,
    inFlight: () => undefined,
    capacity: () => {},
    idle: () => {},
    promises: () => {},
    settled: (record) => settled.push(record),
    error: (err) => assert.unreachable(err.message),
  });
  const ack = (i: number): void => outbox.ack(written[i] as Outbound, 'tok', undefined);
  return { outbox, written, settled, ack };
}

test('the record of an ACKed plain message carries the next send, holding nothing of the message before', async () => {
  const { outbox, written, ack } = setup();
  const first = outcome(outbox.submit({ to: 'tok', data: { n: '1' } }, undefined));
  ack(0);
  assert.is(await first, 'ok:g-0:0');
  const record = written[0] as Outbound;
  // Spare: the caller's payload is not kept alive by it.
  assert.is(record.id, '');
  assert.equal(Object.keys(record.msg), []);
  const second = outcome(outbox.submit({ to: 'tok2', data: { n: '2' } }, undefined));
  assert.is(written[1], record, 'the same record');
  assert.is(record.id, 'g-1');
  assert.equal(record.msg, { to: 'tok2', data: { n: '2' } });
  assert.is(record.seq, 1);
  assert.is(record.state, 'inflight');
  assert.is(record.storeSlot, -1);
  assert.ok(record.written);
  assert.not.ok(record.settled);
  assert.is(record.resends, 0);
  assert.is(outbox.outstanding, 1);
  ack(1);
  assert.is(await second, 'ok:g-1:0');
  assert.is(outbox.outstanding, 0);
});

test('a dispatched record, once ACKed, carries the next send() (a promise again), and a sent one the next dispatch() (a callback again)', async () => {
  const { outbox, written, ack } = setup();
  const calls: string[] = [];
  const cb = (err: { code?: string } | undefined, r: SendResult | undefined): void => {
    calls.push(err === undefined ? `ok:${r?.messageId}` : `err:${err.code}`);
  };
  assert.is(outbox.submit({ to: 'tok' }, undefined, cb), true);
  ack(0);
  assert.equal(calls, [], 'not inside the ACK');
  await Promise.resolve();
  assert.equal(calls, ['ok:g-0']);
  const record = written[0] as Outbound;
  assert.is(record.caller, undefined, 'a spare record keeps no callback alive');
  const promised = outcome(outbox.submit({ to: 'tok' }, undefined));
  assert.is(written[1], record, 'the dispatched record is reused');
  ack(1);
  assert.is(await promised, 'ok:g-1:0');
  assert.equal(calls, ['ok:g-0'], 'the promise settled, not the old callback');
  assert.is(outbox.submit({ to: 'tok' }, undefined, cb), true);
  assert.is(written[2], record, 'and reused again');
  ack(2);
  await Promise.resolve();
  assert.equal(calls, ['ok:g-0', 'ok:g-2']);
  assert.is(outbox.outstanding, 0);
});

test('a record that something else may still hold is never reused: a caller\'s id, a timeout, a signal, a resend, an adopted record', async () => {
  const { outbox, written, settled, ack } = setup();
  const results = [
    outcome(outbox.submit({ to: 'tok', message_id: 'mine' }, undefined)),
    outcome(outbox.submit({ to: 'tok' }, { timeoutMs: 60_000 })),
    outcome(outbox.submit({ to: 'tok' }, { signal: new AbortController().signal })),
    outcome(outbox.submit({ to: 'tok' }, undefined)),
  ];
  // The fourth goes out again (its connection is draining): it has a resend to report.
  outbox.nack(written[3] as Outbound, nackOf('CONNECTION_DRAINING'), false);
  assert.is(written[4], written[3]);
  outbox.adopt([{ id: 'a0', seq: 0, msg: { to: 'tok', message_id: 'a0' }, target: 'tok', retries: 0, resends: 0, written: false, state: 'queued', notBefore: 0, storeSlot: -1 }]);
  for (const i of [0, 1, 2, 4, 5]) ack(i);
  assert.equal(await Promise.all(results), ['ok:mine:0', 'ok:g-0:0', 'ok:g-1:0', 'ok:g-2:1']);
  assert.equal(settled.map((r) => r.id), ['a0']);
  const before = new Set(written);
  const next = outcome(outbox.submit({ to: 'tok' }, undefined));
  assert.not.ok(before.has(written[6] as Outbound), 'a fresh record');
  assert.equal(written.slice(0, 6).map((o) => o.id), ['mine', 'g-0', 'g-1', 'g-2', 'g-2', 'a0']);
  assert.is((settled[0] as OutboxRecord).id, 'a0', 'the settled event\'s record is left alone');
  ack(6);
  assert.is(await next, 'ok:g-3:0');
});

test('while a target is throttled, no record is reused', async () => {
  const { outbox, written, ack } = setup();
  const slow = outcome(outbox.submit({ to: 'slow' }, undefined));
  outbox.nack(written[0] as Outbound, nackOf('DEVICE_MESSAGE_RATE_EXCEEDED'), false);
  assert.is(outbox.throttledTargets, 1);
  const fast = outcome(outbox.submit({ to: 'fast' }, undefined));
  ack(1);
  assert.is(await fast, 'ok:g-1:0');
  const again = outcome(outbox.submit({ to: 'fast' }, undefined));
  assert.is.not(written[2], written[1]);
  assert.is((written[1] as Outbound).id, 'g-1');
  ack(2);
  assert.is(await again, 'ok:g-2:0');
  outbox.failAll(new Error('done'), []);
  assert.is(await slow, 'err:undefined');
});

test('with any store but the memory store no record is reused: the store may still read a removed one', async () => {
  /** A store that keeps what it was told to remove, as a durable store batching its removals to the end of the tick does. */
  class RecordingStore extends MemoryOutboxStore {
    readonly removed: OutboxRecord[] = [];
    override remove(record: OutboxRecord, outcome: SendResult | Error): void {
      this.removed.push(record);
      super.remove(record, outcome);
    }
  }
  const store = new RecordingStore();
  const { outbox, written, ack } = setup({ store });
  const first = outcome(outbox.submit({ to: 'tok' }, undefined));
  ack(0);
  const second = outcome(outbox.submit({ to: 'tok' }, undefined));
  ack(1);
  assert.equal(await Promise.all([first, second]), ['ok:g-0:0', 'ok:g-1:0']);
  assert.is.not(written[1], written[0]);
  assert.equal(store.removed.map((r) => [r.id, r.msg]), [['g-0', { to: 'tok' }], ['g-1', { to: 'tok' }]]);
});

test('spare records are reused oldest first, and without spareRecords none are kept', async () => {
  const { outbox, written, ack } = setup();
  const first = [0, 1, 2].map(() => outcome(outbox.submit({ to: 'tok' }, undefined)));
  for (const i of [1, 2, 0]) ack(i);
  await Promise.all(first);
  const order = [written[1], written[2], written[0]];
  const again = [0, 1, 2].map(() => outcome(outbox.submit({ to: 'tok' }, undefined)));
  assert.equal(written.slice(3), order, 'in the order they were ACKed');
  for (const i of [3, 4, 5]) ack(i);
  assert.equal(await Promise.all(again), ['ok:g-3:0', 'ok:g-4:0', 'ok:g-5:0']);
  const none = setup({ spareRecords: undefined });
  const one = outcome(none.outbox.submit({ to: 'tok' }, undefined));
  none.ack(0);
  await one;
  const two = outcome(none.outbox.submit({ to: 'tok' }, undefined));
  assert.is.not(none.written[1], none.written[0]);
  none.ack(1);
  assert.is(await two, 'ok:g-1:0');
});

test('at most spareRecords records are kept for reuse, and failAll lets go of them', async () => {
  const { outbox, written, ack } = setup({ spareRecords: 2 });
  const results = [0, 1, 2].map(() => outcome(outbox.submit({ to: 'tok' }, undefined)));
  for (const i of [0, 1, 2]) ack(i);
  await Promise.all(results);
  const first = new Set(written);
  const later = [0, 1, 2].map(() => outcome(outbox.submit({ to: 'tok' }, undefined)));
  assert.equal(written.slice(3).map((o) => first.has(o)), [true, true, false]);
  for (const i of [3, 4, 5]) ack(i);
  assert.equal(await Promise.all(later), ['ok:g-3:0', 'ok:g-4:0', 'ok:g-5:0']);
  outbox.failAll(new Error('closed'), []);
  const seen = new Set(written);
  const last = outcome(outbox.submit({ to: 'tok' }, undefined));
  assert.not.ok(seen.has(written[6] as Outbound), 'a fresh record after failAll');
  ack(6);
  assert.is(await last, 'ok:g-6:0');
});

test('failAll from a subscriber of the acked channel (a client destroyed there) leaves no spare record: the ACKed one is not kept either', async () => {
  const { outbox, written, ack } = setup();
  const first = outcome(outbox.submit({ to: 'tok' }, undefined));
  const destroy = (): void => outbox.failAll(new Error('destroyed'), []);
  subscribe('ccs:send:acked', destroy);
  try {
    ack(0);
  } finally {
    unsubscribe('ccs:send:acked', destroy);
  }
  // Not in flight any more when the subscriber ran: its ACK still settles it.
  assert.is(await first, 'ok:g-0:0');
  const next = outcome(outbox.submit({ to: 'tok' }, undefined));
  assert.is.not(written[1], written[0], 'a fresh record: the ACKed one was not kept after failAll');
  ack(1);
  assert.is(await next, 'ok:g-1:0');
});

test('spare records the load has not needed for thousands of ACKs are let go; a pool that every wave empties is kept', async () => {
  const burst = async (o: ReturnType<typeof setup>, n: number): Promise<Outbound[]> => {
    const from = o.written.length;
    const results = Array.from({ length: n }, () => outcome(o.outbox.submit({ to: 'tok' }, undefined)));
    for (let i = from; i < from + n; i++) o.ack(i);
    await Promise.all(results);
    return o.written.slice(from);
  };
  // A peak of 100, then one message at a time for 3 × 4096 ACKs: 99 spares were never needed.
  const low = setup();
  const peak = new Set(await burst(low, 100));
  for (let i = 0; i < 3 * 4096; i++) await burst(low, 1);
  const after = await burst(low, 100);
  const reused = after.filter((r) => peak.has(r)).length;
  assert.ok(reused <= 2, `${reused} of the peak's 100 records still kept`);
  // Waves of 100: the pool is emptied by every wave and stays whole.
  const waves = setup();
  const first = new Set(await burst(waves, 100));
  for (let i = 0; i < 130; i++) await burst(waves, 100);
  assert.is((await burst(waves, 100)).filter((r) => first.has(r)).length, 100);
});

test.run();
