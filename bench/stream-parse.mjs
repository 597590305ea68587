// Parse a realistic CCS inbound stream and extract + JSON.parse every gcm payload, side by side in
// one process: this project's StanzaParser (with the GCM shortcut: elements, parts, and the inbound
// path the CCS client really runs; and saxes alone), raw saxes, the parser of xmpp.js (@xmpp/xml,
// which wraps ltx) as the peer, and a bare indexOf scanner as the ceiling.
//
//   node bench/stream-parse.mjs [--stanzas N] [--rounds R] [--quick] [--json FILE] [--order rotate|fair]
//
// The machine is shared and noisy, so contenders are interleaved: each round runs every contender
// for about --slice ms of CPU time, and the figures are medians over rounds; ratios are computed
// within each round (contenders measured seconds apart) and their median reported.
//
// The order (`--order fair`, the default): rounds alternate a rotation of the contenders and the
// same rotation reversed. With rotations alone each contender always followed the same one — the
// ceiling always came right after xmpp.js, the one that leaves the most garbage — and a slice pays
// for collecting some of its predecessor's garbage. `--order rotate` is the old order, for
// comparison. (A full collection before every slice is no remedy: it ages every function's
// bytecode, V8 flushes what a contender has not run for a few collections, and the larger parsers
// were then measured half recompiling — bench/ANALYSIS.md, eleventh pass.)
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import XmppParser from '@xmpp/xml/lib/Parser.js';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmAckShortcut, gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, gcmPayloadOf, generateCcsMix } from './lib/ccs-mix.mjs';
import { cpuSlice, median } from './lib/cpu-slice.mjs';
import { indexOfScanner } from './lib/ceiling.mjs';

const { values: args } = parseArgs({
  options: {
    stanzas: { type: 'string' },
    rounds: { type: 'string' },
    slice: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'string' },
    order: { type: 'string' },
  },
});
const ORDER = args.order ?? 'fair';
if (ORDER !== 'fair' && ORDER !== 'rotate') throw new Error(`--order is fair or rotate, not ${ORDER}`);
const quick = args.quick === true;
const STANZAS = Number(args.stanzas ?? 20_000);
const ROUNDS = Number(args.rounds ?? (quick ? 5 : 15));
const SLICE_MS = Number(args.slice ?? (quick ? 120 : 250));
const NS_GCM = 'google:mobile:data';

const mix = generateCcsMix(STANZAS, 7);
const streamBytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');
const truth = mix.payloads.map((p) => JSON.stringify(p));

// --- the contenders: each consumes an array of chunks and returns the parsed payloads' count,
// pushing payloads into `out` when given (for the correctness check). -------------------------

/**
 * @param {'elements' | 'shortcut' | 'client' | 'saxes'} how elements: the shortcut plugged in,
 *   stanzas taken as elements; shortcut: taken as parts, JSON.parse of every payload; client: as
 *   the CCS client reads them (gcmAckShortcut: the canonical ACK's id as the parts hand it over,
 *   JSON.parse for the rest);
 *   saxes: no shortcut.
 */
function ours(chunks, out, how) {
  let n = 0;
  const parser = new StanzaParser(
    {
      ...(how === 'shortcut'
        ? {
            onShortcut({ json }) {
              const payload = JSON.parse(json);
              if (out) out.push(payload);
              n++;
              return true;
            },
          }
        : how === 'client'
          ? {
              onShortcut({ json, ackId: id }) {
                // The ACK's id is all the client needs; for the correctness check, the same object.
                const payload = id !== undefined ? (out ? JSON.parse(json) : id) : JSON.parse(json);
                if (out) out.push(payload);
                n++;
                return true;
              },
            }
          : {}),
      onStreamOpen() {},
      onStanza(el) {
        const json = gcmPayloadOf(el);
        if (json !== undefined) {
          const payload = JSON.parse(json);
          if (out) out.push(payload);
          n++;
        }
      },
      onStreamEnd() {},
      onError(e) {
        throw e;
      },
    },
    how === 'saxes' ? {} : { shortcut: how === 'client' ? gcmAckShortcut : gcmShortcut },
  );
  for (let i = 0; i < chunks.length; i++) parser.write(chunks[i]);
  return n;
}

function rawSaxes(chunks, out) {
  // What "saxes fed raw Buffers" means in practice: chunk.toString() per chunk.
  let n = 0;
  let depth = 0;
  let inGcm = false;
  let text = '';
  const p = new SaxesParser({ xmlns: true });
  p.on('opentag', (tag) => {
    depth++;
    if (depth === 3 && tag.local === 'gcm' && tag.uri === NS_GCM) {
      inGcm = true;
      text = '';
    }
  });
  p.on('text', (t) => {
    if (inGcm) text += t;
  });
  p.on('closetag', () => {
    if (depth === 3 && inGcm) {
      inGcm = false;
      const payload = JSON.parse(text);
      if (out) out.push(payload);
      n++;
    }
    depth--;
  });
  for (let i = 0; i < chunks.length; i++) p.write(chunks[i].toString());
  return n;
}

