import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findGcmChild, gcmText, type InboundMessage } from '@ccs-xmpp/stanza';
import { CcsEmulator, type CcsEmulatorOptions } from '../src/index.js';
import { TestClient, sleep, until } from './helpers/client.js';

async function session(fn: (c: TestClient, emu: CcsEmulator) => Promise<void>, options: CcsEmulatorOptions = {}): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 1, ...options });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await fn(c, emu);
    await c.close();
  } finally {
    await emu.stop();
  }
}

function nackOf(m: InboundMessage): { code: string; raw: string; payload: Record<string, unknown> } {
  if (m.kind !== 'nack') throw new Error(`expected a NACK, got ${m.kind}`);
  return { code: m.error.code, raw: m.error.raw, payload: m.payload };
}

test('ACKs a valid message with {"from":TOKEN,"message_id":ID,"message_type":"ack"}', () =>
  session(async (c, emu) => {
    const el = await (async () => {
      c.sendJson({ to: 'device-1', message_id: 'm-1', data: { hello: 'world' } });
      return c.waitFor((e) => e.local === 'message');
    })();
    assert.is(gcmText(findGcmChild(el)!), '{"from":"device-1","message_id":"m-1","message_type":"ack"}');
    assert.equal(emu.deliveredTo('device-1'), [{ message_id: 'm-1', data: { hello: 'world' } }]);
    const l = emu.ledger();
    assert.is(l.downstreamDelivered, 1);
    assert.is(l.downstreamUnique, 1);
  }));

test('ACK JSON escapes tokens and ids that need it', () =>
  session(async (c) => {
    const m = await c.request({ to: 'a"b<c', message_id: 'id&1' });
    assert.is(m.kind, 'ack');
    assert.is(m.payload?.['from'], 'a"b<c');
    assert.is(m.kind === 'ack' && m.messageId, 'id&1');
  }));

test('missing message_id gets the 400 bad-request stanza error of the CCS document, byte for byte', () =>
  session(async (c) => {
    c.sendRaw('<message id="x1"><gcm xmlns="google:mobile:data">{"to":"tok"}</gcm></message>');
    await c.waitFor((e) => e.attr('type') === 'error');
    assert.ok(c.raw.includes(
      '<message id="x1" type="error"><gcm xmlns="google:mobile:data">{"to":"tok"}</gcm>' +
      '<error code="400" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
      '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id</text>' +
      '</error></message>',
    ), c.raw);
  }));

