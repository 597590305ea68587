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

function slice(fn, chunks) {
  let passes = 0;
  const t0 = process.hrtime.bigint();
  let ns;
  do {
    fn(chunks);
    passes++;
    ns = Number(process.hrtime.bigint() - t0);
  } while (ns < SLICE_MS * 1e6);
  return (passes * STANZAS) / (ns / 1e9);
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
    console.log(`  ${n.padEnd(56)} ${Math.round(median(rates[n])).toLocaleString('en').padStart(9)} stanzas/s  ${n === 'original' ? '' : `${(ratio * 100).toFixed(1)}% of the original`}`);
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/shortcut-tricks', rounds: ROUNDS, results }, null, 2));
