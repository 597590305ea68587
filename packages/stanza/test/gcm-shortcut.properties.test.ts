import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HEADER, bytes, gcmView, parseSplit, progressSplit, runs, type Event } from './helpers/parser.js';

// Seeded in the default run so a failure reproduces; FUZZ=1 draws a fresh seed (printed by
// fast-check on failure) and runs fifty times as many cases. FC_SEED=… FC_PATH=… replays one.
const params = (numRuns: number): fc.Parameters<unknown> =>
  process.env.FC_SEED !== undefined
    ? { seed: Number(process.env.FC_SEED), ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}), numRuns: runs(numRuns), endOnFailure: true }
    : process.env.FUZZ
      ? { numRuns: runs(numRuns) }
      : { numRuns, seed: 0x5eed };

// ---- generators of valid stream content ------------------------------------------------------

const isXmlChar = (cp: number): boolean =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;

/** Any text XML can carry, biased towards the characters that need care. */
const xmlText = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
      { weight: 3, arbitrary: fc.constantFrom('<', '>', '&', '"', "'", ']]>', ']', '\r\n', '\r', '\n', '\t', '{"a":1}', '\u2028', '🎉', 'é', '東') },
    ),
    { maxLength: 12 },
  )
  .map((parts) => [...parts.join('')].filter((ch) => isXmlChar(ch.codePointAt(0) as number)).join(''));

/** Escapes text for XML with a random (but always valid) choice of form per special character. */
function escapeWith(text: string, pick: number[], inAttr: '"' | "'" | null): string {
  let out = '';
  let i = 0;
  for (const ch of text) {
    const r = pick[i++ % pick.length] as number;
    const cp = ch.codePointAt(0) as number;
    const ref = r % 3 === 0 ? `&#${cp};` : r % 3 === 1 ? `&#x${cp.toString(16)};` : null;
    if (ch === '<') out += r % 2 ? '&lt;' : (ref ?? '&#60;');
    else if (ch === '&') out += r % 2 ? '&amp;' : (ref ?? '&#38;');
    else if (ch === '>') out += out.endsWith(']]') || r % 4 === 0 ? '&gt;' : '>';
    else if (ch === '\r') out += '&#13;';
    else if (inAttr !== null && (ch === inAttr || ch === '\n' || ch === '\t')) out += ref ?? (ch === '"' ? '&quot;' : ch === "'" ? '&apos;' : `&#${cp};`);
    else if (ch === '"' && r % 5 === 0) out += '&quot;';
    else if (ch === "'" && r % 5 === 1) out += '&apos;';
    else if (r % 11 === 0 && ref) out += ref;
    else out += ch;
  }
  return out;
}

const picks = fc.array(fc.nat(1000), { minLength: 1, maxLength: 8 });
const ws = fc.constantFrom('', ' ', '\n', '\t', '\r\n', '  ');
const quote = fc.constantFrom<'"' | "'">('"', "'");
const attrName = fc.constantFrom('id', 'to', 'from', 'type', 'xml:lang', 'a.b', 'x-y', '_z');

const attribute = fc.tuple(attrName, xmlText, quote, picks, ws, ws).map(
  ([name, value, q, p, w1, w2]) => ({ name, xml: ` ${name}${w1}=${w2}${q}${escapeWith(value, p, q)}${q}` }),
);
const attributes = fc.array(attribute, { maxLength: 4 }).map((list) => {
  const seen = new Set<string>();
  return list.filter((a) => !seen.has(a.name) && seen.add(a.name)).map((a) => a.xml).join('');
});

const gcmMessage = fc
  .tuple(attributes, fc.option(fc.constantFrom('data', 'g', 'd0'), { nil: undefined }), quote, xmlText, picks, ws, ws)
  .map(([attrs, prefix, q, text, p, w1, w2]) => {
    const name = prefix ? `${prefix}:gcm` : 'gcm';
    const decl = prefix ? `xmlns:${prefix}` : 'xmlns';
    return `<message${attrs}${w1}><${name} ${decl}=${q}google:mobile:data${q}${w2}>${escapeWith(text, p, null)}</${name}${w2}></message>`;
  });

