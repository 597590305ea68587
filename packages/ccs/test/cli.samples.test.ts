// `ccs send`'s remaining message fields as flags, and `ccs echo --sample java|python`: the two
// app servers of the CCS document, reproduced exactly (fields, ids, ACK order).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { JsonObject } from '@ccs-xmpp/stanza';
import { runCli, type CliIo } from '../src/internal.js';
import { API_KEY, SENDER_ID, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const ENV = { CCS_SENDER_ID: SENDER_ID, CCS_API_KEY: API_KEY };

function io(argv: string[], signal?: AbortSignal): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    argv, env: ENV, out, err, ...(signal ? { signal } : {}),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  };
}

const conn = (s: ScriptedServer): string[] => ['--host', '127.0.0.1', '--port', String(s.port), '--insecure'];

test('ccs send --delay-while-idle --mutable-content --time-to-live writes those fields', async () => {
  const server = await startScriptedServer();
  try {
    const x = io(['send', ...conn(server), '--to', 'tok', '--message-id', 'f-1', '--delay-while-idle', '--mutable-content', '--time-to-live', '600']);
    assert.is(await runCli(x), 0, x.err.join(''));
    assert.equal(server.received[0]?.msg, { to: 'tok', time_to_live: 600, mutable_content: true, delay_while_idle: true, message_id: 'f-1' });
  } finally {
    await server.stop();
  }
});

test('ccs send refuses --ttl with --time-to-live, and a bad --time-to-live, with one line', async () => {
  for (const [argv, re] of [
    [['send', '--to', 't', '--ttl', '1', '--time-to-live', '2'], /one of --ttl and --time-to-live/],
    [['send', '--to', 't', '--time-to-live', 'soon'], /--time-to-live must be an integer/],
  ] as Array<[string[], RegExp]>) {
    const x = io(argv);
    assert.is(await runCli(x), 2);
    assert.match(x.err.join(''), re);
    assert.is(x.out.length, 0);
  }
});

test('ccs send prints a device-group ACK with success, failure and failed_registration_ids', async () => {
  const server = await startScriptedServer({ onDownstream: (c, m) => c.ack(m['message_id'] as string, { success: 1, failure: 1, failed_registration_ids: ['regId2'] }) });
  try {
    const x = io(['send', ...conn(server), '--to', 'aUniqueKey', '--message-id', 'g-1']);
    assert.is(await runCli(x), 0);
    assert.equal(JSON.parse(x.out[0]!), { event: 'ack', message_id: 'g-1', from: 'aUniqueKey', success: 1, failure: 1, failed_registration_ids: ['regId2'], retries: 0 });
  } finally {
    await server.stop();
  }
});

/** Runs `ccs echo` with `extra` flags, sends one upstream message, returns what the server saw in order. */
async function echoRun(extra: string[]): Promise<{ order: string[]; echo: JsonObject; out: string[] }> {
  const order: string[] = [];
  const server = await startScriptedServer({
    onDownstream: (c, m) => {
      order.push(`echo:${String(m['message_id'])}`);
      c.ack(m['message_id'] as string);
    },
    onAck: (_c, m) => order.push(`ack:${String(m['message_id'])}`),
  });
  const ac = new AbortController();
  try {
    const x = io(['echo', ...conn(server), ...extra], ac.signal);
    const running = runCli(x);
    await server.until(() => server.conns.some((c) => c.online));
    const c = server.latest();
    c.send({ category: 'com.example.yourapp', data: { hello: 'world' }, message_id: 'm-123', from: 'REGID' });
    await server.until(() => order.length === 2 && x.out.some((l) => l.includes('"event":"ack"')));
    ac.abort();
    assert.is(await running, 0);
    return { order, echo: server.received[0]!.msg, out: x.out };
  } finally {
    await server.stop();
  }
}

test('ccs echo --sample java: data plus ECHO, collapse key echo:CollapseKey, id m-<long>, ACK after the echo', async () => {
  const { order, echo } = await echoRun(['--sample', 'java']);
  assert.equal(Object.keys(echo).sort(), ['collapse_key', 'data', 'message_id', 'to']);
  assert.is(echo['to'], 'REGID');
  assert.equal(echo['data'], { hello: 'world', ECHO: 'Application: com.example.yourapp' });
  assert.is(echo['collapse_key'], 'echo:CollapseKey');
  const id = String(echo['message_id']);
  assert.match(id, /^m--?\d{1,19}$/);
  assert.ok(BigInt(id.slice(2)) >= -(2n ** 63n) && BigInt(id.slice(2)) < 2n ** 63n);
  assert.equal(order, [`echo:${id}`, 'ack:m-123']);
});

test('ccs echo --sample python: the ACK goes first, then {"pong":1} with a random 8-character id', async () => {
  const { order, echo } = await echoRun(['--sample', 'python']);
  assert.equal(Object.keys(echo).sort(), ['data', 'message_id', 'to']);
  assert.is(echo['to'], 'REGID');
  assert.equal(echo['data'], { pong: 1 });
  assert.match(String(echo['message_id']), /^[A-Za-z0-9]{8}$/);
  assert.equal(order, ['ack:m-123', `echo:${String(echo['message_id'])}`]);
});

test('ccs echo without --sample sends the data back unchanged; an unknown sample is a usage error', async () => {
  const { echo } = await echoRun([]);
  assert.equal(echo['data'], { hello: 'world' });
  assert.not.ok('collapse_key' in echo);
  const x = io(['echo', '--sample', 'ruby']);
  assert.is(await runCli(x), 2);
  assert.match(x.err.join(''), /--sample must be "java" or "python"/);
});

test.run();
