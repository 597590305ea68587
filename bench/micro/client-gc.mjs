// What the collector does per message while CcsClient's queue is full: V8's own account of every
// collection (`--trace-gc-nvp`) inside one continuous timed run of the queue driver against the stub
// CCS, each round a fresh process. A continuous run, because a run that ends lets the queue and the
// windows drain: bench/micro/client-ab.mjs's slices of 20 000 never fill the queue at 1000 × 16 (the
// 16 windows take 16 000 before anything queues) and fill it for half a slice at 1000 × 1, and a
// scavenge that falls where a slice drains finds a fraction of the live set (bench/ANALYSIS.md, ninth
// pass). The driver is bench/lib/client-worker.mjs's (`trySend` until refused, `waitForCapacity()`,
// `maxQueued` 10 000 unless `--max-queued`: how deep the queue runs is the application's choice, and
// most of what is outstanding at window 100 is queued); its warm-up runs of 60 000 are client-worker's `--n`.
//
//   node bench/micro/client-gc.mjs [--base-dir DIR] [--window 1000] [--connections 16] [--n 300000]
//                                  [--warmup 240000] [--rounds 3] [--max-queued 10000] [--node-flags '…']
//                                  [--api send|dispatch] [--json FILE]
//
// DIR: another checkout with its packages built, whose client to measure instead of this one's.
// --node-flags: V8 or Node flags for the measured process (an application's choice, e.g.
// '--max-semi-space-size=64'; the benchmarks themselves never set any).
// --api dispatch: sends with `dispatch(message, callback)`, one callback for all, instead of `trySend`
// and a promise per message (bench/lib/queue-driver.mjs `driveDispatch`).
// Reported per round and as medians, per message of the timed run: scavenges and mark-compacts
// (per 100 000 messages), their pauses (µs, wall, main thread), the scavenges' parallel work on
// helper threads (µs, V8's `background.scavenge.parallel`), the bytes that survived a scavenge in
// the young generation and the bytes promoted to the old one, the process's CPU (all threads) and
// msgs/s, the messages outstanding (in flight and queued: means of samples every 10 ms), and the
// young generation's size (V8 sizes it by how much survives: it sets how often a scavenge comes).
// Every run checks that its sends were all ACKed, none twice and none failed.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

const { values: args } = parseArgs({
  options: {
    'base-dir': { type: 'string' }, window: { type: 'string' }, connections: { type: 'string' }, n: { type: 'string' },
    warmup: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' }, child: { type: 'string' }, 'node-flags': { type: 'string' },
    'max-queued': { type: 'string' }, api: { type: 'string' },
  },
});
const TOKEN = 'bench-device-token-0001';
const RUN = 60_000;

if (args.child !== undefined) await child(JSON.parse(args.child));
else await parent();

async function parent() {
  const { startStub } = await import('../lib/start-stub.mjs');
  const cfg = {
    dir: args['base-dir'] === undefined ? undefined : resolve(args['base-dir']), window: Number(args.window ?? 1000), connections: Number(args.connections ?? 16),
    n: Number(args.n ?? 300_000), warmup: Number(args.warmup ?? 240_000), maxQueued: Number(args['max-queued'] ?? 10_000),
    api: args.api ?? 'send',
  };
  const rounds = Number(args.rounds ?? 3);
  const stub = await startStub(TOKEN);
  const results = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const out = await runChild({ ...cfg, port: stub.port, ca: stub.ca });
      const res = summarise(out, cfg.n);
      results.push(res);
      process.stderr.write(`round ${r + 1}: ${line(res)}\n`);
    }
  } finally {
    await stub.stop();
  }
  const keys = Object.keys(results[0]);
  const med = Object.fromEntries(keys.map((k) => [k, median(results.map((x) => x[k]))]));
  process.stdout.write(`${cfg.window} × ${cfg.connections}${cfg.api === 'dispatch' ? ', dispatch' : ''}, median of ${rounds}: ${line(med)}\n`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'client-gc', ...cfg, rounds, median: med, results }, null, 2));
}

function runChild(cfg) {
  const self = fileURLToPath(import.meta.url);
  const flags = args['node-flags'] === undefined ? [] : args['node-flags'].split(' ').filter((f) => f !== '');
  const proc = spawn(process.execPath, [...flags, '--trace-gc-nvp', self, '--child', JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => (out += d));
  return new Promise((res, rej) => proc.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`child exited with ${code}`)))));
}

