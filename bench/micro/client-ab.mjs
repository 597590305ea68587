// A/B of the whole client between this build and another checkout's (say main before a change), in
// ONE process against one stub CCS (bench/lib/stub-ccs.mjs), the two clients taking turns slice by
// slice, CPU time per message of each slice: the load the other helpers put on a shared machine moves
// within seconds, and bench/ccs-client.mjs's pairs of processes (each a fresh process, run one after
// the other) read an A/A of one build as 0.80–1.13 by row at load 5–7 (bench/ANALYSIS.md, seventh pass).
//
//   node bench/micro/client-ab.mjs --base-dir DIR [--window 100] [--connections 1] [--slice 20000]
//                                  [--rounds 15] [--warmup 60000] [--api send|dispatch] [--base-api send|dispatch]
//                                  [--json FILE]
//
// DIR is a checkout with its packages built (as for `bench/ccs-client.mjs --base-dir`); its client
// is imported from DIR/packages/ccs/dist/src/index.js, so it runs DIR's ccs, stanza and stream. Both
// clients stay connected throughout, the idle one holding nothing (no timers: pings, idle checks and
// keepalives off, as in bench/ccs-client.mjs). Reported: per round, this build's CPU µs per message
// over the base's (the round's two slices back to back, their order alternating), median and IQR
// (< 1: this build is cheaper), and the same for each slice's acked msgs/s, wall clock (> 1: this
// build is faster; the machine's load moves it more than the CPU: bench/ANALYSIS.md, twelfth pass,
// has an A/A). Both in one heap: a slice pays for garbage the other left, so the order alternates
// and the figure is a median over rounds; run it with a copy of one build as DIR for the noise floor.
// --api dispatch: both clients sent to with `dispatch(message, callback)` instead of `trySend`
// (bench/lib/queue-driver.mjs `driveDispatch`; both builds must have it). --base-api: the base's API
// when it differs — with DIR this checkout, `--api dispatch --base-api send` is one build's two APIs
// taking turns in one process.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CcsClient } from '@ccs-xmpp/ccs';
import { startStub } from '../lib/start-stub.mjs';
import { driverFor, payloadFor } from '../lib/queue-driver.mjs';

const { values: args } = parseArgs({
  options: {
    'base-dir': { type: 'string' }, window: { type: 'string' }, connections: { type: 'string' }, slice: { type: 'string' },
    rounds: { type: 'string' }, warmup: { type: 'string' }, json: { type: 'string' }, api: { type: 'string' }, 'base-api': { type: 'string' },
  },
});
if (args['base-dir'] === undefined) throw new Error('--base-dir DIR is required (a checkout with its packages built)');
const WINDOW = Number(args.window ?? 100);
const CONNECTIONS = Number(args.connections ?? 1);
const SLICE = Number(args.slice ?? 20_000);
const ROUNDS = Number(args.rounds ?? 15);
const WARMUP = Number(args.warmup ?? 60_000);
const TOKEN = 'bench-device-token-0001';
const API = args.api ?? 'send';
const BASE_API = args['base-api'] ?? API;
const { CcsClient: BaseClient } = await import(pathToFileURL(resolve(args['base-dir'], 'packages/ccs/dist/src/index.js')).href);

const stub = await startStub(TOKEN);

// The payload and the queue driver of bench/lib/client-worker.mjs.
const payload = payloadFor(TOKEN);
async function drive(c, base, n) {
  const { failed } = await c.drive(c.client, payload, base, n);
  if (failed > 0) throw new Error(`${failed} messages failed`);
}

const options = {
  senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: stub.port, tls: { ca: stub.ca, servername: 'localhost' },
  maxPending: WINDOW, maxQueued: 10_000, connections: CONNECTIONS, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
};
const contenders = [{ name: 'this', client: new CcsClient(options), drive: driverFor(API) }, { name: 'base', client: new BaseClient(options), drive: driverFor(BASE_API) }];
let next = 0;
try {
  for (const c of contenders) {
    await c.client.connect({ all: true });
  }
  // Warm-up in slices, taking turns as the rounds do.
  for (let w = 0; w < WARMUP; w += SLICE) for (const c of contenders) await drive(c, (next += SLICE) - SLICE, SLICE);
  const ratios = [];
  // Each slice's acked msgs/s (wall clock, the slice's first send to its last settle), this over base.
  const rates = [];
  const us = { this: [], base: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    const cpu = {};
    const rate = {};
    for (const c of order) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await drive(c, (next += SLICE) - SLICE, SLICE);
      const u = process.cpuUsage(c0);
      rate[c.name] = SLICE / (Number(process.hrtime.bigint() - t0) / 1e9);
      cpu[c.name] = (u.user + u.system) / SLICE;
      us[c.name].push(cpu[c.name]);
    }
    ratios.push(cpu.this / cpu.base);
    rates.push(rate.this / rate.base);
    process.stderr.write(`round ${r + 1}: this ${cpu.this.toFixed(2)} base ${cpu.base.toFixed(2)} µs/msg  ratio ${(cpu.this / cpu.base).toFixed(3)}; msgs/s ${Math.round(rate.this)} / ${Math.round(rate.base)}\n`);
  }
  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (s.length - 1) * p;
    const lo = Math.floor(at);
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
  };
  const result = {
    bench: 'client-ab', api: API, baseApi: BASE_API, window: WINDOW, connections: CONNECTIONS, slice: SLICE, rounds: ROUNDS, warmup: WARMUP,
    ratio: q(ratios, 0.5), ratioQ: [q(ratios, 0.25), q(ratios, 0.75)], below1: ratios.filter((x) => x < 1).length,
    thisUsPerMsg: q(us.this, 0.5), baseUsPerMsg: q(us.base, 0.5), ratios,
    rateRatio: q(rates, 0.5), rateRatioQ: [q(rates, 0.25), q(rates, 0.75)], rates,
  };
  if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
  process.stdout.write(`${WINDOW} × ${CONNECTIONS}${API === BASE_API ? (API === 'send' ? '' : `, ${API}`) : `, this ${API}, base ${BASE_API}`}: this/base CPU per message ${result.ratio.toFixed(3)} (IQR ${result.ratioQ[0].toFixed(3)}–${result.ratioQ[1].toFixed(3)}, ${result.below1} of ${ROUNDS} rounds below 1); this ${result.thisUsPerMsg.toFixed(2)}, base ${result.baseUsPerMsg.toFixed(2)} µs/msg; this/base msgs/s ${result.rateRatio.toFixed(3)} (IQR ${result.rateRatioQ[0].toFixed(3)}–${result.rateRatioQ[1].toFixed(3)})\n`);
} finally {
  await Promise.all(contenders.map((c) => c.client.close()));
  await stub.stop();
}
