// Property tests (fast-check): codec round trip through plain saxes and through the stream's
// StanzaParser, well-formedness of every encoded stanza, and the validator against the spec's rules.
// Seeded with fixed numRuns; FUZZ=1 runs many more.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  GcmEncoder, encodeGcmString, encodeAckString, gcmStanzaString, decodeGcmMessage, findGcmChild, gcmText,
  stanzaIdAttr, validateDownstream, type JsonObject,
} from '@ccs-xmpp/stanza';
import { parseWithSaxes, parseWithStream } from './helpers/xml.js';
import { canonicalAckFrom, canonicalAckId, decodeGcmText, decodeJsonText } from '../src/gcm-decode.js';

const FUZZ = process.env['FUZZ'] === '1';
const params = (seed: number): fc.Parameters<unknown> => ({ seed, numRuns: FUZZ ? 20_000 : 150, endOnFailure: false });

// Strings built from what breaks XML and JSON: markup characters, `]]>`, U+FFFE/U+FFFF, lone and
// paired surrogates, U+2028, controls, quotes and backslashes — plus arbitrary code units.
const tricky = fc.constantFrom(
  '<', '&', '>', ']]>', ']]', '\uFFFE', '\uFFFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u2028', '\u2029',
  '😀', '𝄞', '"', "'", '\\', '\u0000', '\u001F', '\t', '\r', '\n', '\r\n', 'é', '東', '&amp;', '<![CDATA[',
);
const piece = fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 4 }), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)));
const str = fc.array(piece, { maxLength: 8 }).map((a) => a.join(''));
const nonEmpty = str.filter((s) => s !== '');
const key = str.filter((k) => k !== '__proto__');

const { value: jsonValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    str, fc.integer(), fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));
const jsonObject = fc.dictionary(key, jsonValue, { maxKeys: 5, noNullPrototype: true }) as fc.Arbitrary<JsonObject>;

const MESSAGE_TYPES = [undefined, 'ack', 'nack', 'receipt', 'control'] as const;
const inbound = fc.record({
  message_id: nonEmpty, from: str, data: jsonObject, category: str, extra: jsonValue,
  type: fc.constantFrom(...MESSAGE_TYPES),
}).map(({ type, ...rest }) => {
  const p: JsonObject = { ...rest };
  if (type !== undefined) p['message_type'] = type;
  return { payload: p, kind: type ?? 'upstream' };
});

function checkDecoded(el: Parameters<typeof decodeGcmMessage>[0], payload: JsonObject, kind: string, id: string): void {
  const m = decodeGcmMessage(el);
  assert.is(m.kind, kind);
  assert.equal(m.kind !== 'stanzaError' ? m.payload : undefined, payload);
  assert.is(m.stanzaId, stanzaIdAttr(id) === undefined ? undefined : id);
}

test('decode(parse(encode(m))) equals m for any inbound payload, through plain saxes', () => {
  const enc = new GcmEncoder({ slabSize: 4096 });
  fc.assert(fc.property(inbound, ({ payload, kind }) => {
    const id = payload['message_id'] as string;
    checkDecoded(parseWithSaxes(encodeGcmString(payload, id)), payload, kind, id);
    checkDecoded(parseWithSaxes(enc.encode(payload, id).toString('utf8')), payload, kind, id);
  }), params(1));
});

test('decode(parse(encode(m))) equals m for any inbound payload, through the stream StanzaParser', () => {
  const enc = new GcmEncoder({ slabSize: 4096 });
  fc.assert(fc.property(fc.array(inbound, { minLength: 1, maxLength: 4 }), (batch) => {
    const bytes = Buffer.concat(batch.map(({ payload }) => enc.encode(payload, payload['message_id'] as string)));
    const els = parseWithStream(bytes);
    assert.is(els.length, batch.length);
    els.forEach((el, i) => {
      const { payload, kind } = batch[i]!;
      checkDecoded(el, payload, kind, payload['message_id'] as string);
    });
  }), params(2));
});

