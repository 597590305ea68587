import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { ClosedError, TimeoutError } from '@ccs-xmpp/ccs';
import { Keys, redisStore, StoreError, type RedisStore } from '../src/index.js';
import { serializeRecord } from '../src/record.js';
import { redisSuite, uniqueSender, until } from './helpers/redis-suite.js';
import { acked, nacked, record, TestHost } from './helpers/records.js';
import { startCuttingProxy } from './helpers/cutting-proxy.js';
import { startHoldingProxy } from './helpers/holding-proxy.js';

const t = redisSuite('redis outbox store', { appendonly: true });

const stores: RedisStore[] = [];
function open(url: string, senderId: string, extra: Partial<Parameters<typeof redisStore>[0]> = {}): RedisStore {
  const s = redisStore({ redis: url, senderId, leaseTtlMs: 300, adoptIntervalMs: 50, ...extra });
  stores.push(s);
  return s;
}
async function closeAll(): Promise<void> {
  for (const s of stores.splice(0)) s.destroy();
}

t.test('a record is takeable only once Redis has it, and leaves Redis when removed', async (server) => {
  const sender = uniqueSender();
  const store = open(server.url, sender);
  await store.ready();
  const host = new TestHost();
  store.outbox.attach(host);
  const r = record('m1', 1);
  store.outbox.append(r);
  assert.is(store.outbox.queued, 1);
  assert.is(store.outbox.takeNext(), undefined, 'not takeable before Redis answered');
  await until(() => host.wakes > 0, 'wake after the append');
  const redis = new Redis(server.url);
  assert.ok(await redis.hget(store.keys.out, 'm1'), 'recorded in the out hash');
  assert.is(await redis.zscore(store.keys.own(store.instanceId), 'm1'), '1', 'owned by this instance, scored by seq');
  assert.is(store.outbox.takeNext(), r);
  assert.is(r.state, 'inflight');
  assert.is(store.outbox.queued, 0);
  store.outbox.remove(r, acked(r.id));
  await store.outbox.flush();
  assert.is(await redis.hget(store.keys.out, 'm1'), null);
  assert.is(await redis.zcard(store.keys.own(store.instanceId)), 0);
  assert.is(await redis.xlen(store.keys.outcomes), 0, "default outcomes: 'adopted' only");
  redis.disconnect();
  await closeAll();
});

t.test('one tick of appends is one pipelined script call per 1000 records, not one round trip per message', async (server) => {
  // A long lease: no heartbeat or adoption scan runs during the count.
  const store = open(server.url, uniqueSender(), { leaseTtlMs: 60_000, adoptIntervalMs: 60_000 });
  await store.ready();
  const host = new TestHost();
  store.outbox.attach(host);
  const redis = new Redis(server.url);
  await redis.config('RESETSTAT');
  for (let i = 1; i <= 2500; i++) store.outbox.append(record(`p${i}`, i, `t${i % 7}`));
  await store.outbox.flush();
  const stats = await redis.info('commandstats');
  const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  assert.is(calls('evalsha') + calls('eval'), 3, '2500 appends → 3 script calls');
  assert.is(await redis.hlen(store.keys.out), 2500);
  const taken: string[] = [];
  for (let r = store.outbox.takeNext(); r; r = store.outbox.takeNext()) taken.push(r.id);
  assert.is(taken.length, 2500);
  assert.is(taken[0], 'p1');
  assert.is(taken[2499], 'p2500');
  redis.disconnect();
  await closeAll();
});

t.test("outcomes: 'all' appends every final outcome to a stream trimmed near outcomesMaxLen", async (server) => {
  const store = open(server.url, uniqueSender(), { outcomes: 'all', outcomesMaxLen: 100 });
  await store.ready();
  store.outbox.attach(new TestHost());
  const n = 1000;
  const recs = Array.from({ length: n }, (_, i) => record(`o${i}`, i + 1));
  for (const r of recs) store.outbox.append(r);
  await store.outbox.flush();
  for (const r of recs) {
    store.outbox.takeNext();
    store.outbox.remove(r, r.seq % 2 ? acked(r.id) : nacked('DEVICE_UNREGISTERED'));
  }
  await store.outbox.flush();
  const redis = new Redis(server.url);
  const len = await redis.xlen(store.keys.outcomes);
  assert.ok(len >= 100 && len < 300, `stream trimmed near 100 entries (MAXLEN ~), got ${len}`);
  const out = await store.readOutcomes('0', 1000);
  const last = out[out.length - 1];
  assert.is(last?.id, `o${n - 1}`);
  assert.is(last?.status, 'nack');
  assert.is(last?.code, 'DEVICE_UNREGISTERED');
  assert.is(last?.instance, store.instanceId);
  const after = await store.readOutcomes(out[out.length - 2]?.streamId ?? '0');
  assert.is(after.length, 1);
  redis.disconnect();
  await closeAll();
});

