/**
 * One client instance of bench/store-redis.mjs, in its own process. Argument: one JSON object
 *   { store: 'memory'|'redis', redisUrl, host, port, caFile, senderId, apiKey, tokens, n, warmup,
 *     maxPending, maxQueued, instance }
 * Connects, runs the warm-up, prints {"ready":true}, waits for a line on stdin (so several
 * instances start their timed runs together), runs n messages with the queue-fed driver (trySend
 * until refused, then waitForCapacity), prints one JSON result line and exits.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { CcsClient } from '@ccs-xmpp/ccs';
import { redisStore } from '@ccs-xmpp/store-redis';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const ca = readFileSync(cfg.caFile, 'utf8');

function payload(i) {
  return {
    to: cfg.tokens[i % cfg.tokens.length],
    data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) },
  };
}

async function driveQueue(c, base, n) {
  let settled = 0;
  let failed = 0;
  let firstError;
  let done;
  const all = new Promise((r) => (done = r));
  const ok = () => {
    if (++settled === n) done();
  };
  const bad = (err) => {
    failed++;
    firstError ??= String(err?.code ?? err?.message ?? err);
    if (++settled === n) done();
  };
  for (let i = 0; i < n; i++) {
    let p = c.trySend(payload(base + i));
    if (p === undefined) {
      await c.waitForCapacity();
      p = c.trySend(payload(base + i));
      if (p === undefined) throw new Error('trySend refused after waitForCapacity');
    }
    p.then(ok, bad);
  }
  await all;
  return { failed, firstError };
}

try {
  let store;
  if (cfg.store === 'redis') {
    store = redisStore({ redis: cfg.redisUrl, senderId: cfg.senderId, instanceId: `bench-${cfg.instance}-${process.pid}` });
    await store.ready();
    store.on('adopted', (count, from) => process.stderr.write(`worker ${cfg.instance}: adopted ${count} records of ${from.join(', ')}\n`));
    store.on('leaseLapsed', () => process.stderr.write(`worker ${cfg.instance}: its lease had lapsed\n`));
  }
  const c = new CcsClient({
    senderId: cfg.senderId, apiKey: cfg.apiKey, host: cfg.host, port: cfg.port, tls: { ca, servername: 'localhost' },
    connections: 1, maxPending: cfg.maxPending, maxQueued: cfg.maxQueued, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
    // Distinct id prefixes: two instances of one sender must not reuse each other's message_ids.
    messageIdPrefix: `b${cfg.instance}-`,
    ...(store ? { store } : {}),
  });
  await c.connect();
  if (cfg.warmup > 0) await driveQueue(c, 0, cfg.warmup);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const rl = createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await driveQueue(c, cfg.warmup, cfg.n);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const acked = c.stats().acked;
  await c.close({ timeoutMs: 5000 });
  process.stdout.write(`${JSON.stringify({
    store: cfg.store, instance: cfg.instance, n: cfg.n, failed: r.failed, firstError: r.firstError, ackedTotal: acked,
    wallMs: wall, msgsPerSec: cfg.n / (wall / 1000), cpuUs: cpu.user + cpu.system, cpuUsPerMsg: (cpu.user + cpu.system) / cfg.n,
  })}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`worker: ${err?.stack ?? err}\n`);
  process.exit(1);
}
