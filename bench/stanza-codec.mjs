#!/usr/bin/env node
// Stanza codec benchmark: decode and encode of the standard CCS mix (bench/lib/ccs-mix.mjs) with
// @ccs-xmpp/stanza, against the obvious alternative, and the ACK round trip against a bare
// JSON.parse + JSON.stringify of the same JSON (target: ≤ 1.3×).
//
//   node bench/stanza-codec.mjs            (after: npx tsc -p packages/stream && npx tsc -p packages/stanza)
//   node bench/stanza-codec.mjs --quick (or STANZA_BENCH_QUICK=1)   (shorter runs, for a smoke check)
//   node bench/stanza-codec.mjs --json FILE                          (also write the medians as JSON)
//
// Every benchmark op processes the whole set once; figures are the median of benchmark.js's
// samples, divided by the number of stanzas: ns per stanza.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import Benchmark from 'benchmark';
import { parse as ltxParse } from 'ltx';
import { StanzaParser } from '@ccs-xmpp/stream';
import {
  GcmEncoder, decodeGcmMessage, encodeGcmString, encodeAckString, findGcmChild, gcmText,
} from '@ccs-xmpp/stanza';
import { generateCcsMix } from './lib/ccs-mix.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'string' } } });
const QUICK = process.env.STANZA_BENCH_QUICK === '1' || args.quick === true;
const COUNT = 2000;
const mix = generateCcsMix(COUNT, 42);

// Decode input: XmlElements exactly as the parser delivers them — parsed once, up front.
const elements = [];
const parser = new StanzaParser({
  onStreamOpen() {}, onStanza(el) { elements.push(el); }, onStreamEnd() {},
  onError(err) { throw err; },
});
parser.write(Buffer.from(mix.header + mix.stanzas.join('')));
if (elements.length !== COUNT) throw new Error(`parsed ${elements.length} of ${COUNT} stanzas`);
const jsonTexts = elements.map((el) => gcmText(findGcmChild(el)));

const ackIdx = mix.kinds.map((k, i) => (k === 'ack' ? i : -1)).filter((i) => i >= 0);
const ackElements = ackIdx.map((i) => elements[i]);
const ackJsonTexts = ackIdx.map((i) => jsonTexts[i]);
const upIdx = mix.kinds.map((k, i) => (k === 'upstream' ? i : -1)).filter((i) => i >= 0);
const upElements = upIdx.map((i) => elements[i]);
const upJsonTexts = upIdx.map((i) => jsonTexts[i]);

// The obvious alternatives.
const escapeFull = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttrFull = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
function naiveEncode(payload, id) {
  return `<message id="${escapeAttrFull(id)}"><gcm xmlns="google:mobile:data">${escapeFull(JSON.stringify(payload))}</gcm></message>`;
}
function naiveDecode(xmlString) {
  const el = ltxParse(xmlString);
  const gcm = el.getChild('gcm', 'google:mobile:data');
  const msg = JSON.parse(gcm.getText());
  const t = msg.message_type;
  return t === undefined ? 1 : t === 'ack' ? 2 : t === 'nack' ? 3 : t === 'receipt' ? 4 : 5;
}

let sink = 0; // keeps results alive so nothing is optimised away
const results = [];
const encoder = new GcmEncoder();

function add(suite, name, n, fn) {
  suite.add(name, fn, { minSamples: QUICK ? 5 : 40, maxTime: QUICK ? 0.5 : 4, onComplete() {} });
  results.push({ name, n });
}

