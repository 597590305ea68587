import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SCAN_DECLINE, SCAN_WAIT, StanzaParser, XmlElement, type StanzaParserOptions, type StanzaShortcut, type StanzaShortcutMatcher } from '../src/index.js';
import { HEADER, bytes } from './helpers.js';
import { ToyMatcher, toy } from './toy-shortcut.js';

// The framer's side of the shortcut seam. The differential properties (shortcut.properties) prove
// that a shortcut changes nothing that is reported; they pass just as well for a framer that hands
// every stanza to saxes. What a shortcut is for — its stanzas reach onShortcut, read from the bytes
// — is pinned here (test/README.md, "Mutation testing").

type Seen = ['short', string] | ['stanza', string] | ['open'] | ['end'] | ['error', string, number];

/**
 * A parser with the toy shortcut (unless `options` gives another) that records what it reports;
 * onShortcut takes the parts unless `decline` says no. A stanza or parts `r` restart the stream.
 */
function watch(options: StanzaParserOptions<string> = {}, decline = (_: string) => false): { parser: StanzaParser<string>; out: Seen[] } {
  const out: Seen[] = [];
  const parser: StanzaParser<string> = new StanzaParser<string>(
    {
      onShortcut: (text) => {
        if (decline(text)) return false;
        out.push(['short', text]);
        if (text === 'r') parser.reset();
        return true;
      },
      onStreamOpen: () => out.push(['open']),
      onStanza: (el) => {
        out.push(['stanza', `${el.name}:${el.text()}`]);
        if (el.text() === 'r') parser.reset();
      },
      onStreamEnd: () => out.push(['end']),
      onError: (e) => out.push(['error', e.code, e.offset]),
    },
    { shortcut: toy, ...options },
  );
  return { parser, out };
}

/** Writes `input` cut at `cuts` (ascending) to `parser`. */
function writeCut(parser: StanzaParser<string>, input: Buffer, cuts: number[]): void {
  let prev = 0;
  for (const cut of [...cuts, input.length]) {
    parser.write(input.subarray(prev, cut));
    prev = cut;
  }
}

/** What `input` cut at `cuts` reports (see {@link watch}). */
function seen(input: Buffer, cuts: number[], options: StanzaParserOptions<string> = {}, decline = (_: string) => false): Seen[] {
  const { parser, out } = watch(options, decline);
  writeCut(parser, input, cuts);
  return out;
}

// Whitespace of every kind before stanzas of the shape, after the header, after a stanza saxes
// read, after one the toy declines (attributes, a self-closing tag, another name starting with x).
const MIX =
  `${HEADER}<x>ab</x> <x></x>\n<y>q</y><x>cd</x>\t<x a='1'>e</x>\r<x>f</x><x/><xy>z</xy>` +
  ` \r\n\t <x>gh</x><x >i</x><x>jk</x></stream:stream>`;
const MIX_SEEN: Seen[] = [
  ['open'],
  ['short', 'ab'],
  ['short', ''],
  ['stanza', 'y:q'],
  ['short', 'cd'],
  ['stanza', 'x:e'],
  ['short', 'f'],
  ['stanza', 'x:'],
  ['stanza', 'xy:z'],
  ['short', 'gh'],
  ['stanza', 'x:i'],
  ['short', 'jk'],
  ['end'],
];

test('every stanza of the shortcut\'s shape reaches onShortcut, and only those, whole and cut at any one byte or any two', () => {
  const input = bytes(MIX);
  assert.equal(seen(input, []), MIX_SEEN, 'whole');
  const from = Buffer.byteLength(HEADER) - 3;
  for (let a = from; a < input.length; a++) {
    assert.equal(seen(input, [a]), MIX_SEEN, `cut at ${a}`);
    for (let b = a + 1; b < input.length; b += 5) assert.equal(seen(input, [a, b]), MIX_SEEN, `cut at ${a} and ${b}`);
  }
  for (const size of [1, 2, 3, 5, 7]) {
    const cuts: number[] = [];
    for (let i = size; i < input.length; i += size) cuts.push(i);
    assert.equal(seen(input, cuts), MIX_SEEN, `chunks of ${size}`);
  }
});

test('a stanza the shortcut declines reaches onStanza as the element, and the framer takes the next one', () => {
  const input = bytes(`${HEADER}<x>ab</x><x>c</x> <x>de</x><x>fgh</x>`);
  const expected: Seen[] = [['open'], ['short', 'ab'], ['stanza', 'x:c'], ['short', 'de'], ['stanza', 'x:fgh']];
  for (let a = 0; a < input.length; a++) assert.equal(seen(input, [a], {}, (t) => t.length % 2 === 1), expected, `cut at ${a}`);
});

