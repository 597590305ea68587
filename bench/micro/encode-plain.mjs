// A/B of the plain-JSON writer behind GcmEncoder.appendDownstream (packages/stanza/src/gcm-encode.ts)
// against what it replaced and what was tried instead, on the message bench/ccs-client.mjs sends
// (`{ to, data: { type, title, body, thread, seq } }` and a generated id appended as `message_id`),
// as the client calls it: a window's worth of `appendDownstream`, then `takeRun`. Each variant is the
// built encoder with textual edits (bench/micro/lib/variant.mjs); every variant but the bound must
// give the original's bytes. Original and variants are interleaved round by round (CPU time), and
// each variant's time per message is divided by the original's of the same round.
//
//   node bench/micro/encode-plain.mjs [--rounds R] [--quick] [--json FILE] [--only WORD,…]   (--only: the variants whose name holds a word)
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GcmEncoder } from '@ccs-xmpp/stanza';
import { cpuSlice, median } from '../lib/cpu-slice.mjs';
import { encoderVariant } from './lib/variant.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, only: { type: 'string' } } });
const quick = args.quick === true;
const ROUNDS = Number(args.rounds ?? (quick ? 5 : 21));
const SLICE_MS = quick ? 60 : 150;

/** The short-string loop of `writePlainString` as built. */
const LOOP = `        for (let i = 0; i < len; i++) {
            const c = s.charCodeAt(i);
            // The complement of NOT_PLAIN_ASCII's class: printable ASCII except " & < > \\.
            if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x5c)
                return NOT_PLAIN;
            buf[o++] = c;
        }`;
const PLAIN_TABLE = 'const NOT_PLAIN = -1;\nconst PLAIN = new Uint8Array(128);\nfor (let c = 0x20; c < 0x7f; c++) PLAIN[c] = c === 0x22 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x5c ? 0 : 1;';

export const VARIANTS = {
  // What the threshold (PLAIN_NATIVE_FROM = 128) replaced: every string checked by the regular
  // expression and copied by latin1Write, two calls out of JavaScript per string.
  'short strings by a JS loop → regular expression + latin1Write for every string': [['if (len >= PLAIN_NATIVE_FROM) {', 'if (len >= 0) {']],
  // The check alone in JavaScript (no stores), then one native copy per string.
  'check and copy in one loop → a checking loop, then latin1Write': [[LOOP, `        for (let i = 0; i < len; i++) {
            const c = s.charCodeAt(i);
            if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x5c)
                return NOT_PLAIN;
        }
        o += buf.latin1Write(s, o);`]],
  // A load and a branch per character instead of seven comparisons (tried in the third pass as well).
  'seven comparisons per character → a 128-entry table': [
    ['const NOT_PLAIN = -1;', PLAIN_TABLE],
    [LOOP, `        for (let i = 0; i < len; i++) {
            const c = s.charCodeAt(i);
            if (c > 0x7e || PLAIN[c] === 0)
                return NOT_PLAIN;
            buf[o++] = c;
        }`],
  ],
  // Four characters a step: one branch for four.
  'one character a step → four a step with a table': [
    ['const NOT_PLAIN = -1;', PLAIN_TABLE],
    [LOOP, `        let i = 0;
        for (; i + 3 < len; i += 4) {
            const c0 = s.charCodeAt(i), c1 = s.charCodeAt(i + 1), c2 = s.charCodeAt(i + 2), c3 = s.charCodeAt(i + 3);
            if ((c0 | c1 | c2 | c3) > 0x7f || (PLAIN[c0] & PLAIN[c1] & PLAIN[c2] & PLAIN[c3]) === 0)
                return NOT_PLAIN;
            buf[o] = c0; buf[o + 1] = c1; buf[o + 2] = c2; buf[o + 3] = c3;
            o += 4;
        }
        for (; i < len; i++) {
            const c = s.charCodeAt(i);
            if (c > 0x7f || PLAIN[c] === 0)
                return NOT_PLAIN;
            buf[o++] = c;
        }`],
  ],
  // The envelope's constant bytes copied by a JS loop instead of TypedArray#set (five calls per message).
  'constants by TypedArray#set → a JS byte loop': [
    ['const NOT_PLAIN = -1;', 'const NOT_PLAIN = -1;\nfunction copyIn(buf, o, b) { for (let i = 0; i < b.length; i++) buf[o + i] = b[i]; return o + b.length; }'],
    ['        // No room check: #writePlainDownstream leaves at least PLAIN_MIN_ROOM here.\n        slab.set(B_OPEN_ID, o);\n', '        copyIn(slab, o, B_OPEN_ID);\n'],
    ['        slab.set(B_AFTER_ID, o);\n        o = writePlainObject', '        copyIn(slab, o, B_AFTER_ID);\n        o = writePlainObject'],
    ['            slab.set(B_ID_FIELD, o);\n', '            copyIn(slab, o, B_ID_FIELD);\n'],
    ['            slab.copyWithin(o, idAt, idEnd);\n', '            for (let i = idAt; i < idEnd; i++) slab[o + i - idAt] = slab[i];\n'],
    ['        slab.set(B_CLOSE, o);\n        return o + B_CLOSE.length;', '        return copyIn(slab, o, B_CLOSE);'],
  ],
  // What the plain writer replaced: JSON.stringify of a copy with the id, the escape check, utf8Write.
  'the plain writer → JSON.stringify + escape check + utf8Write': [['    #writePlainDownstream(msg, id, appendId) {\n', '    #writePlainDownstream(msg, id, appendId) {\n        return -1;\n']],
  // Not a candidate (it writes anything, plain or not): how much a free check could save at most.
  'bound: no check at all (wrong output for non-plain text)': [[LOOP, '        for (let i = 0; i < len; i++) buf[o++] = s.charCodeAt(i);']],
};