const suite = new Benchmark.Suite('stanza-codec');
// --- decode (N = whole mix) ---
add(suite, 'decode: JSON.parse only (floor)', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += JSON.parse(jsonTexts[i]) === null ? 1 : 0;
});
add(suite, 'decode: @ccs-xmpp/stanza decodeGcmMessage(XmlElement)', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += decodeGcmMessage(elements[i]).kind.length;
});
add(suite, 'decode: alternative ltx.parse → getChild → getText → JSON.parse', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += naiveDecode(mix.stanzas[i]);
});
// --- encode (N = whole mix, each payload with its message_id as stanza id) ---
add(suite, 'encode: JSON.stringify only (floor)', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += JSON.stringify(mix.payloads[i]).length;
});
add(suite, 'encode: GcmEncoder.encode → Buffer', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += encoder.encode(mix.payloads[i], mix.payloads[i].message_id).length;
});
add(suite, 'encode: encodeGcmString → string', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += encodeGcmString(mix.payloads[i], mix.payloads[i].message_id).length;
});
add(suite, 'encode: alternative JSON.stringify + full escape + concat → string', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += naiveEncode(mix.payloads[i], mix.payloads[i].message_id).length;
});
add(suite, 'encode: alternative … + Buffer.from → Buffer', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += Buffer.from(naiveEncode(mix.payloads[i], mix.payloads[i].message_id)).length;
});
// --- the ACK round trip: decode an inbound ACK stanza, encode an ACK with its fields ---
const NA = ackElements.length;
add(suite, 'ack round trip: bare JSON.parse + JSON.stringify (baseline)', NA, () => {
  for (let i = 0; i < NA; i++) sink += JSON.stringify(JSON.parse(ackJsonTexts[i])).length;
});
add(suite, 'ack round trip: decodeGcmMessage + encoder.encodeAck → Buffer', NA, () => {
  for (let i = 0; i < NA; i++) {
    const m = decodeGcmMessage(ackElements[i]);
    if (m.kind === 'ack') sink += encoder.encodeAck(m.from, m.messageId).length;
  }
});
add(suite, 'ack round trip: decodeGcmMessage + encodeAckString → string', NA, () => {
  for (let i = 0; i < NA; i++) {
    const m = decodeGcmMessage(ackElements[i]);
    if (m.kind === 'ack') sink += encodeAckString(m.from, m.messageId).length;
  }
});
// --- what an app server does per upstream message: decode it, encode its ACK ---
const NU = upElements.length;
add(suite, 'upstream→ACK: bare JSON.parse(upstream) + JSON.stringify(ack) (baseline)', NU, () => {
  for (let i = 0; i < NU; i++) {
    const u = JSON.parse(upJsonTexts[i]);
    sink += JSON.stringify({ to: u.from, message_id: u.message_id, message_type: 'ack' }).length;
  }
});
add(suite, 'upstream→ACK: decodeGcmMessage + encoder.encodeAck → Buffer', NU, () => {
  for (let i = 0; i < NU; i++) {
    const m = decodeGcmMessage(upElements[i]);
    if (m.kind === 'upstream') sink += encoder.encodeAck(m.from, m.messageId).length;
  }
});
add(suite, 'upstream→ACK: decodeGcmMessage + encodeAckString → string', NU, () => {
  for (let i = 0; i < NU; i++) {
    const m = decodeGcmMessage(upElements[i]);
    if (m.kind === 'upstream') sink += encodeAckString(m.from, m.messageId).length;
  }
});

// --- downstream encode (N = COUNT app-server messages of the shape bench/ccs-e2e.mjs sends, plus a TTL
// and a priority): the plain writer against JSON.stringify and against the general path ---
const TOKEN = `d${'x'.repeat(150)}`;
const downstream = Array.from({ length: COUNT }, (_, i) => ({
  to: `${TOKEN}${i % 10}`, message_id: `m-${i.toString(36)}`, time_to_live: 3600, priority: 'high',
  data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) },
}));
add(suite, 'downstream: JSON.stringify only (floor)', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += JSON.stringify(downstream[i]).length;
});
add(suite, 'downstream: GcmEncoder.encodeDownstream → Buffer', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += encoder.encodeDownstream(downstream[i]).length;
});
add(suite, 'downstream: general path, GcmEncoder.encode → Buffer', COUNT, () => {
  for (let i = 0; i < COUNT; i++) sink += encoder.encode(downstream[i], downstream[i].message_id).length;
});

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const medians = new Map();
suite.on('cycle', (ev) => {
  const b = ev.target;
  const r = results.find((x) => x.name === b.name);
  const ns = (median(b.stats.sample) * 1e9) / r.n;
  medians.set(b.name, ns);
  console.log(`${b.name.padEnd(78)} ${ns.toFixed(1).padStart(8)} ns/stanza  (±${b.stats.rme.toFixed(1)}%, ${b.stats.sample.length} samples)`);
});
suite.run();

