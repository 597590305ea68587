// CcsClient with `store: redisStore(...)` against the emulator and a real redis-server: a message is
// in Redis before it reaches a connection; an upstream ACK is written only after the reply its
// handler sent is recorded; Redis killed and restarted mid-run gives typed errors while it is down
// and loses nothing after.
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { CcsClient, type CcsClientOptions, type UpstreamMessage } from '@ccs-xmpp/ccs';
import { Keys, redisStore, StoreError } from '../src/index.js';
import { serializeRecord } from '../src/record.js';
import { redisSuite, uniqueSender, until } from './helpers/redis-suite.js';
import { record } from './helpers/records.js';

const t = redisSuite('CcsClient on the Redis store', { appendonly: true });

async function emulator(senderId: string, ackDelayMs: number): Promise<CcsEmulator> {
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId, apiKey: 'k' }], faults: { ackDelayMs }, upstreamResendMs: 1000, seed: 3 });
  await emu.start();
  return emu;
}

function options(emu: CcsEmulator, senderId: string, extra: Partial<CcsClientOptions> = {}): CcsClientOptions {
  return { senderId, apiKey: 'k', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, reconnectBaseMs: 20, reconnectMaxMs: 200, ...extra };
}

t.test('a message is in Redis before it reaches a connection, and leaves Redis with its ACK', async (server) => {
  const sender = uniqueSender();
  const emu = await emulator(sender, 150);
  const store = redisStore({ redis: server.url, senderId: sender });
  await store.ready();
  const client = new CcsClient(options(emu, sender, { store }));
  const redis = new Redis(server.url);
  const seen: Array<Promise<string | null>> = [];
  emu.on('event', (e) => {
    // At the moment the emulator reads the message (its ACK is held 150 ms), Redis must have it.
    if (e.type === 'downstream') seen.push(redis.hget(store.keys.out, (e as { messageId: string }).messageId));
  });
  try {
    await client.connect();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.send({ to: `tok-${i % 3}`, data: { i: String(i) } })));
    assert.is(results.length, 50);
    const recorded = await Promise.all(seen);
    assert.is(recorded.length, 50);
    assert.ok(recorded.every((r) => r !== null), 'every message was recorded before it was written');
    await until(async () => (await redis.hlen(store.keys.out)) === 0, 'records removed after their ACKs');
  } finally {
    await client.close({ timeoutMs: 2000 });
    redis.disconnect();
    await emu.stop();
  }
  assert.not.ok(store.available, 'closing the client closed the store');
});

t.test('an upstream ACK is written only after the reply its handler sent (not awaited) is recorded', async (server) => {
  const sender = uniqueSender();
  const emu = await emulator(sender, 200);
  const store = redisStore({ redis: server.url, senderId: sender });
  await store.ready();
  const client = new CcsClient(options(emu, sender, { store }));
  const redis = new Redis(server.url);
  const replyIds = new Map<string, string>();
  client.onUpstream((m: UpstreamMessage) => {
    const reply = `reply-${m.messageId}`;
    replyIds.set(m.messageId, reply);
    void client.send({ to: m.from, message_id: reply, data: m.data });
  });
  const atAck: Array<Promise<string | null>> = [];
  emu.on('event', (e) => {
    if (e.type === 'upstream-ack') {
      const reply = replyIds.get((e as { messageId: string }).messageId) ?? 'none';
      atAck.push(redis.hget(store.keys.out, reply));
    }
  });
  try {
    await client.connect();
    for (let i = 0; i < 30; i++) emu.injectUpstream(sender, { from: `dev-${i % 3}`, message_id: `u-${i}`, data: { i: String(i) } });
    await until(() => emu.ledger().upstreamAcked === 30, 'all upstream ACKed');
    const states = await Promise.all(atAck);
    assert.ok(states.length >= 30);
    assert.ok(states.every((s) => s !== null), 'each reply was in Redis when its upstream message was ACKed');
  } finally {
    await client.close({ timeoutMs: 3000 });
    redis.disconnect();
    await emu.stop();
  }
});

