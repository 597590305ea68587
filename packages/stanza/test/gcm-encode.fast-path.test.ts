// GcmEncoder's fast paths and slabs. A plain message (ASCII strings with nothing to escape, small
// non-negative integers, booleans, null, nested a few levels) is written straight into the slab
// instead of going through JSON.stringify; plain ACKs are spliced from prebuilt bytes. Each only
// saves time, and a differential property checks that their bytes are the general path's — so
// whether a message takes its fast path is counted with a spy on JSON.stringify, as the stream's
// shortcut tests count regular expressions and the PLAIN server's tests count timingSafeEqual.
// And the slab contract: stanzas are carved out of shared slabs, not given a buffer each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GcmEncoder, encodeAckString, encodeGcmString, generatedIdPrefix, type DownstreamMessage, type OutgoingMessage } from '@ccs-xmpp/stanza';

/** How many times `fn` calls JSON.stringify (the spy is removed before anything is asserted). */
function stringifyCalls(fn: () => void): number {
  const real = JSON.stringify;
  let calls = 0;
  JSON.stringify = ((...args: Parameters<typeof real>) => {
    calls++;
    return real(...args);
  }) as typeof real;
  try {
    fn();
  } finally {
    JSON.stringify = real;
  }
  return calls;
}

// Every printable ASCII character the fast path copies as it is (all but " & < > \).
const PLAIN_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => !'"&<>\\'.includes(c)).join('');

/** Plain messages at each bound of the fast path's domain: each must be written without JSON.stringify. */
const plain: Array<[string, Record<string, unknown>]> = [
  ['a bare message', { to: 'tok' }],
  ['every plain ASCII character, in a short string and a long one, in a key and a value', { to: PLAIN_CHARS, data: { [PLAIN_CHARS]: PLAIN_CHARS.repeat(3) } }],
  ['a space and a tilde alone (the ends of the range)', { to: ' ', data: { a: '~', '~': ' ' } }],
  ['strings of 0, 127 and 128 characters (the native copy starts at 128)', { to: '', data: { a: 'x'.repeat(127), b: 'y'.repeat(128), c: ' ~'.repeat(100) } }],
  ['integers 0, -0, 9, 10 and 2^31 - 1', { to: 't', time_to_live: 0, data: { a: -0, b: 9, c: 10, d: 0x7fffffff } }],
  ['booleans and null', { to: 't', dry_run: false, content_available: true, data: { n: null } }],
  ['fields that are undefined (JSON leaves them out)', { to: 't', collapse_key: undefined, data: { a: undefined, b: '1', c: undefined } }],
  ['objects nested four deep', { to: 't', data: { a: { b: { c: { d: 1 } } } }, notification: {} }],
];

test('a plain message is written without JSON.stringify, byte for byte what JSON.stringify would give', () => {
  for (const [name, fields] of plain) {
    const own = { ...fields, message_id: 'm-1' } as DownstreamMessage;
    const want = encodeGcmString(own, 'm-1');
    // With a message_id of its own, and with one handed in (written as the last field).
    const wantAppended = encodeGcmString({ ...fields, message_id: 'm-2' }, 'm-2');
    let got = '';
    let appended = '';
    let run = '';
    const calls = stringifyCalls(() => {
      got = new GcmEncoder().encodeDownstream(own).toString();
      appended = new GcmEncoder().encodeDownstream(fields as OutgoingMessage, 'm-2').toString();
      const enc = new GcmEncoder();
      enc.appendDownstream(fields as OutgoingMessage, 'm-2');
      run = enc.takeRun()?.toString() ?? '';
    });
    assert.is(got, want, name);
    assert.is(appended, wantAppended, name);
    assert.is(run, wantAppended, name);
    assert.is(calls, 0, `${name}: JSON.stringify called ${calls} times`);
  }
});

