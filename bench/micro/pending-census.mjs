// What one queued message keeps on the heap, object by object: two heap snapshots of a CcsClient
// whose peer never ACKs (the stub CCS with --no-ack), taken after GC with `window` messages in flight
// and then with `queued` more waiting in the queue, and the difference per queued message, by kind
// (object shape, closure, context, string, promise…). Each such object lives through every scavenge
// while its message waits, so this is what a full queue costs the collector (bench/ANALYSIS.md,
// ninth pass). The sends are bench/lib/client-worker.mjs's (its payload, one shared `then` per send).
//
//   node --expose-gc bench/micro/pending-census.mjs [--base-dir DIR] [--window 1000] [--queued 10000]
//                                                   [--connections 1] [--first N] [--api send|dispatch]
//
// --first: messages sent before the first snapshot (default: window × connections, every window
// full, so that the difference is queued messages only); `--first 0 --queued 16000 --connections 16
// --window 1000` counts messages in flight instead (the in-flight tables' share included).
// DIR: another checkout with its packages built, whose client to count instead of this one's.
// --api dispatch: sent with `dispatch(message, callback)`, one callback for all (no promise, no `then`).
// Snapshot sizes are V8's own (`self_size`), without pointer compression as Node ships.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { startStub } from '../lib/start-stub.mjs';

const { values: args } = parseArgs({
  options: {
    'base-dir': { type: 'string' }, window: { type: 'string' }, queued: { type: 'string' }, connections: { type: 'string' }, first: { type: 'string' },
    api: { type: 'string' },
  },
});
const DISPATCH = args.api === 'dispatch';
if (args.api !== undefined && args.api !== 'send' && !DISPATCH) throw new Error(`unknown --api ${args.api}: send or dispatch`);
const WINDOW = Number(args.window ?? 1000);
const QUEUED = Number(args.queued ?? 10_000);
const CONNECTIONS = Number(args.connections ?? 1);
const FIRST = Number(args.first ?? WINDOW * CONNECTIONS);
const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const { CcsClient } = args['base-dir'] === undefined ? await import('@ccs-xmpp/ccs') : await import(pathToFileURL(resolve(args['base-dir'], 'packages/ccs/dist/src/index.js')).href);
const TOKEN = 'bench-device-token-0001';
const stub = await startStub(TOKEN, ['--no-ack']);
const dir = mkdtempSync(join(tmpdir(), 'pending-census-'));
const client = new CcsClient({
  senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: stub.port, tls: { ca: stub.ca, servername: 'localhost' },
  maxPending: WINDOW, maxQueued: Math.max(QUEUED, 1), connections: CONNECTIONS, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
});
try {
  await client.connect({ all: true });
  const payload = (i) => ({ to: TOKEN, data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) } });
  const settled = () => {};
  if (DISPATCH && typeof client.dispatch !== 'function') throw new Error('--api dispatch: this build of CcsClient has no dispatch(message, callback)');
  const send = DISPATCH
    ? (m) => {
      if (!client.dispatch(m, settled)) throw new Error('dispatch refused');
    }
    : (m) => client.trySend(m).then(settled, settled);
  let i = 0;
  const sendTo = async (k) => {
    for (; i < k; i++) send(payload(i));
    await new Promise((r) => setTimeout(r, 300));
    gc();
    gc();
  };
  await sendTo(FIRST);
  const before = writeHeapSnapshot(join(dir, 'before.heapsnapshot'));
  await sendTo(FIRST + QUEUED);
  const stats = client.stats();
  const pending = Math.min(FIRST + QUEUED, WINDOW * CONNECTIONS);
  if (stats.queued !== FIRST + QUEUED - pending || stats.pending !== pending) throw new Error(`expected ${pending} pending and ${FIRST + QUEUED - pending} queued, got ${stats.pending} and ${stats.queued}`);
  const after = writeHeapSnapshot(join(dir, 'after.heapsnapshot'));
  const a = census(before);
  const b = census(after);
  const rows = [];
  for (const [kind, e] of b) {
    const p = a.get(kind) ?? { count: 0, bytes: 0 };
    const count = (e.count - p.count) / QUEUED;
    const bytes = (e.bytes - p.bytes) / QUEUED;
    if (Math.abs(count) >= 0.05 || Math.abs(bytes) >= 2) rows.push({ kind, count, bytes });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  let count = 0;
  let bytes = 0;
  for (const r of rows) {
    process.stdout.write(`${r.count.toFixed(2).padStart(6)} × ${(r.bytes / (r.count || 1)).toFixed(0).padStart(4)} B = ${r.bytes.toFixed(1).padStart(6)} B  ${r.kind}\n`);
    count += r.count;
    bytes += r.bytes;
  }
  process.stdout.write(`per added message: ${count.toFixed(2)} objects, ${bytes.toFixed(1)} B\n`);
} finally {
  client.destroy();
  await stub.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** Count and bytes of a snapshot's nodes by kind: type, name, and for objects and closures their first property names. */
function census(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const meta = s.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const [ti, ni, si, ci] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const out = new Map();
  let edge = 0;
  for (let k = 0; k < s.nodes.length; k += nf) {
    const type = types[s.nodes[k + ti]];
    const name = s.strings[s.nodes[k + ni]];
    const edges = s.nodes[k + ci];
    let kind;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number') kind = type;
    else if (type === 'array' || type === 'code' || name === 'system / Context') kind = `${type}: ${name.slice(0, 40)}`;
    else {
      const names = [];
      for (let q = edge; q < edge + edges * ef && names.length < 6; q += ef) {
        const et = edgeTypes[s.edges[q]];
        if (et === 'property' || et === 'internal') names.push(String(s.strings[s.edges[q + 1]]));
      }
      kind = `${type}: ${name.slice(0, 40)} {${names.join(', ')}}`;
    }
    const e = out.get(kind) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[k + si];
    out.set(kind, e);
    edge += edges * ef;
  }
  return out;
}
