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
  ['writes text of nothing but C0 controls as \\u escapes', '\u0001\u0008\u000B\u000C\u000E\u001F', '\\u0001\\u0008\\u000b\\u000c\\u000e\\u001f'],
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

test('escapeJsonForXml makes any text well-formed character data: ]]> at the very start, every surrogate boundary', () => {
  assert.is(escapeJsonForXml(']]>'), ']]&gt;');
  assert.is(escapeJsonForXml(']>'), ']>');
  // Pairs from the first (U+10000) to the last (U+10FFFF) astral character are kept; each surrogate alone is escaped.
  for (const pair of ['\uD800\uDC00', '\uD800\uDFFF', '\uDBFF\uDC00', '\uDBFF\uDFFF']) assert.is(escapeJsonForXml(`"${pair}"`), `"${pair}"`);
  for (const c of [0xd800, 0xdbff, 0xdc00, 0xdfff]) {
    const lone = String.fromCharCode(c);
    assert.is(escapeJsonForXml(`"${lone}"`), `"\\u${c.toString(16)}"`);
    assert.is(escapeJsonForXml(`"${lone}a"`), `"\\u${c.toString(16)}a"`);
  }
  // Either side of the surrogates, and U+FFFD beside U+FFFE, are ordinary characters.
  for (const c of ['\uD7FF', '\uE000', '\uFFFD', ' ']) assert.is(escapeJsonForXml(`"${c}"`), `"${c}"`);
  // The same when something else in the text is escaped (the one-pass rewrite then judges every character).
  for (const kept of ['\uD800\uDC00', '\uD800\uDFFF', '\uDBFF\uDC00', '\uDBFF\uDFFF', '\uD7FF', '\uE000', '\uFFFD', ' ', ']x>', 'x]>']) {
    assert.is(escapeJsonForXml(`"<${kept}"`), `"&lt;${kept}"`, JSON.stringify(kept));
    assert.is(escapeJsonForXml(`"${kept}&"`), `"${kept}&amp;"`, JSON.stringify(kept));
  }
  for (const text of ['x<', 'x&', 'x]]>', 'x\uFFFE', 'x\uFFFF', 'x\uD800', 'x\u0001']) {
    assert.is.not(escapeJsonForXml(text), text, JSON.stringify(text));
    parseWithSaxes(`<x>${escapeJsonForXml(text)}</x>`);
  }
});

test('stanzaIdAttr keeps every astral character and the characters beside the surrogates, and refuses each surrogate alone', () => {
  for (const id of ['\uD800\uDC00', '\uD800\uDFFF', '\uDBFF\uDC00', '\uDBFF\uDFFF', '\uD7FF', '\uE000', '\uFFFD', ' ', '!', '~', '\u007F', 'é']) {
    assert.is(stanzaIdAttr(`a${id}b`), `a${id}b`, JSON.stringify(id));
  }
  for (const c of [0xd800, 0xdbff, 0xdc00, 0xdfff]) {
    assert.is(stanzaIdAttr(String.fromCharCode(c)), undefined, c.toString(16));
    assert.is(stanzaIdAttr(`${String.fromCharCode(c)}a`), undefined, c.toString(16));
  }
  assert.is(stanzaIdAttr('\u001F'), undefined);
  // A high surrogate followed by anything but a low one, and a low one first, are refused too.
  for (const id of ['\uDC00\uDC00', '\uDFFF\uDC00', '\uD800\uD800', '\uDBFF\uDBFF', '\uD800\uE000', '\uDBFF\uD7FF', 'a\uFFFE', 'a\uFFFF']) {
    assert.is(stanzaIdAttr(id), undefined, JSON.stringify(id));
  }
});

test('isPlainAscii is true exactly for printable ASCII other than " & < > \\', () => {
  for (let c = 0; c <= 0xffff; c++) {
    const ch = String.fromCharCode(c);
    const plain = c >= 0x20 && c <= 0x7e && !'"&<>\\'.includes(ch);
    if (isPlainAscii(`a${ch}b`) !== plain) assert.unreachable(`isPlainAscii(${JSON.stringify(ch)}) should be ${plain}`);
  }
  assert.ok(isPlainAscii(''));
});

