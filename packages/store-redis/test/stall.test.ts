// A Redis that stops answering without closing its connections (SIGSTOP: as a stalled server, a
// long CLIENT PAUSE or a partition without a reset looks to a client): every wait is bounded and
// ends in a typed error, and close() returns. Before, the store's close() — and the client's
// close() with it — waited for Redis to answer, for good.
import { spawn } from 'node:child_process';
import * as assert from 'uvu/assert';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { CcsClient, StoreError as CcsStoreError, TimeoutError } from '@ccs-xmpp/ccs';
import { redisStore } from '../src/index.js';
import { resolveStoreOptions } from '../src/options.js';
import { redisSuite, uniqueSender, until } from './helpers/redis-suite.js';
import { record, TestHost } from './helpers/records.js';

const t = redisSuite('the Redis store when Redis stalls');

t.test('Redis stopped mid-run: a send with a timeout rejects with CCS_ERR_TIMEOUT, a claim with CCS_ERR_STORE after storeTimeoutMs, and close() returns within its bound', async (server) => {
  const sender = uniqueSender();
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId: sender, apiKey: 'k' }], upstreamResendMs: 60_000, seed: 5 });
  await emu.start();
  const store = redisStore({ redis: server.url, senderId: sender, reconnectMaxMs: 100 });
  await store.ready();
  const client = new CcsClient({
    senderId: sender, apiKey: 'k', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, store, storeTimeoutMs: 300,
    onUpstream: () => {},
  });
  const errors: Error[] = [];
  client.on('error', (e: Error) => errors.push(e));
  const pid = server.pid as number;
  let stopped = false;
  try {
    await client.connect();
    assert.ok((await client.send({ to: 'tok-a' })).messageId);
    process.kill(pid, 'SIGSTOP');
    stopped = true;
    const sent = await client.send({ to: 'tok-b' }, { timeoutMs: 300 }).then(() => undefined, (e: unknown) => e);
    assert.instance(sent, TimeoutError);
    assert.is((sent as TimeoutError).written, false, 'never written: it was not recorded');
    emu.injectUpstream(sender, { from: 'dev-1', message_id: 'u-1', data: { a: '1' } });
    await until(() => errors.length > 0, 'the claim given up', 5000);
    assert.instance(errors[0], CcsStoreError);
    assert.is((errors[0] as CcsStoreError).operation, 'claim');
    assert.is(emu.ledger().upstreamAcked, 0);
    const started = Date.now();
    const closed = await Promise.race([client.close({ timeoutMs: 300 }).then(() => true, () => true), new Promise<false>((r) => setTimeout(r, 6000, false))]);
    assert.ok(closed, 'close() returned while Redis was stopped');
    assert.ok(Date.now() - started < 4000, `close() took ${Date.now() - started} ms`);
    assert.not.ok(store.available);
  } finally {
    if (stopped) process.kill(pid, 'SIGCONT');
    client.destroy();
    await emu.stop();
  }
});

