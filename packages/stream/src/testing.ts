// Test support, published as `@ccs-xmpp/stream/testing` (not part of the main entry point): a
// recording sink, runs of one input cut anywhere, and the parser's behaviour table. The table is
// here, not in a test file, because every shortcut must pass it: this package runs it with a toy
// shortcut and without one, `@ccs-xmpp/stanza` with the GCM shortcut and without — one table, so a
// new case or a changed verdict reaches both. Uses node:assert only (no test runner dependency).
import { deepStrictEqual, ok, throws } from 'node:assert/strict';
import { StanzaParser, type StanzaParserOptions } from './stanza-parser.js';
import type { XmlElement } from './xml-element.js';

/** One sink call, in a comparable form. */
export type Event =
  | ['open', Record<string, string>]
  | ['stanza', NormalEl]
  | ['end']
  | ['error', string, string];

/** An element as plain data, for deep comparison (prototype and class stripped). */
export interface NormalEl {
  name: string;
  local: string;
  prefix: string;
  uri: string;
  attrs: Array<[string, string]>;
  children: Array<NormalEl | string>;
}

/** `el` as plain data. */
export function normal(el: XmlElement): NormalEl {
  return {
    name: el.name,
    local: el.local,
    prefix: el.prefix,
    uri: el.uri,
    attrs: Object.keys(el.attrs).map((k) => [k, el.attrs[k] as string]),
    children: el.children.map((c) => (typeof c === 'string' ? c : normal(c))),
  };
}

/** A server's stream header (with the XML declaration), as a CCS server sends it. */
export const HEADER =
  "<?xml version='1.0'?><stream:stream from='gcm.googleapis.com' id='S1' version='1.0' " +
  "xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>";

/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Property-test run counts: fixed in the default run, larger behind FUZZ=1. */
export const runs = (n: number): number => (process.env.FUZZ ? n * 50 : n);

/** Takes a shortcut's parts into `events` (return `true`) or declines them (`false`: the element comes instead). */
export type TakeParts<P> = (parts: P, events: Event[]) => boolean;

/** A parser whose sink records every call; `restartOn` resets the parser from inside onStanza. */
export function recorder<P = never>(options: StanzaParserOptions<P> = {}, restartOn?: (el: XmlElement) => boolean, onShortcut?: TakeParts<P>) {
  const events: Event[] = [];
  const elements: XmlElement[] = [];
  const parser: StanzaParser<P> = new StanzaParser<P>(
    {
      ...(onShortcut === undefined ? {} : { onShortcut: (parts: P) => onShortcut(parts, events) }),
      onStreamOpen: (h) => events.push(['open', { ...h.attrs }]),
      onStanza: (el) => {
        events.push(['stanza', normal(el)]);
        elements.push(el);
        if (restartOn?.(el)) parser.reset();
      },
      onStreamEnd: () => events.push(['end']),
      onError: (e) => events.push(['error', e.condition, e.code]),
    },
    options,
  );
  return { parser, events, elements };
}

/** Writes `input` cut at the given offsets (sorted, deduplicated, within bounds); `after` runs after each chunk. */
function writeSplit(parser: { write(chunk: Uint8Array): void }, input: Uint8Array, cuts: number[], after: () => void): void {
  let prev = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b)) {
    parser.write(input.subarray(prev, cut));
    after();
    prev = cut;
  }
  parser.write(input.subarray(prev));
  after();
}

/** Parses `input` cut at the given offsets (sorted, deduplicated, within bounds). */
export function parseSplit<P = never>(
  input: Uint8Array,
  cuts: number[],
  options: StanzaParserOptions<P> = {},
  restartOn?: (el: XmlElement) => boolean,
  onShortcut?: TakeParts<P>,
): Event[] {
  const r = recorder(options, restartOn, onShortcut);
  writeSplit(r.parser, input, cuts, () => {});
  return r.events;
}

/**
 * Parses `input` cut at the given offsets and returns, after each chunk, how many events had been
 * reported: two parsers that agree on this agree on what was known when, not just in the end.
 */