function xmppjs(chunks, out) {
  // As @xmpp/connection does: socket data → toString() → parser.write().
  let n = 0;
  const p = new XmppParser();
  p.on('element', (el) => {
    const gcm = el.getChild('gcm', NS_GCM);
    if (gcm) {
      const payload = JSON.parse(gcm.getText());
      if (out) out.push(payload);
      n++;
    }
  });
  p.on('error', (e) => {
    throw e;
  });
  for (let i = 0; i < chunks.length; i++) p.write(chunks[i].toString());
  return n;
}

const contenders = {
  'ccs-xmpp, elements': (chunks, out) => ours(chunks, out, 'elements'),
  'ccs-xmpp, gcm shortcut': (chunks, out) => ours(chunks, out, 'shortcut'),
  'ccs-xmpp, client inbound path': (chunks, out) => ours(chunks, out, 'client'),
  'ccs-xmpp, saxes only': (chunks, out) => ours(chunks, out, 'saxes'),
  'saxes (raw)': rawSaxes,
  'xmpp.js @xmpp/xml (ltx)': xmppjs,
  'indexOf scanner (ceiling)': indexOfScanner,
};
const CEILING = 'indexOf scanner (ceiling)';
const PEER = 'xmpp.js @xmpp/xml (ltx)';

function correctness(chunkSize) {
  const chunks = chunked(streamBytes, chunkSize);
  const rows = {};
  for (const [name, fn] of Object.entries(contenders)) {
    const out = [];
    let error;
    try {
      fn(chunks, out);
    } catch (e) {
      error = e.message;
    }
    let wrong = 0;
    for (let i = 0; i < truth.length; i++) if (JSON.stringify(out[i]) !== truth[i]) wrong++;
    rows[name] = error ? `threw: ${error.slice(0, 60)}` : wrong === 0 ? 'all payloads exact' : `${wrong} of ${truth.length} payloads corrupted`;
  }
  return rows;
}

/**
 * Stanzas per CPU second of `fn` over the chunks, for about SLICE_MS of this process's CPU time. CPU
 * time, not wall time: on a shared machine a wall-clock slice also counts the turns of other
 * processes (under a load average of 20 on two cores, 80–90% of it), which no interleaving evens out.
 */
const slice = (fn, chunks) => cpuSlice((c) => fn(c, null), chunks, SLICE_MS, STANZAS);

const names = Object.keys(contenders);
const results = [];
for (const chunkSize of [16 * 1024, 400]) {
  const chunks = chunked(streamBytes, chunkSize);
  console.log(`\n## ${STANZAS} stanzas, ${(streamBytes.length / 1e6).toFixed(2)} MB, ${chunkSize}-byte chunks, ${ROUNDS} interleaved rounds`);
  const check = correctness(chunkSize);
  for (const [name, verdict] of Object.entries(check)) console.log(`  correctness  ${name.padEnd(30)} ${verdict}`);
  // Warm-up: one slice each, not counted.
  for (const name of names) slice(contenders[name], chunks);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < names.length; k++) {
      // Odd rounds (fair order) run the even round's rotation backwards: each contender follows
      // one neighbour in half the rounds and the other in the rest.
      const at = ORDER === 'fair' && r % 2 === 1 ? names.length - 1 - k : k;
      const name = names[(at + (ORDER === 'fair' ? r >> 1 : r)) % names.length];
      rates[name].push(slice(contenders[name], chunks));
    }
  }
  for (const name of names) {
    const perRound = rates[name];
    const row = {
      chunkSize,
      name,
      stanzasPerSec: median(perRound),
      mbPerSec: (median(perRound) * streamBytes.length) / STANZAS / 1e6,
      min: Math.min(...perRound),
      max: Math.max(...perRound),
      vsCeiling: median(perRound.map((x, i) => x / rates[CEILING][i])),
      vsPeer: median(perRound.map((x, i) => x / rates[PEER][i])),
      correctness: check[name],
    };
    results.push(row);
    console.log(`  ${name.padEnd(30)} ${Math.round(row.stanzasPerSec).toLocaleString('en').padStart(10)} stanzas/CPU-s  ${row.mbPerSec.toFixed(1).padStart(6)} MB/s  ceiling ${(row.vsCeiling * 100).toFixed(0).padStart(4)}%  xmpp.js ${row.vsPeer.toFixed(2)}×  (range ${Math.round(row.min / 1000)}k–${Math.round(row.max / 1000)}k)`);
  }
}

if (args.json) {
  writeFileSync(args.json, JSON.stringify({ bench: 'stream-parse', clock: 'cpu', stanzas: STANZAS, bytes: streamBytes.length, rounds: ROUNDS, sliceMs: SLICE_MS, order: ORDER, results }, null, 2));
}