t.test('a client closed while Redis is stopped lets its process end by itself (a real child process), and one still open keeps it alive', async (server) => {
  const sender = uniqueSender();
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId: sender, apiKey: 'k' }], seed: 6 });
  await emu.start();
  const url = (spec: string): string => import.meta.resolve(spec);
  // The child connects, sends one message, says so, and closes its client when told to.
  const script = `
    import { CcsClient } from ${JSON.stringify(url('@ccs-xmpp/ccs'))};
    import { redisStore } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    const store = redisStore({ redis: ${JSON.stringify(server.url)}, senderId: ${JSON.stringify(sender)}, reconnectMaxMs: 100 });
    await store.ready();
    const client = new CcsClient({ senderId: ${JSON.stringify(sender)}, apiKey: 'k', host: '127.0.0.1', port: ${emu.port}, tls: { ca: ${JSON.stringify(emu.ca)}, servername: 'localhost' }, store });
    client.on('error', () => {});
    await client.connect();
    await client.send({ to: 'tok' });
    process.stdout.write('sent\\n');
    process.stdin.once('data', () => { process.stdin.destroy(); void client.close({ timeoutMs: 300 }); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pid = server.pid as number;
  let stopped = false;
  try {
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('sent')) resolve(); }));
    process.kill(pid, 'SIGSTOP');
    stopped = true;
    const early = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(r, 500, 'alive'))]);
    assert.is(early, 'alive', 'a client still open keeps its process alive');
    child.stdin.write('close\n');
    const code = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(r, 6000, 'alive'))]);
    assert.is(code, 0, 'the process ended by itself while Redis was still stopped');
  } finally {
    if (stopped) process.kill(pid, 'SIGCONT');
    child.kill('SIGKILL');
    await emu.stop();
  }
});

t.test('a stall past stallTimeoutMs raises down (new sends refused at once with CCS_ERR_STORE), and up once Redis answers again (sends go through)', async (server) => {
  const sender = uniqueSender();
  const emu = new CcsEmulator({ port: 0, senders: [{ senderId: sender, apiKey: 'k' }], seed: 7 });
  await emu.start();
  const store = redisStore({ redis: server.url, senderId: sender, reconnectMaxMs: 100, leaseTtlMs: 1000, stallTimeoutMs: 300 });
  await store.ready();
  const events: string[] = [];
  store.on('down', (err) => events.push(`down ${err.code} ${String(err.unavailable)}`));
  store.on('up', () => events.push('up'));
  const client = new CcsClient({ senderId: sender, apiKey: 'k', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, store });
  client.on('error', () => {});
  const pid = server.pid as number;
  let stopped = false;
  try {
    await client.connect();
    assert.ok((await client.send({ to: 'tok-a' })).messageId);
    process.kill(pid, 'SIGSTOP');
    stopped = true;
    const at = Date.now();
    await until(() => events.length > 0, 'down after the stall', 5000);
    assert.equal(events, ['down CCS_ERR_STORE true']);
    assert.ok(Date.now() - at < 2500, `down ${Date.now() - at} ms into the stall`);
    assert.not.ok(store.available);
    const t0 = Date.now();
    const refused = await client.send({ to: 'tok-b' }, { timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e);
    assert.instance(refused, CcsStoreError, 'refused as while Redis is down, not left to time out');
    assert.ok(Date.now() - t0 < 1000, `refused after ${Date.now() - t0} ms`);
    process.kill(pid, 'SIGCONT');
    stopped = false;
    await until(() => events.includes('up'), 'up once Redis answers', 5000);
    assert.equal(events, ['down CCS_ERR_STORE true', 'up']);
    assert.ok(store.available);
    assert.ok((await client.send({ to: 'tok-c' }, { timeoutMs: 3000 })).messageId);
    await client.close({ timeoutMs: 1000 });
  } finally {
    if (stopped) process.kill(pid, 'SIGCONT');
    client.destroy();
    await emu.stop();
  }
});

t.test('closeTimeoutMs bounds the whole close() while Redis is stopped; out-of-range values are refused naming the option', async (server) => {
  assert.throws(() => redisStore({ redis: server.url, senderId: '1', closeTimeoutMs: -1 }), (e: unknown) => e instanceof RangeError && /closeTimeoutMs/.test((e as Error).message));
  assert.throws(() => redisStore({ redis: server.url, senderId: '1', closeTimeoutMs: 2 ** 31 }), (e: unknown) => e instanceof RangeError && /closeTimeoutMs/.test((e as Error).message));
  assert.throws(() => redisStore({ redis: server.url, senderId: '1', closeTimeoutMs: '500' as unknown as number }), (e: unknown) => e instanceof TypeError && /closeTimeoutMs/.test((e as Error).message));
  assert.throws(() => redisStore({ redis: server.url, senderId: '1', stallTimeoutMs: 1.5 }), (e: unknown) => e instanceof TypeError && /stallTimeoutMs/.test((e as Error).message));
  const sender = uniqueSender();
  const store = redisStore({ redis: server.url, senderId: sender, reconnectMaxMs: 100, closeTimeoutMs: 400 });
  await store.ready();
  const pid = server.pid as number;
  process.kill(pid, 'SIGSTOP');
  try {
    const host = new TestHost();
    store.outbox.attach(host);
    store.outbox.append(record('m-1', 1));
    const started = Date.now();
    await store.close();
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 1500, `close() took ${took} ms with closeTimeoutMs 400`);
  } finally {
    process.kill(pid, 'SIGCONT');
    store.destroy();
  }
});

t.test('ready() against a Redis that never answers (SIGSTOP) rejects after readyTimeoutMs with CCS_ERR_STORE naming the host, never the password, and lets its process exit (a real child process)', async (server) => {
  const pid = server.pid as number;
  const url = server.url.replace('redis://', 'redis://user:s3cret-pw@');
  // The child takes no lease, needs no Redis answer: it prints what ready() rejected with and
  // must then end by itself (the store dropped its connections and its timer).
  const script = `
    import { inspect } from 'node:util';
    import { redisStore } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    const store = redisStore({ redis: ${JSON.stringify(url)}, senderId: ${JSON.stringify(uniqueSender())}, readyTimeoutMs: 400 });
    const started = Date.now();
    const err = await store.ready().then(() => undefined, (e) => e);
    process.stdout.write(JSON.stringify({ took: Date.now() - started, name: err?.name, code: err?.code, operation: err?.operation, unavailable: err?.unavailable, message: err?.message, available: store.available, shown: inspect(err, { depth: 8 }) }) + '\\n');
  `;
  process.kill(pid, 'SIGSTOP');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await Promise.race([new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c))), new Promise<'alive'>((r) => setTimeout(r, 8000, 'alive'))]);
    assert.is(code, 0, `the process ended by itself while Redis was still stopped (stdout: ${out})`);
    const r = JSON.parse(out) as Record<string, unknown>;
    assert.is(r['name'], 'StoreError');
    assert.is(r['code'], 'CCS_ERR_STORE');
    assert.is(r['operation'], 'connect');
    assert.is(r['unavailable'], true);
    assert.is(r['available'], false);
    assert.is(r['message'], `store connect failed: Redis at 127.0.0.1:${server.port} did not answer within 400 ms (readyTimeoutMs): stopped, paused, unreachable or still loading?`);
    assert.not.match(r['shown'] as string, /s3cret/);
    assert.ok((r['took'] as number) >= 390 && (r['took'] as number) < 2000, `ready() rejected after ${String(r['took'])} ms with readyTimeoutMs 400`);
  } finally {
    process.kill(pid, 'SIGCONT');
    child.kill('SIGKILL');
  }
});

t.test('readyTimeoutMs: 10 000 by default; a value that is not an integer from 1 to 2^31 - 1 is refused naming the option; a store that answers in time is ready', async (server) => {
  assert.is(resolveStoreOptions({ redis: server.url, senderId: '1' }).readyTimeoutMs, 10_000);
  for (const bad of [0, -1, 2 ** 31]) {
    assert.throws(() => redisStore({ redis: server.url, senderId: '1', readyTimeoutMs: bad }), (e: unknown) => e instanceof RangeError && /^readyTimeoutMs must be/.test((e as Error).message));
  }
  for (const bad of [1.5, Number.NaN, '1000']) {
    assert.throws(() => redisStore({ redis: server.url, senderId: '1', readyTimeoutMs: bad as number }), (e: unknown) => e instanceof TypeError && /^readyTimeoutMs must be an integer/.test((e as Error).message));
  }
  const store = redisStore({ redis: server.url, senderId: uniqueSender(), readyTimeoutMs: 5000 });
  await store.ready();
  assert.ok(store.available);
  await store.close();
});

// A real process: close() returning is not enough if the sockets it dropped still hold the event
// loop. ioredis's disconnect() half-closed them and waited 2 s for a Redis that never closes its side.
for (const how of ['close() past closeTimeoutMs', 'destroy()', 'destroy() before ready()'] as const) {
  t.test(`a store dropped by ${how} while Redis is stopped lets its process exit at once (a real child process)`, async (server) => {
    const sender = uniqueSender();
    const beforeReady = how === 'destroy() before ready()';
    const script = `
      import { redisStore } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      const store = redisStore({ redis: ${JSON.stringify(server.url)}, senderId: ${JSON.stringify(sender)}, reconnectMaxMs: 100, closeTimeoutMs: 200 });
      store.ready().catch(() => {});
      ${beforeReady ? '' : 'await store.ready();'}
      process.stdout.write('ready\\n');
      process.stdin.once('data', async () => {
        process.stdin.destroy();
        ${how === 'close() past closeTimeoutMs' ? 'await store.close();' : beforeReady ? 'await new Promise((r) => setTimeout(r, 300)); store.destroy();' : 'store.destroy();'}
        process.stdout.write('dropped\\n');
      });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    let droppedAt = 0;
    const seen = (word: string): Promise<void> => new Promise<void>((resolve) => {
      const check = (): void => {
        if (out.includes(word)) resolve();
      };
      child.stdout.on('data', check);
      check();
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (droppedAt === 0 && out.includes('dropped')) droppedAt = Date.now();
    });
    const pid = server.pid as number;
    let stopped = false;
    try {
      if (!beforeReady) await seen('ready');
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      if (beforeReady) await seen('ready');
      child.stdin.write('go\n');
      await seen('dropped');
      const code = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(r, 6000, 'alive'))]);
      const lingered = Date.now() - droppedAt;
      assert.is(code, 0, 'the process ended by itself while Redis was still stopped');
      assert.ok(lingered < 1000, `the process stayed up ${lingered} ms after the store was dropped`);
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      child.kill('SIGKILL');
    }
  });
}

t.run();
