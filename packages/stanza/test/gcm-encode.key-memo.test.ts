// The plain writer's memo of keys (gcm-encode.ts, writePlainKey): a key written at the same place as
// in the message before it is copied from the bytes kept for it instead of being checked character
// by character. It only saves time, so whatever the keys — the same ones, other ones at a memoised
// place, equal strings that are not the same object, keys that need escaping, keys too long for a
// slot, places past the last slot, nested objects, any encoder, a slab that runs out of room — every
// stanza must be the general path's bytes (JSON.stringify + the envelope), and a plain message must
// still go without JSON.stringify.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GcmEncoder, encodeGcmString, type OutgoingMessage } from '@ccs-xmpp/stanza';

const FUZZ = process.env['FUZZ'] === '1';

/** What the general path gives for `msg` with `id` handed in (written as its last field). */
const reference = (msg: OutgoingMessage, id: string): string => encodeGcmString({ ...msg, message_id: id }, id);

// A few keys, so that consecutive messages often share one at a place: plain ones (one of them the
// longest a slot keeps, 29 characters, and one a character longer), and ones the general path must
// escape (a quote, `<`, `&`, non-ASCII) — never kept, and never mistaken for a kept one.
const KEYS = ['to', 'data', 'type', 'seq', 'a', '', 'k'.repeat(29), 'k'.repeat(30), 'a"b', '<x>', 'x&y', 'é'];
const key = fc.constantFrom(...KEYS);
const leaf = fc.oneof(fc.constantFrom('chat', 'a"b', 'é', ''), fc.nat(1000), fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, leaf, tie('obj')),
  obj: fc.array(fc.tuple(key, tie('v')), { maxLength: 6 }).map((entries) => Object.fromEntries(entries)),
})).v;
const message = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries) => Object.fromEntries(entries) as OutgoingMessage);

test('messages sharing keys at any place are written byte for byte as the general path writes them, by one encoder after another', () => {
  fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), fc.constantFrom(1024, 2048, 65536), (msgs, slabSize) => {
    const encoders = [new GcmEncoder({ slabSize }), new GcmEncoder({ slabSize })];
    msgs.forEach((msg, i) => {
      const id = `m-${i}`;
      const enc = encoders[i % 2] as GcmEncoder;
      enc.appendDownstream(msg, id);
      assert.is(enc.takeRun()?.toString(), reference(msg, id));
    });
  }), { seed: 1403, numRuns: FUZZ ? 20_000 : 400 });
});

test('a key equal to the kept one but another string, a different key at a kept place, and places past the last slot are written as the general path writes them', () => {
  const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
  const msgs: OutgoingMessage[] = [
    { to: 't', data: { type: 'chat', seq: '1' } },
    // Equal keys made at run time: not the strings the literal above interned.
    { [['t', 'o'].join('')]: 't', [['da', 'ta'].join('')]: { [['ty', 'pe'].join('')]: 'chat', seq: '2' } } as OutgoingMessage,
    // The same places, other keys (one of the same length), then the first shape again.
    { to: 't', data: { typf: 'chat', seq: '3' } },
    { to: 't', data: { 'ty"e': 'chat', seq: '4' } },
    { to: 't', data: { type: 'chat', seq: '5' } },
    // 42 places: the last slot and past it, twice.
    { to: 't', data: wide },
    { to: 't', data: wide },
    { to: 't', data: { ...wide, k35: 'x', k36: undefined } },
  ];
  const enc = new GcmEncoder();
  msgs.forEach((msg, i) => assert.is(enc.encodeDownstream(msg, `m-${i}`).toString(), reference(msg, `m-${i}`), `message ${i}`));
});

test('a message of plain keys kept from the one before is still written without JSON.stringify', () => {
  const enc = new GcmEncoder();
  const msg = (seq: string): OutgoingMessage => ({ to: 'tok', data: { type: 'chat', title: 'New message', seq } });
  enc.encodeDownstream(msg('0'), 'm-0');
  const real = JSON.stringify;
  let calls = 0;
  JSON.stringify = ((...args: Parameters<typeof real>) => {
    calls++;
    return real(...args);
  }) as typeof real;
  let got = '';
  try {
    got = enc.encodeDownstream(msg('1'), 'm-1').toString();
  } finally {
    JSON.stringify = real;
  }
  assert.is(calls, 0);
  assert.is(got, reference(msg('1'), 'm-1'));
});

test.run();