// The exact shape an app server sends (and CCS sends upstream): `<message id="…"><gcm xmlns="…">`.
// The fast path recognises it without its regular expression, so it gets its own arbitrary: ids
// with every kind of character, escaped in every valid way (or not at all).
const canonicalGcmMessage = fc
  .tuple(fc.oneof(xmlText, fc.stringMatching(/^[ -~]{0,40}$/)), picks, xmlText, picks)
  .map(([id, pi, text, pt]) => `<message id="${escapeWith(id, pi, '"')}"><gcm xmlns="google:mobile:data">${escapeWith(text, pt, null)}</gcm></message>`);

const otherStanza = fc.oneof(
  fc.constant("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"),
  fc.constant('<presence/>'),
  fc.tuple(xmlText, picks).map(([t, p]) => `<message type='chat'><body>${escapeWith(t, p, null)}</body></message>`),
  fc.tuple(xmlText).map(([t]) => `<message><body><![CDATA[${t.replace(/]]>/g, '')}]]></body></message>`),
  fc.tuple(xmlText, picks).map(
    ([t, p]) =>
      `<message id="3" type="error"><gcm xmlns="google:mobile:data">{}</gcm><error code="400" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">${escapeWith(t, p, null)}</text></error></message>`,
  ),
  fc.constant('<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>'),
);

const stanza = fc.oneof({ weight: 3, arbitrary: gcmMessage }, { weight: 2, arbitrary: canonicalGcmMessage }, { weight: 1, arbitrary: otherStanza });

const validStream = fc
  .tuple(fc.array(fc.tuple(ws, stanza), { maxLength: 8 }), fc.boolean())
  .map(([items, end]) => HEADER + items.map(([w, s]) => w + s).join('') + (end ? '</stream:stream>' : ''));

const cutsFor = (maxLen: number) => fc.array(fc.nat(maxLen), { maxLength: 40 });

/** Cut everywhere: the hardest split. */
function everyByte(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

// ---- properties ------------------------------------------------------------------------------

test('yields the same events for any split of a valid stream into chunks (both paths)', () => {
  fc.assert(
    fc.property(validStream, cutsFor(3000), (xml, cuts) => {
      const input = bytes(xml);
      const whole = parseSplit(input, [], { withShortcut: false });
      assert.ok(!whole.some((e) => e[0] === 'error'), `valid input refused: ${JSON.stringify(whole.at(-1))}`);
      assert.equal(parseSplit(input, cuts, { withShortcut: false }), whole);
      assert.equal(parseSplit(input, cuts, { withShortcut: true }), whole);
    }),
    params(300),
  );
});

test('yields the same events fed one byte at a time, inside multi-byte characters and entities', () => {
  fc.assert(
    fc.property(validStream, (xml) => {
      const input = bytes(xml);
      const whole = parseSplit(input, []);
      assert.equal(parseSplit(input, everyByte(input.length), { withShortcut: true }), whole);
    }),
    params(60),
  );
});

/** Byte-level damage that lands on the fast path's decision points. */
const mutation = fc.tuple(
  fc.nat(4000),
  fc.oneof(
    fc.constantFrom('<', '>', '&', '"', "'", ']]>', '/', ':', '=', ' ', '\r', '\u0000', 'xmlns=', '</message>', '&#0;', '&#x110000;', '&foo;', '<!--', '<?', '<![CDATA[', 'message', 'data:', '</stream:stream>').map(bytes),
    fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xef, 0xbf, 0xbe], [0xf0, 0x9f]).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 3 }).map((b) => Buffer.from(b)),
  ),
  fc.nat(3),
);

function mutate(input: Buffer, muts: Array<[number, Buffer, number]>): Buffer {
  let out = input;
  for (const [at, ins, del] of muts) {
    const pos = at % (out.length + 1);
    out = Buffer.concat([out.subarray(0, pos), ins, out.subarray(Math.min(out.length, pos + del))]);
  }
  return out;
}

