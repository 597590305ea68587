import type { Ledger } from './ledger.js';
import type { DeviceRegistry } from './registry.js';
import type { Devices } from './devices.js';
import type { FlowControlOptions } from './flow-control.js';
import type { SeededDecisions } from './seeded-decisions.js';
import type { UpstreamEntry, UpstreamOutlet } from './upstream-router.js';

export type { UpstreamEntry } from './upstream-router.js';

/** An event as `emu.on('event', …)` receives it. Never carries an API key or SASL payload. */
export interface EmulatorEvent {
  /** `connection`, `auth`, `bind`, `downstream`, `nack`, `stanza-error`, `ack`, `upstream`, `upstream-ack`, `receipt`, `drain`, `fault`, `stream-error`, `close`, `tls-error`, `connection-refused`, `upstream-injected`, `faults`, `device`, `reset`. */
  type: string;
  /** The connection it is about, when it is about one. */
  connectionId?: number;
  [key: string]: unknown;
}

/**
 * What a connection needs from the emulator: a typed sink given at construction (STYLE "How
 * layers talk"), so the per-message path makes direct calls and no events unless someone listens.
 * Connections appear here only as {@link UpstreamOutlet}s: this file knows no session.
 */
export interface Hub {
  readonly domain: string;
  readonly registry: DeviceRegistry;
  readonly ledger: Ledger;
  readonly maxPendingUpstream: number;
  /** The flow-control window a client must respect (un-answered downstream per connection). */
  readonly flowControl: FlowControlOptions;
  /** NACK in the CCS document's shape; `authfailed-`/`quota-` tokens. */
  readonly legacyNacks: boolean;
  readonly upstreamResendMs: number;
  readonly drainTimeoutMs: number;
  /** Fault draws keyed by seed + message, so that a seed reproduces a run whatever the timing. */
  readonly decisions: SeededDecisions;
  /** The devices' presence and held messages, and device groups. */
  readonly devices: Devices;
  /** True when someone listens to `event`: events are built only then. */
  readonly emitting: boolean;
  emit(event: EmulatorEvent): void;
  /** The API key of the sender whose authcid this is, or undefined. */
  password(authcid: string): string | undefined;
  /** The sender ID of an authcid (`SENDER@gcm.googleapis.com`). */
  senderOf(authcid: string): string | undefined;
  /** The connection is bound and can take upstream messages. */
  bound(outlet: UpstreamOutlet): void;
  /** The connection can take more upstream messages (an ACK arrived, or it drained its socket). */
  capacity(outlet: UpstreamOutlet): void;
  /** The app server ACKed an upstream message or receipt in flight on a connection. */
  acked(entry: UpstreamEntry): void;
  /** Whether this sender's upstream message or receipt `id` was ACKed before. */
  wasAcked(senderId: string, id: string): boolean;
  /** A downstream message asked for a delivery receipt; it was delivered to `token`. */
  receipt(outlet: UpstreamOutlet, originalId: string, token: string): void;
  /** Connection `id` is gone; `inflight` are its un-ACKed upstream messages, oldest first. */
  closed(id: number, outlet: UpstreamOutlet, inflight: UpstreamEntry[]): void;
}
