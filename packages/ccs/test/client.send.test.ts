import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortError, CcsClient, ClosedError, InvalidMessageError, NackError, QueueFullError, TimeoutError } from '../src/index.js';
import { FakeClock } from './helpers/fake-clock.js';
import { clientOptions, quiet, startScriptedServer, type ServerConn } from './helpers/scripted-server.js';

const settle = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

test('resolves with the canonical registration_id when the ACK carries one', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => c.ack(m['message_id'] as string, { registration_id: 'new-token' }),
  });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = await client.send({ to: 'old-token', message_id: 'm-1', data: { x: 'y' } });
    assert.equal(r, { messageId: 'm-1', from: 'old-token', registrationId: 'new-token', retries: 0 });
    assert.is(server.received[0]?.msg['message_id'], 'm-1');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('rejects an invalid message with InvalidMessageError (CCS_ERR_INVALID_MESSAGE) before sending anything', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const err = await client.send({ to: 'tok', time_to_live: -1 }).catch((e: unknown) => e);
    assert.instance(err, InvalidMessageError);
    assert.is((err as InvalidMessageError).reason, 'INVALID_TTL');
    await new Promise((r) => setTimeout(r, 20));
    assert.is(server.received.length, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('send() keeps the message as it was: one object reused with a new `to` each time goes to each device', async () => {
  const server = await startScriptedServer();
  // Window 1: the later sends wait in the queue while the caller changes the object.
  const client = new CcsClient(clientOptions(server, { maxPending: 1 }));
  try {
    await client.connect();
    const m: { to: string; data: { k: string }; message_id?: string } = { to: 'tok-a', data: { k: 'v' } };
    const ps: Array<Promise<{ from: string | undefined }>> = [];
    for (const to of ['tok-a', 'tok-b', 'tok-c']) {
      m.to = to;
      ps.push(client.send(m));
    }
    m.message_id = 'changed-later';
    const rs = await Promise.all(ps);
    assert.equal(server.received.map((x) => x.msg['to']), ['tok-a', 'tok-b', 'tok-c']);
    assert.equal(rs.map((r) => r.from), ['tok-a', 'tok-b', 'tok-c']);
    assert.ok(server.received.every((x) => x.msg['message_id'] !== 'changed-later'));
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a message JSON cannot carry (a BigInt, a cycle) is refused with InvalidMessageError (CCS_ERR_INVALID_MESSAGE); nothing hangs, the next send works', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad = [
      { to: 'tok', data: { n: 10n } }, // in data: the validator's size check meets it
      { to: 'tok', data: { c: cyclic } },
      { to: 'tok', extra: 10n }, // outside what the validator reads: the encoder meets it
      { to: 'tok', extra: cyclic },
    ] as unknown as Array<{ to: string }>;
    for (const m of bad) {
      const err = await client.send(m).catch((e: unknown) => e);
      assert.instance(err, InvalidMessageError);
      assert.is((err as InvalidMessageError).reason, 'JSON_TYPE_ERROR');
    }
    const ok = await client.send({ to: 'tok', data: { fine: 'yes' } });
    assert.ok(ok.messageId);
    assert.is(server.received.length, 1);
    assert.is(client.stats().pending, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

for (const code of ['BAD_REGISTRATION', 'DEVICE_UNREGISTERED', 'INVALID_JSON', 'BAD_ACK', 'AUTHENTICATION_FAILED', 'QUOTA_EXCEEDED']) {
  test(`fails at once on a ${code} NACK with a typed NackError`, async () => {
    const server = await startScriptedServer({ onDownstream: (c, m) => c.nack(m['message_id'] as string, code, 'because') });
    const client = new CcsClient(clientOptions(server));
    try {
      await client.connect();
      const err = (await client.send({ to: 'tok', message_id: 'n1' }).catch((e: unknown) => e)) as NackError;
      assert.instance(err, NackError);
      assert.is(err.code, 'CCS_ERR_NACK');
      assert.is(err.nackCode, code);
      assert.is(err.retryClass, 'never');
      assert.is(err.description, 'because');
      assert.is(err.messageId, 'n1');
      assert.is(err.ccsMessage.to, 'tok');
      assert.is(server.received.length, 1, 'never retried');
      assert.equal(client.stats().nacked, { [code]: 1 });
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

for (const code of ['SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR', 'SOMETHING_NEW']) {
  test(`retries a ${code} NACK with backoff and resolves when a later attempt is ACKed`, async () => {
    let n = 0;
    const server = await startScriptedServer({
      onDownstream: (c, m) => (++n <= 2 ? c.nack(m['message_id'] as string, code) : c.ack(m['message_id'] as string)),
    });
    const client = new CcsClient(clientOptions(server, { retryBaseMs: 20, retryMaxMs: 100 }));
    try {
      await client.connect();
      const t0 = Date.now();
      const r = await client.send({ to: 'tok', message_id: 'r1' });
      assert.ok(Date.now() - t0 >= 20, 'waited for the backoff');
      assert.is(r.retries, 2);
      assert.equal(server.received.map((x) => x.msg['message_id']), ['r1', 'r1', 'r1'], 'same message_id each time');
      assert.is(client.stats().retries, 2);
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

test('gives up after maxRetries and rejects with the last NACK', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => c.nack(m['message_id'] as string, 'SERVICE_UNAVAILABLE') });
  const client = new CcsClient(clientOptions(server, { maxRetries: 2, retryBaseMs: 1, retryMaxMs: 5 }));
  try {
    await client.connect();
    const err = (await client.send({ to: 'tok' }).catch((e: unknown) => e)) as NackError;
    assert.instance(err, NackError);
    assert.is(err.nackCode, 'SERVICE_UNAVAILABLE');
    assert.is(err.retryClass, 'backoff');
    assert.is(err.retries, 2);
    assert.is(server.received.length, 3);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('slows down only the rate-limited device: other devices are not delayed', async () => {
  // Time is a fake clock: the throttle's pause ends only when the test moves time, so "the other
  // device went straight through" and "h2 waits" are facts of order, whatever the machine's load.
  const clock = new FakeClock();
  let limited = 0;
  let nackedAt = 0;
  let retriedAt = 0;
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (m['to'] === 'hot' && limited++ === 0) {
        nackedAt = clock.now();
        c.nack(id, 'DEVICE_MESSAGE_RATE_EXCEEDED');
      } else {
        if (id === 'h1') retriedAt = clock.now();
        c.ack(id);
      }
    },
  });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 150, retryMaxMs: 150, clock }));
  try {
    await client.connect();
    const hot = quiet(client.send({ to: 'hot', message_id: 'h1' }));
    await server.until(() => limited === 1);
    await server.until(() => client.stats().throttledTargets === 1, 30_000);
    const hot2 = quiet(client.send({ to: 'hot', message_id: 'h2' }));
    await client.send({ to: 'cold', message_id: 'c1' });
    const order = server.received.map((x) => x.msg['message_id']);
    assert.equal(order, ['h1', 'c1'], 'the other device went straight through, while h2 waits behind the device throttle');
    assert.is(client.stats().throttledTargets, 1, 'one device is slowed down');
    let settled = false;
    void Promise.all([hot, hot2]).finally(() => (settled = true));
    // Time moves in small steps, each given a moment for the I/O it causes, until hot settles.
    for (let i = 0; i < 1000 && !settled; i++) {
      clock.advance(5);
      await new Promise((r) => setTimeout(r, 2));
    }
    const r = await hot;
    await hot2;
    assert.is(client.stats().throttledTargets, 0, 'and forgotten once nothing of it is left');
    assert.is(r.retries, 1);
    assert.ok(retriedAt - nackedAt >= 60, `the retry waited out the pause (${retriedAt - nackedAt} ms)`);
    assert.equal(client.stats().nacked, { DEVICE_MESSAGE_RATE_EXCEEDED: 1 });
  } finally {
    const closing = client.close({ timeoutMs: 500 });
    clock.advance(500);
    await closing;
    await server.stop();
  }
});

test('retries a TOPICS_MESSAGE_RATE_EXCEEDED NACK later for that topic', async () => {
  let n = 0;
  const server = await startScriptedServer({
    onDownstream: (c, m) => (n++ === 0 ? c.nack(m['message_id'] as string, 'TOPICS_MESSAGE_RATE_EXCEEDED') : c.ack(m['message_id'] as string)),
  });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 5 }));
  try {
    await client.connect();
    const r = await client.send({ to: '/topics/news' });
    assert.is(r.retries, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('matches a stanza error to its message by stanza id and fails it', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => c.stanzaError(m['message_id'] as string, 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: x'),
  });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const err = (await client.send({ to: 'tok', message_id: 'se-1' }).catch((e: unknown) => e)) as NackError;
    assert.instance(err, NackError);
    assert.is(err.stanzaError, true);
    assert.is(err.nackCode, 'INVALID_JSON');
    assert.is(err.reason, 'JSON_PARSING_ERROR');
    assert.is(err.messageId, 'se-1');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('retries a stanza error of type wait, fails one of type modify without a CCS code', async () => {
  let n = 0;
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (id === 'w' && n++ === 0) c.stanzaError(id, '', 'wait');
      else if (id === 'm') c.stanzaError(id, 'nope', 'modify');
      else c.ack(id);
    },
  });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 1 }));
  try {
    await client.connect();
    assert.is((await client.send({ to: 't', message_id: 'w' })).retries, 1);
    const err = (await client.send({ to: 't', message_id: 'm' }).catch((e: unknown) => e)) as NackError;
    assert.is(err.retryClass, 'never');
    assert.is(err.description, 'nope');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('never has more than maxPending messages in flight per connection; the rest wait in FIFO order', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 3 }));
  try {
    await client.connect();
    const ps = Array.from({ length: 10 }, (_, i) => quiet(client.send({ to: 'tok', message_id: `w${i}` })));
    await server.until(() => server.received.length === 3);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(server.received.length, 3, 'window of 3');
    assert.is(client.stats().pending, 3);
    assert.is(client.stats().queued, 7);
    const conn = server.latest();
    let maxOutstanding = 0;
    for (let acked = 0; acked < 10; acked++) {
      await server.until(() => conn.received.length > acked);
      maxOutstanding = Math.max(maxOutstanding, conn.received.length - acked);
      conn.ack(conn.received[acked]?.['message_id'] as string);
    }
    await Promise.all(ps);
    assert.ok(maxOutstanding <= 3);
    assert.equal(server.received.map((x) => x.msg['message_id']), Array.from({ length: 10 }, (_, i) => `w${i}`));
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('refuses with QueueFullError beyond maxQueued, emits drain, and waitForCapacity resolves', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 2, maxQueued: 4 }));
  try {
    await client.connect();
    const ps = Array.from({ length: 6 }, (_, i) => quiet(client.send({ to: 'tok', message_id: `q${i}` })));
    const full = await client.send({ to: 'tok' }).catch((e: unknown) => e);
    assert.instance(full, QueueFullError);
    assert.is((full as QueueFullError).code, 'CCS_ERR_QUEUE_FULL');
    assert.is(client.trySend({ to: 'tok' }), undefined);
    let drained = 0;
    client.on('drain', () => drained++);
    const cap = client.waitForCapacity();
    await server.until(() => server.received.length === 2);
    const conn = server.latest();
    conn.ack('q0');
    conn.ack('q1');
    await cap;
    assert.is(drained, 1);
    const extra = client.trySend({ to: 'tok', message_id: 'q6' });
    assert.ok(extra);
    for (let i = 2; i < 7; i++) {
      await server.until(() => conn.received.length > i);
      conn.ack(`q${i}`);
    }
    await Promise.all([...ps, extra]);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a per-call timeout rejects a queued message, which is then never sent', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 1 }));
  try {
    await client.connect();
    const first = quiet(client.send({ to: 'tok', message_id: 'a' }, { timeoutMs: 40 }));
    const second = quiet(client.send({ to: 'tok', message_id: 'b' }, { timeoutMs: 40 }));
    const [e1, e2] = await Promise.all([first.catch((e: unknown) => e), second.catch((e: unknown) => e)]);
    assert.instance(e1, TimeoutError);
    assert.is((e1 as TimeoutError).written, true);
    assert.instance(e2, TimeoutError);
    assert.is((e2 as TimeoutError).written, false);
    // The written one keeps its window slot until CCS answers; then the window opens again.
    server.latest().ack('a');
    const r = await client.send({ to: 'tok', message_id: 'c' }, { timeoutMs: 1000 }).catch((e: unknown) => e);
    void r;
    await server.until(() => server.received.length === 2);
    assert.equal(server.received.map((x) => x.msg['message_id']), ['a', 'c'], 'b was never sent');
    server.latest().ack('c');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('an AbortSignal rejects with AbortError (before and after sending)', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 1 }));
  try {
    await client.connect();
    const pre = await client.send({ to: 't' }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    assert.instance(pre, AbortError);
    const ac = new AbortController();
    const p1 = settle(client.send({ to: 't', message_id: 'x1' }, { signal: ac.signal }));
    const p2 = settle(client.send({ to: 't', message_id: 'x2' }, { signal: ac.signal }));
    await server.until(() => server.received.length === 1);
    ac.abort();
    const [r1, r2] = await Promise.all([p1, p2]);
    assert.ok(!r1.ok && r1.error instanceof AbortError && r1.error.written);
    assert.ok(!r2.ok && r2.error instanceof AbortError && !r2.error.written);
    assert.is(client.stats().failed, 2, "the pre-aborted call was never accepted");
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('close() waits for pending ACKs, then rejects new sends', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const ps = [quiet(client.send({ to: 't', message_id: 'c1' })), quiet(client.send({ to: 't', message_id: 'c2' }))];
    await server.until(() => server.received.length === 2);
    let closed = false;
    const closing = client.close({ timeoutMs: 2000 }).then(() => {
      closed = true;
    });
    const late = await client.send({ to: 't' }).catch((e: unknown) => e);
    assert.instance(late, ClosedError);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(closed, false, 'still waiting for ACKs');
    server.latest().ack('c1');
    server.latest().ack('c2');
    await closing;
    assert.ok(closed);
    await Promise.all(ps);
    await server.until(() => server.conns.every((c) => c.closed));
  } finally {
    await server.stop();
  }
});

test('close() is bounded: unanswered messages reject with ClosedError after timeoutMs', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const p = client.send({ to: 't' }).catch((e: unknown) => e);
    await server.until(() => server.received.length === 1);
    const t0 = Date.now();
    await client.close({ timeoutMs: 80 });
    assert.ok(Date.now() - t0 >= 70);
    assert.instance(await p, ClosedError);
  } finally {
    await server.stop();
  }
});

