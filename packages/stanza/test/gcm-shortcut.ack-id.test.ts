import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder } from '@ccs-xmpp/stream/testing';
import { canonicalAckId, gcmAckShortcut, gcmShortcut, type GcmParts } from '../src/index.js';
import { HEADER, bytes, checkAckId, gcmView, parseSplit, regexCalls, runs } from './helpers/parser.js';

// The parts' `ackId` (gcm-shortcut.ts, readAck): with gcmAckShortcut, the canonical ACK's
// message_id read from the bytes while the payload is judged, so the client's receive path runs no
// regular expression over it. It must be exactly canonicalAckId(json) — for every payload, however
// the stream is cut — and come without the regular expression for a payload of plain bytes, whole
// or cut anywhere (the reading resumes where a chunk ended). (The parser helpers plug gcmAckShortcut in, so every property of the shortcut checks
// `ackId` too: helpers/parser.ts, checkAckId.)

const NS = 'google:mobile:data';
const HEADS = ['<message id="">', '<message>'] as const;
const wrap = (payload: string, head: string = HEADS[0]): string =>
  head === '<message>' ? `<message><data:gcm xmlns:data="${NS}">${payload}</data:gcm></message>` : `${head}<gcm xmlns="${NS}">${payload}</gcm></message>`;

/** Every parts handed over for `input` cut at `cuts`: their JSON and ackId (each checked by checkAckId). */
function ackIds(input: Uint8Array, cuts: number[]): Array<[string, string | undefined]> {
  const seen: Array<[string, string | undefined]> = [];
  const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => {
    checkAckId(parts);
    seen.push([parts.json, parts.ackId]);
    return true;
  });
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    if (cut > at) r.parser.write(input.subarray(at, cut));
    at = Math.max(at, cut);
  }
  return seen;
}

const everyByte = (n: number): number[] => Array.from({ length: n - HEADER.length }, (_, i) => HEADER.length + i);

/** Whitespace between stanzas: chunks that go on past a payload (as a busy connection's large ones do), or stop at its stanza. */
const PAD = ' '.repeat(512);

