import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { XmlElement } from '@ccs-xmpp/stream';
import { findGcmChild, gcmText, isPing } from '@ccs-xmpp/stanza';
import { CcsEmulator, type EmulatorEvent } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

const DRAINING = '<message><gcm xmlns="google:mobile:data">{"message_type":"control","control_type":"CONNECTION_DRAINING"}</gcm></message>';

test('drain sends CONNECTION_DRAINING, NACKs new sends, delivers owed ACKs, then closes', async () => {
  const emu = new CcsEmulator({
    port: 0, seed: 5, faults: { ackDelayMs: 80 },
    senders: [{ senderId: '1234567890', apiKey: 'emulator-api-key' }, { senderId: '42', apiKey: 'k2' }],
  });
  await emu.start();
  const events: EmulatorEvent[] = [];
  emu.on('event', (e: EmulatorEvent) => events.push(e));
  try {
    // This client answers the ping only after its 'after' message: what keeps the connection open
    // for it on a loaded machine is the unanswered ping, not a delay.
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, answerPings: false });
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
    c.answerPing(await c.waitFor(isPing));
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
    // Nothing is owed and this client answered the ping at once: without drainMinMs the connection
    // closes at the next 10 ms tick.
    await new Promise((r) => setTimeout(r, 150));
    const late = await c.request({ to: 'tok', message_id: 'late' });
    assert.is(late.kind === 'nack' && late.error.code, 'CONNECTION_DRAINING');
    assert.is(await c.closed, undefined, 'then a clean stream close');
    assert.ok(Date.now() - drainedAt >= 600, `closed ${Date.now() - drainedAt} ms after the drain, not before drainMinMs`);
  } finally {
    await emu.stop();
  }
});

test('a message the client wrote before it read CONNECTION_DRAINING gets its CONNECTION_DRAINING NACK, never a closed stream', async () => {
  // Default drainMinMs (0): what keeps the connection open is the ping sent after the control
  // message, which this client reads (and answers) only after it wrote its message.
  const emu = new CcsEmulator({ port: 0, seed: 5 });
  await emu.start();
  const events: EmulatorEvent[] = [];
  emu.on('event', (e: EmulatorEvent) => events.push(e));
  try {
    // 0: written right after the drain; 200: written after many of the emulator's 10 ms ticks,
    // where a close as soon as nothing is owed had long happened.
    for (const writeAfterMs of [0, 200]) {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      assert.is((await c.request({ to: 'tok', message_id: `before-${writeAfterMs}` })).kind, 'ack');
      const id = emu.connections().find((x) => x.jid === c.jid)!.id;
      c.conn.pause(); // The client does not read: CONNECTION_DRAINING waits in its socket.
      assert.is(emu.drain({ connectionId: id }), 1);
      if (writeAfterMs > 0) await sleep(writeAfterMs);
      c.sendJson({ to: 'tok', message_id: `raced-${writeAfterMs}` });
      c.conn.resume();
      const raced = await c.answerTo(`raced-${writeAfterMs}`);
      assert.is(raced.kind === 'nack' && raced.error.code, 'CONNECTION_DRAINING', `written ${writeAfterMs} ms after the drain`);
      assert.is(await c.closed, undefined, 'then a clean stream close');
      const mine = events.filter((e) => 'connectionId' in e && e.connectionId === id).map((e) => e.type);
      assert.equal(mine.slice(mine.indexOf('drain')), ['drain', 'nack', 'close']);
    }
  } finally {
    await emu.stop();
  }
});

test('CONNECTION_DRAINING is followed by a ping; the connection closes only once it is answered and nothing is owed', async () => {
  // A deadline the test never reaches: only the ping's answer (and the ACK) can close it.
  const emu = new CcsEmulator({ port: 0, seed: 5, drainTimeoutMs: 60_000 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, answerPings: false });
    emu.injectUpstream('1234567890', { message_id: 'u1' });
    const u1 = await c.waitGcm((m) => m.kind === 'upstream');
    assert.is(emu.drain(), 1);
    const ping = await c.waitFor(isPing);
    assert.is(ping.attr('from'), 'gcm.googleapis.com');
    assert.is(ping.attr('to'), c.jid);
    assert.ok(c.raw.includes(`${DRAINING}<iq type="get" id="${ping.attr('id')!}"`), 'the ping comes right after the control message');
    // Unanswered, with nothing owed by the emulator and the client's ACK owed: still open.
    await sleep(200);
    assert.is(c.isClosed, false);
    assert.is(emu.connections()[0]?.state, 'draining');
    c.answerPing(ping);
    // Answered, but u1 is not ACKed yet: still open, and still answering.
    const late = await c.request({ to: 'tok', message_id: 'late' });
    assert.is(late.kind === 'nack' && late.error.code, 'CONNECTION_DRAINING');
    await sleep(200);
    assert.is(c.isClosed, false);
    c.ack(u1.kind === 'upstream' ? u1.from : '', 'u1');
    assert.is(await c.closed, undefined, 'closed by the emulator, cleanly');
    assert.is(emu.ledger().upstreamAcked, 1);

    // The same with an error reply to the ping (a client that does not know XEP-0199), nothing owed.
    const d = await TestClient.connect({ port: emu.port, ca: emu.ca, answerPings: false });
    assert.is(emu.drain(), 1);
    const ping2 = await d.waitFor(isPing);
    await sleep(200);
    assert.is(d.isClosed, false);
    d.sendRaw(`<iq type="error" id="${ping2.attr('id')!}"><ping xmlns="urn:xmpp:ping"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`);
    assert.is(await d.closed, undefined);
  } finally {
    await emu.stop();
  }
});

test('a client that never answers the ping is closed at drainTimeoutMs', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 5, drainTimeoutMs: 300 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca, answerPings: false });
    const drainedAt = Date.now();
    assert.is(emu.drain(), 1);
    const ping: XmlElement = await c.waitFor(isPing);
    // A reply to an IQ that is not the ping changes nothing.
    c.sendRaw(`<iq type="result" id="not-${ping.attr('id')!}"/>`);
    assert.is(await c.closed, undefined, 'a clean stream close');
    assert.ok(Date.now() - drainedAt >= 300, `closed ${Date.now() - drainedAt} ms after the drain, not before drainTimeoutMs`);
  } finally {
    await emu.stop();
  }
});

test.run();
