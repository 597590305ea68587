// The keep-alive rule, proven in real child processes whose only handles are one CcsClient's:
// connected, connecting, reconnecting, or holding pending messages, running handlers or a close in
// progress keeps the process alive; an idle closed client does not; unref()/ref() let an embedder
// choose. Exit code 13 is Node's "unsettled top-level await": the process ran out of handles with
// work left — what every timer being unref'd used to cause the first time a connection was cut.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_CHILD, spawnChild, type Child } from './helpers/child.js';
import { startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

function child(scenario: string, server: ScriptedServer, opts: object = {}): Child {
  return spawnChild(CLIENT_CHILD, [scenario, String(server.port)], { CHILD_CA: server.ca, CHILD_OPTS: JSON.stringify(opts) });
}

test('await send({ timeoutMs: 10000 }) across a cut: the process stays alive, reconnects, resends, and gets the ACK', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const c = child('send-across-cut', server);
  try {
    await server.until(() => server.received.length === 1, 10_000);
    server.conns[0]!.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 1, 10_000);
    server.conns[1]!.ack('k1');
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.find((l) => l['event'] === 'result'), { event: 'result', ok: true, id: 'k1', retries: 1 });
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('await close({ timeoutMs: 3000 }) across a cut: the pending message is resent and ACKed before the process ends', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const c = child('close-across-cut', server);
  try {
    await c.waitLine((l) => l['event'] === 'closing');
    await server.until(() => server.received.length === 1, 10_000);
    server.conns[0]!.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.received.length === 1, 10_000);
    server.conns[1]!.ack('k1');
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.find((l) => l['event'] === 'closed'), { event: 'closed', ok: true, id: 'k1', retries: 1 });
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('for await (… of client.upstream()) across a cut: the loop survives and gets the next message on the new connection', async () => {
  const server = await startScriptedServer();
  const c = child('iterate-across-cut', server);
  try {
    await c.waitLine((l) => l['event'] === 'online');
    await server.until(() => server.conns[0]?.online === true);
    server.conns[0]!.upstream('dev', 'u1');
    await c.waitLine((l) => l['id'] === 'u1');
    await server.until(() => server.conns[0]!.acks.length === 1);
    server.conns[0]!.cut();
    await server.until(() => server.conns.length === 2 && server.conns[1]!.online, 10_000);
    server.conns[1]!.upstream('dev', 'u2');
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.filter((l) => l['event'] === 'upstream').map((l) => l['id']), ['u1', 'u2']);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('an idle closed client lets the process exit by itself (no timer left behind, even after a send with a 120 s timeout)', async () => {
  const server = await startScriptedServer();
  const c = child('idle-close', server);
  try {
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.map((l) => l['event']), ['online', 'result', 'closed']);
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('unref(): a connected client with a pending message and a handler no longer keeps the process alive', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const c = child('unref-with-work', server);
  try {
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.map((l) => l['event']), ['online', 'unrefd', 'exit']);
    assert.is(server.received.length, 1, 'the message had gone out: there was work, and the process still ended');
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test('ref() after unref(): the connected client keeps the process alive again until its upstream message arrives', async () => {
  const server = await startScriptedServer();
  const c = child('ref-again', server);
  try {
    await c.waitLine((l) => l['event'] === 'ready');
    await server.until(() => server.conns[0]?.online === true);
    // Given time to exit if nothing held it: the message is sent only after a pause.
    await new Promise((r) => setTimeout(r, 300));
    server.conns[0]!.upstream('dev', 'late');
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    assert.equal(c.lines.find((l) => l['event'] === 'upstream'), { event: 'upstream', id: 'late' });
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test.run();
