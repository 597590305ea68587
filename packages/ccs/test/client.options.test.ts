import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, ClosedError, CcsError, HandshakeError, NackError, TimeoutError, AbortError, QueueFullError } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

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

test('a send\'s own timeoutMs and signal are checked: send rejects and dispatch throws CCS_ERR_INVALID_OPTION, nothing is queued; null options are none', async () => {
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port: 1 });
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ timeoutMs: '5000' }, /timeoutMs must be a number of milliseconds, got string/],
    [{ timeoutMs: -1 }, /timeoutMs must be from 0/],
    [{ timeoutMs: Number.NaN }, /timeoutMs must be from 0/],
    [{ timeoutMs: 2 ** 31 }, /timeoutMs must be from 0 .* got 2147483648/],
    [{ signal: {} }, /signal must be an AbortSignal, got object/],
    [{ signal: null }, /signal must be an AbortSignal, got null/],
    [{ signal: 'abort' }, /signal must be an AbortSignal, got string/],
  ];
  const never = (): void => assert.unreachable('a refused dispatch never calls back');
  for (const [options, pattern] of bad) {
    const err = await client.send({ to: 't' }, options as never).then(() => undefined, (e: unknown) => e);
    assert.instance(err, CcsError, JSON.stringify(options));
    assert.is((err as CcsError).code, 'CCS_ERR_INVALID_OPTION');
    assert.match((err as Error).message, pattern);
    assert.match((err as Error).message, /^send option/);
    let thrown: unknown;
    try {
      client.dispatch({ to: 't' }, never, options as never);
    } catch (e) {
      thrown = e;
    }
    assert.instance(thrown, TypeError, JSON.stringify(options));
    assert.is((thrown as { code?: string }).code, 'CCS_ERR_INVALID_OPTION');
    assert.match((thrown as Error).message, pattern);
    assert.match((thrown as Error).message, /^dispatch option/);
  }
  assert.is(client.stats().queued, 0, 'nothing refused was queued');
  // What is fine is taken: 0 is no timeout, the longest timer is allowed, a real signal, and null options.
  const ac = new AbortController();
  const taken = [
    client.send({ to: 't' }, { timeoutMs: 0 }),
    client.send({ to: 't' }, { timeoutMs: 2 ** 31 - 1, signal: ac.signal }),
    client.send({ to: 't' }, null as never),
  ].map((p) => p.catch((e: unknown) => e));
  assert.is(client.stats().queued, 3);
  await client.close();
  for (const e of await Promise.all(taken)) assert.instance(e, ClosedError);
  client.destroy();
});

test('connect() and waitForCapacity() check their signal before anything starts: CCS_ERR_INVALID_OPTION, no connection attempted; null options are none', async () => {
  let attempts = 0;
  const net = await import('node:net');
  const server = net.createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = new CcsClient({ senderId: '1', apiKey: 'k', host: '127.0.0.1', port, maxQueued: 1 });
  try {
    for (const signal of [{}, null, 'abort']) {
      const c = await client.connect({ signal } as never).then(() => undefined, (e: unknown) => e);
      assert.instance(c, CcsError, String(signal));
      assert.is((c as CcsError).code, 'CCS_ERR_INVALID_OPTION');
      assert.match((c as Error).message, /^connect option signal must be an AbortSignal/);
      const w = await client.waitForCapacity({ signal } as never).then(() => undefined, (e: unknown) => e);
      assert.instance(w, CcsError);
      assert.is((w as CcsError).code, 'CCS_ERR_INVALID_OPTION');
      assert.match((w as Error).message, /^waitForCapacity option signal must be an AbortSignal/);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.is(attempts, 0, 'no connection was opened for a refused connect()');
    // null options are no options.
    assert.is(await client.waitForCapacity(null as never), undefined);
  } finally {
    await client.close({ timeoutMs: 100 });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});


test('close() checks its timeoutMs before anything closes: CCS_ERR_INVALID_OPTION for -1, NaN, a string or past the timer limit; null options are none', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  try {
    await client.connect();
    for (const timeoutMs of [-1, Number.NaN, '5000', 2 ** 31]) {
      const e = await client.close({ timeoutMs } as never).then(() => undefined, (err: unknown) => err);
      assert.instance(e, CcsError, String(timeoutMs));
      assert.is((e as CcsError).code, 'CCS_ERR_INVALID_OPTION');
      assert.match((e as Error).message, /^close option timeoutMs must be a number from 0 to 2147483647 ms/);
    }
    // Nothing closed: the client still sends.
    assert.ok((await client.send({ to: 'tok' })).messageId);
    const closing = client.close(null as never);
    assert.instance(closing, Promise);
    await closing;
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('onUpstream() refuses what is not a function with a TypeError, and null removes the handler as undefined does', async () => {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server));
  const ran: string[] = [];
  const heard: string[] = [];
  client.on('upstream', (m) => heard.push(m.messageId));
  try {
    assert.throws(() => client.onUpstream('handler' as unknown as () => void), (e: unknown) => e instanceof TypeError && /needs a function/.test(e.message));
    client.onUpstream((m) => {
      ran.push(m.messageId);
    });
    client.onUpstream(null as unknown as undefined);
    await client.connect();
    const c = server.latest();
    c.upstream('dev-1', 'u1');
    await server.until(() => c.acks.length === 1);
    assert.equal(ran, []);
    assert.equal(heard, ['u1']);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});


test('the constructor refuses a resource or domain XML cannot carry, naming the option (it once failed at connect() as a closed connection)', () => {
  const base = { senderId: '1', apiKey: 'k' };
  assert.throws(() => new CcsClient({ ...base, resource: 'app\u0001' }), (e: unknown) => e instanceof TypeError && e.message === 'option resource contains U+0001, which XML 1.0 cannot carry');
  assert.throws(() => new CcsClient({ ...base, domain: 'gcm\uFFFF.example' }), (e: unknown) => e instanceof TypeError && /^option domain contains U\+FFFF/.test(e.message));
  new CcsClient({ ...base, resource: 'app-1 <ü>', domain: 'gcm.googleapis.com' }).destroy();
});


test('a signal-like object whose addEventListener throws: send rejects and dispatch calls back with CCS_ERR_INVALID_OPTION, nothing is sent, close() does not wait for it', async () => {
  const server = await startScriptedServer({ autoAck: false });
  const client = new CcsClient(clientOptions(server));
  const signal = {
    aborted: false,
    reason: undefined,
    addEventListener: () => {
      throw new Error('not really a signal');
    },
    removeEventListener: () => {},
  } as unknown as AbortSignal;
  try {
    await client.connect();
    const err = await client.send({ to: 'tok' }, { signal }).then(() => undefined, (e: unknown) => e);
    assert.instance(err, CcsError);
    assert.is((err as CcsError).code, 'CCS_ERR_INVALID_OPTION');
    assert.is(((err as CcsError).cause as Error).message, 'not really a signal');
    const code = await new Promise<string | undefined>((resolve) => {
      assert.ok(client.dispatch({ to: 'tok' }, (e) => resolve(e?.code), { signal }));
    });
    assert.is(code, 'CCS_ERR_INVALID_OPTION');
    assert.is(client.stats().pending + client.stats().queued, 0);
    await new Promise((r) => setTimeout(r, 20));
    assert.is(server.received.length, 0);
  } finally {
    const t0 = Date.now();
    await client.close({ timeoutMs: 3000 });
    assert.ok(Date.now() - t0 < 1000, `close() waited ${Date.now() - t0} ms`);
    await server.stop();
  }
});

test.run();