export function progressSplit<P = never>(
  input: Uint8Array,
  cuts: number[],
  options: StanzaParserOptions<P> = {},
  onShortcut?: TakeParts<P>,
): { events: Event[]; progress: number[] } {
  const r = recorder(options, undefined, onShortcut);
  const progress: number[] = [];
  writeSplit(r.parser, input, cuts, () => progress.push(r.events.length));
  return { events: r.events, progress };
}

/** The offsets that cut `length` bytes into chunks of `size`. */
export function chunkCuts(length: number, size: number): number[] {
  const cuts: number[] = [];
  for (let i = size; i < length; i += size) cuts.push(i);
  return cuts;
}

/** Parses `input` in chunks of `size` bytes. */
export function parseChunked<P = never>(input: Uint8Array, size: number, options: StanzaParserOptions<P> = {}): Event[] {
  return parseSplit(input, chunkCuts(input.length, size), options);
}

// --- the behaviour table ------------------------------------------------------------------------

/** One way of configuring the parser that the table runs under; every variant must give the same events. */
export interface ParserVariant {
  label: string;
  options: StanzaParserOptions<unknown>;
}

/** A named check that throws (node:assert) when the parser misbehaves; register it with any test runner. */
export interface ParserTableTest {
  name: string;
  run(): void;
}

const GCM = 'google:mobile:data';
const STREAMS = 'http://etherx.jabber.org/streams';

function el(name: string, uri: string, attrs: Array<[string, string]>, children: Array<NormalEl | string>): NormalEl {
  const colon = name.indexOf(':');
  return { name, local: colon < 0 ? name : name.slice(colon + 1), prefix: colon < 0 ? '' : name.slice(0, colon), uri, attrs, children };
}

const OPEN: Event = ['open', { from: 'gcm.googleapis.com', id: 'S1', version: '1.0', 'xmlns:stream': STREAMS, xmlns: 'jabber:client' }];
const gcmText = (text: string): NormalEl => el('gcm', GCM, [['xmlns', GCM]], [text]);

