import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, ClosedError, CcsError, HandshakeError, NackError, TimeoutError, AbortError, QueueFullError } from '../src/index.js';

test('the constructor refuses missing credentials and nonsense limits', () => {
  assert.throws(() => new CcsClient({ senderId: '', apiKey: 'k' }), /senderId/);
  assert.throws(() => new CcsClient({ senderId: '1', apiKey: '' }), /apiKey/);
  assert.throws(() => new CcsClient({ senderId: '1', apiKey: 'k', maxPending: 0 }), /maxPending/);
  assert.throws(() => new CcsClient({ senderId: '1', apiKey: 'k', connections: Number.NaN }), /connections/);
});

test('every error class carries its stable code', () => {
  assert.is(new ClosedError().code, 'CCS_ERR_CLOSED');
  assert.is(new TimeoutError('m', 5, false).code, 'CCS_ERR_TIMEOUT');
  assert.is(new AbortError('m', true).code, 'CCS_ERR_ABORTED');
  assert.is(new QueueFullError(3).code, 'CCS_ERR_QUEUE_FULL');
  const h = new HandshakeError('bind', 'x', { timedOut: true });
  assert.is(h.code, 'CCS_ERR_HANDSHAKE_TIMEOUT');
  assert.is(new HandshakeError('session', 'x').code, 'CCS_ERR_SESSION');
  const n = new NackError({ nackCode: 'BAD_REGISTRATION', reason: undefined, description: 'd', retryClass: 'never', message: { to: 't', message_id: 'm' }, retries: 0, stanzaError: false, raw: 'BAD_REGISTRATION' });
  assert.instance(n, CcsError);
  assert.ok(n.message.includes('BAD_REGISTRATION'));
});

test('close() before connect() settles queued sends with ClosedError and resolves', async () => {
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port: 1 });
  const p = client.send({ to: 't' }).catch((e: unknown) => e);
  await client.close();
  assert.instance(await p, ClosedError);
  await client.close();
  client.destroy();
});

test.run();
