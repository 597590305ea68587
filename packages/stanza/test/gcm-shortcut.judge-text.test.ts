import { isUtf8 } from 'node:buffer';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StanzaParser, type XmlElement } from '@ccs-xmpp/stream';
import { HEADER, bytes, runs } from '@ccs-xmpp/stream/testing';
import { TEXT_AMP, TEXT_REFUSED, TEXT_UTF8, judgeText } from '../src/gcm-shortcut.js';
import { gcmShortcut, type GcmParts } from '../src/index.js';

// judgeText reads payload bytes once and says whether the shortcut may take them (and how to make
// the string); what it replaced decoded them first and asked regular expressions about the string.
// That older judgement is the oracle here: same verdict on any bytes, and the string it says to
// make is the UTF-8 decoding.

/** The judgement judgeText replaced, on the decoded string (the callers kept `<` out). */
function oracle(buf: Buffer, floor: number, from: number): 'refused' | { text: string; amp: boolean } {
  const text = buf.toString('utf8', from);
  if (text.includes('<')) return 'refused';
  for (let gt = buf.indexOf(0x3e, from); gt !== -1; gt = buf.indexOf(0x3e, gt + 1)) {
    if (gt - 2 >= floor && buf[gt - 1] === 0x5d && buf[gt - 2] === 0x5d) return 'refused';
  }
  if (/[\x00-\x08\x0b-\x1f\ufffe\uffff]/.test(text)) return 'refused';
  if (text.includes('\ufffd') && !isUtf8(buf.subarray(from))) return 'refused';
  return { text, amp: text.includes('&') };
}

function check(buf: Buffer, floor = 0, from = 0): void {
  const flags = judgeText(buf, from, buf.length, floor);
  const want = oracle(buf, floor, from);
  const label = `${buf.toString('hex')} from ${from} floor ${floor}`;
  if (want === 'refused') {
    assert.is(flags, TEXT_REFUSED, label);
    return;
  }
  assert.ok(flags >= 0, label);
  const made = buf.toString((flags & TEXT_UTF8) !== 0 ? 'utf8' : 'latin1', from);
  assert.is(made, want.text, label);
  assert.is((flags & TEXT_AMP) !== 0, want.amp, label);
}

// Byte pieces that meet every branch: plain runs longer and shorter than eight, `&`, `>` after
// `]]`, the controls, and UTF-8 sequences at every lead and continuation boundary, whole, cut or
// overlong, the surrogates, U+FFFD/U+FFFE/U+FFFF and past U+10FFFF.
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('abcdefghij', 'xyz', '{"a":1}', ' ', '~') .map((s) => Buffer.from(s, 'latin1')) },
  { weight: 2, arbitrary: fc.constantFrom(0x26, 0x3e, 0x5d, 0x3c, 0x09, 0x0a, 0x0d, 0x00, 0x1f, 0x7f, 0x20, 0x23, 0x3b).map((b) => Buffer.from([b])) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        [0xc2, 0x80], [0xdf, 0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xc3], [0xc3, 0x41],
        [0xe0, 0xa0, 0x80], [0xe0, 0x9f, 0xbf], [0xe1, 0x80, 0x80], [0xec, 0xbf, 0xbf], [0xed, 0x9f, 0xbf], [0xed, 0xa0, 0x80],
        [0xee, 0x80, 0x80], [0xef, 0xbf, 0xbd], [0xef, 0xbf, 0xbe], [0xef, 0xbf, 0xbf], [0xef, 0xbf], [0xe2, 0x82],
        [0xf0, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf3, 0xbf, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
        [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x90, 0x80], [0x80], [0xbf], [0xff],
      )
      .map((b) => Buffer.from(b)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => Buffer.from([b])) },
);
const payloadBytes = fc.array(piece, { maxLength: 24 }).map((ps) => Buffer.concat(ps));

test('judgeText gives the verdict and the string of decoding first and checking the string, on any bytes', () => {
  fc.assert(
    fc.property(payloadBytes, fc.nat(), fc.nat(), (buf, f, s) => {
      const from = buf.length === 0 ? 0 : s % (buf.length + 1);
      check(buf, 0, 0);
      // From inside (the first bytes judged before): `]]` standing before `from` counts down to `floor`.
      check(buf, Math.min(from, f % (buf.length + 1)), from);
    }),
    { numRuns: runs(2000), seed: 0x7e47 },
  );
});

// With a DataView of the buffer, plain stretches are read four bytes at a time and looked up by
// pairs (PLAIN_PAIRS): every byte value at every place of an eight-byte step, whatever the step's
// alignment in the buffer, must get the verdict the byte-at-a-time reading gives.
test('judgeText with a DataView gives the verdict it gives without one, for every byte at every place of a step', () => {
  for (let lead = 0; lead < 8; lead++) {
    for (let at = 0; at < 24; at++) {
      for (let b = 0; b < 256; b++) {
        const buf = Buffer.alloc(lead + 24 + 3, 0x61);
        buf[lead + at] = b;
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        const to = lead + 24;
        const label = `byte ${b.toString(16)} at ${at} after ${lead}`;
        assert.is(judgeText(buf, lead, to, lead, view), judgeText(buf, lead, to, lead), label);
        check(buf.subarray(lead, to));
      }
    }
  }
  fc.assert(
    fc.property(payloadBytes, fc.nat(7), (payload, lead) => {
      const buf = Buffer.concat([Buffer.alloc(lead, 0x20), payload]);
      const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
      assert.is(judgeText(buf, lead, buf.length, lead, view), judgeText(buf, lead, buf.length, lead), payload.toString('hex'));
    }),
    { numRuns: runs(2000), seed: 0x9a17 },
  );
});