/** Inputs the parser accepts, with the events they give whole, byte by byte and in 3-byte chunks. */
const accepted: Array<[string, string, Event[]]> = [
  ['reports the stream header attributes and each depth-1 stanza',
    HEADER + '<message id="1"><gcm xmlns="google:mobile:data">{"a":1}</gcm></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [['id', '1']], [gcmText('{"a":1}')])]]],
  ['reads a prefixed data:gcm as the same element as gcm in google:mobile:data',
    HEADER + '<message><data:gcm xmlns:data="google:mobile:data">{"b":2}</data:gcm></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [el('data:gcm', GCM, [['xmlns:data', GCM]], ['{"b":2}'])])]]],
  ['accepts single- and double-quoted attributes and xml:lang',
    HEADER + `<message id='a"b' type="normal" xml:lang='en'><gcm xmlns='google:mobile:data'>{}</gcm></message>`,
    [OPEN, ['stanza', el('message', 'jabber:client', [['id', 'a"b'], ['type', 'normal'], ['xml:lang', 'en']], [gcmText('{}')])]]],
  ['decodes the five predefined entities and numeric character references',
    HEADER + '<message><gcm xmlns="google:mobile:data">&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;&#x42;</gcm></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [gcmText('<>&"\'A\u{1F600}B')])]]],
  ['merges CDATA sections with surrounding text into one string',
    HEADER + '<message><body>a<![CDATA[<b>&]]>c</body></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [el('body', 'jabber:client', [], ['a<b>&c'])])]]],
  ['keeps text before, between and after child elements, in document order',
    HEADER + '<message><body>a<b/>c<i>d</i>e</body></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [el('body', 'jabber:client', [], [
      'a', el('b', 'jabber:client', [], []), 'c', el('i', 'jabber:client', [], ['d']), 'e',
    ])])]]],
  ['keeps text and CDATA written directly inside a stanza',
    HEADER + '<message>hi<![CDATA[ <there>]]></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], ['hi <there>'])]]],
  ['accepts an encoding declared as utf-8 in any case',
    "<?xml version='1.0' encoding='utf-8'?>" + HEADER.slice(21) + '<a/>',
    [OPEN, ['stanza', el('a', 'jabber:client', [], [])]]],
  ['adds no text for an empty CDATA section',
    HEADER + '<message><body><![CDATA[]]></body><b>x<![CDATA[]]></b></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [el('body', 'jabber:client', [], []), el('b', 'jabber:client', [], ['x'])])]]],
  ['keeps an attribute named __proto__ as an attribute like any other',
    HEADER + `<iq __proto__='p' id='1'/>`,
    [OPEN, ['stanza', el('iq', 'jabber:client', [['__proto__', 'p'], ['id', '1']], [])]]],
  ['ignores whitespace keepalives between stanzas',
    HEADER + ' \n <iq type="result" id="p1"/> \t\r\n <iq type="result" id="p1"/>   ',
    [OPEN, ...Array.from({ length: 2 }, (): Event => ['stanza', el('iq', 'jabber:client', [['type', 'result'], ['id', 'p1']], [])])]],
  ['keeps multi-byte UTF-8 intact when chunks split characters',
    HEADER + '<message><gcm xmlns="google:mobile:data">é東🎉שלום</gcm></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [], [gcmText('é東🎉שלום')])]]],
  ['reports the end of the stream and ignores anything after it',
    HEADER + '<a/></stream:stream><b/>',
    [OPEN, ['stanza', el('a', 'jabber:client', [], [])], ['end']]],
  ['normalises line ends in text and whitespace in attribute values as XML 1.0 says',
    HEADER + '<message a="x\ty\nz"><gcm xmlns="google:mobile:data">1\r\n2\r3</gcm></message>',
    [OPEN, ['stanza', el('message', 'jabber:client', [['a', 'x y z']], [gcmText('1\n2\n3')])]]],
  ['builds nested elements with their namespaces (stream features)',
    HEADER + '<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>',
    [OPEN, ['stanza', el('stream:features', STREAMS, [], [
      el('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl', [['xmlns', 'urn:ietf:params:xml:ns:xmpp-sasl']], [
        el('mechanism', 'urn:ietf:params:xml:ns:xmpp-sasl', [], ['PLAIN']),
      ]),
    ])]]],
];

/** Inputs the parser refuses: what, input, condition, code. */
const refusals: Array<[string, string, string, string]> = [
  ['a DOCTYPE', "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'boom'>]>" + HEADER.slice(21), 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a comment', HEADER + '<!-- hi -->', 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a processing instruction', HEADER + '<?php echo 1; ?>', 'restricted-xml', 'STREAM_ERR_RESTRICTED_XML'],
  ['a mismatched end tag', HEADER + '<a></b>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  // saxes closes the element before it reports the mismatch: the stanza must not be reported.
  ['a message closed by another end tag', HEADER + '<message id="m"><gcm xmlns="google:mobile:data">{}</gcm></iq>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a nested element closed by its parent\'s end tag', HEADER + '<message><body>x</message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a stream closed by another end tag', HEADER + '</stream:features>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['an undefined entity', HEADER + '<a>&xxe;</a>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a duplicate attribute', HEADER + '<message a="1" a="2"><gcm xmlns="google:mobile:data">x</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['an unbound prefix', HEADER + '<x:message><gcm xmlns="google:mobile:data">x</gcm></x:message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a raw < in text', HEADER + '<message><gcm xmlns="google:mobile:data">a < b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  [']]> in text', HEADER + '<message><gcm xmlns="google:mobile:data">a ]]> b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a control character', HEADER + '<message><gcm xmlns="google:mobile:data">a\u0001b</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['U+FFFE', HEADER + '<message><gcm xmlns="google:mobile:data">a\uFFFEb</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a reference to a forbidden character', HEADER + '<message><gcm xmlns="google:mobile:data">&#0;</gcm></message>', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['text between stanzas', HEADER + 'hello<a/>', 'bad-format', 'STREAM_ERR_BAD_FORMAT'],
  ['a root that is not stream:stream', "<stream xmlns='jabber:client'>", 'invalid-namespace', 'STREAM_ERR_INVALID_NAMESPACE'],
  ['a duplicate attribute in the stream header', "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='a' id='b'>", 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED'],
  ['a root in the streams namespace not named stream', "<s:features xmlns:s='http://etherx.jabber.org/streams'>", 'invalid-namespace', 'STREAM_ERR_INVALID_NAMESPACE'],
  ['an encoding other than UTF-8', "<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER.slice(21), 'unsupported-encoding', 'STREAM_ERR_UNSUPPORTED_ENCODING'],
];

/**
 * The parser's behaviour table: each entry a named check that runs under every variant (a shortcut
 * plugged in or not) and demands the same events from each. Register them with a test runner:
 * `for (const t of parserTable(variants)) test(t.name, t.run)`.
 */
export function parserTable(variants: readonly ParserVariant[]): ParserTableTest[] {
  if (variants.length === 0) throw new RangeError('parserTable needs at least one variant');
  const each = (fn: (options: StanzaParserOptions<unknown>, label: string) => void) => (): void => {
    for (const v of variants) fn(v.options, v.label);
  };
  const tests: ParserTableTest[] = [];
  for (const [name, input, expected] of accepted) {
    tests.push({
      name,
      run: each((options, label) => {
        const buf = bytes(input);
        for (const size of [buf.length, 1, 3]) deepStrictEqual(parseChunked(buf, size, options), expected, `${label}, chunks of ${size}`);
      }),
    });
  }
  for (const [what, input, condition, code] of refusals) {
    tests.push({
      name: `refuses ${what} with ${condition} (${code}), reports no stanza of it and nothing after it`,
      run: each((options, label) => {
        const buf = bytes(input + '<after/>');
        const events = parseChunked(buf, 1 << 20, options);
        deepStrictEqual(events[events.length - 1], ['error', condition, code], label);
        ok(!events.some((e) => e[0] === 'stanza' || e[0] === 'end'), label);
        deepStrictEqual(parseChunked(buf, 1, options), events, `${label}: same verdict byte by byte`);
      }),
    });
  }
  tests.push(
    {
      name: 'refuses bytes that are not UTF-8 with not-well-formed',
      run: each((options, label) => {
        for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x28, 0xa1], [0xf4, 0x90, 0x80, 0x80]]) {
          const input = Buffer.concat([bytes(HEADER + '<message><gcm xmlns="google:mobile:data">a'), Buffer.from(bad), bytes('</gcm></message>')]);
          for (const size of [input.length, 1, 2]) {
            deepStrictEqual(parseChunked(input, size, options), [OPEN, ['error', 'not-well-formed', 'STREAM_ERR_NOT_WELL_FORMED']], `${label}: bytes ${bad} in chunks of ${size}`);
          }
        }
      }),
    },
    {
      name: 'rejects a stanza over maxStanzaBytes with STREAM_ERR_STANZA_TOO_LARGE before buffering the rest',
      run: each((options, label) => {
        const r = recorder({ ...options, maxStanzaBytes: 1000 });
        r.parser.write(bytes(HEADER));
        const stanza = bytes('<message><gcm xmlns="google:mobile:data">' + 'x'.repeat(5000) + '</gcm></message>');
        let fedWhenRejected = -1;
        for (let i = 0; i < stanza.length; i += 100) {
          r.parser.write(stanza.subarray(i, i + 100));
          if (r.events.some((e) => e[0] === 'error') && fedWhenRejected < 0) fedWhenRejected = i + 100;
        }
        deepStrictEqual(r.events[r.events.length - 1], ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE'], label);
        ok(fedWhenRejected > 0 && fedWhenRejected <= 1100, `${label}: rejected after ${fedWhenRejected} bytes`);
      }),
    },
    {
      name: 'accepts a stanza of exactly maxStanzaBytes and refuses one byte more',
      run: each((options, label) => {
        // Longer than HEADER: the prolog counts against the limit too.
        const stanza = `<message><gcm xmlns="google:mobile:data">{"k":"${'v'.repeat(200)}"}</gcm></message>`;
        const n = Buffer.byteLength(stanza);
        deepStrictEqual(parseChunked(bytes(HEADER + stanza), 7, { ...options, maxStanzaBytes: n })[1]?.[0], 'stanza', label);
        deepStrictEqual(parseChunked(bytes(HEADER + stanza), 7, { ...options, maxStanzaBytes: n - 1 })[1], ['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE'], label);
      }),
    },
    {
      name: 'refuses nesting deeper than maxDepth with policy-violation',
      run: each((options, label) => {
        const deep = bytes(HEADER + '<a>'.repeat(5) + '</a>'.repeat(5));
        deepStrictEqual(parseChunked(deep, 1 << 20, { ...options, maxDepth: 5 })[1]?.[0], 'stanza', label);
        deepStrictEqual(parseChunked(deep, 1 << 20, { ...options, maxDepth: 4 })[1], ['error', 'policy-violation', 'STREAM_ERR_TOO_DEEP'], label);
      }),
    },
    {
      name: 'counts an oversized prolog (a huge stream header) against maxStanzaBytes',
      run: each((options, label) => {
        const header = `<stream:stream xmlns:stream='${STREAMS}' pad='${'p'.repeat(3000)}'>`;
        deepStrictEqual(parseChunked(bytes(header), 64, { ...options, maxStanzaBytes: 1024 }), [['error', 'policy-violation', 'STREAM_ERR_STANZA_TOO_LARGE']], label);
      }),
    },
    {
      name: 'a stream restart from inside onStanza resets all parser state; the rest of the chunk is the new stream',
      run: each((options, label) => {
        const first = HEADER + '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>';
        const second = `<stream:stream xmlns:stream='${STREAMS}' xmlns='jabber:client' id='S2'><message><gcm xmlns='google:mobile:data'>2</gcm></message>`;
        const input = bytes(first + second);
        for (const cuts of [[], [first.length], [first.length - 1, first.length + 3], Array.from({ length: input.length }, (_, i) => i)]) {
          const events = parseSplit(input, cuts, options, (e) => e.local === 'success');
          deepStrictEqual(events.length, 4, `${label}: events with cuts ${cuts.length}`);
          deepStrictEqual(events[2], ['open', { 'xmlns:stream': STREAMS, xmlns: 'jabber:client', id: 'S2' }], label);
          deepStrictEqual(events[3], ['stanza', el('message', 'jabber:client', [], [gcmText('2')])], label);
        }
      }),
    },
    {
      name: 'reset() from outside starts a fresh stream after an error',
      run: each((options, label) => {
        const r = recorder(options);
        r.parser.write(bytes(HEADER + '<a></b>'));
        deepStrictEqual(r.events[r.events.length - 1]?.[0], 'error', label);
        ok(r.parser.done, label);
        r.parser.reset();
        r.parser.write(bytes(HEADER + '<a/>'));
        deepStrictEqual(r.events.slice(-2).map((e) => e[0]), ['open', 'stanza'], label);
      }),
    },
    {
      name: 'rejects nonsensical limits with a RangeError',
      run: each((options) => {
        const sink = { onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError() {} };
        throws(() => new StanzaParser(sink, { ...options, maxStanzaBytes: 0 }), RangeError);
        throws(() => new StanzaParser(sink, { ...options, maxDepth: -1 }), RangeError);
      }),
    },
    {
      name: 'hands a gcm payload over as one string decoded once (no entity: a slice of the input)',
      run: each((options, label) => {
        const r = recorder(options);
        r.parser.write(bytes(HEADER + '<message><gcm xmlns="google:mobile:data">{"message_id":"m1"}</gcm></message>'));
        const gcm = r.elements[0]?.getChild('gcm', GCM);
        ok(gcm, label);
        deepStrictEqual(gcm.children.length, 1, label);
        deepStrictEqual(JSON.parse(gcm.text()), { message_id: 'm1' }, label);
      }),
    },
  );
  return tests;
}