test('malformed JSON gets a JSON_PARSING_ERROR stanza error echoing the text', () =>
  session(async (c, emu) => {
    c.sendRaw('<message id="x2"><gcm xmlns="google:mobile:data">{"to":</gcm></message>');
    const m = await c.waitGcm((x) => x.kind === 'stanzaError');
    assert.is(m.kind, 'stanzaError');
    if (m.kind !== 'stanzaError') return;
    assert.is(m.stanzaId, 'x2');
    assert.is(m.code, 400);
    assert.is(m.condition, 'bad-request');
    assert.is(m.type, 'modify');
    assert.is(m.text, 'InvalidJson: JSON_PARSING_ERROR : Malformed JSON');
    assert.is(m.json, '{"to":');
    c.sendRaw('<message id="x3"/>');
    const n = await c.waitGcm((x) => x.kind === 'stanzaError' && x.stanzaId === 'x3');
    assert.is(n.kind === 'stanzaError' && n.text, 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: gcm');
    assert.is(emu.ledger().stanzaErrors, 2);
  }));

test('an invalid field gets an INVALID_JSON NACK with the composite CCS description', () =>
  session(async (c, emu) => {
    const ttl = nackOf(await c.request({ to: 'tok', message_id: 'm-ttl', time_to_live: -1 }));
    assert.is(ttl.code, 'INVALID_JSON');
    assert.equal(ttl.payload, {
      from: 'tok', message_id: 'm-ttl', message_type: 'nack', error: 'INVALID_JSON',
      error_description: 'InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"\n',
    });
    const type = nackOf(await c.request({ to: 'tok', message_id: 'm-type', delay_while_idle: 'yes' }));
    assert.match(String(type.payload['error_description']), /^InvalidJson : JSON_TYPE_ERROR : Field "delay_while_idle" must be a JSON java.lang.Boolean/);
    const both = nackOf(await c.request({ to: 'tok', condition: "'a' in topics", message_id: 'm-both' }));
    assert.is(both.code, 'INVALID_JSON');
    const key = nackOf(await c.request({ to: 'tok', message_id: 'm-key', data: { from: 'x' } }));
    assert.match(String(key.payload['error_description']), /INVALID_DATA_KEY/);
    assert.is(emu.ledger().nacked['INVALID_JSON'], 4);
    assert.is(emu.ledger().downstreamDelivered, 0);
  }));

test('special token prefixes: unregistered-, bad-, ratelimited-, canonical-X', () =>
  session(async (c, emu) => {
    assert.is(nackOf(await c.request({ to: 'unregistered-1', message_id: 'a' })).code, 'DEVICE_UNREGISTERED');
    assert.is(nackOf(await c.request({ to: 'bad-1', message_id: 'b' })).code, 'BAD_REGISTRATION');
    assert.is(nackOf(await c.request({ to: 'ratelimited-1', message_id: 'c' })).code, 'DEVICE_MESSAGE_RATE_EXCEEDED');
    const canon = await c.request({ to: 'canonical-NEW', message_id: 'd' });
    assert.is(canon.kind, 'ack');
    assert.equal(canon.payload, { from: 'canonical-NEW', message_id: 'd', message_type: 'ack', registration_id: 'NEW' });
    assert.equal(emu.deliveredTo('NEW'), [{ message_id: 'd' }]);
    assert.equal(emu.ledger().nacked, { DEVICE_UNREGISTERED: 1, BAD_REGISTRATION: 1, DEVICE_MESSAGE_RATE_EXCEEDED: 1 });
  }));

test('registered devices: another sender\'s token, unregistered, bad, canonical id and per-device rate limit', () =>
  session(async (c, emu) => {
    emu.addDevice('theirs', { senderId: '999' });
    emu.addDevice('gone', { state: 'unregistered' });
    emu.addDevice('broken', { state: 'bad' });
    emu.addDevice('old', { canonicalId: 'new-token' });
    emu.addDevice('slow', { senderId: '1234567890', maxPerSecond: 2 });
    assert.is(nackOf(await c.request({ to: 'theirs', message_id: '1' })).code, 'BAD_REGISTRATION');
    assert.is(nackOf(await c.request({ to: 'gone', message_id: '2' })).code, 'DEVICE_UNREGISTERED');
    assert.is(nackOf(await c.request({ to: 'broken', message_id: '3' })).code, 'BAD_REGISTRATION');
    const canon = await c.request({ to: 'old', message_id: '4' });
    assert.is(canon.kind === 'ack' && canon.registrationId, 'new-token');
    assert.is((await c.request({ to: 'slow', message_id: '5' })).kind, 'ack');
    assert.is((await c.request({ to: 'slow', message_id: '6' })).kind, 'ack');
    assert.is(nackOf(await c.request({ to: 'slow', message_id: '7' })).code, 'DEVICE_MESSAGE_RATE_EXCEEDED');
    assert.equal(emu.deviceTokens('1234567890'), ['slow']);
    assert.equal(emu.deliveredTo('slow').map((d) => d.message_id), ['5', '6']);
  }));

test('devices option creates tokens per sender; acceptUnknownTokens: false refuses others', () =>
  session(async (c, emu) => {
    const tokens = emu.deviceTokens('1234567890');
    assert.is(tokens.length, 3);
    assert.is((await c.request({ to: tokens[0]!, message_id: 'k1' })).kind, 'ack');
    assert.is(nackOf(await c.request({ to: 'stranger', message_id: 'k2' })).code, 'BAD_REGISTRATION');
  }, { devices: 3, acceptUnknownTokens: false }));

test('a default device rate limit applies to unknown tokens too', () =>
  session(async (c) => {
    assert.is((await c.request({ to: 'dev', message_id: 'r1' })).kind, 'ack');
    assert.is(nackOf(await c.request({ to: 'dev', message_id: 'r2' })).code, 'DEVICE_MESSAGE_RATE_EXCEEDED');
  }, { deviceMaxPerSecond: 1 }));

test('topics and conditions: ACKed and recorded; ratelimited- topics, bad names and bad expressions NACKed', () =>
  session(async (c, emu) => {
    const topic = await c.request({ to: '/topics/news', message_id: 't1', data: { a: 1 } });
    assert.equal(topic.payload, { from: '/topics/news', message_id: 't1', message_type: 'ack' });
    assert.equal(emu.deliveredTo('/topics/news'), [{ message_id: 't1', data: { a: 1 } }]);
    assert.is(nackOf(await c.request({ to: '/topics/ratelimited-x', message_id: 't2' })).code, 'TOPICS_MESSAGE_RATE_EXCEEDED');
    assert.is(nackOf(await c.request({ to: '/topics/bad name', message_id: 't3' })).code, 'INVALID_JSON');
    const cond = "'a' in topics && ('b' in topics || !('c' in topics))";
    const ok = await c.request({ condition: cond, message_id: 't4' });
    assert.equal(ok.payload, { message_id: 't4', message_type: 'ack' });
    assert.equal(emu.deliveredTo(`condition:${cond}`), [{ message_id: 't4' }]);
    assert.is(nackOf(await c.request({ condition: "'ratelimited-q' in topics", message_id: 't5' })).code, 'TOPICS_MESSAGE_RATE_EXCEEDED');
    const bad = nackOf(await c.request({ condition: "'a' in topics &&", message_id: 't6' }));
    assert.match(String(bad.payload['error_description']), /INVALID_CONDITION/);
    const many = nackOf(await c.request({ condition: "'a' in topics && 'b' in topics && 'c' in topics && 'd' in topics", message_id: 't7' }));
    assert.match(String(many.payload['error_description']), /INVALID_CONDITION/);
  }));

test('a per-topic rate limit answers TOPICS_MESSAGE_RATE_EXCEEDED', () =>
  session(async (c) => {
    assert.is((await c.request({ to: '/topics/t', message_id: 'p1' })).kind, 'ack');
    assert.is(nackOf(await c.request({ to: '/topics/t', message_id: 'p2' })).code, 'TOPICS_MESSAGE_RATE_EXCEEDED');
  }, { topicMaxPerSecond: 1 }));

test('dry_run is ACKed but not delivered', () =>
  session(async (c, emu) => {
    assert.is((await c.request({ to: 'tok', message_id: 'dry', dry_run: true })).kind, 'ack');
    assert.equal(emu.deliveredTo('tok'), []);
    assert.is(emu.ledger().downstreamDelivered, 0);
  }));

test('the ledger counts a re-sent message_id as a duplicate', () =>
  session(async (c, emu) => {
    await c.request({ to: 'tok', message_id: 'dup' });
    await c.request({ to: 'tok', message_id: 'dup' });
    await c.request({ to: 'tok', message_id: 'other' });
    const l = emu.ledger();
    assert.is(l.downstreamDelivered, 3);
    assert.is(l.downstreamUnique, 2);
    assert.is(l.downstreamDuplicates, 1);
  }));

test('delivery_receipt_requested brings a dr2: receipt after the ACK; ACKing it counts in the ledger', () =>
  session(async (c, emu) => {
    c.sendJson({ to: 'tok-r', message_id: 'm-r', delivery_receipt_requested: true });
    const ack = await c.answerTo('m-r');
    assert.is(ack.kind, 'ack');
    const receipt = await c.waitGcm((m) => m.kind === 'receipt');
    if (receipt.kind !== 'receipt') throw new Error('no receipt');
    assert.is(receipt.messageId, 'dr2:m-r');
    assert.is(receipt.from, 'gcm.googleapis.com');
    assert.is(receipt.status, 'MESSAGE_SENT_TO_DEVICE');
    assert.is(receipt.originalMessageId, 'm-r');
    assert.is(receipt.deviceRegistrationId, 'tok-r');
    assert.match(String(receipt.data['message_sent_timestamp']), /^\d{13}$/);
    assert.is(receipt.category, 'com.example.emulator');
    assert.equal(Object.keys(receipt.payload), ['message_type', 'message_id', 'from', 'category', 'data']);
    assert.is(emu.ledger().receiptsSent, 1);
    c.ack(receipt.from, receipt.messageId);
    await until(() => emu.ledger().receiptsAcked === 1);
  }));

test('an ACK for an unknown upstream id gets a BAD_ACK NACK; a malformed ACK too', () =>
  session(async (c, emu) => {
    c.ack('some-device', 'never-sent');
    const nack = nackOf(await c.answerTo('never-sent'));
    assert.is(nack.code, 'BAD_ACK');
    assert.is(nack.payload['from'], 'some-device');
    assert.is(nack.payload['message_type'], 'nack');
    c.sendJson({ message_id: 'bad-ack', message_type: 'ack' });
    assert.is(nackOf(await c.answerTo('bad-ack')).code, 'BAD_ACK');
    assert.is(emu.ledger().nacked['BAD_ACK'], 2);
  }));

test('an ACK of an ACK gets a 406 not-acceptable stanza error', () =>
  session(async (c) => {
    await c.request({ to: 'tok', message_id: 'down-1' });
    c.ack('tok', 'down-1');
    const err = await c.waitGcm((m) => m.kind === 'stanzaError');
    if (err.kind !== 'stanzaError') throw new Error('no stanza error');
    assert.is(err.code, 406);
    assert.is(err.condition, 'not-acceptable');
    assert.is(err.type, 'modify');
    assert.is(err.stanzaId, 'down-1');
    assert.match(err.text, /ACK_OF_ACK/);
  }));

test('a message from the client of type error is ignored; later messages are still answered', () =>
  session(async (c) => {
    c.sendRaw('<message type="error" id="e1"><gcm xmlns="google:mobile:data">{"message_id":"e1"}</gcm></message>');
    assert.is((await c.request({ to: 'tok', message_id: 'after' })).kind, 'ack');
    await sleep(10);
    assert.not.ok(c.received.some((el) => el.attr('id') === 'e1'));
  }));

test.run();