/** The collections between the child's markers, per message. */
function summarise(out, n) {
  const lines = out.split('\n');
  const from = lines.indexOf('MARK start');
  const to = lines.indexOf('MARK end');
  const result = JSON.parse((lines.find((l) => l.startsWith('RESULT ')) ?? 'RESULT {}').slice(7));
  const field = (l, k) => Number(l.match(new RegExp(` ${k}=([^ ]+)`))?.[1] ?? 0);
  const s = { scavenges: 0, markCompacts: 0, scavengePause: 0, markCompactPause: 0, background: 0, survived: 0, promoted: 0 };
  for (const l of lines.slice(from, to)) {
    if (!l.includes(' pause=')) continue;
    if (l.includes(' gc=s ')) {
      s.scavenges++;
      s.scavengePause += field(l, 'pause');
      s.background += field(l, 'background.scavenge.parallel');
      s.survived += field(l, 'new_space_survived');
      s.promoted += field(l, 'promoted');
    } else if (l.includes(' gc=mc ')) {
      s.markCompacts++;
      s.markCompactPause += field(l, 'pause');
    }
  }
  return {
    cpuUsPerMsg: result.cpuUsPerMsg, msgsPerSec: result.msgsPerSec, youngMiB: result.youngMiB, inFlight: result.inFlight, queued: result.queued,
    scavengesPer100k: (s.scavenges / n) * 1e5, markCompactsPer100k: (s.markCompacts / n) * 1e5,
    scavengePauseUsPerMsg: (s.scavengePause * 1000) / n, markCompactPauseUsPerMsg: (s.markCompactPause * 1000) / n,
    backgroundScavengeUsPerMsg: (s.background * 1000) / n, survivedBytesPerMsg: s.survived / n, promotedBytesPerMsg: s.promoted / n,
  };
}

function line(r) {
  return `CPU ${r.cpuUsPerMsg.toFixed(2)} µs/msg, ${Math.round(r.msgsPerSec)} msgs/s; outstanding ${Math.round(r.inFlight)} in flight + ${Math.round(r.queued)} queued; young generation ${r.youngMiB.toFixed(0)} MiB; scavenges ${r.scavengesPer100k.toFixed(1)}/100k, pause ${r.scavengePauseUsPerMsg.toFixed(3)} µs/msg, `
    + `helpers ${r.backgroundScavengeUsPerMsg.toFixed(3)} µs/msg; survived ${Math.round(r.survivedBytesPerMsg)} B/msg, promoted ${Math.round(r.promotedBytesPerMsg)} B/msg; `
    + `mark-compacts ${r.markCompactsPer100k.toFixed(1)}/100k, pause ${r.markCompactPauseUsPerMsg.toFixed(3)} µs/msg`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function child(cfg) {
  const { CcsClient } = cfg.dir === undefined ? await import('@ccs-xmpp/ccs') : await import(pathToFileURL(resolve(cfg.dir, 'packages/ccs/dist/src/index.js')).href);
  const client = new CcsClient({
    senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: cfg.port, tls: { ca: cfg.ca, servername: 'localhost' },
    maxPending: cfg.window, maxQueued: cfg.maxQueued, connections: cfg.connections, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
  });
  await client.connect({ all: true });
  // The payload and the queue driver of bench/lib/client-worker.mjs (bench/lib/queue-driver.mjs).
  const { driverFor, payloadFor } = await import('../lib/queue-driver.mjs');
  const payload = payloadFor(TOKEN);
  const driveQueue = driverFor(cfg.api);
  const drive = async (base, n) => {
    const counts = await driveQueue(client, payload, base, n);
    // Settled more than once would show as more settlements than sends by the end of the next tick.
    await new Promise((r) => setImmediate(r));
    if (counts.failed !== 0 || counts.acked !== n) throw new Error(`${counts.acked} ACKed and ${counts.failed} failed of ${n}`);
  };
  let next = 0;
  for (; next < cfg.warmup; next += RUN) await drive(next, Math.min(RUN, cfg.warmup - next));
  const young = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
  const young0 = young();
  // What is outstanding, sampled every 10 ms: in flight (the windows) and queued. Their sum against
  // one scavenge interval is what decides whether a message dies young (bench/ANALYSIS.md, tenth
  // and twelfth passes).
  const live = { samples: 0, pending: 0, queued: 0 };
  const sampler = setInterval(() => {
    const st = client.stats();
    live.samples++;
    live.pending += st.pending;
    live.queued += st.queued;
  }, 10);
  process.stdout.write('MARK start\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await drive(next, cfg.n);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write('MARK end\n');
  clearInterval(sampler);
  const n = Math.max(1, live.samples);
  process.stdout.write(`RESULT ${JSON.stringify({ cpuUsPerMsg: (cpu.user + cpu.system) / cfg.n, msgsPerSec: cfg.n / (wall / 1000), youngMiB: Math.max(young0, young()) / 2 ** 20, inFlight: live.pending / n, queued: live.queued / n })}\n`);
  await client.close();
  process.exit(0);
}