test('a long stanza of the shape cut by chunk boundaries still reaches onShortcut, wherever its end falls, and so do the stanzas after it, in small chunks and large ones', () => {
  const many = 500;
  for (const len of [0, 1, 1000, 1021, 1022, 1023, 1024, 1025, 3000, 4100, 9000]) {
    const text = 'a'.repeat(len);
    // The stanzas after it make the chunk that ends it larger than the framer copies whole.
    const input = bytes(`${HEADER}<x>${text}</x>${' <x>b</x>'.repeat(many)}<y/><x>c</x>`);
    const expected: Seen[] = [['open'], ['short', text], ...Array.from({ length: many }, (): Seen => ['short', 'b']), ['stanza', 'y:'], ['short', 'c']];
    const start = Buffer.byteLength(HEADER);
    const end = start + 7 + len;
    // Cut inside the start tag, the text, the end tag, and again in the next chunk.
    for (const first of [start + 1, start + 2, start + 3, start + 3 + (len >> 1), end - 4, end - 3, end - 1]) {
      for (const second of [first + 1, first + 5, first + 1024, first + 1030, end, end + 3, end + 20, end + 4000, input.length - 1]) {
        const cuts = second > first && second < input.length ? [first, second] : [first];
        assert.equal(seen(input, cuts), expected, `length ${len}, cut at ${cuts.join(', ')}`);
      }
    }
  }
});

/** What `seen` reports, with the shortcut's parts written as the element saxes gives for them. */
const asSaxes = (events: Seen[]): Seen[] => events.map((e) => (e[0] === 'short' ? ['stanza', `x:${e[1]}`] : e));

/** Ways of cutting `input` once after `from` (every `first` bytes), and twice with the second cut every `step` bytes. */
function cutsAfter(input: Buffer, from: number, step = 3, first = 1): number[][] {
  const out: number[][] = [[]];
  for (let a = from; a < input.length; a += first) {
    out.push([a]);
    for (let b = a + 1; b < input.length; b += step) out.push([a, b]);
  }
  return out;
}

test('a parser reset while a stanza of the shape waits for its end (or for its name) forgets it: the new stream is read from its own bytes', () => {
  for (const waiting of ['<', '<x', '<x>', '<x>ab', '<x>ab</', '<x>ab</x']) {
    for (const next of ['<x>cd</x>', '<y>q</y><x>cd</x>']) {
      const input = bytes(HEADER + next);
      const expected: Seen[] = next.startsWith('<y') ? [['open'], ['stanza', 'y:q'], ['short', 'cd']] : [['open'], ['short', 'cd']];
      for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER) - 2, 2)) {
        const { parser, out } = watch();
        parser.write(bytes(HEADER + waiting));
        assert.equal(out, [['open']], waiting);
        out.length = 0;
        parser.reset();
        writeCut(parser, input, cuts);
        assert.equal(out, expected, `${waiting} then ${next}, cut at ${cuts.join(', ')}`);
      }
    }
  }
});

test('a reset() from onShortcut, for a stanza cut by a chunk boundary too, parses the rest of the chunk as the new stream', () => {
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'>";
  const input = bytes(`${HEADER}<x>a</x> <x>r</x>${second}<x>b</x><y>c</y>`);
  const expected: Seen[] = [['open'], ['short', 'a'], ['short', 'r'], ['open'], ['short', 'b'], ['stanza', 'y:c']];
  for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER), 5)) {
    assert.equal(seen(input, cuts), expected, `cut at ${cuts.join(', ')}`);
    assert.equal(seen(input, cuts, { shortcut: undefined }), asSaxes(expected), `without the shortcut, cut at ${cuts.join(', ')}`);
  }
});

