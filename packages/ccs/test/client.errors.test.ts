// One error hierarchy: every way send() can refuse or fail is a CcsError with a stable code, and an
// invalid message is CCS_ERR_INVALID_MESSAGE with the validator's detail as fields and cause.
import { ValidationError } from '@ccs-xmpp/stanza';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortError, CcsClient, CcsError, DuplicateIdError, InvalidMessageError, NackError, TimeoutError, type CcsErrorCode, type OutgoingMessage } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const rejection = async (p: Promise<unknown> | undefined): Promise<unknown> => {
  if (p === undefined) return undefined;
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('resolved');
};

test('every rejection of send() is a CcsError with a stable code', async () => {
  // Messages with these ids are never answered (timeout, abort, close); 'nack-me' is NACKed for good.
  const server = await startScriptedServer({
    autoAck: false,
    onDownstream: (c, m) => {
      if (m['message_id'] === 'nack-me') c.nack('nack-me', 'DEVICE_UNREGISTERED');
    },
  });
  const client = new CcsClient(clientOptions(server, { maxPending: 3, maxQueued: 1 }));
  const codes: Partial<Record<string, CcsErrorCode>> = {};
  const check = async (name: string, p: Promise<unknown> | undefined): Promise<void> => {
    const err = await rejection(p);
    assert.instance(err, CcsError, name);
    codes[name] = (err as CcsError).code;
  };
  try {
    await client.connect();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await check('invalid', client.send({ to: 't', time_to_live: -1 }));
    await check('unencodable', client.send({ to: 't', extra: cyclic }));
    await check('not an object', client.send(null as unknown as OutgoingMessage));
    await check('nack', client.send({ to: 't', message_id: 'nack-me' }));
    await check('timeout', client.send({ to: 't', message_id: 'slow' }, { timeoutMs: 20 }));
    const ac = new AbortController();
    const aborted = client.send({ to: 't', message_id: 'held-1' }, { signal: ac.signal });
    ac.abort();
    await check('aborted', aborted);
    const held = client.send({ to: 't', message_id: 'held-2' });
    held.catch(() => {});
    await check('duplicate id', client.send({ to: 't', message_id: 'held-2' }));
    // The window (3) is held by slow and held-1 (settled, but written and unanswered) and held-2;
    // one more waits in the queue (maxQueued 1); the next is refused.
    const queued = client.send({ to: 't', message_id: 'queued' });
    queued.catch(() => {});
    await check('queue full', client.send({ to: 't', message_id: 'one-too-many' }));
    client.destroy();
    await check('closed (pending)', held);
    await check('closed (queued)', queued);
    await check('closed (after)', client.send({ to: 't' }));
  } finally {
    client.destroy();
    await server.stop();
  }
  assert.equal(codes, {
    invalid: 'CCS_ERR_INVALID_MESSAGE', unencodable: 'CCS_ERR_INVALID_MESSAGE', 'not an object': 'CCS_ERR_INVALID_MESSAGE',
    nack: 'CCS_ERR_NACK', timeout: 'CCS_ERR_TIMEOUT', aborted: 'CCS_ERR_ABORTED', 'duplicate id': 'CCS_ERR_DUPLICATE_ID',
    'queue full': 'CCS_ERR_QUEUE_FULL', 'closed (pending)': 'CCS_ERR_CLOSED', 'closed (queued)': 'CCS_ERR_CLOSED', 'closed (after)': 'CCS_ERR_CLOSED',
  });
});

test('an invalid message is CCS_ERR_INVALID_MESSAGE with the validator\'s detail as fields and cause', async () => {
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port: 1 });
  try {
    const err = (await rejection(client.send({ to: 't', message_id: 'mine', data: { from: 'x' } }))) as InvalidMessageError;
    assert.instance(err, InvalidMessageError);
    assert.is(err.code, 'CCS_ERR_INVALID_MESSAGE');
    assert.is(err.name, 'InvalidMessageError');
    assert.is(err.field, 'data.from');
    assert.is(err.nackCode, 'INVALID_JSON');
    assert.is(err.messageId, 'mine');
    assert.match(err.ccsError, /^InvalidJson : /);
    assert.instance(err.cause, ValidationError);
    assert.is(err.cause.field, 'data.from');
    assert.match(err.message, /"data\.from"/);
    const ttl = (await rejection(client.send({ to: 't', time_to_live: 2419201 }))) as InvalidMessageError;
    assert.is(ttl.reason, 'INVALID_TTL');
    assert.ok(ttl.messageId !== undefined, 'the assigned id is reported');
  } finally {
    client.destroy();
  }
});