const get = (prefix) => {
  for (const [k, v] of medians) if (k.startsWith(prefix)) return v;
  throw new Error(prefix);
};
const ratio = (a, b) => (get(a) / get(b)).toFixed(2);
console.log('\nratios (median / median):');
console.log(`  decode  stanza vs JSON.parse floor:             ${ratio('decode: @ccs', 'decode: JSON.parse')}×`);
console.log(`  decode  alternative vs stanza:                  ${ratio('decode: alternative', 'decode: @ccs')}×`);
console.log(`  encode  GcmEncoder vs JSON.stringify floor:     ${ratio('encode: GcmEncoder', 'encode: JSON.stringify')}×`);
console.log(`  encode  alternative(string) vs GcmEncoder:      ${ratio('encode: alternative JSON', 'encode: GcmEncoder')}×`);
console.log(`  encode  alternative(Buffer) vs GcmEncoder:      ${ratio('encode: alternative …', 'encode: GcmEncoder')}×`);
console.log(`  encode  alternative(string) vs encodeGcmString: ${ratio('encode: alternative JSON', 'encode: encodeGcmString')}×`);
console.log(`  ACK round trip (Buffer) vs bare parse+stringify: ${ratio('ack round trip: decodeGcmMessage + encoder', 'ack round trip: bare')}×  (target ≤ 1.30)`);
console.log(`  ACK round trip (string) vs bare parse+stringify: ${ratio('ack round trip: decodeGcmMessage + encodeAckString', 'ack round trip: bare')}×`);
console.log(`  upstream→ACK (Buffer) vs bare:                  ${ratio('upstream→ACK: decodeGcmMessage + encoder', 'upstream→ACK: bare')}×`);
console.log(`  upstream→ACK (string) vs bare:                  ${ratio('upstream→ACK: decodeGcmMessage + encodeAckString', 'upstream→ACK: bare')}×`);
console.log(`  downstream encodeDownstream vs JSON.stringify:  ${ratio('downstream: GcmEncoder.encodeDownstream', 'downstream: JSON.stringify')}×`);
console.log(`  downstream encodeDownstream vs encode (general): ${ratio('downstream: GcmEncoder.encodeDownstream', 'downstream: general path')}×`);

// --- handing the result to socket.write: Buffer (encoder) vs string (socket encodes) ---
// A localhost TCP pair; the reader discards. Per variant: encode + write every payload of the mix
// REPS times, wait for the last write callback. Median of ROUNDS.
async function socketBench() {
  const server = net.createServer((s) => s.on('data', () => {}));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sock = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const REPS = QUICK ? 5 : 25;
  const ROUNDS = QUICK ? 3 : 9;
  const variants = {
    'socket.write(GcmEncoder.encode Buffer), whole mix': (p) => encoder.encode(p, p.message_id),
    'socket.write(encodeGcmString string), whole mix': (p) => encodeGcmString(p, p.message_id),
    'socket.write(GcmEncoder.encodeAck Buffer), ACK per payload': (p) => encoder.encodeAck(p.from ?? 'gcm.googleapis.com', p.message_id),
    'socket.write(encodeAckString string), ACK per payload': (p) => encodeAckString(p.from ?? 'gcm.googleapis.com', p.message_id),
  };
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, enc] of Object.entries(variants)) {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < REPS; r++) for (let i = 0; i < COUNT; i++) sock.write(enc(mix.payloads[i]));
      await new Promise((res) => sock.write('', res));
      times[name].push(Number(process.hrtime.bigint() - t0) / (REPS * COUNT));
    }
  }
  sock.destroy();
  server.close();
  const out = {};
  for (const [name, ts] of Object.entries(times)) {
    out[name] = median(ts);
    console.log(`${name.padEnd(78)} ${median(ts).toFixed(1).padStart(8)} ns/stanza  (median of ${ROUNDS} rounds × ${REPS * COUNT} stanzas)`);
  }
  return out;
}
console.log('');
const socket = await socketBench();
if (args.json) {
  writeFileSync(args.json, JSON.stringify({
    bench: 'stanza-codec', count: COUNT,
    results: [...medians].map(([name, nsPerStanza]) => ({ name, nsPerStanza })),
    socket: Object.entries(socket).map(([name, nsPerStanza]) => ({ name, nsPerStanza })),
  }, null, 2));
}
if (sink === 42) console.log(''); // never true; defeats dead-code elimination