test('differential: the fast path yields exactly what the saxes path yields, on damaged input too', () => {
  fc.assert(
    fc.property(
      validStream,
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      cutsFor(3000),
      cutsFor(3000),
      fc.option(fc.integer({ min: 150, max: 900 }), { nil: undefined }),
      (xml, muts, cutsA, cutsB, maxStanzaBytes) => {
        const input = mutate(bytes(xml), muts);
        const opts = maxStanzaBytes === undefined ? {} : { maxStanzaBytes };
        const reference = parseSplit(input, [], { ...opts, withShortcut: false });
        assert.equal(parseSplit(input, cutsA, { ...opts, withShortcut: true }), reference, 'fast path, split A');
        assert.equal(parseSplit(input, cutsB, { ...opts, withShortcut: false }), reference, 'saxes path, split B');
      },
    ),
    params(1500),
  );
});

test('differential: after every chunk, the fast path has reported exactly what the saxes path has', () => {
  fc.assert(
    fc.property(
      validStream,
      fc.array(mutation, { maxLength: 2 }),
      cutsFor(3000),
      fc.option(fc.integer({ min: 150, max: 900 }), { nil: undefined }),
      (xml, muts, cuts, maxStanzaBytes) => {
        const input = mutate(bytes(xml), muts);
        const opts = maxStanzaBytes === undefined ? {} : { maxStanzaBytes };
        const slow = progressSplit(input, cuts, { ...opts, withShortcut: false });
        const fast = progressSplit(input, cuts, { ...opts, withShortcut: true });
        assert.equal(fast.events, slow.events);
        assert.equal(fast.progress, slow.progress, 'same events known after each chunk');
      },
    ),
    params(1500),
  );
});

test('differential: the gcm shortcut (onShortcut) reports what the elements say, taken or declined, on damaged input too', () => {
  fc.assert(
    fc.property(
      validStream,
      fc.array(mutation, { maxLength: 2 }),
      cutsFor(3000),
      fc.constantFrom<'shortcut' | 'decline'>('shortcut', 'decline'),
      fc.option(fc.integer({ min: 150, max: 900 }), { nil: undefined }),
      (xml, muts, cuts, mode, maxStanzaBytes) => {
        const input = mutate(bytes(xml), muts);
        const opts = maxStanzaBytes === undefined ? {} : { maxStanzaBytes };
        const reference = gcmView(parseSplit(input, [], { ...opts, withShortcut: false }));
        assert.equal(gcmView(parseSplit(input, cuts, { ...opts, withShortcut: true }, undefined, mode)), reference);
      },
    ),
    params(1000),
  );
});

// Heads that repeat but for their id (upstream messages): the shortcut recognises them by the bytes
// around the id, so the ids vary in every way a value can (quotes, entities, non-ASCII, empty)
// while the attributes around them, the quote style and the gcm prefix stay.
const sameHeadsButId = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom('to', 'from', 'type', 'xml:lang', 'a.b'), fc.stringMatching(/^[ -~]{0,8}$/)), { maxLength: 3 }),
    fc.nat(3),
    quote,
    fc.option(fc.constantFrom('data', 'g'), { nil: undefined }),
    fc.array(fc.tuple(fc.oneof(xmlText, fc.stringMatching(/^[ -~]{0,12}$/)), picks, xmlText, picks, ws), { minLength: 1, maxLength: 6 }),
  )
  .map(([attrs, idAt, q, prefix, msgs]) => {
    const seen = new Set<string>(['id']);
    const list = attrs.filter(([n]) => !seen.has(n) && seen.add(n)).map(([n, v]) => ` ${n}=${q}${escapeWith(v, [2], q)}${q}`);
    const name = prefix ? `${prefix}:gcm` : 'gcm';
    const decl = prefix ? `xmlns:${prefix}` : 'xmlns';
    return HEADER + msgs.map(([id, pi, text, pt, w]) => {
      const all = [...list];
      all.splice(Math.min(idAt, all.length), 0, ` id=${q}${escapeWith(id, pi, q)}${q}`);
      return `${w}<message${all.join('')}><${name} ${decl}="google:mobile:data">${escapeWith(text, pt, null)}</${name}></message>`;
    }).join('');
  });

