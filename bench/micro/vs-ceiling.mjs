// One of our parser's contenders against the ceiling of bench/stream-parse.mjs, by paired passes:
// single passes of ours and of the ceiling back to back (their order alternating), each timed by CPU
// time, and the median of the per-pair shares (bench/lib/cpu-slice.mjs, pairedRatios). The figure
// stream-parse.mjs reports as "ceiling N%", measured the way the parser A/Bs are: its rounds of
// 250 ms slices swing by 10 points between runs minutes apart at a load of 4–6, where the median of
// several hundred pairs moves by about one (bench/ANALYSIS.md, twelfth pass).
//
//   node bench/micro/vs-ceiling.mjs [--how shortcut,client,elements] [--sizes 16384,400] [--paired SECONDS] [--stanzas N]
//
// how: as stream-parse.mjs's rows — shortcut: parts, JSON.parse of every payload; client: the
// canonical ACK's id from gcmAckShortcut's parts, JSON.parse for the rest; elements: the element
// saxes would build, JSON.parse of its payload.
import { parseArgs } from 'node:util';
import * as stream from '@ccs-xmpp/stream';
import * as stanza from '@ccs-xmpp/stanza';
import { indexOfScanner } from '../lib/ceiling.mjs';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { median, pairedRatios, quantile } from '../lib/cpu-slice.mjs';
import { parserContender } from '../lib/parser-contender.mjs';

const { values: args } = parseArgs({
  options: { how: { type: 'string' }, sizes: { type: 'string' }, paired: { type: 'string' }, stanzas: { type: 'string' } },
});
const HOW = (args.how ?? 'shortcut,client').split(',');
const SECONDS = Number(args.paired ?? 10);
const STANZAS = Number(args.stanzas ?? 5000);
const mix = generateCcsMix(STANZAS, 7);
const bytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');
const ceiling = (chunks) => indexOfScanner(chunks, null);

for (const size of (args.sizes ?? '16384,400').split(',').map(Number)) {
  const chunks = chunked(bytes, size);
  for (const how of HOW) {
    const run = parserContender({ stream, stanza }, how, STANZAS);
    for (let i = 0; i < 10; i++) {
      run(chunks);
      ceiling(chunks);
    }
    // pairedRatios(a, b) gives b's time over a's: the ceiling's time over ours is our share of its rate.
    const shares = pairedRatios(run, ceiling, chunks, SECONDS);
    const m = median(shares);
    console.log(`${String(size).padStart(5)} B  ${how.padEnd(8)} ${(100 * m).toFixed(1)}% of the ceiling  (quartiles ${(100 * quantile(shares, 0.25)).toFixed(1)}–${(100 * quantile(shares, 0.75)).toFixed(1)}%, ${shares.length} pairs)`);
  }
}
