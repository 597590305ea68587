// How often the outbox asks for a connection, and when it reads the latency clock: a busy client's
// steady state (a full queue, full windows, ACKs arriving many per socket read) must not pay a
// search of every connection per message, nor a clock call per write and per ACK
// (bench/ccs-client.mjs; bench/ANALYSIS.md). The model test (outbox.model.test.ts) checks that
// nothing waits in the queue while a connection has room.
import { deepStrictEqual } from 'node:assert';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeepAlive } from '../src/clock.js';
import { elapsedMs, tickMs, tickStamp } from '../src/latency.js';
import { MemoryOutboxStore } from '../src/memory-store.js';
import { MessageIdGenerator } from '../src/message-id.js';
import type { Outbound, SendResult } from '../src/outbound.js';
import { Outbox, type OutboxConnection } from '../src/outbox.js';
import { Counters } from '../src/stats.js';
import { FakeClock } from './helpers/fake-clock.js';

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** An outbox over one fake connection with a window of `maxPending`, counting the host's pick() and pickAgain() calls. */
function setup(maxPending: number) {
  const inflight: Outbound[] = [];
  const conn: OutboxConnection = {
    write(out) {
      inflight.push(out);
      return true;
    },
  };
  const counters = new Counters();
  let picks = 0;
  let again = 0;
  let outbox!: Outbox;
  outbox = new Outbox({
    maxQueued: 1000, sendTimeoutMs: 0, maxRetries: 0, retryBaseMs: 100, retryMaxMs: 1000, jitter: () => 0.5,
    store: new MemoryOutboxStore(), clock: new FakeClock(), keepAlive: new KeepAlive(() => outbox.outstanding > 0), ids: new MessageIdGenerator('t-'), counters,
  }, {
    pick: () => {
      picks++;
      return inflight.length < maxPending ? conn : undefined;
    },
    pickAgain: () => {
      again++;
      return inflight.length < maxPending;
    },
    inFlight: () => undefined,
    capacity: () => {},
    idle: () => {},
    promises: () => {},
    settled: () => {},
    error: (err) => assert.unreachable(err.message),
  });
  return { outbox, inflight, counters, picks: () => picks, again: () => again };
}

test('a send that finds messages queued asks no connection for room; one that finds the queue empty asks once', () => {
  const { outbox, inflight, picks } = setup(2);
  const promises = [];
  for (let i = 0; i < 2; i++) promises.push(outbox.submit({ to: 'tok' }, undefined));
  assert.is(inflight.length, 2, 'written at once while the window had room');
  assert.is(picks(), 2, 'one pick per send that found the queue empty');
  // The window is full: the next send asks once more (the queue is still empty), then is queued.
  promises.push(outbox.submit({ to: 'tok' }, undefined));
  assert.is(picks(), 3);
  // Behind a queued message there is nothing to ask for: the queue only moves when room is made.
  for (let i = 0; i < 10; i++) promises.push(outbox.submit({ to: 'tok' }, undefined));
  assert.is(picks(), 3, 'no pick for a send behind queued messages');
  assert.is(outbox.queued, 11);
  assert.is(promises.filter((p) => p === undefined).length, 0);
});

test('the ACKs of one tick are followed by one dispatch: each freed slot is filled, in order, once the tick\'s ACKs are settled', async () => {
  const { outbox, inflight, picks, again } = setup(5);
  for (let i = 0; i < 15; i++) outbox.submit({ to: 'tok' }, undefined);
  assert.is(inflight.length, 5);
  const before = picks();
  assert.is(again(), 0, 'a send asks pick(), never pickAgain()');
  const acked = inflight.splice(0, 5);
  for (const out of acked) outbox.ack(out, 'tok', undefined);
  assert.is(inflight.length, 0, 'nothing written while the ACKs of the tick are handled');
  assert.is(picks(), before, 'no connection asked during the ACKs');
  await nextTick();
  assert.equal(inflight.map((o) => o.id), ['t-5', 't-6', 't-7', 't-8', 't-9'], 'the freed slots filled with the oldest queued, in order');
  // One dispatch: one pick() for the connection, then the connection written to asked whether it
  // is still the pick after each write (pickAgain) instead of every connection (bench/ANALYSIS.md,
  // sixteenth pass); the last answer no, and pick() finds no room.
  assert.is(picks(), before + 2, 'pick() once for the connection filled, once more when it was full');
  assert.is(again(), 5, 'pickAgain() after each write');
  assert.is(outbox.queued, 5);
});

test('the latency clock is read once per tick: writes and ACKs of one tick share a reading, the next tick takes a new one', async () => {
  const a = tickMs();
  const b = tickMs();
  assert.is(a, b);
  const until = performance.now() + 2;
  while (performance.now() < until) {
    // Time passes within the tick; the reading does not.
  }
  assert.is(tickMs(), a);
  await nextTick();
  const c = tickMs();
  assert.ok(c > a, `a later tick reads the clock again (${c} after ${a})`);
});

test('an ACK\'s latency is measured from the tick its message was written in to the tick of its ACK', async () => {
  const { outbox, inflight, counters } = setup(1);
  const p = outbox.submit({ to: 'tok' }, undefined);
  const [out] = inflight.splice(0, 1) as [Outbound];
  const written = tickStamp();
  assert.is(out.writtenAt, written);
  assert.ok(Number.isInteger(written) && written >= 0 && written < 2 ** 30, `the stamp ${written} is a small integer`);
  assert.is(written, Math.trunc(tickMs() * 64) % 2 ** 30, 'in 1/64 ms of the tick\'s reading');
  await new Promise((resolve) => setTimeout(resolve, 20));
  outbox.ack(out, 'tok', undefined);
  await p;
  const s = counters.ackLatency.snapshot();
  assert.is(s.count, 1);
  assert.ok(s.maxMs >= 15, `latency ${s.maxMs} ms covers the 20 ms between the ticks`);
});

test('elapsedMs counts 1/64 ms stamps across the wrap at 2^30', () => {
  assert.is(elapsedMs(100, 164), 1);
  assert.is(elapsedMs(2 ** 30 - 32, 32), 1, 'a span across the wrap');
  assert.is(elapsedMs(5, 5), 0);
  const now = tickStamp();
  assert.is(elapsedMs((now - 320) & (2 ** 30 - 1)), 5, 'from a stamp 5 ms before this tick\'s');
});

test('an ACK resolves with a plain object of the four fields, as a literal would be (made by a constructor: no allocation site)', async () => {
  const { outbox, inflight } = setup(2);
  const first = outbox.submit({ to: 'tok', message_id: 'm-1' }, undefined);
  const second = outbox.submit({ to: 'tok' }, undefined);
  outbox.ack(inflight[0] as Outbound, 'tok', 'canonical');
  outbox.ack(inflight[1] as Outbound, undefined, undefined);
  const a = (await first) as SendResult;
  const b = (await second) as SendResult;
  assert.is(Object.getPrototypeOf(a), Object.prototype);
  assert.equal(Object.keys(a), ['messageId', 'from', 'registrationId', 'retries']);
  // node:assert's strict comparison also compares prototypes (and so would a caller's test).
  deepStrictEqual(a, { messageId: 'm-1', from: 'tok', registrationId: 'canonical', retries: 0 });
  deepStrictEqual(b, { messageId: (inflight[1] as Outbound).id, from: undefined, registrationId: undefined, retries: 0 });
  assert.is(JSON.stringify(a), '{"messageId":"m-1","from":"tok","registrationId":"canonical","retries":0}');
});

test.run();
