// A/B of each hot-path trick of the GCM shortcut (packages/stanza/src/gcm-shortcut.ts), measured
// where it has to pay off: the whole parser over the CCS mix (bench/lib/ccs-mix.mjs) with every
// payload JSON.parse'd, at 16 KiB and 400-byte chunks. Each variant is the built shortcut with one
// trick taken out (bench/micro/lib/variant.mjs); original and variants are interleaved round by
// round and each variant's rate is divided by the original's of the same round. A trick that does
// not move this figure beyond the noise goes.
//
//   node bench/micro/shortcut-tricks.mjs [--rounds R | --paired SECONDS] [--quick] [--json FILE] [--only WORD,…]   (--only: the tricks whose name holds a word)
//
// --paired: each variant against the original by single passes back to back (bench/lib/cpu-slice.mjs,
// pairedRatios), SECONDS of CPU per trick and chunk size, instead of rounds of slices.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { cpuSlice, median, pairedRatios, quantile } from '../lib/cpu-slice.mjs';
import { shortcutVariant } from './lib/variant.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, paired: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, only: { type: 'string' } } });
const quick = args.quick === true;
const ROUNDS = Number(args.rounds ?? (quick ? 5 : 15));
const SLICE_MS = quick ? 100 : 200;
const STANZAS = 20_000;

export const TRICKS = {
  'head memo (exact and id templates) → regex every time': [
    ['for (let i = 0; i < memo.length; i++) {', 'for (let i = 0; i < 0; i++) {'],
    ['for (let i = 0; i < templates.length; i++) {', 'for (let i = 0; i < 0; i++) {'],
  ],
  'id templates only → exact memo only': [['for (let i = 0; i < templates.length; i++) {', 'for (let i = 0; i < 0; i++) {']],
  // Heads (and end tags) compared four bytes a step through a DataView of a buffer holding several
  // stanzas. Without: a byte loop up to 96 bytes and buf.compare beyond, whatever the buffer.
  'heads compared 4 bytes a step (DataView) → byte loop / buf.compare': [['if (buf !== this.own && end - start < VIEW_MIN_BYTES)', 'if (true)']],
  // Small chunks are read in the parser's own buffer (stream's FastFramer), whose DataView the
  // matcher keeps across chunks (release(keep)). Without: a view only with 2 KiB at hand, as before.
  "the DataView of the parser's own buffer kept → a view only with 2 KiB at hand": [['if (buf !== this.own && end - start < VIEW_MIN_BYTES)', 'if (end - start < VIEW_MIN_BYTES)']],
  // Stanzas with the same id (CCS's `id=""`) share their attribute object. Without: a new one each.
  'attributes shared by heads with the same id → a copy per stanza': [['if (attrs === undefined || !sameId(buf, idStart, q, t.lastId))', 'if (true)']],
  // A head recalled by an id template with a new id (upstream messages) makes its attributes — the
  // id's string, a copy of the template's — when they are first read. Without: made by match().
  'attributes of a new id made when read → made for every stanza': [['this.idEnd = start + this.headIdEnd;\n', 'this.idEnd = start + this.headIdEnd;\n            this.makeAttrs();\n']],
  // The payload's bytes judged in one pass (plain runs eight a step, each other byte once). Without:
  // as before, decoded to a string first, then two regular expressions and includes() over it, and
  // `]]>` searched for by indexOf.
  'payload judged in one pass over the bytes → decoded, then regular expressions': [
    ["import { SCAN_DECLINE", "import { isUtf8 } from 'node:buffer';\nimport { SCAN_DECLINE"],
    [
      'const flags = judgeText(buf, plainTo, to, start + this.headLength);\n        if (flags === 0)\n            return latin1(buf, from, to);\n        if (flags === TEXT_REFUSED)\n            return null;\n        const text = (flags & TEXT_UTF8) !== 0 ? utf8(buf, from, to) : latin1(buf, from, to);\n        return (flags & TEXT_AMP) !== 0 ? decodeEntities(text) : text;',
      `if (hasCdataEnd(buf, Math.max(start + this.headLength, plainTo - 2), to)) return null;
        if (plainRun(buf, from, to, PLAIN_BYTE) === to) return latin1(buf, from, to);
        const text = utf8(buf, from, to);
        if (!TEXT_SPECIAL.test(text)) return text;
        if (TEXT_REFUSED_RE.test(text)) return null;
        if (text.includes('\\ufffd') && !isUtf8(buf.subarray(from, to))) return null;
        if (!text.includes('&')) return text;
        return decodeEntities(text);`,
    ],
    [
      'function isGcmEndTag(',
      `const TEXT_SPECIAL = /[&\\x00-\\x08\\x0b-\\x1f\\ufffd-\\uffff]/;
const TEXT_REFUSED_RE = /[\\x00-\\x08\\x0b-\\x1f\\ufffe\\uffff]/;
function hasCdataEnd(buf, from, to) {
    let gt = buf.indexOf(GT, from + 2);
    while (gt !== -1 && gt < to) {
        if (buf[gt - 1] === 0x5d && buf[gt - 2] === 0x5d) return true;
        gt = buf.indexOf(GT, gt + 1);
    }
    return false;
}
function isGcmEndTag(`,
    ],
  ],
  // References decoded from their character codes. Without: as before, a sticky regular expression
  // at each `&` and a lookup of the entity's name it captured.
  'references read from their character codes → a regular expression and a name lookup': [
    [
      `        const semi = raw.indexOf(';', amp + 1);
        if (semi === -1)
            return null;
        const ch = referenceChar(raw, amp, semi);
        if (ch === undefined)
            return null;
        out += raw.slice(from, amp) + ch;
        from = semi + 1;`,
      `        ENTITY_RE.lastIndex = amp;
        const m = ENTITY_RE.exec(raw);
        if (m === null)
            return null;
        let ch;
        if (m[1] !== undefined)
            ch = PREDEFINED[m[1]];
        else {
            const cp = m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3], 16);
            if (!isXmlChar(cp))
                return null;
            ch = String.fromCodePoint(cp);
        }
        out += raw.slice(from, amp) + ch;
        from = ENTITY_RE.lastIndex;`,
    ],
    [
      'export function decodeEntities(',
      `const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const PREDEFINED = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
export function decodeEntities(`,
    ],
  ],
  'plain text: a table, eight bytes a step → comparisons byte by byte': [
    [
      'for (; i < to; i++)\n        if ((t[buf[i]] & kind) === 0)\n            return i;\n    return to;',
      'for (; i < to; i++) {\n        const b = buf[i];\n        if (b < 0x20 || b > 0x7e || b === 0x26 || b === 0x3c || b === 0x3e || (kind === ACK_BYTE && (b === 0x22 || b === 0x5c)))\n            return i;\n    }\n    return to;',
    ],
    ['for (; i + 8 <= to; i += 8) {\n            const x', 'for (; i + 8 <= -1; i += 8) {\n            const x'],
    ['for (; i + 8 <= to; i += 8) {\n            if ((t[', 'for (; i + 8 <= -1; i += 8) {\n            if ((t['],
  ],
  // With a DataView of the bytes (a buffer with several stanzas, or the parser's own), plain
  // stretches are read as two 32-bit words a step and looked up by byte pairs (PLAIN_PAIRS).
  // Without: eight byte reads and eight lookups in the byte table a step, whatever the buffer.
  'plain text: byte pairs through a DataView → bytes through the table': [['if (view !== null) {\n        const pairs = PLAIN_PAIRS;', 'if (false) {\n        const pairs = PLAIN_PAIRS;']],
  // The framer no longer searches for `</message>`: the matcher's scan() reads up to it and says
  // where it stands. Without: scan() searches for it as the framer did (indexOf of the end tag).
  '`</message>` read by the matcher → searched for (indexOf)': [['return have === n ? after : SCAN_WAIT;', 'return have === n ? buf.indexOf(MESSAGE_END.bytes, start) : SCAN_WAIT;']],
};