test('a plain message of strings is written with no call to Uint8Array set or copyWithin (the envelope and the id\'s copy are stores)', () => {
  // Each was a call out of optimised code per message: B_OPEN_ID, B_AFTER_ID, B_ID_FIELD and B_CLOSE
  // by `set`, the id's copy into the JSON by `copyWithin` (bench/ANALYSIS.md, eleventh pass).
  const proto = Uint8Array.prototype;
  const { set, copyWithin } = proto;
  const enc = new GcmEncoder();
  const prefix = generatedIdPrefix('Bn3xq9Zk_-');
  if (prefix === undefined) throw new Error('plain prefix refused');
  const msg = { to: 'bench-device-token-0001', data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: '7' } };
  // The first stanza takes the slab; the rest are counted.
  enc.appendGenerated(msg, prefix, 0);
  let calls = 0;
  proto.set = function (this: Uint8Array, ...args: Parameters<typeof set>) {
    calls++;
    return set.apply(this, args);
  };
  proto.copyWithin = function (this: Uint8Array, ...args: Parameters<typeof copyWithin>) {
    calls++;
    return copyWithin.apply(this, args);
  };
  try {
    for (let i = 1; i < 50; i++) {
      enc.appendGenerated(msg, prefix, i * 7919);
      enc.appendDownstream(msg, `caller-id-${i}`);
      enc.appendDownstream({ ...msg, message_id: `own-${i}` });
    }
  } finally {
    proto.set = set;
    proto.copyWithin = copyWithin;
  }
  assert.is(calls, 0);
  const run = enc.takeRun()?.toString() ?? '';
  const want = [encodeGcmString({ ...msg, message_id: 'Bn3xq9Zk_-0' }, 'Bn3xq9Zk_-0')];
  for (let i = 1; i < 50; i++) {
    const id = `Bn3xq9Zk_-${(i * 7919).toString(36)}`;
    want.push(encodeGcmString({ ...msg, message_id: id }, id), encodeGcmString({ ...msg, message_id: `caller-id-${i}` }, `caller-id-${i}`), encodeGcmString({ ...msg, message_id: `own-${i}` }, `own-${i}`));
  }
  assert.is(run, want.join(''));
});

test('an empty message gets its handed-in message_id as its only field without JSON.stringify', () => {
  let got = '';
  assert.is(stringifyCalls(() => { got = new GcmEncoder().encodeDownstream({} as OutgoingMessage, 'm').toString(); }), 0);
  assert.is(got, '<message id="m"><gcm xmlns="google:mobile:data">{"message_id":"m"}</gcm></message>');
});

test('plain messages stay on the fast path across slab boundaries, and up to 8 KiB whatever the slab size', () => {
  const msgs = Array.from({ length: 600 }, (_, i) => ({ to: `tok-${i}`, message_id: `m-${i}`, data: { body: 'b'.repeat(i % 300), n: i } }));
  const big = { to: 'tok', message_id: 'big', data: { body: 'x'.repeat(7000) } };
  const want = msgs.map((m) => encodeGcmString(m, m.message_id));
  const wantBig = encodeGcmString(big, 'big');
  for (const slabSize of [1024, 4096, 64 * 1024]) {
    const got: string[] = [];
    let gotBig = '';
    const calls = stringifyCalls(() => {
      const enc = new GcmEncoder({ slabSize });
      for (const m of msgs) got.push(enc.encodeDownstream(m).toString());
      gotBig = enc.encodeDownstream(big).toString();
    });
    assert.equal(got, want);
    assert.is(gotBig, wantBig);
    assert.is(calls, 0, `slabs of ${slabSize}: JSON.stringify called ${calls} times`);
  }
});

test('a plain message the room left cannot hold is written in a fresh slab, still without JSON.stringify', () => {
  for (const slabSize of [1024, 8192]) {
    // The first message leaves more than 1 KiB but less than the second needs.
    const first = { to: 'tok', message_id: 'a', data: { pad: 'p'.repeat(2000) } };
    const second = { to: 'tok', message_id: 'b', data: { pad: 'q'.repeat(7000) } };
    const want = [encodeGcmString(first, 'a'), encodeGcmString(second, 'b')];
    const got: string[] = [];
    const calls = stringifyCalls(() => {
      const enc = new GcmEncoder({ slabSize });
      got.push(enc.encodeDownstream(first).toString(), enc.encodeDownstream(second).toString());
    });
    assert.equal(got, want);
    assert.is(calls, 0, `slabs of ${slabSize}`);
  }
});

test('a message keeps its own message_id: the one handed in is only for a message without one', () => {
  for (const msg of [{ to: 'tok', message_id: 'own' }, { to: 'tok<', message_id: 'own' }]) {
    const want = encodeGcmString(msg, 'own');
    assert.is(new GcmEncoder().encodeDownstream(msg, 'other').toString(), want);
    const enc = new GcmEncoder();
    enc.appendDownstream(msg, 'other');
    assert.is(enc.takeRun()?.toString(), want);
  }
});

test('a plain ACK and a plain server ACK are spliced without JSON.stringify', () => {
  const ack = '<message id="m-1"><gcm xmlns="google:mobile:data">{"to":"tok","message_id":"m-1","message_type":"ack"}</gcm></message>';
  const serverAck = '<message><gcm xmlns="google:mobile:data">{"from":"tok","message_id":"m-1","message_type":"ack"}</gcm></message>';
  const got: string[] = [];
  const calls = stringifyCalls(() => {
    const enc = new GcmEncoder();
    got.push(enc.encodeAck('tok', 'm-1').toString(), encodeAckString('tok', 'm-1'), enc.encodeServerAck('tok', 'm-1').toString());
  });
  assert.equal(got, [ack, ack, serverAck]);
  assert.is(calls, 0);
});

