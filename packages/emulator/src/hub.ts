import type { Faults } from './faults.js';
import type { Ledger } from './ledger.js';
import type { DeviceRegistry } from './registry.js';
import type { Devices } from './devices.js';
import type { FlowControlOptions } from './flow-control.js';
import type { SeededDecisions } from './seeded-decisions.js';
import type { UpstreamEntry, UpstreamOutlet } from './upstream-router.js';

export type { UpstreamEntry } from './upstream-router.js';

/**
 * An event as `emu.on('event', …)` receives it: a union discriminated by `type`, so that after
 * `if (e.type === 'nack')` the compiler knows `e.code`. `connectionId` is the connection it is
 * about. Never carries an API key or SASL payload.
 */
export type EmulatorEvent =
  /** A TLS connection was accepted. */
  | { type: 'connection'; connectionId: number }
  /** SASL succeeded (`senderId` of the authcid) or failed (`condition`, failures so far). */
  | { type: 'auth'; connectionId: number; ok: true; senderId: string | undefined }
  | { type: 'auth'; connectionId: number; ok: false; condition: string; failures: number }
  /** The resource was bound. */
  | { type: 'bind'; connectionId: number; jid: string }
  /**
   * A downstream message was accepted and recorded for `to` (`duplicate`: its id was delivered
   * before; `fate` for a device: delivered, held while it is offline, or expired).
   */
  | { type: 'downstream'; connectionId: number; messageId: string; to: string; duplicate: boolean; fate?: string }
  /** A downstream message was ACKed (for a device group: the `group` key and its counts). */
  | { type: 'ack'; connectionId: number; messageId: string; group?: string; success?: number; failure?: number }
  /** A downstream message was NACKed with `code`. */
  | { type: 'nack'; connectionId: number; messageId: string; code: string }
  /** A message was answered with a stanza error. */
  | { type: 'stanza-error'; connectionId: number; id: string | undefined; condition: string; text: string }
  /** An upstream message or receipt was written (`sends`: how many times so far). */
  | { type: 'upstream' | 'receipt'; connectionId: number; messageId: string; sends: number }
  /** The app server ACKed an upstream message or receipt (`duplicate`: it had been ACKed before). */
  | { type: 'upstream-ack'; connectionId: number; messageId: string; duplicate?: boolean; receipt?: boolean }
  /** `CONNECTION_DRAINING` was sent on the connection. */
  | { type: 'drain'; connectionId: number }
  /** A fault was injected: a cut (`cutAfterStanzas`, `cutProbability`) or a `stall` of `ms`. */
  | { type: 'fault'; connectionId: number; fault: string; ms?: number }
  /** The emulator ended the stream with this condition. */
  | { type: 'stream-error'; connectionId: number; condition: string }
  /** The connection closed (`error`/`condition` when it broke). */
  | { type: 'close'; connectionId: number; error?: string; condition?: string }
  /** A TLS handshake failed (the client did not trust the certificate, or spoke plain TCP). */
  | { type: 'tls-error'; code: string }
  /** The listening server failed. */
  | { type: 'server-error'; message: string }
  /** A connection was refused (`maxConnections`). */
  | { type: 'connection-refused'; reason: string }
  /** A device was added or changed. */
  | { type: 'device'; token: string; state: string }
  /** Faults were set, for every connection or for one. */
  | { type: 'faults'; connectionId?: number; faults: Faults }
  /** The emulator was reset. */
  | { type: 'reset' };

/** The events of `CcsEmulator`: one, `event`, whose payload says what happened. */
export interface CcsEmulatorEvents {
  event: [event: EmulatorEvent];
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
  readonly drainMinMs: number;
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
