// GcmEncoder's run (appendDownstream / takeRun): the stanzas appended between two takes come out as
// one buffer, byte for byte what one encodeDownstream per message would give, in order — across
// slab boundaries, around stanzas the other methods encode meanwhile, plain or not — and nothing
// handed out earlier is written over later, until the owner says none is read any more (`rewind`).
// Seeded; FUZZ=1 runs many more.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { GcmEncoder, type OutgoingMessage } from '@ccs-xmpp/stanza';

const FUZZ = process.env['FUZZ'] === '1';

// Plain messages (the fast path), some that are not (escapes, non-ASCII, arrays, an own message_id),
// and sizes from tiny to larger than the 1 KiB slabs used here.
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('<&>', 'é東😀', ']]>', '"\\'), fc.string({ minLength: 200, maxLength: 1500 }));
const message: fc.Arbitrary<OutgoingMessage> = fc.record(
  {
    to: fc.constantFrom('tok-1', 'tok<2>'),
    message_id: fc.string({ minLength: 1, maxLength: 8 }),
    data: fc.dictionary(fc.constantFrom('a', 'b', 'body', 'n'), fc.oneof(text, fc.nat(1000), fc.boolean(), fc.array(fc.nat(9), { maxLength: 3 }))),
  },
  { requiredKeys: ['to'] },
) as fc.Arbitrary<OutgoingMessage>;

type Op =
  | { kind: 'append'; msg: OutgoingMessage; id: string }
  | { kind: 'ack'; to: string; id: string }
  | { kind: 'encode'; msg: OutgoingMessage; id: string }
  | { kind: 'take' }
  | { kind: 'rewind' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), msg: message, id: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), to: fc.constantFrom('t', 'ü'), id: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('encode' as const), msg: message, id: fc.string({ minLength: 1, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'take' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rewind' as const }) },
);

test('a run is the appended stanzas in order, byte for byte, and nothing handed out is written over', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom(1024, 4096), (ops, slabSize) => {
    const enc = new GcmEncoder({ slabSize });
    const reference = new GcmEncoder();
    const expectedRun: string[] = [];
    const gotRun: Buffer[] = [];
    const views: Array<[Buffer, string]> = [];
    let appendedSinceTake = false;
    for (const o of ops) {
      if (o.kind === 'append') {
        const expected = reference.encodeDownstream(o.msg, o.id).toString();
        assert.is(enc.appendDownstream(o.msg, o.id), Buffer.byteLength(expected));
        expectedRun.push(expected);
        appendedSinceTake = true;
      } else if (o.kind === 'rewind') {
        // What the owner promises before a rewind: what was taken so far has been read (written out).
        if (appendedSinceTake) {
          assert.not.ok(enc.rewind(), 'a pending run is never rewound over');
          continue;
        }
        assert.is(Buffer.concat(gotRun).toString(), expectedRun.join(''));
        for (const [view, expected] of views) assert.is(view.toString(), expected);
        gotRun.length = 0;
        expectedRun.length = 0;
        views.length = 0;
        assert.ok(enc.rewind(), 'nothing pending: rewound');
      } else if (o.kind === 'ack') {
        views.push([enc.encodeAck(o.to, o.id), reference.encodeAck(o.to, o.id).toString()]);
      } else if (o.kind === 'encode') {
        views.push([enc.encodeDownstream(o.msg, o.id), reference.encodeDownstream(o.msg, o.id).toString()]);
      } else {
        const run = enc.takeRun();
        if (run !== undefined) gotRun.push(run);
        appendedSinceTake = false;
      }
    }
    const last = enc.takeRun();
    if (last !== undefined) gotRun.push(last);
    assert.is(enc.takeRun(), undefined);
    // Compared at the end: a later write over an earlier buffer would show here.
    assert.is(Buffer.concat(gotRun).toString(), expectedRun.join(''));
    for (const [view, expected] of views) assert.is(view.toString(), expected);
  }), { seed: 41, numRuns: FUZZ ? 20_000 : 300 });
});

