import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SCAN_WAIT, XmlElement, type StanzaShortcut, type StanzaShortcutMatcher } from '../src/index.js';
import { HEADER, bytes, recorder } from './helpers.js';

// Regression: a matcher may hand over parts that read the bytes match() was given until release()
// (the GCM one makes a canonical ACK's payload string only then). Small chunks are read in the
// parser's own buffer, and the same write() could copy later bytes over it — the rest of the chunk
// after a stanza saxes took, or the start of a stanza cut by a large chunk's end — before release():
// the parts then read another stanza's bytes. The framer now calls release() before it writes over
// its own buffer.

/** Parts for `<x>letters</x>` that keep a view of the bytes until release(). */
class LazyParts {
  buf: Buffer | null = null;
  at = 0;
  end = 0;
  made = '';
  get text(): string {
    if (this.buf !== null) this.settle();
    return this.made;
  }
  settle(): void {
    this.made = (this.buf as Buffer).toString('latin1', this.at, this.end);
    this.buf = null;
  }
}

class LazyMatcher implements StanzaShortcutMatcher<LazyParts> {
  readonly parts = new LazyParts();
  reset(): void {}
  release(): void {
    if (this.parts.buf !== null) this.parts.settle();
  }
  scan(buf: Buffer, start: number, end: number): number {
    const close = buf.indexOf('</x>', start, 'latin1');
    return close !== -1 && close + 4 <= end ? close : SCAN_WAIT;
  }
  match(buf: Buffer, start: number, close: number): LazyParts | undefined {
    if (buf[start + 2] !== 0x3e) return undefined;
    const p = this.parts;
    if (p.buf !== null) p.settle();
    p.buf = buf;
    p.at = start + 3;
    p.end = close;
    return p;
  }
  element(parts: LazyParts, defaultNs: string): XmlElement {
    return new XmlElement('x', 'x', '', defaultNs, {}, parts.text === '' ? [] : [parts.text]);
  }
}

const lazy: StanzaShortcut<LazyParts> = { name: 'x', createMatcher: () => new LazyMatcher() };

/** Every write's last parts: the text they held in the callback, and what they read after the write. */
function lastTexts(input: Uint8Array, cuts: number[]): Array<[string, string]> {
  const seen: { last: [string, LazyParts] | undefined } = { last: undefined };
  const r = recorder({ shortcut: lazy }, undefined, (parts: LazyParts) => {
    seen.last = [(parts.buf as Buffer).toString('latin1', parts.at, parts.end), parts];
    return true;
  });
  const out: Array<[string, string]> = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    if (cut <= at) continue;
    seen.last = undefined;
    r.parser.write(input.subarray(at, cut));
    at = cut;
    const last = seen.last as [string, LazyParts] | undefined;
    if (last !== undefined) out.push([last[0], last[1].text]);
  }
  return out;
}

const CUT = `<x>${'q'.repeat(300)}`;

test('parts read from the parser\'s own buffer are let go of before the rest of the chunk, after a stanza saxes took, is copied over them', () => {
  const input = bytes(`${HEADER}<x>abc</x><y>z</y>${CUT}`);
  assert.equal(lastTexts(input, [HEADER.length]), [['abc', 'abc']]);
});

test('parts read from the parser\'s own buffer are let go of before a large chunk\'s cut stanza is copied over them', () => {
  const input = bytes(`${HEADER}<x>abcdef</x>${' '.repeat(5000)}${CUT}`);
  assert.equal(lastTexts(input, [HEADER.length, HEADER.length + 5]), [['abcdef', 'abcdef']]);
});

test('property: however the stream is cut, the last parts of each write read what they held in the callback', () => {
  const input = bytes(`${HEADER}<x>abc</x><y>z</y><x>defgh</x>${' '.repeat(5000)}<x>ij</x><y/><x>klmnop</x>  <x>r</x>${CUT}`);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: HEADER.length, max: input.length - 1 }), { maxLength: 6 }), (cuts) => {
      for (const [held, after] of lastTexts(input, cuts.sort((a, b) => a - b))) assert.is(after, held, `cuts ${cuts.join(', ')}`);
    }),
    { seed: 0x5eed, numRuns: 300 },
  );
});

test.run();
