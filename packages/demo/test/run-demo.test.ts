// runDemo end to end against the embedded emulator (real TLS on 127.0.0.1), with small numbers:
// the summary is checked against the ledger, progress is printed the way each output wants it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runDemo, type DemoSummary } from '../src/index.js';
import { Collect } from './helpers.js';

test('a run with NACKs, a drain and a cut loses nothing, and its counts add up', async () => {
  const out = new Collect();
  const s: DemoSummary = await runDemo({
    devices: 50, messages: 300, rate: 1000, connections: 2, seed: 7, progressIntervalMs: 100,
    faults: { nackRate: 0.05, serviceUnavailableRate: 0.02, drainAt: 0.3, cutAt: 0.6 },
  }, { out });
  assert.is(s.ok, true, out.text);
  assert.is(s.lost, 0);
  assert.equal(s.lostDetail, { notAcked: 0, notHandled: 0, unsettled: 0, notDelivered: 0 });
  assert.is(s.failed, 0);
  assert.is(s.duplicatesToHandler, 0);
  assert.is(s.aborted, false);
  assert.equal([s.devices, s.connections, s.seed], [50, 2, 7]);
  // Upstream: every message ACKed (ledger) and handled once.
  assert.is(s.upstream.injected, 300);
  assert.is(s.upstream.acked, 300);
  assert.is(s.upstream.unacked, 0);
  assert.is(s.upstream.handled, 300);
  // Echoes: one per upstream message; each ACKed or refused for good; every ACKed one delivered.
  assert.is(s.echoes.sent, 300);
  assert.is(s.echoes.acked + s.echoes.nacked, 300);
  assert.is(s.echoes.errors, 0);
  // Every ACKed echo delivered, but those that expired ("now or never" to an offline device).
  assert.is(s.echoes.delivered, s.echoes.acked - s.devicesSeen.expired);
  // Some devices were offline: what CCS held for them reached them when they came back at the end.
  assert.ok(s.devicesSeen.offline > 0 && s.devicesSeen.held > 0, JSON.stringify(s.devicesSeen));
  assert.is(s.devicesSeen.deliveredLater, s.devicesSeen.held);
  assert.match(out.text, /offline during the run\s+\d+\s+back online at the end/);
  assert.match(out.text, /echoes held for them\s+\d+\s+\d+ delivered when they came back/);
  assert.ok(s.echoes.nacked > 0);
  const final = (s.nacks['DEVICE_UNREGISTERED']?.final ?? 0) + (s.nacks['BAD_REGISTRATION']?.final ?? 0);
  assert.is(final, s.echoes.nacked);
  // The rate-limited device's burst: NACKed, then retried until ACKed.
  const rate = s.nacks['DEVICE_MESSAGE_RATE_EXCEEDED'];
  assert.ok(rate !== undefined && rate.received > 0 && rate.final === 0, JSON.stringify(s.nacks));
  assert.ok(s.retries >= rate.received);
  assert.is(s.drainings, 1);
  assert.is(s.cuts, 1);
  assert.ok(s.reconnects >= 1);
  assert.ok(s.latencyMs.p50 > 0 && s.latencyMs.p50 <= s.latencyMs.p90 && s.latencyMs.p90 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max);
  // What the user sees.
  assert.match(out.text, /^CCS echo demo: emulator on 127\.0\.0\.1:\d+ \(TLS\), 50 simulated devices, seed 7\n/);
  assert.match(out.text, /\[\s+\d+\.\ds\] up \d+\/300 ACKed \d+ \| echoes/);
  assert.match(out.text, /CONNECTION_DRAINING — no new sends there/);
  // (The drained connection's close may come after the run settled: not asserted.)
  assert.match(out.text, /lost \(.*\) — its un-answered echoes are re-sent/);
  assert.match(out.text, /Summary — seed 7, 50 devices, 2 connections/);
  assert.match(out.text, /DEVICE_MESSAGE_RATE_EXCEEDED\s+\d+\s+retried after slowing down that device/);
  assert.match(out.text, /drainings \/ cuts \/ reconnects\s+1 \/ 1 \/ \d+/);
  assert.match(out.text, /result: nothing lost/);
  assert.not.match(out.text, /\r/);
  // Not a flood: one progress line per 100 ms interval at most, and a few event lines. The run's
  // length is timing, not a bound: the rate-limited device's third message is NACKed (2 per
  // second), and its probes follow the client's backoff (retryBaseMs 100: 50-100, 100-200,
  // 200-400, 400-800 ms). When those four pauses and their round trips sum to just under the
  // emulator's fixed one-second window, the fifth probe is NACKed too and waits 800-1600 ms more:
  // the run then takes ~2.5 s instead of ~1 s, and a flat line limit failed about one run in seven.
  const lines = out.text.split('\n');
  const progressLines = lines.filter((l) => /^\[\s*\d+\.\ds\] up \d+\/300 /.test(l)).length;
  assert.ok(progressLines <= Math.floor(s.elapsedMs / 100) + 2, `${progressLines} progress lines in ${s.elapsedMs} ms:\n${out.text}`);
  assert.ok(lines.length - progressLines < 45, out.text);
});

