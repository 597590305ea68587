import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { redisStore, StoreError, type RedisStore } from '../src/index.js';
import { redisSuite, uniqueSender, until } from './helpers/redis-suite.js';
import { record, TestHost } from './helpers/records.js';
import { startCuttingProxy } from './helpers/cutting-proxy.js';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { CcsClient } from '@ccs-xmpp/ccs';

const t = redisSuite('redis upstream de-duplication', { appendonly: true });

const stores: RedisStore[] = [];
function open(url: string, senderId: string, extra: Partial<Parameters<typeof redisStore>[0]> = {}): RedisStore {
  const s = redisStore({ redis: url, senderId, leaseTtlMs: 300, adoptIntervalMs: 50, claimPollMs: 20, ...extra });
  stores.push(s);
  return s;
}
function closeAll(): void {
  for (const s of stores.splice(0)) s.destroy();
}

t.test('claim is atomic across instances: of concurrent claims of one message exactly one is new, the others wait and then see done', async (server) => {
  const sender = uniqueSender();
  // Leases long enough that no stall of a loaded machine lets one lapse: a lapsed lease is the
  // documented at-least-once case (its own test below), not what this one is about.
  const fleet = [0, 1, 2].map(() => open(server.url, sender, { leaseTtlMs: 30_000 }));
  await Promise.all(fleet.map((s) => s.ready()));
  for (let m = 0; m < 20; m++) {
    const answers: Array<string | undefined> = [undefined, undefined, undefined];
    const claims = fleet.map((s, i) => s.dedup.claim('device-1', `up-${m}`).then((a) => {
      answers[i] = a;
    }, (err: Error) => {
      answers[i] = err.message;
    }));
    await until(() => answers.some((a) => a !== undefined), `a first answer for up-${m}`);
    const winner = answers.findIndex((a) => a !== undefined);
    assert.is(answers[winner], 'new', `message ${m}: the first answer is new (${answers.join(',')})`);
    // The others are waiting for the winner's handler: nothing else can be new while it lives.
    await until(() => fleet.every((s, i) => i === winner || answers[i] !== undefined || s.dedup.waiting === 1), 'the others waiting');
    assert.is(answers.filter((a) => a === 'new').length, 1, `message ${m}: ${answers.join(',')}`);
    fleet[winner]?.dedup.complete('device-1', `up-${m}`);
    await Promise.all(claims);
    assert.equal(answers.filter((a) => a === 'done').length, 2, `message ${m}: ${answers.join(',')}`);
  }
  closeAll();
});

t.test('a claim held by another live instance waits, then answers done when that instance completes', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender);
  const b = open(server.url, sender);
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev', 'u1'), 'new');
  let answer: string | undefined;
  void b.dedup.claim('dev', 'u1').then((x) => { answer = x; }, (err: Error) => { answer = err.message; });
  await until(() => b.dedup.waiting === 1, 'b waiting');
  await new Promise((r) => setTimeout(r, 100));
  assert.is(answer, undefined, 'not answered while a runs the handler');
  a.dedup.complete('dev', 'u1');
  await until(() => answer !== undefined, 'the waiting claim');
  assert.is(answer, 'done');
  assert.is(await a.dedup.claim('dev', 'u1'), 'done');
  closeAll();
});

t.test('a claim the client gave up on (storeTimeoutMs) is polled no more: at most the one claim in flight reaches Redis after the give-up', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 30_000 });
  const b = open(server.url, sender, { leaseTtlMs: 30_000, claimPollMs: 20 });
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev-g', 'u-gave-up'), 'new');
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId: sender, apiKey: 'k' }], upstreamResendMs: 60_000, seed: 8 });
  await emu.start();
  const client = new CcsClient({
    senderId: sender, apiKey: 'k', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, store: b, storeTimeoutMs: 300,
    onUpstream: () => {},
  });
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  const monitor = new Redis(server.url);
  let seen = 0;
  monitor.on('error', () => {});
  try {
    await client.connect();
    emu.injectUpstream(sender, { from: 'dev-g', message_id: 'u-gave-up', data: { a: '1' } });
    await until(() => b.dedup.waiting === 1, 'b polling');
    await until(() => errors.length > 0, 'the claim given up', 5000);
    assert.match(errors[0]?.message ?? '', /storeTimeoutMs/);
    const m = await monitor.monitor();
    m.on('monitor', (_time: string, args: string[]) => {
      if (args.some((x) => x.includes('u-gave-up'))) seen++;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(seen <= 1, `${seen} commands for the message in the 500 ms after the give-up (claimPollMs 20)`);
    assert.is(b.dedup.waiting, 0);
    m.disconnect();
    // Nothing was taken for it: a completes, and a later claim anywhere is done.
    a.dedup.complete('dev-g', 'u-gave-up');
    await until(async () => (await b.dedup.claim('dev-g', 'u-gave-up')) === 'done', 'done everywhere');
    assert.is(b.dedup.running, 0, 'no claim left held by b');
  } finally {
    monitor.disconnect();
    client.destroy();
    await emu.stop();
    closeAll();
  }
});

