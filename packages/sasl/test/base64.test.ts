import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSaslData, encodeSaslData } from '../src/index.js';

test('encodes zero-length data as a single "=" (RFC 6120 §6.4.2)', () => {
  assert.is(encodeSaslData(new Uint8Array(0)), '=');
});

test('encodes data as standard padded base64', () => {
  assert.is(encodeSaslData(Buffer.from('\0u\0p')), 'AHUAcA==');
  assert.is(encodeSaslData(new Uint8Array([0xfb, 0xff])), '+/8=');
});

test('encodes a view into a larger buffer without its neighbours', () => {
  const big = Buffer.from('xxabcxx');
  assert.is(encodeSaslData(big.subarray(2, 5)), Buffer.from('abc').toString('base64'));
});

test('decodes "=" alone as zero-length data', () => {
  assert.equal(decodeSaslData('='), Buffer.alloc(0));
});

test('decodes canonical base64 of every padding length', () => {
  assert.equal(decodeSaslData('YQ=='), Buffer.from('a'));
  assert.equal(decodeSaslData('YWI='), Buffer.from('ab'));
  assert.equal(decodeSaslData('YWJj'), Buffer.from('abc'));
  assert.equal(decodeSaslData('+/8='), Buffer.from([0xfb, 0xff]));
});

const invalid: Array<[string, string]> = [
  ['', 'the empty string'],
  ['YQ', 'missing padding'],
  ['YQ=', 'short padding'],
  ['YQ===', 'too much padding'],
  ['Y===', 'three pad characters'],
  ['====', 'only padding'],
  ['==', 'two equals signs'],
  ['YW Jj', 'inner whitespace'],
  [' YWJj', 'leading whitespace'],
  ['YWJj\n', 'a trailing newline'],
  ['YWJ-', 'the URL-safe alphabet'],
  ['YW_j', 'the URL-safe underscore'],
  ['YQ==YQ==', 'padding in the middle'],
  ['YR==', 'non-zero pad bits (RFC 4648 §3.5)'],
  ['YWJ=', 'non-zero pad bits in a one-pad group'],
  ['YWJjé===', 'non-ASCII characters'],
];
for (const [text, what] of invalid) {
  test(`rejects base64 with ${what}`, () => {
    assert.is(decodeSaslData(text), undefined);
  });
}

test.run();