const mix = generateCcsMix(STANZAS, 7);
const bytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');

function parserRun(shortcut) {
  return (chunks) => {
    let n = 0;
    const p = new StanzaParser({ onShortcut({ json }) { JSON.parse(json); n++; return true; }, onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError(e) { throw e; } }, { shortcut });
    for (let i = 0; i < chunks.length; i++) p.write(chunks[i]);
    if (n !== STANZAS) throw new Error(`${n} of ${STANZAS} through the shortcut`);
  };
}

/** Stanzas per CPU second of `fn` over the chunks, for about SLICE_MS of CPU time. */
const slice = (fn, chunks) => cpuSlice(fn, chunks, SLICE_MS, STANZAS);

const runs = { original: parserRun(gcmShortcut) };
for (const [name, edits] of Object.entries(TRICKS)) if (args.only === undefined || args.only.split(',').some((w) => name.includes(w))) runs[name] = parserRun((await shortcutVariant(name.replace(/\W+/g, '-'), edits)).gcmShortcut);
const names = Object.keys(runs);
const results = [];
for (const chunkSize of [16 * 1024, 400]) {
  const chunks = chunked(bytes, chunkSize);
  for (const n of names) slice(runs[n], chunks);
  if (args.paired !== undefined) {
    console.log(`\n## ${chunkSize}-byte chunks, passes back to back for ${args.paired} CPU-s a trick (without the trick / with it, per pair, median)`);
    for (const n of names) {
      if (n === 'original') continue;
      const ratios = pairedRatios(runs[n], runs.original, chunks, Number(args.paired));
      results.push({ chunkSize, trick: n, pairs: ratios.length, withoutOverWith: median(ratios), quartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)] });
      console.log(`  ${n.padEnd(56)} ${(median(ratios) * 100).toFixed(1)}% of the original  (quartiles ${(quantile(ratios, 0.25) * 100).toFixed(1)}–${(quantile(ratios, 0.75) * 100).toFixed(1)}%, ${ratios.length} pairs)`);
    }
    continue;
  }
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < names.length; k++) {
    const n = names[(k + r) % names.length];
    rates[n].push(slice(runs[n], chunks));
  }
  console.log(`\n## ${chunkSize}-byte chunks, ${ROUNDS} interleaved rounds (without the trick / with it, per round, median)`);
  for (const n of names) {
    const ratio = median(rates[n].map((x, i) => x / rates.original[i]));
    results.push({ chunkSize, trick: n, stanzasPerSec: median(rates[n]), withoutOverWith: ratio });
    console.log(`  ${n.padEnd(56)} ${Math.round(median(rates[n])).toLocaleString('en').padStart(9)} stanzas/CPU-s  ${n === 'original' ? '' : `${(ratio * 100).toFixed(1)}% of the original`}`);
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/shortcut-tricks', clock: 'cpu', ...(args.paired !== undefined ? { pairedSeconds: Number(args.paired) } : { rounds: ROUNDS }), results }, null, 2));
