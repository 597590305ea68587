// Parse a realistic CCS inbound stream and extract + JSON.parse every gcm payload, side by side in
// one process: this project's StanzaParser (fast path on, and saxes-only), raw saxes, the parser of
// xmpp.js (@xmpp/xml, which wraps ltx) as the peer, and a bare indexOf scanner as the ceiling.
//
//   node bench/stream-parse.mjs [--stanzas N] [--rounds R] [--quick]
//
// Reports medians over benchmark.js samples, MB/s, stanzas/s and ratios.
import Benchmark from 'benchmark';
import { SaxesParser } from 'saxes';
import XmppParser from '@xmpp/xml/lib/Parser.js';
import { StanzaParser } from '@ccs-xmpp/stream';
import { gcmShortcut } from '@ccs-xmpp/stanza';
import { chunked, generateCcsMix } from './lib/ccs-mix.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const quick = args.includes('--quick');
const STANZAS = opt('stanzas', 20_000);
const NS_GCM = 'google:mobile:data';

const mix = generateCcsMix(STANZAS, 7);
const streamBytes = Buffer.from(mix.header + mix.stanzas.join(''), 'utf8');
const truth = mix.payloads.map((p) => JSON.stringify(p));

// --- the contenders: each consumes an array of chunks and returns the parsed payloads' count,
// pushing payloads into `out` when given (for the correctness check). -------------------------

function ours(chunks, out, fastPath = true, shortcut = false) {
  let n = 0;
  const parser = new StanzaParser(
    {
      // What the CCS client and the emulator use: recognised CCS messages as JSON text, no elements.
      ...(shortcut
        ? {
            onShortcut({ json }) {
              const payload = JSON.parse(json);
              if (out) out.push(payload);
              n++;
              return true;
            },
          }
        : {}),
      onStreamOpen() {},
      onStanza(el) {
        // The gcm element is the message's only child on this traffic; find it without a DOM walk.
        const kids = el.children;
        for (let i = 0; i < kids.length; i++) {
          const k = kids[i];
          if (typeof k !== 'string' && k.local === 'gcm' && k.uri === NS_GCM) {
            const payload = JSON.parse(k.children[0]);
            if (out) out.push(payload);
            n++;
            break;
          }
        }
      },
      onStreamEnd() {},
      onError(e) {
        throw e;
      },
    },
    fastPath ? { shortcut: gcmShortcut } : {},
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

const GCM_OPEN = Buffer.from('gcm xmlns');
const GT = 0x3e;
const END = Buffer.from('</message>');
const ENT = /&(lt|gt|amp|quot|apos);/g;
const ENT_MAP = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function indexOfScanner(chunks, out) {
  // The ceiling: no validation at all, just find the payload between `<…gcm …>` and `</`, decode
  // it as UTF-8 (correct across chunk splits because it works on bytes), unescape, JSON.parse.
  let n = 0;
  let pending = null;
  let started = false;
  for (let c = 0; c < chunks.length; c++) {
    let buf = pending ? Buffer.concat([pending, chunks[c]]) : chunks[c];
    pending = null;
    let pos = 0;
    if (!started) {
      const h = buf.indexOf(GT, buf.indexOf('<stream:stream'));
      if (h < 0) {
        pending = buf;
        continue;
      }
      started = true;
      pos = h + 1;
    }
    for (;;) {
      const end = buf.indexOf(END, pos);
      if (end < 0) break;
      const g = buf.indexOf(GCM_OPEN, pos);
      const open = buf.indexOf(GT, g) + 1;
      const close = buf.lastIndexOf('</', end - 1);
      let text = buf.toString('utf8', open, close);
      if (text.includes('&')) text = text.replace(ENT, (_, e) => ENT_MAP[e]);
      const payload = JSON.parse(text);
      if (out) out.push(payload);
      n++;
      pos = end + END.length;
    }
    if (pos < buf.length) pending = buf.subarray(pos);
  }
  return n;
}

const contenders = {
  'ccs-xmpp StanzaParser': (chunks, out) => ours(chunks, out, true),
  'ccs-xmpp, gcm shortcut': (chunks, out) => ours(chunks, out, true, true),
  'ccs-xmpp (saxes path only)': (chunks, out) => ours(chunks, out, false),
  'saxes (raw)': rawSaxes,
  'xmpp.js @xmpp/xml (ltx)': xmppjs,
  'indexOf scanner (ceiling)': indexOfScanner,
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

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

const results = [];
for (const chunkSize of [16 * 1024, 400]) {
  const chunks = chunked(streamBytes, chunkSize);
  console.log(`\n## ${STANZAS} stanzas, ${(streamBytes.length / 1e6).toFixed(2)} MB, ${chunkSize}-byte chunks`);
  const check = correctness(chunkSize);
  for (const [name, verdict] of Object.entries(check)) console.log(`  correctness  ${name.padEnd(28)} ${verdict}`);
  const suite = new Benchmark.Suite();
  for (const [name, fn] of Object.entries(contenders)) {
    suite.add(name, () => fn(chunks, null), { minSamples: quick ? 5 : 30, maxTime: quick ? 1 : 4 });
  }
  await new Promise((resolve) => {
    suite.on('cycle', (ev) => {
      const b = ev.target;
      const secPerRun = median(b.stats.sample);
      const row = {
        chunkSize,
        name: b.name,
        stanzasPerSec: STANZAS / secPerRun,
        mbPerSec: streamBytes.length / 1e6 / secPerRun,
        samples: b.stats.sample.length,
        rme: b.stats.rme,
        correctness: check[b.name],
      };
      results.push(row);
      console.log(`  ${b.name.padEnd(28)} ${Math.round(row.stanzasPerSec).toLocaleString('en').padStart(10)} stanzas/s  ${row.mbPerSec.toFixed(1).padStart(6)} MB/s  (median of ${row.samples}, ±${row.rme.toFixed(1)}%)`);
    });
    suite.on('complete', resolve);
    suite.run({ async: false });
  });
  const get = (name) => results.find((r) => r.chunkSize === chunkSize && r.name === name).stanzasPerSec;
  const oursRate = get('ccs-xmpp StanzaParser');
  console.log(`  ratio ours / xmpp.js:          ${(oursRate / get('xmpp.js @xmpp/xml (ltx)')).toFixed(2)}×`);
  console.log(`  ratio ours / raw saxes:        ${(oursRate / get('saxes (raw)')).toFixed(2)}×`);
  console.log(`  ratio ours / indexOf ceiling:  ${((oursRate / get('indexOf scanner (ceiling)')) * 100).toFixed(0)}%`);
  const shortcutRate = get('ccs-xmpp, gcm shortcut');
  console.log(`  shortcut / xmpp.js:            ${(shortcutRate / get('xmpp.js @xmpp/xml (ltx)')).toFixed(2)}×, / ceiling ${((shortcutRate / get('indexOf scanner (ceiling)')) * 100).toFixed(0)}%`);
}