test('a reset() from onShortcut, or an error, in a stanza held across chunks that the next large chunk (read in place) ends: the new stream starts, the error is located, where they would without a shortcut', () => {
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'>";
  const tail = ' <x>b</x>'.repeat(600);
  const restart = bytes(`${HEADER}<x>a</x> <x>r</x>${second}${tail}<y>c</y>`);
  const h = Buffer.byteLength(HEADER) + 9;
  for (const cut of [h + 1, h + 3, h + 4, h + 6]) {
    const expected = seen(restart, [cut], { shortcut: undefined });
    assert.equal(expected.length, 605);
    assert.equal(asSaxes(seen(restart, [cut])), expected, `restart, cut at ${cut}`);
  }
  for (const bad of ['<x>ab&c;</x>', '<x>ab</y>', '<x>a\u0000</x>']) {
    const input = bytes(`${HEADER}<x>z</x> ${bad}${' '.repeat(5000)}`);
    for (let cut = h; cut < h + bad.length; cut++) {
      const plain = seen(input, [cut], { shortcut: undefined });
      assert.equal(plain.at(-1)?.[0], 'error', bad);
      assert.equal(asSaxes(seen(input, [cut])), plain, `${bad}, cut at ${cut}`);
    }
  }
});

test('errors in a stanza of the shape, whole or held across chunks, are located at the byte saxes locates them without a shortcut', () => {
  for (const bad of ['<x>ab&c;</x>', '<x>ab</y>', '<x>a<</x>', '<x>a\u0000</x>', '<x>ab</x>q', '<x>ab</x><!-- c -->', '<x>aé\udc00</x>', `<x>${'a'.repeat(1500)}&bad;</x>`]) {
    const input = Buffer.concat([bytes(`${HEADER}<x>z</x> `), bad.includes('\udc00') ? Buffer.concat([bytes('<x>aé'), Buffer.from([0xff]), bytes('</x>')]) : bytes(bad)]);
    const long = bad.length > 100;
    for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER), long ? 97 : 7, long ? 11 : 1)) {
      const plain = seen(input, cuts, { shortcut: undefined });
      assert.equal(plain.at(-1)?.[0], 'error', bad);
      assert.equal(asSaxes(seen(input, cuts)), plain, `${bad}, cut at ${cuts.join(', ')}`);
    }
  }
});

test('a stanza of the shape is taken up to exactly maxStanzaBytes, whole or cut; one byte longer is refused as too large where saxes refuses it, and one that grows past the limit without its end is refused in the chunk that crosses it', () => {
  const text = 'a'.repeat(300);
  const size = Buffer.byteLength(`<x>${text}</x>`);
  const input = bytes(`${HEADER}<x>b</x><x>${text}</x><x>c</x>`);
  for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER) + 6, 31, 3)) {
    assert.equal(seen(input, cuts, { maxStanzaBytes: size }), [['open'], ['short', 'b'], ['short', text], ['short', 'c']], `at the limit, cut at ${cuts.join(', ')}`);
    const over = seen(input, cuts, { maxStanzaBytes: size - 1 });
    assert.equal(over.slice(0, 2), [['open'], ['short', 'b']]);
    assert.equal(over.slice(2), seen(input, cuts, { maxStanzaBytes: size - 1, shortcut: undefined }).slice(2), `over the limit, cut at ${cuts.join(', ')}`);
    assert.equal(over[2]?.[1], 'STREAM_ERR_STANZA_TOO_LARGE');
  }
  // No end in sight: after every chunk, what was reported is what saxes alone reported.
  const endless = bytes(`${HEADER}<x>b</x><x>${'a'.repeat(12000)}`);
  for (const chunk of [7, 64, 500, 1100, 5000]) {
    const a = progress(endless, chunk, { maxStanzaBytes: 400 });
    assert.equal(a, progress(endless, chunk, { maxStanzaBytes: 400, shortcut: undefined }).map((e) => e.map((x) => (x[0] === 'stanza' ? ['short', x[1].slice(2)] : x)) as Seen[]), `chunks of ${chunk}`);
    assert.equal(a.at(-1)?.at(-1)?.[1], 'STREAM_ERR_STANZA_TOO_LARGE');
  }
});

/** What had been reported after each chunk of `size` bytes. */
function progress(input: Buffer, size: number, options: StanzaParserOptions<string>): Seen[][] {
  const { parser, out } = watch(options);
  const after: Seen[][] = [];
  for (let i = 0; i < input.length; i += size) {
    parser.write(input.subarray(i, i + size));
    after.push([...out]);
  }
  return after;
}

/** A shortcut named `x` whose matcher is `make()`. */
const shortcutOf = (make: () => StanzaShortcutMatcher<string>): StanzaShortcut<string> => ({ name: 'x', createMatcher: make });

