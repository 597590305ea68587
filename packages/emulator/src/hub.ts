import type { Faults } from './faults.js';
import type { Ledger } from './ledger.js';
import type { DeviceRegistry } from './registry.js';
import type { SeededDecisions } from './seeded-decisions.js';
import type { Session } from './session.js';

/** One upstream message (or delivery receipt) owed to a sender until the app server ACKs it. */
export interface UpstreamEntry {
  /** Its `message_id` (`dr2:…` for a receipt). */
  readonly id: string;
  readonly senderId: string;
  /** The whole stanza, encoded once and re-sent as is. */
  readonly stanza: string;
  readonly receipt: boolean;
  /** When it was last written (ms), for same-connection re-sends. */
  sentAt: number;
  /** How many times it was written. */
  sends: number;
}

/** An event as `emu.on('event', …)` receives it. Never carries an API key or SASL payload. */
export interface EmulatorEvent {
  /** `connection`, `auth`, `bind`, `downstream`, `nack`, `stanza-error`, `ack`, `upstream`, `upstream-ack`, `receipt`, `drain`, `fault`, `stream-error`, `close`. */
  type: string;
  /** The connection it is about, when it is about one. */
  connectionId?: number;
  [key: string]: unknown;
}

/**
 * What a connection needs from the emulator: a typed sink given at construction (STYLE "How
 * layers talk"), so the per-message path makes direct calls and no events unless someone listens.
 */
export interface Hub {
  readonly domain: string;
  readonly registry: DeviceRegistry;
  readonly ledger: Ledger;
  readonly maxPendingUpstream: number;
  readonly upstreamResendMs: number;
  readonly drainTimeoutMs: number;
  /** Fault draws keyed by seed + message, so that a seed reproduces a run whatever the timing. */
  readonly decisions: SeededDecisions;
  /** True when someone listens to `event`: events are built only then. */
  readonly emitting: boolean;
  emit(event: EmulatorEvent): void;
  /** The API key of the sender whose authcid this is, or undefined. */
  password(authcid: string): string | undefined;
  /** The sender ID of an authcid (`SENDER@gcm.googleapis.com`). */
  senderOf(authcid: string): string | undefined;
  /** The global faults merged with this connection's own. */
  faultsFor(session: Session): Faults;
  /** The connection is bound and can take upstream messages. */
  bound(session: Session): void;
  /** The connection can take more upstream messages (an ACK arrived, or it drained its socket). */
  capacity(session: Session): void;
  /** The app server ACKed an upstream message or receipt in flight on this connection. */
  acked(session: Session, entry: UpstreamEntry): void;
  /** Whether this sender's upstream message or receipt `id` was ACKed before. */
  wasAcked(senderId: string, id: string): boolean;
  /** A downstream message asked for a delivery receipt; it was delivered to `token`. */
  receipt(session: Session, originalId: string, token: string): void;
  /** The connection is gone; `inflight` are its un-ACKed upstream messages, oldest first. */
  closed(session: Session, inflight: UpstreamEntry[]): void;
}
