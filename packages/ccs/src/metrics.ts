import type { CcsStats } from './stats.js';

/**
 * `stats()` in the Prometheus text exposition format (version 0.0.4): counters as `ccs_…_total`,
 * gauges, and the ACK-latency histogram as `ccs_ack_latency_seconds_bucket/_sum/_count` (seconds,
 * the Prometheus base unit), each family with its `# HELP` and `# TYPE` lines. No dependency: the
 * format is a few lines of text, and a `prom-client` user can serve this string from the same
 * endpoint as its own registry (`registry.metrics() + client.metrics()`).
 *
 * @param labels constant labels added to every sample (e.g. `{ instance: 'a' }`); names must be
 *   valid Prometheus label names.
 */
export function renderPrometheus(stats: CcsStats, labels: Readonly<Record<string, string>> = {}): string {
  for (const name of Object.keys(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith('__')) throw new RangeError(`invalid Prometheus label name ${JSON.stringify(name)}`);
  }
  const constant = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  const set = (extra: string[] = []): string => {
    const all = [...constant, ...extra];
    return all.length === 0 ? '' : `{${all.join(',')}}`;
  };
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const counter = (name: string, help: string, value: number): void => {
    family(name, 'counter', help);
    lines.push(`${name}${set()} ${value}`);
  };
  const gauge = (name: string, help: string, value: number): void => {
    family(name, 'gauge', help);
    lines.push(`${name}${set()} ${value}`);
  };

  counter('ccs_sent_total', 'Downstream messages written (retries and resends included).', stats.sent);
  counter('ccs_acked_total', 'Downstream messages ACKed by CCS.', stats.acked);
  family('ccs_nacked_total', 'counter', 'NACKs and stanza errors received, by NACK code.');
  for (const [code, n] of Object.entries(stats.nacked).sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`ccs_nacked_total${set([`code="${escapeLabel(code)}"`])} ${n ?? 0}`);
  counter('ccs_retries_total', 'NACK-driven retries scheduled.', stats.retries);
  counter('ccs_resent_total', 'Messages resent because their connection closed or drained before answering.', stats.resent);
  counter('ccs_failed_total', 'Send promises rejected for good (NACK, timeout, abort, close).', stats.failed);
  counter('ccs_reconnects_total', 'Reconnect attempts scheduled.', stats.reconnects);
  counter('ccs_drainings_total', 'CONNECTION_DRAINING controls received.', stats.drainings);
  counter('ccs_upstream_received_total', 'Upstream messages and receipts received (duplicates included).', stats.upstreamReceived);
  counter('ccs_upstream_unhandled_total', 'Upstream messages left un-ACKed because nothing consumes them.', stats.upstreamUnhandled);
  counter('ccs_upstream_acked_total', 'ACKs written for upstream messages and receipts.', stats.upstreamAcked);
  counter('ccs_receipts_total', 'Delivery receipts received (duplicates included).', stats.receipts);
  counter('ccs_duplicates_dropped_total', 'Resent upstream messages dropped by the de-duplication window.', stats.duplicatesDropped);
  counter('ccs_receipt_timeouts_total', 'Receipt promises rejected because no receipt came within receiptTimeoutMs.', stats.receiptTimeouts);
  counter('ccs_receipts_evicted_total', 'Receipt promises rejected because maxReceiptWaiters receipts were awaited (oldest first).', stats.receiptsEvicted);

  family('ccs_connections', 'gauge', 'Connections by state (online includes draining).');
  for (const state of ['online', 'draining', 'connecting'] as const) lines.push(`ccs_connections${set([`state="${state}"`])} ${stats.connections[state]}`);
  gauge('ccs_pending', 'Downstream messages written and not answered.', stats.pending);
  gauge('ccs_queued', 'Messages waiting for a window slot.', stats.queued);
  gauge('ccs_waiting_retry', 'Messages waiting for a retry delay.', stats.waitingRetry);
  gauge('ccs_throttled_targets', 'Devices and topics slowed down after a rate-limit NACK.', stats.throttledTargets);
  gauge('ccs_receipts_waiting', 'Delivery receipts awaited by send() receipt promises.', stats.receiptsWaiting);
  family('ccs_connection_pending', 'gauge', 'Per connection: downstream messages in flight.');
  for (const c of stats.perConnection) lines.push(`ccs_connection_pending${set([`connection="${escapeLabel(c.connectionId)}"`, `state="${c.state}"`])} ${c.pending}`);
  family('ccs_connection_free', 'gauge', 'Per connection: free window (0 while not usable).');
  for (const c of stats.perConnection) lines.push(`ccs_connection_free${set([`connection="${escapeLabel(c.connectionId)}"`, `state="${c.state}"`])} ${c.free}`);

  const h = stats.ackLatency;
  family('ccs_ack_latency_seconds', 'histogram', 'Downstream ACK latency, from the last write to the ACK.');
  for (const b of h.buckets) lines.push(`ccs_ack_latency_seconds_bucket${set([`le="${b.le === Infinity ? '+Inf' : String(b.le / 1000)}"`])} ${b.count}`);
  lines.push(`ccs_ack_latency_seconds_sum${set()} ${h.sumMs / 1000}`, `ccs_ack_latency_seconds_count${set()} ${h.count}`);
  return `${lines.join('\n')}\n`;
}

/** Label values escape backslash, double quote and newline (the exposition format's rule). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
