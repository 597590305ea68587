// GcmEncoder.appendGenerated / encodeGenerated: a generated `message_id` (`<prefix><counter in
// base 36>`) written from the prefix's bytes and the counter, without the id string a sender would
// otherwise make and keep per pending message. Only a saving: the bytes must be those of the string
// path (`appendDownstream(msg, prefix + counter.toString(36))`), on the plain path and the general
// one, at every digit count and across slab boundaries.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GcmEncoder, GeneratedIdPrefix, generatedIdPrefix, generatedIdText, type OutgoingMessage } from '@ccs-xmpp/stanza';

const RUNS = process.env['FUZZ'] ? 2000 : 200;

/** Counters at every digit count's edges (36^k − 1 and 36^k), and the largest one. */
const EDGE_COUNTERS = [0, 1, 35, 36, 37, 1295, 1296, 36 ** 3 - 1, 36 ** 3, 36 ** 5 - 1, 36 ** 5, 36 ** 6, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 36 ** 10 - 1, 36 ** 10, Number.MAX_SAFE_INTEGER];

/** Prefixes: none, a short option-style one, a process-style one (`makeProcessPrefix`'s alphabet), a long one. */
const PREFIXES = ['', 'm-', 'Bn3xq9Zk_-', 'sender-42/host-7:worker-3.', 'x'.repeat(300)];

const MESSAGES: OutgoingMessage[] = [
  { to: 'tok' },
  {},
  { to: 'bench-device-token-0001', data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: '7' } },
  // The general path: escapes, non-ASCII, a number the plain writer leaves to JSON.stringify, an array.
  { to: 'tok', data: { q: 'a "quoted" <b> & \\ done' } },
  { to: 'tök', notification: { title: 'ü' } },
  { to: 'tok', time_to_live: 1.5 as unknown as number },
  { condition: "'a' in topics", data: { list: ['x'] as unknown as string } },
  // An own message_id key set to undefined: the general path keeps its place (as a copy would).
  { to: 'tok', message_id: undefined, data: { a: '1' } },
];

function prefixOf(text: string): GeneratedIdPrefix {
  const p = generatedIdPrefix(text);
  if (p === undefined) throw new Error(`not a plain prefix: ${text}`);
  return p;
}

/** The stanza as the string path writes it, and as the generated path writes it, each on a fresh encoder of `slabSize`. */
function both(msg: OutgoingMessage, prefix: GeneratedIdPrefix, counter: number, slabSize?: number): [string, string] {
  const viaString = new GcmEncoder({ slabSize }).encodeDownstream(msg, prefix.text + counter.toString(36)).toString('latin1');
  const viaCounter = new GcmEncoder({ slabSize }).encodeGenerated(msg, prefix, counter).toString('latin1');
  return [viaCounter, viaString];
}

test('a generated id is written as the string path writes prefix + counter.toString(36), at every digit count, plain and general messages', () => {
  for (const text of PREFIXES) {
    const prefix = prefixOf(text);
    for (const counter of EDGE_COUNTERS) {
      assert.is(generatedIdText(prefix, counter), text + counter.toString(36));
      for (const msg of MESSAGES) {
        const [viaCounter, viaString] = both(msg, prefix, counter);
        assert.is(viaCounter, viaString, `${JSON.stringify(text)} ${counter} ${JSON.stringify(msg)}`);
      }
    }
  }
});

test('appendGenerated runs are byte for byte the string path\'s runs, across slab boundaries (property)', () => {
  const counter = fc.oneof(fc.constantFrom(...EDGE_COUNTERS), fc.nat(), fc.maxSafeNat());
  const prefixText = fc.oneof(fc.constantFrom(...PREFIXES), fc.stringMatching(/^[a-zA-Z0-9_\-.:/ ]{0,40}$/));
  const item = fc.record({ counter, msg: fc.constantFrom(...MESSAGES), own: fc.boolean() });
  fc.assert(
    fc.property(prefixText, fc.array(item, { minLength: 1, maxLength: 40 }), fc.constantFrom(1024, 2048, 65536), (text, items, slabSize) => {
      const prefix = prefixOf(text);
      const a = new GcmEncoder({ slabSize });
      const b = new GcmEncoder({ slabSize });
      let lenA = 0;
      let lenB = 0;
      for (const { counter: n, msg, own } of items) {
        // A caller-given id in between takes the string path on both encoders.
        if (own) {
          lenA += a.appendDownstream({ ...msg, message_id: `own-${n}` });
          lenB += b.appendDownstream({ ...msg, message_id: `own-${n}` });
        } else {
          lenA += a.appendGenerated(msg, prefix, n);
          lenB += b.appendDownstream(msg, text + n.toString(36));
        }
        assert.is(lenA, lenB);
      }
      assert.is(a.takeRun()?.toString('latin1'), b.takeRun()?.toString('latin1'));
    }),
    { numRuns: RUNS, seed: 1411 },
  );
});

