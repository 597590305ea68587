import type { NackCode } from '@ccs-xmpp/stanza';
import { LatencyHistogram, type LatencySnapshot } from './latency.js';

/** A `stats()` snapshot. Counters only grow; gauges are current values. */
export interface CcsStats {
  /** Gauge: connections online (draining ones included), draining, and being opened. */
  connections: { online: number; draining: number; connecting: number };
  /** Gauge: per connection (draining and connecting ones included): its state, messages in flight, free window, ms since it came online (0 before). */
  perConnection: ConnectionGauges[];
  /** Gauge: downstream messages written and not answered. */
  pending: number;
  /** Gauge: messages waiting for a window slot. */
  queued: number;
  /** Gauge: messages waiting for a retry delay (backoff or rate limit). */
  waitingRetry: number;
  /** Gauge: devices and topics currently slowed down after a `*_MESSAGE_RATE_EXCEEDED` NACK. */
  throttledTargets: number;
  /** Downstream writes (retries and resends included). */
  sent: number;
  acked: number;
  /** NACKs (and stanza errors) by NACK code. */
  nacked: Partial<Record<NackCode, number>>;
  /** NACK-driven retries scheduled. */
  retries: number;
  /** Messages re-sent because their connection closed or drained before answering. */
  resent: number;
  /** Promises failed for good (NACK, timeout, abort, close). */
  failed: number;
  /** Reconnect attempts scheduled. */
  reconnects: number;
  /** `CONNECTION_DRAINING` controls received. */
  drainings: number;
  /** Upstream messages and receipts received (duplicates included). */
  upstreamReceived: number;
  /** Upstream messages left un-ACKed because nothing consumes them (no handler, iterator or `upstream` listener). */
  upstreamUnhandled: number;
  /** ACKs written for upstream messages and receipts. */
  upstreamAcked: number;
  /** Receipts received (duplicates included). */
  receipts: number;
  /** Resent upstream messages dropped by the de-duplication window. */
  duplicatesDropped: number;
  /** Gauge: delivery receipts awaited by `send(…, { receipt: true })` promises (messages not yet ACKed included). */
  receiptsWaiting: number;
  /** Receipt promises rejected with `CCS_ERR_RECEIPT_TIMEOUT`. */
  receiptTimeouts: number;
  /** Receipt promises rejected with `CCS_ERR_RECEIPT_OVERFLOW`: the oldest waits, given up past `maxReceiptWaiters`. */
  receiptsEvicted: number;
  /** Histogram: ACK latency (ms) from a message's last write to its ACK, with p50/p90/p99/max. */
  ackLatency: LatencySnapshot;
}

/** One connection's gauges in a `stats()` snapshot. */
export interface ConnectionGauges {
  connectionId: string;
  state: 'connecting' | 'online' | 'draining';
  /** Messages written on it and not answered. */
  pending: number;
  /** How many more it may take (`maxPending - pending`; 0 while not usable). */
  free: number;
  /** Milliseconds since it came online; 0 while connecting. */
  onlineMs: number;
}

/** The gauges of a snapshot, read from the components that own them. */
export type CcsGauges = Pick<CcsStats, 'connections' | 'perConnection' | 'pending' | 'queued' | 'waitingRetry' | 'throttledTargets' | 'receiptsWaiting'>;

/**
 * The client's counters. Each component is given this object and bumps only the counters of its
 * own events (outbox: sends and answers; pool: reconnects and drains; inbox: upstream); gauges are
 * not stored here but recounted by their owners at snapshot time, so they cannot drift.
 */
export class Counters {
  sent = 0;
  acked = 0;
  retries = 0;
  resent = 0;
  failed = 0;
  reconnects = 0;
  drainings = 0;
  upstreamReceived = 0;
  upstreamUnhandled = 0;
  upstreamAcked = 0;
  receipts = 0;
  duplicatesDropped = 0;
  receiptTimeouts = 0;
  receiptsEvicted = 0;
  readonly nacked: Partial<Record<NackCode, number>> = {};
  /** ACK latency (recorded by the outbox). */
  readonly ackLatency = new LatencyHistogram();

  /** Counts a NACK (or stanza error) of `code`. */
  nack(code: NackCode): void {
    this.nacked[code] = (this.nacked[code] ?? 0) + 1;
  }

  /** A snapshot with the given gauges. */
  snapshot(gauges: CcsGauges): CcsStats {
    return {
      ...gauges,
      sent: this.sent, acked: this.acked, nacked: { ...this.nacked }, retries: this.retries, resent: this.resent,
      failed: this.failed, reconnects: this.reconnects, drainings: this.drainings,
      upstreamReceived: this.upstreamReceived, upstreamUnhandled: this.upstreamUnhandled,
      upstreamAcked: this.upstreamAcked, receipts: this.receipts, duplicatesDropped: this.duplicatesDropped,
      receiptTimeouts: this.receiptTimeouts, receiptsEvicted: this.receiptsEvicted,
      ackLatency: this.ackLatency.snapshot(),
    };
  }
}
