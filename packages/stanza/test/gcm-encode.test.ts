import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  GcmEncoder, escapeJsonForXml, stanzaIdAttr, encodeGcmString, encodeAckString, gcmStanzaString, ackJson,
  isPlainAscii, decodeGcmMessage,
} from '@ccs-xmpp/stanza';
import { parseWithSaxes } from './helpers/xml.js';

const escapes: Array<[string, string, string]> = [
  ['leaves plain JSON untouched (same string)', '{"a":"b"}', '{"a":"b"}'],
  ['escapes < and &', '{"a":"x<y&z"}', '{"a":"x&lt;y&amp;z"}'],
  ['escapes > only after ]]', '{"a":"1 > 0 ]]> ]>"}', '{"a":"1 > 0 ]]&gt; ]>"}'],
  ['writes U+FFFE and U+FFFF as JSON escapes', '{"a":"\uFFFE\uFFFF"}', '{"a":"\\ufffe\\uffff"}'],
  ['writes lone surrogates as JSON escapes', '{"a":"\uD800x\uDC00"}', '{"a":"\\ud800x\\udc00"}'],
  ['writes a lone high surrogate at the very end as a JSON escape', '"\uD83D', '"\\ud83d'],
  ['keeps surrogate pairs (astral characters) as they are', '{"a":"😀<"}', '{"a":"😀&lt;"}'],
  ['keeps U+2028 and non-ASCII text as it is', '{"a":"\u2028 café 東京"}', '{"a":"\u2028 café 東京"}'],
  ['writes raw C0 controls (only in invalid JSON) as \\u escapes, keeping TAB/LF/CR', '{\t"a":\n"\u0001"}\r', '{\t"a":\n"\\u0001"}\r'],
];
for (const [name, input, expected] of escapes) {
  test(`escapeJsonForXml ${name}`, () => {
    assert.is(escapeJsonForXml(input), expected);
    parseWithSaxes(`<x>${expected}</x>`); // well-formed
  });
}

test('stanzaIdAttr escapes quote, ampersand, less-than and whitespace controls', () => {
  assert.is(stanzaIdAttr('m-1'), 'm-1');
  assert.is(stanzaIdAttr('a"b&c<d>\te\nf\rg😀'), 'a&quot;b&amp;c&lt;d>&#9;e&#10;f&#13;g😀');
  assert.is(parseWithSaxes(`<m id="${stanzaIdAttr('a"b&c<d>\te\nf\rg')}"/>`).attr('id'), 'a"b&c<d>\te\nf\rg');
});

test('stanzaIdAttr refuses ids XML cannot carry', () => {
  for (const id of ['\u0001', '\uFFFE', '\uFFFF', 'a\uD800', '\uDC00b', '\uD800\uD800']) assert.is(stanzaIdAttr(id), undefined, JSON.stringify(id));
});

test('encodes an ACK with the stanza id set to the message_id', () => {
  const expected = '<message id="m-1"><gcm xmlns="google:mobile:data">{"to":"REG","message_id":"m-1","message_type":"ack"}</gcm></message>';
  assert.is(encodeAckString('REG', 'm-1'), expected);
  assert.is(new GcmEncoder().encodeAck('REG', 'm-1').toString(), expected);
  assert.is(ackJson('REG', 'm-1'), '{"to":"REG","message_id":"m-1","message_type":"ack"}');
});

test('encodes an ACK whose token and id need escaping through the slow path', () => {
  const to = 'R"<&\\\u0001';
  const id = 'i&"\uD800';
  for (const out of [encodeAckString(to, id), new GcmEncoder().encodeAck(to, id).toString()]) {
    const m = decodeGcmMessage(parseWithSaxes(out));
    assert.equal(m.kind === 'ack' && m.payload, { to, message_id: id, message_type: 'ack' });
    assert.is(m.stanzaId, undefined); // the lone surrogate cannot be an attribute value
  }
});

test('isPlainAscii is false for anything JSON or XML would escape, and for non-ASCII', () => {
  assert.ok(isPlainAscii("APA91b-_:x/y'~ "));
  for (const s of ['"', '\\', '<', '&', '>', '\n', '\u007f', 'é', '😀', '\uD800', '\uFFFF']) assert.not.ok(isPlainAscii(`a${s}`), JSON.stringify(s));
});

test('encodes a downstream message with the stanza id = message_id and JSON intact', () => {
  const msg = { to: 'REG', message_id: 'm-1', data: { t: 'a < b && c ]]> d' }, time_to_live: 600 };
  const enc = new GcmEncoder();
  const out = enc.encodeDownstream(msg).toString();
  assert.is(out, `<message id="m-1"><gcm xmlns="google:mobile:data">${JSON.stringify(msg).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(']]>', ']]&gt;')}</gcm></message>`);
  const el = parseWithSaxes(out);
  assert.equal(decodeGcmMessage(el).kind === 'invalid' && JSON.parse(el.getChild('gcm')!.text()), msg);
});

test('encodes without an id attribute when no stanza id is given or message_id is not a string', () => {
  assert.is(encodeGcmString({ message_type: 'control', control_type: 'CONNECTION_DRAINING' }),
    '<message><gcm xmlns="google:mobile:data">{"message_type":"control","control_type":"CONNECTION_DRAINING"}</gcm></message>');
  const enc = new GcmEncoder();
  assert.is(enc.encode({ a: 1 }).toString(), '<message><gcm xmlns="google:mobile:data">{"a":1}</gcm></message>');
  assert.ok(!enc.encodeDownstream({ to: 'x', message_id: 5 as unknown as string }).toString().includes(' id='));
});

test('encodeJson and gcmStanzaString escape JSON text from elsewhere', () => {
  const json = '{"a":"<\uD800\u0002"}';
  const expected = '<message id="x"><gcm xmlns="google:mobile:data">{"a":"&lt;\\ud800\\u0002"}</gcm></message>';
  assert.is(gcmStanzaString(json, 'x'), expected);
  assert.is(new GcmEncoder().encodeJson(json, 'x').toString(), expected);
});

test('never overwrites a Buffer it returned, across slab boundaries', () => {
  const enc = new GcmEncoder({ slabSize: 1024 });
  const outs: Array<[Buffer, string]> = [];
  for (let i = 0; i < 200; i++) {
    const b = i % 3 === 0 ? enc.encodeAck(`tok-${i}`, `m-${i}`) : enc.encode({ i, pad: 'x'.repeat(i * 7) }, `m-${i}`);
    outs.push([b, b.toString()]);
  }
  for (const [b, s] of outs) assert.is(b.toString(), s);
});

test('encodes a stanza larger than the slab into a buffer of its own', () => {
  const enc = new GcmEncoder({ slabSize: 1024 });
  const big = { to: 'x', message_id: 'big', data: { v: 'é'.repeat(5000) } };
  const b = enc.encodeDownstream(big);
  assert.equal(JSON.parse(parseWithSaxes(b.toString()).getChild('gcm')!.text()), big);
  assert.is(enc.encodeAck('a', 'b').toString(), encodeAckString('a', 'b'));
});

test('encodes non-ASCII text as UTF-8 bytes', () => {
  const b = new GcmEncoder().encode({ t: 'Grüße 東京 🎉' }, 'é');
  assert.is(b.toString('utf8'), encodeGcmString({ t: 'Grüße 東京 🎉' }, 'é'));
  assert.is(b.length, Buffer.byteLength(b.toString('utf8')));
});

test.run();