test('a server ACK with a registration_id, or without from, is written in full (the splice is only for the plain form)', () => {
  const enc = new GcmEncoder();
  assert.is(enc.encodeServerAck('tok', 'm-1', 'reg-2').toString(), encodeGcmString({ from: 'tok', message_id: 'm-1', message_type: 'ack', registration_id: 'reg-2' }));
  assert.is(enc.encodeServerAck(undefined, 'm-1', 'reg-2').toString(), encodeGcmString({ message_id: 'm-1', message_type: 'ack', registration_id: 'reg-2' }));
  assert.is(enc.encodeServerAck(undefined, 'm-1').toString(), encodeGcmString({ message_id: 'm-1', message_type: 'ack' }));
  assert.is(enc.encodeServerAck('', 'm-1', '').toString(), encodeGcmString({ from: '', message_id: 'm-1', message_type: 'ack', registration_id: '' }));
});

test('encodeDownstream writes only own fields when Object.prototype has an enumerable one, as JSON.stringify does', () => {
  const msgs: Array<[OutgoingMessage, string | undefined]> = [
    [{ to: 't', message_id: 'm-1', data: { a: '1' } }, undefined],
    [{ to: 't' }, 'm-2'],
    [{} as OutgoingMessage, 'm-3'],
    [{ to: 't', message_id: 'm-4', data: {} }, undefined],
  ];
  const want = msgs.map(([m, id]) => encodeGcmString(id === undefined ? m : { ...m, message_id: id }, id ?? (m.message_id as string)));
  const got: string[] = [];
  Object.defineProperty(Object.prototype, 'polluted', { value: 'x', enumerable: true, configurable: true, writable: true });
  try {
    for (const [m, id] of msgs) got.push((id === undefined ? new GcmEncoder().encodeDownstream(m as DownstreamMessage) : new GcmEncoder().encodeDownstream(m, id)).toString());
  } finally {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  }
  assert.equal(got, want);
  // A toJSON on Object.prototype (not enumerable) is every plain object's, and JSON.stringify calls it.
  const pairs: string[][] = [];
  Object.defineProperty(Object.prototype, 'toJSON', { value: () => ({ replaced: true }), configurable: true, writable: true });
  try {
    for (const [m, id] of msgs) {
      const wantHere = encodeGcmString(id === undefined ? m : { ...m, message_id: id }, id ?? (m.message_id as string));
      const out = (id === undefined ? new GcmEncoder().encodeDownstream(m as DownstreamMessage) : new GcmEncoder().encodeDownstream(m, id)).toString();
      pairs.push([out, wantHere]);
    }
  } finally {
    delete (Object.prototype as Record<string, unknown>)['toJSON'];
  }
  for (const [out, wantHere] of pairs) assert.is(out, wantHere);
  assert.ok(pairs.every(([out]) => out?.includes('{"replaced":true}')));
});

test('encodeDownstream writes what JSON.stringify writes for objects that are not plain data', () => {
  class Message {
    to = 'tok';
    message_id = 'm-1';
  }
  const boxed = Object.assign(new String('ab'), { to: 't', message_id: 'm-1' });
  const array = Object.assign(['a'], { to: 't', message_id: 'm-1' });
  const bare = Object.assign(Object.create(null) as object, { to: 't', message_id: 'm-1' });
  for (const msg of [new Message(), boxed, array, bare, { to: 't', message_id: 'm-1', data: { f: () => 1, s: Symbol('s'), n: Object.assign(Object.create(null) as object, { a: 1 }) } }]) {
    assert.is(new GcmEncoder().encodeDownstream(msg as never).toString(), encodeGcmString(msg, 'm-1'));
  }
});

// The slab contract: each result is a view of a slab shared with the stanzas before and after it,
// so thousands of small stanzas hold a few slabs, not a buffer each (a socket's queue keeps every
// view it was given until the write completes).
test('small stanzas share slabs: thousands of them use a few slabs of slabSize, by every method', () => {
  const methods: Array<[string, (enc: GcmEncoder, i: number) => Buffer]> = [
    ['encodeDownstream (plain)', (enc, i) => enc.encodeDownstream({ to: `tok-${i}`, message_id: `m-${i}`, data: { n: i } })],
    ['encodeDownstream (escaped)', (enc, i) => enc.encodeDownstream({ to: `tok-${i}`, message_id: `m-${i}`, data: { t: 'a<b' } })],
    ['encodeAck', (enc, i) => enc.encodeAck(`tok-${i}`, `m-${i}`)],
    ['encodeAck (escaped)', (enc, i) => enc.encodeAck(`tok-${i}`, `m-${i}&`)],
    ['encodeServerAck', (enc, i) => enc.encodeServerAck(`tok-${i}`, `m-${i}`)],
    ['encode', (enc, i) => enc.encode({ i }, `m-${i}`)],
    ['encodeJson', (enc, i) => enc.encodeJson(`{"i":${i}}`)],
  ];
  for (const [name, encode] of methods) {
    for (const slabSize of [undefined, 8192]) {
      const enc = new GcmEncoder(slabSize === undefined ? {} : { slabSize });
      const slabs = new Set<ArrayBufferLike>();
      let bytes = 0;
      for (let i = 0; i < 2000; i++) {
        const b = encode(enc, i);
        bytes += b.length;
        slabs.add(b.buffer);
        if (b.buffer.byteLength < (slabSize ?? 64 * 1024)) assert.unreachable(`${name}: a slab of ${b.buffer.byteLength} bytes`);
      }
      // Up to 1 KiB of a slab may stay unused (the plain writer starts a fresh one below that).
      const most = Math.ceil(bytes / ((slabSize ?? 64 * 1024) - 1024 - 200)) + 1;
      assert.ok(slabs.size <= most, `${name}, slabSize ${slabSize}: ${slabs.size} slabs for ${bytes} bytes`);
    }
  }
});