t.test("a dead instance's records are adopted once, whole, in their original order, with retry counts kept", async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 400 });
  const b = open(server.url, sender, { leaseTtlMs: 400 });
  const c = open(server.url, sender, { leaseTtlMs: 400 });
  await Promise.all([a.ready(), b.ready(), c.ready()]);
  const hostA = new TestHost();
  const hostB = new TestHost();
  const hostC = new TestHost();
  a.outbox.attach(hostA);
  b.outbox.attach(hostB);
  c.outbox.attach(hostC);
  const recs = Array.from({ length: 30 }, (_, i) => record(`a${i}`, i + 1, `target-${i % 3}`));
  for (const r of recs) a.outbox.append(r);
  await a.outbox.flush();
  // Some were written, one was parked for a retry (its retry count must survive), the rest queued.
  const first = a.outbox.takeNext();
  assert.ok(first);
  first.retries = 2;
  first.notBefore = 12345;
  a.outbox.park(first);
  a.outbox.takeNext();
  const settled = a.outbox.takeNext();
  assert.ok(settled);
  a.outbox.remove(settled, acked(settled.id));
  await a.outbox.flush();
  const died = Date.now();
  a.destroy(); // the process is gone: no lease release, the lease lapses
  await until(() => hostB.adopted.length + hostC.adopted.length > 0, 'adoption');
  const adoptedMs = Date.now() - died;
  await new Promise((r) => setTimeout(r, 300));
  const adopted = hostB.adopted.length > 0 ? hostB.adopted : hostC.adopted;
  assert.is(hostB.adopted.length * hostC.adopted.length, 0, 'one adopter took the whole instance');
  assert.equal(adopted.map((r) => r.id), recs.filter((r) => r !== settled).map((r) => r.id), 'original order, the settled one excluded');
  const again = adopted.find((r) => r.id === first.id);
  assert.is(again?.retries, 2);
  assert.is(again?.notBefore, 12345);
  assert.equal(again?.msg, first.msg);
  assert.ok(adoptedMs < 5000, `adopted within lease + scan interval (took ${adoptedMs} ms)`);
  const redis = new Redis(server.url);
  assert.is(await redis.exists(a.keys.own(a.instanceId)), 0, 'the dead owner keeps nothing');
  assert.is(await redis.zscore(a.keys.instances, a.instanceId), null, 'and is unregistered');
  const adopter = hostB.adopted.length > 0 ? b : c;
  assert.is(await redis.zcard(adopter.keys.own(adopter.instanceId)), 29);
  // Settling an adopted record reports its outcome on the stream (default outcomes: 'adopted').
  const adopterStore = adopter.outbox;
  const takenAdopted = adopted[0];
  assert.ok(takenAdopted);
  assert.ok(adopterStore.isAdopted(takenAdopted));
  adopterStore.requeue(takenAdopted);
  assert.is(adopterStore.takeNext(), takenAdopted);
  adopterStore.remove(takenAdopted, acked(takenAdopted.id, 1));
  await adopterStore.flush();
  const outcomes = await adopter.readOutcomes();
  assert.equal(outcomes.map((o) => [o.id, o.status, o.adopted, o.instance]), [[takenAdopted.id, 'ack', true, adopter.instanceId]]);
  redis.disconnect();
  await closeAll();
});

t.test("an adoption whose answer was lost with its connection (it ran in Redis) is adopted again, not kept unsent by the live adopter", async (server) => {
  const sender = uniqueSender();
  const dead = open(server.url, sender, { leaseTtlMs: 300 });
  await dead.ready();
  dead.outbox.attach(new TestHost());
  const recs = Array.from({ length: 5 }, (_, i) => record(`lost-${i}`, i + 1));
  for (const r of recs) dead.outbox.append(r);
  await dead.outbox.flush();
  // The adopter reaches Redis through a proxy that cuts the connection carrying the first answer
  // with these records in it: the adoption ran in Redis, its answer is lost.
  const proxy = await startCuttingProxy(server.port, { inReply: 'lost-0' });
  const adopter = open(`redis://127.0.0.1:${proxy.port}`, sender, { instanceId: 'adopter-1', leaseTtlMs: 600, adoptIntervalMs: 50, reconnectMaxMs: 50 });
  const host = new TestHost();
  try {
    await adopter.ready();
    adopter.outbox.attach(host);
    dead.destroy();
    await until(() => proxy.cuts === 1, 'the first adoption answer lost', 10_000);
    assert.is(host.adopted.length, 0);
    // The stage it ran into lapses, and the adopter (alive, reconnected) adopts it again.
    await until(() => host.adopted.length === recs.length, 'the records adopted after all', 10_000);
    assert.equal(host.adopted.map((r) => r.id), recs.map((r) => r.id));
    const redis = new Redis(server.url);
    await until(async () => (await redis.zcard(adopter.keys.own('adopter-1'))) === recs.length, 'the records owned by the adopter');
    assert.equal(await redis.zrange(adopter.keys.instances, 0, -1), ['adopter-1'], 'no stage left registered');
    redis.disconnect();
  } finally {
    await closeAll();
    await proxy.close();
  }
});