test('differential: heads that differ only in their id are read exactly as saxes reads them, on damaged input too', () => {
  fc.assert(
    fc.property(sameHeadsButId, fc.array(mutation, { maxLength: 1 }), cutsFor(3000), (xml, muts, cuts) => {
      const input = mutate(bytes(xml), muts);
      const slow = progressSplit(input, cuts, { withShortcut: false });
      assert.equal(progressSplit(input, cuts, { withShortcut: true }), slow);
      assert.equal(gcmView(parseSplit(input, cuts, { withShortcut: true }, undefined, 'shortcut')), gcmView(slow.events));
    }),
    params(600),
  );
});

// Heads that repeat exactly (no id: the canonical ACK's head, `<message>`): recalled whole.
const sameHeads = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom('to', 'from', 'type', 'xml:lang', 'a.b'), fc.stringMatching(/^[ -~]{0,8}$/)), { maxLength: 3 }),
    quote,
    fc.option(fc.constantFrom('data', 'g'), { nil: undefined }),
    fc.array(fc.tuple(xmlText, picks, ws), { minLength: 1, maxLength: 4 }),
  )
  .map(([attrs, q, prefix, msgs]) => {
    const seen = new Set<string>();
    const list = attrs.filter(([n]) => !seen.has(n) && seen.add(n)).map(([n, v]) => ` ${n}=${q}${escapeWith(v, [2], q)}${q}`).join('');
    const name = prefix ? `${prefix}:gcm` : 'gcm';
    const decl = prefix ? `xmlns:${prefix}` : 'xmlns';
    return HEADER + msgs.map(([text, pt, w]) => `${w}<message${list}><${name} ${decl}="google:mobile:data">${escapeWith(text, pt, null)}</${name}></message>`).join('');
  });

test('differential: a stanza whose head was seen before, cut at each of its bytes in turn, is read as saxes reads it after every chunk, damaged too', () => {
  // The shortcut recognises a head it has seen by comparing bytes from the start (a cut one as the
  // start of a known head, an id value still arriving, the bytes after it): every cut position of
  // the last stanza, with its head repeated (or repeated but for its id) before it.
  fc.assert(
    fc.property(fc.oneof(sameHeadsButId, sameHeads), fc.array(mutation, { maxLength: 1 }), (xml, muts) => {
      const first = bytes(xml);
      const lastAt = first.lastIndexOf('<message');
      // Damage in the head (its two start tags): the payload's bytes are judged as in every other case.
      const headEnd = first.indexOf('>', first.indexOf('>', lastAt) + 1) + 1;
      const input = mutate(first, muts.map(([at, ins, del]) => [lastAt + (at % (headEnd - lastAt + 1)), ins, del]));
      for (let cut = lastAt; cut <= input.length; cut++) {
        const cuts = [lastAt, cut];
        const slow = progressSplit(input, cuts, { withShortcut: false });
        assert.equal(progressSplit(input, cuts, { withShortcut: true }), slow, `cut at ${cut - lastAt}`);
      }
    }),
    params(200),
  );
});

test('differential: a long gcm message cut once is read as saxes reads it after every chunk, wherever its end falls in the next chunk', () => {
  // The parser appends the next chunk to a cut stanza 1 KiB first, then the rest: the end tags
  // before, across and after that step, with damage anywhere in the message.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2400 }), fc.nat(120), xmlText, picks, fc.array(mutation, { maxLength: 1 }), (len, cutIn, text, p, muts) => {
      const msg = `<message id="m"><gcm xmlns="google:mobile:data">${'{"k":1}'.padEnd(len, ' ')}${escapeWith(text, p, null)}</gcm></message><message id="n"><gcm xmlns="google:mobile:data">x</gcm></message>`;
      const at = Buffer.byteLength(HEADER);
      const input = mutate(bytes(HEADER + msg), muts.map(([pos, ins, del]) => [at + (pos % (msg.length + 1)), ins, del]));
      const cuts = [at + cutIn];
      assert.equal(progressSplit(input, cuts, { withShortcut: true }), progressSplit(input, cuts, { withShortcut: false }));
    }),
    params(300),
  );
});

test('differential on single gcm messages with every kind of attribute and text', () => {
  fc.assert(
    fc.property(gcmMessage, fc.array(mutation, { maxLength: 1 }), (msg, muts) => {
      const input = mutate(bytes(HEADER + msg), muts.map(([at, ins, del]) => [HEADER.length + at, ins, del]));
      const reference = parseSplit(input, [], { withShortcut: false });
      assert.equal(parseSplit(input, [], { withShortcut: true }), reference);
    }),
    params(1500),
  );
});

