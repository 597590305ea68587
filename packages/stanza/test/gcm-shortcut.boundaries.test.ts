import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder, type Event } from '@ccs-xmpp/stream/testing';
import { gcmShortcut, type GcmParts } from '../src/index.js';
import { HEADER, bytes, gcmView, parseSplit, progressSplit, regexCalls } from './helpers/parser.js';

// The edges of the shortcut's shape, one table row each: every character reference, UTF-8
// sequence, whitespace and name form the README's shape allows is taken by the shortcut (reaches
// `onShortcut`, and builds the element saxes builds when there is no `onShortcut`), and what lies
// just outside it is left to saxes. Each row is read whole, a byte at a time, and cut once at each
// byte, three times over (the head is then recalled from memory, and by its template when it has an
// id), and compared with saxes alone. The properties find the same things on random input; these
// rows put a byte on each side of every bound the code tests, which random input rarely does.

interface Row {
  /** The stanza, `ID` standing for its id value (each copy gets another). */
  stanza: string;
  /** The shortcut takes it (else saxes reads it, or refuses it, alone). */
  taken: boolean;
}

const NS = 'google:mobile:data';
const gcm = (text: string, head = '<message id="ID">', open = `<gcm xmlns="${NS}">`, close = '</gcm>'): string => `${head}${open}${text}${close}</message>`;

/** The text of a payload, taken, with each character reference or UTF-8 sequence the shape allows. */
const takenTexts: string[] = [
  // Character references at each bound of XML's Char production, decimal and hex (either case).
  '&#9;', '&#10;', '&#xA;', '&#13;', '&#32;', '&#x20;', '&#xD7FF;', '&#xd7ff;', '&#xE000;', '&#xFFFD;', '&#x10000;', '&#x10FFFF;', '&#1114111;',
  '&#0060;', '&#x0003c;', '&#xe9;', '&#xE9;', '&#xAbc;', '&#xaBcDe;', '&#55295;', '&#57344;', '&#65533;', '&#65536;',
  // The predefined entities, alone, side by side, between text, at either end.
  '&lt;', '&gt;', '&amp;', '&quot;', '&apos;', '&lt;&gt;&amp;&quot;&apos;', 'a&lt;b&amp;c', '{"a":"&lt;"}&amp;', '&amp;&#38;&#x26;x',
  // UTF-8 at each bound of each sequence length (RFC 3629), and next to what is not a bound.
  '\u0080', '\u07FF', '\u0800', '\u0FFF', '\u1000', '\uCFFF', '\uD000', '\uD7FF', '\uE000', '\uEFFF', '\uFFBE', '\uFFBF', '\uFFEF', '\uFFFD',
  '\u{10000}', '\u{3FFFF}', '\u{40000}', '\u{FFFFF}', '\u{100000}', '\u{10FFFF}', 'é東🎉\u2028',
  // Tab, line feed and DEL need nothing; `]`, `]]` and `>` are text unless `]]>`.
  '\t', '\n', '\u007F', ' ', '~', ']', ']]', ']>', '] ]>', ']]]', '>', '>>', 'a]]b>', ']]&gt;', ']&#93;>', '',
  '{"message_id":"m-1","from":"tok","category":"c","data":{"a":"b"}}',
];

/** Payload text saxes must judge: the shortcut leaves it to saxes (which refuses most of it). */
const refusedTexts: string[] = [
  '&#8;', '&#x1F;', '&#0;', '&#xD800;', '&#xDFFF;', '&#55296;', '&#57343;', '&#xFFFE;', '&#xFFFF;', '&#65534;', '&#x110000;', '&#1114112;',
  '&#X41;', '&#x;', '&#;', '&#12a;', '&#xG;', '&foo;', '&lt', '&', 'a & b', '&#x41', '&lt ;',
  '\r', 'a\r\nb', '\u0001', '\u001F', ']]>', 'a]]>b', '<x/>', '<!--c-->', '<![CDATA[x]]>', '<?pi x?>',
];
/** Bytes that are not UTF-8 or not an XML character, as latin1 escapes in the payload. */
const refusedBytes: number[][] = [
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xc2], [0xc2, 0x41], [0xc2, 0xc0], [0xdf, 0xc0],
  [0xe0, 0x9f, 0xbf], [0xe0, 0xc0, 0x80], [0xe1, 0x7f, 0x80], [0xe1, 0x80, 0x7f], [0xe1, 0x80, 0xc0], [0xe0, 0xa0],
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0x7f, 0x80], [0xef, 0xbf, 0xbe], [0xef, 0xbf, 0xbf], [0xee, 0xc0, 0x80],
  [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0xc0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf4, 0x7f, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80],
  [0xf1, 0x80, 0x80], [0xf1, 0x80, 0x7f, 0x80], [0xf1, 0x80, 0x80, 0xc0], [0xf1, 0xc0, 0x80, 0x80], [0xff],
];

