// reconnectStrategy can give up: `false` opens no connection any more; once none is left the
// client closes, every queued and pending send rejects with ReconnectStoppedError
// (CCS_ERR_RECONNECT_STOPPED), `error` says why, and the closed client lets its process exit.
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, CcsError, ClosedError, ReconnectStoppedError } from '../src/index.js';
import { CLIENT_CHILD, spawnChild } from './helpers/child.js';
import { clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

const settled = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (err: unknown) => err);

test('reconnectStrategy returning false: no reconnect after it; pending and queued sends reject with CCS_ERR_RECONNECT_STOPPED, error says why, the client is closed', async () => {
  const opts = { refuse: false, autoAck: false };
  const server = await startScriptedServer(opts);
  const calls: number[] = [];
  const client = new CcsClient(clientOptions(server, {
    maxPending: 2,
    reconnectStrategy: (attempt: number) => {
      calls.push(attempt);
      return attempt < 2 ? 5 : false;
    },
  }));
  const errors: unknown[] = [];
  const delays: number[] = [];
  client.on('error', (e) => errors.push(e));
  client.on('reconnecting', (e) => delays.push(e.delayMs));
  try {
    await client.connect();
    // Two in flight (the window), two queued behind them.
    const sends = ['a', 'b', 'c', 'd'].map((id) => quiet(client.send({ to: 'tok', message_id: id })));
    await server.until(() => server.received.length === 2);
    opts.refuse = true;
    server.conns[0]!.cut();
    const outcomes = await Promise.all(sends.map(settled));
    for (const err of outcomes) {
      assert.instance(err, ReconnectStoppedError);
      assert.instance(err, ClosedError, 'a close of this client, not a failure of the message (a durable store keeps the record)');
      assert.is((err as CcsError).code, 'CCS_ERR_RECONNECT_STOPPED');
      assert.instance((err as Error).cause, Error, 'the error of the last attempt');
    }
    assert.equal(calls, [0, 1, 2]);
    assert.equal(delays, [5, 5], 'no reconnecting event for the stop');
    const stopped = errors.filter((e) => e instanceof CcsError && e.code === 'CCS_ERR_RECONNECT_STOPPED');
    assert.is(stopped.length, 1, 'emitted once on error');
    assert.is(stopped[0], outcomes[0], 'the same error');
    const attempts = server.conns.length;
    opts.refuse = false;
    await new Promise((r) => setTimeout(r, 100));
    assert.is(server.conns.length, attempts, 'no connection opened after the stop');
    assert.is(await settled(client.send({ to: 'tok', message_id: 'late' })).then((e) => (e as CcsError).code), 'CCS_ERR_CLOSED');
    assert.is(client.stats().connections.online, 0);
    await client.close();
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('reconnectStrategy returning false with two connections: the one still online carries on; when it is lost too, the client closes', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server, { connections: 2, reconnectStrategy: () => false }));
  const errors: string[] = [];
  client.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  try {
    await client.connect({ all: true });
    server.conns[0]!.cut();
    await server.until(() => client.stats().connections.online === 1);
    assert.ok(errors.includes('CCS_ERR_RECONNECT_STOPPED') === false, 'not closed while a connection is left');
    const first = client.send({ to: 'tok', message_id: 'on-b' });
    await server.until(() => server.conns[1]!.received.length === 1);
    server.conns[1]!.ack('on-b');
    assert.is((await first).messageId, 'on-b', 'the remaining connection carries messages');
    const second = quiet(client.send({ to: 'tok', message_id: 'lost' }));
    await server.until(() => server.conns[1]!.received.length === 2);
    server.conns[1]!.cut();
    const err = await settled(second);
    assert.instance(err, ReconnectStoppedError);
    assert.equal(errors.filter((c) => c === 'CCS_ERR_RECONNECT_STOPPED'), ['CCS_ERR_RECONNECT_STOPPED']);
    assert.is(server.conns.length, 2, 'nothing reopened');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('reconnectStrategy returning false, in a real child process against the emulator: every send settles with CCS_ERR_RECONNECT_STOPPED and the process exits by itself', async () => {
  // ACKs held for a minute: the sends are pending (and queued behind the window) when the emulator goes away.
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0, faults: { ackDelayMs: 60_000 } });
  await emu.start();
  const c = spawnChild(CLIENT_CHILD, ['reconnect-stop', String(emu.port)], {
    CHILD_CA: emu.ca, CHILD_STOP_AT: '2', CHILD_OPTS: JSON.stringify({ apiKey: 'emulator-api-key', maxPending: 2 }),
  });
  try {
    await c.waitLine((l) => l['event'] === 'sent', 15_000);
    await emu.stop();
    const r = await c.exited;
    assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
    const done = c.lines.find((l) => l['event'] === 'settled');
    assert.ok(done, c.lines.map((l) => JSON.stringify(l)).join('\n'));
    const stopped = { ok: false, code: 'CCS_ERR_RECONNECT_STOPPED', name: 'ReconnectStoppedError', cause: true };
    assert.equal(done['results'], [stopped, stopped, stopped, stopped, stopped]);
    assert.ok((done['errors'] as string[]).includes('CCS_ERR_RECONNECT_STOPPED'));
    assert.equal(done['after'], { ok: false, code: 'CCS_ERR_CLOSED', name: 'ClosedError', cause: false });
  } finally {
    c.proc.kill('SIGKILL');
    await emu.stop();
  }
});

test.run();