test('an ACK whose token alone, or id alone, needs escaping is escaped the same as when both do', () => {
  const general = (to: string, id: string): string => gcmStanzaString(ackJson(to, id), id);
  for (const [to, id] of [['REG', 'i"d&<'], ['R<E&G"', 'm-1'], ['REG', 'm\u0001'], ['tok\u00e9', 'm-2']]) {
    assert.is(encodeAckString(to!, id!), general(to!, id!), JSON.stringify([to, id]));
    assert.is(new GcmEncoder().encodeAck(to!, id!).toString(), general(to!, id!), JSON.stringify([to, id]));
    const m = decodeGcmMessage(parseWithSaxes(encodeAckString(to!, id!)));
    assert.equal(m.kind === 'ack' && m.payload, { to, message_id: id, message_type: 'ack' });
  }
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

// Each method reserves an upper bound of its stanza's bytes before writing; a bound too small shows
// only when a stanza lands at the end of a slab, so every method is run at every offset of a slab,
// with text whose UTF-8 reaches the bound (3 bytes per code unit).
test('every encode method gives exactly the string form\'s bytes at every slab offset, and never rewrites an earlier result', () => {
  const wide = '東'.repeat(60);
  const plain = 'x'.repeat(60);
  const msg = { to: `tok-${plain}`, message_id: `m-${plain}`, data: { t: plain, n: 12345 } };
  const methods: Array<[string, (enc: GcmEncoder) => Buffer, string]> = [
    ['encode', (enc) => enc.encode({ t: wide }, wide), encodeGcmString({ t: wide }, wide)],
    ['encodeJson', (enc) => enc.encodeJson(`{"t":"${wide}"}`, `i${wide}`), gcmStanzaString(`{"t":"${wide}"}`, `i${wide}`)],
    ['encodeAck', (enc) => enc.encodeAck(`tok-${plain}`, `m-${plain}`), encodeAckString(`tok-${plain}`, `m-${plain}`)],
    ['encodeAck (escaped)', (enc) => enc.encodeAck(`tok-${wide}`, `m-${wide}`), encodeAckString(`tok-${wide}`, `m-${wide}`)],
    ['encodeServerAck', (enc) => enc.encodeServerAck(`tok-${plain}`, `m-${plain}`),
      `<message><gcm xmlns="google:mobile:data">{"from":"tok-${plain}","message_id":"m-${plain}","message_type":"ack"}</gcm></message>`],
    ['encodeServerAck (no from)', (enc) => enc.encodeServerAck(undefined, `m-${plain}`),
      encodeGcmString({ message_id: `m-${plain}`, message_type: 'ack' })],
    ['encodeServerAck (registration_id)', (enc) => enc.encodeServerAck(`tok-${plain}`, `m-${wide}`, 'r'),
      encodeGcmString({ from: `tok-${plain}`, message_id: `m-${wide}`, message_type: 'ack', registration_id: 'r' })],
    ['encodeDownstream', (enc) => enc.encodeDownstream(msg), encodeGcmString(msg, msg.message_id)],
  ];
  for (const [name, encode, want] of methods) {
    // A server ACK reserves exactly its own size, so it moves the offset to 106 + pad of the same slab.
    for (let pad = 0; pad < 1024 - 106; pad++) {
      const enc = new GcmEncoder({ slabSize: 1024 });
      const first = enc.encodeServerAck('x'.repeat(pad), 'm');
      const before = first.toString('latin1');
      const out = encode(enc).toString('utf8');
      if (out !== want) assert.is(out, want, `${name} after ${first.length} bytes`);
      if (first.toString('latin1') !== before) assert.unreachable(`${name} after ${first.length} bytes rewrote the earlier result`);
    }
  }
});

test('encodeDownstream writes what JSON.stringify writes for values with toJSON, at any depth', () => {
  const stamp = new Date(0);
  for (const data of [{ when: stamp }, { a: { toJSON: () => 'j' } }, { a: { b: { c: { toJSON: () => ({ d: 1 }) } } } }]) {
    const msg = { to: 'tok', message_id: 'm-1', data };
    assert.is(new GcmEncoder().encodeDownstream(msg as never).toString(), encodeGcmString(msg, 'm-1'));
  }
  const top = { to: 'tok', message_id: 'm-2', toJSON: () => ({ to: 'other', message_id: 'm-2' }) };
  assert.is(new GcmEncoder().encodeDownstream(top as never).toString(), encodeGcmString(top, 'm-2'));
});

test('encodeDownstream escapes every character that needs it, in short strings and long ones, in keys and values', () => {
  for (const ch of ['"', '&', '<', '>', ']]>', '\\', '\u0000', '\u001f', '\u007f', 'é', '\uD800', ' ', '~']) {
    for (const n of [1, 127, 128, 300]) {
      const text = `${'a'.repeat(n - 1)}${ch}`;
      for (const msg of [{ to: 'tok', message_id: 'm-1', data: { t: text } }, { to: 'tok', message_id: 'm-1', data: { [text]: 'v' } }]) {
        assert.is(new GcmEncoder().encodeDownstream(msg).toString(), encodeGcmString(msg, 'm-1'), JSON.stringify([ch, n]));
      }
    }
  }
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
