import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder } from '@ccs-xmpp/stream/testing';
import { TEXT_AMP, TEXT_REFUSED, TEXT_UTF8, judgeText } from '../src/gcm-shortcut.js';
import { gcmShortcut } from '../src/index.js';
import { HEADER, bytes, gcmView, parseSplit, progressSplit, regexCalls } from './helpers/parser.js';

// Tests written for the mutants of gcm-shortcut.js's helpers (compiled lines 75–305: parseAttrs …
// judgeText, isGcmEndTag and the cut regular expressions) that the other gcm-shortcut tests let
// live; test/README.md, "gcm-shortcut.js", lists each with its verdict.

test('judgeText reads nothing at or past `to`: a UTF-8 sequence the range cuts is refused, whatever byte follows it', () => {
  // Each sequence whole (judged as UTF-8), then cut one byte short with its continuation still in
  // the buffer: the byte past `to` must not complete it.
  for (const seq of [[0xc3, 0xa9], [0xe6, 0x9d, 0xb1], [0xf0, 0x9f, 0x8e, 0x89]]) {
    const buf = Buffer.from([0x61, ...seq]);
    assert.is(judgeText(buf, 0, buf.length, 0), TEXT_UTF8, buf.toString('hex'));
    for (let cut = 2; cut < buf.length; cut++) assert.is(judgeText(buf, 0, cut, 0), TEXT_REFUSED, `${buf.toString('hex')} to ${cut}`);
  }
  // `&` and `>` past `to` are not the range's either.
  assert.is(judgeText(Buffer.from('ab&'), 0, 2, 0), 0);
  assert.is(judgeText(Buffer.from(']]>'), 0, 2, 0), 0);
  assert.is(judgeText(Buffer.from('a&b'), 0, 3, 0), TEXT_AMP);
});

const NS = 'google:mobile:data';
/** A CCS message whose head differs from the others' only in its id value (`q` its quote). */
const withId = (id: string, q = '"'): string => `<message id=${q}${id}${q} type="t"><gcm xmlns="${NS}">{}</gcm></message>`;

/** A parser with the shortcut that counts the messages it takes. */
function counting() {
  let parts = 0;
  const r = recorder({ shortcut: gcmShortcut }, undefined, () => ++parts > 0);
  return {
    write: (s: string | Buffer) => r.parser.write(typeof s === 'string' ? bytes(s) : s),
    parts: () => parts,
    events: r.events,
  };
}
test('a head that differs from a remembered one only in an id value of the shape is recalled from its bytes, at each bound of the value\'s bytes', () => {
  // The id value is read byte by byte against the template (isIdValueByte): printable ASCII but
  // the quote, `&`, `<`, `>`. A head recalled skips the regular expressions (the spy, as in
  // gcm-shortcut.boundaries), which only a head not recognised runs.
  for (const [id, q] of [[' ', '"'], ['~', '"'], ['a b~', '"'], ['!', '"'], ["'", '"'], ['"', "'"], ['', '"'], ['x', "'"]] as const) {
    const p = counting();
    p.write(HEADER + withId('first', q));
    const calls = regexCalls(() => p.write(withId(id, q)));
    assert.is(p.parts(), 2, JSON.stringify(id));
    assert.is(calls, 0, `${JSON.stringify(id)}: judged again instead of recalled`);
  }
});

test('an id of the same length as the last one\'s, with no byte in common, is its own: each message gets its id', () => {
  // The template keeps the last id's attributes and reuses them when the bytes are that id's
  // (sameId); ids that differ only in their length or last byte are in gcm-shortcut.boundaries.
  const input = bytes(HEADER + ['ab', 'cd', 'cd', 'x1', '1x', 'ab'].map((id) => withId(id)).join(''));
  const alone = gcmView(parseSplit(input, [], { withShortcut: false }));
  assert.equal(gcmView(parseSplit(input, [], { withShortcut: true }, undefined, 'shortcut')), alone);
  assert.equal(gcmView(parseSplit(input, [], { withShortcut: true })), alone, 'elements');
});

