// A/B of each hot-path trick of the GCM shortcut (packages/stanza/src/gcm-shortcut.ts), measured
// where it has to pay off: the whole parser over the CCS mix (bench/lib/ccs-mix.mjs) with every
// payload JSON.parse'd, at 16 KiB and 400-byte chunks. Each variant is the built shortcut with one
// trick taken out (bench/micro/lib/variant.mjs); original and variants are interleaved round by
// round and each variant's rate is divided by the original's of the same round. A trick that does
// not move this figure beyond the noise goes.
//
//   node bench/micro/shortcut-tricks.mjs [--rounds R] [--quick] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { shortcutVariant } from './lib/variant.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' } } });
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
  'short heads compared in a loop → buf.compare': [['if (len > 96)\n        return buf.compare', 'if (len > -1)\n        return buf.compare']],
  'plain text: a table, eight bytes a step → comparisons byte by byte': [
    [
      'for (; i < to; i++)\n        if (t[buf[i]] === 0)\n            return i;\n    return to;',
      'for (; i < to; i++) {\n        const b = buf[i];\n        if (b < 0x20 || b > 0x7e || b === 0x26 || b === 0x3c || b === 0x3e)\n            return i;\n    }\n    return to;',
    ],
    ['for (; i + 8 <= to; i += 8) {', 'for (; i + 8 <= -1; i += 8) {'],
  ],
  'payload end read at `</message>` → searched for (first `<`)': [['if (endTag >= from && sameBytes(buf, endTag', 'if (false && sameBytes(buf, endTag']],
  // The framer no longer searches for `</message>`: the matcher's scan() reads up to it and says
  // where it stands. Without: scan() searches for it as the framer did (indexOf of the end tag).
  '`</message>` read by the matcher → searched for (indexOf)': [['return have === n ? after : SCAN_WAIT;', 'return have === n ? buf.indexOf(MESSAGE_END_BYTES, start) : SCAN_WAIT;']],
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

/** Runs `fn` for about SLICE_MS of this process's CPU time (not wall time: the machine is shared); stanzas per CPU second. */
function slice(fn, chunks) {
  let passes = 0;
  const c0 = process.cpuUsage();
  let us;
  do {
    fn(chunks);
    passes++;
    const u = process.cpuUsage(c0);
    us = u.user + u.system;
  } while (us < SLICE_MS * 1e3);
  return (passes * STANZAS) / (us / 1e6);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const runs = { original: parserRun(gcmShortcut) };
for (const [name, edits] of Object.entries(TRICKS)) runs[name] = parserRun((await shortcutVariant(name.replace(/\W+/g, '-'), edits)).gcmShortcut);
const names = Object.keys(runs);
const results = [];
for (const chunkSize of [16 * 1024, 400]) {
  const chunks = chunked(bytes, chunkSize);
  for (const n of names) slice(runs[n], chunks);
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
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/shortcut-tricks', clock: 'cpu', rounds: ROUNDS, results }, null, 2));