/** Start tags: quotes, whitespace of each kind around names and `=`, names of every allowed form. */
const takenHeads: string[] = [
  '<message id="ID">', "<message id='ID'>", '<message\tid\t=\t"ID"\t>', '<message\nid\n=\n"ID"\n>', '<message\rid\r=\r"ID"\r>',
  '<message id="ID" to="a" from="b" type="normal" xml:lang="en">', '<message to="a" id="ID">', '<message to="" id="ID" a.b="1" x-y="2" _z="3" Z9="4">',
  '<message>', '<message >', '<message type=\'x\'>', '<message id="ID" v=" !#$%()*+,-./09:;=?@AZ[\\]^_`az{|}~\'">', "<message id='ID' v='\"'>",
];
/** The gcm start and end tags: a prefix of each name form, whitespace and either quote. */
const takenTags: Array<[string, string]> = [
  [`<gcm xmlns="${NS}">`, '</gcm>'], [`<gcm xmlns='${NS}'>`, '</gcm >'], [`<gcm\txmlns\n=\r'${NS}'\t>`, '</gcm\n\t>'],
  [`<data:gcm xmlns:data="${NS}">`, '</data:gcm>'], [`<g:gcm xmlns:g='${NS}' >`, '</g:gcm\r\n>'], [`<a.b-c_9:gcm xmlns:a.b-c_9="${NS}">`, '</a.b-c_9:gcm>'],
  [`<_:gcm xmlns:_="${NS}">`, '</_:gcm>'], [`<xm:gcm xmlns:xm="${NS}">`, '</xm:gcm>'], [`<x:gcm xmlns:x="${NS}">`, '</x:gcm  >'],
];

