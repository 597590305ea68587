import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { UpstreamMessage } from '@ccs-xmpp/stanza';
import { CcsClient } from '../src/index.js';
import { clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

const ids = (xs: Array<{ msg: Record<string, unknown> }>): unknown[] => xs.map((x) => x.msg['message_id']);

test('a connection cut mid-window: every pending message is resent on the new connection, same ids, original order', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 5 }));
  const events: string[] = [];
  const reasons: string[] = [];
  client.on('offline', (e) => {
    events.push('offline');
    reasons.push((e.error as (Error & { code?: string }) | undefined)?.code ?? 'none');
  });
  client.on('reconnecting', () => events.push('reconnecting'));
  client.on('online', () => events.push('online'));
  try {
    await client.connect();
    const ps = Array.from({ length: 8 }, (_, i) => quiet(client.send({ to: 't', message_id: `m${i}` })));
    await server.until(() => server.received.length === 5);
    const first = server.latest();
    first.ack('m1');
    first.ack('m3');
    await new Promise((r) => setTimeout(r, 20));
    // m5, m6 took the freed slots; m0 m2 m4 m5 m6 are owed, m7 queued.
    first.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length >= 5);
    const second = server.conns[1]!;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(second.received.map((m) => m['message_id']), ['m0', 'm2', 'm4', 'm5', 'm6'], 'the window still holds on the new connection');
    for (const m of ['m0', 'm2', 'm4', 'm5', 'm6']) second.ack(m);
    await server.until(() => second.received.length === 6);
    second.ack('m7');
    const rs = await Promise.all(ps);
    assert.equal(rs.map((r) => r.messageId), Array.from({ length: 8 }, (_, i) => `m${i}`));
    assert.is(rs[0]!.retries, 1);
    assert.is(rs[1]!.retries, 0);
    const s = client.stats();
    assert.is(s.resent, 5);
    assert.is(s.acked, 8);
    assert.equal(events, ['online', 'offline', 'reconnecting', 'online']);
    assert.equal(reasons, ['CCS_ERR_CONNECTION_LOST']);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('CONNECTION_DRAINING: stops sending there at once, opens a replacement, ACKs still arrive on the old one, leftovers move over when CCS closes it', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 10 }));
  const draining: string[] = [];
  client.on('draining', (e: { connectionId: string }) => draining.push(e.connectionId));
  const handled: string[] = [];
  client.onUpstream((m) => {
    handled.push(m.messageId);
  });
  try {
    await client.connect();
    const ps = [0, 1, 2].map((i) => quiet(client.send({ to: 't', message_id: `d${i}` })));
    await server.until(() => server.received.length === 3);
    const old = server.latest();
    old.drain();
    await server.until(() => draining.length === 1 && server.conns.filter((c) => c.online).length === 2);
    const fresh = server.latest();
    assert.is.not(fresh, old);
    const later = quiet(client.send({ to: 't', message_id: 'd3' }));
    await server.until(() => fresh.received.length === 1);
    assert.is(old.received.length, 3, 'nothing new on the draining connection');
    // The old connection still gets its owed ACK and ACKs what arrives on it.
    old.ack('d0');
    old.upstream('dev', 'u-on-old');
    await server.until(() => old.acks.length === 1);
    assert.is(old.acks[0]?.['message_id'], 'u-on-old');
    // A NACK CONNECTION_DRAINING for d1 sends it again at once on the other connection.
    old.nack('d1', 'CONNECTION_DRAINING');
    await server.until(() => fresh.received.length === 2);
    assert.is(fresh.received[1]?.['message_id'], 'd1');
    // CCS closes the drained connection; d2 is still owed and moves over.
    await old.end();
    await server.until(() => fresh.received.length === 3);
    assert.is(fresh.received[2]?.['message_id'], 'd2');
    for (const m of ['d3', 'd1', 'd2']) fresh.ack(m);
    await Promise.all([...ps, later]);
    assert.equal(handled, ['u-on-old']);
    assert.is(client.stats().drainings, 1);
    assert.is(client.stats().connections.online, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a CONNECTION_DRAINING NACK without the control message still moves the message to a new connection', async () => {
  let first = true;
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      if (first) {
        first = false;
        c.nack(id, 'CONNECTION_DRAINING');
      } else c.ack(id);
    },
  });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = await client.send({ to: 't', message_id: 'nd-1' });
    assert.is(r.retries, 1);
    assert.equal(server.received.map((x) => x.conn), [1, 2], 'retried on the replacement, not on the draining one');
    assert.is(client.stats().drainings, 1);
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('a drained connection CCS never closes is closed after drainTimeoutMs, and what it owed moves over', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { drainTimeoutMs: 60 }));
  try {
    await client.connect();
    const p = quiet(client.send({ to: 't', message_id: 'owed-1' }));
    await server.until(() => server.received.length === 1);
    const old = server.latest();
    old.drain();
    await server.until(() => old.closed && server.conns.length === 2 && server.conns[1]!.received.length === 1, 2000);
    server.conns[1]!.ack('owed-1');
    assert.is((await p).retries, 1);
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('upstream: the handler runs, then the ACK goes out on the same connection; a resend after reconnect is dropped but ACKed', async () => {
  const server = await startScriptedServer();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const seen: UpstreamMessage[] = [];
  const client = new CcsClient(clientOptions(server, {
    onUpstream: async (m: UpstreamMessage) => {
      seen.push(m);
      await gate;
    },
  }));
  try {
    await client.connect();
    const c1 = server.latest();
    c1.upstream('dev-1', 'u1', { hello: 'world' });
    await server.until(() => seen.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.is(c1.acks.length, 0, 'no ACK before the handler finished');
    // CCS resends after the connection dies; the handler is still running.
    c1.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.online);
    const c2 = server.conns[1]!;
    c2.upstream('dev-1', 'u1', { hello: 'world' });
    await new Promise((r) => setTimeout(r, 20));
    release();
    await server.until(() => c2.acks.length === 1);
    assert.equal(c2.acks[0], { to: 'dev-1', message_id: 'u1', message_type: 'ack' });
    // And once more after it was handled: ACKed at once, not delivered.
    c2.upstream('dev-1', 'u1', { hello: 'world' });
    await server.until(() => c2.acks.length === 2);
    assert.is(seen.length, 1, 'the handler saw it once');
    assert.equal(seen[0]!.data, { hello: 'world' });
    assert.is(client.stats().duplicatesDropped, 2);
    assert.is(client.stats().upstreamReceived, 3);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('upstream: a failing handler means no ACK, and the resend is handled again', async () => {
  const server = await startScriptedServer();
  let calls = 0;
  const errors: string[] = [];
  const client = new CcsClient(clientOptions(server, {
    onUpstream: () => {
      if (++calls === 1) throw new Error('boom');
    },
  }));
  client.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev', 'f1');
    await server.until(() => calls === 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.is(c.acks.length, 0);
    assert.equal(errors, ['CCS_ERR_HANDLER']);
    c.upstream('dev', 'f1');
    await server.until(() => c.acks.length === 1);
    assert.is(calls, 2);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('upstream: ackOnReceipt ACKs before the handler; without a consumer the upstream event fires and it is ACKed', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { ackOnReceipt: true, onUpstream: () => new Promise<void>(() => {}) }));
  const bare = new CcsClient(clientOptions(server));
  const events: string[] = [];
  bare.on('upstream', (m: UpstreamMessage) => events.push(m.messageId));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev', 'a1');
    await server.until(() => c.acks.length === 1);
    await bare.connect();
    const b = server.latest();
    b.upstream('dev', 'b1');
    await server.until(() => b.acks.length === 1);
    assert.equal(events, ['b1']);
  } finally {
    client.destroy();
    await bare.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('receipts are surfaced as events, de-duplicated, and ACKed with their dr2: id', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  const receipts: string[] = [];
  client.on('receipt', (r) => receipts.push(`${r.messageId}|${r.originalMessageId}`));
  try {
    await client.connect();
    const c = server.latest();
    c.receipt('m-1');
    c.receipt('m-1');
    await server.until(() => c.acks.length === 2);
    assert.equal(receipts, ['dr2:m-1|m-1']);
    assert.equal(c.acks[0], { to: 'gcm.googleapis.com', message_id: 'dr2:m-1', message_type: 'ack' });
    assert.is(client.stats().receipts, 2);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('the upstream() iterator ACKs a message when the consumer asks for the next one', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const c = server.latest();
    const it = client.upstream();
    c.upstream('dev', 'i1');
    c.upstream('dev', 'i2');
    const got: string[] = [];
    for await (const m of it) {
      got.push(m.messageId);
      await new Promise((r) => setTimeout(r, 10));
      assert.is(c.acks.length, got.length - 1, 'the current one is not ACKed yet');
      if (got.length === 2) break;
    }
    await server.until(() => c.acks.length === 2);
    assert.equal(got, ['i1', 'i2']);
    assert.throws(() => {
      const a = client.upstream();
      client.upstream();
      void a;
    });
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('the upstream() iterator with next() called again before the last one settled: each message is ACKed in turn, none is lost', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const c = server.latest();
    const it = client.upstream();
    // Two calls at once (Promise.all, a prefetching adapter): the consumer holds two messages.
    const [a, b] = [it.next(), it.next()];
    c.upstream('dev', 'p1');
    c.upstream('dev', 'p2');
    assert.equal([(await a).value?.messageId, (await b).value?.messageId], ['p1', 'p2']);
    await new Promise((r) => setTimeout(r, 20));
    assert.is(c.acks.length, 0, 'neither is ACKed while held');
    const next = it.next();
    await server.until(() => c.acks.length === 1);
    assert.is(c.acks[0]?.['message_id'], 'p1', 'asking for another finishes the oldest one held');
    // A resend of p1 is ACKed as handled, not dropped as "running" for good.
    c.upstream('dev', 'p1');
    await server.until(() => c.acks.length === 2);
    await it.return?.();
    await server.until(() => c.acks.length === 3);
    assert.equal(c.acks.map((x) => x['message_id']), ['p1', 'p1', 'p2']);
    assert.equal(await next, { value: undefined, done: true });
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('connections: N spreads sends over the pool by free window', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { connections: 3, maxPending: 4 }));
  try {
    await client.connect();
    await server.until(() => server.conns.filter((c) => c.online).length === 3);
    await new Promise((r) => setTimeout(r, 20));
    const ps = Array.from({ length: 12 }, (_, i) => quiet(client.send({ to: 't', message_id: `p${i}` })));
    await server.until(() => server.received.length === 12);
    assert.equal(server.conns.map((c) => c.received.length), [4, 4, 4]);
    const extra = quiet(client.send({ to: 't', message_id: 'p12' }));
    await new Promise((r) => setTimeout(r, 20));
    assert.is(server.received.length, 12, 'every window is full');
    for (const c of server.conns) for (const m of [...c.received]) c.ack(m['message_id'] as string);
    await server.until(() => server.received.length === 13);
    const last = server.received[12]!;
    server.conns[last.conn - 1]!.ack('p12');
    await Promise.all([...ps, extra]);
    assert.equal(ids(server.received).length, 13);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a lost connection is replaced with backoff while the others keep sending', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { connections: 2 }));
  const delays: number[] = [];
  client.on('reconnecting', (e: { delayMs: number }) => delays.push(e.delayMs));
  try {
    await client.connect();
    await server.until(() => server.conns.filter((c) => c.online).length === 2);
    server.conns[0]!.cut();
    await client.send({ to: 't' });
    await server.until(() => server.conns.filter((c) => c.online && !c.closed).length === 2);
    assert.is(delays.length, 1);
    assert.ok(delays[0]! <= 50);
    assert.is(client.stats().reconnects, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('close() waits for a running upstream handler and ACKs its message before ending the stream', async () => {
  const server = await startScriptedServer();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let started = false;
  const client = new CcsClient(clientOptions(server, {
    onUpstream: async () => {
      started = true;
      await gate;
    },
  }));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev', 'slow-1');
    await server.until(() => started);
    let closed = false;
    const closing = client.close({ timeoutMs: 2000 }).then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.is(closed, false);
    release();
    await closing;
    assert.is(c.acks[0]?.['message_id'], 'slow-1');
  } finally {
    await server.stop();
  }
});

test('an upstream message arriving after close() began is neither handled nor ACKed (its reply would be refused): CCS delivers it elsewhere', async () => {
  const server = await startScriptedServer();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const handled: string[] = [];
  const client = new CcsClient(clientOptions(server, {
    onUpstream: async (m: UpstreamMessage) => {
      handled.push(m.messageId);
      await gate;
    },
  }));
  try {
    await client.connect();
    const c = server.latest();
    c.upstream('dev', 'slow-2');
    await server.until(() => handled.length === 1);
    const closing = client.close({ timeoutMs: 2000 });
    c.upstream('dev', 'late-1');
    await new Promise((r) => setTimeout(r, 30));
    release();
    await closing;
    assert.equal(handled, ['slow-2']);
    assert.equal(c.acks.map((a) => a['message_id']), ['slow-2']);
    assert.is(client.stats().upstreamUnhandled, 1);
  } finally {
    await server.stop();
  }
});

test('an outage: reconnect attempts back off (growing, capped delays) and report errors; sends queue and go out once back', async () => {
  const opts = { autoAck: true, refuse: false };
  const server = await startScriptedServer(opts);
  const client = new CcsClient(clientOptions(server, { reconnectBaseMs: 5, reconnectMaxMs: 40, random: () => 1 }));
  const attempts: Array<[number, number]> = [];
  const errors: string[] = [];
  client.on('reconnecting', (e: { attempt: number; delayMs: number }) => attempts.push([e.attempt, e.delayMs]));
  client.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  try {
    await client.connect();
    opts.refuse = true;
    server.conns[0]!.cut();
    const p = quiet(client.send({ to: 't', message_id: 'during-outage' }));
    await server.until(() => attempts.length >= 5);
    assert.equal(attempts.slice(0, 5), [[0, 5], [1, 10], [2, 20], [3, 40], [4, 40]]);
    assert.ok(errors.length >= 3 && errors.every((c) => c === 'CCS_ERR_TLS' || c === 'CCS_ERR_STREAM'), errors.join(','));
    opts.refuse = false;
    const r = await p;
    assert.is(r.messageId, 'during-outage');
    assert.is(client.stats().connections.online, 1);
  } finally {
    await client.close({ timeoutMs: 300 });
    await server.stop();
  }
});

test('pings the server after silence and answers its pings', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { pingIntervalMs: 30 }));
  try {
    await client.connect();
    await server.until(() => server.conns[0]!.pings >= 1, 1000);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a silent dead peer is detected by the idle timeout and the connection replaced', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { idleTimeoutMs: 80, pingIntervalMs: 0, keepaliveIntervalMs: 0 }));
  try {
    await client.connect();
    // The server never writes anything, so after 80 ms the client gives up on it and reconnects.
    await server.until(() => server.conns.length >= 2, 2000);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