t.test("an adoption scan's big answer does not hold up the adopter's lease renewals (they have a connection of their own): no stall raised, no lapse", async (server) => {
  const sender = uniqueSender();
  const k = new Keys(sender);
  // A dead instance (registered, no lease) with 3000 records of about 800 bytes: one answer of 2.4 MB.
  const redis = new Redis(server.url);
  const n = 3000;
  const p = redis.pipeline();
  for (let i = 0; i < n; i++) {
    const r = record(`big-${i}`, i + 1, `tok-${i % 10}`, { pad: 'x'.repeat(700) });
    p.hset(k.out, r.id, serializeRecord(r));
    p.zadd(k.own('dead-big'), i + 1, r.id);
  }
  p.zadd(k.instances, 0, 'dead-big');
  await p.exec();
  // The adopter's connection that receives that answer has it held up 1.5 s (a slow link, a slow
  // reader): five stall bounds. A renewal queued behind it on the same connection went unanswered
  // that long, so the adopter called Redis stalled (down) while Redis answered everyone.
  const proxy = await startHoldingProxy(server.port, 1_000_000, 1500);
  const adopter = open(`redis://127.0.0.1:${proxy.port}`, sender, { instanceId: 'adopter-big', leaseTtlMs: 1000, stallTimeoutMs: 300, adoptIntervalMs: 50 });
  const events: string[] = [];
  adopter.on('down', (err) => events.push(`down: ${err.message}`));
  adopter.on('leaseLapsed', () => events.push('leaseLapsed'));
  const host = new TestHost();
  try {
    await adopter.ready();
    adopter.outbox.attach(host);
    await until(() => host.adopted.length === n, 'the dead instance adopted', 15_000);
    assert.is(proxy.holds, 1, "the scan's answer was held up");
    assert.equal(host.adopted.slice(0, 3).map((r) => r.id), ['big-0', 'big-1', 'big-2']);
    // A few renewals more, on the far side of the hold.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(events, []);
  } finally {
    redis.disconnect();
    await closeAll();
    await proxy.close();
  }
});

/** Registers a dead instance (no lease) owning `n` records `<prefix>-0…`, straight in Redis. */
async function deadInstance(redis: Redis, k: Keys, instance: string, prefix: string, n: number): Promise<string[]> {
  const p = redis.pipeline();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = record(`${prefix}-${i}`, i + 1, `tok-${i % 3}`);
    ids.push(r.id);
    p.hset(k.out, r.id, serializeRecord(r));
    p.zadd(k.own(instance), i + 1, r.id);
  }
  p.zadd(k.instances, 0, instance);
  await p.exec();
  return ids;
}

t.test('a dead instance with more than adoptMax records is taken over several scans by one adopter, in order; another instance leaves the rest alone', async (server) => {
  const sender = uniqueSender();
  const k = new Keys(sender);
  const redis = new Redis(server.url);
  const ids = await deadInstance(redis, k, 'dead-many', 'many', 25);
  // Scans only when asked (adoptNow), so the test sees each one.
  const a = open(server.url, sender, { instanceId: 'adopter-a', leaseTtlMs: 300, adoptIntervalMs: 60_000, adoptMax: 10 });
  const b = open(server.url, sender, { instanceId: 'adopter-b', leaseTtlMs: 300, adoptIntervalMs: 60_000, adoptMax: 100 });
  const hostA = new TestHost();
  const hostB = new TestHost();
  try {
    await Promise.all([a.ready(), b.ready()]);
    a.outbox.attach(hostA);
    b.outbox.attach(hostB);
    await new Promise((r) => setTimeout(r, 350)); // adoption is held for one lease period after start
    // One script takes at most adoptMax records (it took all 25: Redis ran nothing else meanwhile).
    assert.is(await a.adoptNow(), 10);
    assert.is(await b.adoptNow(), 0, 'the rest is marked as a\'s: b leaves it');
    assert.is(await a.adoptNow(), 10);
    assert.is(await a.adoptNow(), 5);
    assert.is(await a.adoptNow(), 0);
    assert.equal(hostA.adopted.map((r) => r.id), ids);
    assert.equal(hostB.adopted, []);
    await until(async () => (await redis.zcard(k.own('adopter-a'))) === 25, 'the records owned by a');
    assert.equal(await redis.zrange(k.own('adopter-a'), 0, -1), ids, 'in their order in a\'s own set (for a later adopter of a)');
    assert.equal((await redis.zrange(k.instances, 0, -1)).sort(), ['adopter-a', 'adopter-b']);
    assert.is(await redis.exists(`${k.prefix}lease:dead-many~adopter`), 0, 'the mark goes with the last records');
  } finally {
    redis.disconnect();
    await closeAll();
  }
});