t.test('a claim waiting on another instance is polled no more once the client closed (no storeTimeoutMs): the store closes with it', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 30_000 });
  const b = open(server.url, sender, { leaseTtlMs: 30_000, claimPollMs: 20 });
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev-c', 'u-closed'), 'new');
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId: sender, apiKey: 'k' }], upstreamResendMs: 60_000, seed: 9 });
  await emu.start();
  const client = new CcsClient({
    senderId: sender, apiKey: 'k', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, store: b, storeTimeoutMs: 0,
    onUpstream: () => {},
  });
  client.on('error', () => {});
  const monitor = new Redis(server.url);
  monitor.on('error', () => {});
  let seen = 0;
  try {
    await client.connect();
    emu.injectUpstream(sender, { from: 'dev-c', message_id: 'u-closed', data: { a: '1' } });
    await until(() => b.dedup.waiting === 1, 'b polling');
    await client.close({ timeoutMs: 300 });
    const m = await monitor.monitor();
    m.on('monitor', (_time: string, args: string[]) => {
      if (args.some((x) => x.includes('u-closed'))) seen++;
    });
    await new Promise((r) => setTimeout(r, 300));
    m.disconnect();
    assert.is(seen, 0, `${seen} commands for the message after close() resolved`);
    assert.is(b.dedup.waiting, 0);
  } finally {
    monitor.disconnect();
    client.destroy();
    await emu.stop();
    closeAll();
  }
});

t.test('abandoning one of two waits on a key leaves the other polled: it gets new once the holder dies; abandoning both stops the poll', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 30_000 });
  const b = open(server.url, sender, { leaseTtlMs: 300, claimPollMs: 20 });
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev-h', 'u-two'), 'new');
  const first = b.dedup.claim('dev-h', 'u-two');
  const firstAnswer = first.then((x) => x, (err: Error) => err.message);
  await until(() => b.dedup.waiting === 1, 'b polling');
  const second = b.dedup.claim('dev-h', 'u-two');
  await new Promise((r) => setTimeout(r, 60));
  b.dedup.abandon(first);
  assert.match(await firstAnswer, /stopped waiting/);
  a.dedup.release('dev-h', 'u-two');
  assert.is(await second, 'new', 'the wait still wanted takes it');
  assert.is(b.dedup.running, 1);
  b.dedup.release('dev-h', 'u-two');
  assert.is(await a.dedup.claim('dev-h', 'u-three'), 'new');
  const c1 = b.dedup.claim('dev-h', 'u-three');
  const c2 = b.dedup.claim('dev-h', 'u-three');
  await until(() => b.dedup.waiting === 1, 'b polling u-three');
  b.dedup.abandon(c1);
  b.dedup.abandon(c2);
  await Promise.allSettled([c1, c2]);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(b.dedup.waiting, 0);
  a.dedup.release('dev-h', 'u-three');
  await new Promise((r) => setTimeout(r, 100));
  assert.is(b.dedup.running, 0, 'nothing claimed for the abandoned waits');
  assert.is(await a.dedup.claim('dev-h', 'u-three'), 'new', 'free: no claim of b left on it');
  closeAll();
});

t.test("a claim held by a dead instance is taken over as new once its lease lapses", async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender);
  const b = open(server.url, sender);
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev', 'u2'), 'new');
  const answer = b.dedup.claim('dev', 'u2').catch((err: Error) => err.message);
  a.destroy();
  assert.is(await answer, 'new');
  assert.is(b.dedup.running, 1);
  closeAll();
});

t.test('a second claim of a message running here answers running; release lets it be claimed again', async (server) => {
  const a = open(server.url, uniqueSender());
  await a.ready();
  assert.is(await a.dedup.claim('dev', 'u3'), 'new');
  assert.is(await a.dedup.claim('dev', 'u3'), 'running');
  a.dedup.release('dev', 'u3');
  assert.is(await a.dedup.claim('dev', 'u3'), 'new');
  closeAll();
});

