// What CcsClient allocates per message and where: V8's sampling heap profiler (objects collected by
// minor and major GCs included, so garbage counts as well as survivors) over runs of the queue
// driver of bench/lib/client-worker.mjs against the stub CCS, by allocating function, in bytes per
// message. Every byte allocated brings the next scavenge closer: with ~536 B of each outstanding
// message surviving, a 16 MiB semi-space lasts 16 MiB / (allocated + surviving B/msg) messages, and
// where a message lives longer than that (1000 × 16: ~26 000 outstanding) it is promoted
// (bench/ANALYSIS.md, tenth pass). Sampled, so each figure is an estimate (±5%).
//
//   node bench/micro/alloc-sites.mjs [--base-dir DIR] [--window 1000] [--connections 16] [--runs 5] [--top 25]
//                                    [--api send|dispatch]
//
// DIR: another checkout with its packages built, whose client to profile instead of this one's.
// Runs are client-worker's 60 000 messages; four warm-up runs come first. --api dispatch: sent with
// `dispatch(message, callback)`, one callback for all (bench/lib/queue-driver.mjs `driveDispatch`).
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startStub } from '../lib/start-stub.mjs';
import { driverFor, payloadFor } from '../lib/queue-driver.mjs';

const { values: args } = parseArgs({
  options: { 'base-dir': { type: 'string' }, window: { type: 'string' }, connections: { type: 'string' }, runs: { type: 'string' }, top: { type: 'string' }, api: { type: 'string' } },
});
const WINDOW = Number(args.window ?? 1000);
const CONNECTIONS = Number(args.connections ?? 16);
const RUNS = Number(args.runs ?? 5);
const TOP = Number(args.top ?? 25);
const RUN = 60_000;
const { CcsClient } = args['base-dir'] === undefined ? await import('@ccs-xmpp/ccs') : await import(pathToFileURL(resolve(args['base-dir'], 'packages/ccs/dist/src/index.js')).href);
const TOKEN = 'bench-device-token-0001';
const stub = await startStub(TOKEN, []);
const client = new CcsClient({
  senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: stub.port, tls: { ca: stub.ca, servername: 'localhost' },
  maxPending: WINDOW, maxQueued: 10_000, connections: CONNECTIONS, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
});
try {
  await client.connect({ all: true });
  const payload = payloadFor(TOKEN);
  const driver = driverFor(args.api ?? 'send');
  const drive = async (base, n) => {
    const { failed } = await driver(client, payload, base, n);
    if (failed > 0) throw new Error(`${failed} messages failed`);
  };
  for (let k = 0; k < 4; k++) await drive(k * RUN, RUN);
  const acked0 = client.stats().acked;
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let k = 0; k < RUNS; k++) await drive((4 + k) * RUN, RUN);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const n = client.stats().acked - acked0;
  if (n !== RUNS * RUN) throw new Error(`${n} ACKed of ${RUNS * RUN}`);
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    if (node.selfSize > 0) {
      const site = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  process.stdout.write(`${WINDOW} × ${CONNECTIONS}, ${n} messages, allocated per message by function (inlined callees count as their caller):\n`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`${(bytes / n).toFixed(1).padStart(7)} B  ${site}\n`);
  process.stdout.write(`total ${(total / n).toFixed(1)} B/msg\n`);
} finally {
  client.destroy();
  await stub.stop();
}