t.test('the scans that take the rest of a part-taken dead instance follow at once, not adoptIntervalMs apart', async (server) => {
  const sender = uniqueSender();
  const k = new Keys(sender);
  const redis = new Redis(server.url);
  const ids = await deadInstance(redis, k, 'dead-soon', 'soon', 25);
  const a = open(server.url, sender, { instanceId: 'adopter-a', leaseTtlMs: 300, adoptIntervalMs: 1500, adoptMax: 10 });
  const host = new TestHost();
  const counts: number[] = [];
  let first = 0;
  a.on('adopted', (count) => {
    if (counts.length === 0) first = Date.now();
    counts.push(count);
  });
  try {
    await a.ready();
    a.outbox.attach(host);
    await until(() => host.adopted.length === 25, 'the whole dead instance adopted', 10_000);
    const took = Date.now() - first;
    assert.equal(counts, [10, 10, 5]);
    assert.equal(host.adopted.map((r) => r.id), ids);
    assert.ok(took < 1000, `the last records came ${took} ms after the first (adoptIntervalMs 1500)`);
  } finally {
    redis.disconnect();
    await closeAll();
  }
});

t.test('an adopter that dies midway through a big dead instance: its mark lapses and another instance adopts the rest and what it had taken', async (server) => {
  const sender = uniqueSender();
  const k = new Keys(sender);
  const redis = new Redis(server.url);
  const ids = await deadInstance(redis, k, 'dead-half', 'half', 25);
  const a = open(server.url, sender, { instanceId: 'adopter-a', leaseTtlMs: 300, adoptIntervalMs: 60_000, adoptMax: 10 });
  const b = open(server.url, sender, { instanceId: 'adopter-b', leaseTtlMs: 300, adoptIntervalMs: 60_000, adoptMax: 100 });
  const hostB = new TestHost();
  try {
    await Promise.all([a.ready(), b.ready()]);
    a.outbox.attach(new TestHost());
    b.outbox.attach(hostB);
    await new Promise((r) => setTimeout(r, 350));
    assert.is(await a.adoptNow(), 10);
    await until(async () => (await redis.zcard(k.own('adopter-a'))) === 10, 'the first records owned by a');
    a.destroy();
    await until(async () => {
      await b.adoptNow();
      return hostB.adopted.length >= 25;
    }, 'b adopting everything once a and its mark lapsed', 10_000);
    assert.equal(hostB.adopted.map((r) => r.id).sort(), [...ids].sort());
  } finally {
    redis.disconnect();
    await closeAll();
  }
});

t.test('a process restarted with the same instanceId adopts what the earlier one left in its own set (they were sent by nobody)', async (server) => {
  const redis = new Redis(server.url);
  for (const how of ['closed', 'crashed'] as const) {
    const sender = uniqueSender();
    const id = `same-${how}`;
    const earlier = open(server.url, sender, { instanceId: id });
    await earlier.ready();
    earlier.outbox.attach(new TestHost());
    const recs = Array.from({ length: 3 }, (_, i) => record(`${how}-${i}`, i, 'tok-s'));
    for (const r of recs) earlier.outbox.append(r);
    await earlier.outbox.flush();
    // A clean close drops the lease, a crash leaves it: either way the next process with this id
    // takes the lease at once, and the others see it alive.
    if (how === 'closed') await earlier.close();
    else earlier.destroy();
    const later = open(server.url, sender, { instanceId: id });
    const host = new TestHost();
    await later.ready();
    later.outbox.attach(host);
    await until(() => host.adopted.length === recs.length, `the records of the earlier process (${how}) adopted by the later one`, 5000);
    assert.equal(host.adopted.map((r) => r.id), recs.map((r) => r.id), 'in their order');
    await until(async () => (await redis.zrange(later.keys.own(id), 0, -1)).length === recs.length, 'owned by the later process');
    await closeAll();
  }
  redis.disconnect();
  await closeAll();
});