test('judgeText: plain ASCII, tab, line feed and DEL need nothing; `&` and text past ASCII are flagged', () => {
  assert.is(judgeText(bytes('{"a":"b c"}\t\n\x7f'), 0, 14, 0), 0);
  assert.is(judgeText(bytes('a &amp; b'), 0, 9, 0), TEXT_AMP);
  assert.is(judgeText(bytes('café'), 0, 5, 0), TEXT_UTF8);
  assert.is(judgeText(bytes('R&D 東京'), 0, 10, 0), TEXT_AMP | TEXT_UTF8);
  // A literal U+FFFD is a character like any other; only an invalid byte makes one when decoding.
  assert.is(judgeText(bytes('\ufffd'), 0, 3, 0), TEXT_UTF8);
  // `>` alone is text.
  assert.is(judgeText(bytes('a > b ]> ]'), 0, 10, 0), 0);
});

test('judgeText refuses what saxes must judge: controls, CR, `<`, `]]>`, U+FFFE/U+FFFF, invalid UTF-8', () => {
  for (const bad of ['a\rb', 'a\x00', '\x0b', '\x1f', 'a<b', 'x]]>y', '\ufffe', '\uffff']) {
    const buf = bytes(bad);
    assert.is(judgeText(buf, 0, buf.length, 0), TEXT_REFUSED, JSON.stringify(bad));
  }
  for (const bad of [[0xc3], [0xc3, 0x41], [0x80], [0xc0, 0x80], [0xe0, 0x9f, 0xbf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xff]]) {
    const buf = Buffer.from([0x61, ...bad, 0x62]);
    assert.is(judgeText(buf, 0, buf.length, 0), TEXT_REFUSED, buf.toString('hex'));
  }
  // A sequence cut by the end of the range is refused (callers pass whole characters only).
  assert.is(judgeText(Buffer.from([0x61, 0xe6, 0x9d]), 0, 3, 0), TEXT_REFUSED);
  assert.is(judgeText(Buffer.from([0x61, 0xe6, 0x9d, 0xb1]), 0, 3, 0), TEXT_REFUSED);
});

test('judgeText finds `]]>` whose `]]` was judged before, down to the floor and not below it', () => {
  const buf = bytes('<a>]]>');
  assert.is(judgeText(buf, 5, 6, 3), TEXT_REFUSED);
  assert.is(judgeText(buf, 5, 6, 4), 0);
  assert.is(judgeText(bytes(']>'), 1, 2, 0), 0);
});

// Heads with the same id share one attribute object between stanzas (GcmParts allows it); an
// element takes it as its own, so a consumer that changes an element changes nothing else.
test('an element owns its attributes: changing them changes no later stanza with the same head', () => {
  const stanza = (id: string): string => `<message id="${id}" type="normal"><gcm xmlns="google:mobile:data">{}</gcm></message>`;
  const input = bytes(HEADER + stanza('') + stanza('') + stanza('a') + stanza('a') + stanza('') + '<message to="x"><gcm xmlns="google:mobile:data">{}</gcm></message>'.repeat(2));
  for (const mode of ['elements', 'alternate'] as const) {
    const seen: Array<Record<string, string>> = [];
    const parts: Array<Record<string, string>> = [];
    let n = 0;
    const parser = new StanzaParser<GcmParts>(
      {
        onStreamOpen() {},
        onStanza(el: XmlElement) {
          seen.push({ ...el.attrs });
          el.attrs['id'] = 'changed';
          el.attrs['extra'] = 'yes';
        },
        ...(mode === 'alternate' ? { onShortcut: (p: GcmParts) => (parts.push({ ...p.attrs }), n++ % 2 === 0) } : {}),
        onStreamEnd() {},
        onError(e: Error) {
          throw e;
        },
      },
      { shortcut: gcmShortcut },
    );
    parser.write(input);
    const want = [{ id: '', type: 'normal' }, { id: '', type: 'normal' }, { id: 'a', type: 'normal' }, { id: 'a', type: 'normal' }, { id: '', type: 'normal' }, { to: 'x' }, { to: 'x' }];
    if (mode === 'elements') assert.equal(seen, want);
    else {
      assert.equal(parts, want, 'parts');
      assert.equal(seen, want.filter((_, i) => i % 2 === 1), 'declined ones as elements');
    }
  }
});

// The gcm child's name and attributes are made once per head; each element gets its own copy.
test('an element owns its gcm child\'s attributes: changing them changes no later stanza with the same head', () => {
  const plain = '<message><gcm xmlns="google:mobile:data">{}</gcm></message>';
  const prefixed = '<message id=""><data:gcm xmlns:data="google:mobile:data">{}</data:gcm></message>';
  const input = bytes(HEADER + plain + plain + prefixed + prefixed + plain + prefixed);
  const seen: Array<[string, Record<string, string>]> = [];
  const parser = new StanzaParser<GcmParts>(
    {
      onStreamOpen() {},
      onStanza(el: XmlElement) {
        const gcm = el.children[0] as XmlElement;
        seen.push([gcm.name, { ...gcm.attrs }]);
        for (const k of Object.keys(gcm.attrs)) gcm.attrs[k] = 'changed';
        gcm.attrs['extra'] = 'yes';
      },
      onStreamEnd() {},
      onError(e: Error) {
        throw e;
      },
    },
    { shortcut: gcmShortcut },
  );
  parser.write(input);
  const p: [string, Record<string, string>] = ['gcm', { xmlns: 'google:mobile:data' }];
  const d: [string, Record<string, string>] = ['data:gcm', { 'xmlns:data': 'google:mobile:data' }];
  assert.equal(seen, [p, p, d, d, p, d]);
});

test.run();
