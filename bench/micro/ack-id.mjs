// A/B of reading the canonical ACK from the bytes (gcmAckShortcut) against asking canonicalAckId of
// the text (gcmShortcut, whose parts give the same ackId that way), on the receive path as the CCS
// client runs it: the ACK's id when the payload is one, JSON.parse for the rest. One build, one
// process, the two interleaved round by round (CPU time); the same consumer code for both, so the
// only difference is the `readsAcks` flag of the one matcher class.
//
//   node bench/micro/ack-id.mjs [--rounds R] [--sizes 16384,400] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmAckShortcut, gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from '../lib/ccs-mix.mjs';
import { cpuSlice, median } from '../lib/cpu-slice.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, sizes: { type: 'string' }, json: { type: 'string' } } });
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

const runs = [client(gcmAckShortcut), client(gcmShortcut)];
const results = [];
for (const size of (args.sizes ?? '16384,400').split(',').map(Number)) {
  const chunks = chunked(bytes, size);
  runs.forEach((fn) => cpuSlice(fn, chunks, 200, STANZAS));
  const rates = [[], []];
  for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < 2; k++) rates[(k + r) % 2].push(cpuSlice(runs[(k + r) % 2], chunks, 200, STANZAS));
  const ratio = median(rates[0].map((x, i) => x / rates[1][i]));
  results.push({ chunkSize: size, withStanzasPerSec: median(rates[0]), withoutStanzasPerSec: median(rates[1]), withOverWithout: ratio });
  console.log(`${String(size).padStart(5)} B  read from the bytes ${Math.round(median(rates[0])).toLocaleString('en').padStart(9)}  canonicalAckId ${Math.round(median(rates[1])).toLocaleString('en').padStart(9)} stanzas/CPU-s  with/without ${ratio.toFixed(3)}  (${rates[0].map((x, i) => (x / rates[1][i]).toFixed(2)).join(' ')})`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'micro/ack-id', clock: 'cpu', rounds: ROUNDS, results }, null, 2));
