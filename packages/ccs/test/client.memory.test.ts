// Memory bounded on the client side whatever the server sends or withholds (issue 11 §3): the
// bound holds in a real child process, against hostile servers built on the same layers.
import { getEventListeners } from 'node:events';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { GcmEncoder } from '@ccs-xmpp/stanza';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, HandshakeError } from '../src/index.js';
import { CLIENT_CHILD, spawnChild, type Child } from './helpers/child.js';
import { clientOptions, quiet, startScriptedServer, type ScriptedServer, type ServerConn } from './helpers/scripted-server.js';

function child(scenario: string, server: ScriptedServer, opts: object = {}, env: Record<string, string> = {}): Child {
  return spawnChild(CLIENT_CHILD, [scenario, String(server.port)], { CHILD_CA: server.ca, CHILD_OPTS: JSON.stringify(opts), ...env }, { execArgv: ['--expose-gc'], killAfterMs: 60_000 });
}

const MB = 1024 * 1024;

/**
 * Writes what `make(i)` gives for as long as the client reads it, respecting this side's own
 * backpressure (so only the client's reading decides how much goes out). `written` counts it.
 */
function flood(conn: ServerConn, make: (i: number) => string | Uint8Array): { written: () => number; stop: () => void } {
  let i = 0;
  let stopped = false;
  const pump = (): void => {
    while (!stopped && conn.xmpp.writable) {
      if (!conn.xmpp.send(make(i++))) {
        conn.xmpp.rawSocket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  return { written: () => i, stop: () => { stopped = true; } };
}

/** Resolves once `value()` has not changed for `quietMs` (polled); rejects after `timeoutMs`. */
async function settles(value: () => number, quietMs: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = value();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs && v > 0) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`still growing after ${timeoutMs} ms (at ${v})`);
  }
}

