import * as fc from 'fast-check';
import { setTimeout as tick } from 'node:timers/promises';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { XmlElement } from '@ccs-xmpp/stream';
import { normal, recorder, type Event } from '@ccs-xmpp/stream/testing';
import { gcmShortcut, type GcmParts } from '../src/index.js';
import { HEADER, bytes, gcmView, parseSplit } from './helpers/parser.js';

// The other half of the shortcut's contract. The differential properties prove it never reports
// anything saxes would not; these prove it takes what it says it takes: every CCS message of its
// shape (README, "Read from the bytes") reaches `onShortcut` as parts, whole or cut anywhere, and
// never costs an element. A shortcut that declined them all would pass every differential test.

const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed: 0x5eed });

/** Runs `input` cut at `cuts`; every recognised message is recorded as its element would be, and counted. */
function taken(input: Uint8Array, cuts: number[]): { events: Event[]; parts: number; elements: XmlElement[] } {
  let parts = 0;
  const r = recorder({ shortcut: gcmShortcut }, undefined, (p: GcmParts, events: Event[]) => {
    parts++;
    events.push(['stanza', { name: 'message', local: 'message', prefix: '', uri: 'jabber:client', attrs: Object.entries(p.attrs), children: [{ name: 'gcm', local: 'gcm', prefix: '', uri: 'google:mobile:data', attrs: [['xmlns', 'google:mobile:data']], children: p.json === '' ? [] : [p.json] }] }]);
    return true;
  });
  let prev = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b)) {
    r.parser.write(input.subarray(prev, cut));
    prev = cut;
  }
  r.parser.write(input.subarray(prev));
  return { events: r.events, parts, elements: r.elements };
}

// ---- the shape: what the README promises goes through the shortcut ----------------------------

const S = fc.constantFrom(' ', '\t', '\n', '\r\n', '  ');
const S0 = fc.constantFrom('', ' ', '\n\t');
const quote = fc.constantFrom('"', "'");
/** An attribute value of the shape: printable ASCII without `&`, `<`, `>` (nor the quote). */
const value = (q: string) => fc.stringMatching(/^[ -~]{0,24}$/).map((v) => v.replace(/[&<>]/g, '').split(q).join(''));
const attribute = fc
  .tuple(fc.constantFrom('id', 'to', 'from', 'type', 'xml:lang', 'a.b', 'x-y', '_z', 'Z9'), quote, S, S0, S0)
  .chain(([name, q, w, w1, w2]) => value(q).map((v) => ({ name, xml: `${w}${name}${w1}=${w2}${q}${v}${q}` })));
const attributes = fc.uniqueArray(attribute, { maxLength: 4, selector: (a) => a.name }).map((list) => list.map((a) => a.xml).join(''));
/** Payload text: any XML characters but controls and CR, with `<` `&` `>` escaped (predefined or numeric). */
const payload = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.stringMatching(/^[ -%'-;=?-~]{0,20}$/) },
      { weight: 3, arbitrary: fc.constantFrom('é', '東', '🎉', '\u2028', '\t', '\n', '"', "'", ']', ']]', '{"a":1}') },
      { weight: 3, arbitrary: fc.constantFrom('&lt;', '&gt;', '&amp;', '&quot;', '&apos;', '&#60;', '&#x3C;', '&#x1F600;', '&#233;', ']]&gt;') },
    ),
    { maxLength: 10 },
  )
  .map((parts) => parts.join(''));
const prefix = fc.option(fc.constantFrom('data', 'g', 'd0', 'x-y', 'a.b'), { nil: undefined });
const message = fc
  .tuple(attributes, S0, prefix, S, S0, S0, quote, S0, payload, S0)
  .map(([attrs, w, p, w1, w2, w3, q, w4, text, w5]) => {
    const name = p === undefined ? 'gcm' : `${p}:gcm`;
    const decl = p === undefined ? 'xmlns' : `xmlns:${p}`;
    return `<message${attrs}${w}><${name}${w1}${decl}${w2}=${w3}${q}google:mobile:data${q}${w4}>${text}</${name}${w5}></message>`;
  });
const ws = fc.constantFrom('', ' ', '\n', ' \t\r\n');
const shapedStream = fc.array(fc.tuple(ws, message), { minLength: 1, maxLength: 6 }).map((items) => ({
  xml: HEADER + items.map(([w, m]) => w + m).join(''),
  count: items.length,
}));

test('every CCS message of the shortcut\'s shape reaches onShortcut, whole and cut anywhere, and reads as saxes reads it', () => {
  fc.assert(
    fc.property(shapedStream, fc.array(fc.nat(2000), { maxLength: 12 }), ({ xml, count }, cuts) => {
      const input = bytes(xml);
      const reference = gcmView(parseSplit(input, [], { withShortcut: false }));
      const whole = taken(input, []);
      assert.is(whole.parts, count, 'whole');
      assert.equal(whole.events, reference);
      const cut = taken(input, cuts);
      assert.is(cut.parts, count, `cut at ${cuts.join(',')}`);
      assert.equal(cut.events, reference);
    }),
    params(250),
  );
});