test('a server ACK (encodeServerAck) decodes to the same from, message_id and registration_id, for any strings', () => {
  const enc = new GcmEncoder({ slabSize: 2048 });
  fc.assert(fc.property(fc.option(str, { nil: undefined }), nonEmpty, fc.option(str, { nil: undefined }), (from, id, registrationId) => {
    const m = decodeGcmMessage(parseWithSaxes(enc.encodeServerAck(from, id, registrationId).toString('utf8')));
    assert.is(m.kind, 'ack');
    if (m.kind !== 'ack') return;
    assert.is(m.messageId, id);
    assert.is(m.from, from);
    assert.is(m.registrationId, registrationId);
    assert.is(m.stanzaId, undefined);
  }), params(17));
});

test('an encoded ACK decodes to the same to and message_id, for any strings', () => {
  const enc = new GcmEncoder({ slabSize: 2048 });
  fc.assert(fc.property(str, str, (to, id) => {
    const expected = { to, message_id: id, message_type: 'ack' };
    for (const xmlText of [encodeAckString(to, id), enc.encodeAck(to, id).toString('utf8')]) {
      const m = decodeGcmMessage(parseWithSaxes(xmlText));
      assert.is(m.kind, id === '' ? 'invalid' : 'ack');
      assert.equal(m.kind === 'ack' || m.kind === 'invalid' ? m.payload : undefined, expected);
    }
    const [el] = parseWithStream(enc.encodeAck(to, id));
    assert.equal(JSON.parse(gcmText(findGcmChild(el!)!)), expected);
  }), params(3));
});

test('an encoded downstream message carries exactly its JSON', () => {
  const enc = new GcmEncoder({ slabSize: 4096 });
  fc.assert(fc.property(nonEmpty, str, jsonObject, (id, to, data) => {
    const msg = { to, message_id: id, data };
    const el = parseWithSaxes(enc.encodeDownstream(msg).toString('utf8'));
    assert.equal(JSON.parse(gcmText(findGcmChild(el)!)), msg);
  }), params(4));
});

test('every encoded stanza is well-formed XML for saxes, whatever the JSON text and id', () => {
  const anyText = fc.oneof(str, jsonValue.map((v) => JSON.stringify(v)), fc.string({ unit: 'binary' }));
  fc.assert(fc.property(anyText, fc.option(str, { nil: undefined }), (text, id) => {
    const el = parseWithSaxes(gcmStanzaString(text, id)); // throws if not well-formed
    const inner = el.getChild('gcm');
    let original: unknown;
    try {
      original = JSON.parse(text);
    } catch {
      return; // not JSON: only well-formedness is promised
    }
    assert.equal(JSON.parse(inner ? inner.text() : ''), original);
  }), params(5));
});

// --- validator -----------------------------------------------------------------------------------

const topicName = fc.stringMatching(/^[a-zA-Z0-9_.~%-]{1,12}$/);
const condition = fc.array(topicName, { minLength: 1, maxLength: 3 }).chain((names) =>
  fc.array(fc.constantFrom('&&', '||'), { minLength: names.length - 1, maxLength: names.length - 1 })
    .map((ops) => names.map((n, i) => `'${n}' in topics${i < ops.length ? ` ${ops[i]} ` : ''}`).join('')));
const dataKey = key.filter((k) => k !== 'from' && !k.startsWith('google'));
const validData = fc.dictionary(dataKey, fc.oneof(str, fc.integer(), fc.boolean()), { maxKeys: 6, noNullPrototype: true });
const validNotification = fc.record({
  title: str, body: str, icon: str, sound: str, badge: str, tag: str, color: str, click_action: str,
  body_loc_key: str, title_loc_key: str, body_loc_args: fc.array(str, { maxLength: 3 }), title_loc_args: fc.array(str, { maxLength: 3 }),
}, { requiredKeys: [] });
const options = fc.record({
  collapse_key: str, priority: fc.constantFrom('normal', 'high'), content_available: fc.boolean(), mutable_content: fc.boolean(),
  delay_while_idle: fc.boolean(), delivery_receipt_requested: fc.boolean(), dry_run: fc.boolean(),
  time_to_live: fc.oneof(fc.integer({ min: 0, max: 2419200 }), fc.integer({ min: 0, max: 2419200 }).map(String)), data: validData, notification: validNotification,
}, { requiredKeys: [] });
const target = fc.oneof(fc.record({ to: nonEmpty }), fc.record({ condition }));
const validMessage = fc.tuple(target, nonEmpty, options).map(([t, id, o]) => ({ ...t, message_id: id, ...o } as JsonObject));

