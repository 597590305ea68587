// The pieces without I/O: percentile, the status line, Progress pacing, the summary table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Progress, formatSummary, percentile, statusLine, type DemoSummary, type ProgressSnapshot } from '../src/index.js';
import { Collect } from './helpers.js';

const snap = (over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  elapsedMs: 1234, injected: 50, total: 100, upstreamAcked: 48, echoesSent: 48, echoesAcked: 40, echoesNacked: 5,
  rate: 399.6, online: 2, draining: 1, reconnects: 1, ...over,
});

test('percentile is nearest-rank and 0 for no samples', () => {
  assert.is(percentile([], 0.5), 0);
  assert.is(percentile([5], 0.99), 5);
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.is(percentile(xs, 0.5), 50);
  assert.is(percentile(xs, 0.99), 99);
  assert.is(percentile(xs, 1), 100);
  assert.is(percentile(xs, 0), 1);
});

test('statusLine shows counts in words for logs, compactly on a TTY, with a bar when there is room', () => {
  assert.is(statusLine(snap(), false), '[  1.2s] up 50/100 ACKed 48 | echoes 48 sent 40 ACK 5 NACK | 400/s | 2 conn (1 draining) | reconnects 1');
  assert.is(statusLine(snap(), true), '  1.2s [#####.......]  45%  up 48/100  echoes 40 ACK 5 NACK  400/s  conns 2 (1 draining)  reconnects 1');
  assert.is(statusLine(snap({ draining: 0 }), true, 80), '  1.2s  45%  up 48/100  echoes 40 ACK 5 NACK  400/s  conns 2  reconnects 1');
  assert.match(statusLine(snap({ total: 0 }), true, 120), /\[#{12}\] 100% /);
});

test('Progress redraws at most every intervalMs, prints events above the status line, and ends the line', () => {
  const tty = new Collect(true, 40);
  const p = new Progress(tty, 100);
  p.update(snap({ elapsedMs: 0 }));
  p.update(snap({ elapsedMs: 50 }));
  p.update(snap({ elapsedMs: 100 }));
  assert.is(tty.text.split('\r\u001b[2K').length - 1, 2);
  p.event(120, 'connection c1 lost');
  assert.match(tty.text, /\r\u001b\[2K\[ {2}0\.1s\] connection c1 lost\n.{39}$/);
  p.finish(snap({ elapsedMs: 130 }));
  assert.ok(tty.text.endsWith('\n'));

  const log = new Collect(false);
  const q = new Progress(log);
  q.update(snap({ elapsedMs: 0 }));
  q.update(snap({ elapsedMs: 1999 }));
  q.update(snap({ elapsedMs: 2000 }));
  q.event(2100, 'draining');
  q.finish(snap({ elapsedMs: 2200 }));
  assert.is(log.text.split('\n').length - 1, 4);
  assert.not.match(log.text, /\r|\u001b/);
});

const base = (): DemoSummary => ({
  seed: 1, devices: 3, connections: 1, elapsedMs: 2000, aborted: false,
  upstream: { injected: 10, acked: 9, unacked: 1, handled: 8, duplicatesDropped: 0 },
  echoes: { sent: 9, acked: 6, nacked: 2, errors: 1, canonical: 0, delivered: 5, deliveredDuplicates: 0 },
  nacks: {
    SERVICE_UNAVAILABLE: { received: 3, final: 1 },
    BAD_REGISTRATION: { received: 1, final: 1 },
    SOMETHING_NEW: { received: 2, final: 0 },
  },
  retries: 4, resent: 0, reconnects: 0, drainings: 0, cuts: 0,
  latencyMs: { p50: 1.25, p90: 90.5, p99: 150.4, max: 151 },
  lost: 3, lostDetail: { notAcked: 0, notHandled: 2, unsettled: 0, notDelivered: 1 },
  devicesSeen: { offline: 2, held: 4, deliveredLater: 3, expired: 1 },
  failed: 1, duplicatesToHandler: 1, ok: false,
});

test('formatSummary says what was lost and what failed, in aligned columns', () => {
  const text = formatSummary(base());
  assert.match(text, /Summary — seed 1, 3 devices, 1 connection, 2\.0 s/);
  assert.match(text, /result: LOST 3: 0 upstream un-ACKed, 2 never handled, 0 echoes unsettled, 1 ACKed echoes not in the ledger; 1 echoes to valid devices refused/);
  assert.match(text, /NACKed for good\s+2 {2}1 to valid devices!/);
  assert.match(text, /failed otherwise\s+1/);
  assert.match(text, /SERVICE_UNAVAILABLE\s+3 {2}1 final, 2 retried/);
  assert.match(text, /SOMETHING_NEW\s+2 {2}retried$/m);
  assert.match(text, /1 duplicate reached it/);
  assert.match(text, /1\.3 \/ 90\.5 \/ 150 \/ 151/);
  assert.match(text, /devices\s+offline during the run\s+2 {2}back online at the end/);
  assert.match(text, /echoes held for them\s+4 {2}3 delivered when they came back/);
  assert.match(text, /expired, never delivered\s+1 {2}time_to_live 0 to an offline device: ACKed, not lost/);
  // Every value ends in the same column.
  const lines = text.split('\n');
  const endOf = (label: string): number => {
    const line = lines.find((l) => l.includes(label)) as string;
    const m = new RegExp(`${label}\\s+(\\S+)`).exec(line) as RegExpExecArray;
    return m.index + m[0].length;
  };
  const col = endOf('sent by devices');
  for (const label of ['echoes sent', 'BAD_REGISTRATION', 'retries', 'ACKed by the app server']) assert.is(endOf(label), col, label);
  const ok = formatSummary({ ...base(), lost: 0, failed: 0, ok: true });
  assert.match(ok, /result: nothing lost: every upstream message ACKed and handled/);
});

test.run();
