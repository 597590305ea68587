import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runs } from '@ccs-xmpp/stream/testing';
import { decodeEntities } from '../src/gcm-shortcut.js';

// decodeEntities reads each reference from its character codes; what it replaced matched a sticky
// regular expression at each `&` and looked the entity's name up. That older decoding is the oracle:
// the same string, or null, for any text.

const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function oracle(raw: string): string | null {
  let out = '';
  let from = 0;
  let amp = raw.indexOf('&');
  while (amp !== -1) {
    ENTITY_RE.lastIndex = amp;
    const m = ENTITY_RE.exec(raw);
    if (m === null) return null;
    let ch: string;
    if (m[1] !== undefined) ch = PREDEFINED[m[1]] as string;
    else {
      const cp = m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3] as string, 16);
      if (!isXmlChar(cp)) return null;
      ch = String.fromCodePoint(cp);
    }
    out += raw.slice(from, amp) + ch;
    from = ENTITY_RE.lastIndex;
    amp = raw.indexOf('&', from);
  }
  return out + raw.slice(from);
}

const REFERENCES = [
  '&lt;', '&gt;', '&amp;', '&quot;', '&apos;', '&#60;', '&#x3c;', '&#x3C;', '&#0060;', '&#x0003c;', '&#9;', '&#10;', '&#13;',
  '&#xD7FF;', '&#xE000;', '&#xFFFD;', '&#x10000;', '&#x10FFFF;', '&#1114111;', '&#x1F600;', '&#233;', '&#xaBcDe;',
  // Not references XML allows, or not ones the shortcut decodes:
  '&#0;', '&#8;', '&#x1F;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#1114112;', '&#99999999999999999999;',
  '&#x00000000000000000041;', '&#X41;', '&#x;', '&#;', '&#12a;', '&#xG;', '&#-1;', '&#+1;', '&#x 41;', '&foo;', '&LT;', '&Lt;',
  '&lt', '&', '&;', '&l;', '&ltt;', '&am;', '&ampp;', '&quo;', '&apo;', '&qout;', '&aops;', '&quott;', '&lt ;', '& lt;', '&#x41',
  '&gtlt;', '&at;', '&lg;', '&apos', '&quot', '&amp&amp;', '&l&t;', '&#6A;', '&#6a;', '&#x6G;', '&#x6g;', '&#7e;',
];

test('decodes exactly as the regular expression did: each reference alone, between text, and after another', () => {
  for (const ref of REFERENCES) {
    for (const text of [ref, `a${ref}b`, `${ref}${ref}`, `&amp;${ref}`, `${ref}&lt;`, `é${ref}東;`, `${ref};;`]) {
      assert.is(decodeEntities(text), oracle(text), JSON.stringify(text));
    }
  }
});

test('property: decodes any text of reference pieces exactly as the regular expression did', () => {
  const piece = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...REFERENCES) },
    { weight: 4, arbitrary: fc.constantFrom('&', ';', '#', 'x', 'X', 'l', 't', 'g', 'a', 'm', 'p', 'q', 'u', 'o', 's', '0', '1', '9', 'f', 'F', 'G', ' ', 'é', '東', '🎉', '"') },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (pieces) => {
      const text = pieces.join('');
      assert.is(decodeEntities(text), oracle(text), JSON.stringify(text));
    }),
    process.env.FUZZ ? { numRuns: runs(4000) } : { numRuns: 20000, seed: 0xe17 },
  );
});

test.run();