test('messages flooded between bind and online fail the handshake with CCS_ERR_EARLY_OVERFLOW instead of filling the heap (child process)', async () => {
  const server = await startScriptedServer({ session: true, stallAt: 'session', upstreamAfterBind: 20_000 });
  const c = child('early-flood', server);
  try {
    const r = await c.waitLine((l) => l['event'] === 'result', 30_000);
    assert.is(r['code'], 'CCS_ERR_EARLY_OVERFLOW');
    const grown = ((r['after'] as number) - (r['before'] as number)) / MB;
    process.stdout.write(`\n    early flood: heap ${((r['before'] as number) / MB).toFixed(1)} → ${((r['after'] as number) / MB).toFixed(1)} MB\n`);
    assert.ok(grown < 16, `heap grew ${grown.toFixed(1)} MB`);
    assert.is((await c.exited).code, 0);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('early messages are bounded by size too (maxEarlyBytes), and the failure is a retryable HandshakeError', async () => {
  const server = await startScriptedServer({ session: true, stallAt: 'session', upstreamAfterBind: 50, upstreamAfterBindData: { blob: 'x'.repeat(2000) } });
  const client = new CcsClient(clientOptions(server, { maxEarlyBytes: 20_000 }));
  try {
    const err = await client.connect().then(() => undefined, (e: unknown) => e);
    assert.instance(err, HandshakeError);
    assert.is((err as HandshakeError).code, 'CCS_ERR_EARLY_OVERFLOW');
    assert.is((err as HandshakeError).retryable, true);
    assert.match((err as HandshakeError).message, /20000 bytes/);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a server that floods upstream messages and never reads: the client stops reading once its ACKs back up, counts an ACK only once written, and catches up when the server reads again (child process)', async () => {
  const server = await startScriptedServer();
  const c = child('flood-target', server);
  try {
    await server.until(() => server.conns[0]?.online === true, 10_000);
    const conn = server.conns[0]!;
    conn.xmpp.pause();
    const enc = new GcmEncoder();
    // Long ids make long ACKs: the client's buffers fill after thousands of messages, not millions.
    const pad = 'p'.repeat(1000);
    const f = flood(conn, (i) => enc.encode({ category: 'com.example', data: {}, message_id: `${pad}-${i}`, from: 'dev', time_to_live: 60 }));
    const written = await settles(f.written, 1000, 30_000);
    const latest = (): Record<string, unknown> => [...c.lines].reverse().find((l) => l['event'] === 'stats') ?? {};
    await new Promise((r) => setTimeout(r, 300));
    const stalled = latest();
    process.stdout.write(`\n    upstream flood stalled: server wrote ${written}, client received ${String(stalled['received'])}, ACKs written ${String(stalled['acked'])}\n`);
    assert.ok((stalled['received'] as number) > 0);
    assert.ok((stalled['acked'] as number) < (stalled['received'] as number), 'ACKs still in the buffer are not counted as written');
    f.stop();
    conn.xmpp.resume();
    await server.until(() => {
      const s = latest();
      return s['received'] === written && s['acked'] === written && conn.acks.length === written;
    }, 30_000);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('a server that floods pings and never reads: the client stops reading once its replies back up (child process)', async () => {
  const server = await startScriptedServer();
  const c = child('flood-target', server);
  try {
    await server.until(() => server.conns[0]?.online === true, 10_000);
    const conn = server.conns[0]!;
    conn.xmpp.pause();
    const pad = 'q'.repeat(1000);
    const f = flood(conn, (i) => `<iq type="get" id="${pad}-${i}" from="gcm.googleapis.com"><ping xmlns="urn:xmpp:ping"/></iq>`);
    // A longer quiet window than for upstream messages: a client answering pings without
    // backpressure slows down as its backlog grows (it pauses for up to a second), but never stops.
    const written = await settles(f.written, 2500, 40_000);
    process.stdout.write(`\n    ping flood stalled after ${written} pings\n`);
    f.stop();
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('ACKed messages are unreachable at once: 50 000 ACKed sends with a 120 s timeout leave the heap about where it was (child process, after GC)', async () => {
  // The emulator (in this process) answers fast enough for 50 000 round trips in a few seconds.
  const emu = new CcsEmulator({ port: 0, seed: 11, keepaliveIntervalMs: 0, senders: [{ senderId: '1234567890', apiKey: 'test-api-key-Ω' }] });
  await emu.start();
  const c = spawnChild(CLIENT_CHILD, ['acked-heap', String(emu.port)], { CHILD_CA: emu.ca, CHILD_OPTS: JSON.stringify({ maxPending: 1000 }), CHILD_N: '50000' }, { execArgv: ['--expose-gc'], killAfterMs: 90_000 });
  try {
    const r = await c.waitLine((l) => l['event'] === 'heap', 90_000);
    assert.is(r['acked'], 51_000);
    const grown = ((r['after'] as number) - (r['before'] as number)) / MB;
    process.stdout.write(`\n    acked-heap: ${((r['before'] as number) / MB).toFixed(1)} → ${((r['after'] as number) / MB).toFixed(1)} MB after 50 000 ACKed sends\n`);
    // Lazily deleted, each ACKed message stayed until its deadline: tens of MB here (254 MB for 300 000).
    assert.ok(grown < 12, `heap grew ${grown.toFixed(1)} MB`);
    assert.is((await c.exited).code, 0);
  } finally {
    c.proc.kill('SIGKILL');
    await emu.stop();
  }
});

test('the records kept for reuse keep nothing of their messages: 20 000 ACKed sends of 2 KB leave the heap about where it was (child process, after GC)', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 12, keepaliveIntervalMs: 0, senders: [{ senderId: '1234567890', apiKey: 'test-api-key-Ω' }] });
  await emu.start();
  const c = spawnChild(CLIENT_CHILD, ['spare-heap', String(emu.port)], { CHILD_CA: emu.ca, CHILD_OPTS: JSON.stringify({ maxPending: 1000 }), CHILD_N: '20000' }, { execArgv: ['--expose-gc'], killAfterMs: 90_000 });
  try {
    const r = await c.waitLine((l) => l['event'] === 'heap', 90_000);
    assert.is(r['acked'], 21_000);
    const grown = ((r['after'] as number) - (r['before'] as number)) / MB;
    process.stdout.write(`\n    spare-heap: ${((r['before'] as number) / MB).toFixed(1)} → ${((r['after'] as number) / MB).toFixed(1)} MB after 20 000 ACKed sends of 2 KB\n`);
    // Up to 5 000 spare records (~120 B each) are kept; with their payloads they would hold ~10 MB.
    assert.ok(grown < 4, `heap grew ${grown.toFixed(1)} MB`);
    assert.is((await c.exited).code, 0);
  } finally {
    c.proc.kill('SIGKILL');
    await emu.stop();
  }
});

test('one AbortSignal shared by many sends carries one listener (not one per send), which goes when they settle', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { maxPending: 5000 }));
  try {
    await client.connect();
    const ac = new AbortController();
    const ps = Array.from({ length: 2000 }, () => quiet(client.send({ to: 'tok' }, { signal: ac.signal })));
    assert.is(getEventListeners(ac.signal, 'abort').length, 1);
    ac.abort(new Error('enough'));
    const rs = await Promise.allSettled(ps);
    assert.ok(rs.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'CCS_ERR_ABORTED'));
    assert.is(getEventListeners(ac.signal, 'abort').length, 0);
    // ACKed ones leave the group too: the listener goes with the last of them.
    const shared = new AbortController();
    const ids = ['s1', 's2', 's3'];
    const acked = ids.map((id) => quiet(client.send({ to: 'tok', message_id: id }, { signal: shared.signal })));
    assert.is(getEventListeners(shared.signal, 'abort').length, 1);
    await server.until(() => server.received.some((r) => r.msg['message_id'] === 's3'));
    for (const id of ids) server.latest().ack(id);
    await Promise.all(acked);
    assert.is(getEventListeners(shared.signal, 'abort').length, 0);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