test('a matcher that breaks its contract cannot make the parser lose or invent a stanza: what it points at is checked, and what it held back goes to saxes', () => {
  // Each liar answers scan() wrongly in one way; the toy's match() still declines what is not of the shape.
  class Liar extends ToyMatcher {
    private calls = 0;
    constructor(private readonly lie: (truth: number, start: number, end: number, call: number) => number) {
      super();
    }
    override reset(): void {
      this.calls = 0;
    }
    override scan(buf: Buffer, start: number, end: number): number {
      return this.lie(super.scan(buf, start, end), start, end, this.calls++);
    }
  }
  const liars: Array<[string, (truth: number, start: number, end: number, call: number) => number]> = [
    ['waits once though </x> has arrived', (t, _s, _e, call) => (call === 0 ? SCAN_WAIT : t)],
    ['waits twice', (t, _s, _e, call) => (call < 2 ? SCAN_WAIT : t)],
    ['points one byte early', (t) => (t >= 0 ? t - 1 : t)],
    ['points one byte late', (t) => (t >= 0 ? t + 1 : t)],
    ['points at the start', (t, s) => (t >= 0 ? s : t)],
    ['points past the end', (t, _s, e) => (t >= 0 ? e - 2 : t)],
    ['declines with another negative number', (t) => (t === SCAN_DECLINE ? -3 : t)],
  ];
  // A liar that waits holds the stanzas from there on until more bytes come (one chunk per stanza
  // and lie): it delays them, never loses or reorders them. Enough one-byte chunks follow.
  const stanzas = bytes(`${HEADER}<x>a</x><x>b</x> <x>cd</x><y>e</y><x>f</x><x>g</x>`);
  const input = Buffer.concat([stanzas, bytes(`${' '.repeat(16)}<y/>`)]);
  const tail: number[] = [];
  for (let i = stanzas.length; i < input.length; i++) tail.push(i);
  for (const [what, lie] of liars) {
    for (const cuts of cutsAfter(stanzas, Buffer.byteLength(HEADER), 4).map((c) => [...c, ...tail])) {
      const plain = seen(input, cuts, { shortcut: undefined });
      assert.equal(asSaxes(seen(input, cuts, { shortcut: shortcutOf(() => new Liar(lie)) })), plain, `a matcher that ${what}, cut at ${cuts.join(', ')}`);
    }
  }
});

test('the matcher is used as its contract says: asked only about stanzas of the shape, told of each new stanza by reset(), and a stanza it waited for comes back longer from the same start, never judged again from scratch', () => {
  const problems: string[] = [];
  class Checked extends ToyMatcher {
    /** The bytes of the stanza it last waited for, until it is done with it. */
    private waitedFor: string | null = null;
    /** A stanza it waited for and was then told to forget. */
    private dropped: string | null = null;
    private fresh = true;
    override reset(): void {
      if (this.waitedFor !== null) this.dropped = this.waitedFor;
      this.waitedFor = null;
      this.fresh = true;
    }
    override scan(buf: Buffer, start: number, end: number): number {
      const b = buf.toString('latin1', start, end);
      if (!/^<x[>\t\n\r ]/.test(b)) problems.push(`asked about ${JSON.stringify(b)}`);
      if (!this.fresh && (this.waitedFor === null || !b.startsWith(this.waitedFor) || b.length <= this.waitedFor.length)) {
        problems.push(`${JSON.stringify(b)} without a reset() after ${JSON.stringify(this.waitedFor)}`);
      }
      if (this.fresh && this.dropped !== null && b.startsWith(this.dropped)) problems.push(`${JSON.stringify(b)} judged again from scratch`);
      this.fresh = false;
      this.dropped = null;
      const at = super.scan(buf, start, end);
      this.waitedFor = at === SCAN_WAIT ? b : null;
      return at;
    }
  }
  const inputs = [bytes(MIX), bytes(`${HEADER}<x>${'a'.repeat(1100)}</x><x>b</x> <x>${'c'.repeat(40)}</x>`)];
  for (const input of inputs) {
    for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER) - 2, input.length > 1000 ? 101 : 3, input.length > 1000 ? 7 : 1)) {
      const { parser, out } = watch({ shortcut: shortcutOf(() => new Checked()) });
      writeCut(parser, input, cuts);
      assert.ok(out.length > 3);
      assert.equal(problems, [], `cut at ${cuts.join(', ')}`);
    }
  }
  // A stanza waiting across a reset() of the parser: the new stream's stanzas are new to the matcher.
  const { parser } = watch({ shortcut: shortcutOf(() => new Checked()) });
  for (const part of ['<', 'x', '>a', 'b']) parser.write(bytes(part === '<' ? HEADER + part : part));
  parser.reset();
  for (const part of [HEADER, '<x>a', 'b</x>', '<', 'x>c', 'd</x>']) parser.write(bytes(part));
  assert.equal(problems, [], 'across a reset()');
});