// The plain writer learns a message's size only by writing it: where the room runs out in the
// middle of the stanza id, a key, a value or the closing brace, it must give the message up and
// write it again elsewhere, never write past the slab or leave a cut stanza. Each shape grows one
// byte at a time until its end crosses the end of the slab, after a first stanza or none.
/** Marks the id a sweep shape hands to encodeDownstream instead of giving the message its own. */
const APPEND = Symbol('handed-in message_id');
const handedIn = (msg: DownstreamMessage): string | undefined => (msg as unknown as Record<symbol, string | undefined>)[APPEND];
const encode = (enc: GcmEncoder, msg: DownstreamMessage): Buffer => {
  const id = handedIn(msg);
  return id === undefined ? enc.encodeDownstream(msg) : enc.encodeDownstream(msg as OutgoingMessage, id);
};
const reference = (msg: DownstreamMessage): string => {
  const id = handedIn(msg);
  return id === undefined ? encodeGcmString(msg, msg.message_id) : encodeGcmString({ ...msg, message_id: id }, id);
};

test('a plain message that runs out of room anywhere near the end of the slab is written whole, and nothing earlier changes', () => {
  const slabSize = 8192;
  const shapes: Array<[string, (n: number) => DownstreamMessage]> = [
    ['the stanza id', (n) => ({ to: 't', message_id: `m${'i'.repeat(n)}` })],
    ['a key before true', (n) => ({ to: 't', message_id: 'm', data: { [`k${'k'.repeat(n)}`]: true } })],
    ['a key before an integer', (n) => ({ to: 't', message_id: 'm', data: { [`k${'k'.repeat(n)}`]: 1234567890 } })],
    ['a key before null', (n) => ({ to: 't', message_id: 'm', data: { [`k${'k'.repeat(n)}`]: null } })],
    ['a key before an object', (n) => ({ to: 't', message_id: 'm', data: { [`k${'k'.repeat(n)}`]: {}, z: false } })],
    ['a short key after a long value', (n) => ({ to: 't', message_id: 'm', data: { v: 'v'.repeat(n), w: 1, x: true } })],
    ['a value that is a long string', (n) => ({ to: 't', message_id: 'm', data: { v: 'v'.repeat(n) } })],
    // Without a message_id of its own: the one handed in is written as the last field.
    ['a long value before a handed-in id', (n) => Object.assign({ to: 't', data: { v: 'v'.repeat(n) } }, { [APPEND]: 'm' }) as never],
    ['a long handed-in id', (n) => Object.assign({ to: 't' }, { [APPEND]: `m${'i'.repeat(n)}` }) as never],
  ];
  for (const first of [undefined, { to: 'first', message_id: 'f', data: { pad: 'p'.repeat(300) } }]) {
    for (const [name, shape] of shapes) {
      const base = Buffer.byteLength(reference(shape(0)));
      const before = first === undefined ? 0 : Buffer.byteLength(encodeGcmString(first, first.message_id));
      // From sizes that fit to the growing part alone reaching the end of the slab.
      for (let n = slabSize - before - base - 48; n <= slabSize - before; n++) {
        const msg = shape(n);
        const want = reference(msg);
        const enc = new GcmEncoder({ slabSize });
        const earlier = first === undefined ? undefined : enc.encodeDownstream(first);
        const copy = earlier?.toString();
        let out: string;
        try {
          out = encode(enc, msg).toString();
        } catch (err) {
          assert.unreachable(`${name}, n = ${n}: ${String(err)}`);
          return;
        }
        if (out !== want) assert.is(out, want, `${name}, n = ${n}`);
        if (earlier?.toString() !== copy) assert.unreachable(`${name}, n = ${n}: the first stanza changed`);
      }
    }
  }
});

test.run();
