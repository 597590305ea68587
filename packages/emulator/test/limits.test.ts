// What a server left running needs (issue 11 §5): a handshake deadline, a connection cap with a
// clear stream error, a bounded upstream queue when nobody reads it, and no TLS renegotiation.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator, EmulatorError } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

const HALF_HEADER = `<?xml version='1.0'?><stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:cl`;

/** A TLS socket that sends half a stream header and then nothing; collects what it receives. */
async function halfOpen(port: number, ca: string, tlsOptions: tls.ConnectionOptions = {}): Promise<{ socket: tls.TLSSocket; text: () => string; closed: Promise<void> }> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...tlsOptions });
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'secureConnect');
  socket.write(HALF_HEADER);
  return { socket, text: () => text, closed };
}

/** Resolves with `p`, or rejects after `ms` (a ref'd timer, so the test cannot end early). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test('closes a connection that has not finished SASL and bind within handshakeTimeoutMs with a connection-timeout stream error', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, handshakeTimeoutMs: 300 });
  await emu.start();
  try {
    const half = await halfOpen(emu.port, emu.ca);
    const authed = await TestClient.connect({ port: emu.port, ca: emu.ca, noBind: true });
    const bound = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await within(half.closed, 5000, 'half-open connection closed');
    assert.match(half.text(), /<connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    const err = await within(authed.closed, 5000, 'authenticated, unbound connection closed');
    assert.is(err?.condition, 'connection-timeout');
    // A bound connection is past its handshake: the deadline no longer applies.
    await sleep(500);
    assert.is(bound.isClosed, false);
    assert.is((await bound.request({ to: 'tok', message_id: 'after-deadline' })).kind, 'ack');
    assert.is(emu.connections().length, 1);
    await bound.close();
  } finally {
    await emu.stop();
  }
});

test('refuses a connection past maxConnections with a resource-constraint stream error, and takes new ones once there is room', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, maxConnections: 2, handshakeTimeoutMs: 0 });
  await emu.start();
  try {
    const a = await halfOpen(emu.port, emu.ca);
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await until(() => emu.connections().length === 2, 3000, 'two connections');
    const c = await halfOpen(emu.port, emu.ca);
    await within(c.closed, 5000, 'third connection refused');
    assert.match(c.text(), /<resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text [^>]*>connection limit \(2\) reached<\/text>/);
    assert.is(emu.connections().length, 2);
    a.socket.destroy();
    await until(() => emu.connections().length === 1, 3000, 'a slot freed');
    const d = await TestClient.connect({ port: emu.port, ca: emu.ca });
    assert.is((await d.request({ to: 'tok', message_id: 'fits' })).kind, 'ack');
    await d.close();
    await b.close();
  } finally {
    await emu.stop();
  }
});

test('refuses client-initiated TLS renegotiation', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1 });
  await emu.start();
  try {
    // TLS 1.3 has no renegotiation at all; a TLS 1.2 client can ask for one.
    const half = await halfOpen(emu.port, emu.ca, { maxVersion: 'TLSv1.2' });
    const outcome = await within(new Promise<string>((resolve) => {
      const started = half.socket.renegotiate({}, (err) => resolve(err ? 'refused' : 'renegotiated'));
      if (!started) resolve('refused');
      // The server answers with a no_renegotiation alert: an error on the client's socket.
      half.socket.once('error', (err: NodeJS.ErrnoException) => resolve(`refused ${err.code}`));
      half.closed.then(() => resolve('refused'), () => undefined);
    }), 5000, 'renegotiation answered');
    assert.match(outcome, /^refused/);
    half.socket.destroy();
    // The emulator's side of that connection is gone too (nothing left holding it).
    await until(() => emu.connections().length === 0, 3000, 'the connection closed');
  } finally {
    await emu.stop();
  }
});

test('injectUpstream throws EMU_ERR_UPSTREAM_FULL once maxQueuedUpstream messages wait for a connection', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 1, maxQueuedUpstream: 3 });
  await emu.start();
  try {
    for (let i = 0; i < 3; i++) emu.injectUpstream('1234567890');
    assert.throws(() => emu.injectUpstream('1234567890'), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_UPSTREAM_FULL');
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, autoAck: true });
    await until(() => emu.ledger().upstreamAcked === 3, 3000, 'the three delivered');
    emu.injectUpstream('1234567890');
    await until(() => emu.ledger().upstreamAcked === 4, 3000, 'room again');
    await c.close();
  } finally {
    await emu.stop();
  }
});

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

test('upstream generated with upstreamRate and no client stays bounded (heap, in a child process), the drops counted in the ledger', async () => {
  // 50 000 messages/s for 2 s with nobody connected: ~48 MB of queued stanzas without the bound.
  const script = `
    const { CcsEmulator } = await import(${JSON.stringify(INDEX)});
    const emu = new CcsEmulator({ port: 0, seed: 1, upstreamRate: 50000, maxQueuedUpstream: 1000, keepDeliveries: false });
    await emu.start();
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 2000));
    globalThis.gc();
    const grown = process.memoryUsage().heapUsed - before;
    const ledger = emu.ledger();
    await emu.stop();
    process.stdout.write(JSON.stringify({ grown, ledger }));
  `;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  assert.is(code, 0, err);
  const { grown, ledger } = JSON.parse(out) as { grown: number; ledger: { upstreamInjected: number; upstreamDropped: number; upstreamUnacked: number } };
  assert.ok(ledger.upstreamInjected <= 1000, `queued ${ledger.upstreamInjected}`);
  assert.is(ledger.upstreamUnacked, ledger.upstreamInjected);
  assert.ok(ledger.upstreamDropped > 10_000, `dropped ${ledger.upstreamDropped}`);
  assert.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1e6).toFixed(1)} MB`);
});

test.run();
