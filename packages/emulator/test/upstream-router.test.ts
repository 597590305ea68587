// UpstreamRouter against plain outlets (no sockets): round robin among outlets with room, one
// copy of an id per outlet, in-flight messages first on the next outlet, the queue bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UpstreamRouter, type UpstreamEntry, type UpstreamOutlet } from '../src/upstream-router.js';

class Outlet implements UpstreamOutlet {
  readonly got: string[] = [];
  readonly inflight = new Set<string>();
  constructor(readonly senderId: string | undefined, public room: number) {}
  get canTakeUpstream(): boolean {
    return this.inflight.size < this.room;
  }
  hasUpstream(id: string): boolean {
    return this.inflight.has(id);
  }
  sendUpstream(entry: UpstreamEntry): void {
    this.got.push(entry.id);
    this.inflight.add(entry.id);
  }
}

const entry = (id: string, senderId = 's'): UpstreamEntry => ({ id, senderId, stanza: `<m>${id}</m>`, receipt: false, sentAt: 0, sends: 0, epoch: 0 });

test('hands queued messages to online outlets round robin, only while they have room', () => {
  const r = new UpstreamRouter(100);
  for (let i = 1; i <= 5; i++) r.enqueue(entry(`u${i}`));
  assert.is(r.queued('s'), 5);
  const a = new Outlet('s', 2);
  const b = new Outlet('s', 2);
  r.online(a);
  assert.equal(a.got, ['u1', 'u2']);
  r.online(b);
  assert.equal(b.got, ['u3', 'u4']);
  assert.is(r.queued('s'), 1);
  a.inflight.delete('u1');
  r.capacity(a);
  assert.equal(a.got, ['u1', 'u2', 'u5']);
  assert.is(r.queuedTotal(), 0);
});

test('an outlet that closes gives its in-flight messages back, first in line, and a second copy of an id waits', () => {
  const r = new UpstreamRouter(100);
  const a = new Outlet('s', 10);
  r.online(a);
  r.enqueue(entry('x'));
  r.enqueue(entry('y'));
  const b = new Outlet('s', 10);
  b.inflight.add('x'); // b already has a copy of x in flight
  r.enqueue(entry('z'));
  r.offline(a, [entry('x'), entry('y')]);
  r.online(b);
  // x cannot go to b (a copy is in flight there): nothing overtakes it.
  assert.equal(b.got, []);
  b.inflight.delete('x');
  r.capacity(b);
  assert.equal(b.got, ['x', 'y']);
  assert.is(r.queued('s'), 0);
});

test('counts ACKed ids per sender, reports the queue bound, and clear() forgets both', () => {
  const r = new UpstreamRouter(2);
  r.acked(entry('a', 's1'));
  assert.ok(r.wasAcked('s1', 'a'));
  assert.not.ok(r.wasAcked('s2', 'a'));
  r.enqueue(entry('q1', 's1'));
  assert.not.ok(r.isFull('s1'));
  r.enqueue(entry('q2', 's1'));
  assert.ok(r.isFull('s1'));
  assert.not.ok(r.isFull('s2'));
  assert.is(r.clear(), 2);
  assert.not.ok(r.wasAcked('s1', 'a'));
  assert.is(r.queuedTotal(), 0);
});

test('a receipt goes on its own outlet when there is room, else to the queue', () => {
  const r = new UpstreamRouter(10);
  const a = new Outlet('s', 1);
  r.sendOrEnqueue(a, entry('dr2:1'));
  assert.equal(a.got, ['dr2:1']);
  r.sendOrEnqueue(a, entry('dr2:2'));
  assert.is(r.queued('s'), 1);
});

test.run();