test('an error quotes a long message id cut to its first 100 characters; the whole id stays in its field', () => {
  const id = `m-${'x'.repeat(5000)}`;
  const shown = `"${id.slice(0, 100)}"…`;
  const errors: Array<[CcsError & { messageId?: string }, string]> = [
    [new DuplicateIdError(id), id],
    [new TimeoutError(id, 5, false), id],
    [new AbortError(id, true), id],
    [new NackError({ nackCode: 'BAD_REGISTRATION', reason: undefined, description: 'd', retryClass: 'never', message: { to: 't', message_id: id }, retries: 0, stanzaError: false, raw: 'BAD_REGISTRATION' }), id],
  ];
  for (const [err] of errors) {
    assert.ok(err.message.includes(shown), `${err.name}: ${err.message.slice(0, 140)}`);
    assert.ok(err.message.length < 400, `${err.name}: ${err.message.length} characters`);
  }
  assert.is(errors[0]![0].messageId, id);
  assert.ok(new DuplicateIdError('short').message.includes('"short" is already'));
});

test('a server\'s unknown control_type and a stanza error\'s text for no pending message are quoted cut to 100 characters in the protocol error', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  const errors: CcsError[] = [];
  client.on('error', (e) => {
    errors.push(e as CcsError);
  });
  try {
    await client.connect();
    const conn = server.conns[0]!;
    const long = 'y'.repeat(5000);
    conn.send({ message_type: 'control', control_type: `X${long}` });
    conn.stanzaError('no-such-id', `T${long}`);
    for (let i = 0; i < 100 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(errors.length, 2);
    for (const e of errors) {
      assert.is(e.code, 'CCS_ERR_PROTOCOL');
      assert.ok(e.message.length < 400, `${e.message.length} characters: ${e.message.slice(0, 80)}`);
    }
    assert.ok(errors[0]!.message.includes(`unknown control_type "X${'y'.repeat(99)}"…`), errors[0]!.message.slice(0, 160));
    assert.ok(errors[1]!.message.includes(`"T${'y'.repeat(99)}"…`), errors[1]!.message.slice(0, 200));
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a BAD_ACK NACK is reported as CCS refusing our ACK, with its text; another NACK for no pending message names its code', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  const errors: CcsError[] = [];
  client.on('error', (e) => {
    errors.push(e as CcsError);
  });
  try {
    await client.connect();
    const conn = server.conns[0]!;
    conn.send({ from: 'dev', message_id: 'up-7', message_type: 'nack', error: 'BAD_ACK', error_description: 'No upstream message with message_id "up-7" is pending' });
    conn.send({ from: 'dev', message_id: 'gone-1', message_type: 'nack', error: 'DEVICE_UNREGISTERED' });
    for (let i = 0; i < 100 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(errors.length, 2);
    assert.ok(errors.every((e) => e.code === 'CCS_ERR_PROTOCOL'));
    // It read "NACK for unknown message_id "up-7" on c1", as any stray NACK: neither the code nor CCS's text.
    assert.match(errors[0]!.message, /^CCS refused our ACK of message_id "up-7" on c\d+ \(BAD_ACK\): "No upstream message with message_id \\"up-7\\" is pending"$/);
    assert.match(errors[1]!.message, /^NACK \(DEVICE_UNREGISTERED\) for unknown message_id "gone-1" on c\d+$/);
    assert.is(client.stats().pending, 0);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a NACK for no pending message with a code CCS does not document names what it carried, not INTERNAL_SERVER_ERROR', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  const errors: CcsError[] = [];
  client.on('error', (e) => {
    errors.push(e as CcsError);
  });
  try {
    await client.connect();
    const conn = server.conns[0]!;
    conn.send({ from: 'dev', message_id: 'gone-2', message_type: 'nack', error: 'NEW_CODE' });
    conn.send({ from: 'dev', message_id: 'gone-3', message_type: 'nack' });
    conn.send({ from: 'dev', message_id: 'gone-4', message_type: 'nack', error: 'X'.repeat(5000) });
    for (let i = 0; i < 100 && errors.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(errors.length, 3);
    // They read "NACK (INTERNAL_SERVER_ERROR) for unknown message_id …": the class an unknown code is
    // handled as, named as if CCS had sent it.
    assert.match(errors[0]!.message, /^NACK \(unknown code "NEW_CODE"\) for unknown message_id "gone-2" on c\d+$/);
    assert.match(errors[1]!.message, /^NACK \(no error code\) for unknown message_id "gone-3" on c\d+$/);
    assert.match(errors[2]!.message, /^NACK \(unknown code "X{100}"…\) for unknown message_id "gone-4" on c\d+$/);
    assert.is(client.stats().pending, 0);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test.run();
