import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completePrefixLength, latin1, utf8 } from '../src/bytes.js';

// Characters of every UTF-8 length, with the lowest and highest lead and continuation bytes:
// U+0080 (c2 80), U+07FF (df bf), U+0800 (e0 a0 80), U+FFFD (ef bf bd), U+10000 (f0 90 80 80),
// U+10FFFF (f4 8f bf bf), and the everyday é, €, 🎉.
const chars = ['\u0080', '\u07ff', '\u0800', '\ufffd', '\u{10000}', '\u{10ffff}', 'é', '€', '🎉'];

test('completePrefixLength stops before a character whose bytes have not all arrived', () => {
  for (const c of chars) {
    const whole = Buffer.from(`a${c}`);
    for (let cut = 1; cut <= whole.length; cut++) {
      const expected = cut === whole.length ? cut : 1;
      assert.is(completePrefixLength(whole.subarray(0, cut)), expected, `${JSON.stringify(c)} cut at ${cut}`);
      // Without the ASCII lead-in: the partial character is all there is.
      assert.is(completePrefixLength(whole.subarray(1, cut)), expected - 1, `${JSON.stringify(c)} alone cut at ${cut}`);
    }
  }
});

test('completePrefixLength keeps ASCII and complete text whole, and leaves invalid bytes in place', () => {
  assert.is(completePrefixLength(Buffer.alloc(0)), 0);
  assert.is(completePrefixLength(Buffer.from('abc')), 3);
  assert.is(completePrefixLength(Buffer.from('a\u007f')), 2);
  // Continuation bytes with no lead byte, and a lead byte followed by too many of them.
  assert.is(completePrefixLength(Buffer.from([0x80])), 1);
  assert.is(completePrefixLength(Buffer.from([0x61, 0xbf, 0xbf, 0xbf, 0xbf])), 5);
  assert.is(completePrefixLength(Buffer.from([0xc3, 0xa9, 0xa9])), 3);
  // A lead byte cut short by an ASCII byte is already invalid: nothing more will complete it.
  assert.is(completePrefixLength(Buffer.from([0xe2, 0x61])), 2);
  assert.is(completePrefixLength(Buffer.from([0xf0, 0x9f, 0x61])), 3);
});

test('latin1 and utf8 decode the given byte range', () => {
  const buf = Buffer.from('xé€y');
  assert.is(utf8(buf), 'xé€y');
  assert.is(utf8(buf, 1, 3), 'é');
  assert.is(latin1(buf, 0, 3), 'x\u00c3\u00a9');
  assert.is(latin1(Buffer.from([0xff, 0x41])), '\u00ffA');
});

test.run();