test('the validator accepts every message the spec\'s rules allow', () => {
  fc.assert(fc.property(validMessage, (m) => {
    const err = validateDownstream(m);
    assert.is(err, undefined, err?.message);
  }), params(6));
});

const BOOLEANS = ['content_available', 'mutable_content', 'delay_while_idle', 'delivery_receipt_requested', 'dry_run'];
const NOTIF_STRINGS = ['title', 'body', 'icon', 'sound', 'badge', 'tag', 'color', 'click_action', 'body_loc_key', 'title_loc_key'];
const wrongForString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));
const wrongForBoolean = fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.constant({}));

/** Breaks exactly one rule of a valid message; gives the mutated message and the field it must be blamed on. */
const brokenMessage = fc.tuple(validMessage, fc.nat(), wrongForString, wrongForBoolean, topicName).map(
  ([valid, pick, badString, badBool, name]): [JsonObject, string] => {
    const m: JsonObject = { ...valid };
    const hasTo = 'to' in m;
    const rules: Array<() => string> = [
      () => { delete m['message_id']; return 'message_id'; },
      () => { m['message_id'] = ''; return 'message_id'; },
      () => { m['message_id'] = badString; return 'message_id'; },
      () => { if (hasTo) m['condition'] = `'${name}' in topics`; else m['to'] = 'REG'; return 'condition'; },
      () => { delete m['to']; delete m['condition']; return 'to'; },
      () => { if (hasTo) { m['to'] = badString; return 'to'; } m['condition'] = `'a' in topics && 'b' in topics || 'c' in topics && '${name}' in topics`; return 'condition'; },
      () => { m['collapse_key'] = badString; return 'collapse_key'; },
      () => { m['priority'] = pick % 2 ? 'urgent' : 10; return 'priority'; },
      () => { const f = BOOLEANS[pick % BOOLEANS.length]!; m[f] = badBool; return f; },
      () => { m['time_to_live'] = [-1, 2419201, 1.5, '-1', '2419201', 'abc', '6e2', null][pick % 8]; return 'time_to_live'; },
      () => { m['registration_ids'] = pick % 2 ? [m['to'] ?? 'REG'] : 'REG'; return 'registration_ids'; },
      () => { m['data'] = pick % 2 ? ['x'] : 'x'; return 'data'; },
      () => { m['data'] = { ...(m['data'] as object), from: 'x' }; return 'data.from'; },
      () => { m['data'] = { [`google${name}`]: 'x' }; return `data.google${name}`; },
      () => { m['data'] = { big: 'x'.repeat(4094), k: 'y' }; return 'data'; },
      () => { m['notification'] = pick % 2 ? 'n' : [1]; return 'notification'; },
      () => { const f = NOTIF_STRINGS[pick % NOTIF_STRINGS.length]!; m['notification'] = { [f]: badString }; return `notification.${f}`; },
      () => { m['notification'] = { body_loc_args: pick % 2 ? 'x' : ['a', badString] }; return pick % 2 ? 'notification.body_loc_args' : 'notification.body_loc_args[1]'; },
    ];
    const field = rules[(pick >>> 5) % rules.length]!();
    return [m, field];
  },
);