test('a message with its own message_id keeps it: the generated id is only for a message without one', () => {
  const prefix = prefixOf('m-');
  const viaCounter = new GcmEncoder().encodeGenerated({ to: 'tok', message_id: 'own' }, prefix, 7).toString();
  assert.is(viaCounter, new GcmEncoder().encodeDownstream({ to: 'tok', message_id: 'own' }).toString());
});

test('generatedIdPrefix takes plain-ASCII prefixes only: others are written from their strings', () => {
  for (const text of ['ü-', 'a"b', 'a<b', 'a>b', 'a&b', 'a\\b', 'tab\t', '\u007f', '😀']) assert.is(generatedIdPrefix(text), undefined, JSON.stringify(text));
  const p = prefixOf('Bn3xq9Zk_-');
  assert.is(p.text, 'Bn3xq9Zk_-');
  assert.ok(p instanceof GeneratedIdPrefix);
  assert.ok(Object.isFrozen(p));
  assert.is(new GcmEncoder().encodeGenerated({}, p, 35).toString('latin1'), new GcmEncoder().encodeDownstream({}, 'Bn3xq9Zk_-z').toString('latin1'));
});

test('a GeneratedIdPrefix not made by generatedIdPrefix is refused with a TypeError, and nothing is written', () => {
  const real = prefixOf('m-');
  // What the type used to be: an object anyone could build, its text, bytes and words disagreeing.
  const bytes = Buffer.from('x"<', 'latin1');
  const handMade = [
    { text: 'm-', bytes, words: new Uint32Array(bytes.buffer, bytes.byteOffset, 0) },
    Object.create(GeneratedIdPrefix.prototype) as object,
    Object.assign(Object.create(GeneratedIdPrefix.prototype) as object, { text: 'm-' }),
    { ...real },
    null,
    'm-',
  ] as unknown as GeneratedIdPrefix[];
  for (const fake of handMade) {
    const encoder = new GcmEncoder();
    assert.throws(() => encoder.appendGenerated({ to: 'tok' }, fake, 1), (e: unknown) => e instanceof TypeError && /generatedIdPrefix/.test(e.message), 'appendGenerated');
    assert.is(encoder.takeRun(), undefined, 'nothing was written');
    assert.throws(() => encoder.encodeGenerated({ to: 'tok' }, fake, 1), TypeError, 'encodeGenerated');
    // The general path (an own message_id, a counter past 2^53) refuses it as well.
    assert.throws(() => encoder.encodeGenerated({ to: 'tok', message_id: 'own' }, fake, 1), TypeError, 'encodeGenerated, own id');
    assert.throws(() => encoder.encodeGenerated({ to: 'tok' }, fake, 2 ** 60), TypeError, 'encodeGenerated, large counter');
    assert.throws(() => generatedIdText(fake, 1), TypeError, 'generatedIdText');
    // The encoder still writes the real one afterwards, and refuses the fake again after it.
    assert.is(encoder.encodeGenerated({ to: 'tok' }, real, 1).toString('latin1'), new GcmEncoder().encodeDownstream({ to: 'tok' }, 'm-1').toString('latin1'));
    assert.throws(() => encoder.encodeGenerated({ to: 'tok' }, fake, 2), TypeError, 'after a real one');
  }
  // Its constructor is not for calling: private in the types, refused at run time.
  const Ctor = GeneratedIdPrefix as unknown as new (key: symbol, text: string) => GeneratedIdPrefix;
  assert.throws(() => new Ctor(Symbol('GeneratedIdPrefix'), 'x"<'), TypeError);
});

test('one encoder alternating between prefixes writes each message with its own', () => {
  const a = prefixOf('a-');
  const b = prefixOf('bb-long-');
  const encoder = new GcmEncoder();
  const ref = new GcmEncoder();
  for (let i = 0; i < 50; i++) {
    const p = i % 3 === 0 ? a : b;
    encoder.appendGenerated({ to: 'tok' }, p, i);
    ref.appendDownstream({ to: 'tok' }, p.text + i.toString(36));
  }
  assert.is(encoder.takeRun()?.toString('latin1'), ref.takeRun()?.toString('latin1'));
});

test.run();