/** A matcher for `<name>letters</name>` that reads bytes, whatever the name's UTF-8 length. */
class NamedMatcher implements StanzaShortcutMatcher<string> {
  private readonly open: Buffer;
  private readonly close: Buffer;
  constructor(private readonly name: string) {
    this.open = Buffer.from(`<${name}>`);
    this.close = Buffer.from(`</${name}>`);
  }
  reset(): void {}
  release(): void {}
  scan(buf: Buffer, start: number, end: number): number {
    const at = buf.subarray(0, end).indexOf(this.close, start);
    if (at !== -1) return at;
    // Wait only while the bytes are a beginning of `<name>letters</name>`.
    let i = start;
    for (let k = 0; k < this.open.length && i < end; k++, i++) if (buf[i] !== this.open[k]) return SCAN_DECLINE;
    while (i < end && (buf[i] as number) >= 0x61 && (buf[i] as number) <= 0x7a) i++;
    for (let k = 0; i < end; k++, i++) if (buf[i] !== this.close[k]) return SCAN_DECLINE;
    return SCAN_WAIT;
  }
  match(buf: Buffer, start: number, close: number): string | undefined {
    const open = this.open.length;
    const text = buf.toString('latin1', start + open, close);
    return close - start >= open && buf.subarray(start, start + open).equals(this.open) && /^[a-z]*$/.test(text) ? text : undefined;
  }
  element(text: string, defaultNs: string): XmlElement {
    return new XmlElement(this.name, this.name, '', defaultNs, {}, text === '' ? [] : [text]);
  }
}

test('a shortcut for an element whose name is not ASCII is used as well: its stanzas reach onShortcut, whole and cut inside the name\'s bytes too', () => {
  for (const name of ['ñ', 'x東', 'é🎉']) {
    const input = bytes(`${HEADER}<${name}>ab</${name}> <${name}></${name}><y/><${name}>c</${name}>`);
    const shortcut: StanzaShortcut<string> = { name, createMatcher: () => new NamedMatcher(name) };
    const expected: Seen[] = [['open'], ['short', 'ab'], ['short', ''], ['stanza', 'y:'], ['short', 'c']];
    for (const cuts of cutsAfter(input, Buffer.byteLength(HEADER) - 2, 3)) assert.equal(seen(input, cuts, { shortcut }), expected, `${name}, cut at ${cuts.join(', ')}`);
  }
});


test('a matcher that points outside the stanza it was given, at a </x> before it or at stale bytes past its end, cannot make the parser invent or repeat a stanza', () => {
  // Each lies once, about the stanza `b…`, and its match() takes whatever it is given.
  class Outside extends ToyMatcher {
    private lied = false;
    constructor(private readonly where: 'before' | 'past') {
      super();
    }
    override scan(buf: Buffer, start: number, end: number): number {
      // Only about the stanza `b…`: what lies past the end of a reused buffer is unknown otherwise.
      if (!this.lied && buf[start + 3] === 0x62) {
        // (lastIndexOf counts a negative offset from the end.)
        const at = this.where === 'past' ? buf.indexOf('</x>', end, 'latin1') : start > 0 ? buf.lastIndexOf('</x>', start - 1, 'latin1') : -1;
        if (at >= 0) {
          this.lied = true;
          return at;
        }
      }
      return super.scan(buf, start, end);
    }
    override match(buf: Buffer, start: number, close: number): string | undefined {
      return close > start ? buf.toString('latin1', start + 3, close) : 'invented';
    }
  }
  // Before: the second stanza's answer is the first one's end.
  const before = bytes(`${HEADER}<x>a</x><x>b</x><y/>`);
  assert.equal(seen(before, [], { shortcut: shortcutOf(() => new Outside('before')) }), [['open'], ['short', 'a'], ['stanza', 'x:b'], ['stanza', 'y:']]);
  // Past: a stanza held across chunks is read from a reused buffer that still holds an earlier, longer one.
  const past = bytes(`${HEADER}<x>aaaa</x><x>bc</x><y/>`);
  const h = Buffer.byteLength(HEADER);
  assert.equal(seen(past, [h + 7, h + 11, h + 15, h + 16], { shortcut: shortcutOf(() => new Outside('past')) }), [['open'], ['short', 'aaaa'], ['stanza', 'x:bc'], ['stanza', 'y:']]);
});

test.run();
