import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder } from '@ccs-xmpp/stream/testing';
import { gcmShortcut } from '../src/index.js';
import { HEADER, bytes, parseSplit, progressSplit, regexCalls } from './helpers/parser.js';

// The GCM matcher's memory of heads (gcm-shortcut.ts, recallHead/judgeHead), seen from the parser:
// bytes that only begin like a remembered head are waited for, anything else is judged at once, and
// every head remembered is recalled. The boundaries table feeds its refused heads to fresh parsers;
// here they come after a head the parser remembers.

const NS = 'google:mobile:data';
const stanza = (head: string, text = '{}'): string => `${head}<gcm xmlns="${NS}">${text}</gcm></message>`;

/** Every byte offset past the stream header: the input fed a byte at a time. */
const everyByte = (input: Uint8Array): number[] => Array.from({ length: input.length - HEADER.length }, (_, i) => HEADER.length + i);

test('after a remembered head, a start tag saxes refuses early is reported as early as saxes alone reports it, not when as many bytes as the remembered head arrived', () => {
  // Each pair: a head the parser takes and remembers (longer than the bad start, so the bad bytes
  // arrive while fewer bytes are at hand than it has), then a start tag saxes refuses at its `!`.
  const cases: Array<[string, string, string]> = [
    // A head without an id: remembered whole.
    ['whole head', stanza('<message to="device-token-that-is-long" type="normal">'), '<message !'],
    ['whole head, the bad bytes its start', stanza('<message to="device-token-that-is-long" type="normal">'), '<message to="d<'],
    // A head with an id: remembered as the bytes before the id value and those after it.
    ['bytes before an id', stanza('<message to="device-token-that-is-long" id="m-1">'), '<message !'],
    ['bytes before an id, the bad bytes their start', stanza('<message to="device-token-that-is-long" id="m-1">'), '<message to="dev<'],
    ['bytes after an id', stanza('<message id="m-1" to="device-token-that-is-long" type="normal">'), '<message id="m-2"!'],
    ['bytes after an id, the bad bytes their start', stanza('<message id="m-1" to="device-token-that-is-long" type="normal">'), '<message id="m-2" to="dev<'],
  ];
  for (const [label, first, bad] of cases) {
    const input = bytes(`${HEADER}${first}${bad}="1"><gcm xmlns="${NS}">{}</gcm></message>`);
    const cuts = everyByte(input);
    const alone = progressSplit(input, cuts, { withShortcut: false });
    const withShortcut = progressSplit(input, cuts, { withShortcut: true });
    assert.ok(alone.events.some((e) => e[0] === 'error'), `${label}: saxes refuses it`);
    assert.equal(withShortcut.progress, alone.progress, `${label}: what is reported after each byte`);
    assert.equal(withShortcut.events, alone.events, label);
  }
});

/**
 * Runs `f` counting the calls of the shortcut's regular expressions for heads (sources starting
 * with `^<message`: the start tag and the head; the gcm start tag alone is `^<(?:`).
 */
const headRegexCalls = (f: () => void): number => regexCalls(f, (re) => re.source.startsWith('^<message'));

test('every one of several recent heads is remembered, with ids and without: a second round of them runs no regular expression', () => {
  // Heads without an id are remembered whole (eight), heads with one as templates (four): three of
  // each, then each again (other ids), must all be recalled, not only the first one remembered.
  const withoutId = ['<message type="normal">', '<message to="a">', '<message from="b" type="chat">'];
  const withId = (id: string): string[] => [`<message id="${id}">`, `<message to="a" id="${id}">`, `<message id="${id}" type="chat">`];
  for (const [label, first, second] of [
    ['without ids', withoutId, withoutId],
    ['with ids', withId('1'), withId('22')],
  ] as const) {
    let parts = 0;
    const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
    r.parser.write(bytes(HEADER + first.map((h) => stanza(h)).join('')));
    assert.is(parts, 3, label);
    const calls = headRegexCalls(() => r.parser.write(bytes(second.map((h) => stanza(h, '{"again":1}')).join(''))));
    assert.is(parts, 6, label);
    assert.is(calls, 0, `${label}: regular expressions run for heads seen before`);
  }
});

