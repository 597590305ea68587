import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { XmlElement } from '../src/index.js';
import { HEADER, bytes, parseSplit, progressSplit, runs } from './helpers.js';
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

test('a long stanza cut once is read as saxes reads it, wherever its end falls in the next chunk (before, across, after the first 1 KiB the framer appends)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2200 }), fc.nat(40), fc.boolean(), fc.constantFrom('', 'A', '<'), (len, cutIn, decline, bad) => {
      const input = bytes(`${HEADER}<x>${'a'.repeat(len)}${bad}</x><x>b</x>`);
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

test('each parser gets its own matcher, and it is told to let go of every chunk', () => {
  const before = matchers.length;
  const a = parseSplit(bytes(`${HEADER}<x>ab</x><x>c`), [], { shortcut: toy }, undefined, take(false));
  parseSplit(bytes(`${HEADER}<x>ab</x>`), [HEADER.length + 3], { shortcut: toy }, undefined, take(false));
  assert.is(matchers.length, before + 2);
  assert.is(a.length, 2);
  assert.ok((matchers[before + 1] as ToyMatcher).released >= 2, 'released after each write');
});

test.run();