test('on a TTY one status line is redrawn in place, cut to the terminal width', async () => {
  const out = new Collect(true, 60);
  const s = await runDemo({
    devices: 10, messages: 120, rate: 400, seed: 3, progressIntervalMs: 50,
    faults: { nackRate: 0, serviceUnavailableRate: 0, drainAt: false, cutAt: false, rateLimit: false },
  }, { out });
  assert.is(s.ok, true);
  assert.is(s.echoes.acked, 120);
  assert.equal(s.nacks, {});
  const redraws = out.text.split('\r\u001b[2K').slice(1);
  assert.ok(redraws.length >= 3, `${redraws.length} redraws`);
  for (const r of redraws.slice(0, -1)) assert.ok(r.length <= 59, JSON.stringify(r));
  assert.match(redraws[0] ?? '', /^\s+\d+\.\ds\s+\d+%  up \d+\/120  echoes /);
  assert.match(out.text, /100%  up 120\/120/);
  assert.match(out.text, /NACKs\s+\(none\)/);
  assert.match(out.text, /faults: none/);
});

test('an abort stops injecting; what was sent settles and is summarised', async () => {
  const ac = new AbortController();
  // Abort once injecting has begun (the first status line, drawn right after the first injection),
  // not after a fixed time: on a loaded machine the setup alone can outlast any fixed delay.
  const out = new (class extends Collect {
    override write(s: string): boolean {
      if (/\] up [1-9]\d*\//.test(s)) ac.abort();
      return super.write(s);
    }
  })();
  const s = await runDemo({
    devices: 20, messages: 100_000, rate: 500, seed: 11, connections: 1, signal: ac.signal,
    faults: { drainAt: false, cutAt: false, rateLimit: false },
  }, { out });
  assert.is(s.aborted, true);
  assert.ok(s.upstream.injected > 0 && s.upstream.injected < 1000, String(s.upstream.injected));
  assert.is(s.upstream.acked, s.upstream.injected);
  assert.is(s.ok, true);
  assert.match(out.text, /stopping: no more upstream messages/);
  assert.match(out.text, /\(stopped early\)/);
});

test('durationSec sets the message count from the rate', async () => {
  const s = await runDemo({ devices: 5, durationSec: 0.2, rate: 500, seed: 1, faults: { drainAt: false, cutAt: false, rateLimit: false } }, { out: new Collect() });
  assert.is(s.upstream.injected, 100);
  assert.is(s.ok, true);
});

test('giving up before things settle reports what is missing as lost and ok false', async () => {
  const out = new Collect();
  const s = await runDemo({
    devices: 5, messages: 200, rate: 100_000, seed: 2, settleTimeoutMs: 0,
    faults: { drainAt: false, cutAt: false, rateLimit: false },
  }, { out });
  assert.is(s.ok, false);
  assert.ok(s.lost > 0);
  assert.match(out.text, /gave up waiting after 0 ms/);
  assert.match(out.text, /result: LOST \d+/);
});

test('bad options are refused before anything starts', async () => {
  for (const bad of [{ devices: 0 }, { messages: -1 }, { rate: Number.NaN }, { connections: 65 }, { faults: { nackRate: 2 } }, { faults: { drainAt: 1.5 } }, { durationSec: 0 }]) {
    const err = await runDemo(bad, { out: new Collect() }).then(() => undefined, (e: unknown) => e);
    assert.instance(err, RangeError, JSON.stringify(bad));
  }
});

test.run();