test('the validator rejects a message that breaks any one rule, naming the broken field', () => {
  fc.assert(fc.property(brokenMessage, ([m, field]) => {
    const err = validateDownstream(m);
    assert.ok(err, `accepted ${JSON.stringify(m)} (expected ${field})`);
    assert.is(err.field, field);
    assert.is(err.nackCode, 'INVALID_JSON');
    assert.is(err.stanzaError, field === 'message_id');
  }), params(7));
});

// decodeGcmText reads the canonical ACK off a regular expression instead of JSON.parse: on the
// canonical text, near misses of it (one character inserted, deleted or replaced anywhere) and
// ACKs with escapes, controls or extra fields, it must give exactly what the JSON.parse path gives.
test('the canonical-ACK shortcut decodes exactly like JSON.parse, on the shape and on every near miss', () => {
  const ackText = fc.tuple(str, str).map(([from, id]) => `{"from":${JSON.stringify(from)},"message_id":${JSON.stringify(id)},"message_type":"ack"}`);
  const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace', 'none'), fc.oneof(piece, fc.constantFrom('\u0000', '\u001f', '\n', '"', '\\', '}', ',')));
  fc.assert(fc.property(ackText, edit, fc.option(str, { nil: undefined }), (text, [at, op, ch], stanzaId) => {
    const i = at % (text.length + 1);
    const t = op === 'insert' ? text.slice(0, i) + ch + text.slice(i)
      : op === 'delete' ? text.slice(0, i) + text.slice(i + 1)
        : op === 'replace' ? text.slice(0, i) + ch + text.slice(i + 1) : text;
    const fast = decodeGcmText(t, stanzaId);
    const slow = decodeJsonText(t, stanzaId);
    const id = canonicalAckId(t);
    if (id !== undefined) {
      assert.is(slow.kind, 'ack');
      if (slow.kind === 'ack') {
        assert.is(id, slow.messageId);
        // `known` is returned only when it is the very from; near misses must not pass for it.
        for (const known of [undefined, slow.from, `${slow.from}"`, slow.from?.slice(1), `x${slow.from}`, ch]) {
          assert.is(canonicalAckFrom(t, known), slow.from);
        }
      }
    }
    if (slow.kind === 'invalid' && fast.kind === 'invalid') {
      assert.is(fast.error.code, slow.error.code);
      assert.equal(fast.payload, slow.payload);
    } else {
      assert.equal(fast, slow);
    }
  }), { ...params(11), numRuns: FUZZ ? 50_000 : 600 });
});

