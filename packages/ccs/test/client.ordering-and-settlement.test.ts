// Ordering and settlement under drains, cuts, rate limits, timeouts and close: each test was
// written from a review finding (most failed before the fix) and now guards that behaviour.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { UpstreamMessage } from '@ccs-xmpp/stanza';
import { CcsClient, TimeoutError, type SendResult } from '../src/index.js';
import { clientOptions, quiet, startScriptedServer, type ScriptedServerOptions } from './helpers/scripted-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Settles `p` into 'ok' | 'err:<code>' | 'pending' (after `ms`). */
async function outcome(p: Promise<unknown>, ms: number): Promise<string> {
  let t: NodeJS.Timeout | undefined;
  const timer = new Promise<string>((r) => {
    t = setTimeout(() => r('pending'), ms);
  });
  try {
    return await Promise.race([
      p.then(() => 'ok', (e: { code?: string }) => `err:${e.code ?? 'unknown'}`),
      timer,
    ]);
  } finally {
    clearTimeout(t);
  }
}

test('several CONNECTION_DRAINING NACKs in a row are resent in the original order', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 10 }));
  try {
    await client.connect();
    const ids = ['q0', 'q1', 'q2', 'q3', 'q4'];
    const ps = ids.map((id) => quiet(client.send({ to: 't', message_id: id })));
    await server.until(() => server.received.length === 5);
    const old = server.latest();
    // CCS drains: every pending message comes back with a CONNECTION_DRAINING NACK, in order.
    for (const id of ids) old.nack(id, 'CONNECTION_DRAINING');
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 5);
    const fresh = server.conns[1]!;
    const order = fresh.received.map((m) => m['message_id']);
    for (const id of ids) fresh.ack(id);
    await Promise.all(ps);
    assert.equal(order, ids, 'resent in the order they were sent');
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('a CONNECTION_DRAINING-NACKed message is not overtaken by what the drained connection still owed when it closed', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 10 }));
  try {
    await client.connect();
    const ids = ['r0', 'r1', 'r2', 'r3'];
    const ps = ids.map((id) => quiet(client.send({ to: 't', message_id: id })));
    await server.until(() => server.received.length === 4);
    const old = server.latest();
    old.nack('r0', 'CONNECTION_DRAINING');
    await old.end(); // CCS closes the drained connection with r1..r3 still owed
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 4);
    const fresh = server.conns[1]!;
    const order = fresh.received.map((m) => m['message_id']);
    for (const id of ids) fresh.ack(id);
    await Promise.all(ps);
    assert.equal(order, ids, 'resent in the order they were sent');
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('TimeoutError.written is true for a message written on a connection lost before its answer', async () => {
  const opts: ScriptedServerOptions = { autoAck: false };
  const server = await startScriptedServer(opts);
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const p = client.send({ to: 't', message_id: 'tw-1' }, { timeoutMs: 300 });
    const settled = p.then(() => undefined, (e: unknown) => e);
    await server.until(() => server.received.length === 1);
    // The server has the message (it may well deliver it); its answer is lost with the connection.
    opts.refuse = true;
    server.latest().cut();
    const err = await settled;
    assert.ok(err instanceof TimeoutError, 'times out');
    assert.is((err as TimeoutError).written, true, 'the server received it: it may have been delivered');
    assert.not.match((err as TimeoutError).message, /never sent/);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('rate-limit NACKs answered out of order (two connections): the device still gets its messages in the order sent', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, {
    connections: 2, maxPending: 1, retryBaseMs: 300, retryMaxMs: 1000, random: () => 0.5,
  }));
  try {
    await client.connect();
    await server.until(() => server.conns.filter((c) => c.online).length === 2);
    await sleep(20);
    const p1 = quiet(client.send({ to: 'dev-A', message_id: 'a1' }));
    const p2 = quiet(client.send({ to: 'dev-A', message_id: 'a2' }));
    await server.until(() => server.received.length === 2);
    const c1 = server.conns.find((c) => c.received.some((m) => m['message_id'] === 'a1'))!;
    const c2 = server.conns.find((c) => c.received.some((m) => m['message_id'] === 'a2'))!;
    assert.is.not(c1, c2, 'one message per connection');
    // Answers on different connections come back in any order: a2's first.
    c2.nack('a2', 'DEVICE_MESSAGE_RATE_EXCEEDED');
    await sleep(30);
    c1.nack('a1', 'DEVICE_MESSAGE_RATE_EXCEEDED');
    // Both are now held for dev-A. Answer every resend with an ACK and record the order.
    await server.until(() => server.received.length >= 3, 2000);
    const third = server.received[2]!;
    server.conns[third.conn - 1]!.ack(third.msg['message_id'] as string);
    await server.until(() => server.received.length >= 4, 2000);
    const fourth = server.received[3]!;
    server.conns[fourth.conn - 1]!.ack(fourth.msg['message_id'] as string);
    await Promise.all([p1, p2]);
    assert.equal([third.msg['message_id'], fourth.msg['message_id']], ['a1', 'a2'], 'a2 must not overtake a1');
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('a rate-limited probe does not overtake an older message to the same device resent after a connection loss', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 300, retryMaxMs: 1000, random: () => 0.5 }));
  try {
    await client.connect();
    const p0 = quiet(client.send({ to: 'dev-B', message_id: 'b0' }));
    const p1 = quiet(client.send({ to: 'dev-B', message_id: 'b1' }));
    await server.until(() => server.received.length === 2);
    const old = server.latest();
    old.nack('b1', 'DEVICE_MESSAGE_RATE_EXCEEDED'); // b0 is still unanswered
    old.xmpp.flush();
    await sleep(20);
    old.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length >= 1, 2000);
    const fresh = server.conns[1]!;
    const first = fresh.received[0]!['message_id'] as string;
    fresh.ack(first);
    await server.until(() => fresh.received.length >= 2, 2000);
    const second = fresh.received[1]!['message_id'] as string;
    fresh.ack(second);
    await Promise.all([p0, p1]);
    assert.equal([first, second], ['b0', 'b1'], 'b1 must not overtake b0');
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('refuses a message_id reused while the first send is pending (DuplicateIdError): no window overrun, no promise left unsettled', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 2 }));
  try {
    await client.connect();
    const pa = quiet(client.send({ to: 't', message_id: 'dup' }));
    const pb = quiet(client.send({ to: 't', message_id: 'dup' }));
    const pc = quiet(client.send({ to: 't', message_id: 'other' }));
    await sleep(100);
    const onWire = server.received.length;
    // Answer everything the server got, one answer per message it received.
    const c = server.latest();
    for (const r of [...server.received]) c.ack(r.msg['message_id'] as string);
    await server.until(() => server.received.length === 3, 1000).catch(() => undefined);
    for (const r of server.received.slice(onWire)) c.ack(r.msg['message_id'] as string);
    const results = await Promise.all([outcome(pa, 500), outcome(pb, 500), outcome(pc, 500)]);
    const problems: string[] = [];
    if (onWire > 2) problems.push(`${onWire} un-answered messages on the wire > maxPending 2`);
    if (results.includes('pending')) problems.push(`a promise never settled (${results.join(', ')})`);
    assert.equal(problems, [], problems.join('; '));
    assert.equal(results, ['ok', 'err:CCS_ERR_DUPLICATE_ID', 'ok']);
  } finally {
    await client.close({ timeoutMs: 200 });
    await server.stop();
  }
});

