import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, HandshakeError } from '../src/index.js';
import { API_KEY, clientOptions, startScriptedServer } from './helpers/scripted-server.js';

test('connects over TLS, authenticates with SASL PLAIN, binds, and resolves connect()', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  const online: string[] = [];
  client.on('online', (e: { connectionId: string }) => online.push(e.connectionId));
  try {
    await client.connect();
    assert.is(online.length, 1);
    assert.is(client.stats().connections.online, 1);
    const r = await client.send({ to: 'tok-1', data: { a: 1 } });
    assert.type(r.messageId, 'string');
    assert.is(server.received[0]?.msg['to'], 'tok-1');
    assert.is(server.received[0]?.msg['message_id'], r.messageId);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('sends the session IQ when the server offers a mandatory session', async () => {
  const server = await startScriptedServer({ session: true });
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    assert.ok(server.conns[0]?.online);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('rejects connect() with HandshakeError step auth / not-authorized on a wrong key, without the key in the message', async () => {
  const server = await startScriptedServer();
  const secret = 'wrong-secret-key-123';
  const client = new CcsClient(clientOptions(server, { apiKey: secret }));
  try {
    const err = await client.connect().then(() => undefined, (e: unknown) => e);
    assert.instance(err, HandshakeError);
    const h = err as HandshakeError;
    assert.is(h.step, 'auth');
    assert.is(h.code, 'CCS_ERR_AUTH');
    assert.is(h.condition, 'not-authorized');
    assert.is(h.retryable, false);
    assert.not.ok(h.message.includes(secret));
    assert.not.ok(h.message.includes(API_KEY));
    assert.not.ok(JSON.stringify(h).includes(secret));
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('rejects connect() with step tls when the certificate is not trusted', async () => {
  const server = await startScriptedServer();
  const opts = clientOptions(server);
  const client = new CcsClient({ ...opts, tls: { servername: 'localhost' } });
  try {
    const err = (await client.connect().catch((e: unknown) => e)) as HandshakeError;
    assert.instance(err, HandshakeError);
    assert.is(err.step, 'tls');
    assert.is(err.code, 'CCS_ERR_TLS');
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('accepts a self-signed certificate with rejectUnauthorized: false', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient({ ...clientOptions(server), tls: { rejectUnauthorized: false } });
  try {
    await client.connect();
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test('rejects with step tls when nothing listens', async () => {
  const server = await startScriptedServer();
  const port = server.port;
  await server.stop();
  const client = new CcsClient({ ...clientOptions(server), port });
  const err = (await client.connect().catch((e: unknown) => e)) as HandshakeError;
  assert.is(err.step, 'tls');
  client.destroy();
});

test('rejects with step bind when binding fails', async () => {
  const server = await startScriptedServer({ bindError: true });
  const client = new CcsClient(clientOptions(server));
  try {
    const err = (await client.connect().catch((e: unknown) => e)) as HandshakeError;
    assert.is(err.step, 'bind');
    assert.is(err.code, 'CCS_ERR_BIND');
    assert.is(err.condition, 'not-allowed');
  } finally {
    client.destroy();
    await server.stop();
  }
});

for (const [stallAt, step] of [['header', 'stream'], ['features', 'stream'], ['auth', 'auth'], ['bind', 'bind']] as const) {
  test(`times out a stalled ${stallAt} step with CCS_ERR_HANDSHAKE_TIMEOUT and step ${step}`, async () => {
    const server = await startScriptedServer({ stallAt });
    const client = new CcsClient(clientOptions(server, { handshakeTimeoutMs: 150 }));
    try {
      const err = (await client.connect().catch((e: unknown) => e)) as HandshakeError;
      assert.instance(err, HandshakeError);
      assert.is(err.code, 'CCS_ERR_HANDSHAKE_TIMEOUT');
      assert.is(err.timedOut, true);
      assert.is(err.step, step);
    } finally {
      client.destroy();
      await server.stop();
    }
  });
}

test('does not show the API key when the client is inspected', async () => {
  const { inspect } = await import('node:util');
  const client = new CcsClient({ senderId: '1', apiKey: 'sekrit-key' });
  assert.not.ok(inspect(client, { depth: 5 }).includes('sekrit'));
});

test.run();
