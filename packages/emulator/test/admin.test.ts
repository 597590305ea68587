// The admin HTTP API against an in-process emulator (routes, validation, limits, token, SSE).
// test/admin.e2e.test.ts drives a CLI-started emulator from another process.
import { request } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, EmulatorError, type CcsEmulatorOptions } from '../src/index.js';
import { tokenMatches, isLoopback } from '../src/admin-http.js';
import { TestClient, until } from './helpers/client.js';
import { SseStream, api } from './helpers/http.js';

async function withAdmin(fn: (emu: CcsEmulator, base: string) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 5, adminPort: 0, devices: 2, ...options });
  await emu.start();
  try {
    await fn(emu, emu.adminUrl);
  } finally {
    await emu.stop();
  }
}

test('GET /api/status, /api/connections, /api/devices and /api/ledger report what the emulator\'s methods report', () =>
  withAdmin(async (emu, base) => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    assert.is((await c.request({ to: emu.deviceTokens('1234567890')[0]!, message_id: 'm-1', data: { a: 1 } })).kind, 'ack');
    const status = await api(base, 'GET', '/api/status');
    assert.is(status.status, 200);
    assert.equal(status.body.senders, ['1234567890']);
    assert.is(status.body.connections.length, 1);
    assert.is(status.body.connections[0].state, 'ready');
    assert.is(status.body.totals.downstreamDelivered, 1);
    assert.equal((await api(base, 'GET', '/api/connections')).body, JSON.parse(JSON.stringify(emu.connections())));
    const devices = await api(base, 'GET', '/api/devices');
    assert.is(devices.body.length, 2);
    assert.is(devices.body[0].delivered, 1);
    assert.equal((await api(base, 'GET', '/api/ledger')).body, emu.ledger());
    const to = emu.deviceTokens('1234567890')[0]!;
    const per = await api(base, 'GET', `/api/ledger?to=${encodeURIComponent(to)}`);
    assert.equal(per.body, { to, deliveries: [{ message_id: 'm-1', data: { a: 1 } }] });
    await c.close();
  }));

test('POST /api/upstream injects from a device and the client receives it; POST /api/devices adds and changes devices', () =>
  withAdmin(async (emu, base) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, autoAck: true });
    const r = await api(base, 'POST', '/api/upstream', { from: 'dev-x', data: { hi: 'there' }, message_id: 'admin-up-1' });
    assert.is(r.status, 201);
    assert.equal(r.body, { message_id: 'admin-up-1', senderId: '1234567890' });
    const m = await c.waitGcm((x) => x.kind === 'upstream');
    assert.ok(m.kind === 'upstream' && m.from === 'dev-x' && m.messageId === 'admin-up-1');
    await until(() => emu.ledger().upstreamAcked === 1);
    const added = await api(base, 'POST', '/api/devices', { token: 'phone-1', senderId: '1234567890' });
    assert.is(added.status, 201);
    assert.is(added.body.state, 'valid');
    const changed = await api(base, 'POST', '/api/devices', { token: 'phone-1', state: 'unregistered' });
    assert.is(changed.status, 200);
    assert.equal([changed.body.state, changed.body.senderId], ['unregistered', '1234567890']);
    assert.is((await c.request({ to: 'phone-1', message_id: 'to-phone' })).kind, 'nack');
    await c.close();
  }));

