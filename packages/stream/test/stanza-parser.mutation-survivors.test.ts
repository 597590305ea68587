import { setImmediate as tick } from 'node:timers/promises';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StanzaParser, type StreamParseError, type XmlElement } from '../src/index.js';
import { HEADER, bytes, recorder } from './helpers.js';

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
function errorOf(input: Buffer, size: number): StreamParseError {
  let error: StreamParseError | undefined;
  const parser = new StanzaParser({ onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError: (e) => (error = e) });
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
      const r = recorder();
      for (let i = 0; i < buf.length; i += size) r.parser.write(buf.subarray(i, i + size));
      assert.equal(r.events, [['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED']], `${what}, chunks of ${size}`);
    }
    assert.is(errorOf(buf, 1).offset, buf.length, what);
  }
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

test.run();
