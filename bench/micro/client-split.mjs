// Where `CcsClient`'s time goes against another client in like conditions: the two in ONE process against one
// stub CCS, taking turns slice by slice as in bench/micro/client-ab.mjs, with V8's sampling profiler running over
// the timed rounds and every sample given to the client whose slice it fell in. Per message of each client: the
// samples' time by category (the encoder, the TLS writes, the inbound parse, the in-flight table, validation, the
// outbox, …) and by function, and the difference. Separate profiles of separate processes (bench/ccs-client.mjs's
// fresh process per measurement) differ by more than the clients do on this shared machine: the encoder's loop read
// 1.1–1.4 µs/msg in `CcsClient`'s profiles against 0.80–0.82 in the floor's, and 1.00 against 0.93 here
// (bench/ANALYSIS.md, fourteenth pass).
//
//   node bench/micro/client-split.mjs [--against floor|ccs] [--window 1000] [--connections 4]
//                                     [--against-connections N] [--api dispatch|send] [--slice 60000] [--rounds 21]
//                                     [--warmup 120000] [--interval 100] [--top 25] [--json FILE]
//
// --against floor (the default): the API floor (bench/lib/floor-ccs-client.mjs) with the same API, window and
// connections — what `CcsClient` does beyond the least its API needs. --against ccs: this build's `CcsClient` again
// with `--against-connections` connections (say 1 against 4: what the connections cost). Both share one heap and
// one copy of the encoder (the floor's too), so the collector's work and the encoder's type feedback are shared;
// the slices' order alternates by round. Samples are wall clock (a sample while the thread waits is `(idle)`, one
// while the machine's other processes run is charged to whatever was on the stack): read the columns against each
// other, not as CPU. The CPU per message (process.cpuUsage around each slice, medians) is printed too.
// --json FILE: the figures, and FILE.cpuprofile the profile with the slices' time windows.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { CcsClient } from '@ccs-xmpp/ccs';
import { startStub } from '../lib/start-stub.mjs';
import { FloorCcsClient } from '../lib/floor-ccs-client.mjs';
import { driverFor, payloadFor } from '../lib/queue-driver.mjs';

const { values: args } = parseArgs({
  options: {
    against: { type: 'string' }, window: { type: 'string' }, connections: { type: 'string' }, 'against-connections': { type: 'string' },
    api: { type: 'string' }, slice: { type: 'string' }, rounds: { type: 'string' }, warmup: { type: 'string' }, interval: { type: 'string' },
    top: { type: 'string' }, json: { type: 'string' },
  },
});
const AGAINST = args.against ?? 'floor';
if (AGAINST !== 'floor' && AGAINST !== 'ccs') throw new Error(`--against floor or ccs, not ${AGAINST}`);
const WINDOW = Number(args.window ?? 1000);
const CONNECTIONS = Number(args.connections ?? 4);
const AGAINST_CONNECTIONS = Number(args['against-connections'] ?? CONNECTIONS);
const API = args.api ?? 'dispatch';
const SLICE = Number(args.slice ?? 60_000);
const ROUNDS = Number(args.rounds ?? 21);
const WARMUP = Number(args.warmup ?? 120_000);
const INTERVAL = Number(args.interval ?? 100);
const TOP = Number(args.top ?? 25);
const TOKEN = 'bench-device-token-0001';

/** Categories of a sample's function, by its script and name; the first that matches. Idle and GC are V8's own. */
const CATEGORIES = [
  ['encoder (stanza gcm-encode)', (url) => url.includes('/gcm-encode.js')],
  ['TLS writes (native writeBuffer, writev)', (url, fn) => url === '' && /^(writeBuffer|writev|writeLatin1String|writeUtf8String)$/.test(fn)],
  ['inbound parse (shortcut, framer, ACK bytes)', (url, fn) => /\/(gcm-shortcut|fast-framer|stanza-parser|bytes)\.js$/.test(url)
    || (url === '' && /^(latin1Slice|utf8Slice|indexOfBuffer)$/.test(fn)) || (url.endsWith('floor-ccs-client.mjs') && fn === 'onData')
    || (url === 'node:buffer' && /indexOf/.test(fn))],
  ['in-flight table', (url, fn) => url.endsWith('/inflight-table.js') || (url.endsWith('floor-ccs-client.mjs') && /^(take|set|put|grow|hash)$/.test(fn))],
  ['validation (stanza validate)', (url) => url.endsWith('/validate.js')],
  ['outbox, record, settlement (ccs)', (url) => /\/ccs\/dist\/src\/(outbox|outbound|memory-store|ring-buffer|live-ids|message-id|callback-queue|latency|stats|metrics|timer-heap|store)\.js$/.test(url)],
  ['connection, pool, client (ccs)', (url) => /\/ccs\/dist\/src\/(connection|connection-pool|client|inbound-router)\.js$/.test(url)],
  ['stream connection', (url) => url.endsWith('/stream/dist/src/connection.js')],
  ['the floor\'s own code', (url) => url.endsWith('floor-ccs-client.mjs')],
  ['the queue driver', (url) => url.endsWith('queue-driver.mjs')],
  ['Node\'s JavaScript (streams, net, ticks)', (url) => url.startsWith('node:')],
  ['collector (main thread)', (url, fn) => fn === '(garbage collector)'],
  ['idle', (url, fn) => fn === '(idle)'],
  ['other native, (program)', (url) => url === ''],
  ['other JavaScript', () => true],
];

