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

test.run();