const TOKEN = 'bench-device-token-0001';
const WINDOW = 100;
// A fresh top-level copy per message, as `send()` takes one; the id as the generator makes them.
const messages = Array.from({ length: WINDOW }, (_, i) => ({ ...{ to: TOKEN, data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(123_456 + i) } } }));
const ids = Array.from({ length: WINDOW }, (_, i) => `AbCdEfGhI-${(50_000 + i).toString(36)}`);

function encodeRun(Encoder) {
  const enc = new Encoder();
  return () => {
    for (let i = 0; i < WINDOW; i++) enc.appendDownstream(messages[i], ids[i]);
    return enc.takeRun();
  };
}

const runs = { original: encodeRun(GcmEncoder) };
for (const [name, edits] of Object.entries(VARIANTS)) {
  if (args.only !== undefined && !args.only.split(',').some((w) => name.includes(w))) continue;
  runs[name] = encodeRun((await encoderVariant(name.replace(/\W+/g, '-').slice(0, 40), edits)).GcmEncoder);
}
const expected = runs.original();
for (const [name, run] of Object.entries(runs)) {
  if (!name.startsWith('bound') && !run().equals(expected)) throw new Error(`${name}: not the original's bytes`);
}
const names = Object.keys(runs);
for (const n of names) cpuSlice(runs[n], undefined, SLICE_MS * 2, WINDOW);
const rates = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < names.length; k++) {
  const n = names[(k + r) % names.length];
  rates[n].push(cpuSlice(runs[n], undefined, SLICE_MS, WINDOW));
}
const results = [];
console.log(`${ROUNDS} interleaved rounds; CPU time per message, and the variant's over the original's per round (median, IQR)`);
for (const n of names) {
  const ratios = rates[n].map((x, i) => rates.original[i] / x).sort((a, b) => a - b);
  const q = (p) => ratios[Math.round((ratios.length - 1) * p)];
  const ns = 1e9 / median(rates[n]);
  results.push({ variant: n, nsPerMessage: ns, overOriginal: median(ratios), iqr: [q(0.25), q(0.75)] });
  console.log(`  ${n.padEnd(82)} ${ns.toFixed(0).padStart(5)} ns/msg  ${n === 'original' ? '' : `${median(ratios).toFixed(3)} (${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)})`}`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/encode-plain', clock: 'cpu', rounds: ROUNDS, results }, null, 2));