test('a generated message_id passed back while its message is unsettled is refused too, wherever that message waits', async () => {
  const server = await startScriptedServer({ autoAck: false });
  // Window 1: the first message is on the wire, the second waits in the queue.
  const client = new CcsClient(clientOptions(server, { maxPending: 1, messageIdPrefix: 'gen-' }));
  try {
    await client.connect();
    const p0 = quiet(client.send({ to: 't' }));
    const p1 = quiet(client.send({ to: 't' }));
    await server.until(() => server.received.length === 1);
    const results = [
      await outcome(client.send({ to: 't', message_id: 'gen-0' }), 200), // in flight
      await outcome(client.send({ to: 't', message_id: 'gen-1' }), 200), // queued
    ];
    assert.equal(results, ['err:CCS_ERR_DUPLICATE_ID', 'err:CCS_ERR_DUPLICATE_ID']);
    const c = server.latest();
    c.ack('gen-0');
    await server.until(() => server.received.length === 2);
    c.ack('gen-1');
    const [r0, r1] = await Promise.all([p0, p1]);
    assert.equal([r0.messageId, r1.messageId], ['gen-0', 'gen-1']);
    // Settled: the id may be used again (CCS itself would now see a new message).
    const again = quiet(client.send({ to: 't', message_id: 'gen-0' }));
    await server.until(() => server.received.length === 3);
    c.ack('gen-0');
    assert.is((await again).messageId, 'gen-0');
  } finally {
    await client.close({ timeoutMs: 200 });
    await server.stop();
  }
});