/** Runs `f` counting the DataViews made (the matcher makes one with `new DataView`). */
function dataViews(f: () => void): number {
  const Original = globalThis.DataView;
  let made = 0;
  globalThis.DataView = new Proxy(Original, {
    construct(target, args, newTarget) {
      made++;
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  try {
    f();
  } finally {
    globalThis.DataView = Original;
  }
  return made;
}

test('a DataView is made only where it pays: once for the parser\'s own buffer over many small chunks, once per buffer with 2 KiB or more at hand, none for less', () => {
  // Making one costs as much as comparing ~100 bytes (gcm-shortcut.ts, viewFor): it pays over
  // several stanzas of one buffer, not for a lone stanza. Like the regular-expression spy of the
  // boundaries test, the count is the test of a claim that is otherwise about time only.
  const one = (i: number): string => stanza(`<message id="m-${i}">`, `{"n":${i}}`);
  const fresh = () => {
    let parts = 0;
    const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
    r.parser.write(bytes(HEADER));
    return { write: (s: string) => r.parser.write(bytes(s)), parts: () => parts };
  };
  // Small chunks are read in the parser's own buffer: its view is made once and kept.
  const small = fresh();
  assert.is(dataViews(() => { for (let i = 0; i < 40; i++) small.write(one(i)); }), 1, 'small chunks');
  assert.is(small.parts(), 40);
  // Large chunks (past 4 KiB) are read in place: one view each, made for the chunk's first stanza.
  const large = fresh();
  const many = (from: number): string => Array.from({ length: 80 }, (_, i) => one(from + i)).join('');
  assert.ok(Buffer.byteLength(many(0)) > 4096);
  assert.is(dataViews(() => { large.write(many(0)); large.write(many(100)); }), 2, 'two large chunks');
  assert.is(large.parts(), 160);
  // A large chunk whose stanzas start after a long keepalive: exactly 2 KiB at hand is enough,
  // a lone stanza is not.
  let exact = '';
  for (let i = 0; Buffer.byteLength(exact) < 2048 - 200; i++) exact += one(i);
  exact += stanza('<message id="x">', `"${'y'.repeat(2048 - Buffer.byteLength(exact) - Buffer.byteLength(stanza('<message id="x">', '""')))}"`);
  assert.is(Buffer.byteLength(exact), 2048);
  const padded = fresh();
  assert.is(dataViews(() => padded.write(' '.repeat(4096) + exact)), 1, '2048 bytes at hand');
  assert.is(dataViews(() => padded.write(' '.repeat(4096) + one(1))), 0, 'a lone stanza');
  assert.is(dataViews(() => padded.write(' '.repeat(4096) + exact.slice(1))), 0, 'a byte short of 2 KiB at hand');
});

test('a matcher straight from createMatcher() reads its first stanza from the start, as after reset()', () => {
  // The parser resets a matcher before each stanza; one used on its own needs no reset() first.
  const input = bytes(stanza('<message id="m-1">', '{"a":"&lt;é"}'));
  const close = input.length - '</message>'.length;
  for (const reset of [false, true]) {
    const m = gcmShortcut.createMatcher();
    if (reset) m.reset();
    assert.is(m.scan(input, 0, input.length), close, `reset: ${reset}`);
    const parts = m.match(input, 0, close);
    assert.is(parts?.json, '{"a":"<é"}', `reset: ${reset}`);
    assert.equal(parts?.attrs, { id: 'm-1' }, `reset: ${reset}`);
  }
});

test('inside a reference still arriving, a byte saxes refuses at once (a control, a byte that is not UTF-8, U+FFFE) is reported when saxes alone reports it', () => {
  // saxes reads a reference's name up to its `;` and reports nothing about it before, but refuses
  // a character that may not stand in a document the moment it arrives: the shortcut must not wait
  // on a reference that cannot become one.
  const inside: number[][] = [[0x26, 0x01], [0x26, 0x61, 0x00], [0x26, 0x6c, 0x74, 0x1f], [0x26, 0x61, 0xff], [0x26, 0x23, 0x78, 0xef, 0xbf, 0xbe], [0x26, 0x23, 0x80]];
  for (const extra of inside) {
    const label = Buffer.from(extra).toString('hex');
    const [open, close] = stanza('<message id="m-1">', '{"a":"x@"}').split('@') as [string, string];
    const input = Buffer.concat([bytes(HEADER + open), Buffer.from(extra), bytes(close)]);
    const cuts = everyByte(input);
    const alone = progressSplit(input, cuts, { withShortcut: false });
    assert.ok(alone.events.some((e) => e[0] === 'error'), `${label}: saxes refuses it`);
    assert.equal(progressSplit(input, cuts, { withShortcut: true }).progress, alone.progress, `${label}: what is reported after each byte`);
  }
});

test('a large chunk that ends inside the gcm end tag or `</message>`: the stanza waits for its rest and is taken, read as saxes reads it', () => {
  // A chunk past 4 KiB is read in place (through a DataView: several stanzas are at hand); the end
  // tags of its last stanza may not have arrived whole, and nothing past the chunk may be read.
  const many = Array.from({ length: 60 }, (_, i) => stanza(`<message id="m-${i}">`, `{"n":${i}}`)).join('');
  for (const last of [stanza('<message id="z">', '{"z":1}'), stanza('<message id="z">', '{"z":"&lt;"}'), '<message id="z"><g:gcm xmlns:g="google:mobile:data">{}</g:gcm></message>']) {
    const input = bytes(HEADER + many + last);
    const reference = parseSplit(input, [], { withShortcut: false });
    for (let k = 1; k <= '</g:gcm></message>'.length; k++) {
      const cut = input.length - k;
      assert.ok(cut - HEADER.length > 4096);
      let parts = 0;
      const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
      r.parser.write(input.subarray(0, HEADER.length));
      r.parser.write(input.subarray(HEADER.length, cut));
      r.parser.write(input.subarray(cut));
      assert.is(parts, 61, `${last}: cut ${k} bytes before its end`);
      assert.equal(parseSplit(input, [HEADER.length, cut], { withShortcut: true }), reference, `${last}: cut ${k} bytes before its end`);
    }
  }
});

test.run();