t.test('a resend claimed in the tick its handler completed in is not run again: the completion is still on its way to Redis', async (server) => {
  // CCS resends an upstream message that was not ACKed in time; the resend can arrive in the very
  // tick the first copy's handler finished. Claims go before completions in one flush, so Redis still
  // holds the claim as this instance's: that is a completion in flight, not one that failed to record.
  const a = open(server.url, uniqueSender());
  await a.ready();
  assert.is(await a.dedup.claim('dev', 'u4'), 'new');
  a.dedup.complete('dev', 'u4');
  assert.is(await a.dedup.claim('dev', 'u4'), 'running', 'the resend in the same tick');
  assert.is(await a.dedup.claim('dev', 'u4'), 'done', 'a later resend, once the completion landed');
  closeAll();
});

t.test('a failed completion releases only its own claim: a resend that took the message again in the same flush keeps it, and a third copy waits', async (server) => {
  const sender = uniqueSender();
  const prefix = `ccs:{${sender}}:`;
  const user = `dedup-${sender}`;
  const admin = new Redis(server.url);
  // A user that may use every key of the sender but the done list: Redis refuses the completion
  // script (it declares that key) before it runs, so the claim stays in Redis as it was — a
  // completion that failed between the handler and the upstream ACK.
  await admin.acl('SETUSER', user, 'on', '>pw', 'resetkeys', `~${prefix}up:*`, `~${prefix}upd:*`, `~${prefix}out`, `~${prefix}own:*`,
    `~${prefix}instances`, `~${prefix}lease:*`, `~${prefix}outcomes`, '+@all');
  try {
    const a = open(`redis://${user}:pw@127.0.0.1:${server.port}`, sender);
    await a.ready();
    assert.is(await a.dedup.claim('dev', 'u7'), 'new', 'the first copy: its handler runs');
    a.dedup.complete('dev', 'u7');
    // The upstream ACK waits on this: it fails, and the store queues the claim's release as it sees
    // the failure, for the next flush.
    const failed = await a.outbox.flush()?.then(() => undefined, (err: unknown) => err);
    assert.instance(failed, StoreError);
    // A CCS resend arrives in that very tick: its claim goes to Redis in the flush of the release,
    // ahead of it. The first run did not complete, so the resend runs the handler again.
    assert.is(await a.dedup.claim('dev', 'u7'), 'new', 'the resend');
    const held = await admin.get(`${prefix}up:dev\nu7`);
    assert.ok(held?.startsWith(`r:${a.instanceId}:`), `the resend's claim is still in Redis (${String(held)})`);
    assert.is(await a.dedup.claim('dev', 'u7'), 'running', 'a third copy while the resend runs');
    // Completions work again: the resend's run completes, and the next copy is only ACKed.
    await admin.acl('SETUSER', user, `~${prefix}done`);
    a.dedup.complete('dev', 'u7');
    await a.outbox.flush();
    assert.is(await a.dedup.claim('dev', 'u7'), 'done');
  } finally {
    closeAll();
    await admin.acl('DELUSER', user);
    admin.disconnect();
  }
});

t.test('a failed handler releases only its own claim: a resend claimed in the flush of the release runs once, and a third copy waits', async (server) => {
  const a = open(server.url, uniqueSender());
  await a.ready();
  assert.is(await a.dedup.claim('dev', 'u8'), 'new');
  // The handler fails and a resend arrives in the same tick: Redis runs the claim, then the release.
  a.dedup.release('dev', 'u8');
  assert.is(await a.dedup.claim('dev', 'u8'), 'new', 'the resend runs the handler again');
  assert.is(await a.dedup.claim('dev', 'u8'), 'running', 'a third copy while the resend runs');
  a.dedup.release('dev', 'u8');
  await a.outbox.flush();
  assert.is(await a.dedup.claim('dev', 'u8'), 'new', 'released by the run that owned it');
  closeAll();
});

t.test('a claim left in Redis by an earlier process with the same instanceId is taken again as new', async (server) => {
  const sender = uniqueSender();
  const first = open(server.url, sender, { instanceId: `fixed-${sender}` });
  await first.ready();
  assert.is(await first.dedup.claim('dev', 'u9'), 'new');
  first.destroy();
  const again = open(server.url, sender, { instanceId: `fixed-${sender}` });
  await again.ready();
  assert.is(await again.dedup.claim('dev', 'u9'), 'new', 'nothing runs it any more');
  assert.is(await again.dedup.claim('dev', 'u9'), 'running');
  closeAll();
});

