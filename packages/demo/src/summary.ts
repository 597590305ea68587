/**
 * The summary table printed at the end of a run: aligned plain text (no colours, no box-drawing),
 * so that it reads the same in a terminal, a CI log and a bug report.
 */
import type { DemoSummary } from './run-demo.js';

/** Nearest-rank percentile of an ascending array (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

// How the client treats a NACK code (ccs README, "Retry classes"): said next to its count.
// The two marked "timing" are the only NACK counts a seed does not fix: how many echoes were in
// flight when the drain came, and how retries fell into the device's one-second window.
const RETRIED: Record<string, string> = {
  CONNECTION_DRAINING: 'retried on another connection (timing: in flight at the drain)',
  SERVICE_UNAVAILABLE: 'retried with backoff',
  INTERNAL_SERVER_ERROR: 'retried with backoff',
  DEVICE_MESSAGE_RATE_EXCEEDED: 'retried after slowing down that device (timing: 1 s window)',
  TOPICS_MESSAGE_RATE_EXCEEDED: 'retried after slowing down that topic',
};

/** The summary as aligned text, ending with the verdict line. */
export function formatSummary(s: DemoSummary): string {
  const rows: Array<[string, string, string, string]> = [];
  const row = (section: string, label: string, value: string | number, note = ''): void => {
    rows.push([section, label, String(value), note]);
  };
  const secs = s.elapsedMs / 1000;
  const u = s.upstream;
  const e = s.echoes;
  row('upstream', 'sent by devices', u.injected, s.aborted ? '(stopped early)' : '');
  row('', 'ACKed by the app server', u.acked, `ledger: ${u.unacked} un-ACKed`);
  row('', 'handled by the echo handler', u.handled, `${s.duplicatesToHandler} duplicate${s.duplicatesToHandler === 1 ? '' : 's'} reached it`);
  row('', 'resends dropped by the client', u.duplicatesDropped, 'already handled: ACKed again, not re-run');
  row('downstream', 'echoes sent', e.sent);
  row('', 'ACKed', e.acked, e.canonical > 0 ? `${e.canonical} with a canonical registration_id` : '');
  row('', 'NACKed for good', e.nacked, s.failed > 0 ? `${s.failed} to valid devices!` : 'all to unregistered/bad devices');
  if (e.errors > 0) row('', 'failed otherwise', e.errors, 'upstream left un-ACKed, so CCS re-sent it');
  row('', 'delivered to devices', e.delivered, `ledger; +${e.deliveredDuplicates} duplicate deliveries (at-least-once)`);
  const codes = Object.keys(s.nacks).sort((a, b) => (s.nacks[b]?.received ?? 0) - (s.nacks[a]?.received ?? 0) || a.localeCompare(b));
  if (codes.length === 0) row('NACKs', '(none)', '');
  codes.forEach((code, i) => {
    const n = s.nacks[code] as { received: number; final: number };
    const retried = n.received - n.final;
    const how = n.final === 0 ? (RETRIED[code] ?? 'retried') : retried === 0 ? 'final' : `${n.final} final, ${retried} retried`;
    row(i === 0 ? 'NACKs' : '', code, n.received, how);
  });
  const d = s.devicesSeen;
  row('devices', 'offline during the run', d.offline, 'back online at the end');
  row('', 'echoes held for them', d.held, `${d.deliveredLater} delivered when they came back`);
  row('', 'expired, never delivered', d.expired, 'time_to_live 0 to an offline device: ACKed, not lost');
  row('recovery', 'retries', s.retries);
  row('', 're-sent after a drain or cut', s.resent, 'same message_id, original order');
  row('', 'drainings / cuts / reconnects', `${s.drainings} / ${s.cuts} / ${s.reconnects}`);
  row('latency', 'ACK p50 / p90 / p99 / max', `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p90)} / ${ms(s.latencyMs.p99)} / ${ms(s.latencyMs.max)}`, 'ms, last write → ACK (client stats().ackLatency)');
  row('throughput', 'upstream / echoes', `${Math.round(u.acked / secs)} / ${Math.round(e.acked / secs)}`, `msg/s over ${secs.toFixed(1)} s`);

  const w = [0, 0, 0];
  for (const r of rows) for (let i = 0; i < 3; i++) w[i] = Math.max(w[i] as number, r[i]?.length ?? 0);
  const lines = rows.map(([a, b, c, d]) => `  ${a.padEnd(w[0] as number)}  ${b.padEnd(w[1] as number)}  ${c.padStart(w[2] as number)}${d === '' ? '' : `  ${d}`}`);
  const rule = `  ${'-'.repeat(Math.max(...lines.map((l) => l.length)) - 2)}`;
  let verdict: string;
  if (s.lost === 0) {
    verdict = `nothing lost: every upstream message ACKed and handled, every echo settled, every ACKed echo in the ledger${s.devicesSeen.expired > 0 ? ' or expired by its time_to_live' : ''}`;
  } else {
    const d = s.lostDetail;
    verdict = `LOST ${s.lost}: ${d.notAcked} upstream un-ACKed, ${d.notHandled} never handled, ${d.unsettled} echoes unsettled, ${d.notDelivered} ACKed echoes not in the ledger`;
  }
  if (s.failed > 0) verdict += `; ${s.failed} echoes to valid devices refused`;
  return [
    '',
    `Summary — seed ${s.seed}, ${s.devices} devices, ${s.connections} connection${s.connections === 1 ? '' : 's'}, ${secs.toFixed(1)} s`,
    rule,
    ...lines,
    rule,
    `  result: ${verdict}`,
    '',
  ].join('\n');
}