test('destroy() rejects queued and in-flight messages at once', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 1 }));
  try {
    await client.connect();
    const a = quiet(client.send({ to: 't' }));
    const b = quiet(client.send({ to: 't' }));
    client.destroy();
    assert.instance(await a.catch((e: unknown) => e), ClosedError);
    assert.instance(await b.catch((e: unknown) => e), ClosedError);
    assert.instance(await client.connect().catch((e: unknown) => e), ClosedError);
  } finally {
    await server.stop();
  }
});

test('sends queued before connect() go out once online; message ids are unique', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    const ps = Array.from({ length: 50 }, () => quiet(client.send({ to: 't' })));
    await client.connect();
    const rs = await Promise.all(ps);
    assert.is(new Set(rs.map((r) => r.messageId)).size, 50);
    assert.is(client.stats().acked, 50);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('while nothing is online, messages that time out in the queue do not pile up (memory stays bounded)', async () => {
  // The GC must be callable to compare heaps; Node allows turning the flag on at run time.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const server = await startScriptedServer();
  // Never connected: everything waits in the queue, and times out there.
  const client = new CcsClient(clientOptions(server, { maxQueued: 500 }));
  const rounds = async (n: number): Promise<void> => {
    for (let r = 0; r < n; r++) {
      const ps: Array<Promise<unknown>> = [];
      for (let p = client.trySend({ to: 't', data: { pad: 'x'.repeat(200) } }, { timeoutMs: 1 }); p !== undefined; p = client.trySend({ to: 't', data: { pad: 'x'.repeat(200) } }, { timeoutMs: 1 })) {
        ps.push(p.catch(() => undefined));
      }
      await Promise.all(ps);
    }
  };
  try {
    // One message without a timeout waits at the head of the queue: whatever settles behind it is
    // not reached by the dispatcher, so only the sweep can drop it.
    const head = quiet(client.send({ to: 't' }));
    await rounds(5);
    gc();
    const before = process.memoryUsage().heapUsed;
    await rounds(60); // 30 000 messages through a queue of 500
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Kept dead, 29 000 messages of ~700 B each would be ~20 MB; swept, a few hundred remain.
    assert.ok(grown < 4_000_000, `heap grew by ${grown} bytes`);
    assert.is(client.stats().queued, 1);
    client.destroy();
    assert.instance(await head.catch((e: unknown) => e), ClosedError);
  } finally {
    client.destroy();
    await server.stop();
  }
});

void (null as unknown as ServerConn);
test.run();