t.test('a completion\'s release that comes late (retried after Redis was away) removes only that completion, never a later one: the next resend is not run again', async (server) => {
  const sender = uniqueSender();
  const prefix = `ccs:{${sender}}:`;
  const key = `${prefix}up:dev\nu11`;
  const user = `late-${sender}`;
  const admin = new Redis(server.url);
  await admin.acl('SETUSER', user, 'on', '>pw', 'resetkeys', `~${prefix}*`, '+@all');
  try {
    // Leases long enough that the seconds a's heartbeats fail here never let one lapse. b remembers
    // one completion at most: its next completion forgets a's (the count bound, not a timer).
    const a = open(`redis://${user}:pw@127.0.0.1:${server.port}`, sender, { leaseTtlMs: 30_000 });
    const b = open(server.url, sender, { leaseTtlMs: 30_000, dedupMaxCount: 1 });
    await Promise.all([a.ready(), b.ready()]);
    const host = new TestHost();
    a.outbox.attach(host);
    assert.is(await a.dedup.claim('dev', 'u11'), 'new', 'the first copy runs on a');
    // Every key of the sender but the instances list: Redis refuses the scripts that declare it
    // (the append of a's reply, and the release) and runs the completion.
    await admin.acl('SETUSER', user, 'resetkeys', `~${prefix}up:*`, `~${prefix}upd:*`, `~${prefix}out`, `~${prefix}own:*`,
      `~${prefix}lease:*`, `~${prefix}outcomes`, `~${prefix}done`);
    a.outbox.append(record('reply-11', 1, 'dev'));
    a.dedup.complete('dev', 'u11');
    const failed = await a.outbox.flush()?.then(() => undefined, (err: unknown) => err);
    assert.instance(failed, StoreError, 'the reply was not recorded: no ACK for the first copy');
    assert.is(await admin.get(key), 'd', 'the completion itself landed');
    // Its release is refused too, and kept for when Redis is back. Meanwhile b completes another
    // message, which pushes a's completion out (the window lapsing does the same), and a resend runs
    // on b and completes.
    assert.is(await b.dedup.claim('dev', 'other'), 'new');
    b.dedup.complete('dev', 'other');
    await b.outbox.flush();
    assert.is(await admin.get(key), null, 'a\'s completion forgotten beyond the count bound');
    assert.is(await b.dedup.claim('dev', 'u11'), 'new', 'the resend runs on b');
    b.dedup.complete('dev', 'u11');
    await b.outbox.flush();
    assert.is(await admin.get(key), 'd');
    // a's connection comes back: the kept release is sent — late, after b's completion.
    let ups = 0;
    a.on('up', () => ups++);
    await admin.acl('SETUSER', user, `~${prefix}instances`);
    await admin.client('KILL', 'USER', user);
    await until(() => ups > 0, 'a reconnected');
    // a answers running while its release is on its way, then what Redis holds.
    let answer = 'running';
    await until(async () => (answer = await a.dedup.claim('dev', 'u11')) !== 'running', 'a\'s release landed');
    assert.is(answer, 'done', 'b\'s completion is still there: a further resend is ACKed, not run a third time');
    assert.is(await admin.get(key), 'd');
    assert.is(await b.dedup.claim('dev', 'u11'), 'done');
  } finally {
    closeAll();
    await admin.acl('DELUSER', user);
    admin.disconnect();
  }
});

t.test('a completion written by the previous version (a bare d, no companion key) reads as done, and the count bound still forgets it', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { dedupMaxCount: 1 });
  await a.ready();
  const admin = new Redis(server.url);
  try {
    const key = `${a.keys.prefix}up:dev\nu12`;
    // What the previous version's completion left: the value and its entry in the done list.
    await admin.set(key, 'd', 'PX', 60_000);
    await admin.lpush(a.keys.done, key);
    assert.is(await a.dedup.claim('dev', 'u12'), 'done');
    assert.is(await a.dedup.claim('dev', 'u12b'), 'new');
    a.dedup.complete('dev', 'u12b');
    await a.outbox.flush();
    assert.is(await admin.get(key), null, 'the oldest completion, forgotten beyond dedupMaxCount');
    assert.is(await a.dedup.claim('dev', 'u12b'), 'done');
    assert.is(await admin.exists(`${a.keys.prefix}upd:dev\nu12b`), 1, 'this version\'s completion names itself');
  } finally {
    admin.disconnect();
  }
  closeAll();
});