test('never throws on arbitrary bytes, and reports nothing after its first error', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([bytes(HEADER), b]))), cutsFor(900), (input, cuts) => {
      const buf = Buffer.from(input);
      for (const withShortcut of [true, false]) {
        const events: Event[] = parseSplit(buf, cuts, { withShortcut });
        const err = events.findIndex((e) => e[0] === 'error');
        const end = events.findIndex((e) => e[0] === 'end');
        if (err >= 0) assert.is(err, events.length - 1, 'error is the last event');
        if (end >= 0) assert.is(end, events.length - 1, 'end is the last event');
        assert.ok(events.filter((e) => e[0] === 'open').length <= 1);
      }
    }),
    params(1000),
  );
});

test('size limit: a stream is refused with policy-violation iff some stanza is larger than the limit', () => {
  fc.assert(
    fc.property(fc.array(gcmMessage, { minLength: 1, maxLength: 5 }), fc.integer({ min: 60, max: 400 }), cutsFor(2000), (stanzas, limit, cuts) => {
      const header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
      fc.pre(Buffer.byteLength(header) <= limit);
      const input = bytes(header + stanzas.join(''));
      const firstTooBig = stanzas.findIndex((s) => Buffer.byteLength(s) > limit);
      for (const withShortcut of [true, false]) {
        const events = parseSplit(input, cuts, { maxStanzaBytes: limit, withShortcut });
        if (firstTooBig < 0) {
          assert.is(events.length, 1 + stanzas.length);
        } else {
          assert.is(events.length, 2 + firstTooBig);
          assert.equal(events[events.length - 1], ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']);
        }
      }
    }),
    params(400),
  );
});

// ---- refusals, restart and prefixes as properties (issue: (2) and (3) as seeded properties) ----

/** A forbidden construct, where it goes, and the verdict it must get. */
interface Forbidden {
  kind: string;
  /** Bytes put between two stanzas, or inside one (then that stanza is never reported). */
  bytes: Buffer;
  inside: boolean;
  condition: string;
  code: string;
  maxDepth?: number;
}

const forbidden: fc.Arbitrary<Forbidden> = fc.oneof(
  fc.constantFrom<Forbidden>(
    { kind: 'comment between stanzas', bytes: bytes('<!-- note -->'), inside: false, condition: 'restricted-xml', code: 'STREAM_ERR_RESTRICTED_XML' },
    { kind: 'comment in a stanza', bytes: bytes('<message><body>a<!-- x --></body></message>'), inside: true, condition: 'restricted-xml', code: 'STREAM_ERR_RESTRICTED_XML' },
    { kind: 'processing instruction', bytes: bytes('<?php echo 1; ?>'), inside: false, condition: 'restricted-xml', code: 'STREAM_ERR_RESTRICTED_XML' },
    { kind: 'processing instruction in a stanza', bytes: bytes('<iq type="get" id="1"><?x y?></iq>'), inside: true, condition: 'restricted-xml', code: 'STREAM_ERR_RESTRICTED_XML' },
    { kind: 'text between stanzas', bytes: bytes('hello'), inside: false, condition: 'bad-format', code: 'STREAM_ERR_BAD_FORMAT' },
    { kind: 'malformed end tag', bytes: bytes('<message><body>x</bdy></message>'), inside: true, condition: 'not-well-formed', code: 'STREAM_ERR_NOT_WELL_FORMED' },
    { kind: 'undefined entity', bytes: bytes('<message><gcm xmlns="google:mobile:data">&bogus;</gcm></message>'), inside: true, condition: 'not-well-formed', code: 'STREAM_ERR_NOT_WELL_FORMED' },
  ),
  fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x28, 0xa1]).map((bad): Forbidden => ({
    kind: 'bytes that are not UTF-8',
    bytes: Buffer.concat([bytes('<message><gcm xmlns="google:mobile:data">{"a":"'), Buffer.from(bad), bytes('"}</gcm></message>')]),
    inside: true,
    condition: 'not-well-formed',
    code: 'STREAM_ERR_NOT_WELL_FORMED',
  })),
  // At least 3: the valid stanzas around it nest that deep (message/error/condition).
  fc.integer({ min: 3, max: 12 }).map((limit): Forbidden => ({
    kind: `nesting deeper than ${limit}`,
    bytes: bytes('<a>'.repeat(limit + 1) + '</a>'.repeat(limit + 1)),
    inside: true,
    condition: 'policy-violation',
    code: 'STREAM_ERR_TOO_DEEP',
    maxDepth: limit,
  })),
);