// encodeDownstream writes plain messages straight into the slab instead of JSON.stringify: its
// bytes must be exactly the general path's (encode + the id attribute), for plain messages of every
// shape and for everything next to plain (one escape, one non-ASCII character, floats, negative
// numbers, arrays, toJSON, undefined values, inherited keys, deep nesting), across slab boundaries.
test('encodeDownstream writes exactly what the JSON.stringify path writes, plain or not', () => {
  const plainChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)).filter((c) => !'"&<>\\'.includes(c));
  // Short strings are copied by a JS loop, long ones (128 characters and more) checked by a regular
  // expression and copied natively: both sides of that threshold.
  const plainStr = fc.oneof(
    { weight: 8, arbitrary: fc.array(plainChar, { maxLength: 40 }) },
    { weight: 1, arbitrary: fc.array(plainChar, { minLength: 120, maxLength: 300 }) },
  ).map((a) => a.join(''));
  const plainLeaf = fc.oneof(
    { weight: 6, arbitrary: plainStr }, fc.nat(0x7fffffff), fc.constantFrom(0, -0, 9, 10, 99, 100, 2 ** 31 - 1),
    fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant(() => 1),
  );
  const { node } = fc.letrec((tie) => ({
    node: fc.dictionary(
      fc.oneof(plainStr, fc.constantFrom('0', '10', 'a b')),
      fc.oneof({ depthSize: 'small', maxDepth: 6 }, { weight: 3, arbitrary: plainLeaf }, tie('node')),
      { maxKeys: 5, noNullPrototype: true },
    ),
  }));
  // One thing the fast path must leave to JSON.stringify, put in one place of a plain message.
  const spoiler = fc.oneof(
    fc.constantFrom<unknown>(1.5, -1, 2 ** 31, 2 ** 53, 1e21, 5e-324, NaN, Infinity, -Infinity, 10n),
    // Objects JSON.stringify treats specially or that are not plain data, made fresh per use.
    fc.constantFrom<() => unknown>(
      () => [], () => ['a'], () => new Date(0), () => ({ toJSON: () => 'j' }),
      () => new String('ab'), () => new Number(5), () => new Boolean(true), () => Object(10n),
      () => Object.assign(Object.create(null), { a: 'b' }), () => new (class K { a = 'b'; })(),
      () => new Map([[1, 2]]), () => new Uint8Array(2),
    ).map((make) => make()),
    fc.tuple(plainStr, fc.nat(40), piece).map(([a, i, p]) => a.slice(0, i % (a.length + 1)) + p + a.slice(i % (a.length + 1))),
    // Too big for the room the fast path asks for: one long string, or many small values.
    fc.integer({ min: 3000, max: 9000 }).map((n) => 'x'.repeat(n)),
    fc.tuple(fc.integer({ min: 300, max: 1200 }), fc.constantFrom<unknown>(null, true, 1234567)).map(([n, v]) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, v]))),
  );
  const message = fc.tuple(node, plainStr, fc.option(fc.tuple(fc.nat(), spoiler, fc.constantFrom('value', 'key', 'inherited', 'cycle', 'deep')), { freq: 4 }))
    .map(([m, id, spoil]) => {
      let msg: Record<string, unknown> = { ...m, message_id: id };
      if (spoil !== null) {
        const [at, bad, where] = spoil;
        const slots: Array<[Record<string, unknown>, string]> = [];
        const walk = (o: Record<string, unknown>): void => {
          for (const k of Object.keys(o)) {
            slots.push([o, k]);
            const v = o[k];
            if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) walk(v as Record<string, unknown>);
          }
        };
        walk(msg);
        const [obj, key] = slots[at % slots.length] as [Record<string, unknown>, string];
        if (where === 'value') obj[key] = bad;
        else if (where === 'key') obj[typeof bad === 'string' ? bad : 'k?'] = 'v';
        else if (where === 'inherited') msg = Object.assign(Object.create({ inherited: 'x' }), msg);
        else if (where === 'cycle') obj[key] = obj;
        else obj[key] = { a: { b: { c: { d: { e: { f: 'deep' } } } } } };
      }
      return msg as JsonObject;
    });
  const outcome = (f: () => Buffer): string => {
    try {
      return f().toString('latin1');
    } catch (err) {
      return `throws ${(err as Error).name}`;
    }
  };
  const fast = new GcmEncoder({ slabSize: 4096 });
  const general = new GcmEncoder({ slabSize: 4096 });
  // The id either is the message's own, or is assigned by the sender (the message has none, or an
  // own `message_id: undefined`): then it must come out as if the message had been copied with it.
  const idMode = fc.constantFrom('own', 'assigned', 'own-undefined');
  fc.assert(fc.property(fc.array(fc.tuple(message, idMode), { minLength: 1, maxLength: 6 }), (msgs) => {
    for (const [m, mode] of msgs) {
      const id = m['message_id'];
      if (mode === 'own' || typeof id !== 'string') {
        const want = outcome(() => general.encode(m, typeof id === 'string' ? id : undefined));
        assert.is(outcome(() => fast.encodeDownstream(m as never)), want);
        continue;
      }
      if (mode === 'assigned') delete m['message_id'];
      else m['message_id'] = undefined;
      const copy = Object.assign({}, m, { message_id: id });
      const want = outcome(() => general.encode(copy, id));
      assert.is(outcome(() => fast.encodeDownstream(m as never, id)), want, mode);
    }
  }), { ...params(13), numRuns: FUZZ ? 20_000 : 400, endOnFailure: true }); // shrinking these trees can take minutes
});

test.run();