const rows: Row[] = [
  ...takenTexts.map((t) => ({ stanza: gcm(t), taken: true })),
  ...takenTexts.slice(0, 12).map((t) => ({ stanza: gcm(`x${t}y`), taken: true })),
  ...refusedTexts.map((t) => ({ stanza: gcm(t), taken: false })),
  ...takenHeads.map((head) => ({ stanza: gcm('{}', head), taken: true })),
  ...takenTags.map(([open, close]) => ({ stanza: gcm('{"a":1}', '<message id="ID">', open, close), taken: true })),
  // Just outside the shape: namespace declarations, other attributes, names, namespaces or content.
  ...[
    gcm('{}', '<message xmlns="jabber:client" id="ID">'), gcm('{}', '<message xmlns:a="b" id="ID">'), gcm('{}', '<message __proto__="x" id="ID">'),
    gcm('{}', '<message id="ID" id="ID">'), gcm('{}', '<message id="ID" to="a" to="b">'), gcm('{}', '<message id="ID" a:b="1">'),
    gcm('{}', '<message id="I&amp;D">'), gcm('{}', '<message id="ID" v="&lt;">'), gcm('{}', '<message id="ID" v="é">'), gcm('{}', '<message id="ID" v="\t">'),
    gcm('{}', '<message id="ID" v=">">'), gcm('{}', '<message id=ID>'), gcm('{}', '<message id="ID"v="1">'), gcm('{}', '<messagex id="ID">'),
    gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}x">`), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}" a="1">`), gcm('{}', '<message id="ID">', `<gcmx xmlns="${NS}">`, '</gcmx>'),
    gcm('{}', '<message id="ID">', `<a:gcm xmlns:b="${NS}">`, '</a:gcm>'), gcm('{}', '<message id="ID">', `<a:gcm xmlns:a="${NS}">`, '</gcm>'),
    gcm('{}', '<message id="ID">', `<a:gcm xmlns:a="${NS}">`, '</b:gcm>'), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}">`, '</a:gcm>'),
    gcm('{}', '<message id="ID">', `<xml:gcm xmlns:xml="${NS}">`, '</xml:gcm>'), gcm('{}', '<message id="ID">', `<xmlns:gcm xmlns:xmlns="${NS}">`, '</xmlns:gcm>'),
    gcm('{}', '<message id="ID">', `<XmL1:gcm xmlns:XmL1="${NS}">`, '</XmL1:gcm>'), gcm('{}', '<message id="ID">', `<gcm xmlns:a="${NS}">`, '</gcm>'),
    gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}"/>`, ''), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}">`, '</gcm><x/>'), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}">`, '</gcm> '),
    gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}">`, '</gcm></x>'), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}">`, '</gcm'),
    // Namespace declarations saxes refuses as soon as their value ends (not when the tag does).
    gcm('{}', '<message xmlns="http://www.w3.org/XML/1998/namespace" id="ID">'), gcm('{}', '<message id="ID" xmlns="http://www.w3.org/2000/xmlns/">'),
    gcm('{}', '<message id="ID">', `<g:gcm xmlns:g="${NS}" xmlns:a="">`, '</g:gcm>'), gcm('{}', '<message id="ID">', '<gcm xmlns="http://www.w3.org/XML/1998/namespace">'),
    gcm('{}', '<message id="ID">', `<gcm xmlns:a="http://www.w3.org/2000/xmlns/" xmlns="${NS}">`), gcm('{}', '<message id="ID">', `<gcm xmlns:xml="x" xmlns="${NS}">`),
    gcm('{}', '<message id="ID">', `<gcm a="1" xmlns="${NS}">`), gcm('{}', '<message id="ID">', `<gcm xmlns="${NS}" xmlns:xmlns="x">`),
    gcm('{}', '<message id="ID" xmlns="">'), gcm('{}', '<message id="ID">', '<gcm xmlns="">', '</gcm>'),
    '<message id="ID"><gcm xmlns="google:mobile:data">{}</gcm></message >', '<message id="ID"> <gcm xmlns="google:mobile:data">{}</gcm></message>',
    '<message id="ID"><gcm xmlns="google:mobile:data">{}</gcm></messagex>', '<message id="ID"><x/></message>', '<message id="ID"/>',
  ].map((stanza) => ({ stanza, taken: false })),
];

/**
 * The stream holding three copies of `stanza`, each with its own id value: the second's starts
 * with the first's, the third's differs from the second's in its last character.
 */
const IDS = ['1', '12', '13'];
function streamOf(stanza: string): Buffer {
  return bytes(HEADER + IDS.map((id) => stanza.replace(/ID/g, id)).join(''));
}
function streamOfBytes(extra: number[]): Buffer {
  const [open, close] = gcm('@').split('@') as [string, string];
  const one = (id: string): Buffer => Buffer.concat([bytes(open.replace('ID', id)), Buffer.from(extra), bytes(close)]);
  return Buffer.concat([bytes(HEADER), ...IDS.map(one)]);
}

/** Runs `input` cut at `cuts` with the shortcut taking what it takes; counts what it took. */
function viaShortcut(input: Uint8Array, cuts: number[]): { events: Event[]; parts: number } {
  let parts = 0;
  const r = recorder({ shortcut: gcmShortcut }, undefined, (p: GcmParts, events: Event[]) => {
    parts++;
    events.push(['stanza', { name: 'message', local: 'message', prefix: '', uri: 'jabber:client', attrs: Object.entries(p.attrs), children: [{ name: 'gcm', local: 'gcm', prefix: '', uri: NS, attrs: [['xmlns', NS]], children: p.json === '' ? [] : [p.json] }] }]);
    return true;
  });
  let prev = 0;
  for (const cut of cuts) {
    r.parser.write(input.subarray(prev, cut));
    prev = cut;
  }
  r.parser.write(input.subarray(prev));
  return { events: gcmView(r.events), parts };
}

function check(input: Buffer, taken: boolean, label: string): void {
  const reference = parseSplit(input, [], { withShortcut: false });
  const copies = reference.filter((e) => e[0] === 'stanza').length;
  if (taken) assert.is(copies, 3, `${label}: saxes reads three stanzas`);
  const everyByte = Array.from({ length: input.length - HEADER.length }, (_, i) => HEADER.length + i);
  // Cut once inside the first copy (judged) and the second (recalled from memory), for a message
  // that is taken: wherever it is cut, the shortcut waits for the rest instead of declining.
  const once = taken ? everyByte.slice(0, Math.ceil((2 * everyByte.length) / 3)).map((at) => [at]) : [];
  for (const cuts of [[], everyByte, ...once]) {
    const at = `${label}, cut at ${cuts.length > 1 ? 'every byte' : cuts.join(',')}`;
    const r = viaShortcut(input, cuts);
    assert.equal(r.events, gcmView(reference), at);
    assert.is(r.parts, taken ? 3 : 0, `${at}: taken by the shortcut`);
  }
  // Without onShortcut the shortcut builds each element itself: the very tree saxes builds.
  assert.equal(parseSplit(input, [], { withShortcut: true }), reference, `${label}: elements`);
  // Fed a byte at a time, everything is reported when saxes alone reports it: an error in a head
  // the shortcut refuses is not held back until more of the stanza arrives.
  assert.equal(progressSplit(input, everyByte, { withShortcut: true }), progressSplit(input, everyByte, { withShortcut: false }), `${label}: after each byte`);
}

test('the shortcut takes every message of its shape, at each bound of a reference, a UTF-8 sequence, a name and whitespace, and reads it as saxes does', () => {
  for (const { stanza, taken } of rows.filter((r) => r.taken)) check(streamOf(stanza), taken, JSON.stringify(stanza));
});

test('what lies just outside the shape (a byte past a bound, a declaration, another attribute, name or child) is read by saxes alone, or refused as saxes refuses it', () => {
  for (const { stanza, taken } of rows.filter((r) => !r.taken)) check(streamOf(stanza), taken, JSON.stringify(stanza));
  for (const extra of refusedBytes) check(streamOfBytes(extra), false, Buffer.from(extra).toString('hex'));
});

test('one stream of many heads, more than the shortcut remembers, with and without ids, each read as saxes reads it and each taken', () => {
  // Heads seen before are recognised from memory (eight whole heads, four id templates): a head
  // that left memory, a head without an id after one with an id, and the other way round.
  const heads = [...takenHeads.map((head) => gcm('{}', head)), ...takenTags.map(([open, close]) => gcm('{"a":1}', '<message id="ID">', open, close))];
  const order = [...heads, ...heads.slice().reverse(), ...heads.filter((_, i) => i % 3 === 0), ...heads];
  const input = bytes(HEADER + order.map((h, i) => h.replace(/ID/g, `i${i % 5}`)).join(''));
  const reference = parseSplit(input, [], { withShortcut: false });
  assert.is(reference.filter((e) => e[0] === 'stanza').length, order.length);
  const step = Array.from({ length: 40 }, (_, i) => HEADER.length + 1 + i * 53);
  for (const cuts of [[], step, Array.from({ length: input.length - HEADER.length }, (_, i) => HEADER.length + i)]) {
    const r = viaShortcut(input, cuts);
    assert.equal(r.events, gcmView(reference), `cut at ${cuts.length}`);
    assert.is(r.parts, order.length, `cut at ${cuts.length}: taken by the shortcut`);
    assert.equal(parseSplit(input, cuts, { withShortcut: true }), reference, `cut at ${cuts.length}: elements`);
  }
});

/**
 * Runs `f` counting the calls of the shortcut's regular expressions for heads (their sources start
 * with `^<message` or `^<(?:` + a name: the two start tags and their cut forms; not the end tag's),
 * as the spy on `timingSafeEqual` does for a claim that is otherwise only about time.
 */
function headRegexCalls(f: () => void): number {
  // (`/` may be escaped in a source)
  return regexCalls(f, ({ source: src }) => src.startsWith('^<message') || (src.startsWith('^<(?:') && !src.startsWith('^<(?:/') && !src.startsWith('^<(?:\\/')));
}

test('a head seen before is recognised from its bytes: the regular expressions judge each head once, not each stanza, whole or cut anywhere', () => {
  // A recent head (whole, or all but its id) is compared byte for byte, which is what keeps the
  // shortcut's cost per stanza low (bench/micro/shortcut-tricks.mjs); a lost memory would still
  // read right, only slower, so the spy is the test.
  for (const head of [...takenHeads, '<message id="ID" to="a" from="b" type="normal" xml:lang="en">']) {
    for (const [open, close] of [takenTags[0] as [string, string], takenTags[4] as [string, string]]) {
      const stanza = (id: string): string => gcm('{"a":"b"}', head, open, close).replace(/ID/g, id);
      let parts = 0;
      const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
      r.parser.write(bytes(HEADER + stanza('1')));
      assert.is(parts, 1);
      // Later copies with other ids of other lengths: whole, then a byte at a time.
      const later = bytes(['2', '12', 'abc', '7'].map(stanza).join(''));
      const half = Math.floor(later.length / 2);
      const calls = headRegexCalls(() => {
        r.parser.write(later.subarray(0, half));
        for (let i = half; i < later.length; i++) r.parser.write(later.subarray(i, i + 1));
      });
      assert.is(parts, 5, head);
      assert.is(calls, 0, `${head}${open}: regular expressions run for a head seen before`);
    }
  }
});

test.run();
