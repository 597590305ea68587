import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StanzaParser } from '../src/index.js';
import { HEADER, bytes, parseChunked, parseSplit, recorder, type Event, type NormalEl } from './helpers.js';

const GCM = 'google:mobile:data';

function el(name: string, uri: string, attrs: Array<[string, string]>, children: Array<NormalEl | string>): NormalEl {
  const colon = name.indexOf(':');
  return { name, local: colon < 0 ? name : name.slice(colon + 1), prefix: colon < 0 ? '' : name.slice(0, colon), uri, attrs, children };
}

/** Runs a case whole, byte by byte, and in 3-byte chunks. */
function check(input: string | Buffer, expected: Event[], label: string, options = {}): void {
  const buf = typeof input === 'string' ? bytes(input) : input;
  for (const size of [buf.length || 1, 1, 3]) {
    assert.equal(parseChunked(buf, size, options), expected, `${label} (chunks of ${size})`);
  }
}

const OPEN: Event = ['open', { from: 'gcm.googleapis.com', id: 'S1', version: '1.0', 'xmlns:stream': 'http://etherx.jabber.org/streams', xmlns: 'jabber:client' }];

test('reports the stream header attributes and each depth-1 stanza', () => {
  check(HEADER + '<message id="1"><gcm xmlns="google:mobile:data">{"a":1}</gcm></message>', [
    OPEN,
    ['stanza', el('message', 'jabber:client', [['id', '1']], [el('gcm', GCM, [['xmlns', GCM]], ['{"a":1}'])])],
  ], 'plain gcm');
});

test('reads a prefixed data:gcm as the same element as gcm in google:mobile:data', () => {
  check(HEADER + '<message><data:gcm xmlns:data="google:mobile:data">{"b":2}</data:gcm></message>', [
    OPEN,
    ['stanza', el('message', 'jabber:client', [], [el('data:gcm', GCM, [['xmlns:data', GCM]], ['{"b":2}'])])],
  ], 'prefixed gcm');
});

test('accepts single- and double-quoted attributes and xml:lang', () => {
  check(HEADER + `<message id='a"b' type="normal" xml:lang='en'><gcm xmlns='google:mobile:data'>{}</gcm></message>`, [
    OPEN,
    ['stanza', el('message', 'jabber:client', [['id', 'a"b'], ['type', 'normal'], ['xml:lang', 'en']], [el('gcm', GCM, [['xmlns', GCM]], ['{}'])])],
  ], 'quotes');
});

test('decodes the five predefined entities and numeric character references', () => {
  check(HEADER + '<message><gcm xmlns="google:mobile:data">&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;&#x42;</gcm></message>', [
    OPEN,
    ['stanza', el('message', 'jabber:client', [], [el('gcm', GCM, [['xmlns', GCM]], ['<>&"\'A\u{1F600}B'])])],
  ], 'entities');
});

test('merges CDATA sections with surrounding text into one string', () => {
  check(HEADER + '<message><body>a<![CDATA[<b>&]]>c</body></message>', [
    OPEN,
    ['stanza', el('message', 'jabber:client', [], [el('body', 'jabber:client', [], ['a<b>&c'])])],
  ], 'cdata');
});

test('ignores whitespace keepalives between stanzas', () => {
  const s = '<iq type="result" id="p1"/>';
  check(HEADER + ' \n ' + s + ' \t\r\n ' + s + '   ', [
    OPEN,
    ['stanza', el('iq', 'jabber:client', [['type', 'result'], ['id', 'p1']], [])],
    ['stanza', el('iq', 'jabber:client', [['type', 'result'], ['id', 'p1']], [])],
  ], 'keepalives');
});

test('keeps multi-byte UTF-8 intact when chunks split characters', () => {
  const text = 'é東🎉שלום';
  check(HEADER + `<message><gcm xmlns="google:mobile:data">${text}</gcm></message>`, [
    OPEN,
    ['stanza', el('message', 'jabber:client', [], [el('gcm', GCM, [['xmlns', GCM]], [text])])],
  ], 'utf8');
});

test('reports the end of the stream and ignores anything after it', () => {
  check(HEADER + '<a/></stream:stream><b/>', [OPEN, ['stanza', el('a', 'jabber:client', [], [])], ['end']], 'end');
});

