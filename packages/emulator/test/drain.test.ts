import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findGcmChild, gcmText } from '@ccs-xmpp/stanza';
import { CcsEmulator, type EmulatorEvent } from '../src/index.js';
import { TestClient, until } from './helpers/client.js';

test('drain sends CONNECTION_DRAINING, NACKs new sends, delivers owed ACKs, then closes', async () => {
  const emu = new CcsEmulator({
    // drainMinMs: the 'after' message must reach a connection still open on a loaded machine.
    port: 0, seed: 5, faults: { ackDelayMs: 80 }, drainMinMs: 500,
    senders: [{ senderId: '1234567890', apiKey: 'emulator-api-key' }, { senderId: '42', apiKey: 'k2' }],
  });
  await emu.start();
  const events: EmulatorEvent[] = [];
  emu.on('event', (e: EmulatorEvent) => events.push(e));
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    const other = await TestClient.connect({ port: emu.port, ca: emu.ca, senderId: '42', apiKey: 'k2' });
    const owed = c.answerTo('before');
    c.sendJson({ to: 'tok', message_id: 'before' });
    await until(() => events.some((e) => e.type === 'downstream'));
    const id = emu.connections().find((x) => x.jid === c.jid)!.id;
    assert.is(emu.drain({ connectionId: id }), 1);
    assert.is(emu.drain({ connectionId: id }), 0, 'already draining');
    const control = await c.waitFor((el) => el.local === 'message' && gcmText(findGcmChild(el)!).includes('control'));
    assert.is(gcmText(findGcmChild(control)!), '{"message_type":"control","control_type":"CONNECTION_DRAINING"}');
    assert.ok(c.raw.includes('<message><gcm xmlns="google:mobile:data">{"message_type":"control","control_type":"CONNECTION_DRAINING"}</gcm></message>'));
    assert.is(emu.connections().find((x) => x.id === id)?.draining, true);
    const after = await c.request({ to: 'tok', message_id: 'after' });
    assert.is(after.kind === 'nack' && after.error.code, 'CONNECTION_DRAINING');
    assert.is((await owed).kind, 'ack', 'the owed ACK still arrives');
    const err = await c.closed;
    assert.is(err, undefined, 'closed with a clean stream close');
    assert.is(emu.ledger().nacked['CONNECTION_DRAINING'], 1);
    assert.is((await other.request({ to: 'tok', message_id: 'elsewhere' })).kind, 'ack', 'other connections unaffected');
    assert.is(emu.drain({ senderId: '42' }), 1);
    await other.closed;
  } finally {
    await emu.stop();
  }
});

test('a draining connection gets no new upstream; its un-ACKed upstream moves to the next connection', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 5, drainTimeoutMs: 100 });
  await emu.start();
  try {
    const a = await TestClient.connect({ port: emu.port, ca: emu.ca });
    emu.injectUpstream('1234567890', { message_id: 'u1' });
    await a.waitGcm((m) => m.kind === 'upstream');
    assert.is(emu.drain(), 1);
    emu.injectUpstream('1234567890', { message_id: 'u2' });
    await a.closed; // u1 never ACKed: closed after drainTimeoutMs
    const b = await TestClient.connect({ port: emu.port, ca: emu.ca, autoAck: true });
    await until(() => emu.ledger().upstreamAcked === 2);
    const ids = b.received.filter((el) => el.local === 'message').map((el) => (JSON.parse(gcmText(findGcmChild(el)!)) as { message_id: string }).message_id);
    assert.equal(ids, ['u1', 'u2']);
    await b.close();
  } finally {
    await emu.stop();
  }
});

test('drainMinMs: a drained connection that owes nothing stays open that long, and a message sent meanwhile gets its CONNECTION_DRAINING NACK', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 5, drainMinMs: 600 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    assert.is((await c.request({ to: 'tok', message_id: 'before' })).kind, 'ack');
    const drainedAt = Date.now();
    assert.is(emu.drain(), 1);
    // Nothing is owed: without drainMinMs the connection closes at the next 10 ms tick.
    await new Promise((r) => setTimeout(r, 150));
    const late = await c.request({ to: 'tok', message_id: 'late' });
    assert.is(late.kind === 'nack' && late.error.code, 'CONNECTION_DRAINING');
    assert.is(await c.closed, undefined, 'then a clean stream close');
    assert.ok(Date.now() - drainedAt >= 600, `closed ${Date.now() - drainedAt} ms after the drain, not before drainMinMs`);
  } finally {
    await emu.stop();
  }
});

test.run();