test('takeRun gives nothing before anything is appended, and one view of the slab for a run within one', () => {
  const enc = new GcmEncoder();
  assert.is(enc.takeRun(), undefined);
  enc.appendDownstream({ to: 't', data: { a: '1' } }, 'm1');
  enc.appendDownstream({ to: 't', data: { a: '2' } }, 'm2');
  const run = enc.takeRun();
  assert.is(
    run?.toString(),
    '<message id="m1"><gcm xmlns="google:mobile:data">{"to":"t","data":{"a":"1"},"message_id":"m1"}</gcm></message>' +
      '<message id="m2"><gcm xmlns="google:mobile:data">{"to":"t","data":{"a":"2"},"message_id":"m2"}</gcm></message>',
  );
  assert.is(run?.byteOffset, 0, 'a view of the slab, not a copy');
  assert.is(enc.takeRun(), undefined);
});

test('takeRun hands over the slab itself, not a copy, whenever the run lies in one slab', () => {
  const m = (i: number): OutgoingMessage => ({ to: 't', data: { i: String(i) } });
  const bigAck = (enc: GcmEncoder): Buffer => enc.encodeAck('t'.repeat(8000), 'big');
  // After another method's stanza in the same slab.
  let enc = new GcmEncoder({ slabSize: 8192 });
  const ack = enc.encodeAck('t', 'a');
  enc.appendDownstream(m(1), 'm1');
  enc.appendDownstream(m(2), 'm2');
  let run = enc.takeRun();
  assert.is(run?.buffer, ack.buffer, 'after an ACK');
  // Left in the slab before the one another method's stanza started.
  enc = new GcmEncoder({ slabSize: 8192 });
  const before = enc.encodeAck('t', 'a');
  enc.appendDownstream(m(1), 'm1');
  const after = bigAck(enc);
  assert.is.not(after.buffer, before.buffer);
  run = enc.takeRun();
  assert.is(run?.buffer, before.buffer, 'left in the slab before');
  assert.is(run?.toString(), new GcmEncoder().encodeDownstream(m(1), 'm1').toString());
  // Begun in the slab another method's stanza started.
  enc = new GcmEncoder({ slabSize: 16384 });
  const filler = enc.encodeAck('t'.repeat(10_000), 'a');
  const started = enc.encodeAck('t'.repeat(10_000), 'b');
  assert.is.not(started.buffer, filler.buffer);
  enc.appendDownstream(m(1), 'm1');
  run = enc.takeRun();
  assert.is(run?.buffer, started.buffer, 'in the slab begun by another stanza');
});

test('rewind: the next stanzas start at the slab\'s start again, over what was handed out, unless a run is pending', () => {
  const m = (i: number): OutgoingMessage => ({ to: 't', data: { i: String(i) } });
  const enc = new GcmEncoder({ slabSize: 4096 });
  assert.ok(enc.rewind(), 'before the first slab: nothing to keep');
  enc.appendDownstream(m(1), 'm1');
  const first = enc.takeRun() as Buffer;
  // Stanzas of the other methods do not hold it back either: the owner answers for their buffers too.
  enc.encodeAck('t', 'a');
  assert.ok(enc.rewind());
  enc.appendDownstream(m(2), 'm2');
  const second = enc.takeRun() as Buffer;
  assert.is(second.buffer, first.buffer, 'the same slab');
  assert.is(second.byteOffset, first.byteOffset, 'from its start');
  assert.is(second.toString(), new GcmEncoder().encodeDownstream(m(2), 'm2').toString());
  assert.is(first.toString(), second.toString(), 'written over: the owner promised nothing reads it');
  // A run appended and not taken is kept, in this slab and when it began in an earlier one.
  enc.appendDownstream(m(3), 'm3');
  assert.not.ok(enc.rewind());
  enc.appendDownstream(m(4), 'm4');
  const reference = new GcmEncoder();
  assert.is(enc.takeRun()?.toString(), reference.encodeDownstream(m(3), 'm3').toString() + reference.encodeDownstream(m(4), 'm4').toString());
  for (let i = 0; i < 40; i++) enc.appendDownstream(m(i), `m${i}`.padEnd(100, 'x'));
  assert.not.ok(enc.rewind(), 'a run across slabs');
  const across = enc.takeRun() as Buffer;
  assert.is(across.toString(), Array.from({ length: 40 }, (_, i) => reference.encodeDownstream(m(i), `m${i}`.padEnd(100, 'x')).toString()).join(''));
  assert.ok(enc.rewind());
});

test.run();