t.test('the count bound forgets a completion together with its companion key: at most dedupMaxCount of each are left', async (server) => {
  // The default window (an hour): only the count bound can forget anything here.
  const a = open(server.url, uniqueSender(), { dedupMaxCount: 2 });
  await a.ready();
  const admin = new Redis(server.url);
  try {
    for (const id of ['k1', 'k2', 'k3', 'k4']) {
      assert.is(await a.dedup.claim('dev', id), 'new');
      a.dedup.complete('dev', id);
      await a.outbox.flush();
    }
    const p = a.keys.prefix;
    for (const id of ['k1', 'k2']) {
      assert.is(await admin.exists(`${p}up:dev\n${id}`), 0, `${id}: forgotten beyond dedupMaxCount`);
      assert.is(await admin.exists(`${p}upd:dev\n${id}`), 0, `${id}: its companion forgotten with it`);
    }
    for (const id of ['k3', 'k4']) {
      assert.is(await admin.get(`${p}up:dev\n${id}`), 'd', `${id}: remembered`);
      assert.ok((await admin.get(`${p}upd:dev\n${id}`))?.startsWith(`${a.instanceId}:`), `${id}: its companion names a's completion`);
    }
    assert.is((await admin.keys(`${p}upd:*`)).length, 2, 'no companion outlives its completion');
  } finally {
    admin.disconnect();
  }
  closeAll();
});

t.test('an untokened claim of this instanceId (the format before claim tokens, left by an earlier process) is taken as new, not waited on until it expires', async (server) => {
  const sender = uniqueSender();
  const id = `fixed-${sender}`;
  const admin = new Redis(server.url);
  const key = `ccs:{${sender}}:up:dev\nu13`;
  await admin.set(key, `r:${id}`, 'PX', 120_000);
  try {
    const a = open(server.url, sender, { instanceId: id, leaseTtlMs: 30_000 });
    await a.ready();
    // Without the rule, a's own live lease makes the claim look running elsewhere: polled for 120 s.
    const answer = await Promise.race([
      a.dedup.claim('dev', 'u13'),
      new Promise<string>((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref()),
    ]);
    assert.is(answer, 'new');
    assert.ok((await admin.get(key))?.startsWith(`r:${id}:`), 'held under a token now');
    assert.is(await a.dedup.claim('dev', 'u13'), 'running');
    // Another instance's untokened claim still follows that instance's lease.
    const other = open(server.url, sender, { leaseTtlMs: 30_000 });
    await other.ready();
    await admin.set(`ccs:{${sender}}:up:dev\nu14`, `r:${other.instanceId}`, 'PX', 120_000);
    void a.dedup.claim('dev', 'u14').catch(() => undefined);
    await until(() => a.dedup.waiting === 1, 'a waits for the live instance');
  } finally {
    closeAll();
    admin.disconnect();
  }
});

t.test('completed messages are remembered for dedupWindowMs, and at most dedupMaxCount of them', async (server) => {
  const a = open(server.url, uniqueSender(), { dedupWindowMs: 300, dedupMaxCount: 3 });
  await a.ready();
  for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) {
    assert.is(await a.dedup.claim('dev', id), 'new');
    a.dedup.complete('dev', id);
    await a.outbox.flush();
  }
  assert.is(await a.dedup.claim('dev', 'c5'), 'done');
  assert.is(await a.dedup.claim('dev', 'c3'), 'done');
  assert.is(await a.dedup.claim('dev', 'c1'), 'new', 'beyond the count bound: forgotten');
  await new Promise((r) => setTimeout(r, 400));
  assert.is(await a.dedup.claim('dev', 'c5'), 'new', 'beyond the time window: forgotten');
  const redis = new Redis(server.url);
  assert.ok(await redis.llen(a.keys.done) <= 3);
  redis.disconnect();
  closeAll();
});

t.test('the ACK barrier fails (and the claim is released) when a reply the handler sent could not be recorded', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender);
  await a.ready();
  const host = new TestHost();
  a.outbox.attach(host);
  assert.is(await a.dedup.claim('dev', 'u4'), 'new');
  // Make the out hash unusable, so the append script fails while the completion would succeed.
  const redis = new Redis(server.url);
  await redis.set(a.keys.out, 'not a hash');
  a.outbox.append(record('reply-1', 1, 'dev'));
  a.dedup.complete('dev', 'u4');
  // The upstream ACK waits on the outbox store's flush: it must fail.
  try {
    await a.outbox.flush();
    assert.unreachable('flush must fail');
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, 'CCS_ERR_STORE');
  }
  await until(() => host.refusedRecords.length === 1, 'the reply refused');
  await redis.del(a.keys.out);
  // Released: the resend is handled again (here, or on another instance).
  try {
    await until(async () => (await redis.get(`${a.keys.prefix}up:dev\nu4`)) === null, 'the release');
    assert.is(await a.dedup.claim('dev', 'u4'), 'new');
  } finally {
    redis.disconnect();
  }
  closeAll();
});