test('PUT /api/faults switches a fault globally or on one connection; POST /api/drain drains; POST /api/reset restores the start', () =>
  withAdmin(async (emu, base) => {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const [idA, idB] = emu.connections().map((x) => x.id) as [number, number];
    const put = await api(base, 'PUT', '/api/faults', { faults: { serviceUnavailableRate: 1 }, connectionId: idA });
    assert.equal(put.body, { connectionId: idA, faults: { serviceUnavailableRate: 1 } });
    const nack = await a.request({ to: 'tok', message_id: 'f-1' });
    assert.ok(nack.kind === 'nack' && nack.error.code === 'SERVICE_UNAVAILABLE');
    assert.is((await b.request({ to: 'tok', message_id: 'f-2' })).kind, 'ack');
    assert.equal((await api(base, 'GET', '/api/faults')).body, { faults: {} });
    assert.equal((await api(base, 'PUT', '/api/faults', { faults: { ackDelayMs: 5 } })).body, { faults: { ackDelayMs: 5 } });
    const drained = await api(base, 'POST', '/api/drain', { connectionId: idB });
    assert.equal(drained.body, { draining: 1 });
    assert.is(await b.closed, undefined);
    await api(base, 'POST', '/api/devices', { token: 'extra' });
    const reset = await api(base, 'POST', '/api/reset');
    assert.equal(reset.body, { reset: true });
    assert.is(emu.ledger().downstreamDelivered, 0);
    assert.equal(emu.ledger().nacked, {});
    assert.equal(emu.faults(), {});
    assert.equal(emu.faults({ connectionId: idA }), {});
    assert.is(emu.devices().length, 2, 'the devices of the start, and only those');
    assert.is((await a.request({ to: 'tok', message_id: 'f-3' })).kind, 'ack');
    await a.close();
  }));

test('bad requests get a 4xx naming the field; unknown routes 404; wrong methods 405; big bodies 413; non-JSON 415', () =>
  withAdmin(async (_emu, base) => {
    const cases: Array<[string, string, unknown, number, string | undefined]> = [
      ['PUT', '/api/faults', { faults: { cutProbability: 2 } }, 400, 'faults.cutProbability'],
      ['PUT', '/api/faults', { faults: { bogus: 1 } }, 400, 'faults.bogus'],
      ['PUT', '/api/faults', { faults: 'x' }, 400, 'faults'],
      ['PUT', '/api/faults', { faults: {}, connectionId: 999 }, 404, 'connectionId'],
      ['PUT', '/api/faults', { faults: {}, connectionId: 'one' }, 400, 'connectionId'],
      ['POST', '/api/upstream', { senderId: 'nobody' }, 404, 'senderId'],
      ['POST', '/api/upstream', { data: [1] }, 400, 'data'],
      ['POST', '/api/upstream', { message_id: 7 }, 400, 'message_id'],
      ['POST', '/api/devices', { state: 'valid' }, 400, 'token'],
      ['POST', '/api/devices', { token: 't', state: 'asleep' }, 400, 'state'],
      ['POST', '/api/devices', { token: 't', maxPerSecond: -1 }, 400, 'maxPerSecond'],
      ['POST', '/api/drain', { connectionId: 0 }, 400, 'connectionId'],
      ['GET', '/api/ledger?to=', undefined, 400, 'to'],
      ['GET', '/api/devices?senderId=nobody', undefined, 404, 'senderId'],
      ['GET', '/api/events?types=', undefined, 400, 'types'],
    ];
    for (const [method, path, body, status, field] of cases) {
      const r = await api(base, method, path, body);
      assert.is(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.is(r.body.error.field, field, `${method} ${path}`);
      assert.type(r.body.error.message, 'string');
    }
    assert.is((await api(base, 'GET', '/api/nothing')).status, 404);
    assert.is((await api(base, 'GET', '/api/nothing')).body.error.code, 'NOT_FOUND');
    const wrong = await api(base, 'DELETE', '/api/status');
    assert.is(wrong.status, 405);
    assert.is(wrong.headers.get('allow'), 'GET');
    assert.is((await api(base, 'POST', '/api/upstream', '{"data":')).body.error.code, 'BAD_JSON');
    assert.is((await api(base, 'POST', '/api/upstream', '[1]')).status, 400);
    const big = await api(base, 'POST', '/api/upstream', { data: { x: 'y'.repeat(70 * 1024) } });
    assert.is(big.status, 413);
    assert.is((await api(base, 'POST', '/api/reset', 'x', { 'content-type': 'text/plain' })).status, 415);
  }));

test('a body past the limit sent without content-length is cut off at the limit (413), not buffered', () =>
  withAdmin(async (emu, base) => {
    const url = new URL('/api/upstream', base);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 8; i++) req.write(chunk);
      req.end();
    });
    assert.is(status, 413);
    assert.is(emu.ledger().upstreamInjected, 0);
  }));