test('a head over 96 bytes seen before is recalled in a chunk read in place with few bytes at hand (no DataView), and one that differs in its last byte is not', () => {
  // A large chunk (over 4 KiB) is read where it lies; with under 2 KiB of it left at a stanza's
  // start, the matcher makes no DataView and compares a long head with one native call.
  const head = `<message to="${'d'.repeat(80)}@gcm.googleapis.com" type="normal">`;
  const stanza = (h: string): string => `${h}<gcm xmlns="${NS}">{"n":1}</gcm></message>`;
  assert.ok(head.length > 96);
  const p = counting();
  p.write(HEADER + stanza(head));
  const spaces = ' '.repeat(5000);
  const same = regexCalls(() => p.write(spaces + stanza(head)));
  assert.is(p.parts(), 2);
  assert.is(same, 0, 'a long head seen before judged again');
  // The same length, the last byte before `>` another: judged (and taken) as a new head.
  const other = head.replace('normal"', 'normaL"');
  const differs = regexCalls(() => p.write(spaces + stanza(other)));
  assert.is(p.parts(), 3);
  assert.ok(differs > 0, 'a different head taken for one seen before');
  // And what each reads as, in the same chunks, is what saxes reads.
  const [first, second, third] = [HEADER + stanza(head), spaces + stanza(head), spaces + stanza(other)];
  const input = bytes(first + second + third);
  const cuts = [first.length, first.length + second.length];
  assert.equal(gcmView(parseSplit(input, cuts, { withShortcut: true }, undefined, 'shortcut')), gcmView(parseSplit(input, [], { withShortcut: false })));
});

test('an id value outside the shape is not read from a remembered template: each is read as saxes reads it, whole and a byte at a time', () => {
  // `&` (a reference saxes decodes), `<` (saxes refuses it), a tab (saxes normalises it to a
  // space), a control, a byte past ASCII: after a head with the same bytes around its id.
  for (const id of ['a&amp;b', '&lt;', 'a<b', 'a\tb', 'a\nb', 'a\u001fb', 'é']) {
    const input = bytes(HEADER + withId('first') + withId(id) + withId('last'));
    const alone = parseSplit(input, [], { withShortcut: false });
    const everyByte = Array.from({ length: input.length - HEADER.length }, (_, i) => HEADER.length + i);
    for (const cuts of [[], everyByte]) {
      assert.equal(gcmView(parseSplit(input, cuts, { withShortcut: true }, undefined, 'shortcut')), gcmView(alone), `${JSON.stringify(id)} cut at ${cuts.length}`);
    }
    assert.equal(progressSplit(input, everyByte, { withShortcut: true }), progressSplit(input, everyByte, { withShortcut: false }), `${JSON.stringify(id)}: after each byte`);
  }
});

test('a character saxes refuses inside a reference still arriving is reported when saxes alone reports it, not when the reference ends', () => {
  // saxes reports a reference it cannot resolve at its `;`, but a character that is no XML
  // character at all at once. A reference cut short is waited for only while its bytes so far can
  // still make one (isRefByte: `#`, digits, ASCII letters); a control or U+FFFE in it was held back.
  const texts = ['&\u0001;', '&#\u001f;', '&a\u000b;', '&#x\u0000;', '&\ufffe;', '&#x\uffff;', '&lt\u0008;', '&\u0001'];
  for (const text of texts) {
    const input = bytes(HEADER + withId('1').replace('{}', text));
    const everyByte = Array.from({ length: input.length - HEADER.length }, (_, i) => HEADER.length + i);
    assert.equal(progressSplit(input, everyByte, { withShortcut: true }), progressSplit(input, everyByte, { withShortcut: false }), JSON.stringify(text));
  }
});

test.run();