t.test('a clean close drops the lease, so the others adopt at their next scan instead of after it lapses', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 60_000 });
  const b = open(server.url, sender, { leaseTtlMs: 300, adoptIntervalMs: 20 });
  await Promise.all([a.ready(), b.ready()]);
  a.outbox.attach(new TestHost());
  const hostB = new TestHost();
  b.outbox.attach(hostB);
  a.outbox.append(record('x1', 1));
  await a.outbox.flush();
  await a.close();
  // a's lease would have lasted a minute; the test's deadline is far shorter.
  await until(() => hostB.adopted.length === 1, 'adoption after a clean close', 10_000);
  assert.is(hostB.adopted[0]?.id, 'x1');
  await closeAll();
});

t.test('Redis down: appends are refused with CCS_ERR_STORE (not held), and after a restart nothing recorded is lost', async (server) => {
  const sender = uniqueSender();
  const store = open(server.url, sender, { reconnectMaxMs: 50 });
  await store.ready();
  const host = new TestHost();
  store.outbox.attach(host);
  const kept = record('k1', 1);
  store.outbox.append(kept);
  await store.outbox.flush();
  const downs: StoreError[] = [];
  store.on('down', (e) => downs.push(e));
  let ups = 0;
  store.on('up', () => ups++);
  await server.kill();
  await until(() => downs.length > 0, 'down event');
  assert.is(downs[0]?.code, 'CCS_ERR_STORE');
  assert.not.ok(store.available);
  const refused = record('r1', 2);
  store.outbox.append(refused);
  const barrier = store.outbox.flush();
  assert.ok(barrier);
  try {
    await barrier;
    assert.unreachable('the barrier must fail while an append failed');
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, 'CCS_ERR_STORE');
  }
  await until(() => host.refusedRecords.length === 1, 'refusal');
  assert.is(host.refusedRecords[0], refused);
  assert.instance(host.refusedErrors[0], StoreError);
  assert.ok((host.refusedErrors[0] as StoreError).unavailable);
  assert.is(store.outbox.queued, 1, 'the refused record is not held');
  await server.restart();
  await until(() => ups > 0, 'up event');
  const redis = new Redis(server.url);
  assert.ok(await redis.hget(store.keys.out, 'k1'), 'the record acknowledged before the kill survived');
  assert.is(await redis.hget(store.keys.out, 'r1'), null, 'the refused one is not there');
  const after = record('k2', 3);
  store.outbox.append(after);
  await store.outbox.flush();
  assert.ok(await redis.hget(store.keys.out, 'k2'));
  redis.disconnect();
  await closeAll();
});

t.test('a removal that failed while Redis was down is sent again when it is back', async (server) => {
  const store = open(server.url, uniqueSender(), { reconnectMaxMs: 50 });
  await store.ready();
  store.outbox.attach(new TestHost());
  const r = record('q1', 1);
  store.outbox.append(r);
  await store.outbox.flush();
  store.outbox.takeNext();
  let ups = 0;
  store.on('up', () => ups++);
  await server.kill();
  await until(() => !store.available, 'link down');
  store.outbox.remove(r, acked(r.id));
  await store.outbox.flush()?.catch(() => {});
  await server.restart();
  await until(() => ups > 0, 'up event');
  const redis = new Redis(server.url);
  await until(async () => (await redis.hget(store.keys.out, 'q1')) === null, 'the removal to land');
  assert.is(await redis.zcard(store.keys.own(store.instanceId)), 0);
  redis.disconnect();
  await closeAll();
});

t.test('a message failed by the client closing stays in Redis for another instance (a redeploy loses nothing)', async (server) => {
  const store = open(server.url, uniqueSender(), { leaseTtlMs: 60_000 });
  await store.ready();
  store.outbox.attach(new TestHost());
  const r = record('c1', 1);
  const gone = record('c2', 2);
  store.outbox.append(r);
  store.outbox.append(gone);
  await store.outbox.flush();
  store.outbox.takeNext();
  store.outbox.remove(r, new ClosedError('the client was closed'));
  store.outbox.remove(gone, new TimeoutError('c2', 10, false));
  await store.outbox.flush();
  const redis = new Redis(server.url);
  assert.ok(await redis.hget(store.keys.out, 'c1'), 'kept for adoption');
  assert.is(await redis.hget(store.keys.out, 'c2'), null, 'a timeout is an answer: removed');
  redis.disconnect();
  await closeAll();
});

t.run();
