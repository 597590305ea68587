// The queue of dispatch() outcomes: callbacks never run inside push(), run in push order after the
// current synchronous work, across the ring's growth and wrap-around, those pushed by a callback in
// the same drain, and one microtask per burst. (A callback that throws: client.dispatch.test.ts, in
// a child process, since its error is re-thrown as an uncaught exception.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CallbackQueue } from '../src/callback-queue.js';
import { ClosedError } from '../src/errors.js';
import { sendResult, type SendCallback } from '../src/outbound.js';

test('runs nothing inside push(); after the synchronous work, every callback in push order, with (error, undefined) or (undefined, result)', async () => {
  const q = new CallbackQueue(4);
  const seen: string[] = [];
  const cb: SendCallback = (err, r) => {
    seen.push(err === undefined ? `ok:${r?.messageId}` : `err:${err.code}:${String(r)}`);
  };
  // Wrap around first: two in, two out, then more than the capacity (growth with head > 0).
  q.push(cb, sendResult('a', undefined, undefined, 0));
  q.push(cb, sendResult('b', undefined, undefined, 0));
  await Promise.resolve();
  assert.equal(seen, ['ok:a', 'ok:b']);
  for (let i = 0; i < 37; i++) q.push(cb, i % 5 === 0 ? new ClosedError() : sendResult(`m${i}`, undefined, undefined, 0));
  assert.is(seen.length, 2, 'nothing ran inside push()');
  assert.is(q.length, 37);
  await Promise.resolve();
  assert.is(q.length, 0);
  assert.equal(seen.slice(2), Array.from({ length: 37 }, (_, i) => (i % 5 === 0 ? 'err:CCS_ERR_CLOSED:undefined' : `ok:m${i}`)));
});

test('a callback that pushes more: they run in the same drain, after the ones already queued; one microtask per burst', async () => {
  const q = new CallbackQueue(4);
  const order: string[] = [];
  const original = globalThis.queueMicrotask;
  let scheduled = 0;
  globalThis.queueMicrotask = (fn) => {
    scheduled++;
    original(fn);
  };
  try {
    const leaf: SendCallback = (_e, r) => {
      order.push(r?.messageId ?? '?');
    };
    const parent: SendCallback = (_e, r) => {
      order.push(r?.messageId ?? '?');
      for (let i = 0; i < 6; i++) q.push(leaf, sendResult(`${r?.messageId}.${i}`, undefined, undefined, 0));
    };
    q.push(parent, sendResult('p1', undefined, undefined, 0));
    q.push(leaf, sendResult('l1', undefined, undefined, 0));
    q.push(parent, sendResult('p2', undefined, undefined, 0));
    let afterFirstMicrotask: number | undefined;
    original(() => {
      afterFirstMicrotask = order.length;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(order, ['p1', 'l1', 'p2', ...[0, 1, 2, 3, 4, 5].map((i) => `p1.${i}`), ...[0, 1, 2, 3, 4, 5].map((i) => `p2.${i}`)]);
    assert.is(afterFirstMicrotask, 15, 'all in the one drain that was queued first');
    assert.is(scheduled, 1, 'one microtask for the burst and what it pushed');
    q.push(leaf, sendResult('later', undefined, undefined, 0));
    await Promise.resolve();
    assert.is(scheduled, 2, 'a new burst schedules again');
    assert.is(order[order.length - 1], 'later');
  } finally {
    globalThis.queueMicrotask = original;
  }
});

test('a storm\'s storage is given back once drained; a busy client\'s batches keep theirs', async () => {
  const q = new CallbackQueue(64);
  const cb: SendCallback = () => {};
  assert.is(q.capacity, 64);
  for (let i = 0; i < 4000; i++) q.push(cb, sendResult(`b${i}`, undefined, undefined, 0));
  assert.is(q.capacity, 4096, 'grown by doubling');
  await Promise.resolve();
  assert.is(q.capacity, 4096, 'up to 4 096 slots stay for the next batch');
  for (let i = 0; i < 10_000; i++) q.push(cb, new ClosedError());
  assert.is(q.capacity, 16_384);
  await Promise.resolve();
  assert.is(q.length, 0);
  assert.is(q.capacity, 64, 'the storm\'s 16 384-slot arrays are gone');
  // And it still works from the small ring: wrap-around and growth again, in order.
  const seen: string[] = [];
  const rec: SendCallback = (_e, r) => {
    seen.push(r === undefined ? 'err' : r.messageId);
  };
  for (let i = 0; i < 100; i++) q.push(rec, sendResult(`c${i}`, undefined, undefined, 0));
  await Promise.resolve();
  assert.equal(seen, Array.from({ length: 100 }, (_, i) => `c${i}`));
});

test.run();
