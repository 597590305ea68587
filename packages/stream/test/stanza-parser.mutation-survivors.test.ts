import { setImmediate as tick } from 'node:timers/promises';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SCAN_DECLINE, StanzaParser, XmlElement, type StanzaShortcut, type StreamParseError } from '../src/index.js';
import { HEADER, bytes, parseChunked, recorder } from './helpers.js';
import { toy } from './toy-shortcut.js';

// Behaviour of the parser's parts (element builder, saxes feeder, prolog scan) that the behaviour
// table and the differential properties do not pin: each test here was written for a mutant that
// survived them (test/README.md, "Mutation testing").

test('an attribute named __proto__ is an own, enumerable, writable, deletable attribute like any other, in stanzas and in the header', () => {
  const r = recorder();
  const headers: Array<Record<string, string>> = [];
  const parser = new StanzaParser({
    onStreamOpen: (h) => headers.push(h.attrs),
    onStanza: (el) => r.elements.push(el),
    onStreamEnd() {},
    onError: (e) => assert.unreachable(e.message),
  });
  parser.write(bytes(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' __proto__='h' id='S'><iq __proto__='p' id='1'/>`));
  for (const attrs of [headers[0], r.elements[0]?.attrs]) {
    assert.ok(attrs);
    assert.is(Object.getPrototypeOf(attrs), Object.prototype, 'the prototype is untouched');
    assert.equal(Object.getOwnPropertyDescriptor(attrs, '__proto__'), { ...Object.getOwnPropertyDescriptor(attrs, 'id'), value: attrs['__proto__'] });
    attrs['__proto__'] = 'changed';
    assert.is(Object.getOwnPropertyDescriptor(attrs, '__proto__')?.value, 'changed');
    assert.ok(delete attrs['__proto__']);
    assert.equal(Object.keys(attrs).filter((k) => k === '__proto__'), []);
  }
});

test('a parser reset in the middle of a stanza keeps nothing of it: later stanzas are not attached to what was open', async () => {
  // The GC must be callable to see what the parser still holds; Node allows turning it on at run time.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const r = recorder();
  // A stanza left open three deep by an error, then the stream restarted from outside.
  r.parser.write(bytes(`${HEADER}<message><body><b>&bad;`));
  assert.is(r.events.at(-1)?.[0], 'error');
  r.parser.reset();
  r.parser.write(bytes(`${HEADER}<message><body>kept only by the consumer</body></message>`));
  assert.is(r.elements.length, 1);
  const ref = new WeakRef(r.elements[0] as XmlElement);
  r.elements.length = 0;
  r.events.length = 0;
  // A WeakRef's target is kept until the current job ends.
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await tick();
    gc();
  }
  assert.is(ref.deref(), undefined, 'the delivered stanza is still referenced by the parser');
  // The parser is alive and well.
  r.parser.write(bytes('<iq/>'));
  assert.is(r.elements.length, 1);
});

/** The error a parser reports for `input` cut into chunks of `size` bytes. */
function errorOf(input: Buffer, size: number, reused = false): StreamParseError {
  let error: StreamParseError | undefined;
  const parser = new StanzaParser({ onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError: (e) => (error = e) });
  if (reused) {
    // A whole stream first, a stanza left open, then a restart: the parser must be as new.
    parser.write(bytes(`${HEADER}<a/>  <b>`));
    parser.reset();
  }
  for (let i = 0; i < input.length; i += size) parser.write(input.subarray(i, i + size));
  assert.ok(error, 'no error reported');
  return error;
}

test('an error is located at its byte in the stream, after multi-byte characters too, however the input was cut', () => {
  // Each input once with ASCII letters and once with as many multi-byte characters in their place:
  // the ASCII run's offset counts characters, so the other's must be the UTF-8 length of that many
  // characters of its own text.
  const cases: Array<[string, (t: string) => string]> = [
    ['an undefined entity', (t) => `${HEADER}<m>${t}&bad;</m>`],
    ['a mismatched end tag', (t) => `${HEADER}<m>${t}</n>`],
    ['a comment', (t) => `${HEADER}<m a='${t}'><!-- --></m>`],
    ['text between stanzas', (t) => `${HEADER}<m>${t}</m>q${t}`],
    ['CDATA between stanzas', (t) => `${HEADER}<m>${t}</m><![CDATA[${t}]]>`],
    ['a control character', (t) => `${HEADER}<m>${t}${t}\u0001</m>`],
    ['text before the header', (t) => ` \n${t}${HEADER}`],
  ];
  // Each UTF-8 length at its boundaries, and surrogate pairs at the ends of their ranges.
  const wide = 'é東🎉\u0080\u07ff\u0800\ud7ff\ue000\u{10000}\u{103ff}\u{10fc00}\u{10ffff}';
  const ascii = 'x'.repeat([...wide].length);
  for (const [what, make] of cases) {
    const wideText = make(wide);
    const base = errorOf(bytes(make(ascii)), 1 << 20);
    const expected = Buffer.byteLength([...wideText].slice(0, base.offset).join(''));
    for (const size of [Buffer.byteLength(wideText), 1, 2, 3, 5]) {
      const e = errorOf(bytes(wideText), size);
      assert.is(e.code, base.code, `${what}: code`);
      assert.is(e.offset, expected, `${what}: offset in chunks of ${size}`);
    }
  }
  // An invalid byte: the offset is just past it.
  const before = bytes(`${HEADER}<m>é東🎉`);
  const input = Buffer.concat([before, Buffer.from([0xff]), bytes('</m>')]);
  for (const size of [input.length, 1, 2, 3]) assert.is(errorOf(input, size).offset, before.length + 1, `invalid byte, chunks of ${size}`);
});

/** A parser that has read a whole stream, stanza cut short, and was reset: it must be as new. */
function afterReset<P = never>(options: Parameters<typeof recorder<P>>[0] = {}): ReturnType<typeof recorder<P>> {
  const r = recorder<P>(options);
  r.parser.write(bytes(`${HEADER}<a/>  <b>`));
  r.parser.reset();
  r.events.length = 0;
  r.elements.length = 0;
  return r;
}

test('text before the stream header is refused at the character itself, before any more bytes arrive', () => {
  const decl = "<?xml version='1.0'?>";
  const cases: Array<[string, string]> = [
    ['after whitespace', ' \t\r\nx'],
    ['right after the XML declaration', `${decl}x`],
    ['after the declaration and whitespace', `${decl}\n é`],
    ['after a declaration with a space before its end', "<?xml version='1.0' ?> x"],
    ['after a declaration whose quoted values hold ?', `<?xml version="1.0" encoding='UTF-8'?>\tx`],
  ];
  for (const [what, input] of cases) {
    const buf = bytes(input);
    // The offset is just past the stray character: the whole input.
    for (const size of [buf.length, 1, 2]) {
      for (const reused of [false, true]) {
        const r = reused ? afterReset() : recorder();
        for (let i = 0; i < buf.length; i += size) r.parser.write(buf.subarray(i, i + size));
        assert.equal(r.events, [['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED']], `${what}, chunks of ${size}${reused ? ', after reset()' : ''}`);
      }
    }
    assert.is(errorOf(buf, 1).offset, buf.length, what);
    assert.is(errorOf(buf, 1, true).offset, buf.length, `${what}, after reset()`);
  }
});

test('a > or ? inside the XML declaration\'s quoted values does not end it: what follows is not taken for stray text', () => {
  for (const value of ['a>b', 'a?b']) {
    const input = bytes(`<?xml version='1.0' encoding='${value}'?><s/>`);
    const whole = errorOf(input, input.length);
    // saxes refuses the encoding name itself, at the same place however the input is cut.
    assert.is.not(whole.message, 'character data before the stream header', value);
    for (const size of [1, 2, 3]) assert.equal([errorOf(input, size).offset, errorOf(input, size).message], [whole.offset, whole.message], value);
  }
  // A processing instruction with a ? inside, before the header: refused as such when it ends.
  const pi = bytes(`<?xml version='1.0'?><?php a?b ?>`);
  for (const size of [pi.length, 1, 2]) assert.equal([errorOf(pi, size).code, errorOf(pi, size).offset], ['STREAM_ERR_RESTRICTED_XML', pi.length], `chunks of ${size}`);
});

test('quotes, > and ? inside the stream header are not mistaken for its end, and text after the header is text between stanzas', () => {
  const header = `<?xml version='1.0' ?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' a="it's > ?" b='say "hi" >' c="?>">`;
  for (const tail of ['<iq/>', ' x']) {
    const buf = bytes(header + tail);
    for (const size of [buf.length, 1, 3]) {
      const r = recorder();
      for (let i = 0; i < buf.length; i += size) r.parser.write(buf.subarray(i, i + size));
      assert.equal(r.events[0], ['open', { 'xmlns:stream': 'http://etherx.jabber.org/streams', a: "it's > ?", b: 'say "hi" >', c: '?>' }], `chunks of ${size}`);
      assert.equal(r.events[1], tail === '<iq/>' ? ['stanza', { name: 'iq', local: 'iq', prefix: '', uri: '', attrs: [], children: [] }] : ['error', 'bad-format', 'STREAM_ERR_BAD_FORMAT'], `${tail}, chunks of ${size}`);
    }
  }
});

test('limits must be positive numbers: zero, negative and NaN are refused with a RangeError naming both options', () => {
  const sink = { onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError() {} };
  for (const options of [{ maxStanzaBytes: 0 }, { maxStanzaBytes: -1 }, { maxStanzaBytes: Number.NaN }, { maxDepth: 0 }, { maxDepth: Number.NaN }]) {
    assert.throws(() => new StanzaParser(sink, options), (e: unknown) => e instanceof RangeError && e.message === 'maxStanzaBytes and maxDepth must be positive', JSON.stringify(options));
  }
  // The smallest of each is taken.
  const r = recorder({ maxDepth: 1, maxStanzaBytes: 1 << 20 });
  r.parser.write(bytes(`${HEADER}<a/><b><c/></b>`));
  assert.equal(r.events.slice(1).map((e) => e[0] === 'error' ? e[2] : e[0]), ['stanza', 'STREAM_ERR_TOO_DEEP']);
});

test('chunks given as Uint8Array views into a larger buffer parse exactly as Buffers do', () => {
  const input = bytes(`${HEADER}<message id="é"><body>東 🎉</body></message><iq/>`);
  const backing = new Uint8Array(input.length + 20);
  backing.set(input, 7);
  const r = recorder();
  for (let i = 0; i < input.length; i += 5) r.parser.write(new Uint8Array(backing.buffer, 7 + i, Math.min(5, input.length - i)));
  const expected = recorder();
  expected.parser.write(input);
  assert.equal(r.events, expected.events);
  assert.is(r.events.length, 3);
});

test('whitespace before the stream header counts against maxStanzaBytes with the header', () => {
  const header = HEADER.slice("<?xml version='1.0'?>".length);
  const input = bytes(`\n  ${header}`);
  for (const size of [input.length, 1, 7]) {
    assert.equal(parseChunked(input, size, { maxStanzaBytes: input.length })[0]?.[0], 'open', `chunks of ${size}`);
    assert.equal(parseChunked(input, size, { maxStanzaBytes: input.length - 1 }), [['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']], `chunks of ${size}`);
    // The same on a parser reset after a stream (a stanza left open in it).
    const r = afterReset({ maxStanzaBytes: input.length - 1 });
    for (let i = 0; i < input.length; i += size) r.parser.write(input.subarray(i, i + size));
    assert.equal(r.events, [['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']], `after reset(), chunks of ${size}`);
  }
  // Whitespace alone, never followed by a header, is refused once past the limit.
  assert.equal(parseChunked(bytes(' '.repeat(2000)), 100, { maxStanzaBytes: 1000 }), [['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']]);
});

test('done is false while a stream is open, true after its end or an error, false again after reset()', () => {
  const r = recorder();
  assert.is(r.parser.done, false);
  r.parser.write(bytes(`${HEADER}<a/>`));
  assert.is(r.parser.done, false);
  r.parser.write(bytes('</stream:stream>'));
  assert.is(r.parser.done, true);
  r.parser.reset();
  assert.is(r.parser.done, false);
  r.parser.write(bytes(`${HEADER}<a></b>`));
  assert.is(r.parser.done, true);
});

test('reset() called twice from one callback is the same as once: the rest of the chunk is the new stream', () => {
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='S2'><b/>";
  const input = bytes(`${HEADER}${second}`);
  for (const where of ['onStreamOpen', 'onStanza'] as const) {
    const events: string[] = [];
    let resets = 0;
    const parser: StanzaParser = new StanzaParser({
      onStreamOpen: (h) => {
        events.push(`open ${h.attrs['id']}`);
        if (where === 'onStreamOpen' && resets++ === 0) {
          parser.reset();
          parser.reset();
        }
      },
      onStanza: (el) => {
        events.push(el.name);
        if (where === 'onStanza' && el.name === 'a' && resets++ === 0) {
          parser.reset();
          parser.reset();
        }
      },
      onStreamEnd() {},
      onError: (e) => events.push(e.code),
    });
    parser.write(where === 'onStanza' ? bytes(`${HEADER}<a/>${second}`) : input);
    assert.equal(events, where === 'onStanza' ? ['open S1', 'a', 'open S2', 'b'] : ['open S1', 'open S2', 'b'], where);
  }
});

/** A shortcut for `<p><c/></p>` exactly: a stanza with a child. */
const withChild: StanzaShortcut<true> = {
  name: 'p',
  createMatcher: () => ({
    reset() {},
    release() {},
    scan: (buf, start, end) => {
      const close = buf.indexOf('</p>', start, 'latin1');
      return close !== -1 && close + 4 <= end ? close : SCAN_DECLINE;
    },
    match: (buf, start, close) => (buf.toString('latin1', start, close) === '<p><c/>' ? true : undefined),
    element: (_parts, ns) => new XmlElement('p', 'p', '', ns, {}, [new XmlElement('c', 'c', '', ns, {}, [])]),
  }),
};

test('with maxDepth 1 a shortcut is not used: a stanza it would take, with a child, is refused as too deep', () => {
  const input = bytes(`${HEADER}<p><c/></p>`);
  assert.equal(parseChunked(input, 1 << 20, { shortcut: withChild, maxDepth: 1 }).at(-1), ['error', 'policy-violation', 'STREAM_ERR_TOO_DEEP']);
  assert.equal(parseChunked(input, 1 << 20, { shortcut: withChild, maxDepth: 2 }).at(-1)?.[0], 'stanza');
});

test('each refusal says what was wrong', () => {
  const root = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
  const cases: Array<[string, string, { maxStanzaBytes?: number; maxDepth?: number }, string]> = [
    [`${root}<!-- c -->`, 'STREAM_ERR_RESTRICTED_XML', {}, 'comments are not allowed in XMPP'],
    [`${root}<?php x?>`, 'STREAM_ERR_RESTRICTED_XML', {}, 'processing instructions are not allowed in XMPP'],
    ["<?xml version='1.0'?><!DOCTYPE s>", 'STREAM_ERR_RESTRICTED_XML', {}, 'a DTD is not allowed in XMPP'],
    ["<s:features xmlns:s='http://etherx.jabber.org/streams'>", 'STREAM_ERR_INVALID_NAMESPACE', {}, 'stream root must be <stream> in http://etherx.jabber.org/streams'],
    [root.replace('>', ` pad='${'p'.repeat(40)}'>`), 'STREAM_ERR_STANZA_TOO_LARGE', { maxStanzaBytes: 80 }, 'stream header larger than 80 bytes'],
    [`${root}<a><b><c/></b></a>`, 'STREAM_ERR_TOO_DEEP', { maxDepth: 2 }, 'elements nested deeper than 2'],
    [`${root}<a>${'x'.repeat(100)}</a>`, 'STREAM_ERR_STANZA_TOO_LARGE', { maxStanzaBytes: 90 }, 'stanza larger than 90 bytes'],
    [`${root}<![CDATA[x]]>`, 'STREAM_ERR_BAD_FORMAT', {}, 'CDATA between stanzas'],
    [`${root}hi`, 'STREAM_ERR_BAD_FORMAT', {}, 'character data between stanzas'],
    ["<?xml version='1.0' encoding='latin1'?>", 'STREAM_ERR_UNSUPPORTED_ENCODING', {}, 'encoding latin1 is not UTF-8'],
    ['x', 'STREAM_ERR_NOT_WELL_FORMED', {}, 'character data before the stream header'],
  ];
  for (const [input, code, options, message] of cases) {
    let error: StreamParseError | undefined;
    new StanzaParser({ onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError: (e) => (error ??= e) }, options).write(bytes(input));
    assert.equal([error?.code, error?.message], [code, message], input);
    const condition = { RESTRICTED_XML: 'restricted-xml', INVALID_NAMESPACE: 'invalid-namespace', STANZA_TOO_LARGE: 'policy-violation', TOO_DEEP: 'policy-violation', BAD_FORMAT: 'bad-format', UNSUPPORTED_ENCODING: 'unsupported-encoding', NOT_WELL_FORMED: 'not-well-formed' }[code.slice('STREAM_ERR_'.length)];
    assert.is(error?.condition, condition, input);
  }
  let error: StreamParseError | undefined;
  const p = new StanzaParser({ onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError: (e) => (error = e) });
  p.write(Buffer.concat([bytes(`${root}<a>`), Buffer.from([0xff, 0x41])]));
  assert.equal([error?.code, error?.message], ['STREAM_ERR_NOT_WELL_FORMED', 'input is not valid UTF-8']);
});

test('a stanza already past the limit when another error comes is refused for its size, however the input was cut', () => {
  // The limit was broken first: the verdict must not depend on whether the chunk that broke it also held the bad byte.
  for (const bad of ['&bad;', '</b>', '\u0001']) {
    const input = bytes(`${HEADER}<a>${'x'.repeat(300)}${bad}</a>`);
    for (const size of [input.length, 1, 64]) {
      assert.equal(parseChunked(input, size, { maxStanzaBytes: 200 }).at(-1), ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE'], `${JSON.stringify(bad)}, chunks of ${size}`);
    }
  }
});

test('a lead byte left at the end of a chunk between stanzas is judged with the next chunk even when a shortcut could take over', () => {
  // `<y/>` goes through saxes (the toy shortcut takes `<x>`); then a lone 0xC3, whose next byte is
  // `<`: the invalid byte must be reported before anything after it, not skipped by the framer.
  const first = Buffer.concat([bytes(`${HEADER}<y/>`), Buffer.from([0xc3])]);
  const second = bytes('<x>ab</x><x>c</x>');
  for (const options of [{}, { shortcut: toy }]) {
    const r = recorder(options);
    r.parser.write(first);
    r.parser.write(second);
    assert.equal(r.events.slice(1).map((e) => e[0] === 'error' ? e[2] : e[0]), ['stanza', 'STREAM_ERR_NOT_WELL_FORMED'], options.shortcut ? 'toy shortcut' : 'saxes');
  }
});

test('a stream that declares XML 1.1 is still read as XML 1.0 (RFC 6120 §11.1): a reference to U+0001 is refused', () => {
  const input = bytes("<?xml version='1.1'?>" + HEADER.slice("<?xml version='1.0'?>".length) + '<message><body>&#1;</body></message>');
  assert.equal(parseChunked(input, 1 << 20).at(-1), ['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED']);
});

test('a reset() from onError in the middle of a chunk: the old stream reports nothing more, the rest of the chunk is the new stream', () => {
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='S2'>";
  const events: string[] = [];
  let resets = 0;
  const parser: StanzaParser = new StanzaParser({
    onStreamOpen: (h) => events.push(`open ${h.attrs['id']}`),
    onStanza: (el) => events.push(el.name),
    onStreamEnd: () => events.push('end'),
    onError: (e) => {
      events.push(e.code);
      if (resets++ === 0) parser.reset();
    },
  });
  parser.write(bytes(`${HEADER}<a>&bad;${second}<c/>`));
  assert.equal(events, ['open S1', 'STREAM_ERR_NOT_WELL_FORMED', 'open S2', 'c']);
});

test('a chunk that starts with an invalid byte between stanzas is not-well-formed, not text', () => {
  for (const options of [{}, { shortcut: toy }]) {
    const r = recorder(options);
    r.parser.write(bytes(`${HEADER}<y/> `));
    r.parser.write(Buffer.from([0xff, 0x3c, 0x61, 0x2f, 0x3e]));
    assert.equal(r.events.at(-1), ['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'], JSON.stringify(options));
  }
});

test('with a shortcut plugged in, errors are located at the same byte as without, after hand-backs between the two paths', () => {
  const inputs = [
    `${HEADER}<y/><x>ab</x> <y>${'q'.repeat(50)}é&bad;</y>`,
    `${HEADER}<x>ab</x><y>é</y><x>c</x>\n<y>東${'q'.repeat(40)}</z>`,
    `${HEADER}<y>é</y><x>ab</x><y><![CDATA[🎉]]></y> <x>d</x>q`,
  ];
  for (const input of inputs) {
    const buf = bytes(input);
    const reference = errorOf(buf, buf.length);
    for (const size of [buf.length, 1, 7, 16]) {
      let error: StreamParseError | undefined;
      const parser = new StanzaParser({ onStreamOpen() {}, onStanza() {}, onShortcut: () => true, onStreamEnd() {}, onError: (e) => (error = e) }, { shortcut: toy });
      for (let i = 0; i < buf.length; i += size) parser.write(buf.subarray(i, i + size));
      assert.equal([error?.code, error?.offset], [reference.code, reference.offset], `${input.slice(HEADER.length)} in chunks of ${size}`);
    }
  }
});

test('an error in a stanza within the limit is reported as itself, one over it as the limit, and the message says which', () => {
  const stanza = `<a>${'x'.repeat(100)}&bad;</a>`;
  // The error is found at the `;`: its offset from the stanza's start decides.
  const at = stanza.indexOf(';') + 1;
  for (const [max, code, message] of [
    [at, 'STREAM_ERR_NOT_WELL_FORMED', 'undefined entity.'],
    [at - 1, 'STREAM_ERR_STANZA_TOO_LARGE', `stanza larger than ${at - 1} bytes`],
  ] as const) {
    let error: StreamParseError | undefined;
    const parser = new StanzaParser({ onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError: (e) => (error = e) }, { maxStanzaBytes: max });
    parser.write(bytes("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"));
    // Up to the `;` only: what follows it would cross the limit on its own.
    parser.write(bytes(stanza.slice(0, at)));
    assert.is(error?.code, code, `limit ${max}`);
    assert.ok(error?.message.endsWith(message), `${error?.message}`);
  }
});

test('without a default namespace in the header, the stanzas a shortcut takes are in no namespace, as saxes reads them', () => {
  const input = bytes("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><x>ab</x><y/><x>c</x>");
  assert.equal(parseChunked(input, 1 << 20, { shortcut: toy }), parseChunked(input, 1 << 20));
  assert.equal(parseChunked(input, 1 << 20, { shortcut: toy })[1], ['stanza', { name: 'x', local: 'x', prefix: '', uri: '', attrs: [], children: ['ab'] }]);
});

test('a stanza the shortcut takes reaches onShortcut once and onStanza never; one it declines reaches onStanza once', () => {
  const calls: string[] = [];
  const parser = new StanzaParser<string>({
    onStreamOpen() {},
    onShortcut: (text) => (calls.push(`parts ${text}`), text !== 'no'),
    onStanza: (el) => calls.push(`element ${el.name} ${el.text()}`),
    onStreamEnd() {},
    onError: (e) => calls.push(e.code),
  }, { shortcut: toy });
  parser.write(bytes(`${HEADER}<x>ab</x><x>no</x><y>c</y>`));
  assert.equal(calls, ['parts ab', 'parts no', 'element x no', 'element y c']);
});

test('a reset() from onShortcut: nothing more of the old stream, the rest of the chunk is the new stream', () => {
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'>";
  for (const taken of [true, false]) {
    const calls: string[] = [];
    let resets = 0;
    const parser: StanzaParser<string> = new StanzaParser<string>({
      onStreamOpen: (h) => calls.push(`open ${h.attrs['id']}`),
      onShortcut: (text) => {
        calls.push(`parts ${text}`);
        if (text === 'reset' && resets++ === 0) parser.reset();
        return taken;
      },
      onStanza: (el) => calls.push(`element ${el.name}`),
      onStreamEnd() {},
      onError: (e) => calls.push(e.code),
    }, { shortcut: toy });
    parser.write(bytes(`${HEADER}<x>reset</x>${second}<x>b</x><y/>`));
    assert.equal(calls, ['open S1', 'parts reset', 'open S2', 'parts b', ...(taken ? [] : ['element x']), 'element y'], `taken ${taken}`);
  }
  // What follows in the chunk belongs to the new stream even when it looks like the old one's next stanza.
  const calls: string[] = [];
  const parser: StanzaParser<string> = new StanzaParser<string>({
    onStreamOpen() {},
    onShortcut: (text) => (calls.push(`parts ${text}`), text === 'reset' && parser.reset(), true),
    onStanza: (el) => calls.push(`element ${el.name}`),
    onStreamEnd() {},
    onError: (e) => calls.push(e.code),
  }, { shortcut: toy });
  parser.write(bytes(`${HEADER}<x>reset</x><x>b</x>`));
  assert.equal(calls, ['parts reset', 'STREAM_ERR_INVALID_NAMESPACE']);
});

test('a stream whose very first byte is not UTF-8 is refused', () => {
  const r = recorder();
  r.parser.write(Buffer.concat([Buffer.from([0xff]), bytes(HEADER.slice("<?xml version='1.0'?>".length))]));
  r.parser.write(bytes('<a/>'));
  assert.equal(r.events, [['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED']]);
});

test('what stands before stray text in the prolog is still judged first: a declared encoding other than UTF-8', () => {
  assert.equal(parseChunked(bytes("<?xml version='1.0' encoding='latin1'?>x"), 1 << 20), [['error', 'unsupported-encoding', 'STREAM_ERR_UNSUPPORTED_ENCODING']]);
});

test('write() from inside a callback (saxes\' or the shortcut\'s) throws a clear error instead of overwriting the chunk being read; the outer write goes on', () => {
  const seen: string[] = [];
  const nested: unknown[] = [];
  const writeNested = (): void => {
    try {
      parser.write(bytes(`<iq id='nested'/>`));
    } catch (err) {
      nested.push(err);
    }
  };
  const parser: StanzaParser<string> = new StanzaParser<string>(
    {
      onStreamOpen() {},
      onStanza: (el) => {
        seen.push(`iq ${el.attrs['id']}`);
        if (el.attrs['id'] === '1') writeNested();
      },
      onShortcut: (text) => {
        seen.push(`x ${text}`);
        writeNested();
        return true;
      },
      onStreamEnd() {},
      onError: (e) => assert.unreachable(e.message),
    },
    { shortcut: toy },
  );
  // Small chunks are read in the framer's own buffer, which a nested write would reuse.
  parser.write(bytes(`${HEADER}<iq id='1'/><x>ab</x><x>cd</x><iq id='2'/>`));
  assert.is(nested.length, 3);
  for (const err of nested) {
    assert.instance(err, Error);
    assert.match((err as Error).message, 'called from inside one of its callbacks');
  }
  assert.equal(seen, ['iq 1', 'x ab', 'x cd', 'iq 2'], 'the nested bytes were not taken; the outer chunk was read whole');
  parser.write(bytes(`<iq id='3'/>`));
  assert.equal(seen.at(-1), 'iq 3', 'after the callback, write() works again');
});

test.run();
