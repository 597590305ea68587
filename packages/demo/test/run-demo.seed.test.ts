// `--seed` reproduces a run: two runs with one seed make the same fault and device decisions, so
// every count the seed decides is equal — whatever connection each echo took and whenever it came,
// offline devices, held and expired echoes included.
// (Not compared, as the summary says: CONNECTION_DRAINING NACKs — how many echoes were in flight
// when the drain came — and DEVICE_MESSAGE_RATE_EXCEEDED ones — a one-second window — nor the
// retries, latency and throughput that follow from timing.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runDemo, type DemoOptions, type DemoSummary } from '../src/index.js';
import { Collect } from './helpers.js';

const TIMING = new Set(['CONNECTION_DRAINING', 'DEVICE_MESSAGE_RATE_EXCEEDED']);

/** The counts a seed decides. */
function seeded(s: DemoSummary): object {
  const nacks: Record<string, unknown> = {};
  for (const [code, n] of Object.entries(s.nacks)) nacks[code] = TIMING.has(code) ? { final: n.final } : n;
  return {
    upstream: s.upstream, echoes: s.echoes, nacks, drainings: s.drainings, cuts: s.cuts,
    lost: s.lost, failed: s.failed, ok: s.ok, duplicatesToHandler: s.duplicatesToHandler, devicesSeen: s.devicesSeen,
  };
}

test('two demo runs with seed 7 (400 messages, no cut, 3 connections) give the same seeded counts', async () => {
  // More connections and a higher SERVICE_UNAVAILABLE rate than the defaults: which connection an
  // echo takes varies from run to run, and a per-connection draw would show it at once.
  const options: DemoOptions = {
    seed: 7, messages: 400, connections: 3, progressIntervalMs: 10_000,
    faults: { cutAt: false, serviceUnavailableRate: 0.1 },
  };
  const a = await runDemo(options, { out: new Collect() });
  const b = await runDemo(options, { out: new Collect() });
  assert.ok(a.ok && b.ok);
  assert.ok((a.nacks['SERVICE_UNAVAILABLE']?.received ?? 0) > 10, JSON.stringify(a.nacks));
  assert.ok((a.nacks['DEVICE_UNREGISTERED']?.final ?? 0) + (a.nacks['BAD_REGISTRATION']?.final ?? 0) > 0);
  // The device model's decisions too: which devices were offline, which echoes were held or expired.
  assert.ok(a.devicesSeen.offline > 0 && a.devicesSeen.held > 0 && a.devicesSeen.expired > 0, JSON.stringify(a.devicesSeen));
  assert.equal(seeded(b), seeded(a));
});

test.run();