const stub = await startStub(TOKEN);
const payload = payloadFor(TOKEN);
const common = {
  senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: stub.port, tls: { ca: stub.ca, servername: 'localhost' },
  maxPending: WINDOW, maxQueued: 10_000, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
};
const drive = driverFor(API);
const contenders = [
  { name: `ccs ${WINDOW} × ${CONNECTIONS}`, client: new CcsClient({ ...common, connections: CONNECTIONS }) },
  AGAINST === 'floor'
    ? { name: `floor ${WINDOW} × ${CONNECTIONS}`, client: new FloorCcsClient({ ...common, ca: stub.ca, to: TOKEN, connections: CONNECTIONS, api: API }) }
    : { name: `ccs ${WINDOW} × ${AGAINST_CONNECTIONS}`, client: new CcsClient({ ...common, connections: AGAINST_CONNECTIONS }) },
];
if (contenders[0].name === contenders[1].name) throw new Error('--against ccs needs --against-connections other than --connections');
let next = 0;
async function run(c) {
  const { failed } = await drive(c.client, payload, (next += SLICE) - SLICE, SLICE);
  if (failed > 0) throw new Error(`${failed} messages failed`);
}
const session = new Session();
try {
  for (const c of contenders) await c.client.connect({ all: true });
  for (let w = 0; w < WARMUP; w += SLICE) for (const c of contenders) await run(c);
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: INTERVAL });
  await session.post('Profiler.start');
  // Each slice's time window in µs of the monotonic clock the profiler's timestamps are in.
  const windows = [];
  const cpu = contenders.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await run(contenders[k]);
      const t1 = process.hrtime.bigint();
      const u = process.cpuUsage(c0);
      windows.push({ k, t0: Number(t0 / 1000n), t1: Number(t1 / 1000n) });
      cpu[k].push((u.user + u.system) / SLICE);
    }
  }
  const { profile } = await session.post('Profiler.stop');
  if (windows[0].t0 < profile.startTime || windows.at(-1).t1 > profile.endTime) {
    throw new Error('the slices\' times are not inside the profile\'s: the two clocks differ on this platform');
  }

  // Every sample to the slice it fell in (samples between slices, the driver's turn-taking, to none).
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byCategory = contenders.map(() => new Map());
  const byFunction = contenders.map(() => new Map());
  const add = (m, key, dt) => m.set(key, (m.get(key) ?? 0) + dt);
  let t = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // A sample's time runs to the next sample.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    while (w < windows.length && windows[w].t1 < t) w++;
    if (w === windows.length) break;
    if (t < windows[w].t0) continue;
    const { k } = windows[w];
    const { url, functionName } = nodes.get(profile.samples[i]);
    const [category] = CATEGORIES.find(([, test]) => test(url, functionName));
    add(byCategory[k], category, dt);
    add(byFunction[k], `${functionName || '(anonymous)'} ${url.replace(/^.*\/(packages|bench)\//, '')}`, dt);
  }
  const messages = ROUNDS * SLICE;
  const perMessage = (m) => new Map([...m].map(([key, us]) => [key, us / messages]));
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const result = {
    bench: 'client-split', api: API, window: WINDOW, slice: SLICE, rounds: ROUNDS, warmup: WARMUP, interval: INTERVAL,
    contenders: contenders.map((c, k) => ({
      name: c.name, cpuUsPerMsg: median(cpu[k]),
      categories: Object.fromEntries(perMessage(byCategory[k])), functions: Object.fromEntries(perMessage(byFunction[k])),
    })),
  };
  const [a, b] = result.contenders;
  const names = CATEGORIES.map(([name]) => name);
  const f = (x) => (x ?? 0).toFixed(3).padStart(9);
  const lines = [`${API}, ${ROUNDS} rounds of ${SLICE}: samples' µs per message (wall clock); CPU µs/msg (medians) ${a.name} ${a.cpuUsPerMsg.toFixed(2)}, ${b.name} ${b.cpuUsPerMsg.toFixed(2)}`];
  lines.push(`${'category'.padEnd(46)}${a.name.padStart(20)}${b.name.padStart(20)}${'difference'.padStart(12)}`);
  let sumA = 0;
  let sumB = 0;
  for (const name of names) {
    const x = a.categories[name] ?? 0;
    const y = b.categories[name] ?? 0;
    if (name !== 'idle') {
      sumA += x;
      sumB += y;
    }
    lines.push(`${name.padEnd(46)}${f(x).padStart(20)}${f(y).padStart(20)}${f(x - y).padStart(12)}`);
  }
  lines.push(`${'all but idle'.padEnd(46)}${f(sumA).padStart(20)}${f(sumB).padStart(20)}${f(sumA - sumB).padStart(12)}`);
  for (const c of result.contenders) {
    lines.push(`-- ${c.name}: functions by own samples, µs/msg`);
    for (const [fn, us] of Object.entries(c.functions).sort((x, y) => y[1] - x[1]).slice(0, TOP)) lines.push(`${f(us)}  ${fn}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) {
    writeFileSync(args.json, JSON.stringify(result, null, 2));
    writeFileSync(`${args.json}.cpuprofile`, JSON.stringify({ ...profile, slices: windows }));
  }
} finally {
  session.disconnect();
  await Promise.all(contenders.map((c) => c.client.close()));
  await stub.stop();
}
