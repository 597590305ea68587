import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { XmlElement } from '../src/index.js';
import { HEADER, bytes, parseSplit, progressSplit, recorder, runs } from './helpers.js';
import { matchers, take, toy, type ToyMatcher } from './toy-shortcut.js';

// The seam itself, without any real shortcut: a toy one for `<x>letters</x>` exercises the framer
// (whitespace, cut stanzas, hand-backs to saxes, damage) the way the GCM one does in
// @ccs-xmpp/stanza, and must leave every verdict exactly as saxes alone gives it.

const params = (numRuns: number): fc.Parameters<unknown> =>
  process.env.FUZZ ? { numRuns: runs(numRuns) } : { numRuns, seed: 0x5eed };

const letters = fc.stringMatching(/^[a-z]{0,12}$/);
const item = fc.oneof(
  { weight: 4, arbitrary: letters.map((t) => `<x>${t}</x>`) },
  { weight: 1, arbitrary: letters.map((t) => `<x a='1'>${t}</x>`) },
  { weight: 1, arbitrary: fc.constantFrom('<x/>', '<x ></x>', '<y>q</y>', '<x><y/></x>', '<x>a&amp;b</x>', '<xy>z</xy>', '<x>A</x>', '<x>é</x>') },
);
const ws = fc.constantFrom('', ' ', '\n', '\t ');
const stream = fc
  .tuple(fc.array(fc.tuple(ws, item), { maxLength: 10 }), fc.boolean())
  .map(([items, end]) => HEADER + items.map(([w, s]) => w + s).join('') + (end ? '</stream:stream>' : ''));
const damage = fc.tuple(
  fc.nat(600),
  fc.constantFrom('<', '>', '/', 'x', ' ', '&', '</x>', '<x>', '\u0000', '<!--', 'é').map(bytes),
  fc.nat(2),
);
/** Damage after the header (the parts do not carry the namespace the header declares). */
function mutate(input: Buffer, muts: Array<[number, Buffer, number]>): Buffer {
  let out = input;
  const from = Buffer.byteLength(HEADER);
  for (const [at, ins, del] of muts) {
    const pos = from + (at % (out.length - from + 1));
    out = Buffer.concat([out.subarray(0, pos), ins, out.subarray(Math.min(out.length, pos + del))]);
  }
  return out;
}
const cuts = fc.array(fc.nat(700), { maxLength: 30 });

test('a shortcut plugged in changes nothing that is reported, nor when: after every chunk, on damaged input too', () => {
  fc.assert(
    fc.property(stream, fc.array(damage, { maxLength: 2 }), cuts, fc.option(fc.integer({ min: 40, max: 300 }), { nil: undefined }), (xml, muts, cs, max) => {
      const input = mutate(bytes(xml), muts);
      const opts = max === undefined ? {} : { maxStanzaBytes: max };
      const plain = progressSplit(input, cs, opts);
      assert.equal(progressSplit(input, cs, { ...opts, shortcut: toy }), plain, 'elements from the shortcut');
      assert.equal(progressSplit(input, cs, { ...opts, shortcut: toy }, take(false)), plain, 'parts taken');
      assert.equal(progressSplit(input, cs, { ...opts, shortcut: toy }, take(true)), plain, 'parts taken or declined');
    }),
    params(800),
  );
});

test('a long stanza cut once is read as saxes reads it, wherever its end falls in the next chunk (small or large: before, across, after the first 1 KiB the framer appends)', () => {
  // Chunks up to 4 KiB are copied into the framer's buffer and read there; larger ones in place.
  const tail = '<x>b</x>'.repeat(600);
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 2200 }), fc.integer({ min: 8000, max: 9000 })), fc.nat(40), fc.boolean(), fc.constantFrom('', 'A', '<'), fc.boolean(), (len, cutIn, decline, bad, large) => {
      const input = bytes(`${HEADER}<x>${'a'.repeat(len)}${bad}</x><x>b</x>${large ? tail : ''}`);
      const cut = [Buffer.byteLength(HEADER) + cutIn];
      const plain = progressSplit(input, cut);
      assert.equal(progressSplit(input, cut, { shortcut: toy }, take(decline)), plain);
    }),
    params(300),
  );
});