// Payloads, the id canonicalAckId (and JSON.parse) gives, or undefined: the canonical ACK and its
// near misses, written as XML text (references are XML's, backslashes JSON's).
const CASES: Array<[string, string, string | undefined]> = [
  ['canonical', '{"from":"token-1","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['empty from', '{"from":"","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['one-character id', '{"from":"t","message_id":"x","message_type":"ack"}', 'x'],
  ['long from and id', `{"from":"${'a'.repeat(300)}","message_id":"${'b'.repeat(80)}","message_type":"ack"}`, 'b'.repeat(80)],
  // Longer than a chunk of a slow peer: cut inside the strings, the reading resumes there.
  ['a from longer than 512 bytes', `{"from":"${'a'.repeat(700)}","message_id":"m-1","message_type":"ack"}`, 'm-1'],
  ['an id longer than 512 bytes', `{"from":"t","message_id":"${'b'.repeat(700)}","message_type":"ack"}`, 'b'.repeat(700)],
  ['printable ASCII in the strings', `{"from":"a b'c/{}[]:,","message_id":"id ~!#$%'()*+,-./:;=?@[]^_\`{|}","message_type":"ack"}`, "id ~!#$%'()*+,-./:;=?@[]^_`{|}"],
  ['an XML reference in the id', '{"from":"t","message_id":"a&amp;b","message_type":"ack"}', 'a&b'],
  ['an XML reference for a key character', '{&quot;from":"t","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['a character reference in the from', '{"from":"&#x74;","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['a non-ASCII id', '{"from":"t","message_id":"é-1","message_type":"ack"}', 'é-1'],
  ['a non-ASCII from', '{"from":"東京","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['`<` in the id, escaped', '{"from":"t","message_id":"a&lt;b","message_type":"ack"}', 'a<b'],
  ['`>` in the from', '{"from":"a>b","message_id":"m-1","message_type":"ack"}', 'm-1'],
  ['an escaped quote in the id', '{"from":"t","message_id":"a\\"b","message_type":"ack"}', undefined],
  ['an escaped quote in the from', '{"from":"a\\"b","message_id":"m-1","message_type":"ack"}', undefined],
  ['a backslash escape in the id', '{"from":"t","message_id":"a\\\\b","message_type":"ack"}', undefined],
  ['a unicode escape in the from', '{"from":"\\u0074","message_id":"m-1","message_type":"ack"}', undefined],
  ['an empty id', '{"from":"t","message_id":"","message_type":"ack"}', undefined],
  ['keys reordered', '{"message_id":"m-1","from":"t","message_type":"ack"}', undefined],
  ['message_type first', '{"message_type":"ack","from":"t","message_id":"m-1"}', undefined],
  ['no from', '{"message_id":"m-1","message_type":"ack"}', undefined],
  ['an extra key', '{"from":"t","message_id":"m-1","message_type":"ack","registration_id":"r"}', undefined],
  ['an extra key in the middle', '{"from":"t","category":"c","message_id":"m-1","message_type":"ack"}', undefined],
  ['whitespace after a colon', '{"from": "t","message_id":"m-1","message_type":"ack"}', undefined],
  ['whitespace before the end', '{"from":"t","message_id":"m-1","message_type":"ack"} ', undefined],
  ['a tab inside', '{"from":"t","message_id":"m-1",\t"message_type":"ack"}', undefined],
  ['a line feed at the start', '\n{"from":"t","message_id":"m-1","message_type":"ack"}', undefined],
  ['a NACK', '{"from":"t","message_id":"m-1","message_type":"nack","error":"BAD_REGISTRATION"}', undefined],
  ['message_type "ackx"', '{"from":"t","message_id":"m-1","message_type":"ackx"}', undefined],
  ['message_type "ac"', '{"from":"t","message_id":"m-1","message_type":"ac"}', undefined],
  ['no closing brace', '{"from":"t","message_id":"m-1","message_type":"ack"', undefined],
  ['two closing braces', '{"from":"t","message_id":"m-1","message_type":"ack"}}', undefined],
  ['cut after the from', '{"from":"t"', undefined],
  ['cut inside the from', '{"from":"t', undefined],
  ['only the opening', '{"from":"', undefined],
  ['cut after the id key', '{"from":"t","message_id":"', undefined],
  ['cut inside the id', '{"from":"t","message_id":"m-1', undefined],
  ['an upstream message', '{"category":"c","data":{"k":"v"},"message_id":"m-1","from":"t"}', undefined],
  ['a receipt', '{"message_type":"receipt","message_id":"dr2:m-1","from":"gcm.googleapis.com"}', undefined],
  ['empty', '', undefined],
  ['`{}`', '{}', undefined],
];

test('ackId is the canonical ACK\'s message_id and undefined for every near miss, whole, cut at any one byte, and fed a byte at a time', () => {
  for (const [label, payload, id] of CASES) {
    for (const head of HEADS) {
      // Whitespace after them, so that a chunk goes on past a payload (cut inside the stanzas only).
      const stanzas = HEADER + wrap(payload, head) + wrap(payload, head);
      const input = bytes(stanzas + PAD);
      const at = everyByte(bytes(stanzas).length);
      const splits = [[], at, ...at.map((c) => [c])];
      for (const cuts of splits) {
        const seen = ackIds(input, cuts);
        assert.is(seen.length, 2, `${label}, ${head}: both stanzas taken (cuts ${cuts.length === 1 ? cuts[0] : cuts.length})`);
        for (const [json, got] of seen) {
          assert.is(got, id, `${label}, ${head}, cuts ${cuts.length === 1 ? cuts[0] : cuts.length}`);
          if (got !== undefined) assert.is(JSON.parse(json).message_id, got, label);
        }
      }
    }
  }
});

/** Counts the runs of gcm-decode's canonical-ACK regular expression (the one that names message_type). */
const ackRegexCalls = (f: () => void): number => regexCalls(f, (re) => re.source.includes('message_type'));

test('gcmShortcut hands over the same ackId, asked of canonicalAckId for every payload: it reads no ACK from the bytes', () => {
  for (const [label, payload, id] of CASES) {
    const seen: Array<string | undefined> = [];
    const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => (seen.push(parts.ackId), true));
    const calls = ackRegexCalls(() => r.parser.write(bytes(HEADER + wrap(payload) + PAD + wrap('{}') + PAD)));
    assert.equal(seen, [id, undefined], label);
    assert.ok(calls > 0, `${label}: asked of the regular expression`);
  }
});

test('a plain payload is told canonical ACK or not from its bytes, without the regular expression: whole, cut at any byte, and fed a byte at a time', () => {
  for (const [label, payload, id] of CASES) {
    // Plain payloads only: one that holds a reference or a character past ASCII is asked of the
    // regular expression (its decoded text is what counts).
    if (/[^ -~]|[&<>]/.test(payload)) continue;
    for (const head of HEADS) {
      // (Whitespace and a stanza after it: unless cut, the bytes at hand go on past the payload.)
      const input = bytes(HEADER + wrap(payload, head) + PAD + wrap('{}') + PAD);
      const at = everyByte(bytes(HEADER + wrap(payload, head)).length);
      for (const cuts of [[], at, ...at.map((c) => [c])]) {
        const seen: Array<string | undefined> = [];
        const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => (seen.push(parts.ackId), true));
        const calls = ackRegexCalls(() => {
          let from = 0;
          for (const cut of [...cuts, input.length]) {
            r.parser.write(input.subarray(from, cut));
            from = cut;
          }
        });
        const where = `${label}, ${head}, cuts ${cuts.length === 1 ? cuts[0] : cuts.length}`;
        assert.equal(seen, [id, undefined], where);
        assert.is(calls, 0, `${where}: no regular expression`);
      }
    }
  }
});

test('a payload holding a reference or a character past ASCII gets its ackId from canonicalAckId, whole or cut', () => {
  const canonical = '{"from":"token-1","message_id":"m-1","message_type":"ack"}';
  for (const [label, stanza, id] of [
    ['a reference', wrap(canonical.replace('m-1', 'm&#x2d;1')), 'm-1'],
    ['past ASCII', wrap(canonical.replace('m-1', 'm-é')), 'm-é'],
    ['a reference in the from', wrap(canonical.replace('token', 't&amp;ken')), 'm-1'],
  ] as const) {
    for (const cut of [0, 30, 60, 79, stanza.length - 15]) {
      const seen: Array<string | undefined> = [];
      const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => (seen.push(parts.ackId), true));
      const input = bytes(HEADER + stanza + PAD);
      const calls = ackRegexCalls(() => {
        if (cut > 0) r.parser.write(input.subarray(0, HEADER.length + cut));
        r.parser.write(input.subarray(cut > 0 ? HEADER.length + cut : 0));
      });
      assert.equal(seen, [id], `${label}, cut ${cut}`);
      assert.ok(calls > 0, `${label}, cut ${cut}: asked of the regular expression`);
    }
  }
});

test('a payload with references or bytes past ASCII is told not an ACK from its bytes when it differs before the first of them; when it differs only there or after, canonicalAckId tells', () => {
  // Differing from the canonical ACK among the plain bytes before the first reference or
  // non-ASCII byte: undefined, without the regular expression.
  const notAcks = [
    '{"category":"c","data":{"k":"a &lt; b"},"message_id":"m-1","from":"t"}',
    '{"message_type":"receipt","message_id":"dr2:m-1","from":"é"}',
    '{"from":"t","message_id":"m-1","message_type":"nack","error_description":"a &amp; é"}',
    '{"from":"t","message_id":"","message_type":"ack","x":"é"}',
    '{"from":"t","message_id":"m-1","message_type":"ack","x":"&lt;"}',
  ];
  // Differing from the bytes of the canonical ACK only at a reference or a character past ASCII,
  // or after one: the text decides (here, each is the canonical ACK once decoded).
  const decoded: Array<[string, string]> = [
    ['{"from":"t&quot;,"message_id":"m-1","message_type":"ack"}', 'm-1'],
    ['{"from":"t","message_id":"m-1&quot;,"message_type":"ack"}', 'm-1'],
    ['{"from":"t","message_id":"m-1","message_type":"ack"&#125;', 'm-1'],
    ['{"from":"t","message_id":"&#109;-1","message_type":"ack"}', 'm-1'],
    ['{"from":"é","message_id":"m-1","message_type":"ack"}', 'm-1'],
    ['{"from":"t","message_id":"é","message_type":"ack"}', 'é'],
  ];
  // Each parts' json and ackId, and the runs of the regular expression the parsing made (the
  // check against canonicalAckId comes after, outside the count).
  const read = (input: Buffer, cuts: number[]): [Array<[string, string | undefined]>, number] => {
    const seen: Array<[string, string | undefined]> = [];
    const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => (seen.push([parts.json, parts.ackId]), true));
    const calls = ackRegexCalls(() => {
      let from = 0;
      for (const cut of [...cuts, input.length]) {
        r.parser.write(input.subarray(from, cut));
        from = cut;
      }
    });
    return [seen, calls];
  };
  for (const head of HEADS) {
    for (const [payload, id, regex] of [...notAcks.map((p) => [p, undefined, false] as const), ...decoded.map(([p, i]) => [p, i, true] as const)]) {
      const stanzas = HEADER + wrap(payload, head);
      const input = bytes(stanzas + PAD);
      const at = everyByte(bytes(stanzas).length);
      for (const cuts of [[], at, ...at.map((c) => [c])]) {
        const [seen, calls] = read(input, cuts);
        const where = `${payload}, ${head}, cuts ${cuts.length === 1 ? cuts[0] : cuts.length}`;
        assert.equal(seen.map(([, got]) => got), [id], where);
        assert.equal(seen.map(([json]) => canonicalAckId(json)), [id], `${where}: as canonicalAckId says`);
        if (regex) assert.ok(calls > 0, `${where}: asked of the regular expression`);
        else assert.is(calls, 0, `${where}: no regular expression`);
      }
    }
  }
});

test('ackId belongs to the stanza handed over: a canonical ACK, then a NACK and an upstream message in the same chunk, each get their own', () => {
  const ack = '{"from":"t","message_id":"m-1","message_type":"ack"}';
  const nack = '{"from":"t","message_id":"m-2","message_type":"nack","error":"BAD_REGISTRATION"}';
  const upstream = '{"category":"c","data":{},"message_id":"m-3","from":"t"}';
  const seen: Array<string | undefined> = [];
  const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => (seen.push(parts.ackId), true));
  const stanzas = [wrap(ack), wrap(nack), wrap(ack.replace('m-1', 'm-4')), wrap(upstream, '<message>'), wrap(ack.replace('m-1', 'm-5'))];
  const calls = ackRegexCalls(() => r.parser.write(bytes(HEADER + stanzas.join('') + PAD)));
  assert.equal(seen, ['m-1', undefined, 'm-4', undefined, 'm-5']);
  assert.is(calls, 0, 'all read from the bytes');
});