test('refuses each forbidden construct with its stream error wherever it stands, reporting nothing after it', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(ws, stanza), { maxLength: 4 }), forbidden, fc.array(stanza, { maxLength: 3 }), cutsFor(2500), fc.boolean(), (before, bad, after, cuts, withShortcut) => {
      const head = HEADER + before.map(([w, st]) => w + st).join('');
      const input = Buffer.concat([bytes(head), bad.bytes, bytes(after.join(''))]);
      const events = parseSplit(input, cuts, { withShortcut, ...(bad.maxDepth === undefined ? {} : { maxDepth: bad.maxDepth }) });
      // The stream header, every stanza before the construct, then the verdict, and nothing else.
      assert.is(events.length, 2 + before.length, `${bad.kind}: ${JSON.stringify(events.at(-1))}`);
      assert.equal(events[events.length - 1], ['error', bad.condition, bad.code], bad.kind);
    }),
    params(600),
  );
});

test('refuses a DOCTYPE (any DTD) in the prolog with restricted-xml, however the input is cut', () => {
  fc.assert(
    fc.property(fc.constantFrom('<!DOCTYPE stream>', "<!DOCTYPE stream [<!ENTITY x 'boom'>]>", '<!DOCTYPE stream SYSTEM "http://x/y.dtd">'), cutsFor(300), fc.boolean(), (dtd, cuts, withShortcut) => {
      const input = bytes(`<?xml version='1.0'?>${dtd}${HEADER.slice(21)}<message><gcm xmlns="google:mobile:data">&x;</gcm></message>`);
      assert.equal(parseSplit(input, cuts, { withShortcut }), [['error', 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML']]);
    }),
    params(200),
  );
});

test('a restart after <success/> resets all parser state: the second stream parses as if it were alone', () => {
  const success = '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>';
  const second = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='S2'>";
  fc.assert(
    fc.property(fc.array(fc.tuple(ws, stanza), { maxLength: 4 }), fc.array(fc.tuple(ws, stanza), { maxLength: 4 }), cutsFor(3000), fc.boolean(), (a, b, cuts, withShortcut) => {
      const first = HEADER + a.map(([w, st]) => w + st).join('') + success;
      const rest = second + b.map(([w, st]) => w + st).join('');
      const together = parseSplit(bytes(first + rest), cuts, { withShortcut }, (el) => el.local === 'success');
      const alone = [...parseSplit(bytes(first), [], { withShortcut: false }), ...parseSplit(bytes(rest), [], { withShortcut: false })];
      assert.equal(together, alone);
    }),
    params(300),
  );
});

test('a gcm element under any prefix is the same element as gcm in the default namespace', () => {
  fc.assert(
    fc.property(xmlText, picks, fc.stringMatching(/^[a-wyzA-Z_][a-zA-Z0-9_.-]{0,6}$/), cutsFor(600), (text, p, prefix, cuts) => {
      const escaped = escapeWith(text, p, null);
      const plain = parseSplit(bytes(`${HEADER}<message><gcm xmlns="google:mobile:data">${escaped}</gcm></message>`), cuts);
      const prefixed = parseSplit(bytes(`${HEADER}<message><${prefix}:gcm xmlns:${prefix}='google:mobile:data'>${escaped}</${prefix}:gcm></message>`), cuts);
      const gcmOf = (events: Event[]) => {
        const st = events[1];
        assert.ok(st !== undefined && st[0] === 'stanza', JSON.stringify(st));
        const g = st[1].children[0];
        assert.ok(g !== undefined && typeof g !== 'string');
        return { local: g.local, uri: g.uri, children: g.children };
      };
      assert.equal(gcmOf(prefixed), gcmOf(plain));
    }),
    params(400),
  );
});

test.run();