t.test('a resend claimed while the completion is being undone (a reply was not recorded) is not ACKed as done: it waits, then runs', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender);
  await a.ready();
  const host = new TestHost();
  a.outbox.attach(host);
  assert.is(await a.dedup.claim('dev', 'u10'), 'new');
  // The handler sent a reply without awaiting it and completed; the reply cannot be recorded.
  const redis = new Redis(server.url);
  await redis.set(a.keys.out, 'not a hash');
  a.outbox.append(record('reply-10', 1, 'dev'));
  a.dedup.complete('dev', 'u10');
  try {
    const failed = await a.outbox.flush()?.then(() => undefined, (err: unknown) => err);
    assert.instance(failed, StoreError, 'no ACK for the first copy');
    // The completion is in Redis and its release is queued for the next flush; a CCS resend claimed
    // in that flush finds 'd' ahead of the release. ACKing it as done would lose the reply for good.
    assert.is(await a.dedup.claim('dev', 'u10'), 'running', 'the resend in the flush of the release');
    await redis.del(a.keys.out);
    await until(async () => (await redis.get(`${a.keys.prefix}up:dev\nu10`)) === null, 'the release');
    assert.is(await a.dedup.claim('dev', 'u10'), 'new', 'the next resend runs the handler again');
  } finally {
    redis.disconnect();
  }
  closeAll();
});

t.test('claims fail with CCS_ERR_STORE while Redis is down, and work again after it restarts', async (server) => {
  const a = open(server.url, uniqueSender(), { reconnectMaxMs: 50 });
  await a.ready();
  let ups = 0;
  a.on('up', () => ups++);
  await server.kill();
  await until(() => !a.available, 'down');
  try {
    await a.dedup.claim('dev', 'u5');
    assert.unreachable('claim must fail');
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, 'CCS_ERR_STORE');
    assert.is((err as StoreError).operation, 'claim');
  }
  await server.restart();
  await until(() => ups > 0, 'up');
  assert.is(await a.dedup.claim('dev', 'u5'), 'new');
  closeAll();
});

t.test('a claim whose answer was lost with its connection (it ran in Redis) is handed back: another instance is not left waiting on it', async (server) => {
  const sender = uniqueSender();
  // The connection that sent the marked claim is cut as soon as Redis answers it: the claim ran
  // and its answer never arrives.
  const marker = 'lost-answer-1';
  const proxy = await startCuttingProxy(server.port, { afterRequest: marker });
  const a = open(`redis://127.0.0.1:${proxy.port}`, sender, { leaseTtlMs: 60_000, reconnectMaxMs: 50 });
  const b = open(server.url, sender, { leaseTtlMs: 60_000 });
  try {
    await Promise.all([a.ready(), b.ready()]);
    const lost = await a.dedup.claim('dev', marker).then(() => undefined, (err: unknown) => err);
    assert.instance(lost, StoreError);
    assert.ok((lost as StoreError).unavailable);
    // a is alive (its lease holds): only the handed-back claim lets b take the message.
    const answer = await Promise.race([b.dedup.claim('dev', marker), new Promise<string>((r) => setTimeout(r, 5000, 'still waiting after 5 s'))]);
    assert.is(answer, 'new');
    assert.is(proxy.cuts, 1);
  } finally {
    closeAll();
    await proxy.close();
  }
});

t.test('closing fails the claims still waiting for another instance (their messages stay un-ACKed)', async (server) => {
  const sender = uniqueSender();
  const a = open(server.url, sender, { leaseTtlMs: 60_000 });
  const b = open(server.url, sender, { leaseTtlMs: 60_000 });
  await Promise.all([a.ready(), b.ready()]);
  assert.is(await a.dedup.claim('dev', 'u6'), 'new');
  const waiting = b.dedup.claim('dev', 'u6').then(() => undefined, (err: unknown) => err);
  await until(() => b.dedup.waiting === 1, 'waiting');
  await b.close();
  const err = await waiting;
  assert.instance(err, StoreError);
  assert.match((err as Error).message, /closed/);
  closeAll();
});

t.run();