test('a CCS message cut at any one of its bytes still reaches onShortcut: before its head, inside either start tag, an entity, a character, an end tag', () => {
  const heads = [
    '<message id="m-1"><gcm xmlns="google:mobile:data">',
    "<message to='a' id='m-2' xml:lang='en' ><data:gcm xmlns:data='google:mobile:data' >",
    '<message\n\tid = "3" type="normal"><gcm  xmlns = "google:mobile:data">',
  ];
  const ends = ['</gcm></message>', '</data:gcm ></message>', '</gcm\n></message>'];
  heads.forEach((head, i) => {
    const text = '{"m":"&lt;é&#x1F600;&amp;東","n":1}';
    const stanza = `${head}${text}${ends[i]}`;
    // Then the same message again and with another id: recognised from the memory of the first.
    const input = bytes(`${HEADER} ${stanza}${stanza}\n${stanza.replace(/(id ?= ?)(["'])[^"']*\2/, '$1$2other$2')}`);
    const reference = gcmView(parseSplit(input, [], { withShortcut: false }));
    for (let at = HEADER.length; at < input.length; at++) {
      const r = taken(input, [at]);
      assert.is(r.parts, 3, `head ${i}, cut at ${at}`);
      assert.equal(r.events, reference, `head ${i}, cut at ${at}`);
    }
  });
});

test('an empty gcm element and a message without attributes are taken too', () => {
  for (const stanza of ['<message><gcm xmlns="google:mobile:data"></gcm></message>', '<message><gcm xmlns="google:mobile:data">{}</gcm></message>', '<message id="x"><g:gcm xmlns:g="google:mobile:data"/></message>']) {
    const input = bytes(HEADER + stanza);
    const r = taken(input, []);
    assert.equal(gcmView(r.events), gcmView(parseSplit(input, [], { withShortcut: false })), stanza);
    // The self-closing gcm element is not of the shape: it comes as an element.
    assert.is(r.parts, stanza.includes('/>') ? 0 : 1, stanza);
  }
});

test('each element the shortcut builds owns its attributes: changing one stanza\'s changes no other', () => {
  // Same head (remembered whole), then heads that differ only in their id (remembered as a template).
  for (const head of ['<message type="normal">', '<message id="1" type="normal">']) {
    const stanza = `${head}<gcm xmlns="google:mobile:data">{}</gcm></message>`;
    const r = recorder({ shortcut: gcmShortcut }, undefined);
    r.parser.write(bytes(HEADER + stanza));
    const first = r.elements[0] as XmlElement;
    first.attrs['type'] = 'changed';
    r.parser.write(bytes(stanza + stanza.replace('"1"', '"2"')));
    assert.is(r.elements.length, 3, head);
    for (const el of r.elements.slice(1)) assert.is(el.attrs['type'], 'normal', head);
    assert.equal(normal(r.elements[2] as XmlElement).attrs, head.includes('id') ? [['id', '2'], ['type', 'normal']] : [['type', 'normal']]);
  }
});

test('with maxDepth 1 a CCS message is too deep (its gcm element is depth 2), with the shortcut plugged in as without', () => {
  const input = bytes(`${HEADER}<message id="1"><gcm xmlns="google:mobile:data">{}</gcm></message>`);
  for (const withShortcut of [true, false]) {
    for (const cuts of [[], [HEADER.length + 3]]) {
      assert.equal(parseSplit(input, cuts, { withShortcut, maxDepth: 1 }).at(-1), ['error', 'policy-violation', 'STREAM_ERR_TOO_DEEP'], `shortcut ${withShortcut}`);
    }
  }
});

test('the shortcut keeps no reference to a chunk after the write that gave it: a chunk of many stanzas is collectable', async () => {
  // The GC must be callable to see what the parser still holds; Node allows turning it on at run time.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let parts = 0;
  const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
  r.parser.write(bytes(HEADER));
  // Several stanzas in one chunk (past 2 KiB, where the matcher reads it through a DataView), the
  // last one cut: the matcher has judged part of it and waits for the rest.
  const stanza = (i: number): string => `<message id="m-${i}"><gcm xmlns="google:mobile:data">{"n":${i}}</gcm></message>`;
  const whole = Array.from({ length: 60 }, (_, i) => stanza(i)).join('');
  const last = stanza(60);
  const cutAt = last.length - 12;
  let chunk: Buffer | undefined = Buffer.from(whole + last.slice(0, cutAt));
  assert.ok(chunk.length > 4096 && chunk.buffer.byteLength === chunk.length, 'a chunk with its own memory');
  const ref = new WeakRef(chunk.buffer);
  r.parser.write(chunk);
  chunk = undefined;
  assert.is(parts, 60);
  // A WeakRef's target is kept until the current job ends.
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await tick();
    gc();
  }
  assert.is(ref.deref(), undefined, 'the chunk is still referenced by the parser');
  r.parser.write(bytes(last.slice(cutAt)));
  assert.is(parts, 61);
});

test('a stanza over 2 KiB completed by a chunk of short stanzas: each is taken and read as saxes reads it', () => {
  // The long one is read in the parser's pending bytes (through a DataView: it is long), the short
  // ones in the chunk itself; what the matcher learned of one buffer must not be applied to the other.
  const stanza = (id: string, text: string): string => `<message id="${id}"><gcm xmlns="google:mobile:data">${text}</gcm></message>`;
  const long = stanza('long', `{"a":"${'x'.repeat(3000)}"}`);
  const short = Array.from({ length: 10 }, (_, i) => stanza(`s${i}`, `{"n":${i}}`)).join('');
  const input = bytes(HEADER + long + short + long);
  const reference = gcmView(parseSplit(input, [], { withShortcut: false }));
  for (const cut of [HEADER.length + 2500, HEADER.length + long.length - 5, HEADER.length + long.length + short.length + 2100]) {
    const r = taken(input, [cut]);
    assert.is(r.parts, 12, `cut at ${cut}`);
    assert.equal(r.events, reference, `cut at ${cut}`);
  }
});

test.run();
