/** The shapes the emulator reports about itself (`connections()`, `devices()`, `status()`), shared with the admin API. */
import type { Faults } from './faults.js';
import type { LedgerTotals } from './ledger.js';
import type { DeviceState } from './registry.js';
import type { DeviceTotals } from './devices.js';
import type { FlowControlStats, SessionState } from './session.js';

/** A connection as `connections()` lists it. */
export interface ConnectionInfo {
  id: number;
  senderId: string | undefined;
  jid: string | undefined;
  /** `stream` (waiting for the header), `sasl`, `bind`, `ready`, `draining`, `closed`. */
  state: SessionState;
  draining: boolean;
  /** Upstream messages written and not ACKed. */
  pendingUpstream: number;
  /** Answers held back by `ackDelayMs`. */
  owedAnswers: number;
  /** When it connected (ms since the epoch). */
  since: number;
  /** The faults in effect on it (global ones merged with its own). */
  faults: Faults;
  /** Its most un-answered downstream messages at once, and those past the window. */
  flowControl: FlowControlStats;
}

/** A registered simulated device, as `devices()` lists it. */
export interface DeviceInfo {
  token: string;
  senderId: string | undefined;
  state: DeviceState;
  canonicalId: string | undefined;
  maxPerSecond: number | undefined;
  /** Deliveries recorded for it (0 with `keepDeliveries: false`). */
  delivered: number;
}

/** A snapshot of everything, as `status()` returns it. */
export interface EmulatorStatus {
  host: string;
  port: number;
  seed: number;
  state: 'new' | 'starting' | 'stopping' | 'running' | 'stopped';
  senders: string[];
  connections: ConnectionInfo[];
  /** The global faults. */
  faults: Faults;
  /** Upstream messages waiting for a connection (all senders). */
  queuedUpstream: number;
  totals: LedgerTotals;
  deviceTotals: DeviceTotals;
}