// ACK-like payloads built from pieces, each piece sometimes off the canonical shape.
const str = fc.oneof(
  fc.stringMatching(/^[ -~]{0,12}$/),
  fc.constantFrom('', 'é', '東京', '🎉', 'a\\"b', '\\\\', '\\u0041', 'x&y', '<', '>', ']]>', '\t'),
);
const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const ackLike = fc
  .tuple(
    fc.constantFrom('{"from":"', '{"from": "', '{"message_id":"', '{"from":"', '{"from":"'),
    str,
    fc.constantFrom('","message_id":"', '","message_id": "', '","message_id":"', '","from":"'),
    str,
    fc.constantFrom('","message_type":"ack"}', '","message_type":"ack"}', '","message_type":"nack"}', '","message_type":"ack","x":1}', '","message_type":"ack"} ', '"}'),
    fc.boolean(),
    fc.constantFrom(...HEADS),
  )
  .map(([a, from, b, id, c, escaped, head]) => {
    const raw = a + from + b + id + c;
    // JSON's own escapes stay; XML's references are added where the text needs them, and
    // sometimes for a plain character too.
    return wrap(escaped ? escapeXml(raw).replace(/"/, '&quot;') : escapeXml(raw), head);
  });

test('property: ackId is canonicalAckId of the JSON for ACK-like payloads at any split, and the stanzas read as saxes reads them', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ackLike, fc.boolean()), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(2000), { maxLength: 30 }), (list, cuts) => {
      // Each stanza with or without 512 bytes of whitespace after it: chunks past it or not.
      const stanzas = list.map(([xml]) => xml);
      const input = bytes(HEADER + list.map(([xml, pad]) => (pad ? xml + PAD : xml)).join(''));
      const seen = ackIds(input, cuts);
      assert.is(seen.length, stanzas.length);
      for (const [json, got] of seen) {
        assert.is(got, canonicalAckId(json));
        if (got !== undefined) assert.is(JSON.parse(json).message_id, got);
      }
      assert.equal(gcmView(parseSplit(input, cuts, {}, undefined, 'shortcut')), gcmView(parseSplit(input, [], { withShortcut: false })));
    }),
    process.env.FUZZ ? { numRuns: runs(300) } : { numRuns: 300, seed: 0xac1d },
  );
});

