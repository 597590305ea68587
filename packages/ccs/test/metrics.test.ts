// The ACK-latency histogram, the per-connection gauges and the Prometheus text rendering: the
// histogram's percentiles against exact ones, and the exposition output parsed and compared with
// stats() after a run against the emulator (real TLS on 127.0.0.1).
import { CcsEmulator } from '@ccs-xmpp/emulator';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, LATENCY_BOUNDS_MS, renderPrometheus, type CcsClientOptions, type CcsStats } from '../src/index.js';
import { LatencyHistogram } from '../src/latency.js';
import { quiet } from './helpers/scripted-server.js';

const SENDER = '1234567890';

const until = async (pred: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('the latency buckets are fixed, ascending and √2 apart from 0.1 ms', () => {
  assert.is(LATENCY_BOUNDS_MS.length, 40);
  assert.is(LATENCY_BOUNDS_MS[0], 0.1);
  assert.is(LATENCY_BOUNDS_MS[2], 0.2);
  for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) {
    const ratio = (LATENCY_BOUNDS_MS[i] as number) / (LATENCY_BOUNDS_MS[i - 1] as number);
    assert.ok(Math.abs(ratio - Math.SQRT2) < 0.002, `bound ${i}: ratio ${ratio}`);
  }
});

test('an empty histogram reports zeros', () => {
  const s = new LatencyHistogram().snapshot();
  assert.equal([s.count, s.sumMs, s.maxMs, s.p50, s.p90, s.p99], [0, 0, 0, 0, 0, 0]);
  assert.is(s.buckets.length, 41);
  assert.is(s.buckets[40]?.le, Infinity);
});

test('each value lands in the bucket whose bound is the first ≥ it; percentiles are within √2 of the exact ones', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 100_000, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
      const h = new LatencyHistogram();
      for (const x of xs) h.record(x);
      const s = h.snapshot();
      // Cumulative counts equal a direct count of values ≤ each bound.
      for (const b of s.buckets) assert.is(b.count, xs.filter((x) => x <= b.le).length, `le ${b.le}`);
      const sorted = [...xs].sort((a, b) => a - b);
      assert.is(s.maxMs, sorted[sorted.length - 1]);
      assert.ok(Math.abs(s.sumMs - xs.reduce((a, b) => a + b, 0)) < 1e-6 * Math.max(1, s.sumMs));
      for (const [q, got] of [[0.5, s.p50], [0.9, s.p90], [0.99, s.p99]] as const) {
        const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
        assert.ok(got >= exact || got === s.maxMs, `p${q * 100} ${got} below the exact ${exact}`);
        if (exact > 0.1 && exact <= 70_000) assert.ok(got <= exact * Math.SQRT2 * 1.001, `p${q * 100} ${got} more than √2 over ${exact}`);
      }
    }),
    { numRuns: 200, seed: 18 },
  );
});

test('every latency of whole 1/64 ms stamps below 256 ms (looked up in a table) and past it (computed) lands in the bucket whose bound is the first ≥ it', () => {
  const h = new LatencyHistogram();
  const xs = Array.from({ length: 256 * 64 + 200 }, (_, s) => s / 64);
  for (const x of xs) h.record(x);
  const s = h.snapshot();
  for (const b of s.buckets) assert.is(b.count, xs.filter((x) => x <= b.le).length, `le ${b.le}`);
  assert.is(s.maxMs, xs[xs.length - 1]);
});

