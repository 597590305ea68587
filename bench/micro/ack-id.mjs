// A/B of reading the canonical ACK from the bytes (gcmAckShortcut) against asking canonicalAckId of
// the text (gcmShortcut, whose parts give the same ackId that way), on the receive path as the CCS
// client runs it: the ACK's id when the payload is one, JSON.parse for the rest. One build, one
// process, the two interleaved round by round (CPU time); the same consumer code for both, so the
// only difference is the `readsAcks` flag of the one matcher class. A third contender is
// gcmAckShortcut without its reading resumed across chunk boundaries (bench/micro/lib/variant.mjs):
// as before the eleventh pass, the ACK read only at the payload's first look with 512 bytes at hand
// from its start, a cut one asked of canonicalAckId.
//
//   node bench/micro/ack-id.mjs [--rounds R | --paired SECONDS] [--sizes 16384,400] [--json FILE]
//
// --paired: single passes back to back instead of rounds of slices (bench/lib/cpu-slice.mjs,
// pairedRatios), SECONDS of CPU per comparison.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmAckShortcut, gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { cpuSlice, median, pairedRatios, quantile } from '../lib/cpu-slice.mjs';
import { shortcutVariant } from './lib/variant.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, paired: { type: 'string' }, sizes: { type: 'string' }, json: { type: 'string' } } });
const ROUNDS = Number(args.rounds ?? 15);
const STANZAS = 20_000;
const mix = generateCcsMix(STANZAS, 7);
const bytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');

function client(shortcut) {
  return (chunks) => {
    let n = 0;
    let acks = 0;
    const p = new StanzaParser({
      onShortcut(parts) {
        if (parts.ackId === undefined) JSON.parse(parts.json);
        else acks++;
        n++;
        return true;
      },
      onStreamOpen() {}, onStanza() {}, onStreamEnd() {}, onError(e) { throw e; },
    }, { shortcut });
    for (let i = 0; i < chunks.length; i++) p.write(chunks[i]);
    if (n !== STANZAS || acks === 0) throw new Error(`${n} of ${STANZAS} stanzas, ${acks} ACKs`);
  };
}

const firstLook = await shortcutVariant('ack-first-look', [
  ['if (this.readsAcks && this.ack === ACK_UNKNOWN) {', 'if (this.readsAcks && this.ack === ACK_UNKNOWN && this.plainTo === this.headLength && end - from >= 512) {'],
]);
const runs = [client(gcmAckShortcut), client(gcmShortcut), client(firstLook.gcmAckShortcut)];
const results = [];
for (const size of (args.sizes ?? '16384,400').split(',').map(Number)) {
  const chunks = chunked(bytes, size);
  runs.forEach((fn) => cpuSlice(fn, chunks, 200, STANZAS));
  if (args.paired !== undefined) {
    const seconds = Number(args.paired);
    const row = { chunkSize: size };
    for (const [key, label, other] of [['withOverWithout', 'read from the bytes / canonicalAckId', runs[1]], ['withOverFirstLook', 'resumed / read at the first look only', runs[2]]]) {
      const ratios = pairedRatios(runs[0], other, chunks, seconds);
      row[key] = median(ratios);
      row[`${key}Quartiles`] = [quantile(ratios, 0.25), quantile(ratios, 0.75)];
      console.log(`${String(size).padStart(5)} B  ${label} ${median(ratios).toFixed(3)}  (quartiles ${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)}, ${ratios.length} pairs of passes)`);
    }
    results.push(row);
    continue;
  }
  const rates = [[], [], []];
  for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < 3; k++) rates[(k + r) % 3].push(cpuSlice(runs[(k + r) % 3], chunks, 200, STANZAS));
  const ratio = median(rates[0].map((x, i) => x / rates[1][i]));
  const resumed = median(rates[0].map((x, i) => x / rates[2][i]));
  results.push({ chunkSize: size, withStanzasPerSec: median(rates[0]), withoutStanzasPerSec: median(rates[1]), withOverWithout: ratio, firstLookStanzasPerSec: median(rates[2]), withOverFirstLook: resumed });
  console.log(`${String(size).padStart(5)} B  read from the bytes ${Math.round(median(rates[0])).toLocaleString('en').padStart(9)}  canonicalAckId ${Math.round(median(rates[1])).toLocaleString('en').padStart(9)} stanzas/CPU-s  with/without ${ratio.toFixed(3)}  (${rates[0].map((x, i) => (x / rates[1][i]).toFixed(2)).join(' ')})`);
  console.log(`${String(size).padStart(5)} B  read at the first look only (512 bytes at hand) ${Math.round(median(rates[2])).toLocaleString('en').padStart(9)} stanzas/CPU-s  resumed/first look ${resumed.toFixed(3)}  (${rates[0].map((x, i) => (x / rates[2][i]).toFixed(2)).join(' ')})`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/ack-id', clock: 'cpu', ...(args.paired !== undefined ? { pairedSeconds: Number(args.paired) } : { rounds: ROUNDS }), results }, null, 2));
