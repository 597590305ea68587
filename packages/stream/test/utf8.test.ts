import { isUtf8 } from 'node:buffer';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completePrefixLength, firstInvalidUtf8 } from '../src/utf8.js';
import { runs } from './helpers.js';

test('completePrefixLength keeps a character cut by the chunk end for the next chunk', () => {
  const euro = Buffer.from('a€', 'utf8'); // 61 e2 82 ac
  assert.is(completePrefixLength(euro), 4);
  assert.is(completePrefixLength(euro.subarray(0, 3)), 1);
  assert.is(completePrefixLength(euro.subarray(0, 2)), 1);
  const emoji = Buffer.from('🎉', 'utf8');
  assert.is(completePrefixLength(emoji.subarray(0, 3)), 0);
  assert.is(completePrefixLength(Buffer.from([0x80, 0x80, 0x80, 0x80])), 4, 'stray continuation bytes are left for the validator');
});

test('firstInvalidUtf8 agrees with isUtf8 and points at the first bad sequence', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const bad = firstInvalidUtf8(bytes);
      assert.is(bad === -1, isUtf8(bytes));
      if (bad > 0) assert.ok(isUtf8(bytes.subarray(0, bad)), 'the prefix before it is valid');
    }),
    { numRuns: runs(2000), seed: 7 },
  );
  assert.is(firstInvalidUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80])), 1, 'an encoded surrogate');
  assert.is(firstInvalidUtf8(Buffer.from([0xf0, 0x82, 0x82, 0xac])), 0, 'an overlong form');
});

test('completePrefixLength holds back exactly the lead byte and the continuations of a cut character', () => {
  const table: Array<[number[], number]> = [
    [[], 0],
    [[0x61], 1],
    [[0xc3], 0],
    [[0xc3, 0xa9], 2],
    [[0x61, 0xdf], 1],
    [[0x61, 0xc0], 1],
    [[0xe0, 0xa0], 0],
    [[0xe0, 0xa0, 0x80], 3],
    [[0x61, 0xef, 0xbf], 1],
    [[0x61, 0xef], 1],
    [[0xf0], 0],
    [[0xf0, 0x9f, 0x8e], 0],
    [[0xf4, 0x8f, 0xbf, 0xbf], 4],
    [[0x61, 0xf7, 0xbf, 0xbf], 1],
    [[0x61, 0x80, 0x80, 0x80], 4],
    // 0x80 is the lowest continuation byte, not ASCII: the character is still cut.
    [[0xe2, 0x80], 0],
    [[0x61, 0xe2, 0x80], 1],
    // A lead byte followed by ASCII can never complete: it is left for the validator to refuse now.
    [[0xe2, 0x61], 2],
    [[0xf0, 0x9f, 0x7f], 3],
  ];
  for (const [input, expected] of table) assert.is(completePrefixLength(Uint8Array.from(input)), expected, input.map((b) => b.toString(16)).join(' '));
});

test('firstInvalidUtf8 draws each boundary of the Unicode well-formedness table where it is', () => {
  const table: Array<[number[], number]> = [
    [[0x7f], -1],
    [[0x80], 0],
    [[0xc1, 0x80], 0],
    [[0xc2, 0x80], -1],
    [[0xdf, 0xbf], -1],
    [[0xc2, 0x7f], 0],
    [[0xc2, 0xc0], 0],
    [[0xe0, 0x9f, 0x80], 0],
    [[0xe0, 0xa0, 0x80], -1],
    [[0xe0, 0xbf, 0xbf], -1],
    [[0xe1, 0x80, 0x80], -1],
    [[0xed, 0x9f, 0xbf], -1],
    [[0xed, 0xa0, 0x80], 0],
    [[0xef, 0xbf, 0xbf], -1],
    [[0xe1, 0x80, 0x7f], 0],
    [[0xe1, 0x80, 0xc0], 0],
    [[0xf0, 0x8f, 0xbf, 0xbf], 0],
    [[0xf0, 0x90, 0x80, 0x80], -1],
    [[0xf1, 0x80, 0x80, 0x80], -1],
    // Only F0 and F4 narrow their second byte: F1–F3 take all of 80–BF.
    [[0xf1, 0x90, 0x80, 0x80], -1],
    [[0xf3, 0xbf, 0xbf, 0xbf], -1],
    [[0xe1, 0xa0, 0x80], -1],
    [[0xee, 0x80, 0x80], -1],
    [[0xf4, 0x8f, 0xbf, 0xbf], -1],
    [[0xf4, 0x90, 0x80, 0x80], 0],
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0xf1, 0x80, 0x80, 0x7f], 0],
    [[0xf1, 0x80, 0x80, 0xc0], 0],
    [[0xf1, 0x80, 0x7f, 0x80], 0],
    [[0x61, 0xe2, 0x82], 1],
    [[0xc2], 0],
    [[0xf0, 0x9f, 0x8e], 0],
    [[0xc2, 0x80, 0xff], 2],
    [[0xe2, 0x82, 0xac, 0x61, 0x80], 4],
    [[0xf0, 0x9f, 0x8e, 0x89, 0xc3], 4],
  ];
  for (const [input, expected] of table) assert.is(firstInvalidUtf8(Uint8Array.from(input)), expected, input.map((b) => b.toString(16)).join(' '));
});

test.run();