test('a generated message_id never equals a live one the caller wrote with the generator\'s prefix', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 10, messageIdPrefix: 'pre-' }));
  try {
    await client.connect();
    const mine = quiet(client.send({ to: 'dev-1', message_id: 'pre-0' }));
    const generated = quiet(client.send({ to: 'dev-2' }));
    await server.until(() => server.received.length === 2);
    const ids = server.received.map((r) => r.msg['message_id'] as string);
    assert.is(ids[0], 'pre-0');
    assert.is.not(ids[1], 'pre-0', 'the generator skipped the live id');
    for (const id of ids) server.latest().ack(id);
    assert.equal([(await mine).messageId, (await generated).messageId], ids);
  } finally {
    await client.close({ timeoutMs: 200 });
    await server.stop();
  }
});

test('close() waits for the upstream() iterator consumer and ACKs the message it was handling', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  const got: string[] = [];
  let loop: Promise<void> | undefined;
  try {
    await client.connect();
    const it = client.upstream();
    loop = (async () => {
      for await (const m of it) {
        got.push(m.messageId);
        await sleep(150); // handling it
      }
    })();
    const c = server.latest();
    c.upstream('dev', 'it-1');
    await server.until(() => got.length === 1);
    await client.close({ timeoutMs: 2000 });
    await loop;
    await sleep(20);
    assert.equal(c.acks.map((a) => a['message_id']), ['it-1'], 'handled before close() finished, so ACKed');
  } finally {
    client.destroy();
    await loop;
    await server.stop();
  }
});

test('forgets a rate-limited device once its last held message failed for good (no unbounded growth)', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => c.nack(m['message_id'] as string, 'DEVICE_MESSAGE_RATE_EXCEEDED'),
  });
  const client = new CcsClient(clientOptions(server, { maxRetries: 1, retryBaseMs: 5, retryMaxMs: 10 }));
  try {
    await client.connect();
    for (const dev of ['leak-1', 'leak-2', 'leak-3']) {
      assert.is(await outcome(client.send({ to: dev }), 1000), 'err:CCS_ERR_NACK');
    }
    assert.is(client.stats().throttledTargets, 0, 'no throttle is kept for devices with nothing left to send');
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('a message held for a rate-limited device that times out is dropped; the next one still goes, in order', async () => {
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (id === 'h0' && c.received.filter((x) => x['message_id'] === 'h0').length === 1) c.nack(id, 'DEVICE_MESSAGE_RATE_EXCEEDED');
      else c.ack(id);
    },
  });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 200, retryMaxMs: 400, random: () => 0.5 }));
  try {
    await client.connect();
    const p0 = client.send({ to: 'dev-H', message_id: 'h0' });
    await server.until(() => server.received.length === 1);
    await sleep(20);
    const p1 = quiet(client.send({ to: 'dev-H', message_id: 'h1' }, { timeoutMs: 30 }));
    const p2 = client.send({ to: 'dev-H', message_id: 'h2' });
    assert.is(await outcome(p1, 500), 'err:CCS_ERR_TIMEOUT');
    const rs: SendResult[] = await Promise.all([p0, p2]);
    assert.equal(rs.map((r) => r.messageId), ['h0', 'h2']);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['h0', 'h0', 'h2']);
    assert.is(client.stats().waitingRetry, 0);
    assert.is(client.stats().queued, 0);
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('close() racing a reconnect: queued messages go out on the new connection before close resolves', async () => {
  const opts: ScriptedServerOptions = { autoAck: false };
  const server = await startScriptedServer(opts);
  const client = new CcsClient(clientOptions(server, { reconnectBaseMs: 80, reconnectMaxMs: 80 }));
  try {
    await client.connect();
    const p = client.send({ to: 't', message_id: 'cr-1' });
    await server.until(() => server.received.length === 1);
    server.latest().cut();
    await sleep(10);
    const closing = client.close({ timeoutMs: 2000 });
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 1, 2000);
    server.conns[1]!.ack('cr-1');
    assert.is((await p).messageId, 'cr-1');
    await closing;
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('an upstream handler that throws synchronously leaves no ACK and is retried; close() does not hang', async () => {
  const server = await startScriptedServer();
  let calls = 0;
  const client = new CcsClient(clientOptions(server, {
    onUpstream: (_m: UpstreamMessage) => {
      calls++;
      if (calls === 1) throw new Error('sync boom');
      return Promise.reject(new Error('async boom'));
    },
  }));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev', 'x1');
    c.upstream('dev', 'x1');
    await server.until(() => calls === 2);
    await sleep(20);
    assert.is(c.acks.length, 0);
    const t0 = Date.now();
    // A long bound, so that "done well before it" does not depend on the machine's load.
    await client.close({ timeoutMs: 30_000 });
    assert.ok(Date.now() - t0 < 15_000, 'close did not wait for failed handlers');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test.run();