t.test('Redis killed and restarted mid-run: sends refused with CCS_ERR_STORE while it is down, nothing lost after', async (server) => {
  const sender = uniqueSender();
  const emu = await emulator(sender, 0);
  const store = redisStore({ redis: server.url, senderId: sender, reconnectMaxMs: 100 });
  await store.ready();
  const client = new CcsClient(options(emu, sender, { store }));
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  const handled = new Set<string>();
  client.onUpstream((m: UpstreamMessage) => {
    handled.add(m.messageId);
  });
  const accepted: string[] = [];
  const refused: StoreError[] = [];
  const other: unknown[] = [];
  let n = 0;
  let sending = true;
  await client.connect();
  const loop = (async () => {
    while (sending) {
      const id = `k-${n++}`;
      const p = client.send({ to: `tok-${n % 4}`, message_id: id }).then(() => {
        accepted.push(id);
      }, (err: unknown) => {
        if (err instanceof StoreError) refused.push(err);
        else other.push(err);
      });
      if (n % 20 === 0) await p;
      if (n % 5 === 0) emu.injectUpstream(sender, { message_id: `up-${n}`, data: { n: String(n) } });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    await until(() => accepted.length > 100, 'sends flowing');
    await server.kill();
    await until(() => refused.length > 20, 'sends refused while Redis is down');
    assert.is(refused[0]?.code, 'CCS_ERR_STORE');
    assert.ok(refused.every((e) => e.code === 'CCS_ERR_STORE'));
    const acceptedBefore = accepted.length;
    await server.restart();
    await until(() => accepted.length > acceptedBefore + 100, 'sends accepted again after the restart', 30_000);
    sending = false;
    await loop;
    const upstream = n / 5 | 0;
    await until(() => emu.ledger().upstreamAcked === upstream && emu.ledger().upstreamUnacked === 0, 'every upstream message handled and ACKed after the restart', 30_000);
    assert.is(other.length, 0, `only store errors: ${String(other[0])}`);
    // Nothing lost: every accepted message was delivered, and Redis keeps nothing of them.
    const ledger = emu.ledger();
    assert.ok(ledger.downstreamUnique >= accepted.length, `${ledger.downstreamUnique} delivered >= ${accepted.length} accepted`);
    const redis = new Redis(server.url);
    await until(async () => (await redis.hlen(store.keys.out)) === 0, 'no record left in Redis');
    redis.disconnect();
    assert.ok(errors.some((e) => (e as { code?: string }).code === 'CCS_ERR_STORE'), 'the failed claims were reported as CCS_ERR_STORE errors');
  } finally {
    sending = false;
    await loop;
    await client.close({ timeoutMs: 3000 });
    await emu.stop();
  }
});

t.test('a message accepted after its instance adopted others goes out after the adopted ones of its target, also from a later adopter of that instance', async (server) => {
  const sender = uniqueSender();
  const k = new Keys(sender);
  const redis = new Redis(server.url);
  // A dead instance (registered, no lease) whose client had accepted three messages to one target
  // as its seq 5, 6 and 7.
  const older = ['older-0', 'older-1', 'older-2'];
  const p = redis.pipeline();
  older.forEach((id, i) => {
    p.hset(k.out, id, serializeRecord(record(id, 5 + i, 'tok-t')));
    p.zadd(k.own('dead-a'), 5 + i, id);
  });
  p.zadd(k.instances, 0, 'dead-a');
  await p.exec();
  const emu = await emulator(sender, 0);
  // b adopts them; its client is never connected, so they stay queued there.
  const b = redisStore({ redis: server.url, senderId: sender, instanceId: 'b', leaseTtlMs: 300, adoptIntervalMs: 50 });
  const clientB = new CcsClient(options(emu, sender, { store: b }));
  let clientC: CcsClient | undefined;
  try {
    await b.ready();
    await until(async () => (await redis.zcard(k.own('b'))) === 3, 'b owning the dead instance\'s records');
    // Then b's client accepts a message to the same target: its seq is 0 (the client's counter
    // does not count adopted records).
    const newer = clientB.send({ to: 'tok-t', message_id: 'newer' }).catch((err: unknown) => err);
    await until(async () => (await redis.zcard(k.own('b'))) === 4, 'the newer message recorded');
    assert.equal(await redis.zrange(k.own('b'), 0, -1), [...older, 'newer'], 'b\'s own set: the adopted records before the newer message, as b\'s outbox sends them');
    // b dies (its lease dropped); c adopts all four and sends them.
    const c = redisStore({ redis: server.url, senderId: sender, instanceId: 'c', leaseTtlMs: 300, adoptIntervalMs: 50 });
    await c.ready();
    clientC = new CcsClient(options(emu, sender, { store: c }));
    const sent: string[] = [];
    emu.on('event', (e) => {
      if (e.type === 'downstream') sent.push((e as { messageId: string }).messageId);
    });
    await clientC.connect();
    clientB.destroy();
    await newer;
    await until(() => sent.length >= 4, 'the four messages sent by c', 10_000);
    assert.equal(sent, [...older, 'newer'], 'the newer message after the older ones of its target');
  } finally {
    clientB.destroy();
    await clientC?.close({ timeoutMs: 2000 });
    redis.disconnect();
    await emu.stop();
  }
});

t.run();