/** The lengths of the strings `Buffer#latin1Slice` makes while `f` runs (the spy is removed before anything is asserted). */
function latin1Slices(f: () => void): number[] {
  const proto = Buffer.prototype as unknown as { latin1Slice(start?: number, end?: number): string };
  const real = proto.latin1Slice;
  const lengths: number[] = [];
  proto.latin1Slice = function (this: Buffer, start?: number, end?: number): string {
    const s = real.call(this, start, end);
    lengths.push(s.length);
    return s;
  };
  try {
    f();
  } finally {
    proto.latin1Slice = real;
  }
  return lengths;
}

test('a canonical ACK taken by its ackId and ackFrom makes no string of its payload, only of its id; its json is made when asked for, and stays readable after the chunk', () => {
  const payload = (i: number): string => `{"from":"device-token-1","message_id":"m-${i}","message_type":"ack"}`;
  const stanzas = Array.from({ length: 20 }, (_, i) => wrap(payload(i))).join('');
  const input = bytes(stanzas + PAD);
  let last: GcmParts | undefined;
  const taken: Array<[string | undefined, string]> = [];
  // As the client takes an ACK: its id, then its from against the token it sent to.
  const r = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => {
    taken.push([parts.ackId, parts.ackFrom('device-token-1')]);
    last = parts;
    return true;
  });
  r.parser.write(bytes(HEADER));
  const lengths = latin1Slices(() => r.parser.write(input));
  assert.equal(taken, Array.from({ length: 20 }, (_, i) => [`m-${i}`, 'device-token-1']));
  // Twenty ids of 3 or 4 characters (and the first head, judged once as a string), and the last
  // stanza's payload, made when the parser let go of the chunk.
  assert.equal(lengths.filter((n) => n >= payload(0).length), [payload(19).length], `strings made: ${lengths.join(', ')}`);
  assert.is(lengths.filter((n) => n <= 4).length, 20);
  assert.is(last?.json, payload(19));
  // Asked for in the callback, it is the payload's.
  const jsons: string[] = [];
  const r2 = recorder({ shortcut: gcmAckShortcut }, undefined, (parts: GcmParts) => (jsons.push(parts.json), parts.ackId !== undefined));
  r2.parser.write(bytes(HEADER));
  r2.parser.write(input);
  assert.equal(jsons, Array.from({ length: 20 }, (_, i) => payload(i)));
});

test.run();