/** Parses the text exposition format: families with HELP/TYPE, and samples by name and labels. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Array<{ name: string; labels: Record<string, string>; value: number }> } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/.exec(line);
    if (m) {
      helps.add(m[1] as string);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (m) {
      assert.ok(helps.has(m[1] as string), `HELP before TYPE for ${m[1]}`);
      assert.not.ok(types.has(m[1] as string), `one TYPE line for ${m[1]}`);
      types.set(m[1] as string, m[2] as string);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m?.[2]) {
      for (const pair of m[2].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = pair.indexOf('=');
        labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const name = m?.[1] as string;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(name) || types.get(family) === 'histogram', `sample ${name} after its TYPE line`);
    if (types.get(name) === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
    const raw = m?.[3] as string;
    samples.push({ name, labels, value: raw === '+Inf' ? Infinity : Number(raw) });
  }
  return { types, samples };
}

const value = (p: ReturnType<typeof parsePrometheus>, name: string, labels: Record<string, string> = {}): number | undefined =>
  p.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('renderPrometheus: a hand-made snapshot renders every counter, gauge and the histogram in seconds, with escaped labels', () => {
  const h = new LatencyHistogram();
  for (const ms of [0.05, 3, 3, 250, 100_000]) h.record(ms);
  const stats: CcsStats = {
    connections: { online: 2, draining: 1, connecting: 0 },
    perConnection: [{ connectionId: 'c1', state: 'draining', pending: 3, free: 0, onlineMs: 10 }, { connectionId: 'c2', state: 'online', pending: 1, free: 99, onlineMs: 5 }],
    pending: 4, queued: 7, waitingRetry: 1, throttledTargets: 0,
    sent: 10, acked: 5, nacked: { SERVICE_UNAVAILABLE: 2, DEVICE_UNREGISTERED: 1 }, retries: 2, resent: 3, failed: 1,
    reconnects: 1, drainings: 1, upstreamReceived: 4, upstreamUnhandled: 0, upstreamAcked: 4, receipts: 1, duplicatesDropped: 1,
    receiptsWaiting: 6, receiptTimeouts: 2, receiptsEvicted: 3,
    ackLatency: h.snapshot(),
  };
  const p = parsePrometheus(renderPrometheus(stats, { instance: 'a"b\\c\nd' }));
  assert.is(value(p, 'ccs_sent_total'), 10);
  assert.is(value(p, 'ccs_nacked_total', { code: 'SERVICE_UNAVAILABLE' }), 2);
  assert.is(value(p, 'ccs_connections', { state: 'draining' }), 1);
  assert.is(value(p, 'ccs_receipts_waiting'), 6);
  assert.is(value(p, 'ccs_receipt_timeouts_total'), 2);
  assert.is(value(p, 'ccs_receipts_evicted_total'), 3);
  assert.is(p.types.get('ccs_receipts_waiting'), 'gauge');
  assert.is(p.types.get('ccs_receipts_evicted_total'), 'counter');
  assert.is(value(p, 'ccs_connection_free', { connection: 'c2', state: 'online' }), 99);
  assert.is(value(p, 'ccs_ack_latency_seconds_count'), 5);
  assert.ok(Math.abs((value(p, 'ccs_ack_latency_seconds_sum') as number) - 100.25605) < 1e-9);
  assert.is(value(p, 'ccs_ack_latency_seconds_bucket', { le: '0.0001' }), 1);
  assert.is(value(p, 'ccs_ack_latency_seconds_bucket', { le: '+Inf' }), 5);
  assert.ok(p.samples.every((s) => s.labels['instance'] === 'a"b\\c\nd'), 'the constant label on every sample, round-tripped');
  assert.throws(() => renderPrometheus(stats, { 'bad-name': 'x' }), RangeError);
});

test('client.metrics() after a run against the emulator parses, and its counters and gauges equal stats()', async () => {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0 });
  await emu.start();
  const opts: CcsClientOptions = {
    senderId: SENDER, apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 5, reconnectMaxMs: 50, retryBaseMs: 5, retryMaxMs: 40, handshakeTimeoutMs: 5000, connections: 2, maxPending: 5,
  };
  const client = new CcsClient({ ...opts, onUpstream: () => undefined });
  try {
    await client.connect();
    await until(() => client.stats().connections.online === 2);
    await Promise.all(Array.from({ length: 30 }, (_, i) => client.send({ to: `dev-${i % 5}` })));
    await client.send({ to: 'unregistered-1' }).catch(() => undefined);
    emu.injectUpstream(SENDER, { from: 'dev-1', message_id: 'm-up', data: { a: 1 } });
    await until(() => client.stats().upstreamAcked === 1);
    // Messages held in flight, so the per-connection gauges have something to show.
    emu.setFaults({ ackDelayMs: 300 });
    const held = Array.from({ length: 6 }, (_, i) => quiet(client.send({ to: `dev-${i}` })));
    await until(() => client.stats().pending === 6);
    const text = client.metrics();
    const stats = client.stats();
    const p = parsePrometheus(text);
    const counters: Array<[string, number]> = [
      ['ccs_sent_total', stats.sent], ['ccs_acked_total', stats.acked], ['ccs_retries_total', stats.retries], ['ccs_resent_total', stats.resent],
      ['ccs_failed_total', stats.failed], ['ccs_reconnects_total', stats.reconnects], ['ccs_drainings_total', stats.drainings],
      ['ccs_upstream_received_total', stats.upstreamReceived], ['ccs_upstream_unhandled_total', stats.upstreamUnhandled],
      ['ccs_upstream_acked_total', stats.upstreamAcked], ['ccs_receipts_total', stats.receipts], ['ccs_duplicates_dropped_total', stats.duplicatesDropped],
      ['ccs_pending', stats.pending], ['ccs_queued', stats.queued], ['ccs_waiting_retry', stats.waitingRetry], ['ccs_throttled_targets', stats.throttledTargets],
      ['ccs_receipts_waiting', stats.receiptsWaiting], ['ccs_receipt_timeouts_total', stats.receiptTimeouts], ['ccs_receipts_evicted_total', stats.receiptsEvicted],
    ];
    for (const [name, expected] of counters) assert.is(value(p, name), expected, name);
    assert.is(stats.sent, 37);
    assert.is(value(p, 'ccs_nacked_total', { code: 'DEVICE_UNREGISTERED' }), 1);
    assert.is(value(p, 'ccs_connections', { state: 'online' }), 2);
    // Per-connection gauges: two online connections whose pending add up to the total.
    assert.is(stats.perConnection.length, 2);
    assert.ok(stats.perConnection.every((c) => c.state === 'online' && c.onlineMs >= 0 && c.pending + c.free === 5));
    assert.is(stats.perConnection.reduce((a, c) => a + c.pending, 0), 6);
    for (const c of stats.perConnection) assert.is(value(p, 'ccs_connection_pending', { connection: c.connectionId }), c.pending);
    // The histogram: the 30 ACKs (a NACK is not an ACK), cumulative buckets, count and sum as stats() says.
    assert.is(stats.ackLatency.count, 30);
    assert.is(value(p, 'ccs_ack_latency_seconds_count'), 30);
    assert.is(value(p, 'ccs_ack_latency_seconds_bucket', { le: '+Inf' }), 30);
    const buckets = p.samples.filter((s) => s.name === 'ccs_ack_latency_seconds_bucket');
    assert.is(buckets.length, 41);
    for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]?.value as number) >= (buckets[i - 1]?.value as number), 'cumulative');
    assert.ok(Math.abs((value(p, 'ccs_ack_latency_seconds_sum') as number) - stats.ackLatency.sumMs / 1000) < 1e-9);
    assert.ok(stats.ackLatency.p50 > 0 && stats.ackLatency.p50 <= stats.ackLatency.p90 && stats.ackLatency.p90 <= stats.ackLatency.p99 && stats.ackLatency.p99 <= stats.ackLatency.maxMs);
    await Promise.all(held);
    emu.setFaults({ ackDelayMs: 0 });
    // The held ones were answered ≥ 300 ms after their write: the maximum says so.
    assert.ok(client.stats().ackLatency.maxMs >= 250, `max ${client.stats().ackLatency.maxMs}`);
  } finally {
    await client.close({ timeoutMs: 1000 });
    await emu.stop();
  }
});

test.run();
