/**
 * The Redis store's cost (issue 13): acked downstream msgs/s and client CPU µs per message with
 * `CcsClient` on the default in-memory store vs `store: redisStore(...)` — one instance, one
 * connection, maxPending 1000 — and with two instances of one sender sharing the store (each its own
 * process and connection, timed runs started together), against the same emulator in the same run.
 * Redis's own CPU per message is read from /proc for the timed window.
 *
 *   node bench/store-redis.mjs [--rounds 3] [--n 60000] [--warmup 10000] [--quick] [--json FILE]
 *
 * Processes: this file orchestrates; each measurement gets a fresh emulator (its CLI), a fresh
 * redis-server (packages/store-redis's test harness: 127.0.0.1, its own dir, no persistence) and
 * fresh client processes (bench/lib/store-redis-worker.mjs). Rounds alternate the order of the
 * configurations. Every run is checked: all ACKed, the emulator delivered each message once.
 *
 * Needs a build first (`npm run build`) and redis-server (scripts/setup-redis.sh).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../packages/store-redis/dist/test/helpers/redis-server.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const EMULATOR_CLI = here('../packages/emulator/dist/src/cli.js');
const WORKER = here('./lib/store-redis-worker.mjs');
const API_KEY = 'emulator-api-key'; // the emulator's default development key, not a secret

const { values: args } = parseArgs({
  options: { rounds: { type: 'string' }, n: { type: 'string' }, warmup: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' } },
});
const quick = args.quick === true;
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 3));
const N = Number(args.n ?? (quick ? 10_000 : 60_000));
const WARMUP = Number(args.warmup ?? (quick ? 2000 : 10_000));
const MAX_PENDING = 1000;
const ONLY = process.env.BENCH_ONLY;
const CONFIGS = [
  { name: 'memory ×1', store: 'memory', instances: 1 },
  { name: 'redis ×1', store: 'redis', instances: 1 },
  { name: 'memory ×2', store: 'memory', instances: 2 },
  { name: 'redis ×2', store: 'redis', instances: 2 },
];
const log = (s) => process.stderr.write(`${s}\n`);

function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000; // utime + stime, 100 ticks/s
}

function lineReader(stream) {
  let buf = '';
  const lines = [];
  const waiters = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  stream.on('end', () => {
    for (const w of waiters.splice(0)) w(undefined);
  });
  return { next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r))) };
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

async function startEmulator() {
  const child = spawn(process.execPath, [EMULATOR_CLI, '--port', '0', '--devices', '10', '--no-deliveries', '--keepalive-ms', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const lines = lineReader(child.stdout);
  const first = await withTimeout(lines.next(), 10_000, 'emulator start');
  if (first === undefined) throw new Error('the emulator exited before listening');
  return {
    info: JSON.parse(first),
    async stop() {
      child.kill('SIGTERM');
      let totals;
      for (let k = 0; k < 10; k++) {
        const line = await withTimeout(lines.next(), 5000, 'emulator stop').catch(() => undefined);
        if (line === undefined) break;
        const o = JSON.parse(line);
        if (o.type === 'stopped') {
          totals = o;
          break;
        }
      }
      await withTimeout(exited, 5000, 'emulator exit').catch(() => child.kill('SIGKILL'));
      return totals;
    },
  };
}

function startWorker(cfg) {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = lineReader(child.stdout);
  const exited = new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  exited.then(() => clearTimeout(timer));
  return {
    ready: async () => {
      const l = await lines.next();
      if (l === undefined || !JSON.parse(l).ready) throw new Error(`worker ${cfg.store} did not get ready`);
    },
    go: () => child.stdin.write('go\n'),
    result: async () => {
      const l = await lines.next();
      await exited;
      if (l === undefined) throw new Error(`worker ${cfg.store} exited without a result`);
      return JSON.parse(l);
    },
  };
}

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function run(config) {
  const emu = await startEmulator();
  const redis = config.store === 'redis' ? await startRedis() : undefined;
  try {
    const senderId = emu.info.senders[0];
    const base = {
      store: config.store, redisUrl: redis?.url, host: emu.info.host, port: emu.info.port, caFile: emu.info.caFile, senderId, apiKey: API_KEY,
      tokens: emu.info.devices[senderId], n: N, warmup: WARMUP, maxPending: MAX_PENDING, maxQueued: 10_000,
    };
    const workers = Array.from({ length: config.instances }, (_, i) => startWorker({ ...base, instance: i }));
    await Promise.all(workers.map((w) => w.ready()));
    const redisCpu0 = redis ? cpuUs(redis.pid) : 0;
    for (const w of workers) w.go();
    const results = await Promise.all(workers.map((w) => w.result()));
    const redisCpu = redis ? cpuUs(redis.pid) - redisCpu0 : undefined;
    const totals = await emu.stop();
    const total = N * config.instances;
    const problems = [];
    for (const r of results) {
      if (r.failed !== 0) problems.push(`${r.failed} failed (${r.firstError})`);
      if (r.ackedTotal !== N + WARMUP) problems.push(`instance ${r.instance} acked ${r.ackedTotal} of ${N + WARMUP}`);
    }
    const expected = (N + WARMUP) * config.instances;
    if (totals && (totals.downstreamDelivered !== expected || totals.downstreamDuplicates !== 0)) {
      problems.push(`emulator delivered ${totals.downstreamDelivered} (${totals.downstreamDuplicates} duplicates) of ${expected}`);
    }
    if (problems.length > 0) throw new Error(`${config.name}: ${problems.join('; ')}`);
    const wall = Math.max(...results.map((r) => r.wallMs));
    return {
      config: config.name, msgsPerSec: total / (wall / 1000), cpuUsPerMsg: results.reduce((a, r) => a + r.cpuUs, 0) / total,
      redisCpuUsPerMsg: redisCpu === undefined ? undefined : redisCpu / total, perInstance: results.map((r) => Math.round(r.msgsPerSec)),
    };
  } finally {
    await emu.stop().catch(() => {});
    await redis?.stop();
  }
}

const results = { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, date: new Date().toISOString(), n: N, warmup: WARMUP, rounds: ROUNDS, runs: [] };
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? CONFIGS : [...CONFIGS].reverse();
  for (const config of order) {
    if (ONLY && config.name !== ONLY) continue;
    const r = await run(config);
    r.round = round;
    results.runs.push(r);
    log(`round ${round} ${config.name.padEnd(10)} ${Math.round(r.msgsPerSec).toString().padStart(7)} msg/s  client ${r.cpuUsPerMsg.toFixed(1)} µs/msg${r.redisCpuUsPerMsg === undefined ? '' : `  redis ${r.redisCpuUsPerMsg.toFixed(1)} µs/msg`}  per instance ${r.perInstance.join(' + ')}`);
  }
}

const f0 = (x) => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const pick = (name) => results.runs.filter((r) => r.config === name);
results.summary = CONFIGS.map((config) => {
  const rs = pick(config.name);
  const rate = median(rs.map((r) => r.msgsPerSec));
  const memRate = median(pick(`memory ×${config.instances}`).map((r) => r.msgsPerSec));
  return {
    store: config.store, instances: config.instances, msgsPerSec: rate, ofMemory: rate / memRate,
    cpuUsPerMsg: median(rs.map((r) => r.cpuUsPerMsg)), redisCpuUsPerMsg: config.store === 'redis' ? median(rs.map((r) => r.redisCpuUsPerMsg)) : undefined,
  };
});
const out = ['| store | instances | acked msgs/s (median) | of in-memory, same instances | client CPU µs/msg | Redis CPU µs/msg |', '|---|---:|---:|---:|---:|---:|'];
for (const s of results.summary) {
  out.push(`| ${s.store} | ${s.instances} | ${f0(s.msgsPerSec)} | ${s.store === 'redis' ? `**${(100 * s.ofMemory).toFixed(0)}%**` : '100%'} | ${f1(s.cpuUsPerMsg)} | ${f1(s.redisCpuUsPerMsg)} |`);
}
console.log(out.join('\n'));
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'store-redis', ...results }, null, 2));
