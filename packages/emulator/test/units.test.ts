import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCondition } from '../src/index.js';
import { DrainClose } from '../src/drain-close.js';
import { Fifo } from '../src/fifo.js';
import { Prng, deriveSeed } from '../src/prng.js';

test('parseCondition returns the topics of valid FCM conditions and undefined for invalid ones', () => {
  assert.equal(parseCondition("'a' in topics"), ['a']);
  assert.equal(parseCondition("\"a\" in topics || 'b-c_d.e~f%g' in topics"), ['a', 'b-c_d.e~f%g']);
  assert.equal(parseCondition("!('a' in topics && 'b' in topics) || 'c' in topics"), ['a', 'b', 'c']);
  for (const bad of ['', "'a' in topics &&", "'a' in topicz", "('a' in topics", "'a b' in topics", 'a in topics', "'a' in topics 'b' in topics", "'a' in topics)"]) {
    assert.is(parseCondition(bad), undefined, bad);
  }
});

test('DrainClose: due once the ping is answered and upstream settled, never before drainMinMs, always at drainTimeoutMs', () => {
  // Drained at t = 1000 with drainTimeoutMs 500 and drainMinMs 100.
  const d = new DrainClose(1000, 500, 100, 'drain-7');
  assert.is(d.pingId, 'drain-7');
  assert.is(d.due(1200, true), false, 'owing nothing is not enough: the ping is unanswered');
  assert.is(d.answer('other'), false, 'an answer to another IQ');
  assert.is(d.answered, false);
  assert.is(d.due(1499, true), false);
  assert.is(d.due(1500, false), true, 'the deadline, whatever is owed or unanswered');
  assert.is(d.answer('drain-7'), true);
  assert.is(d.answered, true);
  assert.is(d.due(1050, true), false, 'answered and settled, but before drainMinMs');
  assert.is(d.due(1100, true), true);
  assert.is(d.due(1100, false), false, 'answered, upstream still un-ACKed');
  // drainMinMs above drainTimeoutMs: the floor wins.
  const floor = new DrainClose(0, 50, 300, 'p');
  assert.is(floor.due(299, false), false);
  assert.is(floor.due(300, false), true);
});

test('Fifo keeps order across shifts, compaction and prepend', () => {
  const q = new Fifo<number>();
  for (let i = 0; i < 3000; i++) q.push(i);
  for (let i = 0; i < 2000; i++) assert.is(q.shift(), i);
  assert.is(q.length, 1000);
  q.prepend([-2, -1]);
  assert.is(q.shift(), -2);
  assert.is(q.shift(), -1);
  assert.is(q.shift(), 2000);
  assert.is(q.toArray().length, 999);
  while (q.length > 0) q.shift();
  assert.is(q.shift(), undefined);
});

test('Prng is deterministic per seed and chance() honours the bounds', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.equal(Array.from({ length: 5 }, () => b.next()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.is(new Prng(1).chance(0), false);
  assert.is(new Prng(1).chance(1), true);
  assert.match(new Prng(7).hex(), /^[0-9a-f]{8}$/);
  assert.is.not(deriveSeed(1, 1), deriveSeed(1, 2));
  let hits = 0;
  const p = new Prng(3);
  for (let i = 0; i < 10_000; i++) if (p.chance(0.25)) hits++;
  assert.ok(hits > 2300 && hits < 2700, String(hits));
});

test.run();
