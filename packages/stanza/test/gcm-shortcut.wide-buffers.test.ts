import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HEADER, bytes, gcmView, parseSplit, runs } from './helpers/parser.js';

// With at least 2 KiB at hand in one buffer the shortcut compares heads and end tags four bytes a
// step through a DataView (gcm-shortcut.ts, viewFor). These
// differential properties put the stanza under test in front of enough traffic that it is read
// that way, at every alignment, whole and damaged, and compare with saxes alone.

const params = (numRuns: number): fc.Parameters<unknown> =>
  process.env.FUZZ ? { numRuns: runs(numRuns) } : { numRuns, seed: 0x3a1d };

const HEADS = [
  '<message>|<data:gcm xmlns:data="google:mobile:data">|</data:gcm>',
  '<message id="">|<gcm xmlns="google:mobile:data">|</gcm>',
  '<message to="1234567890@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal" id="m-1">|<gcm xmlns="google:mobile:data">|</gcm>',
  '<message id="m-22" type="normal">|<gcm xmlns="google:mobile:data">|</gcm>',
];
const stanza = (shape: number, id: string, text: string): string => {
  const [open, gcm, close] = (HEADS[shape % HEADS.length] as string).split('|') as [string, string, string];
  return `${open.replace(/id="[^"]*"/, `id="${id}"`)}${gcm}${text}${close}</message>`;
};
/** ~2.5 KiB of every head shape: the memo and templates are filled, and a view pays. */
const traffic = Array.from({ length: 24 }, (_, i) => stanza(i, `t-${i}`, `{"n":${i},"s":"${'x'.repeat(i * 3)}"}`)).join('');

const text = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.stringMatching(/^[ -%'-;=?-~]{0,19}$/) },
      { weight: 2, arbitrary: fc.constantFrom('&amp;', '&lt;', '&#233;', '&#x1F389;', '>', ']]', '\t', '\n', 'é', '東京', '🎉', '\u007f', '\ufffd') },
    ),
    { maxLength: 16 },
  )
  .map((parts) => parts.join(''));

const damage = fc.tuple(
  fc.nat(400),
  fc.oneof(
    fc.constantFrom('<', '>', '&', '"', "'", ']]>', '/', ':', '=', ' ', '\r', '\u0000', '</message>', '&foo;', '</gcm>').map(bytes),
    fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xef, 0xbf, 0xbe], [0x80]).map((b) => Buffer.from(b)),
  ),
  fc.boolean(),
);

function apply(input: Buffer, [at, what, replace]: [number, Buffer, boolean], from: number): Buffer {
  const pos = from + (at % Math.max(1, input.length - from));
  return Buffer.concat([input.subarray(0, pos), what, input.subarray(replace ? Math.min(input.length, pos + what.length) : pos)]);
}

test('differential: stanzas read with several stanzas at hand (DataView) are read as saxes reads them, at any alignment, damaged too', () => {
  fc.assert(
    fc.property(
      fc.nat(7),
      fc.nat(HEADS.length * 2),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/),
      text,
      fc.option(damage, { nil: undefined }),
      fc.array(fc.nat(6000), { maxLength: 3 }),
      (pad, shape, id, payload, hurt, cuts) => {
        // `pad` spaces shift the stanza under test against the 4- and 2-byte reads.
        const before = HEADER + traffic.slice(0, traffic.indexOf('<message', 1200)) + ' '.repeat(pad);
        const clean = bytes(before + stanza(shape, id, payload) + traffic);
        const input = hurt === undefined ? clean : apply(clean, hurt, Buffer.byteLength(before));
        const saxes = gcmView(parseSplit(input, [], { withShortcut: false }));
        assert.equal(gcmView(parseSplit(input, [])), saxes);
        assert.equal(gcmView(parseSplit(input, cuts)), saxes);
        if (hurt === undefined && !payload.includes(']]>')) assert.ok(!saxes.some((e) => e[0] === 'error'), 'valid input refused');
      },
    ),
    params(400),
  );
});

// Through a DataView the heads, end tags and `</message>` are compared several bytes a step: one
// byte changed at every place of every head shape after its template was learned — NUL, bytes past
// ASCII, a bit flipped — must be told from the pattern there, and saxes decides each.
test('differential: one byte of a recalled head, end tag or `</message>` changed to any kind of value is read as saxes reads it', () => {
  const before = HEADER + traffic.slice(0, traffic.indexOf('<message', 1200));
  for (let shape = 0; shape < HEADS.length; shape++) {
    const one = stanza(shape, 'm-1', '{"a":"b"}');
    const gcmClose = one.lastIndexOf('</');
    const positions = [...Array.from({ length: one.indexOf('{') }, (_, i) => i), ...Array.from({ length: one.length - one.lastIndexOf('"}') - 2 }, (_, i) => one.lastIndexOf('"}') + 2 + i)];
    for (const at of positions) {
      const was = one.charCodeAt(at);
      for (const b of [0x00, 0x80, 0xf0, 0xff, was ^ 0x01, was ^ 0x80, was ^ 0x20]) {
        const body = Buffer.from(one, 'latin1');
        body[at] = b;
        const input = Buffer.concat([bytes(before), body, bytes(traffic)]);
        const saxes = gcmView(parseSplit(input, [], { withShortcut: false }));
        assert.equal(gcmView(parseSplit(input, [])), saxes, `shape ${shape}, byte ${at} (${gcmClose}) as ${b.toString(16)}`);
      }
    }
  }
});

test.run();
