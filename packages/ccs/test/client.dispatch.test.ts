// dispatch(message, callback, options): the promise-free send. Every outcome of send() reaches the
// callback, once, later — never inside dispatch() nor inside the client's own ACK/NACK processing —
// and a full queue is the only `false`. Real TLS on 127.0.0.1 against the scripted server; the
// process-level guarantees (keep-alive, a callback that throws) in real child processes.
import * as dc from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AbortError, CcsClient, ClosedError, channelNames, DuplicateIdError, InvalidMessageError, NackError, TimeoutError,
  type CcsError, type SendCallback, type SendResult,
} from '../src/index.js';
import { CLIENT_CHILD, spawnChild, type Child } from './helpers/child.js';
import { clientOptions, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

interface Call {
  error: CcsError | undefined;
  result: SendResult | undefined;
  /** The stack the callback ran on: neither dispatch() nor the outbox may be on it. */
  stack: string;
}

/** A callback that records its calls, and a promise of the first. */
function recorder(): { cb: SendCallback; calls: Call[]; next: Promise<Call> } {
  const calls: Call[] = [];
  let done!: (c: Call) => void;
  const next = new Promise<Call>((resolve) => {
    done = resolve;
  });
  const cb: SendCallback = (error, result) => {
    const call = { error, result, stack: new Error('stack').stack ?? '' };
    calls.push(call);
    done(call);
  };
  return { cb, calls, next };
}

/** The client's own frames that must never be under a callback. */
const INSIDE = /CcsClient\.dispatch|Outbox\.(?:submit|ack|nack|requeueOwed|failAll)|Outbox\.#settle/;

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('an ACK calls back (undefined, SendResult) with messageId, from and retries, after the read, never inside the ACK processing', async () => {
  let nacked = false;
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      const id = m['message_id'] as string;
      // The second message is NACKed once with a retried class, then ACKed.
      if (id === 'd-2' && !nacked) {
        nacked = true;
        c.nack(id, 'SERVICE_UNAVAILABLE');
      } else c.ack(id, id === 'd-1' ? { registration_id: 'canonical' } : {});
    },
  });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const a = recorder();
    const b = recorder();
    assert.is(client.dispatch({ to: 'tok-a', message_id: 'd-1' }, a.cb), true);
    assert.is(client.dispatch({ to: 'tok-b', message_id: 'd-2' }, b.cb), true);
    const [ca, cb] = await Promise.all([a.next, b.next]);
    assert.equal(ca.result, { messageId: 'd-1', from: 'tok-a', registrationId: 'canonical', retries: 0 });
    assert.is(ca.error, undefined);
    assert.equal(cb.result, { messageId: 'd-2', from: 'tok-b', registrationId: undefined, retries: 1 });
    assert.is(cb.error, undefined);
    assert.not.match(ca.stack, INSIDE);
    assert.not.match(cb.stack, INSIDE);
    await tick(20);
    assert.is(a.calls.length, 1, 'called once');
    assert.is(b.calls.length, 1, 'called once');
    const s = client.stats();
    assert.is(s.pending, 0);
    assert.is(s.acked, 2);
    assert.is(s.retries, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a generated id: the result carries it, and a message without data is dispatched as a copy (the caller\'s object untouched)', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = recorder();
    const msg = { to: 'tok' };
    assert.ok(client.dispatch(msg, r.cb));
    const c = await r.next;
    assert.type(c.result?.messageId, 'string');
    assert.is(server.received[0]?.msg['message_id'], c.result?.messageId);
    assert.equal(msg, { to: 'tok' });
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a NACK of a final class calls back with NackError (CCS_ERR_NACK, nackCode, retries)', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => c.nack(m['message_id'] as string, 'DEVICE_UNREGISTERED') });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = recorder();
    assert.is(client.dispatch({ to: 'gone', message_id: 'n-1' }, r.cb), true);
    const c = await r.next;
    assert.instance(c.error, NackError);
    assert.is(c.error?.code, 'CCS_ERR_NACK');
    assert.is((c.error as NackError).nackCode, 'DEVICE_UNREGISTERED');
    assert.is((c.error as NackError).messageId, 'n-1');
    assert.is(c.result, undefined);
    assert.not.match(c.stack, INSIDE);
    assert.is(client.stats().failed, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('an invalid message: dispatch returns true, sends nothing, and calls back with InvalidMessageError only after it returned', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = recorder();
    // No assertion inside a callback: its throw would be re-thrown as an uncaught exception.
    let returned = false;
    let calledAfterReturn: boolean | undefined;
    const cb: SendCallback = (e, res) => {
      calledAfterReturn = returned;
      r.cb(e, res);
    };
    assert.is(client.dispatch({ to: 'tok', time_to_live: -1 }, cb), true);
    returned = true;
    assert.is(r.calls.length, 0, 'not called synchronously');
    const c = await r.next;
    assert.is(calledAfterReturn, true, 'called after dispatch() returned');
    assert.instance(c.error, InvalidMessageError);
    assert.is((c.error as InvalidMessageError).reason, 'INVALID_TTL');
    assert.is(c.result, undefined);
    // Not an object at all (untyped code): the same, not a throw.
    const n = recorder();
    assert.is(client.dispatch(null as unknown as { to: string }, n.cb), true);
    assert.instance((await n.next).error, InvalidMessageError);
    await tick(20);
    assert.is(server.received.length, 0);
    assert.is(client.stats().pending, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a message_id still pending: the second dispatch calls back with DuplicateIdError, the first is answered', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const first = recorder();
    const second = recorder();
    assert.ok(client.dispatch({ to: 'tok', message_id: 'same' }, first.cb));
    assert.ok(client.dispatch({ to: 'tok', message_id: 'same' }, second.cb));
    assert.instance((await second.next).error, DuplicateIdError);
    await server.until(() => server.received.length === 1);
    server.conns[0]!.ack('same');
    assert.equal((await first.next).result?.messageId, 'same');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a full queue: dispatch returns false, takes nothing and never calls that callback; waitForCapacity() then lets it in', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 1, maxQueued: 1 }));
  try {
    await client.connect();
    const a = recorder();
    const b = recorder();
    const refused = recorder();
    assert.is(client.dispatch({ to: 'tok', message_id: 'q-1' }, a.cb), true);
    assert.is(client.dispatch({ to: 'tok', message_id: 'q-2' }, b.cb), true);
    assert.is(client.dispatch({ to: 'tok', message_id: 'q-3' }, refused.cb), false);
    assert.is(client.stats().queued, 1);
    const capacity = client.waitForCapacity();
    await server.until(() => server.received.length === 1);
    server.conns[0]!.ack('q-1');
    await capacity;
    await server.until(() => server.received.length === 2);
    server.conns[0]!.ack('q-2');
    await Promise.all([a.next, b.next]);
    // q-3 was never taken: its id is free, and the refused callback stays silent.
    const again = recorder();
    assert.is(client.dispatch({ to: 'tok', message_id: 'q-3' }, again.cb), true);
    await server.until(() => server.received.length === 3);
    server.conns[0]!.ack('q-3');
    assert.equal((await again.next).result?.messageId, 'q-3');
    await tick(20);
    assert.is(refused.calls.length, 0);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['q-1', 'q-2', 'q-3']);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a closing or closed client: dispatch returns true and calls back with ClosedError, later', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const closing = client.close({ timeoutMs: 500 });
    const during = recorder();
    assert.is(client.dispatch({ to: 'tok' }, during.cb), true);
    assert.is(during.calls.length, 0);
    const c1 = await during.next;
    assert.instance(c1.error, ClosedError);
    assert.is(c1.error?.code, 'CCS_ERR_CLOSED');
    await closing;
    const after = recorder();
    assert.is(client.dispatch({ to: 'tok' }, after.cb), true);
    assert.is(after.calls.length, 0);
    assert.instance((await after.next).error, ClosedError);
    assert.is(server.received.length, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('close() with dispatched messages pending waits for their ACKs, then calls back the rest with ClosedError; destroy() at once', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const acked = recorder();
    const unanswered = recorder();
    client.dispatch({ to: 'tok', message_id: 'c-1' }, acked.cb);
    client.dispatch({ to: 'tok', message_id: 'c-2' }, unanswered.cb);
    await server.until(() => server.received.length === 2);
    assert.is(client.stats().pending, 2);
    const closed = client.close({ timeoutMs: 300 });
    server.conns[0]!.ack('c-1');
    assert.equal((await acked.next).result?.messageId, 'c-1');
    await closed;
    // The README's promise: every callback of a message close() failed has run when close() resolves.
    assert.is(unanswered.calls.length, 1, 'called back before close() resolved');
    const c2 = await unanswered.next;
    assert.instance(c2.error, ClosedError);
    assert.not.match(c2.stack, INSIDE);
    assert.is(client.stats().pending, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
  const server2 = await startScriptedServer({ autoAck: false });
  const client2 = new CcsClient(clientOptions(server2, { maxPending: 1 }));
  try {
    await client2.connect();
    const inflight = recorder();
    const queued = recorder();
    client2.dispatch({ to: 'tok', message_id: 'x-1' }, inflight.cb);
    client2.dispatch({ to: 'tok', message_id: 'x-2' }, queued.cb);
    await server2.until(() => server2.received.length === 1);
    client2.destroy();
    assert.is(inflight.calls.length + queued.calls.length, 0, 'not inside destroy()');
    assert.instance((await inflight.next).error, ClosedError);
    assert.instance((await queued.next).error, ClosedError);
    await tick(20);
    assert.is(inflight.calls.length, 1);
    assert.is(queued.calls.length, 1);
  } finally {
    client2.destroy();
    await server2.stop();
  }
});

test('timeoutMs: an unanswered dispatched message calls back with TimeoutError (written: true), once, even when the ACK comes later', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const r = recorder();
    client.dispatch({ to: 'tok', message_id: 't-1' }, r.cb, { timeoutMs: 60 });
    const c = await r.next;
    assert.instance(c.error, TimeoutError);
    assert.is(c.error?.code, 'CCS_ERR_TIMEOUT');
    assert.is((c.error as TimeoutError).written, true);
    server.conns[0]!.ack('t-1');
    await tick(50);
    assert.is(r.calls.length, 1);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('an AbortSignal: aborted before, the callback gets AbortError (written: false) and nothing is sent; aborted while pending, AbortError (written: true)', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const before = recorder();
    const reason = new Error('gave up');
    assert.is(client.dispatch({ to: 'tok', message_id: 'a-0' }, before.cb, { signal: AbortSignal.abort(reason) }), true);
    assert.is(before.calls.length, 0);
    const c0 = await before.next;
    assert.instance(c0.error, AbortError);
    assert.is((c0.error as AbortError).written, false);
    assert.is(c0.error?.cause, reason);
    const ac = new AbortController();
    const during = recorder();
    client.dispatch({ to: 'tok', message_id: 'a-1' }, during.cb, { signal: ac.signal });
    await server.until(() => server.received.length === 1);
    ac.abort();
    const c1 = await during.next;
    assert.instance(c1.error, AbortError);
    assert.is((c1.error as AbortError).written, true);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['a-1']);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('re-entrant callbacks: one dispatches again, one closes the client, one destroys it — every other callback of the batch still runs, once', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const order: string[] = [];
    const chained = recorder();
    let closing: Promise<void> | undefined;
    const seen: Array<{ acked: number; pending: number }> = [];
    let taken: boolean | undefined;
    const cb: SendCallback = (err, r) => {
      const id = r?.messageId ?? err?.code ?? '?';
      order.push(id);
      const s = client.stats();
      seen.push({ acked: s.acked, pending: s.pending });
      if (id === 'r-1') taken = client.dispatch({ to: 'tok', message_id: 'r-4' }, chained.cb);
      if (id === 'r-2') closing = client.close({ timeoutMs: 1000 });
    };
    for (let i = 1; i <= 3; i++) client.dispatch({ to: 'tok', message_id: `r-${i}` }, cb);
    await server.until(() => server.received.length === 3);
    // Three ACKs in one tick: the server's stream writes them at once, the client reads them together.
    const conn = server.conns[0]!;
    for (let i = 1; i <= 3; i++) conn.ack(`r-${i}`);
    await server.until(() => server.received.length === 4);
    conn.ack('r-4');
    assert.equal((await chained.next).result?.messageId, 'r-4');
    await closing;
    assert.is(taken, true);
    assert.equal(order, ['r-1', 'r-2', 'r-3']);
    // The callbacks ran after the whole read: the first already saw all three ACKs counted and
    // settled (nothing half-done), and then the one it dispatched pending.
    assert.equal(seen, [{ acked: 3, pending: 0 }, { acked: 3, pending: 1 }, { acked: 3, pending: 1 }]);
    // A dispatch from a callback after close() began is refused with ClosedError, via its callback.
    const late = recorder();
    client.dispatch({ to: 'tok' }, (e, r) => {
      client.destroy();
      late.cb(e, r);
    });
    assert.instance((await late.next).error, ClosedError);
  } finally {
    client.destroy();
    await server.stop();
  }
  // destroy() from the first callback of a batch: the rest of the batch still runs, and the
  // message destroy() failed calls back after them, once.
  const server2 = await startScriptedServer({ autoAck: false });
  const client2 = new CcsClient(clientOptions(server2));
  try {
    await client2.connect();
    const seen: string[] = [];
    const record: SendCallback = (e, r) => {
      seen.push(`${r?.messageId ?? ''}${e?.code ?? ''}`);
    };
    client2.dispatch({ to: 'tok', message_id: 'z-2' }, record);
    await server2.until(() => server2.received.length === 1);
    client2.dispatch({ to: 'tok', message_id: 'z-1', time_to_live: -5 }, (e, r) => {
      record(e, r);
      client2.destroy();
    });
    client2.dispatch({ to: 'tok', message_id: 'z-3', time_to_live: -5 }, record);
    await tick(20);
    assert.equal(seen, ['CCS_ERR_INVALID_MESSAGE', 'CCS_ERR_INVALID_MESSAGE', 'CCS_ERR_CLOSED']);
  } finally {
    client2.destroy();
    await server2.stop();
  }
});

test('a lost connection loses nothing: dispatched messages go out again on the next connection, in order, and call back once each with retries 1', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    const results: Array<[string | undefined, number | undefined, string | undefined]> = [];
    const cb: SendCallback = (err, r) => {
      results.push([r?.messageId, r?.retries, err?.code]);
    };
    for (let i = 0; i < 5; i++) assert.ok(client.dispatch({ to: 'tok', message_id: `m-${i}` }, cb));
    await server.until(() => server.received.length === 5);
    server.conns[0]!.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 5, 10_000);
    assert.equal(server.conns[1]!.received.map((m) => m['message_id']), ['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    for (let i = 0; i < 5; i++) server.conns[1]!.ack(`m-${i}`);
    await server.until(() => results.length === 5);
    await tick(20);
    assert.equal(results, [0, 1, 2, 3, 4].map((i) => [`m-${i}`, 1, undefined]));
    assert.is(client.stats().resent, 5);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('a callback that is not a function, or a receipt option, throws a TypeError at once and takes nothing', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    for (const bad of [undefined, null, 'cb', {}]) {
      assert.throws(() => client.dispatch({ to: 'tok' }, bad as unknown as SendCallback), (e: unknown) => e instanceof TypeError && /callback/.test((e as Error).message));
    }
    const never = recorder();
    for (const opts of [{ receipt: true }, { receiptTimeoutMs: 1000 }, { receipt: 'yes' }]) {
      let thrown: unknown;
      try {
        client.dispatch({ to: 'tok' }, never.cb, opts as never);
      } catch (err) {
        thrown = err;
      }
      assert.instance(thrown, TypeError);
      assert.is((thrown as { code?: string }).code, 'CCS_ERR_INVALID_OPTION');
      assert.match((thrown as Error).message, /send\(message, \{ receipt: true \}\)/);
    }
    // receipt: false asks for nothing: accepted.
    assert.ok(client.dispatch({ to: 'tok', message_id: 'ok' }, never.cb, { receipt: false } as never));
    await tick(30);
    assert.equal(server.received.map((r) => r.msg['message_id']), ['ok']);
    assert.is(client.stats().pending, 1);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('the trace channels and stats() see a dispatched message as a sent one: enqueued, written, acked or failed, each published before its callback runs', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => (m['message_id'] === 'tr-bad' ? c.nack('tr-bad', 'BAD_REGISTRATION') : c.ack(m['message_id'] as string)) });
  const client = new CcsClient(clientOptions(server));
  const events: string[] = [];
  const subs = (['enqueued', 'written', 'acked', 'failed'] as const).map((name) => {
    const fn = (m: unknown): void => {
      events.push(`${name}:${(m as { messageId: string }).messageId}`);
    };
    dc.subscribe(channelNames[name], fn);
    return [channelNames[name], fn] as const;
  });
  try {
    await client.connect();
    const ok = recorder();
    const bad = recorder();
    client.dispatch({ to: 'tok', message_id: 'tr-ok' }, (e, r) => {
      events.push('callback:tr-ok');
      ok.cb(e, r);
    });
    client.dispatch({ to: 'tok', message_id: 'tr-bad' }, (e, r) => {
      events.push('callback:tr-bad');
      bad.cb(e, r);
    });
    await Promise.all([ok.next, bad.next]);
    for (const id of ['tr-ok', 'tr-bad']) {
      const at = (what: string): number => events.indexOf(`${what}:${id}`);
      assert.ok(at('enqueued') >= 0 && at('enqueued') < at('written'), events.join(' '));
      assert.ok(at(id === 'tr-ok' ? 'acked' : 'failed') > at('written'), events.join(' '));
      assert.ok(at('callback') > at(id === 'tr-ok' ? 'acked' : 'failed'), events.join(' '));
    }
    const s = client.stats();
    assert.equal([s.sent, s.acked, s.failed, s.nacked['BAD_REGISTRATION'], s.pending], [2, 1, 1, 1, 0]);
  } finally {
    for (const [name, fn] of subs) dc.unsubscribe(name, fn);
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

function child(scenario: string, server: ScriptedServer): Child {
  return spawnChild(CLIENT_CHILD, [scenario, String(server.port)], { CHILD_CA: server.ca });
}

test('keep-alive (real process): a pending dispatched message holds the process with nothing awaited; once its callback closed the client, the process ends by itself', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const c = child('dispatch-keep-alive', server);
  try {
    await c.waitLine((l) => l['event'] === 'dispatched');
    await server.until(() => server.received.length === 1, 10_000);
    // Time to exit if nothing held it.
    await tick(300);
    assert.is(c.proc.exitCode, null, 'still running while the message is pending');
    server.conns[0]!.ack('ka-1');
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.map((l) => l['event']).filter((e) => e !== 'online'), ['dispatched', 'result', 'closed']);
    assert.equal(c.lines.find((l) => l['event'] === 'dispatched'), { event: 'dispatched', pending: 1 });
    assert.equal(c.lines.find((l) => l['event'] === 'result'), { event: 'result', ok: true, id: 'ka-1' });
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('a callback that throws (real process): the other callbacks of its batch run first, then the process dies of that error as an uncaught exception', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const c = child('dispatch-throws', server);
  try {
    const r = await c.exited;
    assert.is(r.code, 1, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.match(c.stderr(), /boom from callback 2/);
    assert.equal(c.lines.filter((l) => l['event'] !== 'online'), [
      { event: 'destroyed' },
      { event: 'cb', n: 1, code: 'CCS_ERR_CLOSED' },
      { event: 'cb', n: 2, code: 'CCS_ERR_CLOSED' },
      { event: 'cb', n: 3, code: 'CCS_ERR_CLOSED' },
    ]);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('a callback that throws, with an uncaughtException handler (real process): the client is untouched, the next dispatch is ACKed and close() ends the process', async () => {
  const server = await startScriptedServer();
  const c = child('dispatch-throws-handled', server);
  try {
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.filter((l) => l['event'] !== 'online'), [
      { event: 'cb', ok: true, id: 'thrower' },
      { event: 'uncaught', message: 'boom from the callback' },
      { event: 'result', ok: true, id: 'after', pending: 0, acked: 2, failed: 0 },
      { event: 'closed' },
    ]);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test.run();
