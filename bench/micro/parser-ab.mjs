// A/B of the whole parser between this build and another one (say the commit before a change), in
// one process, contenders interleaved round by round, CPU time: what a change of the parser files
// bought, where a variant of one trick (shortcut-tricks.mjs) cannot express the "without".
//
//   node bench/micro/parser-ab.mjs --snapshot DIR     copy this build's stream + stanza packages to DIR
//   node bench/micro/parser-ab.mjs --base DIR [--how shortcut,elements,client,bare] [--sizes 16384,400] [--rounds R] [--json FILE]
//   node bench/micro/parser-ab.mjs --base DIR --paired SECONDS [--stanzas N] …
//
// how: shortcut — parts, JSON.parse of every payload; elements — the element saxes would build;
// client — canonical ACKs by the parts' ackId from gcmAckShortcut (canonicalAckId before it), JSON.parse for the rest; bare — parts, no JSON.parse
// (the parser's own cost). Reported: this build's stanzas per CPU second over the base's, per round,
// median (> 1: this build is faster).
//
// --paired: instead of rounds of ~200 ms slices, single passes of the two builds back to back (their
// order alternating), each timed by CPU time, for SECONDS of CPU per row; the figure is the median
// of the per-pair ratios, with its quartiles. Two passes tens of milliseconds apart meet the same
// load, where slices a second apart do not: at a load of 3–6 on two cores an A/A of one build read
// 1.003 over ~800 pairs of 5 000 stanzas (quartiles 0.955–1.059), where 9 rounds of slices spread
// 0.77–1.18 (bench/ANALYSIS.md, eleventh pass).
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as stream from '@ccs-xmpp/stream';
import * as stanza from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { cpuSlice, median, pairedRatios, quantile } from '../lib/cpu-slice.mjs';
import { parserContender } from '../lib/parser-contender.mjs';

const { values: args } = parseArgs({
  options: { snapshot: { type: 'string' }, base: { type: 'string' }, paired: { type: 'string' }, how: { type: 'string' }, sizes: { type: 'string' }, rounds: { type: 'string' }, slice: { type: 'string' }, stanzas: { type: 'string' }, json: { type: 'string' } },
});
const root = fileURLToPath(new URL('../../', import.meta.url));

if (args.snapshot !== undefined) {
  // Each package as its dist and package.json under DIR/node_modules/@ccs-xmpp, so the base's
  // stanza resolves the base's stream; saxes is linked from this tree.
  const to = resolve(args.snapshot, 'node_modules');
  for (const pkg of ['stream', 'stanza']) {
    const dst = join(to, '@ccs-xmpp', pkg);
    mkdirSync(dst, { recursive: true });
    cpSync(join(root, 'packages', pkg, 'dist'), join(dst, 'dist'), { recursive: true });
    cpSync(join(root, 'packages', pkg, 'package.json'), join(dst, 'package.json'));
  }
  const saxes = dirname(createRequire(join(root, 'packages/stream/package.json')).resolve('saxes/package.json'));
  try {
    symlinkSync(saxes, join(to, 'saxes'));
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
  }
  console.log(`snapshot of packages/{stream,stanza}/dist in ${to}`);
  process.exit(0);
}
if (args.base === undefined) throw new Error('--base DIR (made with --snapshot DIR) or --snapshot DIR');

const baseUrl = (pkg) => pathToFileURL(resolve(args.base, 'node_modules/@ccs-xmpp', pkg, 'dist/src/index.js')).href;
const base = { stream: await import(baseUrl('stream')), stanza: await import(baseUrl('stanza')) };
const HOW = (args.how ?? 'shortcut,elements,client,bare').split(',');
const ROUNDS = Number(args.rounds ?? 9);
const SLICE_MS = Number(args.slice ?? 200);
const STANZAS = Number(args.stanzas ?? 20_000);
const mix = generateCcsMix(STANZAS, 7);
const bytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');

const slice = (fn, chunks) => cpuSlice(fn, chunks, SLICE_MS, STANZAS);

const results = [];
for (const chunkSize of (args.sizes ?? '16384,400').split(',').map(Number)) {
  const chunks = chunked(bytes, chunkSize);
  for (const how of HOW) {
    const runs = [parserContender({ stream, stanza }, how, STANZAS), parserContender(base, how, STANZAS)];
    runs.forEach((fn) => slice(fn, chunks));
    if (args.paired !== undefined) {
      const ratios = pairedRatios(runs[0], runs[1], chunks, Number(args.paired));
      const [q25, q75] = [quantile(ratios, 0.25), quantile(ratios, 0.75)];
      results.push({ chunkSize, how, pairs: ratios.length, thisOverBase: median(ratios), q25, q75 });
      console.log(`${String(chunkSize).padStart(5)} B  ${how.padEnd(9)} this/base ${median(ratios).toFixed(3)}  (quartiles ${q25.toFixed(3)}–${q75.toFixed(3)}, ${ratios.length} pairs of passes)`);
      continue;
    }
    const rates = [[], []];
    for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < 2; k++) rates[(k + r) % 2].push(slice(runs[(k + r) % 2], chunks));
    const ratio = median(rates[0].map((x, i) => x / rates[1][i]));
    results.push({ chunkSize, how, stanzasPerSec: median(rates[0]), baseStanzasPerSec: median(rates[1]), thisOverBase: ratio });
    console.log(`${String(chunkSize).padStart(5)} B  ${how.padEnd(9)} this ${Math.round(median(rates[0])).toLocaleString('en').padStart(9)}  base ${Math.round(median(rates[1])).toLocaleString('en').padStart(9)} stanzas/CPU-s  this/base ${ratio.toFixed(3)}  (${rates[0].map((x, i) => (x / rates[1][i]).toFixed(2)).join(' ')})`);
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/parser-ab', clock: 'cpu', base: args.base, ...(args.paired !== undefined ? { pairedSeconds: Number(args.paired) } : { rounds: ROUNDS }), results }, null, 2));