test('normalises line ends in text and whitespace in attribute values as XML 1.0 says', () => {
  check(HEADER + '<message a="x\ty\nz"><gcm xmlns="google:mobile:data">1\r\n2\r3</gcm></message>', [
    OPEN,
    ['stanza', el('message', 'jabber:client', [['a', 'x y z']], [el('gcm', GCM, [['xmlns', GCM]], ['1\n2\n3'])])],
  ], 'normalisation');
});

test('builds nested elements with their namespaces (stream features)', () => {
  check(HEADER + '<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>', [
    OPEN,
    ['stanza', el('stream:features', 'http://etherx.jabber.org/streams', [], [
      el('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl', [['xmlns', 'urn:ietf:params:xml:ns:xmpp-sasl']], [
        el('mechanism', 'urn:ietf:params:xml:ns:xmpp-sasl', [], ['PLAIN']),
      ]),
    ])],
  ], 'features');
});

// --- refusals ---------------------------------------------------------------------------------

const refusals: Array<[string, string, string, string]> = [
  ['a DOCTYPE', "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'boom'>]>" + HEADER.slice(21), 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a comment', HEADER + '<!-- hi -->', 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a processing instruction', HEADER + '<?php echo 1; ?>', 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a mismatched end tag', HEADER + '<a></b>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['an undefined entity', HEADER + '<a>&xxe;</a>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a duplicate attribute', HEADER + '<message a="1" a="2"><gcm xmlns="google:mobile:data">x</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['an unbound prefix', HEADER + '<x:message><gcm xmlns="google:mobile:data">x</gcm></x:message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a raw < in text', HEADER + '<message><gcm xmlns="google:mobile:data">a < b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  [']]> in text', HEADER + '<message><gcm xmlns="google:mobile:data">a ]]> b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a control character', HEADER + '<message><gcm xmlns="google:mobile:data">a\u0001b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['U+FFFE', HEADER + '<message><gcm xmlns="google:mobile:data">a\uFFFEb</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a reference to a forbidden character', HEADER + '<message><gcm xmlns="google:mobile:data">&#0;</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['text between stanzas', HEADER + 'hello<a/>', 'bad-format', 'STREAM_ERR_BAD_FORMAT'],
  ['a root that is not stream:stream', "<stream xmlns='jabber:client'>", 'invalid-namespace', 'STREAM_ERR_INVALID_NAMESPACE'],
  ['an encoding other than UTF-8', "<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER.slice(21), 'unsupported-encoding', 'STREAM_ERR_UNSUPPORTED_ENCODING'],
];

for (const [what, input, condition, code] of refusals) {
  test(`refuses ${what} with ${condition} (${code}) and reports nothing after it`, () => {
    const events = parseChunked(bytes(input + '<after/>'), 1 << 20);
    const last = events[events.length - 1];
    assert.equal(last, ['error', condition, code]);
    assert.ok(!events.some((e) => e[0] === 'stanza' && e[1].name === 'after'));
    assert.equal(parseChunked(bytes(input + '<after/>'), 1), events, 'same verdict byte by byte');
  });
}

test('refuses bytes that are not UTF-8 with not-well-formed', () => {
  for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x28, 0xa1], [0xf4, 0x90, 0x80, 0x80]]) {
    const input = Buffer.concat([bytes(HEADER + '<message><gcm xmlns="google:mobile:data">a'), Buffer.from(bad), bytes('</gcm></message>')]);
    for (const size of [input.length, 1, 2]) {
      const events = parseChunked(input, size);
      assert.equal(events[events.length - 1], ['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'], `bytes ${bad} in chunks of ${size}`);
      assert.equal(events.length, 2);
    }
  }
});

test('rejects a stanza over maxStanzaBytes with STREAM_ERR_STANZA_TOO_LARGE before buffering the rest', () => {
  const big = '<message><gcm xmlns="google:mobile:data">' + 'x'.repeat(5000) + '</gcm></message>';
  {
    const r = recorder({ maxStanzaBytes: 1000 });
    r.parser.write(bytes(HEADER));
    const stanza = bytes(big);
    let fedWhenRejected = -1;
    for (let i = 0; i < stanza.length; i += 100) {
      r.parser.write(stanza.subarray(i, i + 100));
      if (r.events.some((e) => e[0] === 'error') && fedWhenRejected < 0) fedWhenRejected = i + 100;
    }
    assert.equal(r.events[r.events.length - 1], ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']);
    assert.ok(fedWhenRejected > 0 && fedWhenRejected <= 1100, `rejected after ${fedWhenRejected} bytes`);
  }
});

test('accepts a stanza of exactly maxStanzaBytes and refuses one byte more', () => {
  // Longer than HEADER: the prolog counts against the limit too.
  const stanza = `<message><gcm xmlns="google:mobile:data">{"k":"${'v'.repeat(200)}"}</gcm></message>`;
  const n = Buffer.byteLength(stanza);
  {
    const ok = parseChunked(bytes(HEADER + stanza), 7, { maxStanzaBytes: n });
    assert.equal(ok[1]?.[0], 'stanza');
    const tooBig = parseChunked(bytes(HEADER + stanza), 7, { maxStanzaBytes: n - 1 });
    assert.equal(tooBig[1], ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']);
  }
});

test('refuses nesting deeper than maxDepth with policy-violation', () => {
  const deep = '<a>'.repeat(5) + '</a>'.repeat(5);
  assert.equal(parseChunked(bytes(HEADER + deep), 1 << 20, { maxDepth: 5 })[1]?.[0], 'stanza');
  assert.equal(parseChunked(bytes(HEADER + deep), 1 << 20, { maxDepth: 4 })[1], ['error', 'policy-violation', 'STREAM_ERR_TOO_DEEP']);
});

test('counts an oversized prolog (a huge stream header) against maxStanzaBytes', () => {
  const header = `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' pad='${'p'.repeat(3000)}'>`;
  assert.equal(parseChunked(bytes(header), 64, { maxStanzaBytes: 1024 }), [['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']]);
});

test('a stream restart from inside onStanza resets all parser state; the rest of the chunk is the new stream', () => {
  const first = HEADER + '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>';
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'><message><gcm xmlns='google:mobile:data'>2</gcm></message>";
  const input = bytes(first + second);
  const expectedTail: Event = ['stanza', el('message', 'jabber:client', [], [el('gcm', GCM, [['xmlns', GCM]], ['2'])])];
  {
    for (const cuts of [[], [first.length], [first.length - 1, first.length + 3], Array.from({ length: input.length }, (_, i) => i)]) {
      const events = parseSplit(input, cuts, {}, (e) => e.local === 'success');
      assert.equal(events.length, 4, `events with cuts ${cuts.length}`);
      assert.equal(events[2], ['open', { 'xmlns:stream': 'http://etherx.jabber.org/streams', xmlns: 'jabber:client', id: 'S2' }]);
      assert.equal(events[3], expectedTail);
    }
  }
});

test('reset() from outside starts a fresh stream after an error', () => {
  const r = recorder();
  r.parser.write(bytes(HEADER + '<a></b>'));
  assert.equal(r.events[r.events.length - 1]?.[0], 'error');
  assert.ok(r.parser.done);
  r.parser.reset();
  r.parser.write(bytes(HEADER + '<a/>'));
  assert.equal(r.events.slice(-2).map((e) => e[0]), ['open', 'stanza']);
});

test('rejects nonsensical limits with a RangeError', () => {
  const sink = { onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError() {} };
  assert.throws(() => new StanzaParser(sink, { maxStanzaBytes: 0 }), RangeError);
  assert.throws(() => new StanzaParser(sink, { maxDepth: -1 }), RangeError);
});

test('hands a gcm payload over as one string decoded once (no entity: a slice of the input)', () => {
  const r = recorder();
  r.parser.write(bytes(HEADER + '<message><gcm xmlns="google:mobile:data">{"message_id":"m1"}</gcm></message>'));
  const gcm = r.elements[0]?.getChild('gcm', GCM);
  assert.ok(gcm);
  assert.equal(gcm.children.length, 1);
  assert.equal(JSON.parse(gcm.text()), { message_id: 'm1' });
});

test.run();
