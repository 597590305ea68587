import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findGcmChild, gcmText } from '@ccs-xmpp/stanza';
import { CcsEmulator, EmulatorError, type CcsEmulatorOptions } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

async function withEmulator(fn: (emu: CcsEmulator) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 3, ...options });
  await emu.start();
  try {
    await fn(emu);
  } finally {
    await emu.stop();
  }
}

const upstreamIds = (c: TestClient): string[] =>
  c.received.filter((el) => el.local === 'message' && el.attr('from') === 'devices@gcm.googleapis.com')
    .map((el) => (JSON.parse(gcmText(findGcmChild(el)!)) as { message_id: string }).message_id);

test('an upstream message injected before any connection is delivered on the first one, in the CCS shape', () =>
  withEmulator(async (emu) => {
    const id = emu.injectUpstream('1234567890', { from: 'dev-A', data: { hello: 'world' }, category: 'com.example.app', message_id: 'u-1' });
    assert.is(id, 'u-1');
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const el = await c.waitFor((e) => e.local === 'message');
    assert.is(el.attr('to'), '1234567890@gcm.googleapis.com');
    assert.is(el.attr('from'), 'devices@gcm.googleapis.com');
    assert.is(el.attr('type'), 'normal');
    assert.is(gcmText(findGcmChild(el)!), '{"category":"com.example.app","data":{"hello":"world"},"message_id":"u-1","from":"dev-A","time_to_live":86400}');
    assert.equal(emu.connections()[0]?.pendingUpstream, 1);
    assert.is(emu.ledger().upstreamUnacked, 1);
    c.ack('dev-A', 'u-1');
    await until(() => emu.ledger().upstreamAcked === 1);
    assert.is(emu.ledger().upstreamUnacked, 0);
    assert.equal(emu.connections()[0]?.pendingUpstream, 0);
    await c.close();
  }));

test('default ids and from: up-N from the sender\'s first device', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const id = emu.injectUpstream('1234567890');
    assert.is(id, 'up-1');
    const m = await c.waitGcm((x) => x.kind === 'upstream');
    assert.is(m.kind === 'upstream' && m.from, emu.deviceTokens('1234567890')[0]);
    assert.throws(() => emu.injectUpstream('nobody'), (e: unknown) => e instanceof EmulatorError && e.code === 'EMU_ERR_UNKNOWN_SENDER');
    await c.close();
  }, { devices: 2 }));

test('an un-ACKed upstream message is re-sent on the same connection after upstreamResendMs', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    emu.injectUpstream('1234567890', { message_id: 'again' });
    await until(() => upstreamIds(c).length >= 2, 2000, 'a re-send');
    assert.equal(upstreamIds(c).slice(0, 2), ['again', 'again']);
    c.ack('x', 'again');
    await until(() => emu.ledger().upstreamAcked === 1);
    // The app server ACKs the re-sent copy too: a duplicate it processed.
    c.ack('x', 'again');
    await until(() => emu.ledger().upstreamDuplicatesAcked === 1);
    const sent = emu.ledger().upstreamSent;
    await sleep(120);
    assert.is(emu.ledger().upstreamSent, sent, 'no more re-sends once ACKed');
    await c.close();
  }, { upstreamResendMs: 40 }));

test('upstream un-ACKed when a connection closes is re-sent first on the sender\'s next connection', () =>
  withEmulator(async (emu) => {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca });
    emu.injectUpstream('1234567890', { message_id: 'u-a' });
    emu.injectUpstream('1234567890', { message_id: 'u-b' });
    await until(() => upstreamIds(a).length === 2);
    a.ack('x', 'u-a');
    await until(() => emu.ledger().upstreamAcked === 1);
    a.conn.destroy();
    await a.closed;
    emu.injectUpstream('1234567890', { message_id: 'u-c' });
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await until(() => upstreamIds(b).length === 2);
    assert.equal(upstreamIds(b), ['u-b', 'u-c']);
    // ACKs are only valid on the connection that received the message: u-b is ACKed here.
    b.ack('x', 'u-b');
    b.ack('x', 'u-c');
    await until(() => emu.ledger().upstreamAcked === 3);
    const l = emu.ledger();
    assert.is(l.upstreamInjected, 3);
    assert.is(l.upstreamSent, 4);
    assert.is(l.upstreamUnacked, 0);
    await b.close();
  }));

test('stops sending upstream on a connection at maxPendingUpstream un-ACKed, resumes on ACK', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    for (let i = 1; i <= 5; i++) emu.injectUpstream('1234567890', { message_id: `p-${i}` });
    await until(() => upstreamIds(c).length === 3);
    await sleep(30);
    assert.equal(upstreamIds(c), ['p-1', 'p-2', 'p-3']);
    assert.is(emu.connections()[0]?.pendingUpstream, 3);
    c.ack('x', 'p-2');
    await until(() => upstreamIds(c).length === 4);
    assert.is(upstreamIds(c)[3], 'p-4');
    await sleep(30);
    assert.is(upstreamIds(c).length, 4);
    await c.close();
  }, { maxPendingUpstream: 3 }));

test('spreads upstream over the sender\'s connections and never to another sender', () =>
  withEmulator(async (emu) => {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: 's1', apiKey: 'k' });
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: 's1', apiKey: 'k' });
    const other = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: 's2', apiKey: 'k' });
    a.autoAck = true;
    b.autoAck = true;
    for (let i = 0; i < 10; i++) emu.injectUpstream('s1', { message_id: `r-${i}` });
    await until(() => emu.ledger().upstreamAcked === 10);
    assert.ok(upstreamIds(a).length > 0 && upstreamIds(b).length > 0);
    assert.is(upstreamIds(a).length + upstreamIds(b).length, 10);
    assert.is(upstreamIds(other).length, 0);
    await Promise.all([a.close(), b.close(), other.close()]);
  }, { senders: [{ senderId: 's1', apiKey: 'k' }, { senderId: 's2', apiKey: 'k' }] }));

test('upstreamRate makes the simulated devices send on their own', () =>
  withEmulator(async (emu) => {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    c.autoAck = true;
    await until(() => emu.ledger().upstreamAcked >= 10, 3000, 'generated upstream');
    const tokens = emu.deviceTokens('1234567890');
    const m = await c.waitGcm((x) => x.kind === 'upstream');
    assert.ok(m.kind === 'upstream' && tokens.includes(m.from));
    await c.close();
  }, { upstreamRate: 100, devices: 4 }));

test.run();