test('a shortcut restarted from a callback parses the rest of the chunk as the new stream', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ws, item), { maxLength: 4 }), fc.array(fc.tuple(ws, item), { maxLength: 4 }), cuts, (a, b, cs) => {
      const success = '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>';
      const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'>";
      const input = bytes(HEADER + a.map(([w, s]) => w + s).join('') + success + second + b.map(([w, s]) => w + s).join(''));
      const restart = (el: XmlElement): boolean => el.local === 'success';
      assert.equal(parseSplit(input, cs, { shortcut: toy }, restart, take(false)), parseSplit(input, cs, {}, restart));
    }),
    params(300),
  );
});

test('a long stream in small chunks is read as saxes reads it (the framer\'s buffer fills up: the stanza waiting in it moves to its start)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ws, item), { minLength: 600, maxLength: 900 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 4 }), fc.array(damage, { maxLength: 1 }), (items, sizes, muts) => {
      const input = mutate(bytes(HEADER + items.map(([w, x]) => w + x).join('')), muts);
      // Chunk sizes taken in turn, so that stanzas are cut at many offsets of the buffer.
      const cs: number[] = [];
      for (let at = 0, k = 0; at < input.length; k++) cs.push((at += sizes[k % sizes.length] as number));
      const plain = progressSplit(input, cs);
      assert.equal(progressSplit(input, cs, { shortcut: toy }, take(true)), plain);
    }),
    params(25),
  );
});

test('stanzas cut by nearly every chunk, for long enough to fill the framer\'s buffer many times, are read as saxes reads them', () => {
  // 257-byte stanzas in 97-byte chunks: a chunk ends between two stanzas once in 257, so the
  // stanza waiting in the buffer is moved to its start again and again.
  const input = bytes(HEADER + Array.from({ length: 200 }, (_, i) => `<x>${String.fromCharCode(97 + (i % 26)).repeat(250)}</x>`).join(''));
  const cs: number[] = [];
  for (let at = 97; at < input.length; at += 97) cs.push(at);
  const plain = progressSplit(input, cs);
  assert.equal(progressSplit(input, cs, { shortcut: toy }, take(false)), plain);
  assert.equal(plain.events.length, 201);
});

test('small chunks are read in the parser\'s own buffer, the one release() says may be kept; a large chunk is read in place and never kept', () => {
  const r = recorder({ shortcut: toy }, undefined, take(false));
  const m = matchers.at(-1) as ToyMatcher;
  const first = bytes(`${HEADER}<x>ab`);
  r.parser.write(first);
  const own = m.kept;
  assert.ok(own !== undefined && own !== first && m.scanned === own, 'a small chunk is read in the parser\'s buffer');
  r.parser.write(bytes('c</x><x>d'));
  assert.is(m.scanned, own, 'the stanza cut by the first chunk is read on in the same buffer');
  assert.is(m.kept, own);
  const large = bytes(`</x>${'<x>e</x>'.repeat(700)}<x>f`);
  r.parser.write(large);
  assert.is(m.scanned, large, 'a large chunk is read in place');
  assert.ok(m.kept !== large);
  r.parser.write(bytes('</x>'));
  assert.equal(r.events.filter((e) => e[0] === 'stanza').length, 703);
});

test('each parser gets its own matcher, and it is told to let go of every chunk', () => {
  const before = matchers.length;
  const a = parseSplit(bytes(`${HEADER}<x>ab</x><x>c`), [], { shortcut: toy }, undefined, take(false));
  parseSplit(bytes(`${HEADER}<x>ab</x>`), [HEADER.length + 3], { shortcut: toy }, undefined, take(false));
  assert.is(matchers.length, before + 2);
  assert.is(a.length, 2);
  assert.ok((matchers[before + 1] as ToyMatcher).released >= 2, 'released after each write');
});

test.run();
