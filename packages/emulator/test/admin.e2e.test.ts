// A CLI-started emulator (`ccs-emulator --admin-port 0`, its own process) driven entirely over
// HTTP and SSE from this one: inject, faults, drain, ledger, devices, reset. A CCS client connects
// over TLS only to see the effects, as an app server under test would.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestClient } from './helpers/client.js';
import { SseStream, api } from './helpers/http.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('a test in another process drives a CLI-started emulator over HTTP and SSE', async () => {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--admin-port', '0', '--devices', '1', '--seed', '4'], {
    env: { ...process.env, CCS_API_KEY: 'e2e-admin-key' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const info = JSON.parse(String((await lines.next()).value)) as { port: number; caFile: string; adminUrl: string; devices: Record<string, string[]> };
    const base = info.adminUrl;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const events = await SseStream.open(`${base}/api/events?types=bind,upstream-ack,nack,drain,reset,faults`);
    await events.waitFor((e) => e.event === 'stats');

    const ca = readFileSync(info.caFile, 'utf8');
    const c = await TestClient.connect({ port: info.port, ca, apiKey: 'e2e-admin-key', autoAck: true });
    await events.waitFor((e) => e.data.type === 'bind');
    const [conn] = (await api(base, 'GET', '/api/connections')).body as Array<{ id: number; state: string }>;
    assert.is(conn?.state, 'ready');

    // Inject: the client receives it and ACKs it; the ledger says so.
    const device = info.devices['1234567890']![0]!;
    assert.is((await api(base, 'POST', '/api/upstream', { from: device, data: { n: 1 } })).status, 201);
    const up = await c.waitGcm((m) => m.kind === 'upstream');
    assert.ok(up.kind === 'upstream' && up.from === device);
    await events.waitFor((e) => e.data.type === 'upstream-ack');
    assert.is((await api(base, 'GET', '/api/ledger')).body.upstreamAcked, 1);

    // Faults: every downstream message NACKed, then cleared.
    await api(base, 'PUT', '/api/faults', { faults: { internalErrorRate: 1 } });
    await events.waitFor((e) => e.data.type === 'faults');
    const refused = await c.request({ to: device, message_id: 'f-1' });
    assert.ok(refused.kind === 'nack' && refused.error.code === 'INTERNAL_SERVER_ERROR');
    await events.waitFor((e) => e.data.type === 'nack');
    await api(base, 'PUT', '/api/faults', { faults: {} });
    assert.is((await c.request({ to: device, message_id: 'ok-1', data: { x: 1 } })).kind, 'ack');
    const ledger = (await api(base, 'GET', '/api/ledger')).body;
    assert.equal([ledger.downstreamDelivered, ledger.nacked], [1, { INTERNAL_SERVER_ERROR: 1 }]);
    assert.equal((await api(base, 'GET', `/api/ledger?to=${encodeURIComponent(device)}`)).body.deliveries, [{ message_id: 'ok-1', data: { x: 1 } }]);

    // Devices: one switched to unregistered earns DEVICE_UNREGISTERED.
    await api(base, 'POST', '/api/devices', { token: device, state: 'unregistered' });
    const gone = await c.request({ to: device, message_id: 'gone-1' });
    assert.ok(gone.kind === 'nack' && gone.error.code === 'DEVICE_UNREGISTERED');

    // Reset: back to the start state (the device valid again, an empty ledger).
    assert.equal((await api(base, 'POST', '/api/reset')).body, { reset: true });
    await events.waitFor((e) => e.data.type === 'reset');
    assert.is((await api(base, 'GET', '/api/ledger')).body.downstreamDelivered, 0);
    assert.is((await api(base, 'GET', '/api/devices')).body[0].state, 'valid');
    assert.is((await c.request({ to: device, message_id: 'back-1' })).kind, 'ack');

    // Drain: CONNECTION_DRAINING, then the emulator closes the connection.
    assert.equal((await api(base, 'POST', '/api/drain', {})).body, { draining: 1 });
    await events.waitFor((e) => e.data.type === 'drain');
    await c.closed;
    const stats = await events.waitFor((e) => e.event === 'stats' && e.data.connections.length === 0 && e.data.totals.downstreamDelivered === 1, 5000);
    assert.is(stats.data.totals.downstreamDelivered, 1);
    events.close();

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.is(await exited, 0);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.run();