test('a Host header that is not loopback is refused (DNS rebinding) when no token is set', () =>
  withAdmin(async (_emu, base) => {
    // fetch() will not send another Host: node:http will.
    const url = new URL('/api/status', base);
    const get = (host: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    const evil = await get('evil.example:80');
    assert.is(evil.status, 403);
    assert.match(evil.body, /FORBIDDEN_HOST/);
    assert.is((await get(`localhost:${url.port}`)).status, 200);
    assert.is((await get(`[::1]:${url.port}`)).status, 200);
  }));

test('with a token every route needs it (header or ?token=); a non-loopback admin host without one is refused', async () => {
  assert.throws(() => new CcsEmulator({ adminPort: 0, adminHost: '0.0.0.0' }), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG');
  assert.throws(() => new CcsEmulator({ adminPort: 0, adminToken: 'short' }), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_CONFIG');
  await withAdmin(async (_emu, base) => {
    const none = await api(base, 'GET', '/api/status');
    assert.is(none.status, 401);
    assert.not.match(JSON.stringify(none.body), /s3cret-token/);
    assert.is((await api(base, 'GET', '/api/status', undefined, { authorization: 'Bearer wrong-token-x' })).status, 401);
    assert.is((await api(base, 'GET', '/api/status', undefined, { authorization: 'Bearer s3cret-token-1' })).status, 200);
    assert.is((await api(base, 'GET', '/api/status?token=s3cret-token-1')).status, 200);
    assert.is((await api(base, 'GET', '/?token=s3cret-token-1')).status, 200);
    assert.is((await api(base, 'GET', '/')).status, 401);
  }, { adminToken: 's3cret-token-1' });
});

test('tokenMatches compares digests (any length, no early exit on the first differing byte)', () => {
  assert.ok(tokenMatches('abcdefgh', 'abcdefgh'));
  assert.not.ok(tokenMatches('abcdefgX', 'abcdefgh'));
  assert.not.ok(tokenMatches('abc', 'abcdefgh'));
  assert.not.ok(tokenMatches(undefined, 'abcdefgh'));
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && isLoopback('127.1.2.3'));
  assert.not.ok(isLoopback('0.0.0.0') || isLoopback('10.0.0.1') || isLoopback('example.com'));
});

test('GET /api/events streams events filtered by type and connection, plus a stats snapshot each second', () =>
  withAdmin(async (emu, base) => {
    const all = await SseStream.open(`${base}/api/events`);
    const nacks = await SseStream.open(`${base}/api/events?types=nack,drain`);
    const first = await all.waitFor((e) => e.event === 'stats');
    assert.is(first.data.connections.length, 0);
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const id = emu.connections()[0]!.id;
    const onConn = await SseStream.open(`${base}/api/events?connectionId=${id}`);
    await all.waitFor((e) => e.data.type === 'bind');
    await c.request({ to: 'tok', message_id: 'ok-1' });
    await c.request({ to: 'bad-x', message_id: 'no-1' });
    const n = await nacks.waitFor((e) => e.data.type === 'nack');
    assert.equal([n.data.messageId, n.data.code, n.data.connectionId], ['no-1', 'BAD_REGISTRATION', id]);
    await onConn.waitFor((e) => e.data.type === 'ack' && e.data.messageId === 'ok-1');
    const stats = await all.waitFor((e) => e.event === 'stats' && e.data.totals.downstreamDelivered === 1, 5000);
    assert.is(stats.data.connections.length, 1);
    assert.ok(nacks.events.filter((e) => e.event === 'message').every((e) => e.data.type === 'nack' || e.data.type === 'drain'));
    assert.ok(onConn.events.filter((e) => e.event === 'message').every((e) => e.data.connectionId === id));
    all.close();
    nacks.close();
    onConn.close();
    await until(() => emu.listenerCount('event') === 0, 3000, 'the stream to stop listening once nobody watches');
    await c.close();
  }));

test.run();
